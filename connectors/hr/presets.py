"""Column and value mappings of the HR exports the HR connector reads out of the box.

A preset says, for each person field, which columns may hold it (the first one present in
the export wins), what the export's status and employment-type values mean, which date
formats it writes besides ISO 8601, and where a JSON export keeps its list of records.
Column names are matched exactly first, then ignoring case and treating runs of spaces,
``_`` and ``-`` as one, so ``Employee_ID`` (Workday RaaS), ``Employee ID`` (a Workday report
saved as CSV) and ``employee id`` are the same column. Values are matched ignoring case and
surrounding or repeated whitespace.

``generic`` — a CSV or JSON written by hand or by a script, snake_case headers:
    employee_id, email, name (or first_name + last_name, or preferred_name), department,
    title, manager_id (or manager_email), employment_type, status, start_date, end_date;
    also accepted: employee_number, work_email, full_name, job_title, manager_employee_id,
    hire_date, termination_date. Status: active, leave / on leave / leave of absence,
    terminated / inactive. Employment type: employee (full-time, part-time, permanent),
    contractor (contract, consultant), intern, other.
    Dates: ISO 8601 only, because 03/04/2024 means different days in different countries.

``bamboohr`` — a BambooHR custom report, saved as CSV (display names) or fetched as JSON
from ``/v1/reports/custom?format=JSON`` (``{"title", "fields": [...], "employees": [...]}``,
API field names):
    employee_id      Employee #            employeeNumber
    email            Work Email            workEmail
    first_name       First Name            firstName
    last_name        Last Name             lastName
    department       Department            department
    title            Job Title             jobTitle
    manager_email    Supervisor Email      supervisorEmail  (used first when present)
    manager_system_id Supervisor EID       supervisorEId
    system_id        EID                   id               (BambooHR's internal id)
    employment_type  Employment Status     employmentHistoryStatus
    status           Status                status
    start_date       Hire Date             hireDate
    end_date         Termination Date      terminationDate
    "Supervisor EID" names the supervisor by BambooHR's internal employee id (EID), which need
    not be the company's employee number: when the export also carries the EID (the ``id`` of
    the JSON report, or an EID column) it is translated through it; otherwise it is taken to
    be the employee number. Status: Active, Inactive (= terminated). Employment status:
    Full-Time, Part-Time, Furloughed = employee; Contractor; Intern; Terminated, Temporary,
    Seasonal, Per Diem = other (a leaver's Status is Inactive anyway). BambooHR writes
    "0000-00-00" for no date; its CSV reports use the account's date format, MM/DD/YYYY in US
    accounts (set date_format for others).

``workday`` — a Workday custom report: RaaS JSON (``{"Report_Entry": [...]}``, XML aliases
with underscores; fields with no value are left out of the record) or the same report as CSV:
    employee_id      Employee_ID, Worker_ID
    email            Email_Address, Primary_Work_Email, Email_Primary_Work, Work_Email, Email
    preferred_name   Preferred_Name        (used when present, else the legal name)
    name             Legal_Name, Worker, Full_Name, Name
    first_name       Legal_First_Name, First_Name
    last_name        Legal_Last_Name, Last_Name
    department       Supervisory_Organization, Department, Cost_Center
    title            Business_Title, Job_Title, Job_Profile
    manager_id       Manager_Employee_ID, Manager_ID
    manager_email    Manager_Email, Manager_Email_Address
    employment_type  Worker_Type, Employee_Type  (Employee, Regular, Fixed Term, Temporary =
                     employee; Contingent Worker, Contractor = contractor; Intern)
    status           Worker_Status, Employment_Status, Status, Active_Status
                     (Active; Leave of Absence, On Leave; Terminated, Inactive, Retired;
                     Active_Status is 1 or 0)
    start_date       Hire_Date, Original_Hire_Date, Start_Date
    end_date         Termination_Date, End_Date
    Workday writes dates as 2024-01-15 or, in RaaS, with the tenant's offset (2024-01-15-08:00);
    a report saved from Excel uses MM/DD/YYYY.

The latest job change (optional; without it movers are found by comparing snapshots only):
    field                generic                      workday (also "Prior_…")
    previous_department  previous_department          Previous_Supervisory_Organization,
                                                      Prior_Department, Previous_Department
    previous_title       previous_title               Previous_Business_Title, Prior_Job_Title …
    previous_manager     previous_manager_id,         Previous_Manager_Employee_ID,
                         previous_manager(_email)     Prior_Manager_ID, Previous_Manager …
    moved_at             moved_at, job_change_date    Job_Change_Effective_Date, Effective_Date
    A change counts as a move when it has its effective date (moved_at) and a previous value
    that differs from the current one. BambooHR keeps job changes in its Job Information
    table: read it as a job history (``job_history``, see history.py: Employee #, Date,
    Department, Job Title, Reports To); a "Previous Department" / "Job Information: Date"
    column in a custom report is read too. If a report's Effective_Date means something else,
    unmap it: ``columns = { moved_at = "" }``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from iam_gov.model import EmploymentStatus, EmploymentType

MappableField = Literal[
    "employee_id",
    "email",
    "name",
    "first_name",
    "last_name",
    "preferred_name",
    "department",
    "title",
    "manager_id",
    "manager_email",
    "manager_system_id",
    "system_id",
    "employment_type",
    "status",
    "start_date",
    "end_date",
    "previous_department",
    "previous_title",
    "previous_manager",
    "moved_at",
]
"""Fields a column can be mapped to. ``system_id`` is the HR system's internal id when it is not
the employee number; ``manager_system_id`` names a manager by it. The ``previous_*`` fields and
``moved_at`` describe the person's latest job change as HR reports it (optional: without them,
movers are found by comparing snapshots only); ``previous_manager`` may name the manager by
employee id, e-mail, HR system id or, as BambooHR's "Reports To" does, by name."""

