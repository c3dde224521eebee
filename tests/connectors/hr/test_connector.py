"""HR connector: each preset's exports, column mapping, managers, status and options."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from iam_gov.connectors import connector_class, options_model
from iam_gov.connectors.hr.connector import HRConnector, HROptions
from iam_gov.connectors.hr.presets import MAPPABLE_FIELDS
from iam_gov.connectors.shared.protocol import ActionNotSupported
from iam_gov.errors import SourceError
from iam_gov.model import (
    Action,
    ActionKind,
    EmploymentStatus,
    EmploymentType,
    Person,
    SystemSnapshot,
)

EXPORTED_AT = datetime(2024, 6, 1, 9, 30, tzinfo=UTC)
ACTIVE, LEAVE, TERMINATED = (
    EmploymentStatus.ACTIVE,
    EmploymentStatus.LEAVE,
    EmploymentStatus.TERMINATED,
)
EMPLOYEE, CONTRACTOR, INTERN, OTHER = (
    EmploymentType.EMPLOYEE,
    EmploymentType.CONTRACTOR,
    EmploymentType.INTERN,
    EmploymentType.OTHER,
)


# --- helpers shared by the test_hr_*.py modules ----------------------------------------------


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        # newline="" so that the test decides the line ends byte for byte.
        with path.open("w", encoding="utf-8", newline="") as file:
            file.write(content)
    return path


def options(path: Path, **extra: Any) -> HROptions:
    raw: dict[str, Any] = {"type": "hr", "path": str(path), "exported_at": EXPORTED_AT}
    raw.update(extra)
    return HROptions.model_validate(raw)


def collect(path: Path, **extra: Any) -> SystemSnapshot:
    return HRConnector("hr", options(path, **extra)).collect()


def fatal(path: Path, **extra: Any) -> str:
    """The SourceError's message; it must be one line that starts with the file."""
    with pytest.raises(SourceError) as caught:
        collect(path, **extra)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return message


def by_id(snapshot: SystemSnapshot) -> dict[str, Person]:
    return {p.employee_id: p for p in snapshot.people}


# --- generic ---------------------------------------------------------------------------------

GENERIC_CSV = (
    "employee_id,email,first_name,last_name,department,title,manager_id,employment_type,"
    "status,start_date,end_date,cost_center,location\n"
    "E001,ada@example.com,Ada,Lovelace,Engineering,CTO,,employee,active,2019-03-01,,"
    "CC-100,London\n"
    "E002,grace@example.com,Grace,Hopper,Engineering,Engineer,E001,Contractor,Active,"
    "2021-07-15,,CC-100,\n"
    "E003,alan@example.com,Alan,Turing,Research,Researcher,E001,intern,On Leave,"
    "2023-01-09T08:00:00Z,,  CC-200  ,Manchester\n"
    "E004,kat@example.com,Katherine,Johnson,Finance,Analyst,E001,employee,terminated,"
    "2018-05-01,2024-02-29,CC-300,\n"
)


def test_generic_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", GENERIC_CSV)
    snapshot = collect(path)

    assert snapshot.complete
    assert snapshot.errors == ()
    assert snapshot.system == "hr"
    assert snapshot.connector == "hr"
    assert snapshot.source == "export:people.csv"
    assert snapshot.collected_at == EXPORTED_AT
    assert (snapshot.accounts, snapshot.entitlements, snapshot.grants) == ((), (), ())
    people = by_id(snapshot)
    assert list(people) == ["E001", "E002", "E003", "E004"]
    assert people["E001"] == Person(
        employee_id="E001",
        email="ada@example.com",
        name="Ada Lovelace",
        department="Engineering",
        title="CTO",
        manager_id=None,
        employment_type=EMPLOYEE,
        status=ACTIVE,
        start_date=date(2019, 3, 1),
        end_date=None,
        attributes={"cost_center": "CC-100", "location": "London"},
    )
    assert people["E002"].employment_type is CONTRACTOR
    assert people["E002"].manager_id == "E001"
    assert people["E002"].attributes == {"cost_center": "CC-100"}  # empty values are dropped
    assert people["E003"].status is LEAVE
    assert people["E003"].employment_type is INTERN
    assert people["E003"].start_date == date(2023, 1, 9)
    assert people["E003"].attributes["cost_center"] == "CC-200"
    assert people["E004"].status is TERMINATED
    assert people["E004"].end_date == date(2024, 2, 29)
    assert "status_derived_from" not in people["E004"].attributes  # HR already said so


