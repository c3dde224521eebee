"""Working a drift report out of the store: what changed since a baseline, what is out of
policy now, and whether the data can be trusted.

The changes are set-based SQL between two snapshot ids (``NOT EXISTS`` on the tables'
primary keys), never whole snapshots loaded into Python: a 100,000-person company's
millions of grants are compared in the database, and only what changed comes back.

The rule this module keeps above all: a system is compared only when its latest snapshot and
the baseline's are both complete and its last collect did not fail. Otherwise its
``SystemState`` says ``compared=False`` and why, and none of its accounts or grants is called
created, removed, added or removed: data that was not read is not data that was deleted.

Who an account belongs to is the link the engine's correlation recorded for it
(``account_links``): the latest evaluation's for what is there now, the baseline's evaluation's
for what is gone. Whether an entitlement is privileged is the engine's ``is_privileged``
(the system's own flag, or a ``privileged`` pattern of the policy), asked of the snapshot the
grant is in: the current one for added grants, the baseline's for removed ones.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal

from sqlalchemy import Connection, and_, func, literal, select

from iam_gov.campaigns.progress import list_campaigns, overdue_reviewers
from iam_gov.config import Config
from iam_gov.drift.baseline import BaselineSpec, ResolvedBaseline, resolve_baseline
from iam_gov.drift.charts import compute_charts
from iam_gov.drift.model import (
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_STALE,
    AccountChange,
    Charts,
    DriftReport,
    ExpiringException,
    FindingChange,
    GrantChange,
    LeaverStillActive,
    OverdueCampaign,
    Summary,
    SystemState,
)
from iam_gov.engine.state import EvaluationState, build_view
from iam_gov.errors import IamGovError
from iam_gov.model import AccountKind, EmploymentStatus, Person, Severity
from iam_gov.policy import Policy, exception_valid
from iam_gov.store import Store
from iam_gov.store.schema import (
    account_links,
    accounts,
    entitlements,
    evaluations,
    findings,
    grants,
    people,
)
from iam_gov.store.snapshots import (
    SnapshotInfo,
    StaleInfo,
    latest_snapshots,
    load_entitlements,
    stale_systems,
)
from iam_gov.timeutil import as_utc, utcnow

_CHUNK: Final = 500
"""Values per ``IN (…)``: well under every database's limit on bound parameters."""
NEVER_COLLECTED: Final = "no data has been collected from it yet"


class DriftError(IamGovError):
    """The report cannot be made as asked (an unknown ``--fail-on`` severity)."""

    exit_code = 2


def fail_on_severity(value: str) -> Severity:
    """``--fail-on``: one of critical, high, medium, low, info (case ignored)."""
    try:
        return Severity(value.strip().lower())
    except ValueError:
        choices = ", ".join(s.value for s in sorted(Severity, key=lambda s: -s.rank))
        raise DriftError(f"--fail-on {value!r}: not a severity (one of {choices})") from None


