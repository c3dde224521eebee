"""HR feed connector: reads an HR system's CSV or JSON export into the people who work here.

The HR export is the source of truth for who works here, so this connector is strict about
the file as a whole and forgiving about single rows:

* a file that cannot be trusted as a whole (missing, empty, header only, cut off, not valid
  JSON, in another encoding, a required column missing, most rows bad, fewer people than
  ``min_people``) raises :class:`~iam_gov.errors.SourceError` with one line naming the file
  and, where known, the line;
* a bad row (no employee id, a duplicate id, a bad date, e-mail, status or employment type,
  the wrong number of fields) is left out and reported with its physical line number, and
  the snapshot is marked incomplete so that nobody's accounts look orphaned because their
  row could not be read.

Which columns mean what is set by a preset (see :mod:`iam_gov.connectors.hr.presets` for the
``generic``, ``bamboohr`` and ``workday`` mappings) and can be overridden per field with
``columns``. Every column that is not mapped is kept in ``Person.attributes`` so that roles can
match on any HR field. Example (``iam-gov.toml``)::

    [systems.hr]
    type = "hr"
    path = "exports/bamboohr-employees.csv"
    preset = "bamboohr"
    columns = { department = "Division" }
    status_values = { "garden leave" = "leave" }
"""

from __future__ import annotations

import codecs
import csv
import gc
import json
import operator
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, NoReturn

from pydantic import Field, ValidationError, field_validator, model_validator

from iam_gov.configtypes import RelPath
from iam_gov.connectors.hr.presets import (
    MAPPABLE_FIELDS,
    PRESETS,
    MappableField,
    Preset,
    PresetName,
    value_key,
)
from iam_gov.connectors.shared.protocol import Connector, ConnectorOptions, Permissions
from iam_gov.connectors.shared.registry import connector
from iam_gov.errors import SourceError
from iam_gov.model import (
    EmploymentStatus,
    EmploymentType,
    Person,
    SnapshotError,
    SystemSnapshot,
    UTCDateTime,
)

FileFormat = Literal["csv", "json"]

_FORMAT_BY_SUFFIX: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".json": "json",
}
_SNIFF_DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_CHARS = 64 * 1024
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_ISO_DATE_WITH_OFFSET = re.compile(r"(\d{4}-\d{2}-\d{2})(?:Z|[+-]\d{2}:?\d{2})")
_NO_DATE = frozenset({"0000-00-00", "00/00/0000"})
_HEADER_KEY = re.compile(r"[\s_\-]+")
_JSON_WS = re.compile(r"[ \t\n\r]*")
_ROW_FIELDS: tuple[MappableField, ...] = MAPPABLE_FIELDS
"""The order in which ``_Reader.add`` unpacks a row's mapped fields."""
_ACTIVE, _TERMINATED = EmploymentStatus.ACTIVE, EmploymentStatus.TERMINATED
_EMPLOYEE = EmploymentType.EMPLOYEE
# Person's own validator, called without BaseModel.__init__ in between: the same validation,
# a quarter less time per person, which counts at 100,000 rows.
_new_person = Person.__pydantic_validator__.validate_python
_MAX_SHOWN = 60
"""Longest piece of file content quoted in a message; the rest is cut."""


