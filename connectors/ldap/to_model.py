"""Directory entries to the shared model: accounts, password credentials, groups, and grants
through nested groups, the same way for a live directory and an LDIF export."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from iam_gov.connectors.ldap.ad import (
    BUILTIN_DOMAIN,
    DOMAIN_POLICY_ATTRIBUTES,
    domain_dn,
    domain_password_policy,
    pso_password_policy,
)
from iam_gov.connectors.ldap.entry import (
    Collected,
    Entry,
    Flavor,
    GroupFacts,
    UserFacts,
    clean,
    dn_key,
)
from iam_gov.connectors.ldap.openldap import PPOLICY_ATTRIBUTES, ppolicy_password_policy
from iam_gov.connectors.shared.snapshot import ordered_snapshot
from iam_gov.gcpause import collector_paused
from iam_gov.model import (
    Account,
    AccountStatus,
    Credential,
    CredentialKind,
    Entitlement,
    Grant,
    SnapshotError,
    SystemSnapshot,
)


class _Facts(Protocol):
    native_id: str
    problems: list[str]


_FactsT = TypeVar("_FactsT", bound=_Facts)


def build_snapshot(
    *,
    type_name: str,
    system: str,
    flavor: Flavor,
    collected: Collected,
    source: str,
    origin: str,
    collected_at: datetime,
    settings: dict[str, Any],
) -> SystemSnapshot:
    """``origin`` names where the entries came from in problems (a file, a server)."""
    builder = _SnapshotBuilder(system, flavor, origin, collected_at, list(collected.errors))
    builder.complete = collected.complete
    with collector_paused():
        builder.users(collected.users, collected.password_holders)
        builder.groups(collected.groups)
        builder.memberships()
    policy, notes = password_policy(flavor.name, collected, origin)
    if policy is not None:
        settings = {**settings, "password_policy": policy}
    if collected.password_settings:
        settings = {**settings, "password_policies": builder.password_settings(collected)}
    return ordered_snapshot(
        system=system,
        connector=type_name,
        source=source,
        collected_at=collected_at,
        complete=builder.complete,
        errors=(*builder.errors, *notes),
        accounts=builder.accounts.values(),
        credentials=builder.credentials,
        entitlements=builder.entitlements.values(),
        grants=builder.grants,
        settings=settings,
    )


@dataclass
class _SnapshotBuilder:
    system: str
    flavor: Flavor
    origin: str
    now: datetime
    errors: list[SnapshotError]
    complete: bool = True
    accounts: dict[str, Account] = field(default_factory=dict)
    credentials: list[Credential] = field(default_factory=list)
    entitlements: dict[str, Entitlement] = field(default_factory=dict)
    grants: set[Grant] = field(default_factory=set)
    user_by_dn: dict[str, str] = field(default_factory=dict)
    users_by_login: dict[str, list[str]] = field(default_factory=dict)
    primary_groups: dict[str, tuple[str | None, int, str]] = field(default_factory=dict)
    """Account id -> (domain SID or None, primary group RID, dn_key of the user's domain)."""
    group_facts: dict[str, GroupFacts] = field(default_factory=dict)
    group_by_dn: dict[str, str] = field(default_factory=dict)
    group_dns: dict[str, str] = field(default_factory=dict)
    dn_keys: dict[str, str] = field(default_factory=dict)
    """``dn_key`` of the DNs met, as written: a member DN is mostly a user's, spelled alike."""
    domain_keys: dict[str, str] = field(default_factory=dict)
    """``dn_key`` of the domain of the entries under each parent DN met."""

    def _key(self, dn: str) -> str:
        key = self.dn_keys.get(dn)
        if key is None:
            key = self.dn_keys[dn] = dn_key(dn)
        return key

    def _domain_key(self, dn: str) -> str:
        # An entry whose first RDN is not a DC= one is in the domain of its parent: found by
        # the parent's DN, which users share.
        first, _, parent = dn.partition(",")
        if first.partition("=")[0].strip().casefold() == "dc":
            return dn_key(domain_dn(dn))
        key = self.domain_keys.get(parent)
        if key is None:
            key = self.domain_keys[parent] = dn_key(domain_dn(dn))
        return key

    def _problem(self, entry: Entry, message: str) -> None:
        # Every problem leaves something unknown, and unknown must never read as removed.
        self.complete = False
        self.errors.append(
            SnapshotError(source=self.origin, line=entry.line, record=entry.dn, message=message)
        )

    def _facts(
        self,
        entry: Entry,
        what: str,
        read: Callable[..., _FactsT],
        known: Container[str],
        **options: Any,
    ) -> _FactsT | None:
        """What ``read`` makes of the entry, its unreadable values said; None when the entry
        is skipped (no usable id, or one already taken)."""
        try:
            facts = read(entry, **options)
        except ValueError as exc:
            self._problem(entry, f"{what} skipped: {exc}")
            return None
        if facts.native_id in known:
            self._problem(entry, f"{what} skipped: its id {facts.native_id} is another's too")
            return None
        for problem in facts.problems:
            self._problem(entry, f"{problem}: left unknown")
        return facts

    # accounts

    def users(self, entries: Iterable[Entry], password_holders: set[str] | None) -> None:
        for entry in entries:
            key = self._key(entry.dn)
            if password_holders is None:
                has_password = entry.has("userPassword")
            else:
                has_password = key in password_holders
            facts = self._facts(
                entry,
                "user",
                self.flavor.user,
                self.accounts,
                has_password=has_password,
                now=self.now,
            )
            if facts is None:
                continue
            self._account(facts)
            self.user_by_dn[key] = facts.native_id
            self.users_by_login.setdefault(facts.login.casefold(), []).append(facts.native_id)
            if facts.primary_group is not None:
                domain_sid, rid = facts.primary_group
                where = self._domain_key(entry.dn)
                self.primary_groups[facts.native_id] = (domain_sid, rid, where)
        if (
            self.flavor.name == "openldap"
            and self.accounts
            and not any(c.kind is CredentialKind.PASSWORD for c in self.credentials)
        ):
            self.errors.append(
                SnapshotError(
                    source=self.origin,
                    message="no user shows a password (userPassword or pwdChangedTime): "
                    "the credential may lack search access to userPassword",
                )
            )

    def _account(self, facts: UserFacts) -> None:
        self.accounts[facts.native_id] = Account(
            system=self.system,
            native_id=facts.native_id,
            login=facts.login,
            email=facts.email,
            display_name=facts.display_name,
            employee_id=facts.employee_id,
            status=facts.status,
            kind=facts.kind,
            created_at=facts.created_at,
            last_login_at=facts.last_login_at,
            mfa_factors=None,  # a directory does not know the second factors used in front of it
            attributes=facts.attributes,
        )
        if facts.password is not None:
            self.credentials.append(
                Credential(
                    system=self.system,
                    account_id=facts.native_id,
                    credential_id=f"{facts.native_id}#password",
                    kind=CredentialKind.PASSWORD,
                    active=facts.status is AccountStatus.ACTIVE,
                    created_at=facts.password.created_at,
                    last_used_at=facts.password.last_used_at,
                    attributes=facts.password.attributes,
                )
            )

    # groups

    def groups(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            facts = self._facts(entry, "group", self.flavor.group, self.group_facts)
            if facts is None:
                continue
            self.group_facts[facts.native_id] = facts
            self.group_by_dn[self._key(entry.dn)] = facts.native_id
            self.group_dns[facts.native_id] = entry.dn

    def memberships(self) -> None:
        direct: dict[str, set[str]] = {}
        parents: dict[str, set[str]] = {}
        for group_id, facts in self.group_facts.items():
            for member in facts.members:
                key = self._key(member)
                if key in self.user_by_dn:
                    direct.setdefault(self.user_by_dn[key], set()).add(group_id)
                elif key in self.group_by_dn:
                    parents.setdefault(self.group_by_dn[key], set()).add(group_id)
                # Anything else (a contact, a computer, a foreign principal, an entry outside
                # the bases read) is nobody's account here.
            for login in facts.member_logins:
                for account_id in self.users_by_login.get(login.casefold(), ()):
                    direct.setdefault(account_id, set()).add(group_id)
        self._primary_groups(direct)

        ancestors = _Ancestors(parents, self.group_facts)
        for group_id, facts in self.group_facts.items():
            privileged = facts.privileged or any(
                self.group_facts[a].privileged for a in ancestors.of(group_id)
            )
            self.entitlements[group_id] = Entitlement(
                system=self.system,
                entitlement_id=group_id,
                name=facts.name,
                kind=facts.kind,
                privileged=privileged,
                owner=facts.owner,
                description=facts.description,
            )
        for account_id, groups in direct.items():
            for group_id in groups:
                self._grant(account_id, group_id)
                # What a nested group gives is explained by the direct membership: via names
                # the user's own group, the one to remove them from.
                for inherited in ancestors.of(group_id):
                    if inherited != group_id:
                        self._grant(account_id, inherited, via=group_id)

    def _primary_groups(self, direct: dict[str, set[str]]) -> None:
        """AD's primary group is not in the group's member list: by the group's SID, or
        where SIDs are not known, by its RID within the user's domain (the group's own SID,
        else its well-known name: 513 is Domain Users)."""
        by_sid = {facts.sid: gid for gid, facts in self.group_facts.items() if facts.sid}
        by_rid: dict[tuple[str, int], str] = {}
        for gid, facts in self.group_facts.items():
            rid = facts.well_known_rid
            if facts.sid is not None and facts.sid[0] != BUILTIN_DOMAIN:
                rid = facts.sid[1]
            if rid is not None:
                dn = self.group_dns[gid]
                key = (self._domain_key(dn), rid)
                # A group known by its SID wins over one known only by its name.
                if key not in by_rid or facts.sid is not None:
                    by_rid[key] = gid
        unresolved: dict[int, int] = {}
        for account_id, (domain_sid, rid, domain) in self.primary_groups.items():
            found = by_sid.get((domain_sid, rid)) if domain_sid is not None else None
            group = found if found is not None else by_rid.get((domain, rid))
            if group is None:
                unresolved[rid] = unresolved.get(rid, 0) + 1
                continue
            direct.setdefault(account_id, set()).add(group)
        if unresolved:
            rids = ", ".join(f"{rid} ({count} users)" for rid, count in sorted(unresolved.items()))
            self.errors.append(
                SnapshotError(
                    source=self.origin,
                    message=f"primary groups not among the groups read, by primaryGroupID: "
                    f"{rids}; that membership is not shown (read the domain's Users container "
                    "or export the group with its objectSid or its well-known name)",
                )
            )

    # fine-grained password policies (AD)

    def password_settings(self, collected: Collected) -> list[dict[str, Any]]:
        """Each PSO in the normalized form, with whom it names and how many accounts it is
        the effective policy of: a user's own PSOs beat its groups' (global security groups,
        nesting included), and among either the lowest precedence wins (a tie: the lower
        id). Each covered account names its PSO in ``password_settings``."""
        policies: list[dict[str, Any]] = []
        for entry in collected.password_settings:
            try:
                native_id = self.flavor.native_id(entry)
            except ValueError as exc:
                self._problem(entry, f"password settings object skipped: {exc}")
                continue
            policy, problems = pso_password_policy(entry)
            for problem in problems:
                self.errors.append(
                    SnapshotError(
                        source=self.origin,
                        line=entry.line,
                        record=clean(entry.dn),
                        message=f"password settings object: {problem}; left unknown",
                        consequence="whom this PSO covers, and how it ranks, is not known"
                        if "msDS-P" in problem and "cannot be read" in problem
                        else None,
                    )
                )
            users, groups, elsewhere = [], [], []
            for target in entry.texts("msDS-PSOAppliesTo"):
                key = dn_key(target)
                if key in self.user_by_dn:
                    users.append(self.user_by_dn[key])
                elif key in self.group_by_dn:
                    groups.append(self.group_by_dn[key])
                else:
                    elsewhere.append(clean(target))
            policy["id"] = native_id
            policy["users"] = sorted(self.accounts[u].login for u in users)
            policy["groups"] = sorted(self.group_facts[g].name for g in groups)
            if elsewhere:
                policy["applies_to_unread"] = sorted(elsewhere)
                self.errors.append(
                    SnapshotError(
                        source=self.origin,
                        line=entry.line,
                        record=clean(entry.dn),
                        message=f"password settings object {policy['name']} applies to "
                        f"{len(elsewhere)} entries that are not among the users and groups "
                        f"read ({', '.join(sorted(elsewhere))})",
                        consequence="the accounts it covers may be more than counted",
                    )
                )
            policies.append({"_users": set(users), "_groups": set(groups), **policy})
        self._rank(policies)
        for policy in policies:
            del policy["_users"], policy["_groups"]
        return sorted(policies, key=lambda p: (_precedence(p), p["id"]))

    def _rank(self, policies: list[dict[str, Any]]) -> None:
        """Counts each PSO's accounts: for each account the winning PSO of its own, else of
        its groups."""
        groups_of: dict[str, set[str]] = {}
        for grant in self.grants:
            groups_of.setdefault(grant.account_id, set()).add(grant.entitlement_id)
        ordered = sorted(policies, key=lambda p: (_precedence(p), p["id"]))
        for policy in policies:
            policy["accounts"] = 0
        for account_id, account in self.accounts.items():
            own = [p for p in ordered if account_id in p["_users"]]
            mine = groups_of.get(account_id, set())
            through = [
                p
                for p in ordered
                if any(
                    g in mine
                    and self.group_facts[g].security
                    and self.group_facts[g].global_scope is not False
                    for g in p["_groups"]
                )
            ]
            candidates = own or through
            if candidates:
                winner = candidates[0]
                winner["accounts"] += 1
                account.attributes["password_settings"] = str(winner["name"])

    def _grant(self, account: str, entitlement: str, via: str | None = None) -> None:
        self.grants.add(
            Grant(system=self.system, account_id=account, entitlement_id=entitlement, via=via)
        )


class _Ancestors:
    """The groups a group is nested in, transitively; cycles (legal in AD) end the walk."""

    def __init__(self, parents: dict[str, set[str]], facts: dict[str, GroupFacts]) -> None:
        self.parents, self.facts = parents, facts
        self.cache: dict[str, frozenset[str]] = {}

    def of(self, group_id: str) -> frozenset[str]:
        if group_id in self.cache:
            return self.cache[group_id]
        found: set[str] = set()
        # A distribution group confers no access, so nothing is inherited through it, and
        # being a member of one gives no security group.
        if self.facts[group_id].security:
            stack = [group_id]
            while stack:
                for parent in self.parents.get(stack.pop(), ()):
                    if parent not in found and self.facts[parent].security:
                        found.add(parent)
                        stack.append(parent)
        self.cache[group_id] = frozenset(found)
        return self.cache[group_id]


def _precedence(policy: dict[str, Any]) -> int:
    """Unknown precedence ranks last: it cannot be shown to win."""
    value = policy.get("precedence")
    return value if isinstance(value, int) else 2**31


# --- password policy ------------------------------------------------------------------------


def password_policy(
    flavor: str, collected: Collected, origin: str
) -> tuple[dict[str, Any] | None, list[SnapshotError]]:
    """The directory's password policy in the normalized form (``source``, ``min_length``,
    ``history``, ``max_age_days``, ``lockout_threshold``, ``complexity``), and notes on what
    could not be known. A policy left unknown only means it is not judged; the access data
    stays complete."""
    notes: list[SnapshotError] = []
    entries = collected.policy_entries
    wanted = collected.policy_dn
    if wanted is not None:
        entries = [e for e in entries if dn_key(e.dn) == dn_key(wanted)]
    if flavor == "ad" and len(entries) > 1:
        # An export of the whole domain: its root is the domain object with the fewest RDNs.
        fewest = min(len(dn_key(e.dn).split(",")) for e in entries)
        entries = [e for e in entries if len(dn_key(e.dn).split(",")) == fewest]
    if len(entries) > 1:
        names = ", ".join(sorted(clean(e.dn) for e in entries))
        notes.append(
            SnapshotError(
                source=origin,
                message=f"several password policies ({names}): set password_policy_dn to the "
                "default one; the password policy is not judged",
            )
        )
        return None, notes
    if not entries:
        if collected.policy_read and (flavor == "ad" or wanted is not None):
            where = f"at {wanted}" if wanted else "in the export"
            what = "domain object (objectClass domainDNS)" if flavor == "ad" else "pwdPolicy entry"
            notes.append(
                SnapshotError(
                    source=origin,
                    record=wanted,
                    message=f"no {what} {where}: the password policy is not judged",
                )
            )
        return None, notes
    (entry,) = entries
    if flavor == "ad":
        policy, problems = domain_password_policy(entry)
        attributes = ", ".join(DOMAIN_POLICY_ATTRIBUTES)
    else:
        policy, problems = ppolicy_password_policy(entry)
        attributes = ", ".join(PPOLICY_ATTRIBUTES[:7])
    if policy is None:
        problems.append(f"it shows none of {attributes} (can the credential read them?)")
    for problem in problems:
        notes.append(
            SnapshotError(
                source=origin,
                line=entry.line,
                record=clean(entry.dn),
                message=f"password policy: {problem}; left unknown",
            )
        )
    return policy, notes
