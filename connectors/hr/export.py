"""Reading an HR system's export file, CSV or JSON, into rows of values for the people in it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol

from iam_gov.connectors.hr.history import HistoryField, read_job_history
from iam_gov.connectors.hr.problems import Source, bad_export, show, show_names
from iam_gov.connectors.hr.to_model import People, PeopleBuilder, PeopleOptions
from iam_gov.connectors.shared.csv_file import CsvFile, read_text
from iam_gov.errors import SourceError, location
from iam_gov.gcpause import collector_paused

_JSON_WS = re.compile(r"[ \t\n\r]*")


class ExportOptions(PeopleOptions, Protocol):
    """What reading an export reads of the connector's options, besides what turning its rows
    into people does."""

    @property
    def path(self) -> Path | None: ...
    @property
    def file_format(self) -> Literal["csv", "json"]: ...
    @property
    def encoding(self) -> str: ...
    @property
    def delimiter(self) -> str | None: ...
    @property
    def json_records(self) -> str | None: ...
    @property
    def job_history(self) -> Path | None: ...
    @property
    def job_history_columns(self) -> Mapping[HistoryField, str]: ...


def read_people(options: ExportOptions, as_of: date) -> People:
    """The people in the export file (``options.path``), as of the day it was taken;
    ``SourceError`` when the file cannot be trusted as a whole."""
    path = options.path
    assert path is not None  # the options of an export have one
    return _read(path, None, options.file_format, options, as_of)


def read_downloaded_people(
    text: str,
    source: str,
    file_format: Literal["csv", "json"],
    options: ExportOptions,
    as_of: date,
) -> People:
    """The people in an export downloaded as ``text`` from ``source`` (the address as shown,
    without credentials), read exactly as the same content in a file is: the same columns,
    presets, problems and checks of the whole, only named by the address."""
    return _read(source, text, file_format, options, as_of)


def _read(
    source: Source,
    text: str | None,
    file_format: Literal["csv", "json"],
    options: ExportOptions,
    as_of: date,
) -> People:
    """``text`` is the export's content, or None to read the file ``source``."""
    builder = PeopleBuilder(source, options, as_of)
    with collector_paused():
        if file_format == "json":
            if text is None:
                assert isinstance(source, Path)
                text = read_text(source, options.encoding)
            key = options.json_records or builder.preset.json_records
            record_lines = _read_json(text, source, key, builder)
            _read_job_history(options, builder, as_of)
            return builder.finish(record_lines)
        if text is None:
            assert isinstance(source, Path)
            export = CsvFile.open(source, encoding=options.encoding, delimiter=options.delimiter)
        else:
            export = CsvFile.from_text(text, partial(location, source), delimiter=options.delimiter)
        _read_csv(export, builder)
        _read_job_history(options, builder, as_of)
        return builder.finish()


def _read_job_history(options: ExportOptions, builder: PeopleBuilder, as_of: date) -> None:
    """Each person's latest job change from the job history, when the options name one."""
    path = options.job_history
    if path is None:
        return
    changes = read_job_history(
        path,
        options.preset,
        options.job_history_columns,
        encoding=options.encoding,
        delimiter=options.delimiter,
        parse_date=builder.parse_date,
        expected_dates=builder.expected_dates,
        as_of=as_of,
        problems=builder.problems,
    )
    builder.take_job_changes(changes, path)


# --- CSV ----------------------------------------------------------------------------------


def _read_csv(export: CsvFile, builder: PeopleBuilder) -> None:
    with export:
        id_index = builder.map_columns(export.header).employee_id

        def bad_row(line: int, fields: list[str] | None, problem: str) -> None:
            employee_id = ""
            if fields is not None and id_index < len(fields):
                employee_id = fields[id_index].strip()
            builder.bad_row(line, employee_id, problem)

        add = builder.add
        for row in export.rows(bad_row):
            row.append("")  # the empty field unmapped fields point at
            add(export.line, row)


# --- JSON ---------------------------------------------------------------------------------