class HROptions(ConnectorOptions):
    """Where the HR export is and how to read it."""

    type: Literal["hr"]
    path: RelPath
    format: FileFormat | None = None
    """Default: from the file extension (.csv, .tsv, .txt or .json)."""
    preset: PresetName = "generic"
    columns: dict[MappableField, str] = Field(default_factory=dict)
    """Person field -> column (CSV) or key (JSON); overrides the preset. ``""`` unmaps a field."""
    status_values: dict[str, Literal["active", "leave", "terminated"]] = Field(default_factory=dict)
    """Export value -> status, merged over the preset's; case and spacing do not matter."""
    employment_type_values: dict[str, Literal["employee", "contractor", "intern", "other"]] = Field(
        default_factory=dict
    )
    date_format: str | None = None
    """strptime format, tried after ISO 8601 instead of the preset's formats."""
    delimiter: str | None = None
    """CSV delimiter; default: whichever of , ; tab | splits the file consistently."""
    encoding: str = "utf-8-sig"
    json_records: str | None = None
    """Key of the top-level JSON object holding the records; default: the preset's."""
    exported_at: UTCDateTime | None = None
    """When the export was taken; default: the file's modification time."""
    min_people: int = Field(default=1, ge=0)
    """Fewer valid people than this is an error: it guards against a half-empty export."""

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and (len(value) != 1 or value in '"\r\n'):
            raise ValueError('a delimiter is one character, e.g. ";" or "\\t"')
        return value

    @field_validator("date_format")
    @classmethod
    def _strptime_format(cls, value: str | None) -> str | None:
        if value is not None and "%" not in value:
            raise ValueError('a strptime format, e.g. "%d/%m/%Y"')
        return value

    @model_validator(mode="after")
    def _format_known(self) -> HROptions:
        if self.format is None and self.path.suffix.lower() not in _FORMAT_BY_SUFFIX:
            raise ValueError(
                f"cannot tell the format of {self.path.name!r} from its extension: "
                'set format = "csv" or "json" (save spreadsheets as CSV)'
            )
        return self

    @property
    def file_format(self) -> FileFormat:
        return self.format or _FORMAT_BY_SUFFIX[self.path.suffix.lower()]


@connector
class HRConnector(Connector[HROptions]):
    """Reads the HR export; people only, and no actions: HR is read, never written."""

    options_model: ClassVar[type[ConnectorOptions]] = HROptions
    permissions: ClassVar[Permissions] = Permissions(collect=("read access to the HR export file",))

    def collect(self) -> SystemSnapshot:
        options = self.options
        path = options.path
        collected_at = options.exported_at or _modified_at(path)
        reader = _Reader(path, options, as_of=collected_at.date())
        # Creating 100,000 people would set off full garbage collections over all of them
        # again and again (a third of the run); nothing built here forms reference cycles.
        collecting = gc.isenabled()
        gc.disable()
        try:
            if options.file_format == "json":
                reader.read_json()
            else:
                reader.read_csv()
            people, errors = reader.finish()
        finally:
            if collecting:
                gc.enable()
        return SystemSnapshot(
            system=self.system,
            connector=self.type_name,
            source=f"export:{path.name}",
            collected_at=collected_at,
            complete=reader.bad_rows == 0,
            errors=tuple(errors),
            people=tuple(people),
        )


@dataclass(slots=True)
class _Problem:
    line: int | None
    ordinal: int | None
    """The record's number in a JSON export, whose line is found only when needed."""
    record: str | None
    message: str


