"""Working out a launch's population: what is read, the temporary tables, running the SQL.

``Population`` checks that the latest snapshots are complete and evaluated, fills the
temporary tables (``population_tables``) with what needs the policy, and runs the statements
(``population_sql``) that make the items.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    Table,
    bindparam,
    insert,
    select,
    text,
)

from iam_gov.campaigns.definition import (
    CampaignDefinition,
    CampaignError,
    Precertify,
)
from iam_gov.campaigns.population_sql import (
    accounts_sql,
    grouped_sql,
    items_sql,
    order_sql,
    staging_sql,
)
from iam_gov.campaigns.population_tables import (
    TEMP,
    TMP_ACCOUNTS,
    TMP_ENTITLEMENTS,
    TMP_FACTS,
    TMP_GRANTS,
    TMP_ITEMS,
    TMP_PEOPLE,
    TMP_ROLE_GRANTS,
    TMP_ROLE_SIZES,
)
from iam_gov.config import Config
from iam_gov.engine.state import EvaluationState
from iam_gov.model import Entitlement, Person, Severity
from iam_gov.policy import Policy, exception_valid
from iam_gov.policy.match import entitlement_matches, wildcard
from iam_gov.store.affected import listed_principals, may_list_principals
from iam_gov.store.bulk import insert_plain
from iam_gov.store.database import WRITE
from iam_gov.store.findings import last_evaluation
from iam_gov.store.people import latest_moves
from iam_gov.store.schema import (
    UTCDateTime,
    accounts,
    campaign_history,
    findings,
)
from iam_gov.store.snapshots import (
    SnapshotInfo,
    driver_rows,
    latest_snapshots,
    load_entitlements,
    load_snapshot,
)

PEOPLE_COLUMNS = (
    "person_id",
    "roles_key",
    "mover",
    "manager_email",
    "in_scope",
    "person_rank",
    "name",
    "email",
    "department",
    "title",
    "status",
    "end_date",
)
"""The columns of ``tmp_review_people``, in the order ``_fill_people`` writes them."""

MOVER_WINDOW_DAYS = 90
"""Someone whose HR record changed this recently is flagged as a mover."""
PRECERTIFIER = "iam-gov pre-certification"


class Population:
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
        self.facts: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.timings: dict[str, float] = {}
        # what the policy's share reads through (a second connection when it can) and the
        # rows it leaves for the launch's connection to write
        self.reader = conn
        self._writes: list[tuple[Table, Sequence[str], Sequence[Sequence[Any]]]] = []
        self.grouped_rows: dict[str, tuple[int, int]] = {}
        self._clock = time.perf_counter()
        fallback = definition.reviewers.fallback or config.review.fallback_reviewer or ""
        self.fallback = fallback.strip().lower() or None

    def lap(self, name: str) -> None:
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
            raise CampaignError("\n".join(["cannot launch the campaign:", *problems]))
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
        self.lap("check")

    # --- Python's share: people, roles, entitlements, explanations, findings ------------

    def fill_temporary_tables(self) -> None:
        """The database groups each system's grants while Python works out what needs the
        policy, reading on a second connection: on two cores the two overlap. What Python
        worked out is written afterwards, on the launch's own connection."""
        conn = self.conn
        TEMP.drop_all(conn, checkfirst=True)
        TEMP.create_all(conn)
        if self._can_read_alongside():
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="launch") as pool:
                share = pool.submit(self._policy_share_apart)
                self._group_grants()
                share.result()  # raises what the policy's share raised
        else:
            self._policy_share(conn)
            self._group_grants()
        self.lap("grants and policy")
        for table, columns, rows in self._writes:
            insert_plain(conn, table, columns, rows)
        self._writes.clear()
        self._analyze(TEMP.sorted_tables)
        self.lap("written")

    def _can_read_alongside(self) -> bool:
        """A second connection sees the same data: PostgreSQL, or an SQLite file (an
        in-memory database, or a ``file:`` URI that may be one, is the connection's own)."""
        url = self.conn.engine.url
        if url.get_backend_name() != "sqlite":
            return True
        database = url.database or ""
        return bool(database) and database != ":memory:" and not database.startswith("file:")

    def _policy_share_apart(self) -> None:
        # the launch's own engine writes (SQLite: BEGIN IMMEDIATE); this connection only reads
        engine = self.conn.engine.execution_options(**{WRITE: False})
        with engine.connect() as reader:
            try:
                self._policy_share(reader)
            finally:
                reader.rollback()

    def _policy_share(self, reader: Connection) -> None:
        """People, roles, entitlements, explanations, findings: read through ``reader``
        (nothing written, only read, while the launch's transaction holds the write lock),
        the rows for the temporary tables kept for ``fill_temporary_tables`` to write."""
        self.reader = reader
        clock = time.perf_counter()
        hr = self.snapshots[self.config.hr_system]
        snapshot = load_snapshot(reader, hr.id, documents=False, with_grants=False)
        self.people = {p.employee_id: p for p in snapshot.people}
        self._fill_people()
        self._fill_entitlements()
        self._fill_explained()
        self._fill_findings()
        self._write_dicts(TMP_FACTS, list(self.facts.values()))
        self._fill_grants()
        self.timings["policy (alongside)"] = round(time.perf_counter() - clock, 3)

    def _write(self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self._writes.append((table, columns, rows))

    def _write_dicts(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            columns = list(rows[0])
            self._write(table, columns, [tuple(r[c] for c in columns) for r in rows])

    def _group_grants(self) -> None:
        statement = text(grouped_sql(self.conn.dialect.name))
        last = 0
        for name, info in self._systems():
            self.conn.execute(statement, {"sid": info.id})
            first, last = (
                last + 1,
                self.conn.execute(
                    text("SELECT COALESCE(max(row_id), 0) FROM tmp_review_grouped")
                ).scalar_one(),
            )
            self.grouped_rows[name] = (first, int(last))

    def _analyze(self, tables: Sequence[Table]) -> None:
        """PostgreSQL plans joins on a temporary table from its statistics, and has none
        until asked: without them it guesses a handful of rows and loops over millions."""
        if self.conn.dialect.name == "postgresql":
            for table in tables:
                self.conn.exec_driver_sql(f"ANALYZE {table.name}")

    def _fill_people(self) -> None:
        people = self.people
        by_email = {p.email.lower(): p for p in people.values() if p.email}
        wanted = {w.strip().lower() for w in self.scope.people}
        moves = latest_moves(self.reader, self.config.hr_system)
        window = self.at - timedelta(days=MOVER_WINDOW_DAYS)
        role_keys: dict[tuple[str, ...], int] = {}
        sizes: dict[int, int] = {}
        rows: list[tuple[Any, ...]] = []
        ranked = sorted(people.values(), key=lambda p: (p.name.casefold(), p.employee_id))
        rank_of = {p.employee_id: n for n, p in enumerate(ranked)}
        departments = self.scope.departments
        department_in_scope: dict[str | None, bool] = {}
        for person in people.values():
            roles = self.policy.roles_of(person)
            key = role_keys.get(roles)
            if key is None:
                key = role_keys[roles] = len(role_keys) + 1
                self.role_sets[key] = roles
            sizes[key] = sizes.get(key, 0) + 1
            manager = self._active_manager(person)
            move = moves.get(person.employee_id)
            email = person.email.lower() if person.email else None
            department = person.department
            in_department = department_in_scope.get(department)
            if in_department is None:  # once per department, not once per person
                in_department = department_in_scope[department] = not departments or any(
                    wildcard(d, department) for d in departments
                )
            in_scope = in_department and (
                not wanted or person.employee_id.lower() in wanted or (email or "") in wanted
            )
            rows.append(
                (
                    person.employee_id,
                    key,
                    move is not None and move.changed_at >= window,
                    manager.email.lower() if manager and manager.email else None,
                    in_scope,
                    rank_of[person.employee_id],
                    person.name,
                    email,
                    department,
                    person.title,
                    person.status.value,
                    person.end_date.isoformat() if person.end_date else None,
                )
            )
        unknown = [w for w in wanted if w not in by_email and w not in {p.lower() for p in people}]
        if unknown:
            raise CampaignError(
                f"the scope names people HR does not know: {', '.join(sorted(unknown))}"
            )
        self._write(TMP_PEOPLE, PEOPLE_COLUMNS, rows)
        self._write(TMP_ROLE_SIZES, ("roles_key", "people"), list(sizes.items()))

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

    def _fill_entitlements(self) -> None:
        ent_rows: list[dict[str, Any]] = []
        role_rows: list[dict[str, Any]] = []
        for name, info in self._systems():
            ents = load_entitlements(self.reader, info.id, info.system)
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
                        "ent_key": len(ent_rows),
                        "name": e.name,
                        "kind": e.kind,
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
                            where = _short(self.policy.roles[role].where)
                            role_rows.append(
                                {
                                    "roles_key": key,
                                    "system": name,
                                    "entitlement_id": e.entitlement_id,
                                    "role": f"role {role} ({where})",
                                }
                            )
        self._write_dicts(TMP_ENTITLEMENTS, ent_rows)
        self._write_dicts(TMP_ROLE_GRANTS, role_rows)

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
            person_ids = {
                people_by_email.get(who.lower(), who)
                for who in (e.item.person.strip() for e in excepted if e.item.person)
            }
            patterns = [d.item.login for d in declared]
            patterns += [e.item.account for e in excepted if e.item.account is not None]
            finder = _AccountFinder(
                self._accounts_matching(info, patterns), self._links_of(name, person_ids)
            )
            for located in declared:
                d = located.item
                for account_id in finder.by_pattern(d.login):
                    fact = self._fact(name, account_id, "")
                    fact["explanation"] = (
                        f"declared {d.kind.value} account at {_short(located.where)}"
                    )
                    fact["owner"] = d.owner.strip().lower() if "@" in d.owner else None
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
                    f"exception approved by {exc.approver} until {exc.expires} "
                    f"({_short(approved.where)})"
                )
                for account_id in held or ():
                    for entitlement_id in matching.ids(exc.entitlement):
                        self._fact(name, account_id, entitlement_id)["explanation"] = explanation

    def _fact(self, system: str, account_id: str, entitlement_id: str) -> dict[str, Any]:
        """The row of ``tmp_review_facts`` for a grant ('' entitlement: the whole account)."""
        key = (system, account_id, entitlement_id)
        fact = self.facts.get(key)
        if fact is None:
            fact = self.facts[key] = {
                "system": system,
                "account_id": account_id,
                "entitlement_id": entitlement_id,
                "explanation": None,
                "owner": None,
                "rules": None,
                "severity_rank": None,
            }
        return fact

    def _links_of(self, system: str, person_ids: set[str]) -> dict[str, str]:
        """Account -> person, for the accounts of these people only."""
        found: dict[str, str] = {}
        ordered = sorted(person_ids)
        for start in range(0, len(ordered), 500):
            result = self.reader.execute(
                text(
                    "SELECT account_id, person_id FROM account_links "
                    "WHERE evaluation_id = :e AND system = :s AND person_id IN :people"
                ).bindparams(bindparam("people", expanding=True)),
                {"e": self.evaluation_id, "s": system, "people": ordered[start : start + 500]},
            )
            found.update((r.account_id, r.person_id) for r in result)
        return found

    def _accounts_matching(self, info: SnapshotInfo, patterns: list[str]) -> dict[str, set[str]]:
        """Pattern -> the native ids of the accounts whose login or id it matches: one pass
        over the system's accounts, whatever the number of patterns."""
        if not patterns:
            return {}
        exact = {p.casefold(): p for p in patterns if not any(c in p for c in "*?[")}
        wild = [p for p in patterns if p.casefold() not in exact]
        found: dict[str, set[str]] = {p: set() for p in patterns}
        query = select(accounts.c.native_id, accounts.c.login).where(
            accounts.c.snapshot_id == info.id
        )
        for native_id, login in driver_rows(self.reader, query):
            for key in (login.casefold(), native_id.casefold()):
                pattern = exact.get(key)
                if pattern is not None:
                    found[pattern].add(native_id)
            for pattern in wild:
                if wildcard(pattern, login) or wildcard(pattern, native_id):
                    found[pattern].add(native_id)
        return found

    def _fill_findings(self) -> None:
        """Open findings, attached to the grant they are about, or to the whole account; one
        about a shared cause (its subject names the cause, not an account) to the whole
        account of every principal it lists, with what that principal alone makes of it.
        Those are few: their evidence is read in Python, once per finding."""
        is_open = (findings.c.resolved_at.is_(None), findings.c.system.is_not(None))
        by_key: dict[tuple[str, str, str], tuple[set[str], int]] = {}
        wanted = dict(self._systems())
        shared: set[str] = set()
        listing = self.reader.execute(
            select(
                findings.c.finding_id,
                findings.c.system,
                findings.c.rule_id,
                findings.c.severity,
                findings.c.evidence,
            )
            .where(*is_open)
            .where(may_list_principals())
        )
        for finding_id, system, rule_id, severity, evidence in listing:
            principals = listed_principals(evidence)
            if not principals:
                continue
            shared.add(finding_id)
            if system not in wanted:
                continue
            for principal in principals:
                rank = (principal.severity or Severity(severity)).rank + 1
                key = (system, principal.account_id, "")
                rules, worst = by_key.get(key, (set(), 0))
                rules.add(rule_id)
                by_key[key] = (rules, max(worst, rank))
        open_findings = self.reader.execute(
            select(
                findings.c.finding_id,
                findings.c.system,
                findings.c.subject,
                findings.c.rule_id,
                findings.c.severity,
            ).where(*is_open)
        ).all()
        per_system: dict[str, list[tuple[str, str, int]]] = {}
        for finding_id, system, subject, rule_id, severity in open_findings:
            if finding_id in shared:
                continue
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
        for (system, account_id, entitlement_id), (rules, rank) in by_key.items():
            fact = self._fact(system, account_id, entitlement_id)
            fact["rules"] = ",".join(sorted(rules))
            fact["severity_rank"] = rank

    def _existing_accounts(self, info: SnapshotInfo, candidates: set[str]) -> set[str]:
        found: set[str] = set()
        ordered = sorted(candidates)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            found.update(
                self.reader.execute(
                    select(accounts.c.native_id)
                    .where(accounts.c.snapshot_id == info.id)
                    .where(accounts.c.native_id.in_(chunk))
                ).scalars()
            )
        return found

    def _fill_grants(self) -> None:
        self._write_dicts(
            TMP_GRANTS,
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
            statement = text(accounts_sql(self.conn.dialect.name, self.definition)).bindparams(
                bindparam("on", type_=Date)
            )
            params = self._staging_params(name, info)
            self.conn.execute(
                statement, {k: params[k] for k in ("sid", "evaluation", "system", "on")}
            )
        self._analyze([TMP_ACCOUNTS])
        self.lap("accounts")
        for name, info in self._systems():
            statement = text(staging_sql(self.conn.dialect.name, self.definition)).bindparams(
                bindparam("unused_before", type_=UTCDateTime)
            )
            self.conn.execute(statement, self._staging_params(name, info))
        self._analyze([TMP_ITEMS])
        self.lap("staging")
        self.check_reviewers()
        self.lap("reviewers")
        count = self._numbering(campaign_id)
        self.lap("items")
        return int(count)

    def _staging_params(self, name: str, info: SnapshotInfo) -> dict[str, Any]:
        on = info.collected_at.date()
        return {
            "sid": info.id,
            "evaluation": self.evaluation_id,
            "system": name,
            "on": on,
            "unused_before": info.collected_at - timedelta(days=self.definition.unused_after_days),
            "named": (self.definition.reviewers.named or "").strip().lower() or None,
            "fallback": self.fallback,
            "first_row": self.grouped_rows.get(name, (0, 0))[0],
            "last_row": self.grouped_rows.get(name, (0, 0))[1],
        }

    def _numbering(self, campaign_id: int) -> int:
        """Items numbered in review order. Sorting narrow rows (the sort keys and a row id)
        and then copying the wide rows in that order is several times faster than a window
        over the wide rows themselves."""
        conn = self.conn
        conn.execute(text(order_sql(conn.dialect.name, self.definition.precertify)))
        self.lap("numbering")
        conn.execute(
            text(
                "INSERT INTO tmp_review_peers (roles_key, ent_key, holding) "
                "SELECT roles_key, ent_key, count(DISTINCT person_rank) FROM tmp_review_items "
                "WHERE roles_key IS NOT NULL GROUP BY roles_key, ent_key"
            )
        )
        self.lap("order")
        statement = text(items_sql()).bindparams(bindparam("at", type_=UTCDateTime))
        count = conn.execute(
            statement,
            {
                "campaign_id": campaign_id,
                "by": PRECERTIFIER,
                "at": self.at,
                "rule": Precertify.ROLE_EXPLAINED.value,
            },
        ).rowcount
        return int(count)

    def check_reviewers(self) -> None:
        """Every item must have a reviewer who is not its own person: refuse the launch
        otherwise, naming an example and the setting that fixes it."""
        nobody = "FROM tmp_review_items i WHERE i.reviewer IS NULL"
        count = self.conn.execute(text(f"SELECT count(*) {nobody}")).scalar_one()
        if count:
            example = self.conn.execute(
                text(
                    "SELECT i.system || ': ' || a.login || ' -> ' || e.name "
                    "FROM (SELECT i.sid, i.system, i.account_id, i.entitlement_id "
                    f"{nobody} ORDER BY i.row_id LIMIT 1) i "
                    "JOIN accounts a ON a.snapshot_id = i.sid AND a.native_id = i.account_id "
                    "JOIN entitlements e ON e.snapshot_id = i.sid "
                    "AND e.entitlement_id = i.entitlement_id"
                )
            ).scalar_one()
            raise CampaignError(
                f"{count} item(s) have no reviewer (e.g. {example}): the rule "
                f"'{self.definition.reviewers.rule.value}' finds nobody, or only the person "
                "themself, and there is no other fallback reviewer; set `reviewers.fallback` in "
                "the definition or `[review] fallback_reviewer` in the configuration"
            )

    def reviewers_and_precertified(self, campaign_id: int) -> tuple[int, int]:
        """How many reviewers the items went to (from the reviewer index), how many items
        launch pre-certified (from the narrow numbering table)."""
        reviewers = self.conn.execute(
            text("SELECT count(DISTINCT reviewer) FROM campaign_items WHERE campaign_id = :c"),
            {"c": campaign_id},
        ).scalar_one()
        one = "CAST(pre AS INTEGER)" if self.conn.dialect.name == "postgresql" else "pre"
        precertified = self.conn.execute(
            text(f"SELECT COALESCE(sum({one}), 0) FROM tmp_review_order")
        ).scalar_one()
        return int(reviewers), int(precertified)

    def record_precertification(self, campaign_id: int, count: int) -> None:
        """The campaign's history says once how many items launch pre-certified, and by
        which rule (each item says it too, in ``precertified``)."""
        if self.definition.precertify is not Precertify.ROLE_EXPLAINED:
            return
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


def _short(where: str) -> str:
    """``/etc/iam-gov/policy/roles.yaml:12`` as ``roles.yaml:12``: what a reviewer reads, a
    million times shorter in the store."""
    return where.rsplit("/", 1)[-1]


class _AccountFinder:
    """Accounts found by the person they are linked to, or by a policy login pattern."""

    def __init__(self, by_pattern: dict[str, set[str]], links: dict[str, str]):
        self.matching = by_pattern
        self.by_person: dict[str, set[str]] = {}
        for account_id, person_id in links.items():
            self.by_person.setdefault(person_id, set()).add(account_id)

    def of_person(self, person_id: str) -> set[str]:
        return self.by_person.get(person_id, set())

    def by_pattern(self, pattern: str) -> set[str]:
        return self.matching.get(pattern, set())


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