def _read_json(
    text: str, path: Source, key: str | None, builder: PeopleBuilder
) -> Callable[[], list[int]]:
    """Add each record of the JSON ``text`` read from ``path``; returns what finds the line
    each record starts on, a second and slower parse that is done only if a record needs
    its line."""
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise bad_export(path, "the file is empty")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        # A string that never ends ran into the end of the file.
        cut = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        raise SourceError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
            + (" (the file ends early: it looks cut off)" if cut else "")
        ) from None
    except RecursionError:
        # Lists or objects nested thousands deep: no export is shaped like that.
        raise bad_export(path, "not an export: its JSON nests too deep to be read") from None
    key, records = _json_records(document, key, path)
    if not records:
        raise bad_export(path, "has no employee records (the list of records is empty)")

    header: dict[str, int] = {}  # column (key as stripped) -> index
    index_of: dict[str, int] = {}  # key as written -> index
    for record in records:
        if isinstance(record, dict):
            for key_name in record:
                if key_name not in index_of:
                    index_of[key_name] = header.setdefault(key_name.strip(), len(header))
    builder.map_columns(list(header), json=True)
    width = len(header)
    add, reject = builder.add, builder.problems.reject
    for ordinal, record in enumerate(records, 1):
        if not isinstance(record, dict):
            message = f"the record is {_json_kind(record)}, not an object"
            reject(None, f"record #{ordinal}", message, ordinal)
            continue
        row = [""] * (width + 1)
        nested: list[int] = []
        for key_name, value in record.items():
            i = index_of[key_name]
            if type(value) is str:
                row[i] = value  # add() strips what it reads
            else:
                row[i] = _json_text(value)
                if isinstance(value, dict | list):
                    nested.append(i)
        add(None, row, nested, ordinal)
    return partial(_json_record_lines, text, key)


def _json_records(document: Any, key: str | None, path: Source) -> tuple[str | None, list[Any]]:
    """The list of records, and the key of the top-level object that holds it (``key``, or
    the only list in it)."""
    if isinstance(document, list):
        return None, document
    if not isinstance(document, dict):
        raise bad_export(path, "holds a single JSON value, not a list of employee records")
    found = show_names(list(document)) or "none"
    if key is None:
        lists = [k for k, v in document.items() if isinstance(v, list)]
        if len(lists) != 1:
            raise bad_export(
                path,
                "cannot tell which key of the JSON object holds the records "
                f"(its keys: {found}); set json_records",
            )
        key = lists[0]
    records = document.get(key)
    if not isinstance(records, list):
        raise bad_export(
            path,
            f"no {show(key)} list of records in the JSON object (its keys: {found}); "
            "set json_records",
        )
    return key, records


def _skip_json_ws(text: str, pos: int) -> int:
    match = _JSON_WS.match(text, pos)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _json_record_lines(text: str, key: str | None) -> list[int]:
    """The line each record of a valid document starts on, read with the C scanner one by
    one; ``key`` names the top-level object's list of records (None: the document is one)."""
    decoder = json.JSONDecoder()
    pos = _skip_json_ws(text, 0)
    if key is not None:
        start = pos
        pos = _skip_json_ws(text, pos + 1)
        while not text.startswith("}", pos):
            name, pos = decoder.raw_decode(text, pos)
            pos = _skip_json_ws(text, _skip_json_ws(text, pos) + 1)  # past the colon
            if name == key:
                start = pos  # the last one wins, as in json.loads
            pos = _past_item(decoder, text, pos)
        pos = start
    lines: list[int] = []
    line, counted = 1 + text.count("\n", 0, pos), pos
    pos = _skip_json_ws(text, pos + 1)
    while not text.startswith("]", pos):
        line += text.count("\n", counted, pos)
        counted = pos
        lines.append(line)
        pos = _past_item(decoder, text, pos)
    return lines


def _past_item(decoder: json.JSONDecoder, text: str, pos: int) -> int:
    """Past the value at ``pos``, and past the comma after it if there is one."""
    _, pos = decoder.raw_decode(text, pos)
    pos = _skip_json_ws(text, pos)
    if text.startswith(",", pos):
        pos = _skip_json_ws(text, pos + 1)
    return pos


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    # Kept whole (as JSON) in attributes; a mapped field holding one is a bad row.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_kind(value: Any) -> str:
    kinds: dict[type, str] = {list: "a list", str: "a string", bool: "true or false"}
    if value is None:
        return "null"
    return kinds.get(type(value), "a number")