class _Reader:
    """One read of one export: the column mapping, the rows seen so far, and the problems."""

    def __init__(self, path: Path, options: HROptions, as_of: date) -> None:
        self.path = path
        self.display = str(path)
        self.options = options
        self.as_of = as_of
        preset: Preset = PRESETS[options.preset]
        self.preset = preset
        self.status_values = {
            **preset.status_values,
            **{value_key(k): EmploymentStatus(v) for k, v in options.status_values.items()},
        }
        self.type_values = {
            **preset.employment_type_values,
            **{value_key(k): EmploymentType(v) for k, v in options.employment_type_values.items()},
        }
        # ISO 8601 is always tried first: it is unambiguous, so accepting it costs nothing.
        self.date_formats = (options.date_format,) if options.date_format else preset.date_formats
        # Values as written -> parsed; an export repeats the same few spellings and dates.
        self._dates: dict[str, date | None] = {}
        self._status_as_written: dict[str, EmploymentStatus] = {}
        self._type_as_written: dict[str, EmploymentType] = {}

        self.columns: dict[MappableField, str] = {}
        self.people: list[Person] = []
        self.problems: list[_Problem] = []
        self.rows = 0
        self.bad_rows = 0
        self._first_bad: _Problem | None = None
        self._json_source: tuple[str, str | None] | None = None
        # Every employee id, e-mail and system id met, bad rows included: a manager whose
        # own row is bad is still in the file, and a later row with the same id is a duplicate.
        # Ids map to where they were first met: a line (CSV) or a record number (JSON).
        self._ids: dict[str, int | None] = {}
        self._ref_emails: dict[str, str] = {}
        self._ref_system_ids: dict[str, str] = {}
        # (index of the person, how the manager is named, the name, line, label, record number)
        self._managers: list[tuple[int, MappableField, str, int | None, str, int | None]] = []
        self._mapped: frozenset[str] = frozenset()
        self._bind_columns([])

    # --- problems -------------------------------------------------------------------------

    def fatal(self, message: str, line: int | None = None) -> NoReturn:
        where = self.display if line is None else f"{self.display}:{line}"
        raise SourceError(f"{where}: {message}")

    def reject(
        self, line: int | None, record: str, message: str, ordinal: int | None = None
    ) -> None:
        """A row that is left out: the snapshot is then incomplete."""
        self.rows += 1
        self.bad_rows += 1
        problem = _Problem(line, ordinal, record or None, message)
        self._first_bad = self._first_bad or problem
        self.problems.append(problem)

    def note(self, line: int | None, record: str, message: str, ordinal: int | None = None) -> None:
        """A problem that leaves every person in: the snapshot stays complete."""
        self.problems.append(_Problem(line, ordinal, record or None, message))

    # --- columns --------------------------------------------------------------------------

    def map_columns(self, header: list[str]) -> None:
        exact = {name for name in header if name}
        loose: dict[str, str] = {}
        for name in header:
            if name:
                loose.setdefault(_header_key(name), name)

        def find(column: str) -> str | None:
            return column if column in exact else loose.get(_header_key(column))

        overrides = self.options.columns
        for field in MAPPABLE_FIELDS:
            if field in overrides:
                wanted = overrides[field].strip()
                if not wanted:
                    continue
                found = find(wanted)
                if found is None:
                    self.fatal(
                        f"column {_show(wanted)} (columns.{field}) is missing; "
                        f"{self._found(header)}"
                    )
            else:
                found = next((f for f in map(find, self.preset.columns.get(field, ())) if f), None)
            if found is not None:
                self.columns[field] = found

        if "employee_id" not in self.columns:
            self._missing("employee_id", header)
        if not (
            {"name", "preferred_name"} & self.columns.keys()
            or {"first_name", "last_name"} <= self.columns.keys()
        ):
            self._missing("name", header)
        mapped = set(self.columns.values())
        for name in mapped:
            if header.count(name) > 1:
                self.fatal(f"column {_show(name)} appears more than once in the header")
        self._mapped = frozenset(mapped)
        self._bind_columns(header)

    def _missing(self, field: MappableField, header: list[str]) -> NoReturn:
        if field == "name":
            names = [*self._candidates("name"), *self._candidates("preferred_name")]
            first, last = self._candidates("first_name"), self._candidates("last_name")
            ways = [_or(names)] if names else []
            if first and last:
                ways.append(f"{_or(first)} with {_or(last)}")
            wanted = f"a name column ({'; or '.join(ways)})"
        else:
            wanted = f"the {field.replace('_', ' ')} column ({_or(self._candidates(field))})"
        hint = ""
        if len(header) == 1 and any(d in header[0] for d in _SNIFF_DELIMITERS):
            hint = " (is the delimiter right?)"
        self.fatal(f"{wanted} is missing; {self._found(header)}{hint}")

    def _candidates(self, field: MappableField) -> tuple[str, ...]:
        if field in self.options.columns:
            return (self.options.columns[field],) if self.options.columns[field] else ()
        return self.preset.columns.get(field, ())

    def _found(self, header: list[str]) -> str:
        names = [_show(h) for h in header if h]
        shown = ", ".join(names[:30]) + (f" and {len(names) - 30} more" if len(names) > 30 else "")
        if self.options.file_format == "json":
            return f"the records have the keys {shown or '(none)'}"
        return f"the header has {shown or 'no columns'}"

    def _bind_columns(self, header: list[str]) -> None:
        width = len(header)
        # Rows get one extra empty field at index ``width``: unmapped fields point at it, so
        # that one itemgetter call picks every field of a row.
        first_index: dict[str, int] = {}
        for i, name in enumerate(header):
            if name:
                first_index.setdefault(name, i)
        self.width = width
        self._indices = {field: first_index[name] for field, name in self.columns.items()}
        self._pick = operator.itemgetter(*(self._indices.get(f, width) for f in _ROW_FIELDS))
        self._attribute_columns = [
            (i, name) for name, i in first_index.items() if name not in self._mapped
        ]
        self._mapped_indices = {i: header[i] for i in self._indices.values()}
        self._has_status = "status" in self.columns
        self._has_type = "employment_type" in self.columns
        self._has_system_ids = "system_id" in self.columns

    # --- rows -----------------------------------------------------------------------------

    def add(
        self,
        line: int | None,
        row: list[str],
        nested: Collection[int] = (),
        ordinal: int | None = None,
    ) -> None:
        """One record: ``row`` holds a value for each column, then one empty string."""
        (
            employee_id,
            email,
            name,
            first_name,
            last_name,
            preferred_name,
            department,
            title,
            manager_id,
            manager_email,
            manager_system_id,
            system_id,
            employment_type_raw,
            status_raw,
            start_raw,
            end_raw,
        ) = map(str.strip, self._pick(row))
        label = employee_id if ordinal is None else _label(employee_id, ordinal)
        if not employee_id:
            self.reject(line, label, "the employee id is empty", ordinal)
            return
        if employee_id in self._ids:
            first = self._ids[employee_id]
            where = f"in record #{first}" if ordinal is not None else f"on line {first}"
            message = f"employee id {_show(employee_id)} already appears {where}"
            self.reject(line, label, message, ordinal)
            return
        # Remembered before the row is checked: a manager whose own row is bad is still
        # someone in the file.
        self._ids[employee_id] = line if ordinal is None else ordinal
        shares_email = ""
        if email:
            shares_email = self._ref_emails.setdefault(email.casefold(), employee_id)
        if system_id:
            self._ref_system_ids.setdefault(system_id, employee_id)

        problems: list[str] = []
        for i in nested:
            if i in self._mapped_indices:
                column = self._mapped_indices[i]
                problems.append(f"{_show(column)} holds a list or an object, not a value")
        # Both parts are stripped, so this is the non-empty ones joined by one space.
        name = preferred_name or name or f"{first_name} {last_name}".strip()
        if not name:
            problems.append("the name is empty")
        if email and not _EMAIL.fullmatch(email):
            problems.append(f"e-mail address {_show(email)} is not valid")
        # The caches are looked up here, not in the methods: this runs once per row.
        status = _ACTIVE
        if self._has_status:
            status = self._status_as_written.get(status_raw) or self._status(status_raw, problems)
        employment_type = _EMPLOYEE
        if self._has_type:
            employment_type = self._type_as_written.get(
                employment_type_raw
            ) or self._employment_type(employment_type_raw, problems)
        dates = self._dates
        start_date = end_date = None
        if start_raw:
            if start_raw in dates:
                start_date = dates[start_raw]
            else:
                start_date = self._date(start_raw, "start date", problems)
        if end_raw:
            end_date = (
                dates[end_raw] if end_raw in dates else self._date(end_raw, "end date", problems)
            )
        if problems:
            self.reject(line, label, "; ".join(problems), ordinal)
            return

        attributes = {name: v for i, name in self._attribute_columns if (v := row[i].strip())}
        # HR exports often lag: a leaver stays "Active" until someone updates the record.
        # A past end date is the stronger signal, and it is recorded as the reason.
        if end_date is not None and end_date <= self.as_of and status is not _TERMINATED:
            status = _TERMINATED
            attributes["status_derived_from"] = "end_date"
        try:
            person: Person = _new_person(
                {
                    "employee_id": employee_id,
                    "email": email or None,
                    "name": name,
                    "department": department or None,
                    "title": title or None,
                    "manager_id": manager_id or None,
                    "employment_type": employment_type,
                    "status": status,
                    "start_date": start_date,
                    "end_date": end_date,
                    "attributes": attributes,
                }
            )
        except ValidationError as exc:  # pragma: no cover - every field is checked above
            fields = ", ".join(str(e["loc"][0]) for e in exc.errors(include_input=False))
            self.reject(line, label, f"not a valid person ({fields})", ordinal)
            return

        self.rows += 1
        index = len(self.people)
        self.people.append(person)
        if shares_email and shares_email != employee_id:
            message = f"e-mail {_show(email)} is also employee {_show(shares_email)}'s"
            self.note(line, label, message, ordinal)
        if manager_id:
            self._managers.append((index, "manager_id", manager_id, line, label, ordinal))
        elif manager_email:
            self._managers.append((index, "manager_email", manager_email, line, label, ordinal))
        elif manager_system_id:
            self._managers.append(
                (index, "manager_system_id", manager_system_id, line, label, ordinal)
            )

    def _status(self, raw: str, problems: list[str]) -> EmploymentStatus:
        found = self.status_values.get(value_key(raw))
        if found is None:
            problems.append(self._unknown("status", raw, self.status_values, "status_values"))
            return _ACTIVE
        self._status_as_written[raw] = found
        return found

    def _employment_type(self, raw: str, problems: list[str]) -> EmploymentType:
        if not raw:
            # "HR did not say": OTHER, so that no role meant for employees or contractors
            # matches by accident.
            return EmploymentType.OTHER
        found = self.type_values.get(value_key(raw))
        if found is None:
            problems.append(
                self._unknown("employment type", raw, self.type_values, "employment_type_values")
            )
            return _EMPLOYEE
        self._type_as_written[raw] = found
        return found

    def _unknown(self, what: str, raw: str, known: Mapping[str, Any], option: str) -> str:
        if not raw:
            return f"the {what} is empty"
        return f"{what} {_show(raw)} is not one of {', '.join(sorted(known))}; map it with {option}"

    def _date(self, raw: str, what: str, problems: list[str]) -> date | None:
        try:
            parsed = _parse_date(raw, self.date_formats)
        except ValueError:
            expected = ", ".join(["YYYY-MM-DD", *map(_format_example, self.date_formats)])
            problems.append(f"{what} {_show(raw)} is not a date (expected {expected})")
            return None
        self._dates[raw] = parsed
        return parsed

    # --- the whole file -------------------------------------------------------------------

    def finish(self) -> tuple[list[Person], list[SnapshotError]]:
        if self.rows == 0:
            self.fatal("has a header but no rows")
        self._resolve_managers()
        if self._json_source is not None and self.problems:
            lines = _json_record_lines(*self._json_source)
            for problem in self.problems:
                if problem.ordinal is not None:
                    problem.line = lines[problem.ordinal - 1]
        if self.bad_rows * 2 > self.rows:
            first = self._first_bad
            assert first is not None
            where = f"line {first.line}" if first.line is not None else first.record
            self.fatal(
                f"{self.bad_rows} of {self.rows} rows are bad, so the export is probably not "
                f"in the expected format (check preset, columns and delimiter); first, "
                f"{where}: {first.message}"
            )
        if len(self.people) < self.options.min_people:
            self.fatal(
                f"only {len(self.people)} valid people, fewer than min_people "
                f"({self.options.min_people}); is the export complete?"
            )
        errors = [
            SnapshotError(source=self.display, line=p.line, record=p.record, message=p.message)
            for p in self.problems
        ]
        return self.people, errors

    def _resolve_managers(self) -> None:
        # An unknown manager is reported but leaves the snapshot complete: the person is
        # there, only their reporting line is unknown. Calling the snapshot incomplete would
        # block every deprovisioning run because of one stale manager reference.
        has_system_ids = self._has_system_ids
        for index, kind, value, line, label, ordinal in self._managers:
            person = self.people[index]
            if kind == "manager_id":
                target: str | None = value if value in self._ids else None
                what = "manager id"
            elif kind == "manager_email":
                target = self._ref_emails.get(value.casefold())
                what = "manager e-mail"
            elif has_system_ids:
                target = self._ref_system_ids.get(value)
                what = self.columns["manager_system_id"]
            else:
                # Without the system's internal ids in the export, the reference can only be
                # read as an employee id.
                target = value if value in self._ids else None
                what = self.columns["manager_system_id"]
            if target is None:
                self.note(line, label, f"{what} {_show(value)} names nobody in the file", ordinal)
            elif target != person.manager_id:
                self.people[index] = person.model_copy(update={"manager_id": target})

    # --- CSV ------------------------------------------------------------------------------

    def read_csv(self) -> None:
        encoding = self.options.encoding
        try:
            with self.path.open(encoding=encoding, newline="") as file:
                self._read_csv_rows(file)
        except UnicodeDecodeError:
            self._not_in_encoding(None)
        except OSError as exc:
            self._unreadable(exc)

    def _read_csv_rows(self, file: Any) -> None:
        sample: str = file.read(_SAMPLE_CHARS)
        if not sample.strip():
            self.fatal("the file is empty")
        delimiter = self.options.delimiter or _sniff_delimiter(
            sample, whole_file=len(sample) < _SAMPLE_CHARS
        )
        file.seek(0)
        reader = csv.reader(file, delimiter=delimiter, strict=True)
        header: list[str] | None = None
        width = 0
        id_index = 0
        last_start = 0
        last_fields = 0
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                if "unexpected end of data" in str(exc):
                    self.fatal("the file ends inside a quoted field: it looks cut off", start)
                if "field larger than field limit" in str(exc):
                    # Reading on would start in the middle of that field.
                    self.fatal(
                        f"a field longer than {csv.field_size_limit()} characters starts on "
                        "this line: a quote is probably not closed",
                        start,
                    )
                if header is None:
                    self.fatal(f"the header is not valid CSV ({exc})", start)
                self.reject(start, "", f"not valid CSV ({exc})")
                last_start, last_fields = start, width
                continue
            if not any(row):
                continue
            if header is None:
                header = [name.strip() for name in row]
                self.map_columns(header)
                width = len(header)
                id_index = self._indices["employee_id"]
                continue
            last_start, last_fields = start, len(row)
            if len(row) != width:
                # Extra fields that are all empty are a trailing delimiter, not a shifted row.
                if len(row) < width or any(row[width:]):
                    employee_id = row[id_index].strip() if id_index < len(row) else ""
                    if employee_id:
                        self._ids.setdefault(employee_id, start)
                    message = f"has {len(row)} fields, the header has {width}"
                    self.reject(start, employee_id, message)
                    continue
                del row[width:]
            row.append("")
            self.add(start, row)
        if header is None:
            self.fatal("the file is empty")
        if (
            last_start
            and last_fields < width
            and not _ends_with_line_end(self.path, self.options.encoding)
        ):
            self.fatal(
                f"the last row has {last_fields} of {width} fields and no line end: "
                "the file looks cut off",
                last_start,
            )

    # --- JSON -----------------------------------------------------------------------------

    def read_json(self) -> None:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            self._unreadable(exc)
        if not data.strip():
            self.fatal("the file is empty")
        try:
            text = data.decode(self.options.encoding)
        except UnicodeDecodeError as exc:
            self._not_in_encoding(data.count(b"\n", 0, exc.start) + 1, data)
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            # A string that never ends ran into the end of the file.
            cut = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
            raise SourceError(
                f"{self.display}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
                + (" (the file ends early: it looks cut off)" if cut else "")
            ) from None
        key, records = self._json_records(document)
        if not records:
            self.fatal("has no employee records (the list of records is empty)")
        # Line numbers cost a second, slower parse: it is done only if a record needs one.
        self._json_source = (text, key)

        header: dict[str, int] = {}  # column (key as stripped) -> index
        index_of: dict[str, int] = {}  # key as written -> index
        for record in records:
            if isinstance(record, dict):
                for key_name in record:
                    if key_name not in index_of:
                        index_of[key_name] = header.setdefault(key_name.strip(), len(header))
        self.map_columns(list(header))
        width = len(header)
        for ordinal, record in enumerate(records, 1):
            if not isinstance(record, dict):
                kind = _json_kind(record)
                message = f"the record is {kind}, not an object"
                self.reject(None, f"record #{ordinal}", message, ordinal)
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
            self.add(None, row, nested, ordinal)

    def _json_records(self, document: Any) -> tuple[str | None, list[Any]]:
        """The list of records, and the key of the top-level object that holds it."""
        if isinstance(document, list):
            return None, document
        if not isinstance(document, dict):
            self.fatal("holds a single JSON value, not a list of employee records")
        key = self.options.json_records or self.preset.json_records
        found = ", ".join(_show(k) for k in document) or "none"
        if key is None:
            lists = [k for k, v in document.items() if isinstance(v, list)]
            if len(lists) != 1:
                self.fatal(
                    "cannot tell which key of the JSON object holds the records "
                    f"(its keys: {found}); set json_records"
                )
            key = lists[0]
        records = document.get(key)
        if not isinstance(records, list):
            self.fatal(
                f"no {_show(key)} list of records in the JSON object (its keys: {found}); "
                "set json_records"
            )
        return key, records

    # --- file-level failures --------------------------------------------------------------

    def _unreadable(self, exc: OSError) -> NoReturn:
        if isinstance(exc, FileNotFoundError):
            self.fatal("no such file")
        if isinstance(exc, IsADirectoryError):
            self.fatal("is a folder, not an export file")
        self.fatal(f"cannot be read ({exc.strerror or type(exc).__name__})")

    def _not_in_encoding(self, line: int | None, data: bytes | None = None) -> NoReturn:
        encoding = self.options.encoding
        if data is None:
            line, data = _first_undecodable_line(self.path, encoding)
        hint = 'set encoding (e.g. "cp1252") to the one the export uses'
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and "16" not in encoding:
            hint = 'it looks like UTF-16 (Excel "Unicode text"): set encoding = "utf-16"'
        self.fatal(f"not {encoding} text; {hint}", line)


