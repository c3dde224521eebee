"""Turning the rows of an HR export into people: values, dates, status and managers checked, a
bad row left out with its problem, and the export as a whole judged at the end."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn, Protocol

from pydantic import ValidationError

from iam_gov.connectors.hr.columns import Columns, find_columns
from iam_gov.connectors.hr.history import JobChange
from iam_gov.connectors.hr.presets import PRESETS, MappableField, PresetName, value_key
from iam_gov.connectors.hr.problems import Problems, Source, bad_export, show
from iam_gov.model import EmploymentStatus, EmploymentType, Person, SnapshotError

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_ISO_DATE_WITH_OFFSET = re.compile(r"(\d{4}-\d{2}-\d{2})(?:Z|[+-]\d{2}:?\d{2})")
_NO_DATE = frozenset({"0000-00-00", "00/00/0000"})
_ACTIVE, _TERMINATED = EmploymentStatus.ACTIVE, EmploymentStatus.TERMINATED
_EMPLOYEE = EmploymentType.EMPLOYEE
# Person's own validator, called without BaseModel.__init__ in between: the same validation,
# a quarter less time per person, which counts at 100,000 rows.
_new_person = Person.__pydantic_validator__.validate_python


class PeopleOptions(Protocol):
    """What turning rows into people reads of the connector's options (``HROptions``, whose
    module imports this one): the preset, and the options that override it."""

    @property
    def preset(self) -> PresetName: ...
    @property
    def columns(self) -> Mapping[MappableField, str]: ...
    @property
    def status_values(self) -> Mapping[str, str]: ...
    @property
    def employment_type_values(self) -> Mapping[str, str]: ...
    @property
    def date_format(self) -> str | None: ...
    @property
    def min_people(self) -> int: ...


@dataclass(frozen=True)
class People:
    """What an HR export says: the people, and the problems met reading it."""

    people: tuple[Person, ...]
    errors: tuple[SnapshotError, ...]
    complete: bool
    """False when a row was left out: someone may be missing."""
    mapped_fields: tuple[str, ...] = ()
    """The person fields a column of the export filled (``employment_type``, ``manager_id``
    …): a field not among them holds the default for everyone, which the policy must not
    match on as if HR had said it."""


class PeopleBuilder:
    """One read of one export: its columns, the people so far, and the problems.

    ``map_columns`` is called once the header (or the JSON records' keys) is known, then
    ``add`` for each row, then ``finish``."""

    def __init__(self, source: Source, options: PeopleOptions, as_of: date) -> None:
        """``source`` is the export (a file, or the address it was downloaded from), named in
        problems; ``as_of`` is when it was taken."""
        self.source = source
        self.options = options
        self.as_of = as_of
        preset = PRESETS[options.preset]
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

        self.people: list[Person] = []
        self.problems = Problems()
        # Every employee id, e-mail and system id met, bad rows included: a manager whose
        # own row is bad is still in the file, and a later row with the same id is a duplicate.
        # Ids map to where they were first met: a line (CSV) or a record number (JSON).
        self._ids: dict[str, int | None] = {}
        self._ref_emails: dict[str, str] = {}
        self._ref_system_ids: dict[str, str] = {}
        # (index of the person, how the manager is named, the name, line, label, record number)
        self._managers: list[tuple[int, MappableField, str, int | None, str, int | None]] = []
        # Index of the person -> the previous manager as written, and where it was written.
        self._previous_managers: dict[int, _Reference] = {}
        # Names as compared (value_key) -> employee ids: BambooHR's "Reports To" is a name.
        self._names: dict[str, list[str]] = {}

    def fatal(self, message: str) -> NoReturn:
        raise bad_export(self.source, message)

    # --- columns --------------------------------------------------------------------------

    def map_columns(self, header: list[str], *, json: bool = False) -> Columns:
        """Find the fields in ``header`` (the JSON records' keys when ``json``)."""
        columns = find_columns(
            header, self.preset, self.options.columns, source=self.source, json=json
        )
        self.columns = columns.names
        self._pick = columns.pick
        self._attribute_columns = columns.attributes
        self._mapped_indices = columns.mapped
        self._has_status = "status" in columns.names
        self._has_type = "employment_type" in columns.names
        self._has_system_ids = "system_id" in columns.names
        return columns

    # --- rows -----------------------------------------------------------------------------

    def bad_row(self, line: int, employee_id: str, message: str) -> None:
        """A row that could not be read as one: left out, but an employee id read from it is
        still someone in the file."""
        if employee_id:
            self._ids.setdefault(employee_id, line)
        self.problems.reject(line, employee_id, message)

    def add(
        self,
        line: int | None,
        row: list[str],
        nested: Collection[int] = (),
        ordinal: int | None = None,
    ) -> None:
        """One record: ``row`` holds a value for each column, then one empty string.
        ``nested`` are the columns holding a JSON list or object; ``ordinal`` numbers a
        JSON record, whose line is found later."""
        # In the order of MAPPABLE_FIELDS, which is how Columns.pick returns them.
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
            previous_department,
            previous_title,
            previous_manager,
            moved_raw,
        ) = map(str.strip, self._pick(row))
        label = employee_id if ordinal is None else _label(employee_id, ordinal)
        if not employee_id:
            self.problems.reject(line, label, "the employee id is empty", ordinal)
            return
        if employee_id in self._ids:
            first = self._ids[employee_id]
            where = f"in record #{first}" if ordinal is not None else f"on line {first}"
            message = f"employee id {show(employee_id)} already appears {where}"
            self.problems.reject(line, label, message, ordinal)
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
                problems.append(f"{show(column)} holds a list or an object, not a value")
        # Both parts are stripped, so this is the non-empty ones joined by one space.
        name = preferred_name or name or f"{first_name} {last_name}".strip()
        if not name:
            problems.append("the name is empty")
        if email and not _EMAIL.fullmatch(email):
            problems.append(f"e-mail address {show(email)} is not valid")
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
            self.problems.reject(line, label, "; ".join(problems), ordinal)
            return
        # The latest job change is worth less than the person: a bad value in its columns is
        # a note, and only the move is left out.
        moved_at = None
        if moved_raw in _NO_DATE:
            moved_raw = ""
        if moved_raw:
            moved_at = dates[moved_raw] if moved_raw in dates else self._move_date(moved_raw)
            if moved_at is None:
                column = self.columns["moved_at"]
                message = (
                    f"column {show(column)} (moved_at): {show(moved_raw)} is not a date "
                    f"(expected {self._expected_dates()}); the job change is not used"
                )
                self.problems.note(line, label, message, ordinal)
        elif previous_department or previous_title or previous_manager:
            date_column = self.columns.get("moved_at")
            where = (
                f"column {show(date_column)} (moved_at) is empty"
                if date_column
                else "no moved_at column"
            )
            message = (
                f"the previous role has no effective date ({where}); the job change is not used"
            )
            self.problems.note(line, label, message, ordinal)

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
                    "previous_department": previous_department or None,
                    "previous_title": previous_title or None,
                    "moved_at": moved_at,
                    "attributes": attributes,
                }
            )
        except ValidationError as exc:  # pragma: no cover - every field is checked above
            fields = ", ".join(str(e["loc"][0]) for e in exc.errors(include_input=False))
            self.problems.reject(line, label, f"not a valid person ({fields})", ordinal)
            return

        index = len(self.people)
        self.people.append(person)
        if shares_email and shares_email != employee_id:
            message = f"e-mail {show(email)} is also employee {show(shares_email)}'s"
            self.problems.note(line, label, message, ordinal)
        if manager_id:
            self._managers.append((index, "manager_id", manager_id, line, label, ordinal))
        elif manager_email:
            self._managers.append((index, "manager_email", manager_email, line, label, ordinal))
        elif manager_system_id:
            self._managers.append(
                (index, "manager_system_id", manager_system_id, line, label, ordinal)
            )
        if previous_manager:
            column = self.columns["previous_manager"]
            self._previous_managers[index] = _Reference(
                previous_manager, line, label, ordinal, None, f"{show(column)} (previous_manager)"
            )
        for known_as in {value_key(name), value_key(f"{first_name} {last_name}")} - {""}:
            self._names.setdefault(known_as, []).append(employee_id)

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
        return f"{what} {show(raw)} is not one of {', '.join(sorted(known))}; map it with {option}"

    def _date(self, raw: str, what: str, problems: list[str]) -> date | None:
        try:
            parsed = _parse_date(raw, self.date_formats)
        except ValueError:
            problems.append(f"{what} {show(raw)} is not a date (expected {self._expected_dates()})")
            return None
        self._dates[raw] = parsed
        return parsed

    def _move_date(self, raw: str) -> date | None:
        """A job change's effective date; None when it is not a date (or says "no date")."""
        try:
            parsed = _parse_date(raw, self.date_formats)
        except ValueError:
            return None
        self._dates[raw] = parsed
        return parsed

    def _expected_dates(self) -> str:
        return ", ".join(["YYYY-MM-DD", *map(_format_example, self.date_formats)])

    # --- the whole export -----------------------------------------------------------------

    def finish(self, record_lines: Callable[[], Sequence[int]] | None = None) -> People:
        """Resolve the managers and judge the export as a whole: ``SourceError`` when it has no
        rows, when most rows are bad or when it has fewer than ``min_people`` people.
        ``record_lines()`` gives the line each JSON record starts on."""
        problems = self.problems
        min_people = self.options.min_people
        rows = len(self.people) + problems.bad_rows
        if rows == 0:
            self.fatal("has a header but no rows")
        self._resolve_managers()
        self._resolve_previous_managers()
        if record_lines is not None:
            problems.place(record_lines)
        if problems.bad_rows * 2 > rows:
            first = problems.first_bad
            assert first is not None
            where = f"line {first.line}" if first.line is not None else first.record
            self.fatal(
                f"{problems.bad_rows} of {rows} rows are bad, so the export is probably not "
                f"in the expected format (check preset, columns and delimiter); first, "
                f"{where}: {first.message}"
            )
        if len(self.people) < min_people:
            self.fatal(
                f"only {len(self.people)} valid people, fewer than min_people "
                f"({min_people}); is the export complete?"
            )
        return People(
            people=tuple(self.people),
            errors=problems.errors(str(self.source)),
            complete=problems.bad_rows == 0,
            mapped_fields=tuple(sorted(self.columns)),
        )

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
                message = f"{what} {show(value)} names nobody in the file"
                self.problems.note(line, label, message, ordinal)
            elif target != person.manager_id:
                self.people[index] = person.model_copy(update={"manager_id": target})

    def _resolve_previous_managers(self) -> None:
        # Whatever names the previous manager: an employee id, an e-mail, the HR system's id,
        # or a name (BambooHR's "Reports To"). One that names nobody, or a name two people
        # share, is kept as written with a note: a role that matches on the manager then does
        # not match it, which is said rather than guessed.
        for index, ref in self._previous_managers.items():
            value = ref.value
            target: str | None = value if value in self._ids else None
            target = target or self._ref_emails.get(value.casefold())
            target = target or self._ref_system_ids.get(value)
            if target is None:
                named = self._names.get(value_key(value), [])
                if len(named) == 1:
                    target = named[0]
                else:
                    whom = (
                        f"is the name of {len(named)} people ({', '.join(map(show, named))})"
                        if named
                        else "names nobody in the file"
                    )
                    message = f"column {ref.column}: {show(value)} {whom}; kept as written"
                    self.problems.note(ref.line, ref.label, message, ref.ordinal, source=ref.source)
            person = self.people[index]
            self.people[index] = person.model_copy(update={"previous_manager_id": target or value})

    # --- the job history ------------------------------------------------------------------

    def parse_date(self, raw: str) -> date | None:
        """A date as this export's dates are read (ISO 8601, then the preset's formats or
        ``date_format``); ``ValueError`` when it is not one."""
        return _parse_date(raw, self.date_formats)

    @property
    def expected_dates(self) -> str:
        """The date formats accepted, as a reader would write them."""
        return self._expected_dates()

    def take_job_changes(self, changes: Mapping[str, JobChange], source: Path) -> None:
        """Each person's latest job change from a job history (``source``), called after the
        last row and before ``finish``. A change the export's own columns date as recent or
        more recent is not taken; a change of someone not in the export is not used."""
        index_of = {p.employee_id: i for i, p in enumerate(self.people)}
        for reference, change in changes.items():
            index = index_of.get(reference)
            if index is None and reference in self._ref_system_ids:
                index = index_of.get(self._ref_system_ids[reference])
            if index is None:
                continue
            person = self.people[index]
            if person.moved_at is not None and person.moved_at >= change.effective:
                continue
            previous = change.previous
            update: dict[str, Any] = {
                "moved_at": change.effective,
                "previous_department": previous.get("department") or None,
                "previous_title": previous.get("title") or None,
                "previous_manager_id": None,
            }
            self._previous_managers.pop(index, None)
            if previous.get("manager"):
                column = f"{show(change.columns['manager'])} (manager)"
                self._previous_managers[index] = _Reference(
                    previous["manager"], change.line, person.employee_id, None, str(source), column
                )
            self.people[index] = person.model_copy(update=update)


@dataclass(frozen=True, slots=True)
class _Reference:
    """A reference to a person (a previous manager), and where it was written."""

    value: str
    line: int | None
    label: str
    ordinal: int | None
    source: str | None
    """The file, when not the export (the job history)."""
    column: str
    """The column, as a message names it."""


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