def test_generic_json_top_level_list(tmp_path: Path) -> None:
    records = [
        {"employee_id": 7, "name": "Ada Lovelace", "status": "active", "on_call": True},
        {"employee_id": "8", "name": "Alan Turing", "status": None, "badge": 1.5},
    ]
    path = write(tmp_path, "people.json", json.dumps(records, indent=2))
    snapshot = collect(path, status_values={"": "active"})

    people = by_id(snapshot)
    assert people["7"].attributes == {"on_call": "true"}
    assert people["8"].attributes == {"badge": "1.5"}
    assert people["8"].status is ACTIVE


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


def test_header_names_match_ignoring_case_and_spacing(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "Employee ID , NAME,Start-Date\nE1,Ada,2020-02-02\n")
    person = collect(path).people[0]
    assert (person.employee_id, person.name, person.start_date) == ("E1", "Ada", date(2020, 2, 2))


# --- BambooHR --------------------------------------------------------------------------------

BAMBOOHR_CSV = (
    "Employee #,First Name,Last Name,Preferred Name,Work Email,Department,Job Title,"
    "Supervisor EID,Employment Status,Status,Hire Date,Termination Date,Location,Division\n"
    "1001,Maria,Garcia,,maria.garcia@acme.test,Engineering,VP Engineering,,Full-Time,Active,"
    "01/15/2018,0000-00-00,Remote - US,R&D\n"
    "1002,James,Smith,Jim,james.smith@acme.test,Engineering,Software Engineer,1001,Part-Time,"
    "Active,03/02/2020,,Austin,R&D\n"
    "1003,Priya,Patel,,priya.patel@acme.test,Sales,Account Executive,1001,Contractor,Active,"
    "2022-06-01,,Remote - US,GTM\n"
    "1004,Tom,Brown,,tom.brown@acme.test,Sales,SDR,1003,Terminated,Inactive,04/04/2021,"
    "12/31/2023,Austin,GTM\n"
)


def test_bamboohr_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "bamboohr.csv", BAMBOOHR_CSV)
    snapshot = collect(path, preset="bamboohr")

    assert snapshot.complete and snapshot.errors == ()
    people = by_id(snapshot)
    maria = people["1001"]
    assert maria.name == "Maria Garcia"
    assert maria.email == "maria.garcia@acme.test"
    assert maria.department == "Engineering"
    assert maria.title == "VP Engineering"
    assert maria.start_date == date(2018, 1, 15)
    assert maria.end_date is None  # BambooHR's 0000-00-00
    assert maria.employment_type is EMPLOYEE
    assert maria.attributes == {"Location": "Remote - US", "Division": "R&D"}
    # No EID column in the report: Supervisor EID is read as the employee number.
    assert people["1002"].manager_id == "1001"
    assert people["1002"].attributes["Preferred Name"] == "Jim"
    assert people["1002"].employment_type is EMPLOYEE
    assert people["1003"].employment_type is CONTRACTOR
    assert people["1004"].status is TERMINATED
    assert people["1004"].employment_type is OTHER
    assert people["1004"].end_date == date(2023, 12, 31)


BAMBOOHR_JSON = {
    "title": "iam-gov export",
    "fields": [
        {"id": "employeeNumber", "type": "text", "name": "Employee #"},
        {"id": "firstName", "type": "text", "name": "First Name"},
        {"id": "lastName", "type": "text", "name": "Last Name"},
        {"id": "workEmail", "type": "email", "name": "Work Email"},
        {"id": "department", "type": "list", "name": "Department"},
        {"id": "jobTitle", "type": "list", "name": "Job Title"},
        {"id": "supervisorEId", "type": "employee", "name": "Supervisor EID"},
        {"id": "employmentHistoryStatus", "type": "list", "name": "Employment Status"},
        {"id": "status", "type": "status", "name": "Status"},
        {"id": "hireDate", "type": "date", "name": "Hire Date"},
        {"id": "terminationDate", "type": "date", "name": "Termination Date"},
        {"id": "4047", "type": "list", "name": "Cost Center"},
    ],
    "employees": [
        {
            "id": "41",
            "employeeNumber": "1001",
            "firstName": "Maria",
            "lastName": "Garcia",
            "workEmail": "maria.garcia@acme.test",
            "department": "Engineering",
            "jobTitle": "VP Engineering",
            "supervisorEId": None,
            "employmentHistoryStatus": "Full-Time",
            "status": "Active",
            "hireDate": "2018-01-15",
            "terminationDate": "0000-00-00",
            "4047": "CC-100",
        },
        {
            "id": "57",
            "employeeNumber": "1002",
            "firstName": "James",
            "lastName": "Smith",
            "workEmail": "james.smith@acme.test",
            "department": "Engineering",
            "jobTitle": "Software Engineer",
            "supervisorEId": "41",
            "employmentHistoryStatus": "Intern",
            "status": "Active",
            "hireDate": "2024-05-20",
            "terminationDate": "0000-00-00",
            "4047": None,
        },
    ],
}


