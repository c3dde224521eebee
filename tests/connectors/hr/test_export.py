"""HR export files: CSV delimiters and encodings, JSON records and their lines, and files
that cannot be read as a whole, each a one-line error naming the file and the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.connectors.hr.test_connector import (
    by_id,
    collect,
    fatal,
    write,
)

# --- delimiters and encodings ----------------------------------------------------------------


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


# --- JSON records ----------------------------------------------------------------------------


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


# --- the file is unusable --------------------------------------------------------------------


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


def test_utf16_export_is_recognised(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id,name\nE1,Ada\n".encode("utf-16"))
    assert fatal(path) == (
        f'{path}:1: not utf-8-sig text; it looks like UTF-16 (Excel "Unicode text"): '
        'set encoding = "utf-16"'
    )


# --- the JSON is unusable --------------------------------------------------------------------


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


def test_wrong_encoding_in_json(tmp_path: Path) -> None:
    content = '[\n{"employee_id": "1",\n "name": "Zoë"}]'.encode("cp1252")
    path = write(tmp_path, "people.json", content)
    assert fatal(path).startswith(f"{path}:3: not utf-8-sig text")
