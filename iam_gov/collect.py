"""Collection: run each system's connector and store its snapshot as soon as it is read.

A system that cannot be read (unreachable, refused, an unusable export, a snapshot that
contradicts itself) is not stored: its failure is recorded and its previous snapshot stays the
latest, stale (``iam_gov.store.snapshots.stale_systems``). The others are stored all the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from iam_gov import audit, progress
from iam_gov.config import Config
from iam_gov.connectors import Connector, connector_class
from iam_gov.errors import ConfigError, ConnectorError, IamGovError, InputError, SourceError
from iam_gov.model import SystemSnapshot
from iam_gov.store import Store
from iam_gov.store.people import record_changes
from iam_gov.store.snapshots import (
    counts_of,
    latest_snapshot,
    record_collect_failure,
    save_snapshot,
)
from iam_gov.textsafe import printable
from iam_gov.timeutil import utcnow

ConnectorFactory = Callable[[str, Any], Connector[Any]]

REASON_LINES = 3
"""How many of a failure's problem lines its recorded reason keeps."""
REASON_CHARS = 1000

# The errors that mean "this system could not be read this time", not a bug: one system's
# failure, recorded, while the others go on.
COLLECT_FAILURES: tuple[type[IamGovError], ...] = (SourceError, ConfigError, ConnectorError)


def build_connector(system: str, options: Any) -> Connector[Any]:
    return connector_class(options.type)(system, options)


@dataclass(frozen=True)
class Collected:
    """A system read and stored. Its snapshot is not kept: at a large company each is
    hundreds of megabytes, and what comes next (evaluation) reads the store."""

    system: str
    snapshot_id: int
    complete: bool
    stored: str
    """What a progress line says of it: ``stored 12 accounts, 40 grants``."""


@dataclass(frozen=True)
class Failed:
    """A system that could not be collected: nothing of it was stored."""

    system: str
    problems: tuple[str, ...]
    """What went wrong, printable, without the system's name in front."""
    reason: str
    """The first problems on one line, as recorded in ``collect_failures``."""
    failed_at: datetime
    error: IamGovError
    """The error itself (its traceback is shown with ``--debug``)."""


@dataclass
class CollectResult:
    """What one collect stored, and what it could not read."""

    collected: list[Collected] = field(default_factory=list)
    failed: dict[str, Failed] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    def incomplete(self) -> list[str]:
        """The systems stored this time whose snapshot is incomplete."""
        return [c.system for c in self.collected if not c.complete]

    def problem_lines(self) -> list[str]:
        """``system: problem`` for every problem of every failed system."""
        return [f"{name}: {p}" for name, failed in self.failed.items() for p in failed.problems]


def select_systems(config: Config, only: Sequence[str] | None) -> list[str]:
    if not only:
        return list(config.systems)
    unknown = [name for name in only if name not in config.systems]
    if unknown:
        raise InputError(
            f"{config.path}: no system named {', '.join(unknown)} "
            f"(configured: {', '.join(config.systems)})"
        )
    return list(dict.fromkeys(only))


def collect_each(
    config: Config,
    store: Store,
    only: Sequence[str] | None = None,
    *,
    factory: ConnectorFactory = build_connector,
    accept_hr_drop: bool = False,
) -> CollectResult:
    """Collect the chosen systems (all by default), storing each snapshot, with its audit
    record, in its own transaction as soon as it is read: a later failure loses nothing.

    A system whose connector cannot read it (``SourceError``: its input is unusable as a
    whole; ``ConnectorError``: unreachable or refused; ``ConfigError``: a secret missing) or
    whose snapshot contradicts itself is not stored: a ``collect_failures`` row and a
    ``collect.failed`` audit record say so, and its previous snapshot stays the latest.
    Problems a connector could work around are kept in its snapshot, marked incomplete.
    Any other error (a bug, the store going away) stops the collect; what was stored stays.
    """
    result = CollectResult()
    for name in select_systems(config, only):
        with progress.system(name) as shown:
            outcome = _collect_one(config, store, name, factory, accept_hr_drop)
            if isinstance(outcome, Failed):
                result.failed[name] = outcome
                shown.failed(outcome.reason)
            else:
                result.collected.append(outcome)
                shown.done(outcome.stored)
    return result