def test_bamboohr_json_translates_supervisor_eid(tmp_path: Path) -> None:
    path = write(tmp_path, "bamboohr.json", json.dumps(BAMBOOHR_JSON, indent=1))
    snapshot = collect(path, preset="bamboohr")

    assert snapshot.complete and snapshot.errors == ()
    people = by_id(snapshot)
    assert list(people) == ["1001", "1002"]
    # Supervisor EID 41 is BambooHR's internal id of employee number 1001.
    assert people["1002"].manager_id == "1001"
    assert people["1002"].employment_type is INTERN
    assert people["1001"].attributes == {"4047": "CC-100"}
    assert people["1001"].start_date == date(2018, 1, 15)


# --- Workday ---------------------------------------------------------------------------------

WORKDAY_CSV = (
    "Employee ID,Legal Name,Preferred Name,Email - Primary Work,Supervisory Organization,"
    "Cost Center,Business Title,Manager Employee ID,Worker Type,Worker Status,Hire Date,"
    "Termination Date\n"
    "21001,Logan McNeil,,lmcneil@wd.test,Executive Management (Logan McNeil),"
    "CC1000 Executive,Chief Executive Officer,,Employee,Active,01/01/2000,\n"
    "21002,Robert Henderson,Bob Henderson,bhenderson@wd.test,"
    '"Finance, Planning & Analysis",CC2000 Finance,Controller,21001,Contingent Worker,Active,'
    "2/3/2019,\n"
    "21003,Teresa Serrano,,tserrano@wd.test,Human Resources,CC3000 HR,HR Partner,21001,"
    "Employee,Leave of Absence,2015-09-14,\n"
)


def test_workday_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "workday.csv", WORKDAY_CSV)
    snapshot = collect(path, preset="workday")

    assert snapshot.complete and snapshot.errors == ()
    people = by_id(snapshot)
    assert people["21001"].name == "Logan McNeil"
    assert people["21001"].email == "lmcneil@wd.test"
    assert people["21001"].department == "Executive Management (Logan McNeil)"
    assert people["21001"].title == "Chief Executive Officer"
    assert people["21001"].attributes == {"Cost Center": "CC1000 Executive"}
    assert people["21002"].name == "Bob Henderson"  # the preferred name wins
    assert people["21002"].department == "Finance, Planning & Analysis"
    assert people["21002"].employment_type is CONTRACTOR
    assert people["21002"].manager_id == "21001"
    assert people["21002"].start_date == date(2019, 2, 3)
    assert people["21003"].status is LEAVE


def test_workday_raas_json(tmp_path: Path) -> None:
    report = {
        "Report_Entry": [
            {
                "Employee_ID": "21001",
                "Legal_Name": "Logan McNeil",
                "Email_Address": "lmcneil@wd.test",
                "Supervisory_Organization": "Executive Management",
                "Business_Title": "Chief Executive Officer",
                "Worker_Type": "Employee",
                "Worker_Status": "Active",
                "Hire_Date": "2000-01-01-08:00",
                "Location": [{"Descriptor": "San Francisco"}],
            },
            {
                # RaaS leaves out fields that have no value (no e-mail, no termination date).
                "Employee_ID": "21004",
                "Legal_Name": "Kim Ng",
                "Manager_Employee_ID": "21001",
                "Worker_Type": "Employee",
                "Worker_Status": "Active",
                "Hire_Date": "2020-03-01-08:00",
                "Termination_Date": "2024-05-31-07:00",
            },
        ]
    }
    path = write(tmp_path, "workday.json", json.dumps(report))
    snapshot = collect(path, preset="workday")

    assert snapshot.complete and snapshot.errors == ()
    people = by_id(snapshot)
    assert people["21001"].start_date == date(2000, 1, 1)
    # Nested values are kept whole, as JSON, so that nothing HR said is lost.
    assert people["21001"].attributes == {"Location": '[{"Descriptor":"San Francisco"}]'}
    assert people["21004"].email is None
    assert people["21004"].manager_id == "21001"
    assert people["21004"].end_date == date(2024, 5, 31)
    assert people["21004"].status is TERMINATED  # still "Active" in the export
    assert people["21004"].attributes == {"status_derived_from": "end_date"}


# --- column mapping --------------------------------------------------------------------------


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


# --- delimiters --------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    rows = [
        ["employee_id", "name", "department", "location"],
        ["E1", "Smith, John", "R&D", "Berlin; Mitte"],
        ["E2", "Doe, Jane", "Sales", "Paris | 11e"],
    ]
    text = "".join(
        delimiter.join(f'"{v}"' if delimiter in v else v for v in row) + "\r\n" for row in rows
    )
    people = by_id(collect(write(tmp_path, "people.csv", text)))
    assert people["E1"].name == "Smith, John"
    assert people["E1"].department == "R&D"
    assert people["E1"].attributes == {"location": "Berlin; Mitte"}
    assert people["E2"].attributes["location"] == "Paris | 11e"


