"""Reading a CSV export: delimiters, encodings, rows with the line they start on, and each
problem with the whole input named at file:line, from a file or from text in memory."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iam_gov.connectors.shared.csv_file import (
    DELIMITERS,
    BadCsv,
    BadRow,
    CsvFile,
    not_in_encoding,
    read_text,
)
from iam_gov.errors import SourceError, location


def write(tmp_path: Path, content: str | bytes, name: str = "export.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def read(
    path: Path, bad_row: BadRow | None = None, **options: str
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header, and each row with the line it starts on; bad rows are fatal by default."""
    with CsvFile.open(path, **options) as export:
        return export.header, [(export.line, row) for row in export.rows(bad_row)]


def ignore(line: int, fields: list[str] | None, problem: str) -> None:
    pass


def where(line: int | None) -> str:
    return "report" if line is None else f"report line {line}"


def from_text(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    export = CsvFile.from_text(text, where)
    return export.header, [(export.line, row) for row in export.rows()]


def failure(path: Path, bad_row: BadRow | None = None, **options: str) -> BadCsv:
    with pytest.raises(BadCsv) as caught:
        read(path, bad_row, **options)
    assert isinstance(caught.value, SourceError)
    assert str(caught.value) == f"{location(path, caught.value.line)}: {caught.value.message}"
    return caught.value


# --- delimiters, encodings, lines ----------------------------------------------------------


@pytest.mark.parametrize("delimiter", DELIMITERS)
def test_the_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    others = "".join(d for d in DELIMITERS if d != delimiter)
    text = delimiter.join(["id", "name", "note"]) + "\n"
    text += delimiter.join(["1", f'"Smith{delimiter} John"', f"a{others}b"]) + "\n"
    with CsvFile.open(write(tmp_path, text)) as export:
        assert export.delimiter == delimiter
        assert [export.header, *export.rows()] == [
            ["id", "name", "note"],
            ["1", f"Smith{delimiter} John", f"a{others}b"],
        ]


def test_the_delimiter_given_is_used(tmp_path: Path) -> None:
    header, rows = read(write(tmp_path, "id:name,first\n1:Ada,L\n"), delimiter=":")
    assert (header, rows) == (["id", "name,first"], [(2, ["1", "Ada,L"])])


def test_bom_blank_rows_and_header_spacing(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeff\r\n id , name\r\n\r\n1,Ada\r\n,\r\n2,Bob")
    assert read(path) == (["id", "name"], [(4, ["1", "Ada"]), (6, ["2", "Bob"])])


def test_quoted_line_ends_keep_the_line_each_row_starts_on(tmp_path: Path) -> None:
    text = (
        'id,name,note\n1,"Ada\nLovelace","a\r\nb"\n2,"Bob ""the builder""",x\n3,Cy,"\n\n"\n4,Di,\n'
    )
    assert read(write(tmp_path, text)) == (
        ["id", "name", "note"],
        [
            (2, ["1", "Ada\nLovelace", "a\r\nb"]),
            (5, ["2", 'Bob "the builder"', "x"]),
            (6, ["3", "Cy", "\n\n"]),
            (9, ["4", "Di", ""]),
        ],
    )


def test_other_encodings(tmp_path: Path) -> None:
    path = write(tmp_path, "id;name\n1;Zoë Ñúñez\n".encode("cp1252"))
    assert read(path, encoding="cp1252")[1] == [(2, ["1", "Zoë Ñúñez"])]
    path = write(tmp_path, "id\tname\n1\t李小龙\n".encode("utf-16"), "utf16.csv")
    assert read(path, encoding="utf-16")[1] == [(2, ["1", "李小龙"])]


def test_a_trailing_delimiter_is_not_a_field(tmp_path: Path) -> None:
    assert read(write(tmp_path, "id,name\n1,Ada,\n2,Bob,,\n"))[1] == [
        (2, ["1", "Ada"]),
        (3, ["2", "Bob"]),
    ]


# --- bad rows: the caller decides ----------------------------------------------------------


def test_bad_rows_go_to_the_caller_with_their_line_and_fields(tmp_path: Path) -> None:
    path = write(tmp_path, 'id,name\n1,Ada\n2\n3,"Cy" Young\n4,Di,extra\n5,Ed\n')
    bad: list[tuple[int, list[str] | None, str]] = []
    with CsvFile.open(path) as export:
        rows = [row[0] for row in export.rows(lambda *problem: bad.append(problem))]
    assert rows == ["1", "5"]
    assert bad == [
        (3, ["2"], "has 1 fields, the header has 2"),
        (4, None, "not valid CSV (',' expected after '\"')"),
        (5, ["4", "Di", "extra"], "has 3 fields, the header has 2"),
    ]


def test_a_bad_row_is_fatal_unless_the_caller_says_otherwise(tmp_path: Path) -> None:
    problem = failure(write(tmp_path, "id,name\n1,Ada\n2,Bob,x\n"))
    assert (problem.line, problem.message) == (3, "has 3 fields, the header has 2")


# --- the whole input is unusable -------------------------------------------------------------


@pytest.mark.parametrize("content", ["", "\n\n", "\ufeff", "  \r\n", ",,\n,\n"])
def test_empty(tmp_path: Path, content: str) -> None:
    problem = failure(write(tmp_path, content))
    assert (problem.line, problem.message) == (None, "the file is empty")


def test_missing_file_and_folder(tmp_path: Path) -> None:
    assert failure(tmp_path / "nope.csv").message == "no such file"
    assert failure(tmp_path).message == "is a folder, not an export file"


def test_the_header_is_not_csv(tmp_path: Path) -> None:
    problem = failure(write(tmp_path, '\nid,"name"x\n1,Ada\n'))
    assert (problem.line, problem.message) == (
        2,
        "the header is not valid CSV (',' expected after '\"')",
    )


@pytest.mark.parametrize(
    "content", ['id,name\n1,"Ada\nLovelace', 'id,"na\nme', 'id,name\n1,Ada\n2,"Bob\n']
)
def test_cut_off_inside_a_quoted_field(tmp_path: Path, content: str) -> None:
    problem = failure(write(tmp_path, content))
    assert problem.message == "the file ends inside a quoted field: it looks cut off"
    assert problem.line == content.count("\n", 0, content.rindex('"')) + 1


def test_an_unclosed_quote_runs_into_the_field_size_limit(tmp_path: Path) -> None:
    rows = "".join(f"{i},Person {i}\n" for i in range(12_000))
    problem = failure(write(tmp_path, 'id,name\n1,"Ada\n' + rows))
    assert (problem.line, problem.message) == (
        2,
        f"a field longer than {csv.field_size_limit()} characters starts on this line: "
        "a quote is probably not closed",
    )


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "cp1252"])
def test_a_short_last_row_without_a_line_end_is_cut_off(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path, "id,name,title\n1,Ada,CTO\n2,Bo".encode(encoding))
    problem = failure(path, ignore, encoding=encoding)
    assert (problem.line, problem.message) == (
        3,
        "the last row has 2 of 3 fields and no line end: the file looks cut off",
    )
    # With a line end, or with all its fields, the last row is whole.
    for content in ("id,name,title\n1,Ada,CTO\n2,Bob,Eng", "id,name,title\n1,Ada,CTO\n"):
        assert len(read(write(tmp_path, content.encode(encoding)), encoding=encoding)[1]) >= 1