def compute_drift(
    store: Store,
    config: Config,
    policy: Policy,
    *,
    baseline: BaselineSpec | None = None,
    fail_on: str | None = None,
    now: datetime | None = None,
    failures: Sequence[str] = (),
    with_charts: bool = True,
    evaluated: EvaluationState | None = None,
) -> DriftReport:
    """The drift report of the configured systems' latest snapshots against ``baseline``
    (default: the previous run). ``fail_on`` defaults to ``[drift] fail_on``; ``failures``
    are what went wrong in the run itself (they make the exit code 5, as a stale system does;
    an incomplete one makes it 4).
    ``with_charts=False`` leaves the chart series out: the leaver SLA chart is the leavers
    report's, which loads the engine's state (about 30 of the 40 seconds a report takes for
    100,000 people; the rest of the report is a few seconds of SQL) unless ``evaluated``, the
    state a run has just evaluated, is given."""
    at = as_utc(now) if now is not None else utcnow()
    threshold = fail_on_severity(fail_on or config.drift.fail_on)
    names = list(config.systems)
    spec = baseline or BaselineSpec.previous()
    with store.reading() as conn:
        everything = latest_snapshots(conn)
        latest = {name: everything[name] for name in names if name in everything}
        stale = {name: info for name, info in stale_systems(conn, now=at).items() if name in names}
        resolved = resolve_baseline(
            conn, spec, current={name: info.id for name, info in latest.items()}, systems=names
        )
        last_evaluation: int | None = conn.execute(
            select(func.max(evaluations.c.id))
        ).scalar_one_or_none()
        states = [_system_state(name, latest, stale, resolved, at) for name in names]
        compared = [s for s in states if s.compared]
        privilege = _Privilege(conn, policy)
        account_rows: list[_AccountRow] = []
        grant_rows: list[_GrantRow] = []
        for state in compared:
            new, old = latest[state.system], resolved.snapshots[state.system]
            if new.id == old.id:
                continue
            account_rows.extend(_account_changes(conn, state.system, new.id, old.id))
            grant_rows.extend(_grant_changes(conn, state.system, new, old, privilege))
        hr = config.hr_system
        who = _Who(
            conn,
            current_evaluation=last_evaluation,
            baseline_evaluation=resolved.evaluation_id,
            hr_snapshots=[
                info.id for info in (latest.get(hr), resolved.snapshots.get(hr)) if info is not None
            ],
        )
        who.look_up(
            [(r.system, r.account_id, r.change == "removed") for r in account_rows]
            + [(r.system, r.account_id, r.change == "removed") for r in grant_rows]
        )
        order = {name: n for n, name in enumerate(names)}
        account_changes = sorted(
            (r.change_of(who) for r in account_rows),
            key=lambda c: (order[c.system], c.change, c.login, c.account_id),
        )
        grant_changes = sorted(
            (r.change_of(who) for r in grant_rows),
            key=lambda c: (
                order[c.system],
                c.change,
                not c.privileged,
                c.login,
                c.entitlement_name,
                c.entitlement_id,
            ),
        )
        finding_changes, open_count = _finding_changes(conn, resolved.findings_since)
        leavers = _leavers_still_active(conn, latest, hr, last_evaluation, order, at)
        campaigns_overdue = _campaigns_overdue(conn, at.date())
    expiring = _exceptions_expiring(policy, at.date(), config.drift.expiring_within_days)
    charts = (
        compute_charts(store, config, policy, now=at, state=evaluated) if with_charts else Charts()
    )

    new_findings = [f for f in finding_changes if f.change == "new"]
    at_or_above = sum(1 for f in new_findings if _rank(f.severity) >= threshold.rank)
    stale_count = sum(1 for s in states if s.stale)
    summary = Summary(
        accounts_created=sum(1 for c in account_changes if c.change == "created"),
        accounts_removed=sum(1 for c in account_changes if c.change == "removed"),
        grants_added=sum(1 for c in grant_changes if c.change == "added"),
        grants_removed=sum(1 for c in grant_changes if c.change == "removed"),
        privileged_added=sum(1 for c in grant_changes if c.change == "added" and c.privileged),
        privileged_removed=sum(1 for c in grant_changes if c.change == "removed" and c.privileged),
        findings_new=len(new_findings),
        findings_resolved=len(finding_changes) - len(new_findings),
        findings_open=open_count,
        new_at_or_above_threshold=at_or_above,
        leavers_still_active=len(leavers),
        exceptions_expiring=len(expiring),
        campaigns_overdue=len(campaigns_overdue),
        stale_systems=stale_count,
    )
    if failures or stale_count:
        exit_code = EXIT_STALE
    elif any(not s.complete for s in states):
        exit_code = EXIT_INCOMPLETE
    elif at_or_above:
        exit_code = EXIT_FINDINGS
    else:
        exit_code = EXIT_OK
    return DriftReport(
        made_at=at,
        baseline=resolved.baseline,
        snapshot_ids={name: info.id for name, info in latest.items()},
        fail_on=threshold.value,
        exit_code=exit_code,
        failures=list(failures),
        systems=states,
        summary=summary,
        accounts=account_changes,
        grants=grant_changes,
        findings=finding_changes,
        leavers_still_active=leavers,
        exceptions_expiring=expiring,
        campaigns_overdue=campaigns_overdue,
        charts=charts,
    )


# --- systems --------------------------------------------------------------------------------


