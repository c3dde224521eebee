"""HR connector: bad rows are left out with their line; unusable files are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.connectors.hr.test_connector import collect, fatal, write

HEADER = "employee_id,email,name,employment_type,status,start_date\n"
# Line 2 holds a quoted name that runs over two physical lines, and line 4 an escaped quote,
# so the bad row below is on line 5 of the file even though it is the fourth record.
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


def test_bad_json_records(tmp_path: Path) -> None:
    records = [
        {"employee_id": "E1", "name": "Ada"},
        {"employee_id": "E2", "name": "Bob", "start_date": "yesterday"},
        ["E3", "Cy"],
        {"employee_id": "E4", "name": {"first": "Di"}},
        {"employee_id": "E5", "name": "Ed"},
        {"employee_id": "E6", "name": "Fi"},
        {"employee_id": "E7", "name": "Gil"},
    ]
    text = "[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n"
    snapshot = collect(write(tmp_path, "people.json", text))

    assert not snapshot.complete
    assert [(e.line, e.record) for e in snapshot.errors] == [
        (3, "record #2 (employee id E2)"),
        (4, "record #3"),
        (5, "record #4 (employee id E4)"),
    ]
    assert snapshot.errors[1].message == "the record is a list, not an object"
    assert snapshot.errors[2].message == "'name' holds a list or an object, not a value"
    assert [p.employee_id for p in snapshot.people] == ["E1", "E5", "E6", "E7"]


def test_json_record_lines_follow_the_records(tmp_path: Path) -> None:
    text = """{
  "meta": {"a": [1, 2], "b": "[{"},
  "employees": [
    {"employee_id": "E0", "name": "A\\nB", "status": "active"},
    {
      "employee_id": "E1",
      "name": "C",
      "status": "active"
    },
    {"employee_id": "E2", "name": "D", "status": "unknown"},
    {"employee_id": "E3", "name": "E", "status": "active"}
  ]
}
"""
    snapshot = collect(write(tmp_path, "people.json", text), json_records="employees")
    [error] = snapshot.errors
    assert (error.line, error.record) == (10, "record #3 (employee id E2)")


# --- the whole file is unusable ----------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    assert fatal(path) == f"{path}: no such file"


def test_folder_instead_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.mkdir()
    assert fatal(path, exported_at=None) == f"{path}: is a folder, not an export file"


@pytest.mark.parametrize("content", ["", "\n\n", "\ufeff", "  \r\n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = write(tmp_path, "people.csv", content)
    assert fatal(path) == f"{path}: the file is empty"


@pytest.mark.parametrize(
    "content", ["employee_id,name\n", "employee_id,name", "employee_id,name\n,\n\n"]
)
def test_header_only(tmp_path: Path, content: str) -> None:
    path = write(tmp_path, "people.csv", content)
    assert fatal(path) == f"{path}: has a header but no rows"


def test_truncated_inside_a_quoted_field(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", 'employee_id,name,title\nE1,Ada,CTO\nE2,"Bob\nJones,Eng')
    assert fatal(path) == f"{path}:3: the file ends inside a quoted field: it looks cut off"


def test_unclosed_quote_in_a_large_file(tmp_path: Path) -> None:
    rows = "".join(f"E{i},Person {i},Staff\n" for i in range(20_000))
    path = write(tmp_path, "people.csv", 'employee_id,name,title\nE,"Ada,CTO\n' + rows)
    assert fatal(path) == (
        f"{path}:2: a field longer than 131072 characters starts on this line: "
        "a quote is probably not closed"
    )


def test_truncated_last_line(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id,name,title\nE1,Ada,CTO\nE2,Bo")
    assert fatal(path) == (
        f"{path}:3: the last row has 2 of 3 fields and no line end: the file looks cut off"
    )


def test_last_line_without_line_end_is_fine_when_whole(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id,name,title\nE1,Ada,CTO\nE2,Bob,Eng")
    assert len(collect(path).people) == 2


def test_short_last_line_with_a_line_end_is_a_bad_row(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id,name,title\nE1,Ada,CTO\nE2,Bob,Eng\nE3\n")
    snapshot = collect(path)
    assert [(e.line, e.record) for e in snapshot.errors] == [(4, "E3")]


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


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            '{"employees": [\n  {"employee_id": "1"},\n  {"employee_id": "2",,}\n]}',
            "3:23",
            "Expecting property name enclosed in double quotes",
        ),
        (
            '[\n {"employee_id": "1", "name": "A"}\n {"employee_id": "2"}\n]',
            "3:2",
            "Expecting ',' delimiter",
        ),
        ('[{"employee_id": "1", "name": "A"}]\n]', "2:1", "Extra data"),
        ("{'employees': []}", "1:2", "Expecting property name enclosed in double quotes"),
    ],
)
def test_invalid_json(tmp_path: Path, text: str, where: str, message: str) -> None:
    path = write(tmp_path, "people.json", text)
    assert fatal(path) == f"{path}:{where}: not valid JSON: {message}"


def test_truncated_json(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "people.json",
        '{"employees": [\n  {"employee_id": "1", "name": "A"},\n  {"employee_id": "2", "na',
    )
    message = fatal(path, preset="bamboohr")
    assert message.startswith(f"{path}:3:")
    assert message.endswith("(the file ends early: it looks cut off)")


def test_json_without_the_records_key(tmp_path: Path) -> None:
    path = write(tmp_path, "people.json", json.dumps({"title": "x", "rows": []}))
    assert fatal(path, preset="bamboohr") == (
        f"{path}: no 'employees' list of records in the JSON object (its keys: 'title', "
        "'rows'); set json_records"
    )


def test_json_with_several_lists_needs_json_records(tmp_path: Path) -> None:
    path = write(tmp_path, "people.json", json.dumps({"fields": [], "employees": []}))
    assert fatal(path) == (
        f"{path}: cannot tell which key of the JSON object holds the records (its keys: "
        "'fields', 'employees'); set json_records"
    )


@pytest.mark.parametrize("text", ["[]", '{"Report_Entry": []}'])
def test_json_without_records(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "people.json", text)
    assert fatal(path, preset="workday") == (
        f"{path}: has no employee records (the list of records is empty)"
    )


def test_json_scalar(tmp_path: Path) -> None:
    path = write(tmp_path, "people.json", '"employees"')
    assert fatal(path) == f"{path}: holds a single JSON value, not a list of employee records"


def test_wrong_encoding_names_the_line(tmp_path: Path) -> None:
    content = "employee_id,name\nE1,Ada\nE2,Zoë\n".encode("cp1252")
    path = write(tmp_path, "people.csv", content)
    assert fatal(path) == (
        f'{path}:3: not utf-8-sig text; set encoding (e.g. "cp1252") to the one the export uses'
    )


def test_wrong_encoding_far_into_the_file(tmp_path: Path) -> None:
    rows = "".join(f"E{i},Person {i}\n" for i in range(5000))
    content = ("employee_id,name\n" + rows + "E9,Zoë\n").encode("latin-1")
    path = write(tmp_path, "people.csv", content)
    assert fatal(path).startswith(f"{path}:5002: not utf-8-sig text")


def test_wrong_encoding_in_json(tmp_path: Path) -> None:
    content = '[\n{"employee_id": "1",\n "name": "Zoë"}]'.encode("cp1252")
    path = write(tmp_path, "people.json", content)
    assert fatal(path).startswith(f"{path}:3: not utf-8-sig text")


def test_utf16_export_is_recognised(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id,name\nE1,Ada\n".encode("utf-16"))
    assert fatal(path) == (
        f'{path}:1: not utf-8-sig text; it looks like UTF-16 (Excel "Unicode text"): '
        'set encoding = "utf-16"'
    )


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


def test_long_values_are_cut_in_messages(tmp_path: Path) -> None:
    path = write(
        tmp_path, "people.csv", "employee_id,name,status\nE1,Ada,active\nE2,Bob," + "x" * 500 + "\n"
    )
    [error] = collect(path).errors
    assert len(error.message) < 200
    assert "…" in error.message