def _collect_one(
    config: Config, store: Store, name: str, factory: ConnectorFactory, accept_hr_drop: bool
) -> Collected | Failed:
    """One system read and stored, or its failure recorded (``collect_each``)."""
    try:
        snapshot = factory(name, config.systems[name]).collect()
    except COLLECT_FAILURES as exc:
        return _record_failure(store, name, _problems_of(name, exc), exc)
    inconsistent = integrity_problems(snapshot)
    if not inconsistent and not accept_hr_drop:
        inconsistent = _people_drop(store, name, config.systems[name], snapshot)
    if inconsistent:
        error = SourceError([f"{name}: {p}" for p in inconsistent])
        return _record_failure(store, name, inconsistent, error)
    with progress.phase("storing"):
        return _store_snapshot(store, name, snapshot)


_ONE = {
    "people": "person",
    "accounts": "account",
    "credentials": "credential",
    "entitlements": "entitlement",
    "grants": "grant",
    "documents": "document",
}


def _stored_words(snapshot: SystemSnapshot) -> str:
    """``stored 12 accounts, 40 grants`` (incomplete: …): a progress line's outcome."""
    counts = ", ".join(
        f"{n:,} {_ONE.get(what, what) if n == 1 else what}"
        for what, n in counts_of(snapshot).items()
        if n
    )
    words = f"stored {counts or 'nothing'}"
    if not snapshot.complete:
        words += f" (incomplete: {len(snapshot.errors)} problem(s))"
    return words


@dataclass(frozen=True)
class Read:
    """One system read without storing it (``config check``): its snapshot, or why not."""

    system: str
    snapshot: SystemSnapshot | None
    problems: tuple[str, ...] = ()
    """Why it could not be read (the same words a collect records)."""


def read_each(
    config: Config,
    only: Sequence[str] | None = None,
    *,
    factory: ConnectorFactory = build_connector,
) -> list[Read]:
    """Read the chosen systems (all by default) the way ``collect_each`` does, checks
    included, but store nothing and audit nothing: what ``config check`` reports."""
    found: list[Read] = []
    for name in select_systems(config, only):
        try:
            snapshot = factory(name, config.systems[name]).collect()
        except COLLECT_FAILURES as exc:
            problems = tuple(_safe(p) for p in _problems_of(name, exc) if p.strip())
            found.append(Read(name, None, problems or (type(exc).__name__,)))
            continue
        inconsistent = integrity_problems(snapshot)
        if inconsistent:
            found.append(Read(name, None, tuple(_safe(p) for p in inconsistent)))
            continue
        found.append(Read(name, snapshot))
    return found


def _people_drop(store: Store, name: str, options: Any, snapshot: SystemSnapshot) -> list[str]:
    """An HR export with far fewer people than the last one stored (``max_drop``), as a
    problem: refused unless confirmed, since a file cut at a line boundary reads cleanly."""
    max_drop = getattr(options, "max_drop", None)
    if max_drop is None or not snapshot.people:
        return []
    with store.reading() as conn:
        previous = latest_snapshot(conn, name)
    if previous is None:
        return []
    before = previous.counts.get("people", 0)
    now = len(snapshot.people)
    if not before or now >= before * (1 - max_drop):
        return []
    return [
        f"the export has {now} people, {1 - now / before:.0%} fewer than the {before} of the "
        f"last snapshot ({previous.collected_at:%Y-%m-%d %H:%M} UTC), more than max_drop = "
        f"{max_drop:.0%}: refused, since a file cut short would make every leaver's finding "
        "look resolved and everyone else's accounts orphans; if the drop is real, collect "
        "again with --accept-hr-drop"
    ]


