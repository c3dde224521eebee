"""Which column of an HR export holds which person field: the preset's candidates, or the
columns the options name, found in the CSV header or among the JSON records' keys."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

from iam_gov.connectors.hr.presets import MAPPABLE_FIELDS, MappableField, Preset
from iam_gov.connectors.hr.problems import Source, bad_export, show, show_header, show_names
from iam_gov.connectors.shared.csv_file import DELIMITERS

_HEADER_KEY = re.compile(r"[\s_\-]+")


@dataclass(frozen=True, slots=True)
class Columns:
    """The columns of one export. A row holds a value for each of the ``width`` columns, then
    one empty string, at which unmapped fields point: ``pick(row)`` returns every field of
    ``MAPPABLE_FIELDS``, in that order, in one call."""

    names: dict[MappableField, str]
    """Field -> its column, as the header writes it."""
    width: int
    pick: Callable[[Sequence[str]], tuple[str, ...]]
    employee_id: int
    """Where the employee id is in a row."""
    mapped: dict[int, str]
    """Where a mapped column is -> its name."""
    attributes: list[tuple[int, str]]
    """Where each column that is not mapped is, and its name: kept in ``Person.attributes``."""


def find_columns(
    header: list[str],
    preset: Preset,
    chosen: Mapping[MappableField, str],
    *,
    source: Source,
    json: bool = False,
) -> Columns:
    """Match ``header`` (column names, or JSON keys when ``json``) to the fields: a column in
    ``chosen`` (the ``columns`` option; ``""`` unmaps the field) must be there, else the
    preset's first candidate that is. Names match exactly, else ignoring case and spacing.
    ``SourceError`` (``BadFile`` for a file) when the employee id, a name or a chosen column
    is missing, or a mapped column appears twice."""
    wording = _Wording(header, preset, chosen, source, json)
    find = header_matcher(header)
    names: dict[MappableField, str] = {}
    for field in MAPPABLE_FIELDS:
        if field in chosen:
            wanted = chosen[field].strip()
            if not wanted:
                continue
            found = find(wanted)
            if found is None:
                wording.fail(f"column {show(wanted)} (columns.{field}) is missing; {wording.found}")
        else:
            found = next((f for f in map(find, preset.columns.get(field, ())) if f), None)
        if found is not None:
            names[field] = found

    if "employee_id" not in names:
        wording.missing("employee_id")
    if not (
        {"name", "preferred_name"} & names.keys() or {"first_name", "last_name"} <= names.keys()
    ):
        wording.missing("name")
    mapped = set(names.values())
    for name in mapped:
        if header.count(name) > 1:
            wording.fail(f"column {show(name)} appears more than once in the header")

    width = len(header)
    first_index: dict[str, int] = {}
    for i, name in enumerate(header):
        if name:
            first_index.setdefault(name, i)
    indices = {field: first_index[name] for field, name in names.items()}
    return Columns(
        names=names,
        width=width,
        pick=operator.itemgetter(*(indices.get(f, width) for f in MAPPABLE_FIELDS)),
        employee_id=indices["employee_id"],
        mapped={i: header[i] for i in indices.values()},
        attributes=[(i, name) for name, i in first_index.items() if name not in mapped],
    )


@dataclass(frozen=True)
class _Wording:
    """How a missing column is explained: what the export has, and what was looked for."""

    header: list[str]
    preset: Preset
    chosen: Mapping[MappableField, str]
    source: Source
    json: bool

    def fail(self, message: str) -> NoReturn:
        raise bad_export(self.source, message)

    @property
    def found(self) -> str:
        if self.json:
            return f"the records have the keys {show_names(self.header) or '(none)'}"
        return show_header(self.header)

    def missing(self, field: MappableField) -> NoReturn:
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
        header = self.header
        if len(header) == 1 and any(d in header[0] for d in DELIMITERS):
            hint = " (is the delimiter right?)"
        self.fail(f"{wanted} is missing; {self.found}{hint}")

    def _candidates(self, field: MappableField) -> tuple[str, ...]:
        if field in self.chosen:
            return (self.chosen[field],) if self.chosen[field] else ()
        return self.preset.columns.get(field, ())


def header_matcher(header: list[str]) -> Callable[[str], str | None]:
    """How a column is found in ``header``: exactly, else ignoring case and spacing (as
    ``find_columns`` does); returns the column as the header writes it, or None."""
    exact = {name for name in header if name}
    loose: dict[str, str] = {}
    for name in header:
        if name:
            loose.setdefault(_header_key(name), name)

    def find(column: str) -> str | None:
        return column if column in exact else loose.get(_header_key(column))

    return find


def _header_key(name: str) -> str:
    return _HEADER_KEY.sub("_", name.strip().casefold()).strip("_")


def _or(names: tuple[str, ...] | list[str]) -> str:
    quoted = [repr(n) for n in names]
    if len(quoted) <= 1:
        return "".join(quoted) or "none"
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]