def test_delimiter_option(tmp_path: Path) -> None:
    path = write(tmp_path, "people.txt", "employee_id:name\nE1:Ada\n")
    assert collect(path, delimiter=":").people[0].name == "Ada"


def test_trailing_delimiter_on_data_rows_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id,name\nE1,Ada,\nE2,Bob,,\n")
    snapshot = collect(path)
    assert snapshot.complete and [p.name for p in snapshot.people] == ["Ada", "Bob"]


def test_blank_lines_and_bom_are_ignored(tmp_path: Path) -> None:
    content = "\ufeffemployee_id,name\r\n\r\nE1,Ada\r\n,\r\n\r\nE2,Bob"
    snapshot = collect(write(tmp_path, "people.csv", content))
    assert snapshot.complete and [p.employee_id for p in snapshot.people] == ["E1", "E2"]


def test_other_encodings(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id,name\nE1,Zoë Ñúñez\n".encode("cp1252"))
    assert collect(path, encoding="cp1252").people[0].name == "Zoë Ñúñez"
    path = write(tmp_path, "people16.csv", "employee_id\tname\nE1\t李小龙\n".encode("utf-16"))
    assert collect(path, encoding="utf-16").people[0].name == "李小龙"


# --- managers ----------------------------------------------------------------------------------


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


# --- status from the end date ------------------------------------------------------------------


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


def test_collected_at_defaults_to_the_file_time(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id,name,end_date\nE1,Ada,2021-03-04\n")
    stamp = datetime(2021, 3, 4, 23, 0, tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))
    connector = HRConnector("people", HROptions(type="hr", path=path))
    snapshot = connector.collect()
    assert snapshot.collected_at == datetime(2021, 3, 4, 23, 0, tzinfo=UTC)
    assert snapshot.people[0].status is TERMINATED


def test_exported_at_naive_is_utc(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id,name\nE1,Ada\n")
    opts = HROptions.model_validate(
        {"type": "hr", "path": str(path), "exported_at": "2024-01-02T03:04:05"}
    )
    assert opts.exported_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


# --- protocol and options ----------------------------------------------------------------------


def test_registered_read_only_connector() -> None:
    assert connector_class("hr") is HRConnector
    assert options_model("hr") is HROptions
    assert HRConnector.capabilities == frozenset()
    assert HRConnector.permissions.collect and HRConnector.permissions.apply == ()


def test_apply_is_not_supported(tmp_path: Path) -> None:
    connector = HRConnector("hr", options(tmp_path / "people.csv"))
    action = Action(kind=ActionKind.DISABLE_ACCOUNT, system="hr", account_id="E1", reason="test")
    with pytest.raises(ActionNotSupported):
        connector.apply(action)


def test_relative_path_is_taken_from_the_config_folder(tmp_path: Path) -> None:
    opts = HROptions.model_validate(
        {"type": "hr", "path": "exports/people.csv"}, context={"base_dir": tmp_path}
    )
    assert opts.path == tmp_path / "exports" / "people.csv"
    assert opts.file_format == "csv"


@pytest.mark.parametrize(
    ("extra", "location"),
    [
        ({"preset": "sap"}, ("preset",)),
        ({"type": "aws"}, ("type",)),
        ({"columns": {"salary": "Salary"}}, ("columns", "salary", "[key]")),
        ({"status_values": {"gone": "fired"}}, ("status_values", "gone")),
        ({"employment_type_values": {"x": "robot"}}, ("employment_type_values", "x")),
        ({"format": "xlsx"}, ("format",)),
        ({"encoding": "klingon"}, ("encoding",)),
        ({"delimiter": ";;"}, ("delimiter",)),
        ({"delimiter": '"'}, ("delimiter",)),
        ({"date_format": "DD/MM/YYYY"}, ("date_format",)),
        ({"min_people": -1}, ("min_people",)),
        ({"sheet": "People"}, ("sheet",)),
    ],
)
def test_bad_options_are_validation_errors(
    tmp_path: Path, extra: dict[str, Any], location: tuple[str, ...]
) -> None:
    with pytest.raises(ValidationError) as caught:
        options(tmp_path / "people.csv", **extra)
    assert [tuple(str(p) for p in e["loc"]) for e in caught.value.errors()] == [location]


def test_unknown_extension_needs_a_format(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot tell the format of 'people.xlsx'"):
        options(tmp_path / "people.xlsx")
    assert options(tmp_path / "people.export", format="json").file_format == "json"