def test_a_short_last_row_with_a_line_end_is_only_a_bad_row(tmp_path: Path) -> None:
    bad: list[int] = []
    with CsvFile.open(write(tmp_path, "id,name\n1,Ada\n2\r\n")) as export:
        assert len(list(export.rows(lambda line, fields, problem: bad.append(line)))) == 1
    assert bad == [3]


def test_not_in_the_encoding_names_the_first_bad_line(tmp_path: Path) -> None:
    rows = "".join(f"{i},Person {i}\n" for i in range(5000))
    path = write(tmp_path, ("id,name\n" + rows + "9,Zoë\n").encode("latin-1"))
    problem = failure(path)
    assert (problem.line, problem.message) == (
        5002,
        'not utf-8-sig text; set encoding (e.g. "cp1252") to the one the export uses',
    )
    # Within the sample the delimiter is sniffed from, too.
    assert failure(write(tmp_path, "id,name\n1,Zoë\n".encode("cp1252"))).line == 2


def test_utf16_is_recognised(tmp_path: Path) -> None:
    problem = failure(write(tmp_path, "id,name\n1,Ada\n".encode("utf-16")))
    assert (problem.line, problem.message) == (
        1,
        'not utf-8-sig text; it looks like UTF-16 (Excel "Unicode text"): set encoding = "utf-16"',
    )
    head = "x".encode("utf-16")
    assert "set encoding =" not in not_in_encoding(Path("x"), "utf-16-le", head, 1).message


