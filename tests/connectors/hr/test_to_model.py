"""HR rows into people: values, dates, names, managers and status; a bad row is left out
with its line, and an export with too few good rows is fatal."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.connectors.hr.test_connector import (
    ACTIVE,
    EMPLOYEE,
    INTERN,
    LEAVE,
    OTHER,
    TERMINATED,
    by_id,
    collect,
    fatal,
    write,
)

# --- values ----------------------------------------------------------------------------------


def test_name_alone_and_preferred_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "people.csv",
        "employee_id,name,preferred_name\nE1,Robert Smith,Bob Smith\nE2,Alice Jones,\n",
    )
    people = by_id(collect(path))
    assert people["E1"].name == "Bob Smith"
    assert people["E2"].name == "Alice Jones"
    assert people["E1"].status is ACTIVE  # no status column: HR lists the people who work here
    assert people["E1"].employment_type is EMPLOYEE


def test_one_part_of_a_name_is_enough(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id,first_name,last_name\nE1,,Sukarno\n")
    assert collect(path).people[0].name == "Sukarno"


def test_value_mappings_merge_over_the_preset(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "people.csv",
        "employee_id,name,status,employment_type\n"
        "E1,Ada,Garden  Leave,Working Student\n"
        "E2,Bob,active,employee\n",
    )
    people = by_id(
        collect(
            path,
            status_values={"garden leave": "leave"},
            employment_type_values={"WORKING STUDENT": "intern"},
        )
    )
    assert (people["E1"].status, people["E1"].employment_type) == (LEAVE, INTERN)
    assert (people["E2"].status, people["E2"].employment_type) == (ACTIVE, EMPLOYEE)


def test_empty_employment_type_is_other(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id,name,employment_type\nE1,Ada,\n")
    assert collect(path).people[0].employment_type is OTHER


def test_date_format_option(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "people.csv",
        "employee_id,name,start_date,end_date\nE1,Ada,03/04/2020,2030-01-31\n",
    )
    person = collect(path, date_format="%d/%m/%Y").people[0]
    assert person.start_date == date(2020, 4, 3)
    assert person.end_date == date(2030, 1, 31)  # ISO 8601 is still accepted


def test_untrusted_strings_are_kept_as_written(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "people.csv",
        'employee_id,name,title,note\nE1,"=cmd|\' /C calc\'!A0","  <b>[red]x[/red]</b> ",'
        "\"@SUM(1+1)*cmd|' /C calc'!A0\"\n",
    )
    person = collect(path).people[0]
    assert person.name == "=cmd|' /C calc'!A0"
    assert person.title == "<b>[red]x[/red]</b>"
    assert person.attributes == {"note": "@SUM(1+1)*cmd|' /C calc'!A0"}


# --- bad rows --------------------------------------------------------------------------------


HEADER = "employee_id,email,name,employment_type,status,start_date\n"


BEFORE = (
    'E1,ada@x.test,"Ada\nLovelace",employee,active,2020-01-01\n'
    'E2,bob@x.test,"Bob ""the builder"" Jones",contractor,active,2020-01-01\n'
)


AFTER = (
    "E4,di@x.test,Di,employee,active,2020-01-01\n"
    "E5,ed@x.test,Ed,employee,on leave,2020-01-01\n"
    "E6,fi@x.test,Fi,intern,active,2020-01-01\n"
)


@pytest.mark.parametrize(
    ("bad_row", "record", "message"),
    [
        pytest.param(
            ",cy@x.test,Cy,employee,active,2020-01-01",
            None,
            "the employee id is empty",
            id="missing-id",
        ),
        pytest.param(
            "E1,cy@x.test,Cy,employee,active,2020-01-01",
            "E1",
            "employee id 'E1' already appears on line 2",
            id="duplicate-id",
        ),
        pytest.param(
            "E3,cy@x.test,Cy,employee,active,2020-02-30",
            "E3",
            "start date '2020-02-30' is not a date (expected YYYY-MM-DD)",
            id="bad-date",
        ),
        pytest.param(
            "E3,cy@x.test,Cy,employee,retired,2020-01-01",
            "E3",
            "status 'retired' is not one of active, inactive, leave, leave of absence, "
            "on leave, terminated; map it with status_values",
            id="unknown-status",
        ),
        pytest.param(
            "E3,cy@x.test,Cy,employee,,2020-01-01",
            "E3",
            "the status is empty",
            id="empty-status",
        ),
        pytest.param(
            "E3,cy@x.test,Cy,robot,active,2020-01-01",
            "E3",
            "employment type 'robot' is not one of ",
            id="unknown-employment-type",
        ),
        pytest.param(
            "E3,cy@x.test,Cy,employee,active",
            "E3",
            "has 5 fields, the header has 6",
            id="too-few-fields",
        ),
        pytest.param(
            "E3,cy@x.test,Cy,employee,active,2020-01-01,surplus",
            "E3",
            "has 7 fields, the header has 6",
            id="too-many-fields",
        ),
        pytest.param(
            "E3,cy at x.test,Cy,employee,active,2020-01-01",
            "E3",
            "e-mail address 'cy at x.test' is not valid",
            id="invalid-email",
        ),
        pytest.param(
            "E3,cy@x.test,,employee,active,2020-01-01",
            "E3",
            "the name is empty",
            id="empty-name",
        ),
        pytest.param(
            'E3,cy@x.test,"Cy" Young,employee,active,2020-01-01',
            None,
            "not valid CSV (',' expected after '\"')",
            id="stray-quote",
        ),
        pytest.param(
            "E3,cy@,,robot,??,2020-13-01",
            "E3",
            "the name is empty; e-mail address 'cy@' is not valid; status '??' is not one of",
            id="several-problems",
        ),
    ],
)
def test_bad_row(tmp_path: Path, bad_row: str, record: str | None, message: str) -> None:
    path = write(tmp_path, "people.csv", HEADER + BEFORE + bad_row + "\n" + AFTER)
    snapshot = collect(path)

    assert not snapshot.complete
    [error] = snapshot.errors
    assert error.source == str(path)
    assert error.line == 5
    assert error.record == record
    assert error.message.startswith(message)
    assert not error.fatal
    ids = [p.employee_id for p in snapshot.people]
    assert ids == ["E1", "E2", "E4", "E5", "E6"]
    assert snapshot.people[0].name == "Ada\nLovelace"
    assert snapshot.people[1].name == 'Bob "the builder" Jones'


def test_bad_row_in_a_preset_date_format(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bamboohr.csv",
        "Employee #,First Name,Last Name,Hire Date\n1,A,B,01/02/2020\n2,C,D,13/01/2020\n"
        "3,E,F,2020-01-01\n",
    )
    snapshot = collect(path, preset="bamboohr")
    [error] = snapshot.errors
    assert (error.line, error.record) == (3, "2")
    assert (
        error.message == "start date '13/01/2020' is not a date (expected YYYY-MM-DD, MM/DD/YYYY)"
    )


def test_long_values_are_cut_in_messages(tmp_path: Path) -> None:
    path = write(
        tmp_path, "people.csv", "employee_id,name,status\nE1,Ada,active\nE2,Bob," + "x" * 500 + "\n"
    )
    [error] = collect(path).errors
    assert len(error.message) < 200
    assert "…" in error.message


# --- managers --------------------------------------------------------------------------------


def test_manager_by_email(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "people.csv",
        "employee_id,name,email,manager_email\n"
        "E1,Ada,Ada@Example.com,\n"
        "E2,Bob,bob@example.com,ada@example.COM\n"
        "E3,Cy,cy@example.com,gone@example.com\n",
    )
    snapshot = collect(path)
    people = by_id(snapshot)
    assert people["E1"].manager_id is None
    assert people["E2"].manager_id == "E1"
    assert people["E3"].manager_id is None
    # An unknown manager is worth saying, but everyone is there: the snapshot is complete.
    assert snapshot.complete
    [error] = snapshot.errors
    assert (error.line, error.record) == (4, "E3")
    assert error.message == "manager e-mail 'gone@example.com' names nobody in the file"


def test_manager_id_naming_nobody_is_reported_but_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id,name,manager_id\nE1,Ada,E1\nE2,Bob,E9\n")
    snapshot = collect(path)
    assert snapshot.complete
    assert by_id(snapshot)["E2"].manager_id == "E9"
    [error] = snapshot.errors
    assert str(error) == f"{path}:3 (E2): manager id 'E9' names nobody in the file"


def test_manager_whose_row_is_bad_is_still_in_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "people.csv",
        "employee_id,name,email,manager_email,start_date\n"
        "E1,Ada,ada@x.test,,not a date\n"
        "E2,Bob,bob@x.test,ada@x.test,\n"
        "E3,Cy,cy@x.test,ada@x.test,\n",
    )
    snapshot = collect(path)
    assert not snapshot.complete
    assert [e.line for e in snapshot.errors] == [2]
    assert by_id(snapshot)["E2"].manager_id == "E1"


def test_shared_email_is_reported_without_dropping_anyone(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "people.csv",
        "employee_id,name,email\nE1,Ada,team@x.test\nE2,Bob,TEAM@x.test\n",
    )
    snapshot = collect(path)
    assert snapshot.complete and len(snapshot.people) == 2
    [error] = snapshot.errors
    assert (error.line, error.record) == (3, "E2")
    assert "is also employee 'E1'" in error.message


# --- status from the end date ----------------------------------------------------------------


def test_end_date_on_or_before_the_export_terminates(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "people.csv",
        "employee_id,name,status,end_date\n"
        "E1,Ada,active,2024-06-01\n"
        "E2,Bob,active,2024-05-01\n"
        "E3,Cy,on leave,2023-12-31\n"
        "E4,Di,active,2024-06-02\n"
        "E5,Ed,terminated,2024-01-01\n",
    )
    people = by_id(collect(path))  # exported 2024-06-01
    for employee_id in ("E1", "E2", "E3"):
        assert people[employee_id].status is TERMINATED
        assert people[employee_id].attributes == {"status_derived_from": "end_date"}
    assert people["E4"].status is ACTIVE  # a leaver-to-be still works here
    assert people["E5"].status is TERMINATED and people["E5"].attributes == {}


# --- the export as a whole -------------------------------------------------------------------


@pytest.mark.parametrize(
    "content", ["employee_id,name\n", "employee_id,name", "employee_id,name\n,\n\n"]
)
def test_header_only(tmp_path: Path, content: str) -> None:
    path = write(tmp_path, "people.csv", content)
    assert fatal(path) == f"{path}: has a header but no rows"


def test_too_few_people(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id,name\nE1,Ada\nE2,Bob\n")
    assert fatal(path, min_people=3) == (
        f"{path}: only 2 valid people, fewer than min_people (3); is the export complete?"
    )
    assert len(collect(path, min_people=2).people) == 2


def test_mostly_bad_rows_mean_the_wrong_format(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "people.csv",
        "employee_id,name,start_date\nE1,Ada,01/02/2020\nE2,Bob,2020-01-02\nE3,Cy,03/04/2020\n",
    )
    assert fatal(path) == (
        f"{path}: 2 of 3 rows are bad, so the export is probably not in the expected format "
        "(check preset, columns and delimiter); first, line 2: start date '01/02/2020' is not "
        "a date (expected YYYY-MM-DD)"
    )


def test_half_bad_is_still_read(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id,name\nE1,Ada\n,Nobody\n")
    snapshot = collect(path)
    assert not snapshot.complete and len(snapshot.people) == 1
