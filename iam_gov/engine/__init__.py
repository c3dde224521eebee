"""Evaluation: latest snapshots -> correlated identities -> rules -> findings in the store."""

from __future__ import annotations

import gc
import hashlib
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from iam_gov import audit
from iam_gov.config import Config
from iam_gov.correlate import AccountLink, Overrides, correlate, load_overrides
from iam_gov.engine.state import EvaluationState, SystemView, build_view
from iam_gov.errors import IamGovError
from iam_gov.model import Account, Finding, Severity
from iam_gov.policy import Policy
from iam_gov.rules import Rule, all_rules
from iam_gov.store import Store
from iam_gov.store.findings import Recorded, record_evaluation
from iam_gov.store.people import latest_moves
from iam_gov.store.snapshots import (
    SnapshotInfo,
    latest_snapshots,
    load_grants,
    load_snapshot,
    seen_history,
)
from iam_gov.timeutil import utcnow

STALE_AFTER_DAYS = 7


def finding_id(rule_id: str, subject: str) -> str:
    """Stable across runs: the same rule on the same subject is the same finding."""
    return hashlib.sha256(f"{rule_id}\n{subject}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class EvaluationReport:
    evaluation_id: int
    evaluated_at: datetime
    findings: list[Finding]
    recorded: Recorded
    snapshots: dict[str, SnapshotInfo]
    skipped: dict[str, str] = field(default_factory=dict)
    """Rule id -> why it did not run."""
    warnings: list[str] = field(default_factory=list)
    matched: dict[str, int] = field(default_factory=dict)
    """Accounts linked to a person, by how: method -> count."""
    unlinked: dict[str, int] = field(default_factory=dict)
    """Accounts that are no one's, by kind: service, break-glass, human (orphans)."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds each phase took: load, correlate, rules, store."""

    def by_severity(self) -> Counter[Severity]:
        return Counter(f.severity for f in self.findings)


@dataclass(frozen=True)
class LoadedState:
    """What an evaluation works on, and what was said about the data on the way."""

    state: EvaluationState
    snapshots: dict[str, SnapshotInfo]
    warnings: list[str]
    timings: dict[str, float] = field(default_factory=dict)


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Evaluation turns millions of rows into objects, none of which form reference cycles:
    left on, the cycle collector would walk all of them again and again as they pile up,
    which takes longer than building them. They are freed by reference counting as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_state(
    store: Store,
    config: Config,
    policy: Policy,
    *,
    overrides: Overrides | None = None,
    now: datetime | None = None,
) -> LoadedState:
    """The latest snapshot of every configured system, correlated to the people in HR."""
    with cycle_collector_paused():
        return _load_state(store, config, policy, overrides=overrides, now=now)


def _load_state(
    store: Store,
    config: Config,
    policy: Policy,
    *,
    overrides: Overrides | None,
    now: datetime | None,
) -> LoadedState:
    started = now or utcnow()
    if overrides is None:
        overrides = load_overrides(config.correlation.overrides)
    hr_name = config.hr_system
    warnings: list[str] = []
    clock = time.perf_counter()
    with store.reading() as conn:
        latest = latest_snapshots(conn)
        if hr_name not in latest:
            raise IamGovError(
                f"the store has no HR data ({hr_name}) yet: run `iam-gov collect` first"
            )
        hr_info = latest[hr_name]
        hr_snapshot = load_snapshot(conn, hr_info.id, documents=False)
        people = {p.employee_id: p for p in hr_snapshot.people}
        moves = latest_moves(conn, hr_name)
        views: dict[str, SystemView] = {}
        for name in config.systems:
            if name == hr_name:
                continue
            if name not in latest:
                warnings.append(f"{name}: no data collected yet; it was not evaluated")
                continue
            snapshot_id = latest[name].id
            snap = load_snapshot(conn, snapshot_id, with_grants=False)
            accounts, observed_since = snap.accounts, None
            if "observation" in snap.settings:
                accounts, observed_since = _with_seen_history(conn, name, accounts)
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
    used = {hr_name: hr_info, **{name: view.info for name, view in views.items()}}
    for info in used.values():
        if not info.complete:
            warnings.append(
                f"{info.system}: the latest data is incomplete ({len(info.errors)} problem(s)); "
                "nothing missing from it is taken to mean access was removed"
            )
        age = (started - info.collected_at).days
        if age > STALE_AFTER_DAYS:
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
    )
    timings["correlate"] = time.perf_counter() - clock
    return LoadedState(state=state, snapshots=used, warnings=warnings, timings=timings)


