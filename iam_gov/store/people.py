"""Changes to people between HR snapshots: who moved, from what, and when.

A move is known two ways: a field that differs from the HR snapshot before (``record_changes``
compares them), or the previous department, title or manager and the effective date that the
HR export itself reports (``Person.previous_*`` and ``Person.moved_at``, see
:func:`reported_move`). Both are stored as the same rows of ``person_changes``; when a move
seen between two snapshots is also the one HR reports, it is one move, dated by HR.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from iam_gov.model import EmploymentStatus, EmploymentType, Person, SystemSnapshot
from iam_gov.store.bulk import bulk_insert
from iam_gov.store.schema import people, person_changes, snapshots
from iam_gov.timeutil import as_utc, start_of_day

FIELDS = ("department", "title", "employment_type", "manager_id", "status", "email", "name")
"""Person fields whose changes are kept (and every HR attribute, as ``attributes.<column>``)."""


@dataclass(frozen=True)
class Move:
    """The latest change to a person: each changed field's value before and after."""

    employee_id: str
    changed_at: datetime
    changes: dict[str, tuple[str | None, str | None]]

    def before(self, person: Person) -> Person:
        """The person as HR described them before this change."""
        update: dict[str, Any] = {}
        attributes = dict(person.attributes)
        for field, (old, _new) in self.changes.items():
            if field.startswith("attributes."):
                key = field.removeprefix("attributes.")
                if old is None:
                    attributes.pop(key, None)
                else:
                    attributes[key] = old
            elif field == "employment_type":
                update[field] = EmploymentType(old) if old else person.employment_type
            elif field == "status":
                update[field] = EmploymentStatus(old) if old else person.status
            else:
                update[field] = old
        update["attributes"] = attributes
        return person.model_copy(update=update)


_REPORTED = (
    ("department", "previous_department"),
    ("title", "previous_title"),
    ("manager_id", "previous_manager_id"),
)
"""Person field -> the field holding its value before the latest move HR reports."""


def reported_move(person: Person) -> Move | None:
    """The latest move as the HR export reports it: its effective date (midnight UTC) and each
    field whose previous value HR gives and differs from the current one; None without an
    effective date or without such a field."""
    # getattr: people read back from a store that does not keep these fields lack them.
    moved_at = getattr(person, "moved_at", None)
    if moved_at is None:
        return None
    changes: dict[str, tuple[str | None, str | None]] = {}
    for field, previous_field in _REPORTED:
        previous = getattr(person, previous_field, None)
        current = getattr(person, field)
        if previous is not None and previous != current:
            changes[field] = (previous, current)
    if not changes:
        return None
    return Move(person.employee_id, start_of_day(moved_at), changes)


def merge_moves(recorded: Mapping[str, Move], people: Iterable[Person]) -> dict[str, Move]:
    """Each person's latest move: the one recorded in the store, or the one the HR data reports
    when it is more recent. A move both describe is recorded once, dated by HR (see
    ``record_changes``), so it stays one move."""
    moves = dict(recorded)
    for person in people:
        move = reported_move(person)
        if move is None:
            continue
        known = moves.get(person.employee_id)
        if known is None or move.changed_at > known.changed_at:
            moves[person.employee_id] = move
    return moves


def _values(p: Any) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for field in FIELDS:
        value = getattr(p, field)
        values[field] = None if value is None else str(getattr(value, "value", value))
    for key, value in (p.attributes or {}).items():
        values[f"attributes.{key}"] = value
    return values


