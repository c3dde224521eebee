"""What a run may not do, checked before any change: apply a plan the systems have moved
away from, disable accounts en masse, act on data too old or incomplete to trust."""

from __future__ import annotations

from collections import Counter
from collections.abc import Set
from datetime import datetime, timedelta

from sqlalchemy import Connection

from iam_gov.config import Config
from iam_gov.model import AccountKind, ActionKind
from iam_gov.policy import Policy
from iam_gov.store.snapshots import SnapshotInfo, latest_snapshots, load_snapshot

from .plan import Plan, Step

SHARE_FLOOR = 5
"""The share guard counts from this many accounts disabled in one system: one leaver's account
in a three-peer WireGuard server is a third of it, and no mass change."""

DISABLING = frozenset({ActionKind.DISABLE_ACCOUNT, ActionKind.SUSPEND_ACCOUNT})


def stale_basis(conn: Connection, plan: Plan, skip: Set[str] = frozenset()) -> list[str]:
    """How the systems have changed, for the accounts the plan touches, since it was made:
    each a sentence. Empty: the plan still describes the world. The systems in ``skip`` are
    not checked."""
    from .planner import digest_of_snapshot

    latest = latest_snapshots(conn)
    problems = []
    for basis in plan.basis:
        if basis.system in skip:
            continue
        info = latest.get(basis.system)
        if info is None:
            problems.append(f"{basis.system}: the store no longer has any snapshot of it")
            continue
        # Worked out even from the same snapshot: a plan file edited to touch other accounts
        # than it was made for no longer matches its own basis.
        ids = {s.action.account_id for s in plan.steps if s.action.system == basis.system}
        snapshot = load_snapshot(conn, info.id, documents=False)
        if digest_of_snapshot(snapshot, ids) != basis.state and info.id == basis.snapshot_id:
            problems.append(
                f"{basis.system}: the plan's steps do not match the state it says it was made "
                "from (was the plan file edited?)"
            )
        elif digest_of_snapshot(snapshot, ids) != basis.state:
            problems.append(
                f"{basis.system}: the plan was made from the snapshot of "
                f"{basis.collected_at:%Y-%m-%d %H:%M} UTC; the one of "
                f"{info.collected_at:%Y-%m-%d %H:%M} UTC shows a different state of the "
                "accounts it touches"
            )
    planned = {b.system for b in plan.basis}
    for system in sorted({s.action.system for s in plan.steps} - planned):
        problems.append(f"{system}: the plan acts on it but says nothing of its state")
    return problems


def protected_now(conn: Connection, policy: Policy, plan: Plan) -> dict[str, str]:
    """Step id -> why its account is protected today (break-glass or service, declared in
    the policy or so marked by its system), whatever the plan file says: a saved plan is an
    input, and a step's ``skip`` could have been taken out of it."""
    latest = latest_snapshots(conn)
    out: dict[str, str] = {}
    by_system: dict[str, list[Step]] = {}
    for step in plan.steps:
        if step.skip is None:
            by_system.setdefault(step.action.system, []).append(step)
    for system, steps in by_system.items():
        info = latest.get(system)
        if info is None:
            continue
        wanted = {s.action.account_id for s in steps}
        snapshot = load_snapshot(conn, info.id, documents=False, with_grants=False)
        accounts = {a.native_id: a for a in snapshot.accounts if a.native_id in wanted}
        for step in steps:
            account = accounts.get(step.action.account_id)
            if account is None:
                continue
            declared = policy.declared(account)
            kind = declared.item.kind if declared is not None else account.kind
            if kind in {AccountKind.BREAK_GLASS, AccountKind.SERVICE}:
                out[step.step_id] = (
                    f"protected: a {kind.value} account is never touched by deprovisioning"
                )
    return out


def unfit_systems(conn: Connection, config: Config, plan: Plan, now: datetime) -> dict[str, str]:
    """System -> why nothing may be done on it now: its latest snapshot is incomplete or
    older than ``max_snapshot_age_hours``, or the system is no longer configured."""
    latest = latest_snapshots(conn)
    limit = timedelta(hours=config.deprovision.max_snapshot_age_hours)
    out: dict[str, str] = {}
    for system in {s.action.system for s in plan.steps}:
        info: SnapshotInfo | None = latest.get(system)
        if system not in config.systems:
            out[system] = f"{system}: not a configured system any more"
        elif info is None:
            out[system] = f"{system}: never collected"
        elif not info.complete:
            out[system] = (
                f"{system}: the latest snapshot is incomplete: no action on data that may be "
                "missing accounts (collect it again)"
            )
        elif now - info.collected_at > limit:
            hours = (now - info.collected_at).total_seconds() / 3600
            out[system] = (
                f"{system}: the latest snapshot is {hours:.0f} hours old (more than "
                f"{config.deprovision.max_snapshot_age_hours:g}): collect it again first"
            )
    return out


def mass_change(conn: Connection, config: Config, steps: list[Step]) -> str | None:
    """Why these steps are a mass change (more accounts disabled than ``max_accounts``, or
    than ``max_share`` of a system's accounts), or None."""
    disabled = Counter(
        s.action.system for s in steps if s.action.kind in DISABLING and s.skip is None
    )
    accounts = sum(disabled.values())
    settings = config.deprovision
    if accounts > settings.max_accounts:
        return (
            f"the run would disable {accounts} accounts, more than max_accounts = "
            f"{settings.max_accounts} ([deprovision] in the configuration)"
        )
    latest = latest_snapshots(conn)
    for system, count in sorted(disabled.items()):
        info = latest.get(system)
        total = info.counts.get("accounts", 0) if info else 0
        if count >= SHARE_FLOOR and total and count / total > settings.max_share:
            return (
                f"the run would disable {count} of the {total} accounts of {system} "
                f"({count / total:.0%}), more than max_share = {settings.max_share:.0%}"
            )
    return None