MAPPABLE_FIELDS: tuple[MappableField, ...] = get_args(MappableField)

PresetName = Literal["generic", "workday", "bamboohr"]


def value_key(value: str) -> str:
    """How status and employment-type values are compared: case and spacing do not matter."""
    return " ".join(value.split()).casefold()


@dataclass(frozen=True)
class Preset:
    name: PresetName
    columns: Mapping[MappableField, tuple[str, ...]]
    status_values: Mapping[str, EmploymentStatus]
    employment_type_values: Mapping[str, EmploymentType]
    date_formats: tuple[str, ...]
    """strptime formats tried after ISO 8601."""
    json_records: str | None
    """Key of the top-level JSON object that holds the records; None: a list or the only one."""


_A, _L, _T = EmploymentStatus.ACTIVE, EmploymentStatus.LEAVE, EmploymentStatus.TERMINATED
_EMP, _CON, _INT, _OTH = (
    EmploymentType.EMPLOYEE,
    EmploymentType.CONTRACTOR,
    EmploymentType.INTERN,
    EmploymentType.OTHER,
)

_COMMON_STATUS: dict[str, EmploymentStatus] = {
    "active": _A,
    "leave": _L,
    "on leave": _L,
    "leave of absence": _L,
    "terminated": _T,
    "inactive": _T,
}

_COMMON_TYPES: dict[str, EmploymentType] = {
    "employee": _EMP,
    "full-time": _EMP,
    "full time": _EMP,
    "part-time": _EMP,
    "part time": _EMP,
    "permanent": _EMP,
    "contractor": _CON,
    "contract": _CON,
    "consultant": _CON,
    "intern": _INT,
    "internship": _INT,
    "other": _OTH,
}

GENERIC = Preset(
    name="generic",
    columns={
        "employee_id": ("employee_id", "employee_number"),
        "email": ("email", "work_email"),
        "name": ("name", "full_name"),
        "first_name": ("first_name",),
        "last_name": ("last_name",),
        "preferred_name": ("preferred_name",),
        "department": ("department",),
        "title": ("title", "job_title"),
        "manager_id": ("manager_id", "manager_employee_id"),
        "manager_email": ("manager_email",),
        "employment_type": ("employment_type",),
        "status": ("status",),
        "start_date": ("start_date", "hire_date"),
        "end_date": ("end_date", "termination_date"),
        "previous_department": ("previous_department", "prior_department"),
        "previous_title": ("previous_title", "previous_job_title", "prior_title"),
        "previous_manager": (
            "previous_manager_id",
            "previous_manager",
            "previous_manager_email",
            "prior_manager_id",
        ),
        "moved_at": ("moved_at", "job_change_date", "job_change_effective_date"),
    },
    status_values=_COMMON_STATUS,
    employment_type_values=_COMMON_TYPES,
    date_formats=(),
    json_records=None,
)

