"""When an export was taken: given, recorded in the export, or the files' time said aloud."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iam_gov.connectors.shared.export_time import export_time, modified_at
from iam_gov.connectors.shared.files import BadFile

GIVEN = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
RECORDED = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def touched(path: Path, when: datetime) -> Path:
    path.write_text("{}")
    os.utime(path, (when.timestamp(), when.timestamp()))
    return path


def test_the_time_the_user_gives_wins(tmp_path: Path) -> None:
    file = touched(tmp_path / "users.json", datetime(2020, 1, 1, tzinfo=UTC))

    taken = export_time(GIVEN, [file], recorded=RECORDED)

    assert (taken.at, taken.guessed) == (GIVEN, None)


def test_then_the_time_the_export_records(tmp_path: Path) -> None:
    file = touched(tmp_path / "users.json", datetime(2020, 1, 1, tzinfo=UTC))

    assert export_time(None, [file], recorded=RECORDED).at == RECORDED


def test_else_the_newest_modification_time_is_a_guess_said_aloud(tmp_path: Path) -> None:
    old = touched(tmp_path / "groups.json", datetime(2026, 11, 20, 10, 0, tzinfo=UTC))
    new = touched(tmp_path / "users.json", datetime(2026, 11, 25, 17, 30, tzinfo=UTC))

    one = export_time(None, [old])
    both = export_time(None, [old, new])

    assert one.at == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert one.guessed == (
        "exported_at not given: taken to be the file's modification time, 2026-11-20 10:00 UTC"
    )
    assert both.at == datetime(2026, 11, 25, 17, 30, tzinfo=UTC)
    assert both.guessed is not None and "the newest file's modification time" in both.guessed


def test_the_modification_time_is_utc_whatever_the_local_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = touched(tmp_path / "users.json", datetime(2026, 11, 25, 17, 30, tzinfo=UTC))
    monkeypatch.setenv("TZ", "America/New_York")
    import time

    time.tzset()
    try:
        assert modified_at(file) == datetime(2026, 11, 25, 17, 30, tzinfo=UTC)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(BadFile, match=r"users.json: no such file"):
        export_time(None, [tmp_path / "users.json"])


def test_a_modification_time_later_than_the_clock_is_said(tmp_path: Path) -> None:
    from datetime import timedelta

    from iam_gov.timeutil import utcnow

    ahead = utcnow() + timedelta(days=3)
    file = touched(tmp_path / "users.json", ahead)

    taken = export_time(None, [file])

    assert taken.guessed is not None
    assert "later than this machine's clock" in taken.guessed and "set exported_at" in taken.guessed
    within = export_time(None, [touched(tmp_path / "groups.json", utcnow())])
    assert within.guessed is not None and "later than" not in within.guessed