def test_read_text_says_the_same(tmp_path: Path) -> None:
    assert read_text(write(tmp_path, "[1]".encode("utf-8-sig"))) == "[1]"
    assert read_text(write(tmp_path, "[1]".encode("utf-16")), "utf-16") == "[1]"
    with pytest.raises(BadCsv, match=r"^.*export.csv: the file is empty$"):
        read_text(write(tmp_path, " \n"))
    with pytest.raises(BadCsv, match=r"export.csv:1: not utf-8-sig text; it looks like UTF-16"):
        read_text(write(tmp_path, "[\n1]".encode("utf-16")))
    with pytest.raises(BadCsv, match=r"export.csv:2: not utf-8-sig text; set encoding \(e.g."):
        read_text(write(tmp_path, '[\n"Z\u00fc"]'.encode("latin-1")))
    with pytest.raises(BadCsv, match=r"nope.json: no such file$"):
        read_text(tmp_path / "nope.json")


# --- text in memory ------------------------------------------------------------------------


def test_text_in_memory_is_read_the_same() -> None:
    text = '\ufeffuser,arn\r\nzoe,"arn:a\r\nb"\r\n\r\nroot,arn:r,\r\n'
    assert from_text(text) == (
        ["user", "arn"],
        [(2, ["zoe", "arn:a\r\nb"]), (5, ["root", "arn:r"])],
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "report: the file is empty"),
        ('user,"arn\n', "report line 1: the file ends inside a quoted field: it looks cut off"),
        ("user,arn\nzoe,a\nroot", "report line 3: has 1 fields, the header has 2"),
    ],
)
def test_text_in_memory_names_lines_with_where(text: str, message: str) -> None:
    with pytest.raises(BadCsv) as caught:
        from_text(text)
    assert str(caught.value) == message


def test_a_short_last_line_of_text_without_a_line_end_is_cut_off() -> None:
    export = CsvFile.from_text("user,arn,key\nzoe,a,b\nroot,c", where)
    with pytest.raises(BadCsv, match="^report line 3: the last row has 2 of 3 fields"):
        list(export.rows(ignore))


def test_the_caller_checks_the_header_with_fail() -> None:
    export = CsvFile.from_text("\n\nuser,arn\nzoe,a\n", where)
    with pytest.raises(BadCsv, match="^report line 3: not a credential report header$"):
        export.fail("not a credential report header", export.line)


# --- any table written by a CSV writer reads back ------------------------------------------

values = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
tables = st.integers(1, 4).flatmap(
    lambda width: st.lists(st.lists(values, min_size=width, max_size=width), max_size=12)
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=tables,
    delimiter=st.sampled_from(DELIMITERS),
    line_end=st.sampled_from(["\n", "\r\n"]),
    final_line_end=st.booleans(),
    in_memory=st.booleans(),
)
def test_any_table_reads_back_with_the_lines_its_rows_start_on(
    tmp_path: Path,
    table: list[list[str]],
    delimiter: str,
    line_end: str,
    final_line_end: bool,
    in_memory: bool,
) -> None:
    header = [f"column {i}" for i in range(len(table[0]) if table else 2)]
    # The writer quotes only fields holding characters of its own line end, \r\n; a bare \r
    # is a line end to the reader too. Each record then gets line_end.
    records = []
    for record in [header, *table]:
        buffer = io.StringIO(newline="")
        csv.writer(buffer, delimiter=delimiter).writerow(record)
        records.append(buffer.getvalue().removesuffix("\r\n"))
    text = line_end.join(records) + (line_end if final_line_end else "")
    starts = []
    for i in range(1, len(records)):
        before = line_end.join(records[:i]) + line_end
        starts.append(len(io.StringIO(before, newline="").readlines()) + 1)

    # A row with no value is a blank line to a reader.
    expected = [(start, row) for start, row in zip(starts, table, strict=True) if any(row)]
    if in_memory:
        export = CsvFile.from_text(text, where, delimiter=delimiter)
        got = (export.header, [(export.line, row) for row in export.rows()])
    else:
        got = read(write(tmp_path, text), delimiter=delimiter)
    assert got == (header, expected)