def collect(
    config: Config,
    store: Store,
    only: Sequence[str] | None = None,
    *,
    factory: ConnectorFactory = build_connector,
) -> list[Collected]:
    """``collect_each``, for callers that need every system: the systems read are stored
    (each as it succeeds), then a ``SourceError`` lists the systems that failed, if any."""
    result = collect_each(config, store, only, factory=factory)
    if result.failed:
        lines = result.problem_lines()
        failed = ", ".join(result.failed)
        if result.collected:
            lines.append(
                f"stored: {', '.join(c.system for c in result.collected)}; "
                f"not stored: {failed} (the previous snapshot stays the latest)"
            )
        else:
            lines.append("nothing was stored; fix the input and run again")
        raise SourceError(lines)
    return result.collected


def _store_snapshot(store: Store, name: str, snapshot: SystemSnapshot) -> Collected:
    with store.writing() as conn:
        sid = save_snapshot(conn, snapshot, utcnow())
        details = dict(_audit_details(sid, snapshot))
        if snapshot.people:
            details["people_changed"] = record_changes(conn, sid, snapshot)
        audit.append(conn, "collect", name, details)
    return Collected(name, sid, snapshot.complete, _stored_words(snapshot))


def _record_failure(store: Store, name: str, problems: Sequence[str], error: IamGovError) -> Failed:
    shown = tuple(_safe(p) for p in problems if p.strip()) or (type(error).__name__,)
    reason = "; ".join(shown[:REASON_LINES])
    if len(shown) > REASON_LINES:
        reason += f" (and {len(shown) - REASON_LINES} more)"
    if len(reason) > REASON_CHARS:
        reason = reason[: REASON_CHARS - 1] + "…"
    failed_at = utcnow()
    with store.writing() as conn:
        previous = latest_snapshot(conn, name)
        record_collect_failure(conn, name, failed_at, reason)
        audit.append(
            conn,
            "collect.failed",
            name,
            {
                "reason": reason,
                "error": type(error).__name__,
                "previous_snapshot_id": None if previous is None else previous.id,
            },
            at=failed_at,
        )
    return Failed(name, shown, reason, failed_at, error)


def _problems_of(name: str, error: IamGovError) -> list[str]:
    lines = list(error.problems) if isinstance(error, InputError) else str(error).splitlines()
    prefix = f"{name}: "
    return [line.removeprefix(prefix) for line in lines]


# ``scheme://user:password@host``: a password in a URL is not repeated in a recorded reason.
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+@", re.IGNORECASE)


def _safe(problem: str) -> str:
    return printable(_URL_PASSWORD.sub(r"\g<head>***@", problem.strip()))


def integrity_problems(snapshot: SystemSnapshot, limit: int = 5) -> list[str]:
    """What would make a snapshot contradict itself: the same key twice, or a grant or
    credential of an account that is not there. Such a snapshot is refused as a whole."""
    keys: dict[str, Iterable[object]] = {
        "person with employee id": (p.employee_id for p in snapshot.people),
        "account with native id": (a.native_id for a in snapshot.accounts),
        "credential": (c.credential_id for c in snapshot.credentials),
        "entitlement": (e.entitlement_id for e in snapshot.entitlements),
        "grant": ((g.account_id, g.entitlement_id, g.via) for g in snapshot.grants),
        "document": (d.document_id for d in snapshot.documents),
    }
    problems = []
    for what, values in keys.items():
        seen: set[object] = set()
        for value in values:
            if value in seen:
                problems.append(f"the same {what} {value} appears twice (a page read twice?)")
                break
            seen.add(value)
    account_ids = {a.native_id for a in snapshot.accounts}
    holders = {g.account_id for g in snapshot.grants} | {c.account_id for c in snapshot.credentials}
    dangling = sorted(holders - account_ids)
    if dangling:
        problems.append(
            f"{len(dangling)} grant or credential holder(s) are not among the accounts, "
            f"e.g. {dangling[0]}"
        )
    return problems[:limit]


def _audit_details(snapshot_id: int, snapshot: SystemSnapshot) -> Mapping[str, Any]:
    return {
        "snapshot_id": snapshot_id,
        "connector": snapshot.connector,
        "source": snapshot.source,
        "collected_at": snapshot.collected_at.isoformat(),
        "complete": snapshot.complete,
        "problems": len(snapshot.errors),
        "counts": counts_of(snapshot),
    }
