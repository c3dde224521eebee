"""Issue 15 leftovers: `audit log` lists a record with garbled details instead of failing, and
saved plans over their size limit are refused, naming the file and the limit, before parsing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import text

from iam_gov import audit
from iam_gov.campaigns.plan import MAX_PLAN_ENV, load_plan
from iam_gov.cli_deprovision import _plan_file
from iam_gov.deprovision import planner  # noqa: F401  # _plan_file's import, not in the memory check
from iam_gov.deprovision.plan import load_plan_file
from iam_gov.errors import InputError
from iam_gov.store import Store

AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


# --- audit log: a record whose details are garbled -----------------------------------------


@pytest.fixture
def garbled(tmp_path: Path) -> str:
    """A SQLite store of five records; record #3's details are not JSON (an edit by hand)."""
    url = f"sqlite:///{tmp_path}/iam-gov.db"
    with Store.open(url) as store:
        with store.writing() as conn:
            for i in range(1, 6):
                audit.append(conn, "collect", f"system-{i}", {"snapshot_id": i}, at=AT)
        with store.writing() as conn:
            conn.execute(text("UPDATE audit_log SET details = 'not json {' WHERE seq = 3"))
    return url


def _cli(url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IAM_GOV_DATABASE_URL": url, "COLUMNS": "250"}
    env.pop("IAM_GOV_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "iam_gov", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("stored", ["not json {", "[1, 2]", "42"])
def test_records_lists_a_record_with_unreadable_details(garbled: str, stored: str) -> None:
    """The garbled record is listed with empty details and why; the others are intact."""
    with Store.open(garbled) as store:
        with store.writing() as conn:
            conn.execute(text("UPDATE audit_log SET details = :v WHERE seq = 3"), {"v": stored})
        with store.reading() as conn:
            found = {r.seq: r for r in audit.records(conn)}
    assert sorted(found) == [1, 2, 3, 4, 5]
    assert found[3].details == {} and stored in (found[3].unreadable or "")
    assert all(found[i].unreadable is None for i in (1, 2, 4, 5))
    assert found[4].details == {"snapshot_id": 4}


def test_audit_log_marks_the_record_and_verify_names_it(garbled: str, tmp_path: Path) -> None:
    """`audit log` prints every record, the garbled one marked, never an internal error;
    `audit verify` exits 3 naming it."""
    shown = _cli(garbled, tmp_path, "audit", "log")
    assert shown.returncode == 0, shown.stderr
    assert "internal error" not in shown.stderr and "Traceback" not in shown.stderr
    (line,) = [row for row in shown.stdout.splitlines() if "system-3" in row]
    assert "UNREADABLE DETAILS" in line and "not json {" in line
    assert "snapshot_id=4" in shown.stdout and "snapshot_id=2" in shown.stdout

    checked = _cli(garbled, tmp_path, "audit", "verify")
    assert checked.returncode == 3
    assert "audit log BROKEN: record #3: its details" in checked.stderr


# --- saved plans over the size limit --------------------------------------------------------


def _sparse(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk space (and no time) to make."""
    with path.open("wb") as file:
        file.truncate(size)
    return path


def _refused_unread(read: Callable[[], Any]) -> str:
    """``read()``'s one-line InputError; the file must not have been read into memory."""
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as caught:
            read()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000
    message = str(caught.value)
    assert "\n" not in message
    return message


def _plan_file_of_cli(path: Path) -> Any:
    """What `iam-gov deprovision --apply --plan FILE` reads the file with; the size limit
    comes before the store, configuration and policy are used."""
    nothing = cast(Any, None)
    return _plan_file(nothing, nothing, nothing, path, "it@example.com")


LOADERS: dict[str, Callable[[Path], Any]] = {
    "deprovisioning plan": load_plan_file,
    "remediation plan": load_plan,
    "deprovision --plan": _plan_file_of_cli,
}


@pytest.mark.parametrize("loader", LOADERS)
def test_a_plan_over_64_mb_is_refused_before_it_is_read(tmp_path: Path, loader: str) -> None:
    path = _sparse(tmp_path / "plan.json", 65_000_000)
    message = _refused_unread(lambda: LOADERS[loader](path))
    assert message == (
        f"{path}: is 65 MB, over the size limit of 64 MB (set {MAX_PLAN_ENV} to raise it)"
    )


@pytest.mark.parametrize("loader", LOADERS)
def test_the_plan_limit_follows_the_environment(
    tmp_path: Path, loader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan of valid JSON just over a limit of 1 MB is refused without being parsed (a
    parse would name a field instead)."""
    path = tmp_path / "remediation-plan.json"
    path.write_text(json.dumps({"campaign": {}, "actions": ["x" * 1_100_000]}))
    monkeypatch.setenv(MAX_PLAN_ENV, "1")
    message = _refused_unread(lambda: LOADERS[loader](path))
    assert message.startswith(f"{path}: is 1.1 MB, over the size limit of 1 MB")
    monkeypatch.setenv(MAX_PLAN_ENV, "2")
    with pytest.raises(InputError) as parsed:  # under the limit: read, and refused as a plan
        LOADERS[loader](path)
    assert "size limit" not in str(parsed.value)
