"""An HR path that points at a file that is no export (``/etc/shadow``, say) gets an error that
names the file but quotes nothing of it; quoted fields of a real export are cut short."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam_gov.errors import SourceError
from tests.connectors.hr.test_connector import collect, fatal, write

SECRET = "$6$S3CRETSALT$" + "h" * 86
SHADOW = f"root:{SECRET}:19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\n"
NOT_COLUMNS = (
    f"the header is one field of {len(SHADOW.splitlines()[0])} characters, not columns: "
    "is the file a CSV export?"
)


def test_a_shadow_file_is_not_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, "shadow", SHADOW)
    message = fatal(path, format="csv")
    assert message == (
        f"{path}: the employee id column ('employee_id' or 'employee_number') is missing; "
        + NOT_COLUMNS
    )


def test_a_shadow_file_as_job_history_is_not_echoed(tmp_path: Path) -> None:
    people = write(tmp_path, "people.csv", "employee_id,name\nE1,Ada\n")
    history = write(tmp_path, "shadow", SHADOW)
    message = fatal_history(people, history).removeprefix(f"{history}: ")
    assert "root" not in message and "S3CRET" not in message
    assert message.endswith(NOT_COLUMNS)


def fatal_history(people: Path, history: Path) -> str:
    with pytest.raises(SourceError) as caught:
        collect(people, job_history=str(history))
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{history}: ")
    return message


def test_long_column_names_are_cut(tmp_path: Path) -> None:
    long_name = "x" * 500
    path = write(tmp_path, "people.csv", f"id,{long_name}\n1,Ada\n")
    message = fatal(path)
    assert message.endswith(f"the header has 'id', '{'x' * 60}…'")


def test_a_bad_rows_record_is_cut_and_printable(tmp_path: Path) -> None:
    bad_id = "E\x1b[31m" + "9" * 300
    path = write(
        tmp_path,
        "people.csv",
        "employee_id,name\n" + "".join(f"E{i},P{i}\n" for i in range(40)) + f"{bad_id},A,extra\n",
    )
    [error] = collect(path).errors
    assert error.record is not None
    assert error.record.isprintable() and len(error.record) <= 61
    assert error.record.endswith("…") and "\x1b" not in error.record
