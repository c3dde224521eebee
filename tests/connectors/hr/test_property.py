"""HR connector: any valid people written as CSV read back as they were; 100,000 rows fast."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iam_gov.model import EmploymentStatus, EmploymentType, Person
from tests.connectors.hr.test_connector import EXPORTED_AT, collect, write

AS_OF = EXPORTED_AT.date()

# Values that break naive CSV writers and readers, or that a spreadsheet would run.
TRICKY = [
    "=cmd|' /C calc'!A0",
    "+SUM(A1:A9)",
    "-2+3",
    '@HYPERLINK("x")',
    "Smith, John",
    'O"Brien',
    '"quoted"',
    "line\nbreak",
    "carriage\rreturn",
    "windows\r\nline",
    "tab\there",
    "semi;colon|pipe",
    "Zoë Ñúñez",
    "李小龙",
    "🙂 emoji",
    "back\\slash",
    "[red]markup[/red]",
]

text = st.one_of(
    st.sampled_from(TRICKY),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=25),
).map(str.strip)
non_empty = text.filter(bool)

STATUSES = [
    ("active", EmploymentStatus.ACTIVE),
    ("ACTIVE", EmploymentStatus.ACTIVE),
    ("  On   Leave ", EmploymentStatus.LEAVE),
    ("leave of absence", EmploymentStatus.LEAVE),
    ("Terminated", EmploymentStatus.TERMINATED),
]
TYPES = [
    ("employee", EmploymentType.EMPLOYEE),
    ("Full-Time", EmploymentType.EMPLOYEE),
    ("Contractor", EmploymentType.CONTRACTOR),
    ("intern", EmploymentType.INTERN),
]


@dataclass(frozen=True)
class Row:
    employee_id: str
    email: str
    name: str
    department: str
    status: tuple[str, EmploymentStatus]
    employment_type: tuple[str, EmploymentType]
    start_date: date | None
    end_date: date | None
    location: str


rows = st.builds(
    Row,
    employee_id=non_empty,
    email=st.from_regex(r"[a-z0-9._%+-]{1,12}@[a-z0-9-]{1,10}\.[a-z]{2,6}", fullmatch=True),
    name=non_empty,
    department=text,
    status=st.sampled_from(STATUSES),
    employment_type=st.sampled_from(TYPES),
    start_date=st.none() | st.dates(date(1970, 1, 1), date(2030, 12, 31)),
    end_date=st.none() | st.dates(date(2000, 1, 1), date(2030, 12, 31)),
    location=text,
)
exports = st.lists(rows, min_size=1, max_size=15, unique_by=lambda r: r.employee_id)


def expected(row: Row) -> Person:
    status = row.status[1]
    attributes = {"location": row.location} if row.location else {}
    if (
        row.end_date is not None
        and row.end_date <= AS_OF
        and status is not EmploymentStatus.TERMINATED
    ):
        status = EmploymentStatus.TERMINATED
        attributes["status_derived_from"] = "end_date"
    return Person(
        employee_id=row.employee_id,
        email=row.email,
        name=row.name,
        department=row.department or None,
        employment_type=row.employment_type[1],
        status=status,
        start_date=row.start_date,
        end_date=row.end_date,
        attributes=attributes,
    )


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    people=exports,
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
    line_end=st.sampled_from(["\n", "\r\n"]),
    final_line_end=st.booleans(),
)
def test_any_valid_people_read_back_identical(
    tmp_path: Path,
    people: list[Row],
    delimiter: str,
    quoting: Literal[0, 1, 2, 3],
    line_end: str,
    final_line_end: bool,
) -> None:
    header = [
        "employee_id",
        "email",
        "name",
        "department",
        "status",
        "employment_type",
        "start_date",
        "end_date",
        "location",
    ]
    records = [
        [
            row.employee_id,
            row.email,
            row.name,
            row.department,
            row.status[0],
            row.employment_type[0],
            row.start_date.isoformat() if row.start_date else "",
            row.end_date.isoformat() if row.end_date else "",
            row.location,
        ]
        for row in people
    ]
    # The writer's own line end is \r\n because it quotes only fields holding characters of
    # its line end, and a bare \r is a line end to every reader; the rows then get line_end.
    lines = []
    for record in [header, *records]:
        buffer = io.StringIO(newline="")
        csv.writer(buffer, delimiter=delimiter, quoting=quoting).writerow(record)
        lines.append(buffer.getvalue().removesuffix("\r\n"))
    content = line_end.join(lines) + (line_end if final_line_end else "")
    snapshot = collect(write(tmp_path, "people.csv", content))

    assert snapshot.errors == ()
    assert snapshot.complete
    assert list(snapshot.people) == [expected(row) for row in people]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(people=exports, indent=st.sampled_from([None, 1, 4]), wrapped=st.booleans())
def test_any_valid_people_read_back_identical_from_json(
    tmp_path: Path, people: list[Row], indent: int | None, wrapped: bool
) -> None:
    records = [
        {
            "employee_id": row.employee_id,
            "email": row.email,
            "name": row.name,
            "department": row.department or None,
            "status": row.status[0],
            "employment_type": row.employment_type[0],
            "start_date": row.start_date.isoformat() if row.start_date else None,
            "end_date": row.end_date.isoformat() if row.end_date else "",
            "location": row.location,
        }
        for row in people
    ]
    document = {"Report_Entry": records} if wrapped else records
    path = write(tmp_path, "people.json", json.dumps(document, indent=indent))
    snapshot = collect(path)

    assert snapshot.errors == ()
    assert list(snapshot.people) == [expected(row) for row in people]
