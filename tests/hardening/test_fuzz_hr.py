"""Hostile HR exports (CSV and JSON): fuzzed bytes and mutated valid exports are read, or
refused with a ``SourceError`` naming the file and line; never another exception, never the
file's content beyond a short quote. The command line refuses one in one line, storing
nothing."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings

from iam_gov.errors import SourceError
from iam_gov.model import SystemSnapshot
from tests.connectors.hr.test_connector import collect, write
from tests.hardening.fuzz import (
    CANARY,
    CANARY_TAIL,
    Tally,
    canary_whole,
    check_refusal,
    fuzzed,
)

HEADER = "employee_id,email,name,department,status,employment_type,start_date,end_date,note"
ROWS = (
    "E1,ada@example.com,Ada Lovelace,Engineering,active,employee,2020-01-02,,",
    'E2,bob@example.com,"Baker, Bob",Sales,Terminated,contractor,2019-05-06,2024-01-31,',
    f"E3,cy@example.com,Cy Young,Finance,leave,intern,2021-03-04,,{CANARY}",
    "E4,di@example.com,Di Dunn,,active,employee,,,",
)
VALID_CSV = ("\n".join((HEADER, *ROWS)) + "\n").encode()

_RECORDS = [
    {"employee_id": "E1", "email": "ada@example.com", "name": "Ada Lovelace", "status": "active"},
    {"employee_id": "E2", "name": "Baker, Bob", "status": "Terminated", "end_date": "2024-01-31"},
    {"employee_id": "E3", "name": "Cy Young", "status": "leave", "note": CANARY},
    {"employee_id": "E4", "name": "Di Dunn", "status": "active", "department": None},
]
VALID_JSON = json.dumps({"Report_Entry": _RECORDS}, indent=1).encode()

# What is said of an export as a whole, or of its header's columns, where no line applies.
WHOLE_FILE = (
    "the file is empty",
    "has a header but no rows",
    "rows are bad, so the export is probably not in the expected format",
    "column (",  # the employee id column ('employee_id' or …) is missing; the header has …
    "holds a single JSON value",
    "cannot tell which key",
    "list of records in the JSON object",
    "has no employee records",
    "nests too deep",
)

CSV_TALLY, JSON_TALLY = Tally(), Tally()


def read_or_refuse(path: Path, data: bytes, tally: Tally) -> SystemSnapshot | None:
    """``data`` written to ``path`` and read: its snapshot, or None when it was refused as
    the fuzz tests demand."""
    write(path.parent, path.name, data)
    whole = canary_whole(data)
    try:
        snapshot = collect(path)
    except SourceError as exc:
        check_refusal(exc, path, whole_file=WHOLE_FILE, tally=tally, canary_whole=whole)
        return None
    tally.accepted += 1
    for problem in snapshot.errors:
        assert problem.source == str(path)
        assert problem.line is not None or problem.record is not None, problem
        shown = f"{problem.record} {problem.message}"
        assert not whole or CANARY_TAIL not in shown, f"the file's content leaks: {shown!r}"
        assert len(shown.splitlines()) == 1, f"problem spans lines: {shown!r}"
    return snapshot


_FUZZ = settings(
    max_examples=80,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_FUZZ
@given(data=fuzzed(VALID_CSV))
@example(data=VALID_CSV)
@example(data=VALID_CSV[: VALID_CSV.index(b"Cy Young") + 2])
@example(data=VALID_CSV.replace(b"E4,", b'E4,"', 1))
@example(data=b"\xff\xfe" + "employee_id,name\nE1,Ada\n".encode("utf-16-le"))
def test_a_fuzzed_csv_export_is_read_or_refused_with_its_line(tmp_path: Path, data: bytes) -> None:
    """Any bytes as an HR CSV: a snapshot whose problems name their line, or a SourceError
    naming file:line; neither quotes the canary's tail from another line."""
    read_or_refuse(tmp_path / "people.csv", data, CSV_TALLY)


@_FUZZ
@given(data=fuzzed(VALID_JSON))
@example(data=VALID_JSON)
@example(data=VALID_JSON[: len(VALID_JSON) // 2])
@example(data=b'{"Report_Entry": [1, "x", null, [], {"employee_id": {"a": 1}}]}')
@example(data=b"[" * 5000 + b"]" * 5000)
def test_a_fuzzed_json_export_is_read_or_refused_with_its_line(tmp_path: Path, data: bytes) -> None:
    """Any bytes as an HR JSON export, nesting 5,000 deep included: a snapshot or a located
    SourceError, never a RecursionError or a quote of the canary."""
    read_or_refuse(tmp_path / "people.json", data, JSON_TALLY)


def test_the_valid_samples_are_read_whole(tmp_path: Path) -> None:
    """The samples the fuzzing mutates are good exports: what is refused is the mutation."""
    for name, data in (("people.csv", VALID_CSV), ("people.json", VALID_JSON)):
        snapshot = collect(write(tmp_path, name, data))
        assert snapshot.complete and snapshot.errors == ()
        assert [p.employee_id for p in snapshot.people] == ["E1", "E2", "E3", "E4"]
        assert snapshot.people[2].attributes["note"] == CANARY


# --- the command line -----------------------------------------------------------------------

BROKEN = {
    "cut inside a quote": VALID_CSV.replace(b"Di Dunn", b'"Di Dunn'),
    "not UTF-8": VALID_CSV.replace(b"Cy Young", b"Cy \xff\xfeYoung"),
    "NUL and bidi in the header": b"employee_id\x00,\xe2\x80\xaename\n" + VALID_CSV,
}


def _config(folder: Path, hr_file: Path) -> Path:
    (folder / "policy.yaml").write_text("version: 1\n")
    config = folder / "iam-gov.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{folder / "iam-gov.db"}"\n'
        '[policy]\npath = "policy.yaml"\n'
        f'[systems.hr]\ntype = "hr"\npath = "{hr_file.name}"\n'
        'exported_at = "2024-06-01T09:30:00Z"\n'
    )
    return config


def _iam_gov(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "300"}
    env.pop("IAM_GOV_DATABASE_URL", None)
    env.pop("IAM_GOV_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "iam_gov", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _stored(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
            for t in tables
            if t not in ("collect_failures", "audit_log", "audit_anchor")
        }


def test_the_command_refuses_a_broken_export_in_one_line_and_stores_nothing(
    tmp_path: Path,
) -> None:
    """``collect`` (and ``config check``) on a broken HR export: a line naming the file and
    the line, no traceback, exit 5 (the system could not be collected; 2 would be the
    command's own failure, 4 an incomplete snapshot); the store keeps exactly what it had."""
    hr_file = write(tmp_path, "people.csv", VALID_CSV)
    config = _config(tmp_path, hr_file)
    assert _iam_gov(config, "collect").returncode == 0
    before = _stored(tmp_path / "iam-gov.db")
    assert before["snapshots"] == 1

    runs = [(name, ["collect"]) for name in sorted(BROKEN)] + [("not UTF-8", ["config", "check"])]
    for broken, command in runs:
        write(tmp_path, "people.csv", BROKEN[broken])
        result = _iam_gov(config, *command)
        shown = result.stdout + result.stderr
        assert "Traceback" not in shown and "internal error" not in shown, shown
        assert result.returncode == 5, (broken, command, result.returncode, shown)
        # One line names the file and what is wrong (config check lists the problem under
        # its system, collect prints it as the error).
        assert [line for line in shown.splitlines() if f"{hr_file}:" in line], shown
        assert CANARY_TAIL not in shown
    assert _stored(tmp_path / "iam-gov.db") == before