BAMBOOHR = Preset(
    name="bamboohr",
    columns={
        "employee_id": ("Employee #", "employeeNumber"),
        "email": ("Work Email", "workEmail"),
        "first_name": ("First Name", "firstName"),
        "last_name": ("Last Name", "lastName"),
        "department": ("Department", "department"),
        "title": ("Job Title", "jobTitle"),
        "manager_system_id": ("Supervisor EID", "supervisorEId"),
        "manager_email": ("Supervisor Email", "supervisorEmail"),
        "employment_type": ("Employment Status", "employmentHistoryStatus"),
        "status": ("Status", "status"),
        "start_date": ("Hire Date", "hireDate"),
        "end_date": ("Termination Date", "terminationDate"),
        "system_id": ("EID", "id"),
        # BambooHR keeps job changes in the Job Information table, not in columns of the
        # employee: these are the names a report built with calculated fields usually gets;
        # the table itself is read as a job history (``job_history``, see history.py).
        "previous_department": ("Previous Department", "Prior Department"),
        "previous_title": ("Previous Job Title", "Prior Job Title"),
        "previous_manager": ("Previous Reports To", "Previous Supervisor Email"),
        "moved_at": ("Job Information: Date", "Job Change Date", "Job Info Date"),
    },
    # "Status" is whether the BambooHR record is active: Inactive means the person left.
    status_values={"active": _A, "inactive": _T, "terminated": _T},
    employment_type_values={
        **_COMMON_TYPES,
        # BambooHR keeps leavers' employment status at "Terminated"; it says nothing about the
        # kind of contract they had, and Status (Inactive) already says they left.
        "terminated": _OTH,
        "temporary": _OTH,
        "seasonal": _OTH,
        "per diem": _OTH,
        "furloughed": _EMP,
    },
    date_formats=("%m/%d/%Y",),
    json_records="employees",
)

WORKDAY = Preset(
    name="workday",
    columns={
        "employee_id": ("Employee_ID", "Worker_ID"),
        "email": (
            "Email_Address",
            "Primary_Work_Email",
            "Email_Primary_Work",
            "Work_Email",
            "Email",
        ),
        "preferred_name": ("Preferred_Name",),
        "name": ("Legal_Name", "Worker", "Full_Name", "Name"),
        "first_name": ("Legal_First_Name", "First_Name"),
        "last_name": ("Legal_Last_Name", "Last_Name"),
        "department": ("Supervisory_Organization", "Department", "Cost_Center"),
        "title": ("Business_Title", "Job_Title", "Job_Profile"),
        "manager_id": ("Manager_Employee_ID", "Manager_ID"),
        "manager_email": ("Manager_Email", "Manager_Email_Address"),
        "employment_type": ("Worker_Type", "Employee_Type"),
        "status": ("Worker_Status", "Employment_Status", "Status", "Active_Status"),
        "start_date": ("Hire_Date", "Original_Hire_Date", "Start_Date"),
        "end_date": ("Termination_Date", "End_Date"),
        # A report on the Change Job business process (or a worker report with the job
        # change's "prior" fields): Workday calls the old values Previous or Prior.
        "previous_department": (
            "Previous_Supervisory_Organization",
            "Prior_Supervisory_Organization",
            "Previous_Department",
            "Prior_Department",
        ),
        "previous_title": (
            "Previous_Business_Title",
            "Prior_Business_Title",
            "Previous_Job_Title",
            "Prior_Job_Title",
            "Previous_Job_Profile",
            "Prior_Job_Profile",
        ),
        "previous_manager": (
            "Previous_Manager_Employee_ID",
            "Prior_Manager_Employee_ID",
            "Previous_Manager_ID",
            "Prior_Manager_ID",
            "Previous_Manager",
            "Prior_Manager",
        ),
        "moved_at": ("Job_Change_Effective_Date", "Effective_Date", "Job_Change_Date"),
    },
    status_values={
        **_COMMON_STATUS,
        "retired": _T,
        "deceased": _T,
        # Active_Status is a boolean that RaaS writes as 1 / 0.
        "1": _A,
        "0": _T,
    },
    employment_type_values={
        **_COMMON_TYPES,
        "regular": _EMP,
        "fixed term": _EMP,
        "temporary": _EMP,
        "contingent worker": _CON,
        "contingent": _CON,
    },
    date_formats=("%m/%d/%Y",),
    json_records="Report_Entry",
)

PRESETS: dict[PresetName, Preset] = {p.name: p for p in (GENERIC, BAMBOOHR, WORKDAY)}
