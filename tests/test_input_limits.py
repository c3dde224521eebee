"""Every input a user points iam-gov at has a size limit, checked before the file is read."""

from __future__ import annotations

import gzip
import os
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from iam_gov.config import load_config
from iam_gov.connectors.ldap.export import read_ldif
from iam_gov.connectors.openvpn.log import MAX_LINE, read_logs
from iam_gov.connectors.shared.csv_file import CsvFile, read_text
from iam_gov.connectors.shared.files import read_source
from iam_gov.correlate import load_overrides
from iam_gov.errors import InputError


def _sparse(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk space (and no time) to make."""
    with path.open("wb") as file:
        file.truncate(size)
    return path


def _refused_unread(read: Callable[[Path], Any], path: Path) -> str:
    """The one-line error of ``read(path)``, which must not have read the file into memory."""
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as caught:
            read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    return message


@pytest.mark.parametrize(
    ("name", "read"),
    [("overrides.yaml", load_overrides), ("iam-gov.toml", load_config)],
)
def test_yaml_and_toml_over_5_mb_are_refused(tmp_path: Path, name: str, read: Any) -> None:
    path = _sparse(tmp_path / name, 6_000_000)
    message = _refused_unread(read, path)
    assert "is 6 MB, over the size limit of 5 MB (set IAM_GOV_MAX_" in message


EXPORT_READERS: dict[str, Callable[[Path], Any]] = {
    "CSV export": lambda path: CsvFile.open(path),
    "LDIF export": read_ldif,
    "JSON export": read_text,
    "connector input": lambda path: read_source(path, "an export"),
}


@pytest.mark.parametrize("what", EXPORT_READERS)
def test_exports_over_256_mb_are_refused(tmp_path: Path, what: str) -> None:
    path = _sparse(tmp_path / "export.csv", 300_000_000)
    message = _refused_unread(EXPORT_READERS[what], path)
    assert message == (
        f"{path}: is 300 MB, over the size limit of 256 MB (set IAM_GOV_MAX_EXPORT_MB to raise it)"
    )


def test_the_limits_can_be_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("links: []\n" + "# padding\n" * 200)
    export = tmp_path / "people.csv"
    export.write_text("employee_id,name\n" + "E1,Ada\n" * 500)
    monkeypatch.setenv("IAM_GOV_MAX_YAML_MB", "0.001")
    monkeypatch.setenv("IAM_GOV_MAX_EXPORT_MB", "0.001")
    assert "over the size limit of 0 MB" in _refused_unread(load_overrides, overrides)
    assert "IAM_GOV_MAX_EXPORT_MB" in _refused_unread(read_text, export)
    monkeypatch.setenv("IAM_GOV_MAX_YAML_MB", "1")
    monkeypatch.setenv("IAM_GOV_MAX_EXPORT_MB", "1")
    load_overrides(overrides)
    assert read_text(export).startswith("employee_id")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_file_without_a_size_is_read_no_further_than_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # /dev/zero says it is empty and never ends: only the limit stops the read.
    monkeypatch.setenv("IAM_GOV_MAX_EXPORT_MB", "1")
    path = Path(os.devnull).with_name("zero")
    with pytest.raises(InputError) as caught:
        read_source(path, "an export")
    assert str(caught.value) == (
        f"{path}: holds more than the size limit of 1 MB (set IAM_GOV_MAX_EXPORT_MB to raise it)"
    )


CONNECTED = "2026-11-30 08:00:00 ada/198.51.100.7:51111 MULTI_sva: pool returned IPv4=10.8.0.6\n"


def test_a_compressed_log_is_decompressed_no_further_than_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A few kB of .gz can stand for gigabytes: reading stops at the export limit, says so,
    and keeps what came before it."""
    monkeypatch.setenv("IAM_GOV_MAX_EXPORT_MB", "1")
    log = tmp_path / "openvpn.log.1.gz"
    with gzip.open(log, "wb") as out:
        out.write(CONNECTED.encode())
        out.write(b"2026-11-30 08:00:01 noise\n" * 200_000)  # 5 MB decompressed
    assert log.stat().st_size < 100_000
    tracemalloc.start()
    try:
        history = read_logs([log], UTC, datetime(2026, 12, 1, tzinfo=UTC))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000
    assert "ada" in history.last_seen
    assert [e.message for e in history.errors] == [
        "holds more than the size limit of 1 MB (set IAM_GOV_MAX_EXPORT_MB to raise it); "
        "read no further"
    ]


def test_a_log_line_longer_than_any_real_one_is_skipped_not_held(tmp_path: Path) -> None:
    log = tmp_path / "openvpn.log"
    log.write_bytes(b"x" * (MAX_LINE * 30) + b"\n" + CONNECTED.encode())
    tracemalloc.start()
    try:
        history = read_logs([log], UTC, datetime(2026, 12, 1, tzinfo=UTC))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MAX_LINE * 10
    assert "ada" in history.last_seen and history.errors == []
