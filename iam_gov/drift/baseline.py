"""What a drift report compares with: the previous run, a day, or a baseline pinned by name.

``--baseline previous`` (the default) is the run before: the snapshot set of the evaluation
before the one made of the current snapshots (``evaluations.snapshot_ids``). An evaluation,
not "each system's snapshot before its latest", because a run is what people compare with:
its findings and its snapshots go together, a system that failed to collect in between keeps
the snapshot the previous run saw, and a system collected twice between runs is compared
with what the last report showed, not with an intermediate snapshot nobody reported on.

``--baseline 2026-11-01`` is, for each system, the newest complete snapshot collected on or
before the end of that day (UTC). ``--baseline NAME`` is a set of snapshots pinned with
``iam-gov baseline pin NAME``: the latest snapshot of every system and the last evaluation
at the time of pinning, kept by retention for as long as the name is pinned.

When nothing earlier exists (a first run, a day before the first collect), the baseline is
``none``: nothing is called created or removed, and the report says "no baseline".

Each baseline also says from when findings count as new (``findings_since``): the end of
the evaluation it goes with (previous, named), or the end of the day (date).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal

from sqlalchemy import Connection, delete, func, insert, select, update

from iam_gov import audit
from iam_gov.drift.model import Baseline
from iam_gov.errors import IamGovError
from iam_gov.store import Store
from iam_gov.store.schema import baselines, evaluations, snapshots
from iam_gov.store.snapshots import SnapshotInfo, latest_snapshots, snapshots_by_id
from iam_gov.timeutil import as_utc, start_of_day, utcnow

NAME_MAX: Final = 128
"""The longest baseline name (the column's width)."""
RESERVED_NAMES: Final = frozenset({"previous", "none"})
"""Words ``--baseline`` reads as something else than a name."""
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BaselineError(IamGovError):
    """A baseline cannot be pinned, found or resolved as asked (a bad or unknown name)."""

    exit_code = 2


@dataclass(frozen=True)
class BaselineSpec:
    """What the user asked to compare with, before it is looked up."""

    kind: Literal["previous", "date", "named"] = "previous"
    on: date | None = None
    """The day, for ``date``."""
    name: str | None = None
    """The pinned name, for ``named``."""

    @classmethod
    def previous(cls) -> BaselineSpec:
        return cls("previous")

    @classmethod
    def on_date(cls, day: date) -> BaselineSpec:
        return cls("date", on=day)

    @classmethod
    def named(cls, name: str) -> BaselineSpec:
        return cls("named", name=name)

    def describe(self) -> str:
        if self.kind == "date":
            return f"the data of {self.on}"
        if self.kind == "named":
            return f"baseline {self.name!r}"
        return "the previous run"


def parse_baseline(text: str) -> BaselineSpec:
    """``previous``, a day ``YYYY-MM-DD``, or a pinned name (what ``--baseline`` takes).
    Names that would read as one of the others cannot be pinned (``check_name``)."""
    value = text.strip()
    if value.lower() == "previous":
        return BaselineSpec.previous()
    if _DATE.match(value):
        try:
            return BaselineSpec.on_date(date.fromisoformat(value))
        except ValueError:
            raise BaselineError(f"--baseline {value}: not a date (YYYY-MM-DD)") from None
    check_name(value)
    return BaselineSpec.named(value)


def check_name(name: str) -> str:
    """A baseline name: 1–128 printable characters, not blank at either end, and not a word
    or a date ``--baseline`` would read as something else."""
    if not name or len(name) > NAME_MAX:
        raise BaselineError(f"a baseline name has 1 to {NAME_MAX} characters (got {len(name)})")
    if not name.isprintable():
        raise BaselineError(f"baseline name {name!r}: only printable characters")
    if name != name.strip():
        raise BaselineError(f"baseline name {name!r}: no spaces at the start or the end")
    if name.lower() in RESERVED_NAMES or _DATE.match(name):
        raise BaselineError(
            f"baseline name {name!r}: reserved (--baseline reads it as "
            f"{'a date' if _DATE.match(name) else 'a keyword'}); choose another name"
        )
    return name


@dataclass(frozen=True)
class ResolvedBaseline:
    """A baseline looked up in the store: what the report says of it, and what it needs."""

    baseline: Baseline
    snapshots: dict[str, SnapshotInfo]
    """The baseline's snapshot of each system that has one (and is still stored)."""
    evaluation_id: int | None
    """The evaluation that goes with it (its links name the people of removed accounts)."""
    findings_since: datetime | None
    """Findings first seen after this are new, resolved after it resolved; None: no
    baseline (every open finding is new, none is called resolved)."""

    @property
    def none(self) -> bool:
        return self.baseline.kind == "none"


NO_BASELINE: Final = ResolvedBaseline(Baseline(kind="none"), {}, None, None)


def resolve_baseline(
    conn: Connection,
    spec: BaselineSpec,
    *,
    current: Mapping[str, int],
    systems: Collection[str] | None = None,
) -> ResolvedBaseline:
    """Look ``spec`` up. ``current`` is the latest snapshot id of each system the report
    describes (``previous`` skips the evaluation made of exactly those); ``systems``, when
    given, limits a date baseline to those systems. An unknown name is a ``BaselineError``;
    nothing earlier is the ``none`` baseline."""
    if spec.kind == "previous":
        return _previous(conn, current)
    if spec.kind == "date":
        if spec.on is None:
            raise BaselineError("a date baseline needs a day")
        return _on_date(conn, spec.on, systems)
    if spec.name is None:
        raise BaselineError("a named baseline needs a name")
    return _named(conn, spec.name)


def _previous(conn: Connection, current: Mapping[str, int]) -> ResolvedBaseline:
    rows = conn.execute(
        select(evaluations.c.id, evaluations.c.finished_at, evaluations.c.snapshot_ids)
        .order_by(evaluations.c.id.desc())
        .limit(2)
    ).all()
    if rows and _ids(rows[0].snapshot_ids) == dict(current):
        rows = rows[1:]  # the evaluation of the current data: the one before it is the run before
    if not rows:
        return NO_BASELINE
    row = rows[0]
    ids = _ids(row.snapshot_ids)
    infos = _existing(conn, ids)
    return ResolvedBaseline(
        Baseline(kind="previous", at=_newest(infos), snapshot_ids=ids),
        infos,
        int(row.id),
        as_utc(row.finished_at),
    )


def _on_date(conn: Connection, day: date, systems: Collection[str] | None) -> ResolvedBaseline:
    end = start_of_day(day + timedelta(days=1))
    c = snapshots.c
    ranked = (
        select(
            c.id,
            c.system,
            func.row_number()
            .over(partition_by=c.system, order_by=(c.collected_at.desc(), c.id.desc()))
            .label("rank"),
        )
        .where(c.complete, c.collected_at < end)
        .subquery()
    )
    query = select(ranked.c.system, ranked.c.id).where(ranked.c.rank == 1)
    if systems is not None:
        query = query.where(ranked.c.system.in_(list(systems)))
    ids = {row.system: int(row.id) for row in conn.execute(query)}
    if not ids:
        return NO_BASELINE
    infos = _existing(conn, ids)
    evaluation_id = conn.execute(
        select(func.max(evaluations.c.id)).where(evaluations.c.finished_at < end)
    ).scalar_one_or_none()
    return ResolvedBaseline(
        Baseline(kind="date", name=day.isoformat(), at=_newest(infos), snapshot_ids=ids),
        infos,
        None if evaluation_id is None else int(evaluation_id),
        end,
    )


def _named(conn: Connection, name: str) -> ResolvedBaseline:
    pinned = get_baseline(conn, name)
    if pinned is None:
        known = [b.name for b in list_pinned(conn)]
        hint = f" (pinned: {', '.join(known[:10])}{' …' if len(known) > 10 else ''})"
        raise BaselineError(
            f"there is no baseline named {name!r}{hint if known else ''}; "
            "pin one with `iam-gov baseline pin NAME`"
        )
    infos = _existing(conn, pinned.snapshot_ids)
    since = pinned.pinned_at
    evaluation_id = pinned.evaluation_id
    if evaluation_id is not None:
        finished = conn.execute(
            select(evaluations.c.finished_at).where(evaluations.c.id == evaluation_id)
        ).scalar_one_or_none()
        if finished is None:
            evaluation_id = None
        else:
            since = as_utc(finished)
    return ResolvedBaseline(
        Baseline(kind="named", name=name, at=_newest(infos), snapshot_ids=pinned.snapshot_ids),
        infos,
        evaluation_id,
        since,
    )


def _ids(value: Any) -> dict[str, int]:
    return {str(system): int(sid) for system, sid in dict(value or {}).items()}


def _existing(conn: Connection, ids: Mapping[str, int]) -> dict[str, SnapshotInfo]:
    """The snapshots of ``ids`` still stored, by system (retention may have pruned some)."""
    found = {info.id: info for info in snapshots_by_id(conn, list(ids.values()))}
    return {system: found[sid] for system, sid in ids.items() if sid in found}


def _newest(infos: Mapping[str, SnapshotInfo]) -> datetime | None:
    return max((info.collected_at for info in infos.values()), default=None)


# --- pinned baselines ---------------------------------------------------------------------


@dataclass(frozen=True)
class PinnedBaseline:
    """A row of ``baselines``."""

    name: str
    pinned_at: datetime
    pinned_by: str
    snapshot_ids: dict[str, int]
    evaluation_id: int | None
    note: str | None


def _pinned(row: Any) -> PinnedBaseline:
    return PinnedBaseline(
        name=row.name,
        pinned_at=as_utc(row.pinned_at),
        pinned_by=row.pinned_by,
        snapshot_ids=_ids(row.snapshot_ids),
        evaluation_id=None if row.evaluation_id is None else int(row.evaluation_id),
        note=row.note,
    )


def get_baseline(conn: Connection, name: str) -> PinnedBaseline | None:
    row = conn.execute(select(baselines).where(baselines.c.name == name)).one_or_none()
    return None if row is None else _pinned(row)


def list_pinned(conn: Connection) -> list[PinnedBaseline]:
    """Every pinned baseline, newest first."""
    rows = conn.execute(
        select(baselines).order_by(baselines.c.pinned_at.desc(), baselines.c.name)
    ).all()
    return [_pinned(row) for row in rows]


def list_baselines(store: Store) -> list[PinnedBaseline]:
    """``iam-gov baseline list``: every pinned baseline, newest first."""
    with store.reading() as conn:
        return list_pinned(conn)


def pin(
    store: Store,
    name: str,
    actor: str | None = None,
    note: str | None = None,
    *,
    replace: bool = False,
    now: datetime | None = None,
) -> PinnedBaseline:
    """``iam-gov baseline pin NAME``: name the latest snapshot of every system and the last
    evaluation, audited. A name already pinned is refused unless ``replace``."""
    check_name(name)
    at = as_utc(now) if now is not None else utcnow()
    who = actor or audit.current_actor()
    with store.writing() as conn:
        latest = latest_snapshots(conn)
        if not latest:
            raise BaselineError("nothing to pin: no snapshot is stored yet (run `iam-gov collect`)")
        existing = get_baseline(conn, name)
        if existing is not None and not replace:
            raise BaselineError(
                f"baseline {name!r} is already pinned by {existing.pinned_by} at "
                f"{existing.pinned_at:%Y-%m-%d %H:%M} UTC; unpin it first, or replace it"
            )
        ids = {system: info.id for system, info in sorted(latest.items())}
        evaluation_id = conn.execute(select(func.max(evaluations.c.id))).scalar_one_or_none()
        values = {
            "pinned_at": at,
            "pinned_by": who,
            "snapshot_ids": ids,
            "evaluation_id": evaluation_id,
            "note": note,
        }
        if existing is None:
            conn.execute(insert(baselines).values(name=name, **values))
        else:
            conn.execute(update(baselines).where(baselines.c.name == name).values(**values))
        audit.append(
            conn,
            "baseline.pin",
            f"baseline:{name}",
            {
                "snapshot_ids": ids,
                "evaluation_id": evaluation_id,
                "note": note,
                "replaced": None
                if existing is None
                else {
                    "snapshot_ids": existing.snapshot_ids,
                    "evaluation_id": existing.evaluation_id,
                    "pinned_at": existing.pinned_at.isoformat(),
                    "pinned_by": existing.pinned_by,
                },
            },
            actor=who,
            at=at,
        )
    return PinnedBaseline(name, at, who, ids, evaluation_id, note)


def unpin(
    store: Store, name: str, actor: str | None = None, *, now: datetime | None = None
) -> PinnedBaseline:
    """``iam-gov baseline unpin NAME``: forget the name (retention may then prune its
    snapshots), audited. Returns what was pinned; an unknown name is a ``BaselineError``."""
    at = as_utc(now) if now is not None else utcnow()
    who = actor or audit.current_actor()
    with store.writing() as conn:
        existing = get_baseline(conn, name)
        if existing is None:
            raise BaselineError(f"there is no baseline named {name!r} (iam-gov baseline list)")
        conn.execute(delete(baselines).where(baselines.c.name == name))
        audit.append(
            conn,
            "baseline.unpin",
            f"baseline:{name}",
            {
                "snapshot_ids": existing.snapshot_ids,
                "evaluation_id": existing.evaluation_id,
                "pinned_at": existing.pinned_at.isoformat(),
                "pinned_by": existing.pinned_by,
            },
            actor=who,
            at=at,
        )
    return existing
