"""Changes to people between HR snapshots: who moved, from what, and when."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from iam_gov.model import EmploymentStatus, EmploymentType, Person, SystemSnapshot
from iam_gov.store.bulk import bulk_insert
from iam_gov.store.schema import people, person_changes, snapshots

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


def _values(p: Any) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for field in FIELDS:
        value = getattr(p, field)
        values[field] = None if value is None else str(getattr(value, "value", value))
    for key, value in (p.attributes or {}).items():
        values[f"attributes.{key}"] = value
    return values


def record_changes(conn: Connection, snapshot_id: int, snapshot: SystemSnapshot) -> int:
    """Compare an HR snapshot just stored with the one before it; store what changed."""
    previous_id = conn.execute(
        select(snapshots.c.id)
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
    ).scalar_one_or_none()
    if previous_id is None:
        return 0
    before = {
        row.employee_id: _values(row)
        for row in conn.execute(
            select(people)
            .where(people.c.snapshot_id == previous_id)
            .execution_options(yield_per=5000)
        )
    }

    def rows() -> Iterator[dict[str, Any]]:
        for person in snapshot.people:
            old = before.get(person.employee_id)
            if old is None:
                continue  # a new hire is not a move
            new = _values(person)
            for field in sorted(set(old) | set(new)):
                if old.get(field) != new.get(field):
                    yield {
                        "snapshot_id": snapshot_id,
                        "employee_id": person.employee_id,
                        "field": field,
                        "old_value": old.get(field),
                        "new_value": new.get(field),
                        "changed_at": snapshot.collected_at,
                    }

    return bulk_insert(conn, person_changes, rows())


def latest_moves(conn: Connection, system: str) -> dict[str, Move]:
    """Each person's most recent change (all fields that changed in that one snapshot)."""
    scoped = (
        select(person_changes)
        .join(snapshots, snapshots.c.id == person_changes.c.snapshot_id)
        .where(snapshots.c.system == system)
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