# --- helpers --------------------------------------------------------------------------------


def _modified_at(path: Path) -> datetime:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc.strerror})") from None


def _header_key(name: str) -> str:
    return _HEADER_KEY.sub("_", name.strip().casefold()).strip("_")


def _show(value: str) -> str:
    """File content quoted in a message: repr keeps it on one line, and long values are cut."""
    if len(value) > _MAX_SHOWN:
        value = value[:_MAX_SHOWN] + "…"
    return repr(value)


def _or(names: tuple[str, ...] | list[str]) -> str:
    quoted = [repr(n) for n in names]
    if len(quoted) <= 1:
        return "".join(quoted) or "none"
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _label(employee_id: str, ordinal: int | None) -> str:
    if ordinal is None:
        return employee_id
    if employee_id:
        return f"record #{ordinal} (employee id {employee_id})"
    return f"record #{ordinal}"


def _parse_date(raw: str, formats: tuple[str, ...]) -> date | None:
    if raw in _NO_DATE:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        pass
    try:
        # A timestamp's calendar date as written: an end date is a day in HR's time zone.
        return datetime.fromisoformat(raw).date()
    except ValueError:
        pass
    match = _ISO_DATE_WITH_OFFSET.fullmatch(raw)
    if match:
        return date.fromisoformat(match.group(1))
    for fmt in formats:
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise ValueError(raw)


