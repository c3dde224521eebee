"""HR columns: which column holds which field, by preset or option; a missing one is fatal."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from iam_gov.connectors.hr.presets import MAPPABLE_FIELDS
from iam_gov.model import (
    Person,
)
from tests.connectors.hr.test_connector import (
    ACTIVE,
    CONTRACTOR,
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
from tests.connectors.hr.test_presets import BAMBOOHR_CSV

# --- column mapping --------------------------------------------------------------------------


def test_header_names_match_ignoring_case_and_spacing(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "Employee ID , NAME,Start-Date\nE1,Ada,2020-02-02\n")
    person = collect(path).people[0]
    assert (person.employee_id, person.name, person.start_date) == ("E1", "Ada", date(2020, 2, 2))


def test_column_override(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "staff.csv",
        "Staff No,Full Name,Mail,Team,status\nS-1,Ada Lovelace,ada@x.test,Analytics,Active\n",
    )
    snapshot = collect(
        path,
        columns={
            "employee_id": "Staff No",
            "name": "Full Name",
            "email": "mail",
            "department": "Team",
        },
    )
    person = snapshot.people[0]
    assert (person.employee_id, person.name, person.email, person.department) == (
        "S-1",
        "Ada Lovelace",
        "ada@x.test",
        "Analytics",
    )
    assert person.attributes == {}


def test_every_field_can_be_mapped(tmp_path: Path) -> None:
    rows = {
        "employee_id": ["E1", "E2", "E3", "E4"],
        "email": ["a@x.test", "b@x.test", "c@x.test", "d@x.test"],
        "name": ["Ada L", "", "", "Dee"],
        "first_name": ["Ada", "Bo", "Cy", ""],
        "last_name": ["L", "B", "C", ""],
        "preferred_name": ["", "", "Cyrus", ""],
        "department": ["D1", "D2", "D3", "D4"],
        "title": ["T1", "T2", "T3", "T4"],
        "manager_id": ["", "", "", "E1"],
        "manager_email": ["", "", "B@X.test", ""],
        "manager_system_id": ["", "S1", "", ""],
        "system_id": ["S1", "S2", "S3", "S4"],
        "employment_type": ["contractor", "intern", "employee", "other"],
        "status": ["on leave", "active", "active", "terminated"],
        "start_date": ["2020-01-01", "2021-01-01", "", ""],
        "end_date": ["2030-01-01", "", "", "2020-12-31"],
        "previous_department": ["", "D0", "", ""],
        "previous_title": ["", "T0", "", ""],
        "previous_manager": ["", "Ada L", "", ""],
        "moved_at": ["", "2024-03-01", "", ""],
    }
    assert set(rows) == set(MAPPABLE_FIELDS)
    header = ",".join(f"c {field}" for field in rows)
    lines = [",".join(values[i] for values in rows.values()) for i in range(4)]
    path = write(tmp_path, "people.csv", "\n".join([header, *lines]) + "\n")
    snapshot = collect(path, columns={field: f"c {field}" for field in rows})

    assert snapshot.complete and snapshot.errors == ()
    assert list(snapshot.people) == [
        Person(
            employee_id="E1",
            email="a@x.test",
            name="Ada L",
            department="D1",
            title="T1",
            employment_type=CONTRACTOR,
            status=LEAVE,
            start_date=date(2020, 1, 1),
            end_date=date(2030, 1, 1),
        ),
        Person(
            employee_id="E2",
            email="b@x.test",
            name="Bo B",
            department="D2",
            title="T2",
            manager_id="E1",
            employment_type=INTERN,
            status=ACTIVE,
            start_date=date(2021, 1, 1),
            previous_department="D0",
            previous_title="T0",
            previous_manager_id="E1",  # "Ada L", found by name
            moved_at=date(2024, 3, 1),
        ),
        Person(
            employee_id="E3",
            email="c@x.test",
            name="Cyrus",
            department="D3",
            title="T3",
            manager_id="E2",
            employment_type=EMPLOYEE,
            status=ACTIVE,
        ),
        Person(
            employee_id="E4",
            email="d@x.test",
            name="Dee",
            department="D4",
            title="T4",
            manager_id="E1",
            employment_type=OTHER,
            status=TERMINATED,
            end_date=date(2020, 12, 31),
        ),
    ]


def test_override_replaces_a_preset_column_which_is_then_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "bamboohr.csv", BAMBOOHR_CSV)
    people = by_id(collect(path, preset="bamboohr", columns={"department": "Division"}))
    assert people["1001"].department == "R&D"
    assert people["1001"].attributes["Department"] == "Engineering"


def test_empty_override_unmaps_a_preset_column(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id,name,status\nE1,Ada,fired-ish\n")
    person = collect(path, columns={"status": ""}).people[0]
    assert person.status is ACTIVE
    assert person.attributes == {"status": "fired-ish"}


# --- a column is missing ---------------------------------------------------------------------


def test_missing_required_column(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "id,name,dept\n1,Ada,R&D\n")
    assert fatal(path) == (
        f"{path}: the employee id column ('employee_id' or 'employee_number') is missing; "
        "the header has 'id', 'name', 'dept'"
    )


def test_missing_name_column(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "Employee #,First Name\n1,Ada\n")
    assert fatal(path, preset="bamboohr") == (
        f"{path}: a name column ('First Name' or 'firstName' with 'Last Name' or 'lastName') "
        "is missing; the header has 'Employee #', 'First Name'"
    )


def test_missing_overridden_column(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id,name\nE1,Ada\n")
    assert fatal(path, columns={"department": "Team"}) == (
        f"{path}: column 'Team' (columns.department) is missing; "
        "the header has 'employee_id', 'name'"
    )


def test_missing_key_in_json(tmp_path: Path) -> None:
    path = write(
        tmp_path, "people.json", '[{"employee_id": "1"}, {"employee_id": "2", "nom": "A"}]'
    )
    assert fatal(path) == (
        f"{path}: a name column ('name', 'full_name' or 'preferred_name'; or 'first_name' "
        "with 'last_name') is missing; the records have the keys 'employee_id', 'nom'"
    )


def test_wrong_delimiter_is_hinted(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id;name\nE1;Ada\n")
    assert fatal(path, delimiter=",").endswith(
        "the header has 'employee_id;name' (is the delimiter right?)"
    )


def test_duplicate_mapped_column(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id,name,name\nE1,Ada,Bob\n")
    assert fatal(path) == f"{path}: column 'name' appears more than once in the header"