def _system_state(
    name: str,
    latest: Mapping[str, SnapshotInfo],
    stale: Mapping[str, StaleInfo],
    resolved: ResolvedBaseline,
    at: datetime,
) -> SystemState:
    """What is known of one system, and whether its changes can be reported."""
    info = latest.get(name)
    failed = stale.get(name)
    base = resolved.snapshots.get(name)
    reason: str | None = None
    if info is None:
        reason = NEVER_COLLECTED
    elif failed is not None:
        reason = (
            f"its last collect failed ({failed.reason}); its latest data is the snapshot of "
            f"{info.collected_at:%Y-%m-%d %H:%M} UTC"
        )
    elif not info.complete:
        reason = f"its latest snapshot is incomplete ({len(info.errors)} problem(s))"
    elif resolved.none:
        reason = "no baseline: there is no earlier data to compare with"
    elif base is None:
        reason = (
            "the baseline's snapshot of it is no longer stored"
            if name in resolved.baseline.snapshot_ids
            else "the baseline has no data of it"
        )
    elif not base.complete:
        reason = f"the baseline's snapshot of it is incomplete ({len(base.errors)} problem(s))"
    return SystemState(
        system=name,
        snapshot_id=None if info is None else info.id,
        collected_at=None if info is None else info.collected_at,
        complete=info is not None and info.complete,
        # A configured system never collected is as untrustworthy as one whose collect
        # failed: nothing is known of it now.
        stale=failed is not None or info is None,
        stale_reason=failed.reason
        if failed is not None
        else (NEVER_COLLECTED if not info else None),
        stale_since=failed.failed_at if failed is not None else None,
        age_hours=None
        if info is None
        else round((at - info.collected_at).total_seconds() / 3600, 1),
        compared=reason is None,
        not_compared_reason=reason,
    )


# --- accounts and grants ----------------------------------------------------------------


@dataclass(frozen=True)
class _Person:
    person_id: str | None
    kind: str | None
    name: str | None


class _Who:
    """Whom changed accounts belong to: the engine's links (``account_links``) of the latest
    evaluation for what is there now, of the baseline's evaluation (then the latest) for what
    is gone; names from the HR snapshots (the latest, then the baseline's)."""

    def __init__(
        self,
        conn: Connection,
        *,
        current_evaluation: int | None,
        baseline_evaluation: int | None,
        hr_snapshots: Sequence[int],
    ):
        self.conn = conn
        self.current = current_evaluation
        self.baseline = baseline_evaluation
        self.hr_snapshots = list(dict.fromkeys(hr_snapshots))
        self.found: dict[tuple[str, str, bool], _Person] = {}

    def look_up(self, keys: Iterable[tuple[str, str, bool]]) -> None:
        """``(system, account id, gone)``: find every one at once (a query per chunk)."""
        wanted = set(keys)
        links: dict[tuple[str, str, bool], tuple[str | None, str]] = {}
        for gone, evaluations_in_order in (
            (False, [self.current]),
            (True, [self.baseline, self.current]),
        ):
            for evaluation_id in evaluations_in_order:
                if evaluation_id is None:
                    continue
                missing = [k for k in wanted if k[2] is gone and k not in links]
                for (system, account_id), link in _links(
                    self.conn, evaluation_id, {(k[0], k[1]) for k in missing}
                ).items():
                    links[(system, account_id, gone)] = link
        names = _names(
            self.conn, self.hr_snapshots, {p for p, _ in links.values() if p is not None}
        )
        for key in wanted:
            person_id, kind = links.get(key, (None, None))
            self.found[key] = _Person(
                person_id, kind, None if person_id is None else names.get(person_id)
            )

    def of(self, system: str, account_id: str, gone: bool) -> _Person:
        return self.found.get((system, account_id, gone), _Person(None, None, None))


@dataclass(frozen=True)
class _AccountRow:
    system: str
    account_id: str
    login: str
    change: Literal["created", "removed"]
    status: str
    kind: str

    def change_of(self, who: _Who) -> AccountChange:
        person = who.of(self.system, self.account_id, self.change == "removed")
        return AccountChange(
            system=self.system,
            account_id=self.account_id,
            login=self.login,
            change=self.change,
            status=self.status,
            kind=_kind(person.kind, self.kind),
            person_id=person.person_id,
            person_name=person.name,
        )


