"""The baseline an incremental collect keeps: replaced whole (never half), its files checked
against their digests, a replaced one removed in the background, leftovers of a process that
ended early removed by the next save."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from iam_gov.connectors.shared.incremental import BaselineStore, IncrementalOptions
from iam_gov.timeutil import utcnow


def _store(tmp_path: Path, identity: str = "a") -> BaselineStore:
    options = IncrementalOptions(incremental=True, state_folder=tmp_path / "state")
    return BaselineStore("okta", options, identity=identity)


def _write(text: str) -> Callable[[Path], None]:
    def write(out: Path) -> None:
        (out / "users.json").write_text(text, encoding="utf-8")

    return write


def _gone(path: Path) -> bool:
    for _ in range(200):
        if not path.exists():
            return True
        time.sleep(0.01)
    return False


def test_a_saved_baseline_loads_with_its_cursor_and_is_private(tmp_path: Path) -> None:
    store = _store(tmp_path)
    now = utcnow()
    store.save(_write("[1]"), {"since": "x"}, full_at=now, read_at=now)
    baseline, why = store.load(now + timedelta(hours=1))
    assert baseline is not None and why == ""
    assert baseline.cursor == {"since": "x"}
    assert (store.records(baseline) / "users.json").read_text() == "[1]"
    assert (store.root.stat().st_mode & 0o777) == 0o700
    assert ((store.records(baseline) / "users.json").stat().st_mode & 0o777) == 0o600


def test_an_edited_file_or_other_options_or_an_old_full_read_mean_a_full_read(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path)
    now = utcnow()
    store.save(_write("[1]"), {}, full_at=now, read_at=now)
    assert _store(tmp_path, identity="b").load(now)[1].startswith("the baseline was written for")
    assert store.load(now + timedelta(days=8))[1].startswith("the last full read was 8 day(s)")
    baseline, _ = store.load(now)
    assert baseline is not None
    (store.records(baseline) / "users.json").write_text("[2]", encoding="utf-8")
    assert "does not match its recorded digest" in store.load(now)[1]


def test_the_replaced_baseline_and_leftovers_are_removed(tmp_path: Path) -> None:
    store = _store(tmp_path)
    now = utcnow()
    store.save(_write("[1]"), {}, full_at=now, read_at=now)
    left = store.root / ".old-1-1"  # a process ended before its background removal
    (left / "records").mkdir(parents=True)
    store.save(_write("[2]"), {}, full_at=now, read_at=now)
    assert _gone(left)
    assert all(_gone(p) for p in store.root.glob(".old-*"))
    baseline, _ = store.load(now)
    assert baseline is not None
    assert (store.records(baseline) / "users.json").read_text() == "[2]"
