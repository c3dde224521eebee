"""Directory entries to the shared model: accounts, password credentials, groups, and grants
through nested groups, the same way for a live directory and an LDIF export."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from iam_gov.connectors.ldap.ad import domain_password_policy
from iam_gov.connectors.ldap.entry import Entry, Flavor, GroupFacts, UserFacts, clean, dn_key
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

CONNECTOR_TYPE = "ldap"

# Where each flavor keeps its password policy: AD on the domain object, OpenLDAP in a ppolicy
# entry (the one slapd's ppolicy_default names applies to everyone without pwdPolicySubentry).
POLICY_CLASS = {"ad": "domaindns", "openldap": "pwdpolicy"}
PPOLICY_FILTER = "(objectClass=pwdPolicy)"
PPOLICY_ATTRIBUTES = (
    "pwdAttribute",  # required in every ppolicy: seeing it shows the entry is readable
    "pwdMinLength",
    "pwdCheckQuality",
    "pwdInHistory",
    "pwdMaxAge",
    "pwdLockout",
    "pwdMaxFailure",
    "pwdCheckModule",
    "pwdUseCheckModule",
)


@dataclass
class Collected:
    """What was read, before mapping."""

    users: list[Entry] = field(default_factory=list)
    groups: list[Entry] = field(default_factory=list)
    password_holders: set[str] | None = None
    """dn_keys of users that have a password (live: a presence search); None: the entries
    themselves say, by carrying userPassword (an export)."""
    errors: list[SnapshotError] = field(default_factory=list)
    complete: bool = True
    policy_entries: list[Entry] = field(default_factory=list)
    """Entries that may hold the password policy (AD domain objects, OpenLDAP ppolicies)."""
    policy_dn: str | None = None
    """The one wanted, when known: ``password_policy_dn``, or live AD's domain."""
    policy_read: bool = True
    """False when reading it failed (already said in errors): its absence then says nothing."""


def build_snapshot(
    *,
    system: str,
    flavor: Flavor,
    collected: Collected,
    source: str,
    origin: str,
    collected_at: datetime,
    settings: dict[str, Any],
) -> SystemSnapshot:
    """``origin`` names where the entries came from in problems (a file, a server)."""
    mapper = _Mapper(system, flavor, origin, collected_at, list(collected.errors))
    mapper.complete = collected.complete
    mapper.users(collected.users, collected.password_holders)
    mapper.groups(collected.groups)
    mapper.memberships()
    policy, notes = password_policy(flavor.name, collected, origin)
    if policy is not None:
        settings = {**settings, "password_policy": policy}
    return SystemSnapshot(
        system=system,
        connector=CONNECTOR_TYPE,
        source=source,
        collected_at=collected_at,
        complete=mapper.complete,
        errors=(*mapper.errors, *notes),
        accounts=tuple(sorted(mapper.accounts.values(), key=lambda a: a.native_id)),
        credentials=tuple(sorted(mapper.credentials, key=lambda c: c.credential_id)),
        entitlements=tuple(mapper.entitlements[key] for key in sorted(mapper.entitlements)),
        grants=tuple(
            sorted(mapper.grants, key=lambda g: (g.account_id, g.entitlement_id, g.via or ""))
        ),
        settings=settings,
    )