def _kind(link: str | None, account: str) -> str:
    """As the engine sees it: a policy declaration (in the link) makes a service or
    break-glass account of what the system calls a user."""
    if link is not None and link != AccountKind.HUMAN.value:
        return link
    return account


def _account_changes(
    conn: Connection, system: str, new_id: int, old_id: int
) -> Iterator[_AccountRow]:
    """Accounts in one snapshot and not the other, by native id: two anti-joins."""
    for change, here, there in (("created", new_id, old_id), ("removed", old_id, new_id)):
        a, b = accounts.alias("a"), accounts.alias("b")
        query = select(a.c.native_id, a.c.login, a.c.status, a.c.kind).where(
            a.c.snapshot_id == here,
            ~select(literal(1))
            .where(b.c.snapshot_id == there, b.c.native_id == a.c.native_id)
            .exists(),
        )
        for row in conn.execute(query):
            yield _AccountRow(
                system,
                row.native_id,
                row.login,
                "created" if change == "created" else "removed",
                row.status,
                row.kind,
            )


@dataclass(frozen=True)
class _GrantRow:
    system: str
    account_id: str
    login: str
    entitlement_id: str
    entitlement_name: str
    privileged: bool
    change: Literal["added", "removed"]
    via: str | None

    def change_of(self, who: _Who) -> GrantChange:
        person = who.of(self.system, self.account_id, self.change == "removed")
        return GrantChange(
            system=self.system,
            account_id=self.account_id,
            login=self.login,
            entitlement_id=self.entitlement_id,
            entitlement_name=self.entitlement_name,
            privileged=self.privileged,
            change=self.change,
            via=self.via,
            person_id=person.person_id,
            person_name=person.name,
        )


class _Privilege:
    """The engine's ``is_privileged`` over one snapshot's entitlements, worked out once per
    snapshot: its own flag, or a policy ``privileged`` pattern for its system."""

    def __init__(self, conn: Connection, policy: Policy):
        self.conn = conn
        self.policy = policy
        self._ids: dict[int, frozenset[str]] = {}

    def ids(self, info: SnapshotInfo) -> frozenset[str]:
        found = self._ids.get(info.id)
        if found is None:
            view = build_view(
                info, (), tuple(load_entitlements(self.conn, info.id, info.system)), (), (), {}
            )
            # Only the policy and the view are asked: the rest of the state stays empty.
            state = EvaluationState(
                policy=self.policy,
                hr=info,
                people={},
                systems={info.system: view},
                links={},
                evaluated_at=info.collected_at,
            )
            found = self._ids[info.id] = state.privileged_ids(view)
        return found


def _grant_changes(
    conn: Connection,
    system: str,
    new: SnapshotInfo,
    old: SnapshotInfo,
    privilege: _Privilege,
) -> Iterator[_GrantRow]:
    """(account, entitlement) pairs held in one snapshot and not in the other, directly or
    through any group: a pair that moved from one group to another is not a change. Each
    comes with its account's login, its entitlement's name and the groups it comes through,
    from the snapshot it is in."""
    for change, here, there in (("added", new, old), ("removed", old, new)):
        privileged = privilege.ids(here)
        g, o = grants.alias("g"), grants.alias("o")
        account, entitlement, group = (
            accounts.alias("acc"),
            entitlements.alias("ent"),
            entitlements.alias("grp"),
        )
        query = (
            select(
                g.c.account_id,
                g.c.entitlement_id,
                g.c.via,
                account.c.login,
                entitlement.c.name,
                group.c.name.label("via_name"),
            )
            .select_from(
                g.outerjoin(
                    account,
                    and_(account.c.snapshot_id == here.id, account.c.native_id == g.c.account_id),
                )
                .outerjoin(
                    entitlement,
                    and_(
                        entitlement.c.snapshot_id == here.id,
                        entitlement.c.entitlement_id == g.c.entitlement_id,
                    ),
                )
                .outerjoin(
                    group,
                    and_(group.c.snapshot_id == here.id, group.c.entitlement_id == g.c.via),
                )
            )
            .where(
                g.c.snapshot_id == here.id,
                ~select(literal(1))
                .where(
                    o.c.snapshot_id == there.id,
                    o.c.account_id == g.c.account_id,
                    o.c.entitlement_id == g.c.entitlement_id,
                )
                .exists(),
            )
        )
        pairs: dict[tuple[str, str], list[Any]] = {}
        for row in conn.execute(query):
            pairs.setdefault((row.account_id, row.entitlement_id), []).append(row)
        for (account_id, entitlement_id), rows in pairs.items():
            first = rows[0]
            direct = any(not row.via for row in rows)
            groups = sorted({row.via_name or row.via for row in rows if row.via})
            yield _GrantRow(
                system=system,
                account_id=account_id,
                login=first.login or account_id,
                entitlement_id=entitlement_id,
                entitlement_name=first.name or entitlement_id,
                privileged=entitlement_id in privileged,
                change="added" if change == "added" else "removed",
                via=None if direct or not groups else ", ".join(groups),
            )


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for n in range(0, len(values), _CHUNK):
        yield values[n : n + _CHUNK]