def evaluate(
    store: Store,
    config: Config,
    policy: Policy,
    *,
    overrides: Overrides | None = None,
    now: datetime | None = None,
) -> EvaluationReport:
    with cycle_collector_paused():
        return _evaluate(store, config, policy, overrides=overrides, now=now)


def _evaluate(
    store: Store,
    config: Config,
    policy: Policy,
    *,
    overrides: Overrides | None,
    now: datetime | None,
) -> EvaluationReport:
    started = now or utcnow()
    loaded = load_state(store, config, policy, overrides=overrides, now=started)
    state, used, warnings = loaded.state, loaded.snapshots, loaded.warnings
    hr_info = state.hr
    links = state.links
    timings = dict(loaded.timings)
    clock = time.perf_counter()
    findings, skipped = run_rules(state, all_rules())
    timings["rules"] = time.perf_counter() - clock
    finished = utcnow() if now is None else now

    def can_resolve(rule_id: str, system: str | None) -> bool:
        if rule_id in skipped or not policy.rule_enabled(rule_id):
            return False
        if system is not None and system in used:
            return used[system].complete and hr_info.complete
        return hr_info.complete and system is None

    summary = {
        "findings": len(findings),
        "by_severity": dict(Counter(f.severity.value for f in findings)),
        "by_rule": dict(Counter(f.rule_id for f in findings)),
        "skipped_rules": skipped,
        "warnings": warnings,
    }
    clock = time.perf_counter()
    with store.writing() as conn:
        recorded = record_evaluation(
            conn,
            started_at=started,
            finished_at=finished,
            snapshot_ids={name: info.id for name, info in used.items()},
            policy_digest=policy.digest,
            summary=summary,
            links=links.values(),
            current=findings,
            can_resolve=can_resolve,
        )
        audit.append(
            conn,
            "evaluate",
            "all systems",
            {
                "evaluation_id": recorded.evaluation_id,
                "snapshots": {name: info.id for name, info in used.items()},
                "policy_digest": policy.digest,
                "findings": len(findings),
                "new": recorded.new,
                "resolved": recorded.resolved,
            },
        )
    timings["store"] = time.perf_counter() - clock
    return EvaluationReport(
        evaluation_id=recorded.evaluation_id,
        evaluated_at=finished,
        findings=findings,
        recorded=recorded,
        snapshots=used,
        skipped=skipped,
        warnings=warnings,
        matched=dict(Counter(x.method for x in links.values() if x.person_id is not None)),
        unlinked=dict(Counter(x.kind.value for x in links.values() if x.person_id is None)),
        timings=timings,
    )


def _with_seen_history(
    conn: Connection, system: str, accounts: tuple[Account, ...]
) -> tuple[tuple[Account, ...], datetime | None]:
    """Sampled sign-in data (who is connected when we look) adds up over the stored
    snapshots: an account's last sign-in is the latest time any snapshot saw it."""
    seen, since = seen_history(conn, system)
    merged = tuple(
        account.model_copy(update={"last_login_at": seen[account.native_id]})
        if account.native_id in seen
        and (account.last_login_at is None or seen[account.native_id] > account.last_login_at)
        else account
        for account in accounts
    )
    return merged, since


def run_rules(
    state: EvaluationState, rules: dict[str, Rule]
) -> tuple[list[Finding], dict[str, str]]:
    """Every enabled rule over the state; returns findings and the rules that did not run."""
    findings: dict[str, Finding] = {}
    skipped: dict[str, str] = {}
    for rule_id, rule in sorted(rules.items()):
        settings = state.policy.rules.get(rule_id)
        if settings is not None and not settings.enabled:
            skipped[rule_id] = "disabled in the policy"
            continue
        if rule.needs_complete_hr and not state.hr.complete:
            skipped[rule_id] = (
                f"the HR data is incomplete ({len(state.hr.errors)} bad record(s)): "
                "someone missing from it would look like nobody"
            )
            continue
        params = settings.params if settings is not None else rule.params()
        for hit in rule.check(state, params):
            fid = finding_id(rule_id, hit.subject)
            if fid in findings:
                continue
            findings[fid] = Finding(
                finding_id=fid,
                rule_id=rule_id,
                severity=hit.severity or rule.severity,
                system=hit.system,
                subject=hit.subject,
                person_id=hit.person_id,
                message=hit.message,
                evidence=hit.evidence.model_dump(mode="json"),
            )
    ordered = sorted(findings.values(), key=lambda f: (-f.severity.rank, f.rule_id, f.subject))
    return ordered, skipped


__all__ = ["AccountLink", "EvaluationReport", "evaluate", "finding_id", "run_rules"]