def _format_example(fmt: str) -> str:
    for directive, example in (("%Y", "YYYY"), ("%m", "MM"), ("%d", "DD"), ("%y", "YY")):
        fmt = fmt.replace(directive, example)
    return fmt


def _sniff_delimiter(sample: str, *, whole_file: bool) -> str:
    """The candidate that splits the header widest and the most rows into as many fields."""
    lines = sample.splitlines(keepends=True)
    if not whole_file and len(lines) > 1:
        lines.pop()  # cut off mid-line
    best, best_score = ",", (-1, 0)
    for delimiter in _SNIFF_DELIMITERS:
        try:
            rows = [row for row in csv.reader(lines, delimiter=delimiter) if any(row)]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        score = (sum(1 for row in rows[1:] if len(row) == width), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _first_undecodable_line(path: Path, encoding: str) -> tuple[int, bytes]:
    decoder = codecs.getincrementaldecoder(encoding)()
    number = 0
    head = b""
    with path.open("rb") as file:
        for number, raw in enumerate(file, 1):
            if number == 1:
                head = raw
            try:
                decoder.decode(raw)
            except UnicodeDecodeError:
                return number, head
    return number, head


def _ends_with_line_end(path: Path, encoding: str) -> bool:
    """Whether the file's last character is a line end, in whatever encoding it is written."""
    bom = "".encode(encoding)  # codecs such as utf-8-sig put a BOM before anything
    endings = tuple(end.encode(encoding)[len(bom) :] for end in ("\n", "\r"))
    with path.open("rb") as file:
        size = file.seek(0, os.SEEK_END)
        file.seek(max(0, size - 8))
        return file.read().endswith(endings)


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
            _, pos = decoder.raw_decode(text, pos)
            pos = _skip_json_ws(text, pos)
            if text.startswith(",", pos):
                pos = _skip_json_ws(text, pos + 1)
        pos = start
    lines: list[int] = []
    line, counted = 1 + text.count("\n", 0, pos), pos
    pos = _skip_json_ws(text, pos + 1)
    while not text.startswith("]", pos):
        line += text.count("\n", counted, pos)
        counted = pos
        lines.append(line)
        _, pos = decoder.raw_decode(text, pos)
        pos = _skip_json_ws(text, pos)
        if text.startswith(",", pos):
            pos = _skip_json_ws(text, pos + 1)
    return lines


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