@dataclass
class _Mapper:
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
    primary_groups: dict[str, tuple[str, int]] = field(default_factory=dict)
    group_facts: dict[str, GroupFacts] = field(default_factory=dict)
    group_by_dn: dict[str, str] = field(default_factory=dict)

    def _problem(self, entry: Entry, message: str) -> None:
        # Every problem leaves something unknown, and unknown must never read as removed.
        self.complete = False
        self.errors.append(
            SnapshotError(source=self.origin, line=entry.line, record=entry.dn, message=message)
        )

    # accounts

    def users(self, entries: Iterable[Entry], password_holders: set[str] | None) -> None:
        for entry in entries:
            key = dn_key(entry.dn)
            if password_holders is None:
                has_password = entry.has("userPassword")
            else:
                has_password = key in password_holders
            try:
                facts = self.flavor.user(entry, has_password=has_password, now=self.now)
            except ValueError as exc:
                self._problem(entry, f"user skipped: {exc}")
                continue
            if facts.native_id in self.accounts:
                self._problem(entry, f"user skipped: its id {facts.native_id} is another's too")
                continue
            for problem in facts.problems:
                self._problem(entry, f"{problem}: left unknown")
            self._account(facts)
            self.user_by_dn[key] = facts.native_id
            self.users_by_login.setdefault(facts.login.casefold(), []).append(facts.native_id)
            if facts.primary_group is not None:
                self.primary_groups[facts.native_id] = facts.primary_group
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
            try:
                facts = self.flavor.group(entry)
            except ValueError as exc:
                self._problem(entry, f"group skipped: {exc}")
                continue
            if facts.native_id in self.group_facts:
                self._problem(entry, f"group skipped: its id {facts.native_id} is another's too")
                continue
            for problem in facts.problems:
                self._problem(entry, f"{problem}: left unknown")
            self.group_facts[facts.native_id] = facts
            self.group_by_dn[dn_key(entry.dn)] = facts.native_id

    def memberships(self) -> None:
        direct: dict[str, set[str]] = {}
        parents: dict[str, set[str]] = {}
        for group_id, facts in self.group_facts.items():
            for member in facts.members:
                key = dn_key(member)
                if key in self.user_by_dn:
                    direct.setdefault(self.user_by_dn[key], set()).add(group_id)
                elif key in self.group_by_dn:
                    parents.setdefault(self.group_by_dn[key], set()).add(group_id)
                # Anything else (a contact, a computer, a foreign principal, an entry outside
                # the bases read) is nobody's account here.
            for login in facts.member_logins:
                for account_id in self.users_by_login.get(login.casefold(), ()):
                    direct.setdefault(account_id, set()).add(group_id)
        by_sid = {facts.sid: gid for gid, facts in self.group_facts.items() if facts.sid}
        for account_id, sid in self.primary_groups.items():
            if sid in by_sid:  # AD's primary group is not in the group's member list
                direct.setdefault(account_id, set()).add(by_sid[sid])

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
        attributes = "minPwdLength, pwdHistoryLength, maxPwdAge, lockoutThreshold, pwdProperties"
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


def ppolicy_password_policy(entry: Entry) -> tuple[dict[str, Any] | None, list[str]]:
    """An OpenLDAP ppolicy entry normalized. An attribute that is absent has its documented
    default (slapo-ppolicy(5)): 0, "no limit" or FALSE."""
    problems: list[str] = []

    def integer(name: str) -> int:
        text = entry.text(name)
        if text is None:
            return 0
        try:
            return int(text)
        except ValueError:
            problems.append(f"{name} {text!r} is not a number")
            return 0

    def flag(name: str) -> bool:
        return (entry.text(name) or "").strip().upper() == "TRUE"

    if not any(entry.has(name) for name in PPOLICY_ATTRIBUTES):
        return None, problems
    notes = []
    quality, min_length = integer("pwdCheckQuality"), integer("pwdMinLength")
    if min_length and not quality:
        # slapd checks the length only when asked to check quality at all.
        notes.append(f"pwdMinLength {min_length} is not enforced: pwdCheckQuality is 0")
    max_age = integer("pwdMaxAge")  # seconds; 0: never
    checked = entry.has("pwdCheckModule") or flag("pwdUseCheckModule")
    policy: dict[str, Any] = {
        "source": "openldap-ppolicy",
        "dn": clean(entry.dn),
        "min_length": min_length if quality else 0,
        "history": integer("pwdInHistory"),
        "max_age_days": round(max_age / 86400) if max_age else None,
        "lockout_threshold": integer("pwdMaxFailure") if flag("pwdLockout") else 0,
        # Character classes are only checked by a check module, whose rules are its own.
        "complexity": None if checked else False,
    }
    if notes:
        policy["notes"] = notes
    return policy, problems
