"""Evaluation: the loaded state -> every enabled rule -> findings recorded in the store."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from iam_gov import audit, progress
from iam_gov.config import Config
from iam_gov.correlate import Overrides
from iam_gov.engine import EvaluationState, load_state
from iam_gov.errors import PolicyError
from iam_gov.gcpause import collector_paused
from iam_gov.model import Finding, Severity
from iam_gov.policy import Policy
from iam_gov.policy.match import unfilled_match_fields
from iam_gov.rules import Hit, Rule, all_rules
from iam_gov.store import Store
from iam_gov.store.findings import Recorded, findings_as_of, record_evaluation
from iam_gov.store.snapshots import SnapshotInfo, snapshot_settings
from iam_gov.timeutil import utcnow


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
    state: EvaluationState | None = field(default=None, repr=False, compare=False)
    """The state evaluated, for what comes next in the same run (the drift report's leaver
    chart) to use rather than load it again."""
    as_of: datetime | None = None
    """Set when evaluated as of that moment (``evaluate(as_of=…)``): nothing was recorded,
    ``evaluation_id`` is 0 and ``recorded`` compares with the findings the recorded history
    had open then."""
    not_evaluated: dict[str, str] = field(default_factory=dict)
    """Configured systems left out for want of data (as of a moment), with why."""
    expected: list[ExpectedHit] = field(default_factory=list)
    """What the rules would report but the policy declares expected (not findings)."""

    def by_severity(self) -> Counter[Severity]:
        return Counter(f.severity for f in self.findings)


def evaluate(
    store: Store,
    config: Config,
    policy: Policy,
    *,
    overrides: Overrides | None = None,
    now: datetime | None = None,
    as_of: datetime | None = None,
) -> EvaluationReport:
    """Evaluate the latest snapshots and record the evaluation and its findings.

    ``as_of``: evaluate the data as the store knew it at that moment (``load_state(as_of=…)``)
    and record nothing: the finding history of the present (first seen, last seen, resolved)
    and the audit log stay as they are."""
    with collector_paused():
        return _evaluate(store, config, policy, overrides=overrides, now=now, as_of=as_of)


def _evaluate(
    store: Store,
    config: Config,
    policy: Policy,
    *,
    overrides: Overrides | None,
    now: datetime | None,
    as_of: datetime | None = None,
) -> EvaluationReport:
    started = as_of or now or utcnow()
    with progress.phase("load and correlate") as shown:
        loaded = load_state(store, config, policy, overrides=overrides, now=started, as_of=as_of)
        shown.done(_loaded_words(loaded.state, loaded.timings))
    state, used, warnings = loaded.state, loaded.snapshots, loaded.warnings
    with store.reading() as conn:
        mapped = snapshot_settings(conn, state.hr.id).get("mapped_fields")
    unfilled = unfilled_match_fields(
        [(r.where, name, r.item.match) for name, r in policy.roles.items()],
        state.people.values(),
        mapped if isinstance(mapped, list) else None,
    )
    if unfilled:  # a role that matches nobody would make its members' access all "excess"
        raise PolicyError(unfilled)
    hr_info = state.hr
    links = state.links
    timings = dict(loaded.timings)
    clock = time.perf_counter()
    expected: list[ExpectedHit] = []
    with progress.phase("rules") as shown:
        findings, skipped = run_rules(state, all_rules(), expected)
        shown.done(f"{len(findings):,} findings, {len(skipped)} rule(s) skipped")
    timings["rules"] = time.perf_counter() - clock
    matched = dict(Counter(x.method for x in links.values() if x.person_id is not None))
    unlinked = dict(Counter(x.kind.value for x in links.values() if x.person_id is None))
    if as_of is not None:
        with store.reading() as conn:
            then = findings_as_of(conn, as_of) or []
        was_open = {f.finding_id for f in then}
        found = {f.finding_id for f in findings}
        return EvaluationReport(
            evaluation_id=0,
            evaluated_at=as_of,
            findings=findings,
            recorded=Recorded(
                evaluation_id=0,
                new=len(found - was_open),
                still_open=len(found & was_open),
                reopened=0,
                resolved=len(was_open - found),
                kept_open=0,
            ),
            snapshots=used,
            skipped=skipped,
            warnings=warnings,
            matched=matched,
            unlinked=unlinked,
            timings=timings,
            state=state,
            as_of=as_of,
            not_evaluated=dict(loaded.not_evaluated),
            expected=expected,
        )
    finished = utcnow() if now is None else now

    def can_resolve(rule_id: str, system: str | None) -> bool:
        if rule_id in skipped or not policy.rule_enabled(rule_id):
            return False
        if system is not None and system in used:
            return (
                used[system].complete
                and hr_info.complete
                and all(d in used and used[d].complete for d in depends_on(system))
            )
        return hr_info.complete and system is None

    def depends_on(system: str) -> list[str]:
        """The systems whose data a system's findings are judged by too (a VPN behind RADIUS:
        the IdP holding each user's factors), from its snapshot's settings."""
        view = state.systems.get(system)
        names = view.settings.get("depends_on") if view is not None else None
        return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []

    summary = {
        "findings": len(findings),
        "by_severity": dict(Counter(f.severity.value for f in findings)),
        "by_rule": dict(Counter(f.rule_id for f in findings)),
        "skipped_rules": skipped,
        "warnings": warnings,
        "expected_by_policy": [asdict(e) for e in expected],
    }
    clock = time.perf_counter()
    with progress.phase("store findings") as shown, store.writing() as conn:
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
        shown.done(f"{recorded.new:,} new, {recorded.resolved:,} resolved")
    timings["store"] = time.perf_counter() - clock
    return EvaluationReport(
        evaluation_id=recorded.evaluation_id,
        evaluated_at=finished,
        findings=findings,
        recorded=recorded,
        snapshots=used,
        skipped=skipped,
        warnings=warnings,
        matched=matched,
        unlinked=unlinked,
        timings=timings,
        state=state,
        expected=expected,
    )


@dataclass(frozen=True)
class ExpectedHit:
    """What a rule would report but the policy declares expected (a break-glass account that
    is admin by design): not a finding; shown by ``explain``, counted in the summary."""

    rule_id: str
    system: str | None
    subject: str
    person_id: str | None
    message: str
    why: str
    logins: tuple[str, ...] = ()
    """The accounts it is about (their logins), for ``explain``."""


def _loaded_words(state: EvaluationState, timings: dict[str, float]) -> str:
    """What a progress line says of the loaded state: its size and the two parts' seconds."""
    accounts = sum(len(view.accounts) for view in state.systems.values())
    parts = [
        f"{len(state.systems) + 1} systems, {len(state.people):,} people, {accounts:,} accounts"
    ]
    parts += [f"{what} {seconds:.1f} s" for what, seconds in timings.items()]
    return ", ".join(parts)


