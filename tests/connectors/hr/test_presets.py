"""HR presets: each preset's exports, CSV and JSON, read as the people they hold."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from iam_gov.model import (
    Person,
)
from tests.connectors.hr.test_connector import (
    ACTIVE,
    CONTRACTOR,
    EMPLOYEE,
    EXPORTED_AT,
    INTERN,
    LEAVE,
    OTHER,
    TERMINATED,
    by_id,
    collect,
    write,
)

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