def _links(
    conn: Connection, evaluation_id: int, keys: Collection[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str | None, str]]:
    """(system, account id) -> (person id, kind) as that evaluation linked them."""
    by_system: dict[str, list[str]] = {}
    for system, account_id in keys:
        by_system.setdefault(system, []).append(account_id)
    found: dict[tuple[str, str], tuple[str | None, str]] = {}
    c = account_links.c
    for system, ids in sorted(by_system.items()):
        for chunk in _chunks(sorted(ids)):
            for row in conn.execute(
                select(c.account_id, c.person_id, c.kind).where(
                    c.evaluation_id == evaluation_id,
                    c.system == system,
                    c.account_id.in_(list(chunk)),
                )
            ):
                found[(system, row.account_id)] = (row.person_id, row.kind)
    return found


def _names(conn: Connection, hr_snapshots: Sequence[int], ids: Collection[str]) -> dict[str, str]:
    """Employee id -> name, from the first of the HR snapshots that has them."""
    found: dict[str, str] = {}
    for snapshot_id in hr_snapshots:
        missing = sorted(set(ids) - set(found))
        for chunk in _chunks(missing):
            for row in conn.execute(
                select(people.c.employee_id, people.c.name).where(
                    people.c.snapshot_id == snapshot_id, people.c.employee_id.in_(list(chunk))
                )
            ):
                found[row.employee_id] = row.name
    return found


# --- findings -------------------------------------------------------------------------------


def _finding_changes(conn: Connection, since: datetime | None) -> tuple[list[FindingChange], int]:
    """New findings (first seen after ``since`` and still open) and resolved ones (resolved
    after it), most severe first; and how many are open. Without a baseline every open
    finding is new and none is called resolved."""
    f = findings.c
    columns = (
        f.finding_id,
        f.rule_id,
        f.severity,
        f.system,
        f.subject,
        f.message,
        f.first_seen,
        f.resolved_at,
        f.person_id,
    )
    new_query = select(*columns).where(f.resolved_at.is_(None))
    if since is not None:
        new_query = new_query.where(f.first_seen > since)
    found = [_finding(row, "new") for row in conn.execute(new_query)]
    if since is not None:
        found.extend(
            _finding(row, "resolved")
            for row in conn.execute(select(*columns).where(f.resolved_at > since))
        )
    open_count = conn.execute(
        select(func.count()).select_from(findings).where(f.resolved_at.is_(None))
    ).scalar_one()
    found.sort(key=lambda c: (c.change != "new", -_rank(c.severity), c.rule_id, c.subject))
    return found, int(open_count)


def _rank(severity: str) -> int:
    try:
        return Severity(severity).rank
    except ValueError:
        return -1


def _finding(row: Any, change: Literal["new", "resolved"]) -> FindingChange:
    return FindingChange(
        finding_id=row.finding_id,
        rule_id=row.rule_id,
        severity=row.severity,
        system=row.system,
        subject=row.subject,
        message=row.message,
        change=change,
        first_seen=row.first_seen,
        resolved_at=row.resolved_at,
        person_id=row.person_id,
    )


# --- leavers, exceptions, campaigns ---------------------------------------------------------