def run_rules(
    state: EvaluationState,
    rules: dict[str, Rule],
    expected: list[ExpectedHit] | None = None,
) -> tuple[list[Finding], dict[str, str]]:
    """Every enabled rule over the state; returns findings and the rules that did not run.
    Hits the policy declares expected are not findings: they go to ``expected``.

    Rules that name the same ``parts`` (the AWS rules: one account of an organization after
    another) run together on each part in turn, so that what one part's analysis holds is let
    go before the next; their findings are the same as run one rule after another."""
    findings: dict[str, Finding] = {}
    skipped: dict[str, str] = {}
    found_expected: dict[str, list[ExpectedHit]] = {}
    together: dict[Any, list[tuple[str, Rule, BaseModel]]] = {}
    alone: list[tuple[str, Rule, BaseModel]] = []
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
        if rule.parts is not None:
            together.setdefault(rule.parts, []).append((rule_id, rule, params))
        else:
            alone.append((rule_id, rule, params))
    # The rules run by parts first: what their analysis keeps between parts is let go when
    # the last part is done, before the other rules add their findings.
    for parts, group in together.items():
        for _part in parts(state):
            for rule_id, rule, params in group:
                _take(findings, found_expected, rule_id, rule, rule.check(state, params))
    for rule_id, rule, params in alone:
        _take(findings, found_expected, rule_id, rule, rule.check(state, params))
    if expected is not None:
        for rule_id in sorted(found_expected):
            hits = found_expected[rule_id]
            if rules[rule_id].parts is not None:
                hits.sort(key=lambda x: (x.system, x.subject))
            expected.extend(hits)
    ordered = sorted(findings.values(), key=lambda f: (-f.severity.rank, f.rule_id, f.subject))
    return ordered, skipped


def _take(
    findings: dict[str, Finding],
    expected: dict[str, list[ExpectedHit]],
    rule_id: str,
    rule: Rule,
    hits: Iterable[Hit],
) -> None:
    """A rule's hits as findings (the first of a subject wins), or as expected hits."""
    for hit in hits:
        if hit.expected is not None:
            expected.setdefault(rule_id, []).append(_expected(rule_id, hit, hit.expected))
            continue
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


def _expected(rule_id: str, hit: Hit, why: str) -> ExpectedHit:
    evidence = hit.evidence.model_dump(mode="json")
    logins = [evidence.get("account_login")]
    logins += [p.get("login") for p in evidence.get("principals") or () if isinstance(p, dict)]
    return ExpectedHit(
        rule_id=rule_id,
        system=hit.system,
        subject=hit.subject,
        person_id=hit.person_id,
        message=hit.message,
        why=why,
        logins=tuple(dict.fromkeys(str(x) for x in logins if x)),
    )


__all__ = ["EvaluationReport", "ExpectedHit", "evaluate", "finding_id", "run_rules"]
