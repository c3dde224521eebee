"""Loading the evaluated state: the latest snapshot of every system (or the newest as of a
given time), correlated to people."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from iam_gov.config import Config
from iam_gov.correlate import Overrides, correlate, load_overrides
from iam_gov.engine.state import EvaluationState, SystemView, build_view
from iam_gov.errors import IamGovError
from iam_gov.gcpause import collector_paused
from iam_gov.model import Account
from iam_gov.policy import Policy
from iam_gov.store import Store
from iam_gov.store.people import latest_moves
from iam_gov.store.reviews import review_outcomes
from iam_gov.store.snapshots import (
    SnapshotInfo,
    StaleInfo,
    latest_snapshots,
    load_grants,
    load_snapshot,
    seen_history,
    snapshots_as_of,
    stale_systems,
)
from iam_gov.timeutil import as_of_words, utcnow

STALE_AFTER_DAYS = 7


@dataclass(frozen=True)
class LoadedState:
    """What an evaluation works on, and what was said about the data on the way."""

    state: EvaluationState
    snapshots: dict[str, SnapshotInfo]
    warnings: list[str]
    timings: dict[str, float] = field(default_factory=dict)
    stale: dict[str, StaleInfo] = field(default_factory=dict)
    """Configured systems whose last collect failed: the snapshot used is an older one."""
    as_of: datetime | None = None
    """The moment the state was loaded as of (``load_state(as_of=…)``), None for the latest."""
    not_evaluated: dict[str, str] = field(default_factory=dict)
    """Configured systems left out for want of data, with why (as of a moment: none
    collected by then)."""


def load_state(
    store: Store,
    config: Config,
    policy: Policy,
    *,
    overrides: Overrides | None = None,
    now: datetime | None = None,
    as_of: datetime | None = None,
) -> LoadedState:
    """The latest snapshot of every configured system, correlated to the people in HR.

    ``as_of``: the state as the store knew it at that moment instead: each system's newest
    snapshot collected at or before it, HR moves recorded by then, the decisions of reviews
    closed by then, and ``as_of`` as the evaluation's time (``now`` is ignored). Rules judge
    each system on the day its data was collected, as in every evaluation. The failed collects
    the store records describe the present, so none is called stale."""
    with collector_paused():
        return _load_state(store, config, policy, overrides=overrides, now=now, as_of=as_of)


def _load_state(
    store: Store,
    config: Config,
    policy: Policy,
    *,
    overrides: Overrides | None,
    now: datetime | None,
    as_of: datetime | None = None,
) -> LoadedState:
    started = as_of or now or utcnow()
    if overrides is None:
        overrides = load_overrides(config.correlation.overrides)
    hr_name = config.hr_system
    warnings: list[str] = []
    clock = time.perf_counter()
    not_evaluated: dict[str, str] = {}
    with store.reading() as conn:
        latest = latest_snapshots(conn) if as_of is None else snapshots_as_of(conn, as_of)
        stale = (
            {
                name: info
                for name, info in stale_systems(conn, now=started).items()
                if name in config.systems
            }
            if as_of is None
            else {}
        )
        if hr_name not in latest and as_of is not None:
            raise IamGovError(
                f"the store has no HR data ({hr_name}) collected at or before "
                f"{as_of_words(as_of)}: nothing can be evaluated as of then"
            )
        if hr_name not in latest:
            failed = (
                f" (the last collect failed: {stale[hr_name].reason})" if hr_name in stale else ""
            )
            raise IamGovError(
                f"the store has no HR data ({hr_name}) yet{failed}: run `iam-gov collect` first"
            )
        warnings.extend(stale_warning(info) for info in stale.values())
        hr_info = latest[hr_name]
        hr_snapshot = load_snapshot(conn, hr_info.id, documents=False)
        people = {p.employee_id: p for p in hr_snapshot.people}
        moves = latest_moves(conn, hr_name, collected_by=as_of)
        views: dict[str, SystemView] = {}
        for name in config.systems:
            if name == hr_name:
                continue
            if name not in latest and as_of is not None:
                not_evaluated[name] = (
                    f"no snapshot collected at or before {as_of_words(as_of)}; "
                    "it was not evaluated as of then"
                )
                warnings.append(f"{name}: {not_evaluated[name]}")
                continue
            if name not in latest:
                if name not in stale:  # said above, with the reason
                    warnings.append(f"{name}: no data collected yet; it was not evaluated")
                continue
            snapshot_id = latest[name].id
            snap = load_snapshot(conn, snapshot_id, with_grants=False)
            accounts, observed_since = snap.accounts, None
            if "observation" in snap.settings:
                accounts, observed_since = _with_seen_history(conn, name, accounts, as_of)
            views[name] = build_view(
                latest[name],
                accounts,
                snap.entitlements,
                load_grants(conn, snapshot_id, name),
                snap.credentials,
                snap.settings,
                observed_since,
                snap.documents,
            )
        reviews = review_outcomes(conn, list(views), closed_by=as_of)
    used = {hr_name: hr_info, **{name: view.info for name, view in views.items()}}
    for info in used.values():
        if not info.complete:
            warnings.append(
                f"{info.system}: the latest data is incomplete ({len(info.errors)} problem(s)); "
                "nothing missing from it is taken to mean access was removed"
            )
        age = (started - info.collected_at).days
        if age > STALE_AFTER_DAYS and info.system not in stale:  # its age is said above
            warnings.append(
                f"{info.system}: the data is {age} days old "
                f"(collected {info.collected_at:%Y-%m-%d})"
            )

    timings = {"load": time.perf_counter() - clock}
    clock = time.perf_counter()
    links = correlate(
        list(people.values()),
        (a for view in views.values() for a in view.accounts.values()),
        config.correlation,
        policy,
        overrides,
    )
    state = EvaluationState(
        policy=policy,
        hr=hr_info,
        people=people,
        systems=views,
        links=links,
        evaluated_at=started,
        moves={pid: move for pid, move in moves.items() if pid in people},
        decisions=reviews.approvals,
        review_revocations={
            key: revocation
            for key, revocation in reviews.revocations.items()
            if revocation.closed_at < views[key[0]].as_of
        },
    )
    timings["correlate"] = time.perf_counter() - clock
    return LoadedState(
        state=state,
        snapshots=used,
        warnings=warnings,
        timings=timings,
        stale=stale,
        as_of=as_of,
        not_evaluated=not_evaluated,
    )


def stale_warning(info: StaleInfo) -> str:
    """What an evaluation says about a system whose last collect failed: why, when, and which
    data it used instead."""
    when = f"{info.last_failed_at:%Y-%m-%d %H:%M} UTC"
    if info.failures > 1:
        when += f" ({info.failures} failed collects since {info.failed_at:%Y-%m-%d %H:%M} UTC)"
    said = f"{info.system}: the last collect failed ({info.reason}) at {when}; "
    if info.snapshot is None:
        return said + "there is no earlier snapshot, so it was not evaluated"
    return (
        said + f"the data used is the snapshot of {info.snapshot.collected_at:%Y-%m-%d %H:%M} "
        f"UTC, {info.age_words()} old"
    )


def _with_seen_history(
    conn: Connection, system: str, accounts: tuple[Account, ...], as_of: datetime | None = None
) -> tuple[tuple[Account, ...], datetime | None]:
    """Sampled sign-in data (who is connected when we look) adds up over the stored
    snapshots: an account's last sign-in is the latest time any snapshot saw it (any
    collected by ``as_of``, when given)."""
    seen, since = seen_history(conn, system, collected_by=as_of)
    merged = tuple(
        account.model_copy(update={"last_login_at": seen[account.native_id]})
        if account.native_id in seen
        and (account.last_login_at is None or seen[account.native_id] > account.last_login_at)
        else account
        for account in accounts
    )
    return merged, since