def _leavers_still_active(
    conn: Connection,
    latest: Mapping[str, SnapshotInfo],
    hr: str,
    evaluation_id: int | None,
    order: Mapping[str, int],
    at: datetime,
) -> list[LeaverStillActive]:
    """People HR shows gone (``EvaluationState.has_left`` on the day of each system's data)
    whose linked accounts (the latest evaluation's links) are active in the latest snapshot.
    One join per system, over the few people HR marks terminated or gives an end date."""
    hr_info = latest.get(hr)
    if hr_info is None or evaluation_id is None:
        return []
    found: dict[str, tuple[Person, list[tuple[int, str, str]]]] = {}
    link, account, person = account_links.alias("l"), accounts.alias("a"), people.alias("p")
    for system, info in latest.items():
        if system == hr:
            continue
        on = info.collected_at.date()
        query = (
            select(
                person.c.employee_id,
                person.c.name,
                person.c.status,
                person.c.end_date,
                account.c.login,
            )
            .select_from(
                link.join(
                    account,
                    and_(
                        account.c.snapshot_id == info.id, account.c.native_id == link.c.account_id
                    ),
                ).join(
                    person,
                    and_(
                        person.c.snapshot_id == hr_info.id,
                        person.c.employee_id == link.c.person_id,
                    ),
                )
            )
            .where(
                link.c.evaluation_id == evaluation_id,
                link.c.system == system,
                account.c.status == "active",
                (person.c.status == EmploymentStatus.TERMINATED.value)
                | person.c.end_date.is_not(None),
            )
        )
        for row in conn.execute(query):
            known = found.get(row.employee_id)
            if known is None:
                someone = Person.model_construct(
                    employee_id=row.employee_id,
                    name=row.name,
                    status=EmploymentStatus(row.status),
                    end_date=_day(row.end_date),
                )
                known = found[row.employee_id] = (someone, [])
            if EvaluationState.has_left(known[0], on):
                known[1].append((order.get(system, len(order)), system, row.login))
    today = at.date()
    leavers = [
        LeaverStillActive(
            employee_id=someone.employee_id,
            name=someone.name,
            end_date=someone.end_date,
            days_since=None if someone.end_date is None else (today - someone.end_date).days,
            accounts=[f"{system}:{login}" for _, system, login in sorted(held)],
        )
        for someone, held in found.values()
        if held
    ]
    leavers.sort(key=lambda x: (x.end_date is None, x.end_date or date.min, x.employee_id))
    return leavers


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _exceptions_expiring(policy: Policy, today: date, within_days: int) -> list[ExpiringException]:
    """Exceptions valid today that end within ``within_days`` (expired ones are the
    ``expired-exception`` finding's), soonest first."""
    last = today + timedelta(days=within_days)
    found = [
        ExpiringException(
            system=exc.system,
            entitlement=exc.entitlement,
            person=exc.person,
            account=exc.account,
            approver=exc.approver,
            expires=exc.expires,
            days_left=(exc.expires - today).days,
            where=located.where,
        )
        for located in policy.exceptions
        if exception_valid(exc := located.item, today) and exc.expires <= last
    ]
    found.sort(key=lambda e: (e.expires, e.system, e.entitlement, e.where))
    return found


def _campaigns_overdue(conn: Connection, today: date) -> list[OverdueCampaign]:
    """Open campaigns past their due date with items still undecided, and the reviewers
    those items wait for (most pending first), most overdue first."""
    overdue = [c for c in list_campaigns(conn, statuses=["open"]) if c.overdue(today)]
    if not overdue:
        return []
    reviewers: dict[int, list[str]] = {}
    for late in sorted(overdue_reviewers(conn, today), key=lambda r: (-r.pending, r.reviewer)):
        reviewers.setdefault(late.campaign_id, []).append(late.reviewer)
    found = [
        OverdueCampaign(
            campaign_id=c.id,
            name=c.name,
            due_on=c.due_on,
            days_overdue=(today - c.due_on).days,
            pending_items=c.counts.pending,
            pending_reviewers=reviewers.get(c.id, []),
        )
        for c in overdue
        if c.due_on is not None
    ]
    found.sort(key=lambda c: (-c.days_overdue, c.campaign_id))
    return found
