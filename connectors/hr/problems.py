"""The problems met reading one HR export: rows left out, notes, and how file content is quoted."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from iam_gov.connectors.shared.files import BadFile
from iam_gov.errors import SourceError, location
from iam_gov.model import SnapshotError

_MAX_SHOWN = 60
"""Longest piece of file content quoted in a message; the rest is cut."""
_MAX_NAMES = 30
"""Most column names (or JSON keys) listed in a message."""
_DELIMITERS = (",", ";", "\t", "|")
"""The delimiters of :data:`iam_gov.connectors.shared.csv_file.DELIMITERS`."""


Source = Path | str
"""Where an export was read from: its file, or the address it was downloaded from (as
:func:`iam_gov.connectors.hr.client.shown_url` writes it: no credentials, no query)."""


def bad_export(source: Source, message: str, line: int | None = None) -> SourceError:
    """The error of an export that cannot be used as a whole, as one line naming it: a file's
    is a ``BadFile``, a download's a ``SourceError`` naming the address."""
    if isinstance(source, Path):
        return BadFile(source, message, line)
    return SourceError(f"{location(source, line)}: {message}")


def show(value: str) -> str:
    """File content quoted in a message: repr keeps it on one line, and long values are cut."""
    if len(value) > _MAX_SHOWN:
        value = value[:_MAX_SHOWN] + "…"
    return repr(value)


def _excerpt(value: str) -> str:
    """A record's label from the file (its employee id) as a problem names it: printable, and
    cut like :func:`show`, since a row that is no record may hold anything."""
    if not value.isprintable():
        value = repr(value)[1:-1]
    return value[:_MAX_SHOWN] + "…" if len(value) > _MAX_SHOWN else value


def show_names(names: Sequence[str]) -> str:
    """Column names or JSON keys listed in a message: the first :data:`_MAX_NAMES`, each cut
    by :func:`show`, then how many more."""
    shown = [show(n) for n in names if n]
    more = len(shown) - _MAX_NAMES
    return ", ".join(shown[:_MAX_NAMES]) + (f" and {more} more" if more > 0 else "")


def show_header(header: Sequence[str]) -> str:
    """What a message says the CSV header holds. Its names are listed only when the header
    looks like a CSV header: several columns, or one with a delimiter in it (the wrong
    delimiter). The first line of a file that is no CSV at all (``/etc/shadow``, a key file
    that a path points at by mistake) is never quoted: only its length is given."""
    names = [n for n in header if n]
    if len(names) == 1 and not any(d in names[0] for d in _DELIMITERS):
        return (
            f"the header is one field of {len(names[0])} characters, not columns: "
            "is the file a CSV export?"
        )
    return f"the header has {show_names(names) or 'no columns'}"


@dataclass(slots=True)
class Problem:
    line: int | None
    ordinal: int | None
    """The record's number in a JSON export, whose line is found only when needed."""
    record: str | None
    message: str
    source: str | None = None
    """The file, when not the export the problems are reported for (a job history)."""


class Problems:
    """Rows left out (the snapshot is then incomplete) and notes that leave everyone in."""

    def __init__(self) -> None:
        self.found: list[Problem] = []
        self.bad_rows = 0
        self.first_bad: Problem | None = None

    def reject(
        self, line: int | None, record: str, message: str, ordinal: int | None = None
    ) -> None:
        """A row that is left out: the snapshot is then incomplete."""
        self.bad_rows += 1
        problem = Problem(line, ordinal, _excerpt(record) or None, message)
        self.first_bad = self.first_bad or problem
        self.found.append(problem)

    def note(
        self,
        line: int | None,
        record: str,
        message: str,
        ordinal: int | None = None,
        *,
        source: str | None = None,
    ) -> None:
        """A problem that leaves every person in: the snapshot stays complete. ``source``
        names another file than the export, such as the job history."""
        self.found.append(Problem(line, ordinal, _excerpt(record) or None, message, source))

    def place(self, record_lines: Callable[[], Sequence[int]]) -> None:
        """Give the problems of numbered records their lines; ``record_lines()`` is the line
        each record starts on, worked out only if a problem needs it."""
        if not self.found:
            return
        lines = record_lines()
        for problem in self.found:
            if problem.ordinal is not None:
                problem.line = lines[problem.ordinal - 1]

    def errors(self, source: str) -> tuple[SnapshotError, ...]:
        return tuple(
            SnapshotError(
                source=p.source or source, line=p.line, record=p.record, message=p.message
            )
            for p in self.found
        )
