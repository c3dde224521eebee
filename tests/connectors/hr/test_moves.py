"""The latest job change an HR export reports: Workday's previous / prior columns with the
effective date, BambooHR's Job Information table as a job history, and bad values in them as
notes naming the file, the line and the column."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from iam_gov.errors import SourceError
from iam_gov.store.people import reported_move
from tests.connectors.hr.test_connector import by_id, collect, write

# A Workday "Change Job" worker report saved as CSV (EXPORTED_AT is 2024-06-01).
WORKDAY_MOVES_CSV = (
    "Employee ID,Legal Name,Email - Primary Work,Supervisory Organization,Business Title,"
    "Manager Employee ID,Worker Status,Previous Supervisory Organization,"
    "Previous Business Title,Previous Manager Employee ID,Job Change Effective Date\n"
    "21001,Logan McNeil,lmcneil@wd.test,Executive Management,CEO,,Active,,,,\n"
    "21002,Teresa Serrano,tserrano@wd.test,Finance,Controller,21001,Active,"
    "Sales Operations,Sales Analyst,21003,2024-04-15\n"
    "21003,Oliver Reynolds,oreynolds@wd.test,Sales,VP Sales,21001,Active,,,,\n"
    # A job change that kept department, title and manager (a grade change): no move.
    "21004,Ana Silva,asilva@wd.test,Sales,VP Sales,21001,Active,Sales,VP Sales,21001,"
    "2024-05-01\n"
)


def test_a_workday_export_reports_each_person_s_latest_move(tmp_path: Path) -> None:
    snapshot = collect(write(tmp_path, "workday.csv", WORKDAY_MOVES_CSV), preset="workday")
    assert snapshot.complete and snapshot.errors == ()
    people = by_id(snapshot)
    teresa = people["21002"]
    assert (teresa.department, teresa.title, teresa.manager_id) == (
        "Finance",
        "Controller",
        "21001",
    )
    assert (teresa.previous_department, teresa.previous_title, teresa.previous_manager_id) == (
        "Sales Operations",
        "Sales Analyst",
        "21003",
    )
    assert teresa.moved_at == date(2024, 4, 15)
    # The report's columns are fields, not attributes that roles could match on.
    assert "Previous Supervisory Organization" not in teresa.attributes

    move = reported_move(teresa)
    assert move is not None
    assert move.changed_at == datetime(2024, 4, 15, tzinfo=UTC)
    assert move.changes == {
        "department": ("Sales Operations", "Finance"),
        "title": ("Sales Analyst", "Controller"),
        "manager_id": ("21003", "21001"),
    }
    assert reported_move(people["21001"]) is None  # never moved
    assert reported_move(people["21004"]) is None  # a change that is not a move


def test_workday_prior_department_and_effective_date_spellings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "workday.csv",
        "Employee_ID,Worker,Department,Job_Title,Prior_Department,Prior_Job_Title,Effective_Date\n"
        "21002,Teresa Serrano,Finance,Controller,Sales,Sales Analyst,2024-04-15-07:00\n",
    )
    teresa = collect(path, preset="workday").people[0]
    assert (teresa.previous_department, teresa.previous_title) == ("Sales", "Sales Analyst")
    assert teresa.moved_at == date(2024, 4, 15)  # RaaS writes the tenant's offset


def test_generic_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "people.csv",
        "employee_id,name,email,department,previous_department,previous_manager,moved_at\n"
        "E1,Ada,ada@x.test,Eng,,,\n"
        "E2,Bob,bob@x.test,Sales,Eng,ada@x.test,2024-05-02\n",
    )
    bob = by_id(collect(path))["E2"]
    assert (bob.previous_department, bob.previous_manager_id, bob.moved_at) == (
        "Eng",
        "E1",  # the previous manager named by e-mail
        date(2024, 5, 2),
    )


def test_a_bad_effective_date_is_a_note_naming_file_line_and_column(tmp_path: Path) -> None:
    content = WORKDAY_MOVES_CSV.replace("2024-04-15", "15.04.2024")
    path = write(tmp_path, "workday.csv", content)
    snapshot = collect(path, preset="workday")
    # The person is in; only their move is not used, and the snapshot stays complete.
    assert snapshot.complete
    teresa = by_id(snapshot)["21002"]
    assert teresa.moved_at is None and reported_move(teresa) is None
    [error] = snapshot.errors
    assert (error.source, error.line, error.record) == (str(path), 3, "21002")
    assert error.message.startswith(
        "column 'Job Change Effective Date' (moved_at): '15.04.2024' is not a date "
        "(expected YYYY-MM-DD, MM/DD/YYYY)"
    )


def test_a_previous_role_without_a_date_is_a_note(tmp_path: Path) -> None:
    content = WORKDAY_MOVES_CSV.replace(",2024-04-15", ",")
    snapshot = collect(write(tmp_path, "workday.csv", content), preset="workday")
    [error] = snapshot.errors
    assert error.line == 3
    assert "previous role has no effective date" in error.message
    assert "'Job Change Effective Date'" in error.message


def test_a_previous_manager_nobody_is_kept_as_written_with_a_note(tmp_path: Path) -> None:
    content = WORKDAY_MOVES_CSV.replace("Sales Analyst,21003,", "Sales Analyst,29999,")
    snapshot = collect(write(tmp_path, "workday.csv", content), preset="workday")
    assert by_id(snapshot)["21002"].previous_manager_id == "29999"
    [error] = snapshot.errors
    assert error.line == 3
    assert error.message == (
        "column 'Previous Manager Employee ID' (previous_manager): '29999' names nobody in the "
        "file; kept as written"
    )


# --- BambooHR: the Job Information table as a job history -----------------------------------

BAMBOOHR_PEOPLE = (
    "Employee #,First Name,Last Name,Work Email,Department,Job Title,Supervisor EID,Status\n"
    "1001,Maria,Garcia,maria@acme.test,Engineering,VP Engineering,,Active\n"
    "1002,James,Smith,james@acme.test,Sales,Account Executive,1004,Active\n"
    "1003,Priya,Patel,priya@acme.test,Sales,Sales Manager,1004,Active\n"
    "1004,Kim,Lee,kim@acme.test,Sales,VP Sales,,Active\n"
)
# The Job Information table with history: one row per job, in BambooHR's date format.
BAMBOOHR_JOB_INFO = (
    "Employee #,Date,Location,Division,Department,Job Title,Reports To\n"
    "1002,03/02/2020,Austin,R&D,Engineering,Software Engineer,Maria Garcia\n"
    "1002,01/10/2022,Remote,R&D,Engineering,Software Engineer,Maria Garcia\n"  # location only
    "1002,04/20/2024,Remote,GTM,Sales,Account Executive,Kim Lee\n"
    "1003,06/01/2022,Remote,GTM,Sales,Sales Manager,Kim Lee\n"  # hired, never moved
    "1004,09/01/2024,Remote,GTM,Marketing,VP Marketing,Maria Garcia\n"  # not in effect yet
    "1004,01/01/2021,Remote,GTM,Engineering,Engineer,Maria Garcia\n"
    "1004,02/01/2023,Remote,GTM,Sales,VP Sales,Maria Garcia\n"
    "9999,01/01/2024,Remote,GTM,Sales,Gone,Kim Lee\n"  # not in the export: not used
)


def test_a_bamboohr_job_history_gives_each_person_s_latest_move(tmp_path: Path) -> None:
    people_path = write(tmp_path, "employees.csv", BAMBOOHR_PEOPLE)
    history = write(tmp_path, "job-info.csv", BAMBOOHR_JOB_INFO)
    snapshot = collect(people_path, preset="bamboohr", job_history=str(history))
    assert snapshot.complete and snapshot.errors == ()
    people = by_id(snapshot)

    james = people["1002"]
    assert (james.previous_department, james.previous_title, james.previous_manager_id) == (
        "Engineering",
        "Software Engineer",
        "1001",  # "Reports To" names the manager: Maria Garcia
    )
    assert james.moved_at == date(2024, 4, 20)
    move = reported_move(james)
    assert move is not None and move.changes["department"] == ("Engineering", "Sales")

    assert people["1003"].moved_at is None  # one job only
    # The rows are put in date order; the change dated after the export is not used.
    kim = people["1004"]
    assert (kim.previous_department, kim.moved_at) == ("Engineering", date(2023, 2, 1))
    assert people["1001"].moved_at is None


def test_bad_job_history_rows_are_notes_naming_the_history_file(tmp_path: Path) -> None:
    people_path = write(tmp_path, "employees.csv", BAMBOOHR_PEOPLE)
    history = write(
        tmp_path,
        "job-info.csv",
        BAMBOOHR_JOB_INFO.replace("04/20/2024", "2024-20-04").replace("9999,", ","),
    )
    snapshot = collect(people_path, preset="bamboohr", job_history=str(history))
    assert snapshot.complete
    # Without its 2024 row, James's history holds one job (at two locations): no move.
    assert by_id(snapshot)["1002"].moved_at is None
    errors = sorted(snapshot.errors, key=lambda e: e.line or 0)
    assert [(e.source, e.line, e.record) for e in errors] == [
        (str(history), 4, "1002"),
        (str(history), 9, None),
    ]
    assert errors[0].message == (
        "column 'Date' (effective_date): '2024-20-04' is not a date "
        "(expected YYYY-MM-DD, MM/DD/YYYY); the row is not used"
    )
    assert errors[1].message == "the employee id is empty; the row is not used"


def test_a_job_history_without_its_date_column_is_refused(tmp_path: Path) -> None:
    people_path = write(tmp_path, "employees.csv", BAMBOOHR_PEOPLE)
    history = write(tmp_path, "job-info.csv", "Employee #,Department\n1002,Sales\n")
    with pytest.raises(SourceError) as caught:
        collect(people_path, preset="bamboohr", job_history=str(history))
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{history}: ")
    assert "the job history's effective date column ('Date'," in message
    assert "the header has 'Employee #', 'Department'" in message