def record_changes(conn: Connection, snapshot_id: int, snapshot: SystemSnapshot) -> int:
    """Store what changed for each person in an HR snapshot just stored: the fields that differ
    from the snapshot before it, and the move the export itself reports (``reported_move``),
    also when there is no snapshot before. A reported move is stored once: not when a change
    as recent or more recent is already stored. When both describe the move (HR dates it
    after the snapshot before), its rows are one change dated by HR."""
    previous = conn.execute(
        select(snapshots.c.id, snapshots.c.collected_at)
        .where(
            snapshots.c.system == snapshot.system,
            snapshots.c.id != snapshot_id,
            or_(
                snapshots.c.collected_at < snapshot.collected_at,
                and_(
                    snapshots.c.collected_at == snapshot.collected_at,
                    snapshots.c.id < snapshot_id,
                ),
            ),
        )
        .order_by(snapshots.c.collected_at.desc(), snapshots.c.id.desc())
        .limit(1)
    ).one_or_none()
    before: dict[str, dict[str, str | None]] = {}
    previous_at: datetime | None = None
    if previous is not None:
        previous_at = previous.collected_at
        before = {
            row.employee_id: _values(row)
            for row in conn.execute(
                select(people)
                .where(people.c.snapshot_id == previous.id)
                .execution_options(yield_per=5000)
            )
        }
    reported = {p.employee_id: m for p in snapshot.people if (m := reported_move(p)) is not None}
    if reported:
        known = _last_changes(conn, snapshot.system, snapshot_id)
        reported = {
            employee_id: move
            for employee_id, move in reported.items()
            if employee_id not in known or known[employee_id] < move.changed_at
        }

    def rows() -> Iterator[dict[str, Any]]:
        for person in snapshot.people:
            employee_id = person.employee_id
            changes: dict[str, tuple[str | None, str | None]] = {}
            changed_at = snapshot.collected_at
            old = before.get(employee_id)
            if old is not None:  # else a new hire, which is not a move
                new = _values(person)
                for field in sorted(set(old) | set(new)):
                    if old.get(field) != new.get(field):
                        changes[field] = (old.get(field), new.get(field))
            move = reported.get(employee_id)
            if move is not None and (
                not changes or previous_at is None or move.changed_at > previous_at
            ):
                # The values seen before are kept where the snapshots show them: they are what
                # the access was given for.
                changes = {**move.changes, **changes}
                changed_at = move.changed_at
            for field, (old_value, new_value) in sorted(changes.items()):
                yield {
                    "snapshot_id": snapshot_id,
                    "employee_id": employee_id,
                    "field": field,
                    "old_value": old_value,
                    "new_value": new_value,
                    "changed_at": changed_at,
                }

    return bulk_insert(conn, person_changes, rows())


def _last_changes(conn: Connection, system: str, snapshot_id: int) -> dict[str, datetime]:
    """When each person's latest stored change took effect, in snapshots other than this one."""
    query = (
        select(person_changes.c.employee_id, func.max(person_changes.c.changed_at))
        .join(snapshots, snapshots.c.id == person_changes.c.snapshot_id)
        .where(snapshots.c.system == system, person_changes.c.snapshot_id != snapshot_id)
        .group_by(person_changes.c.employee_id)
    )
    return {employee_id: as_utc(at) for employee_id, at in conn.execute(query)}


def latest_moves(
    conn: Connection, system: str, *, collected_by: datetime | None = None
) -> dict[str, Move]:
    """Each person's most recent change (all fields that changed in that one snapshot);
    ``collected_by``: as the HR snapshots collected at or before it had recorded them."""
    scope = [snapshots.c.system == system]
    if collected_by is not None:
        scope.append(snapshots.c.collected_at <= collected_by)
    scoped = (
        select(person_changes)
        .join(snapshots, snapshots.c.id == person_changes.c.snapshot_id)
        .where(*scope)
        .subquery()
    )
    newest = (
        select(scoped.c.employee_id, func.max(scoped.c.snapshot_id).label("snapshot_id"))
        .group_by(scoped.c.employee_id)
        .subquery()
    )
    query = select(scoped).join(
        newest,
        and_(
            newest.c.employee_id == scoped.c.employee_id,
            newest.c.snapshot_id == scoped.c.snapshot_id,
        ),
    )
    moves: dict[str, Move] = {}
    for row in conn.execute(query):
        move = moves.get(row.employee_id)
        if move is None:
            move = moves[row.employee_id] = Move(row.employee_id, row.changed_at, {})
        move.changes[row.field] = (row.old_value, row.new_value)
    return moves
