"""A job-history export, several rows per person (BambooHR's Job Information table, a Workday
job history report): each person's latest job change, read from the rows before and after it.

Each row is one job as of its effective date: employee id, effective date, and whichever of
department, title and manager the report has. A person's rows are put in date order (rows of
one day in file order); the latest row whose department, title or manager differs from the
row before it is the latest change, and that row before it is the previous job. A row dated
after the export was taken has not taken effect and is not used.

A row that cannot be used (no employee id, a bad date, the wrong number of fields) is a note
naming the file, the line and the column; the people stay in, only that row is not used. A
file with no employee id or no effective date column cannot be used at all (``BadFile``).
Rows of people who are not in the main export are not used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal, get_args

from iam_gov.connectors.hr.columns import header_matcher
from iam_gov.connectors.hr.presets import PresetName
from iam_gov.connectors.hr.problems import Problems, show, show_header
from iam_gov.connectors.shared.csv_file import CsvFile

HistoryField = Literal["employee_id", "effective_date", "department", "title", "manager"]
"""Fields a column of the job history can be mapped to (``job_history_columns``)."""

HISTORY_FIELDS: tuple[HistoryField, ...] = get_args(HistoryField)
JobField = Literal["department", "title", "manager"]
JOB_FIELDS: tuple[JobField, ...] = ("department", "title", "manager")
ParseDate = Callable[[str], date | None]
"""Parses a date as the main export's dates are parsed; ``ValueError`` when it is not one."""

HISTORY_COLUMNS: Mapping[PresetName, Mapping[HistoryField, tuple[str, ...]]] = {
    "generic": {
        "employee_id": ("employee_id", "employee_number"),
        "effective_date": ("effective_date", "date", "moved_at"),
        "department": ("department",),
        "title": ("title", "job_title"),
        "manager": ("manager_id", "manager_employee_id", "manager_email", "manager"),
    },
    # The Job Information table as a report saved as CSV (display names), or its API rows
    # (/v1/employees/all/tables/jobInfo: employeeId is the EID, BambooHR's internal id).
    "bamboohr": {
        "employee_id": ("Employee #", "employeeNumber", "EID", "employeeId"),
        "effective_date": ("Date", "Job Information: Date", "Effective Date", "date"),
        "department": ("Department", "Job Information: Department", "department"),
        "title": ("Job Title", "Job Information: Job Title", "jobTitle"),
        "manager": ("Reports To", "Job Information: Reports To", "reportsTo"),
    },
    "workday": {
        "employee_id": ("Employee_ID", "Worker_ID"),
        "effective_date": ("Effective_Date", "Job_Change_Effective_Date"),
        "department": ("Supervisory_Organization", "Department", "Cost_Center"),
        "title": ("Business_Title", "Job_Title", "Job_Profile"),
        "manager": ("Manager_Employee_ID", "Manager_ID", "Manager"),
    },
}


@dataclass(frozen=True, slots=True)
class JobChange:
    """A person's latest job change in the history."""

    reference: str
    """The employee id as the history writes it: the employee number, or the HR system's id."""
    effective: date
    line: int
    """The line of the row that made the change."""
    previous: dict[JobField, str]
    """The job before the change, for each field the history has ("" when it was empty)."""
    columns: dict[JobField, str]
    """Each job field's column, as the header writes it."""


def read_job_history(
    path: Path,
    preset: PresetName,
    chosen: Mapping[HistoryField, str],
    *,
    encoding: str,
    delimiter: str | None,
    parse_date: ParseDate,
    expected_dates: str,
    as_of: date,
    problems: Problems,
) -> dict[str, JobChange]:
    """Each person's latest job change (by the employee id as written); rows that cannot be
    used are noted in ``problems`` with this file as their source."""
    source = str(path)
    jobs: dict[str, list[tuple[date, int, tuple[str, ...]]]] = {}
    with CsvFile.open(path, encoding=encoding, delimiter=delimiter) as export:
        header = export.header
        find = header_matcher(header)
        names: dict[HistoryField, str] = {}
        for field in HISTORY_FIELDS:
            if field in chosen:
                wanted = chosen[field].strip()
                found = find(wanted) if wanted else None
                if wanted and found is None:
                    export.fail(
                        f"column {show(wanted)} (job_history_columns.{field}) is missing; "
                        + show_header(header)
                    )
            else:
                candidates = HISTORY_COLUMNS[preset][field]
                found = next((f for f in map(find, candidates) if f), None)
            if found is not None:
                names[field] = found
        for field in ("employee_id", "effective_date"):
            if field not in names:
                wanted = ", ".join(map(repr, HISTORY_COLUMNS[preset][field]))
                export.fail(
                    f"the job history's {field.replace('_', ' ')} column ({wanted}) is missing; "
                    + show_header(header)
                )
        job_fields = [f for f in JOB_FIELDS if f in names]
        if not job_fields:
            export.fail(
                "the job history has no department, title or manager column; " + show_header(header)
            )
        index = {name: i for i, name in reversed(list(enumerate(header)))}
        id_at, date_at = index[names["employee_id"]], index[names["effective_date"]]
        job_at = [index[names[f]] for f in job_fields]
        date_column = names["effective_date"]

        def bad_row(line: int, fields: list[str] | None, problem: str) -> None:
            reference = fields[id_at].strip() if fields and id_at < len(fields) else ""
            problems.note(line, reference, f"{problem}; the row is not used", source=source)

        for row in export.rows(bad_row):
            line = export.line
            reference = row[id_at].strip()
            if not reference:
                message = "the employee id is empty; the row is not used"
                problems.note(line, "", message, source=source)
                continue
            raw = row[date_at].strip()
            try:
                effective = parse_date(raw) if raw else None
            except ValueError:
                effective = None
            if effective is None:
                what = f"{show(raw)} is not a date (expected {expected_dates})" if raw else "empty"
                message = (
                    f"column {show(date_column)} (effective_date): {what}; the row is not used"
                )
                problems.note(line, reference, message, source=source)
                continue
            if effective > as_of:
                continue  # not in effect yet when the export was taken
            jobs.setdefault(reference, []).append(
                (effective, line, tuple(row[i].strip() for i in job_at))
            )

    columns = {f: names[f] for f in job_fields}
    changes: dict[str, JobChange] = {}
    for reference, rows in jobs.items():
        rows.sort()
        for k in range(len(rows) - 1, 0, -1):
            (effective, line, job), (_, _, before) = rows[k], rows[k - 1]
            if job != before:
                previous = dict(zip(job_fields, before, strict=True))
                changes[reference] = JobChange(reference, effective, line, previous, columns)
                break
    return changes
