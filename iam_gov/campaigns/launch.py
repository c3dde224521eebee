"""Creating a campaign and launching it: a frozen population of (account, entitlement) items.

Launch works on the latest snapshots and the evaluation made of them, and refuses an
incomplete snapshot: a review of half a system would certify the half nobody saw. What needs
the policy (roles, privileged patterns, exceptions, owners) is worked out in Python once per
person, role set or entitlement, and put in temporary tables; the items themselves are made
by one ``INSERT … SELECT`` per system and one that numbers them in review order, so that a
million items take seconds, not a row at a time.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)

from iam_gov import audit
from iam_gov.campaigns.definition import (
    CampaignDefinition,
    CampaignError,
    Precertify,
    ReviewerRule,
    definition_from_json,
)
from iam_gov.config import Config
from iam_gov.engine.state import EvaluationState
from iam_gov.model import Entitlement, Person, Severity
from iam_gov.policy import Policy, exception_valid
from iam_gov.policy.match import entitlement_matches, wildcard
from iam_gov.store import Store
from iam_gov.store.findings import last_evaluation
from iam_gov.store.people import latest_moves
from iam_gov.store.schema import (
    UTCDateTime,
    accounts,
    campaign_history,
    campaign_items,
    campaigns,
    entitlements,
    findings,
)
from iam_gov.store.snapshots import SnapshotInfo, driver_rows, latest_snapshots, load_snapshot
from iam_gov.timeutil import utcnow

MOVER_WINDOW_DAYS = 90
"""Someone whose HR record changed this recently is flagged as a mover."""
PRECERTIFIER = "iam-gov pre-certification"


@dataclass(frozen=True)
class LaunchResult:
    campaign_id: int
    items: int
    population_hash: str
    precertified: int
    snapshot_ids: dict[str, int]
    reviewers: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


def create_campaign(
    store: Store,
    definition: CampaignDefinition,
    *,
    actor: str,
    kind: str = "periodic",
    trigger: str | None = None,
    now: datetime | None = None,
) -> int:
    """Record a campaign as a draft; ``launch_campaign`` freezes its population."""
    at = now or utcnow()
    with store.writing() as conn:
        campaign_id = conn.execute(
            insert(campaigns)
            .values(
                name=definition.name,
                kind=kind,
                trigger=trigger,
                status="draft",
                definition=definition.model_dump(mode="json"),
                created_at=at,
                created_by=actor,
                item_count=0,
            )
            .returning(campaigns.c.id)
        ).scalar_one()
        audit.append(
            conn,
            "campaign.create",
            f"campaign:{campaign_id}",
            {"name": definition.name, "kind": kind, "trigger": trigger},
            actor=actor,
            at=at,
        )
    return int(campaign_id)


def launch_campaign(
    store: Store,
    config: Config,
    policy: Policy,
    campaign_id: int,
    *,
    actor: str,
    now: datetime | None = None,
) -> LaunchResult:
    """Freeze the population of a draft campaign and open it. All of it lands, or none."""
    started = time.perf_counter()
    at = now or utcnow()
    with store.writing() as conn:
        row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).one_or_none()
        if row is None:
            raise CampaignError(f"there is no campaign {campaign_id}")
        if row.status != "draft":
            raise CampaignError(f"campaign {campaign_id} ({row.name}) is already {row.status}")
        definition = definition_from_json(row.definition)
        if conn.dialect.name == "sqlite":
            # Joins and sorts over a million rows: a page cache of 2 MB (the default) would
            # read the same pages from disk again and again.
            conn.exec_driver_sql("PRAGMA cache_size = -262144")
        builder = _Population(conn, config, policy, definition, at)
        builder.check_inputs()
        builder.fill_temporary_tables()
        count = builder.insert_items(campaign_id)
        if count == 0:
            raise CampaignError(
                f"campaign {campaign_id} ({definition.name}): nothing in the latest snapshots "
                "matches its scope; nothing to review"
            )
        precertified = builder.precertified(campaign_id)
        digest = population_hash(conn, campaign_id)
        reviewers = conn.execute(
            select(func.count(func.distinct(campaign_items.c.reviewer))).where(
                campaign_items.c.campaign_id == campaign_id
            )
        ).scalar_one()
        snapshot_ids = {name: info.id for name, info in builder.snapshots.items()}
        conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id)
            .values(
                status="open",
                launched_at=at,
                due_on=definition.due_on(at),
                snapshot_ids=snapshot_ids,
                evaluation_id=builder.evaluation_id,
                population_hash=digest,
                item_count=count,
            )
        )
        audit.append(
            conn,
            "campaign.launch",
            f"campaign:{campaign_id}",
            {
                "name": definition.name,
                "items": count,
                "precertified": precertified,
                "population_hash": digest,
                "snapshot_ids": snapshot_ids,
                "evaluation_id": builder.evaluation_id,
                "due_on": definition.due_on(at).isoformat(),
            },
            actor=actor,
            at=at,
        )
        _temp.drop_all(conn)
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size = -2000")
    return LaunchResult(
        campaign_id=campaign_id,
        items=count,
        population_hash=digest,
        precertified=precertified,
        snapshot_ids=snapshot_ids,
        reviewers=int(reviewers),
        seconds=time.perf_counter() - started,
        timings=builder.timings,
    )


def population_hash(conn: Connection, campaign_id: int) -> str:
    """SHA-256 over every item's (system, account, entitlement, direct, groups) in review
    order: the same population always hashes the same, and any change shows."""
    digest = hashlib.sha256()
    query = (
        select(
            campaign_items.c.item_id,
            campaign_items.c.system,
            campaign_items.c.account_id,
            campaign_items.c.entitlement_id,
            campaign_items.c.direct,
            campaign_items.c.via,
        )
        .where(campaign_items.c.campaign_id == campaign_id)
        .order_by(campaign_items.c.item_id)
    )
    for item_id, system, account_id, entitlement_id, direct, via in driver_rows(conn, query):
        line = f"{item_id}\t{system}\t{account_id}\t{entitlement_id}\t{int(bool(direct))}\t{via}\n"
        digest.update(line.encode("utf-8"))
    return digest.hexdigest()


# --- the temporary tables ------------------------------------------------------------------

_temp = MetaData()
_tmp_people = Table(
    "tmp_review_people",
    _temp,
    Column("person_id", String(128), primary_key=True),
    Column("roles_key", Integer, nullable=False),
    Column("mover", Boolean, nullable=False),
    Column("manager_email", String(320)),
    Column("in_scope", Boolean, nullable=False),
    prefixes=["TEMPORARY"],
)
_tmp_role_sizes = Table(
    "tmp_review_role_sizes",
    _temp,
    Column("roles_key", Integer, primary_key=True),
    Column("people", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)
_tmp_entitlements = Table(
    "tmp_review_entitlements",
    _temp,
    Column("system", String(64), primary_key=True),
    Column("entitlement_id", String(512), primary_key=True),
    Column("privileged", Boolean, nullable=False),
    Column("in_scope", Boolean, nullable=False),
    Column("owner", String(320)),
    prefixes=["TEMPORARY"],
)
_tmp_role_grants = Table(
    "tmp_review_role_grants",
    _temp,
    Column("roles_key", Integer, primary_key=True),
    Column("system", String(64), primary_key=True),
    Column("entitlement_id", String(512), primary_key=True),
    Column("role", Text, nullable=False),
    prefixes=["TEMPORARY"],
)
_tmp_explained = Table(
    "tmp_review_explained",
    _temp,
    Column("system", String(64), primary_key=True),
    Column("account_id", String(512), primary_key=True),
    # '*': every entitlement of the account (a declared account's owner only)
    Column("entitlement_id", String(512), primary_key=True),
    Column("explanation", Text),
    Column("owner", String(320)),
    prefixes=["TEMPORARY"],
)
_tmp_findings = Table(
    "tmp_review_findings",
    _temp,
    Column("system", String(64), primary_key=True),
    Column("account_id", String(512), primary_key=True),
    # '' for a finding about the whole account
    Column("entitlement_id", String(512), primary_key=True),
    Column("rules", Text, nullable=False),
    Column("severity_rank", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)
_tmp_grants = Table(
    "tmp_review_grants",
    _temp,
    Column("system", String(64), primary_key=True),
    Column("account_id", String(512), primary_key=True),
    Column("entitlement_id", String(512), primary_key=True),
    prefixes=["TEMPORARY"],
)
_tmp_items = Table(
    "tmp_review_items",
    _temp,
    Column("row_id", Integer, primary_key=True, autoincrement=True),
    Column("system", String(64), nullable=False),
    Column("account_id", String(512), nullable=False),
    Column("account_login", Text, nullable=False),
    Column("account_kind", String(16), nullable=False),
    Column("account_status", String(16), nullable=False),
    Column("person_id", String(128)),
    Column("person_name", Text),
    Column("person_email", String(320)),
    Column("department", Text),
    Column("title", Text),
    Column("entitlement_id", String(512), nullable=False),
    Column("entitlement_name", Text, nullable=False),
    Column("entitlement_kind", String(32), nullable=False),
    Column("via", Text, nullable=False),
    Column("direct", Boolean, nullable=False),
    Column("privileged", Boolean, nullable=False),
    Column("leaver", Boolean, nullable=False),
    Column("mover", Boolean, nullable=False),
    Column("in_role", Boolean, nullable=False),
    Column("role_only", Boolean, nullable=False),
    Column("explanation", Text, nullable=False),
    Column("last_used_at", UTCDateTime),
    Column("unused", Boolean, nullable=False),
    Column("roles_key", Integer),
    Column("finding_rules", Text, nullable=False),
    Column("finding_rank", Integer, nullable=False),
    Column("reviewer", String(320)),
    Column("reviewer_rule", String(32), nullable=False),
    Column("manager_email", String(320)),
    Column("risk", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)
_tmp_order = Table(
    "tmp_review_order",
    _temp,
    Column("n", Integer, primary_key=True, autoincrement=False),
    Column("row_id", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)
_tmp_peers = Table(
    "tmp_review_peers",
    _temp,
    Column("roles_key", Integer, primary_key=True),
    Column("system", String(64), primary_key=True),
    Column("entitlement_id", String(512), primary_key=True),
    Column("holding", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)
# Severity ranks are stored plus one: 0 means no finding.
_SEVERITY_BY_RANK = {s.rank + 1: s.value for s in Severity}
_HIGH = Severity.HIGH.rank + 1


class _Population:
    """Works out one launch: what is read, the temporary tables, the SQL that fills items."""

    def __init__(
        self,
        conn: Connection,
        config: Config,
        policy: Policy,
        definition: CampaignDefinition,
        at: datetime,
    ):
        self.conn = conn
        self.config = config
        self.policy = policy
        self.definition = definition
        self.scope = definition.scope
        self.at = at
        self.snapshots: dict[str, SnapshotInfo] = {}
        self.evaluation_id: int | None = None
        self.people: dict[str, Person] = {}
        self.role_sets: dict[int, tuple[str, ...]] = {}
        self.entitlements: dict[str, dict[str, Entitlement]] = {}
        self.timings: dict[str, float] = {}
        self._clock = time.perf_counter()
        fallback = definition.reviewers.fallback or config.review.fallback_reviewer or ""
        self.fallback = fallback.strip().lower() or None

    def _lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self._clock, 3)
        self._clock = now

    # --- what the launch reads ---------------------------------------------------------

    def check_inputs(self) -> None:
        latest = latest_snapshots(self.conn)
        hr = self.config.hr_system
        systems = [name for name in self.config.systems if name != hr]
        unknown = [s for s in self.scope.systems if s not in systems]
        if unknown:
            raise CampaignError(
                f"the scope names systems that are not configured: {', '.join(unknown)} "
                f"(configured: {', '.join(systems)})"
            )
        wanted = [s for s in systems if not self.scope.systems or s in self.scope.systems]
        problems = []
        for name in [hr, *wanted]:
            info = latest.get(name)
            if info is None:
                problems.append(f"{name}: never collected (run `iam-gov collect`)")
            elif not info.complete:
                first = info.errors[0].message if info.errors else "marked incomplete"
                problems.append(
                    f"{name}: the latest snapshot ({info.collected_at:%Y-%m-%d %H:%M} UTC) is "
                    f"incomplete ({len(info.errors)} problem(s), first: {first}); a review of it "
                    "would certify what nobody saw — collect it again"
                )
            else:
                self.snapshots[name] = info
        if problems:
            raise CampaignError(["cannot launch the campaign:", *problems])
        evaluation = last_evaluation(self.conn)
        used = (
            {int(v) for v in (evaluation or {}).get("snapshot_ids", {}).values()}
            if evaluation
            else set()
        )
        stale = [name for name, info in self.snapshots.items() if info.id not in used]
        if evaluation is None or stale:
            raise CampaignError(
                "cannot launch the campaign: the latest snapshots of "
                f"{', '.join(stale) or 'every system'} have not been evaluated yet "
                "(run `iam-gov evaluate`)"
            )
        self.evaluation_id = int(evaluation["id"])
        self._lap("check")

    # --- Python's share: people, roles, entitlements, explanations, findings ------------

    def fill_temporary_tables(self) -> None:
        conn = self.conn
        _temp.drop_all(conn, checkfirst=True)
        _temp.create_all(conn)
        hr = self.snapshots[self.config.hr_system]
        snapshot = load_snapshot(conn, hr.id, documents=False, with_grants=False)
        self.people = {p.employee_id: p for p in snapshot.people}
        self._lap("people")
        self._fill_people()
        self._lap("roles")
        self._fill_entitlements()
        self._lap("entitlements")
        self._fill_explained()
        self._fill_findings()
        self._fill_grants()
        self._lap("findings")

    def _fill_people(self) -> None:
        people = self.people
        by_email = {p.email.lower(): p for p in people.values() if p.email}
        wanted = {w.strip().lower() for w in self.scope.people}
        moves = latest_moves(self.conn, self.config.hr_system)
        window = self.at - timedelta(days=MOVER_WINDOW_DAYS)
        role_keys: dict[tuple[str, ...], int] = {}
        sizes: dict[int, int] = {}
        rows = []
        for person in people.values():
            roles = self.policy.roles_of(person)
            key = role_keys.get(roles)
            if key is None:
                key = role_keys[roles] = len(role_keys) + 1
                self.role_sets[key] = roles
            sizes[key] = sizes.get(key, 0) + 1
            manager = self._active_manager(person)
            move = moves.get(person.employee_id)
            in_scope = (
                not wanted
                or person.employee_id.lower() in wanted
                or (person.email or "").lower() in wanted
            ) and (
                not self.scope.departments
                or any(wildcard(d, person.department) for d in self.scope.departments)
            )
            rows.append(
                {
                    "person_id": person.employee_id,
                    "roles_key": key,
                    "mover": move is not None and move.changed_at >= window,
                    "manager_email": manager.email.lower() if manager and manager.email else None,
                    "in_scope": in_scope,
                }
            )
        unknown = [w for w in wanted if w not in by_email and w not in {p.lower() for p in people}]
        if unknown:
            raise CampaignError(
                f"the scope names people HR does not know: {', '.join(sorted(unknown))}"
            )
        _insert(self.conn, _tmp_people, rows)
        _insert(
            self.conn,
            _tmp_role_sizes,
            [{"roles_key": k, "people": n} for k, n in sizes.items()],
        )

    def _active_manager(self, person: Person) -> Person | None:
        """The person's manager, or the first manager up the chain who has not left: a leaver
        cannot review."""
        seen = {person.employee_id}
        manager_id = person.manager_id
        while manager_id and manager_id not in seen:
            seen.add(manager_id)
            manager = self.people.get(manager_id)
            if manager is None:
                return None
            if manager.email and not EvaluationState.has_left(manager, self.at.date()):
                return manager
            manager_id = manager.manager_id
        return None

    def _entitlements_of(self, info: SnapshotInfo) -> list[Entitlement]:
        rows = self.conn.execute(
            select(
                entitlements.c.entitlement_id,
                entitlements.c.name,
                entitlements.c.kind,
                entitlements.c.privileged,
                entitlements.c.owner,
            ).where(entitlements.c.snapshot_id == info.id)
        )
        return [
            Entitlement(
                system=info.system,
                entitlement_id=r.entitlement_id,
                name=r.name,
                kind=r.kind,
                privileged=bool(r.privileged),
                owner=r.owner,
            )
            for r in rows
        ]

    def _fill_entitlements(self) -> None:
        ent_rows: list[dict[str, Any]] = []
        role_rows: list[dict[str, Any]] = []
        for name, info in self._systems():
            ents = self._entitlements_of(info)
            self.entitlements[name] = {e.entitlement_id: e for e in ents}
            privileged_patterns = [p.entitlement for p in self.policy.privileged.get(name, ())]
            for e in ents:
                ent_rows.append(
                    {
                        "system": name,
                        "entitlement_id": e.entitlement_id,
                        "privileged": e.privileged
                        or any(entitlement_matches(p, e) for p in privileged_patterns),
                        "in_scope": not self.scope.entitlements
                        or any(entitlement_matches(p, e) for p in self.scope.entitlements),
                        "owner": self._owner_of(name, e),
                    }
                )
            hits: dict[str, list[Entitlement]] = {}
            for key, roles in self.role_sets.items():
                seen: set[str] = set()
                for pattern, role in self.policy.expected(roles, name):
                    matched = hits.get(pattern)
                    if matched is None:
                        matched = hits[pattern] = [
                            e for e in ents if entitlement_matches(pattern, e)
                        ]
                    for e in matched:
                        if e.entitlement_id not in seen:
                            seen.add(e.entitlement_id)
                            where = self.policy.roles[role].where
                            role_rows.append(
                                {
                                    "roles_key": key,
                                    "system": name,
                                    "entitlement_id": e.entitlement_id,
                                    "role": f"role {role} ({where})",
                                }
                            )
        _insert(self.conn, _tmp_entitlements, ent_rows)
        _insert(self.conn, _tmp_role_grants, role_rows)

    def _owner_of(self, system: str, entitlement: Entitlement) -> str | None:
        for spec in self.policy.owners.get(system, ()):
            if entitlement_matches(spec.entitlement, entitlement):
                return spec.owner.strip().lower()
        owner = (entitlement.owner or "").strip().lower()
        return owner if "@" in owner else None

    def _fill_explained(self) -> None:
        """Grants approved by a valid exception, and declared (service, break-glass) accounts
        with their owner, worked out from the policy's entries: each looks up the accounts
        it names (by person through the evaluation's links, or by login) and the entitlements
        its pattern matches, once per pattern."""
        rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        on = self.at.date()
        people_by_email = {p.email.lower(): p.employee_id for p in self.people.values() if p.email}
        for name, info in self._systems():
            declared = [d for d in self.policy.accounts if d.item.system == name]
            excepted = [
                e
                for e in self.policy.exceptions
                if e.item.system == name and exception_valid(e.item, on)
            ]
            if not declared and not excepted:
                continue
            finder = _AccountFinder(
                self.conn.execute(
                    select(accounts.c.native_id, accounts.c.login).where(
                        accounts.c.snapshot_id == info.id
                    )
                ).all(),
                self._links_of(name),
            )
            for located in declared:
                d = located.item
                for account_id in finder.by_pattern(d.login):
                    rows[(name, account_id, "*")] = {
                        "system": name,
                        "account_id": account_id,
                        "entitlement_id": "*",
                        "explanation": f"declared {d.kind.value} account at {located.where}",
                        "owner": d.owner.strip().lower() if "@" in d.owner else None,
                    }
            matching = _PatternCache(list(self.entitlements[name].values()))
            for approved in excepted:
                exc = approved.item
                named = exc.person.strip() if exc.person else None
                person_id = people_by_email.get(named.lower(), named) if named else None
                held = finder.of_person(person_id) if person_id is not None else None
                if exc.account is not None:
                    by_login = finder.by_pattern(exc.account)
                    held = by_login if held is None else held & by_login
                explanation = (
                    f"exception approved by {exc.approver} until {exc.expires} ({approved.where})"
                )
                for account_id in held or ():
                    for entitlement_id in matching.ids(exc.entitlement):
                        rows[(name, account_id, entitlement_id)] = {
                            "system": name,
                            "account_id": account_id,
                            "entitlement_id": entitlement_id,
                            "explanation": explanation,
                            "owner": None,
                        }
        _insert(self.conn, _tmp_explained, list(rows.values()))

    def _links_of(self, system: str) -> dict[str, str]:
        result = self.conn.execute(
            text(
                "SELECT account_id, person_id FROM account_links "
                "WHERE evaluation_id = :e AND system = :s AND person_id IS NOT NULL"
            ),
            {"e": self.evaluation_id, "s": system},
        )
        return {r.account_id: r.person_id for r in result}

    def _fill_findings(self) -> None:
        """Open findings, attached to the grant they are about, or to the whole account."""
        open_findings = self.conn.execute(
            select(findings.c.system, findings.c.subject, findings.c.rule_id, findings.c.severity)
            .where(findings.c.resolved_at.is_(None))
            .where(findings.c.system.is_not(None))
        ).all()
        by_key: dict[tuple[str, str, str], tuple[set[str], int]] = {}
        wanted = dict(self._systems())
        per_system: dict[str, list[tuple[str, str, int]]] = {}
        for system, subject, rule_id, severity in open_findings:
            if system in wanted and subject.startswith(f"{system}:"):
                rank = Severity(severity).rank + 1
                per_system.setdefault(system, []).append(
                    (subject[len(system) + 1 :], rule_id, rank)
                )
        for system, items in per_system.items():
            candidates = {cut for rest, _, _ in items for cut in _cuts(rest)}
            known = self._existing_accounts(wanted[system], candidates)
            ents = self.entitlements[system]
            for rest, rule_id, rank in items:
                account_id = next((c for c in _cuts(rest) if c in known), None)
                if account_id is None:
                    continue
                tail = rest[len(account_id) + 1 :]
                entitlement_id = next((c for c in _cuts(tail) if c in ents), "") if tail else ""
                key = (system, account_id, entitlement_id)
                rules, worst = by_key.get(key, (set(), 0))
                rules.add(rule_id)
                by_key[key] = (rules, max(worst, rank))
        _insert(
            self.conn,
            _tmp_findings,
            [
                {
                    "system": s,
                    "account_id": a,
                    "entitlement_id": e,
                    "rules": ",".join(sorted(rules)),
                    "severity_rank": rank,
                }
                for (s, a, e), (rules, rank) in by_key.items()
            ],
        )

    def _existing_accounts(self, info: SnapshotInfo, candidates: set[str]) -> set[str]:
        found: set[str] = set()
        ordered = sorted(candidates)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            found.update(
                self.conn.execute(
                    select(accounts.c.native_id)
                    .where(accounts.c.snapshot_id == info.id)
                    .where(accounts.c.native_id.in_(chunk))
                ).scalars()
            )
        return found

    def _fill_grants(self) -> None:
        _insert(
            self.conn,
            _tmp_grants,
            [
                {"system": g.system, "account_id": g.account_id, "entitlement_id": g.entitlement_id}
                for g in self.scope.grants
            ],
        )

    def _systems(self) -> Iterator[tuple[str, SnapshotInfo]]:
        for name, info in self.snapshots.items():
            if name != self.config.hr_system:
                yield name, info

    # --- SQL's share: the items ------------------------------------------------------

    def insert_items(self, campaign_id: int) -> int:
        for name, info in self._systems():
            statement = text(self._staging_sql()).bindparams(
                bindparam("on", type_=Date), bindparam("unused_before", type_=UTCDateTime)
            )
            self.conn.execute(statement, self._staging_params(name, info))
        self._lap("staging")
        self.check_reviewers()
        count = self._numbering(campaign_id)
        self._lap("items")
        return int(count)

    def _staging_params(self, name: str, info: SnapshotInfo) -> dict[str, Any]:
        on = info.collected_at.date()
        return {
            "sid": info.id,
            "hr": self.snapshots[self.config.hr_system].id,
            "evaluation": self.evaluation_id,
            "system": name,
            "prefix": f"{name}:",
            "on": on,
            "unused_before": info.collected_at - timedelta(days=self.definition.unused_after_days),
            "named": (self.definition.reviewers.named or "").strip().lower() or None,
        }

    def _staging_sql(self) -> str:
        dialect = self.conn.dialect.name
        groups = (
            "string_agg(CASE WHEN g.via <> '' THEN COALESCE(g.name, g.via) END, "
            "', ' ORDER BY COALESCE(g.name, g.via))"
            if dialect == "postgresql"
            else "group_concat(CASE WHEN g.via <> '' THEN COALESCE(g.name, g.via) END, ', ')"
        )
        direct = "bool_or(g.via = '')" if dialect == "postgresql" else "max(g.via = '')"
        true, false = ("TRUE", "FALSE") if dialect == "postgresql" else ("1", "0")
        scope = self.scope
        where = [f"te.in_scope = {true}"]
        if scope.people or scope.departments:
            where.append(f"tp.in_scope = {true}")
        if scope.account_kinds:
            kinds = ", ".join(f"'{k.value}'" for k in scope.account_kinds)
            where.append(f"l.kind IN ({kinds})")
        if scope.privileged_only:
            where.append(f"te.privileged = {true}")
        if scope.findings_only:
            where.append("(fg.rules IS NOT NULL OR fa.rules IS NOT NULL)")
        if scope.leavers_only:
            where.append(f"({_LEAVER}) = {true}" if dialect == "postgresql" else f"({_LEAVER})")
        if scope.movers_only:
            where.append(f"tp.mover = {true}")
        if scope.grants:
            where.append(
                "EXISTS (SELECT 1 FROM tmp_review_grants tg WHERE tg.system = :system "
                "AND tg.account_id = gg.account_id AND tg.entitlement_id = gg.entitlement_id)"
            )
        owner_rule = self.definition.reviewers.rule
        if owner_rule is ReviewerRule.NAMED:
            reviewer = ":named"
            rule = "'named'"
        elif owner_rule is ReviewerRule.OWNER:
            reviewer = "te.owner"
            rule = "'owner'"
        else:
            reviewer = "COALESCE(tp.manager_email, xa.owner)"
            rule = "CASE WHEN tp.manager_email IS NOT NULL THEN 'manager' ELSE 'owner' END"
        leaver = f"CASE WHEN p.employee_id IS NULL THEN {false} ELSE ({_LEAVER}) END"
        mover = f"COALESCE(tp.mover, {false})"
        in_role = (
            f"(rg.role IS NOT NULL OR gg.direct = {false} OR xg.explanation IS NOT NULL "
            "OR xa.explanation IS NOT NULL)"
        )
        unused = (
            "(COALESCE(gg.used, a.last_login_at) IS NOT NULL "
            "AND COALESCE(gg.used, a.last_login_at) < :unused_before)"
        )
        rank = (
            "CASE WHEN COALESCE(fg.severity_rank, 0) > COALESCE(fa.severity_rank, 0) "
            "THEN fg.severity_rank ELSE COALESCE(fa.severity_rank, 0) END"
        )
        risk = (
            f"(CASE WHEN {leaver} THEN 100 ELSE 0 END + CASE WHEN te.privileged THEN 30 ELSE 0 END"
            f" + CASE WHEN {in_role} THEN 0 ELSE 20 END + CASE WHEN {mover} THEN 10 ELSE 0 END"
            f" + CASE WHEN {unused} THEN 15 ELSE 0 END + ({rank}) * 10)"
        )
        return f"""
INSERT INTO tmp_review_items (
    system, account_id, account_login, account_kind, account_status, person_id, person_name,
    person_email, department, title, entitlement_id, entitlement_name, entitlement_kind, via,
    direct, privileged, leaver, mover, in_role, role_only, explanation, last_used_at, unused,
    roles_key, finding_rules, finding_rank, reviewer, reviewer_rule, manager_email, risk)
SELECT
    :system, a.native_id, a.login, COALESCE(l.kind, 'human'), a.status, p.employee_id, p.name,
    lower(p.email), p.department, p.title, gg.entitlement_id, e.name, e.kind,
    COALESCE(gg.groups, ''),
    gg.direct,
    te.privileged,
    {leaver},
    {mover},
    {in_role},
    (rg.role IS NOT NULL),
    CASE
        WHEN rg.role IS NOT NULL THEN rg.role
        WHEN gg.direct = {false} THEN 'through ' || gg.groups
        WHEN xg.explanation IS NOT NULL THEN xg.explanation
        WHEN xa.explanation IS NOT NULL THEN xa.explanation
        ELSE 'no role, exception or declaration explains it'
    END,
    COALESCE(gg.used, a.last_login_at),
    {unused},
    tp.roles_key,
    COALESCE(fg.rules || ',' || fa.rules, fg.rules, fa.rules, ''),
    {rank},
    {reviewer},
    {rule},
    tp.manager_email,
    {risk}
FROM (
    SELECT g.account_id, g.entitlement_id, {groups} AS groups, {direct} AS direct,
           max(g.last_used_at) AS used
    FROM (
        SELECT g.account_id, g.entitlement_id, g.via, g.last_used_at, ve.name
        FROM grants g
        LEFT JOIN entitlements ve ON ve.snapshot_id = g.snapshot_id AND ve.entitlement_id = g.via
        WHERE g.snapshot_id = :sid
        ORDER BY g.account_id, g.entitlement_id, g.via
    ) g
    GROUP BY g.account_id, g.entitlement_id
) gg
JOIN accounts a ON a.snapshot_id = :sid AND a.native_id = gg.account_id
JOIN entitlements e ON e.snapshot_id = :sid AND e.entitlement_id = gg.entitlement_id
JOIN tmp_review_entitlements te ON te.system = :system AND te.entitlement_id = gg.entitlement_id
LEFT JOIN account_links l
    ON l.evaluation_id = :evaluation AND l.system = :system AND l.account_id = gg.account_id
LEFT JOIN people p ON p.snapshot_id = :hr AND p.employee_id = l.person_id
LEFT JOIN tmp_review_people tp ON tp.person_id = l.person_id
LEFT JOIN tmp_review_role_grants rg
    ON rg.roles_key = tp.roles_key AND rg.system = :system
    AND rg.entitlement_id = gg.entitlement_id
LEFT JOIN tmp_review_explained xg
    ON xg.system = :system AND xg.account_id = gg.account_id
    AND xg.entitlement_id = gg.entitlement_id
LEFT JOIN tmp_review_explained xa
    ON xa.system = :system AND xa.account_id = gg.account_id AND xa.entitlement_id = '*'
LEFT JOIN tmp_review_findings fg
    ON fg.system = :system AND fg.account_id = gg.account_id
    AND fg.entitlement_id = gg.entitlement_id
LEFT JOIN tmp_review_findings fa
    ON fa.system = :system AND fa.account_id = gg.account_id AND fa.entitlement_id = ''
WHERE {" AND ".join(where)}
"""

    def _numbering(self, campaign_id: int) -> int:
        """Items numbered in review order. Sorting narrow rows (the sort keys and a row id)
        and then copying the wide rows in that order is several times faster than a window
        over the wide rows themselves."""
        conn = self.conn
        conn.execute(
            text(
                "INSERT INTO tmp_review_order (n, row_id) SELECT ROW_NUMBER() OVER (ORDER BY "
                "i.leaver DESC, i.risk DESC, i.person_name, i.account_login, i.system, "
                "i.entitlement_name, i.row_id), i.row_id FROM tmp_review_items i"
            )
        )
        conn.execute(
            text(
                "INSERT INTO tmp_review_peers (roles_key, system, entitlement_id, holding) "
                "SELECT roles_key, system, entitlement_id, count(*) FROM tmp_review_items "
                "WHERE roles_key IS NOT NULL GROUP BY roles_key, system, entitlement_id"
            )
        )
        self._lap("order")
        statement = text(self._items_sql()).bindparams(bindparam("at", type_=UTCDateTime))
        count = conn.execute(
            statement,
            {
                "campaign_id": campaign_id,
                "fallback": self.fallback,
                "by": PRECERTIFIER,
                "at": self.at,
                "rule": Precertify.ROLE_EXPLAINED.value,
            },
        ).rowcount
        return int(count)

    def _items_sql(self) -> str:
        dialect = self.conn.dialect.name
        revoke = f"(i.leaver OR NOT i.in_role OR i.unused OR i.finding_rank >= {_HIGH})"
        precertified = "FALSE" if dialect == "postgresql" else "0"
        if self.definition.precertify is Precertify.ROLE_EXPLAINED:
            precertified = (
                f"(i.role_only AND NOT i.privileged AND NOT i.leaver AND NOT i.mover "
                f"AND i.finding_rank = 0 AND NOT {revoke})"
            )
        severity = " ".join(
            f"WHEN {rank} THEN '{name}'" for rank, name in _SEVERITY_BY_RANK.items()
        )
        return f"""
INSERT INTO campaign_items (
    campaign_id, item_id, system, account_id, account_login, account_kind, account_status,
    person_id, person_name, person_email, department, title, entitlement_id, entitlement_name,
    entitlement_kind, via, direct, privileged, leaver, mover, in_role, explanation,
    last_used_at, peers_holding, peers_total, finding_rules, finding_severity, risk,
    recommendation, reviewer, reviewer_rule, decision, decided_by, decided_at, precertified,
    version)
SELECT
    :campaign_id, o.n,
    i.system, i.account_id, i.account_login, i.account_kind, i.account_status, i.person_id,
    i.person_name, i.person_email, i.department, i.title, i.entitlement_id,
    i.entitlement_name, i.entitlement_kind, i.via, i.direct, i.privileged, i.leaver, i.mover,
    i.in_role, i.explanation, i.last_used_at,
    COALESCE(pc.holding, 0),
    COALESCE(rs.people, 0),
    i.finding_rules,
    CASE i.finding_rank {severity} ELSE NULL END,
    i.risk,
    CASE WHEN {revoke} THEN 'revoke' ELSE 'approve' END,
    {_REVIEWER},
    CASE WHEN {_NOT_SELF.format(who="i.reviewer")} THEN i.reviewer_rule
         WHEN i.reviewer IS NOT NULL AND {_NOT_SELF.format(who="i.manager_email")}
             THEN 'self-review: manager'
         WHEN i.reviewer IS NOT NULL THEN 'self-review: fallback'
         ELSE 'fallback' END,
    CASE WHEN {precertified} THEN 'approve' END,
    CASE WHEN {precertified} THEN :by END,
    CASE WHEN {precertified} THEN :at END,
    CASE WHEN {precertified} THEN :rule || ': ' || i.explanation END,
    0
FROM tmp_review_order o
JOIN tmp_review_items i ON i.row_id = o.row_id
LEFT JOIN tmp_review_role_sizes rs ON rs.roles_key = i.roles_key
LEFT JOIN tmp_review_peers pc
    ON pc.roles_key = i.roles_key AND pc.system = i.system
    AND pc.entitlement_id = i.entitlement_id
ORDER BY o.n
"""

    def check_reviewers(self) -> None:
        """Every item must have a reviewer who is not its own person: refuse the launch
        otherwise, naming an example and the setting that fixes it."""
        query = text(
            f"SELECT count(*) AS n, min(i.system || ': ' || i.account_login || ' -> ' "
            f"|| i.entitlement_name) AS example FROM tmp_review_items i "
            f"WHERE ({_REVIEWER}) IS NULL"
        )
        row = self.conn.execute(query, {"fallback": self.fallback}).one()
        if row.n:
            raise CampaignError(
                f"{row.n} item(s) have no reviewer (e.g. {row.example}): the rule "
                f"'{self.definition.reviewers.rule.value}' finds nobody, or only the person "
                "themself, and there is no other fallback reviewer; set `reviewers.fallback` in "
                "the definition or `[review] fallback_reviewer` in the configuration"
            )

    def precertified(self, campaign_id: int) -> int:
        """How many items launch pre-certified; the campaign's history says so once, with
        the rule (each item says it too, in ``precertified``)."""
        if self.definition.precertify is not Precertify.ROLE_EXPLAINED:
            return 0
        count = self.conn.execute(
            select(func.count())
            .select_from(campaign_items)
            .where(campaign_items.c.campaign_id == campaign_id)
            .where(campaign_items.c.precertified.is_not(None))
        ).scalar_one()
        self.conn.execute(
            insert(campaign_history).values(
                campaign_id=campaign_id,
                item_id=None,
                action="precertify",
                actor=PRECERTIFIER,
                at=self.at,
                decision="approve",
                details={"rule": Precertify.ROLE_EXPLAINED.value, "items": count},
            )
        )
        return int(count)


_NOT_SELF = "({who} IS NOT NULL AND {who} <> COALESCE(i.person_email, ''))"
_FALLBACK = "CAST(:fallback AS VARCHAR(320))"
_REVIEWER = f"""CASE
        WHEN {_NOT_SELF.format(who="i.reviewer")} THEN i.reviewer
        WHEN i.reviewer IS NOT NULL AND {_NOT_SELF.format(who="i.manager_email")}
            THEN i.manager_email
        WHEN {_NOT_SELF.format(who=_FALLBACK)} THEN {_FALLBACK}
    END"""
"""Who reviews an item: the rule's reviewer; for the reviewer's own access their manager;
the fallback reviewer when neither; never the person themself."""

_LEAVER = (
    "(p.status = 'terminated' AND (p.end_date IS NULL OR p.end_date < :on))"
    " OR (p.end_date IS NOT NULL AND p.end_date < :on)"
)


class _AccountFinder:
    """One system's accounts, found by the person they are linked to or by login pattern."""

    def __init__(self, rows: Sequence[Any], links: dict[str, str]):
        self.rows = rows
        self.by_person: dict[str, set[str]] = {}
        for account_id, person_id in links.items():
            self.by_person.setdefault(person_id, set()).add(account_id)
        self.exact: dict[str, set[str]] = {}
        for row in rows:
            for key in (row.login.casefold(), row.native_id.casefold()):
                self.exact.setdefault(key, set()).add(row.native_id)

    def of_person(self, person_id: str) -> set[str]:
        return self.by_person.get(person_id, set())

    def by_pattern(self, pattern: str) -> set[str]:
        if "*" not in pattern and "?" not in pattern and "[" not in pattern:
            return self.exact.get(pattern.casefold(), set())
        return {
            r.native_id
            for r in self.rows
            if wildcard(pattern, r.login) or wildcard(pattern, r.native_id)
        }


class _PatternCache:
    """The entitlements a policy pattern matches, worked out once per pattern."""

    def __init__(self, entitlements: list[Entitlement]):
        self.entitlements = entitlements
        self.hits: dict[str, list[str]] = {}

    def ids(self, pattern: str) -> list[str]:
        found = self.hits.get(pattern)
        if found is None:
            found = self.hits[pattern] = [
                e.entitlement_id for e in self.entitlements if entitlement_matches(pattern, e)
            ]
        return found


def _cuts(value: str) -> Iterator[str]:
    """``a:b:c``, ``a:b``, ``a`` — longest first."""
    yield value
    while ":" in value:
        value = value.rsplit(":", 1)[0]
        yield value


def _insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        for start in range(0, len(rows), 10_000):
            conn.execute(insert(table), list(rows[start : start + 10_000]))
