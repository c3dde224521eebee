"""What rules see: people, accounts, grants and links, indexed once per evaluation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any, Literal, NamedTuple

from iam_gov.correlate import AccountLink
from iam_gov.model import (
    Account,
    AccountKind,
    Credential,
    EmploymentStatus,
    Entitlement,
    Grant,
    GrantRow,
    Person,
    PolicyDocument,
    SystemSnapshot,
)
from iam_gov.policy import Policy, exception_valid
from iam_gov.policy.match import entitlement_matches
from iam_gov.policy.model import PrivilegedEntitlement
from iam_gov.store.people import Move, merge_moves
from iam_gov.store.reviews import ReviewRevocation
from iam_gov.store.snapshots import SnapshotInfo, counts_of


@dataclass
class SystemView:
    """One system's latest snapshot, indexed for rules."""

    info: SnapshotInfo
    accounts: dict[str, Account]
    entitlements: dict[str, Entitlement]
    grants: dict[str, Sequence[GrantRow]]
    """Account native id -> its grants."""
    credentials: dict[str, list[Credential]]
    settings: dict[str, Any]
    documents: dict[str, PolicyDocument] = field(default_factory=dict)
    """Permission documents kept verbatim (AWS policies), by document id."""
    observed_since: datetime | None = None
    """Set for systems whose sign-in data is sampled (VPN status files): an account with no
    last sign-in was not seen since this time, which is all that can be said."""

    @property
    def name(self) -> str:
        return self.info.system

    @property
    def as_of(self) -> datetime:
        """When the data was true: ages (dormancy, days since leaving) are measured from here."""
        return self.info.collected_at

    @cached_property
    def on(self) -> date:
        """The day of ``as_of``: whether someone has left is judged on it."""
        return self.as_of.date()

    @property
    def complete(self) -> bool:
        return self.info.complete


def build_view(
    info: SnapshotInfo,
    accounts: tuple[Account, ...],
    entitlements: tuple[Entitlement, ...],
    grants: Iterable[Grant | GrantRow],
    credentials: tuple[Credential, ...],
    settings: dict[str, Any],
    observed_since: datetime | None = None,
    documents: tuple[PolicyDocument, ...] = (),
) -> SystemView:
    by_account: dict[str, list[GrantRow]] = {}
    # The store gives grants by account: the list is looked up when the account changes.
    current: str | None = None
    held: list[GrantRow] = []
    for grant in grants:
        row = grant if isinstance(grant, GrantRow) else GrantRow.of(grant)
        account_id = row[1]
        if account_id != current:
            current = account_id
            found = by_account.get(account_id)
            held = by_account[account_id] = [] if found is None else found
        held.append(row)
    creds: dict[str, list[Credential]] = defaultdict(list)
    for credential in credentials:
        creds[credential.account_id].append(credential)
    return SystemView(
        info=info,
        accounts={a.native_id: a for a in accounts},
        entitlements={e.entitlement_id: e for e in entitlements},
        grants=dict[str, Sequence[GrantRow]](by_account),
        credentials=dict(creds),
        settings=settings,
        documents={d.document_id: d for d in documents},
        observed_since=observed_since,
    )


def view_of_snapshot(snapshot: SystemSnapshot, snapshot_id: int = 0) -> SystemView:
    """A snapshot as rules see it, without a store (a benchmark, a test, a dry read):
    stored "when it was collected", under ``snapshot_id``."""
    info = SnapshotInfo(
        id=snapshot_id,
        system=snapshot.system,
        connector=snapshot.connector,
        source=snapshot.source,
        collected_at=snapshot.collected_at,
        stored_at=snapshot.collected_at,
        complete=snapshot.complete,
        errors=snapshot.errors,
        counts=counts_of(snapshot),
    )
    return build_view(
        info,
        snapshot.accounts,
        snapshot.entitlements,
        snapshot.grants,
        snapshot.credentials,
        snapshot.settings,
        documents=snapshot.documents,
    )


class AccountEntry(NamedTuple):
    """An account with what nearly every rule asks first, worked out once per evaluation."""

    view: SystemView
    account: Account
    link: AccountLink
    person: Person | None
    """Whom the account is linked to, when they are in HR."""
    left: bool
    """The person has left by the day of this system's data (``has_left``)."""


ExplanationKind = Literal[
    "role", "exception", "decision", "declared", "group", "previous-role", "none"
]


@dataclass(frozen=True)
class Explanation:
    """Why a grant is there, in words, with where the policy says so."""

    kind: ExplanationKind
    detail: str
    expired: tuple[str, ...] = ()
    """Exceptions that once explained it but have expired."""

    @property
    def explained(self) -> bool:
        """Something approves it now (a role the person left behind does not)."""
        return self.kind not in ("none", "previous-role")


@dataclass
class EvaluationState:
    policy: Policy
    hr: SnapshotInfo
    people: dict[str, Person]
    systems: dict[str, SystemView]
    links: dict[tuple[str, str], AccountLink]
    evaluated_at: datetime
    moves: dict[str, Move] = field(default_factory=dict)
    """Each person's latest change in HR (department, title …), for movers: those recorded
    between snapshots, merged with the move each person's HR data reports (``merge_moves``)."""
    decisions: dict[tuple[str, str, str], str] = field(default_factory=dict)
    """(system, account id, entitlement id) -> a reviewer's decision that keeps the grant, in
    words: the latest decision about it in a closed access review was to approve it (kept
    only for grants that were not in role when reviewed)."""
    review_revocations: dict[tuple[str, str, str], ReviewRevocation] = field(default_factory=dict)
    """(system, account id, entitlement id) -> the revocation a closed access review decided
    (its latest decision about the grant), for reviews closed before the system's data was
    collected: the grant should be gone from it."""
    _roles: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _previous_roles: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _role_explanations: dict[tuple[tuple[str, ...], str, str], Explanation | None] = field(
        default_factory=dict, repr=False
    )
    _privileged: dict[tuple[str, str], bool] = field(default_factory=dict, repr=False)
    _pattern_hits: dict[tuple[str, str, str], bool] = field(default_factory=dict, repr=False)
    _entries: list[AccountEntry] | None = field(default=None, repr=False)
    _entries_of: dict[str, list[AccountEntry]] = field(default_factory=dict, repr=False)
    _ids: dict[tuple[object, ...], frozenset[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # The move HR reports is there from the export that first carries it, even before
        # any comparison of snapshots has recorded it.
        self.moves = merge_moves(self.moves, self.people.values())

    def accounts(self) -> Iterator[tuple[SystemView, Account, AccountLink]]:
        """Every account of every system, with its link."""
        for entry in self.entries():
            yield entry.view, entry.account, entry.link

    def entries(self) -> list[AccountEntry]:
        """Every account of every system, with its link and person; listed once, walked by
        every rule."""
        if self._entries is None:
            # One pass over every account of a large company: what ``person_of`` and
            # ``has_left`` say is worked out here inline, ``has_left`` once per person and day.
            entries: list[AccountEntry] = []
            of_person = self._entries_of
            links, people, has_left = self.links, self.people, self.has_left
            make = tuple.__new__
            for view in self.systems.values():
                name, on = view.name, view.on
                left_on: dict[str, bool] = {}
                for native_id, account in view.accounts.items():
                    link = links[(name, native_id)]
                    person_id = link.person_id
                    person = None if person_id is None else people.get(person_id)
                    if person is None or person_id is None:
                        entry = make(AccountEntry, (view, account, link, None, False))
                        entries.append(entry)
                        continue
                    left = left_on.get(person_id)
                    if left is None:
                        left = left_on[person_id] = has_left(person, on)
                    entry = make(AccountEntry, (view, account, link, person, left))
                    entries.append(entry)
                    mine = of_person.get(person.employee_id)
                    if mine is None:
                        of_person[person.employee_id] = [entry]
                    else:
                        mine.append(entry)
            self._entries = entries
        return self._entries

    def entries_of(self, person: Person) -> list[AccountEntry]:
        """The accounts linked to a person, in every system (in the order of ``entries``)."""
        self.entries()
        return self._entries_of.get(person.employee_id, [])

    def person_of(self, link: AccountLink) -> Person | None:
        return None if link.person_id is None else self.people.get(link.person_id)

    @staticmethod
    def has_left(person: Person, on: date) -> bool:
        """Gone by ``on``: HR says terminated (and the last working day is behind us), or the
        end date passed after the HR export was taken (exports lag; the date does not)."""
        end = person.end_date
        if person.status is EmploymentStatus.TERMINATED:
            return end is None or on > end
        return end is not None and on > end

    def roles_of(self, person: Person) -> tuple[str, ...]:
        roles = self._roles.get(person.employee_id)
        if roles is None:
            roles = self.policy.roles_of(person)
            self._roles[person.employee_id] = roles
        return roles

    def previous_roles(self, person: Person) -> tuple[str, ...]:
        """Roles the person had before their latest HR change and has no longer."""
        cached = self._previous_roles.get(person.employee_id)
        if cached is None:
            move = self.moves.get(person.employee_id)
            if move is None:
                cached = ()
            else:
                current = set(self.roles_of(person))
                cached = tuple(
                    r for r in self.policy.roles_of(move.before(person)) if r not in current
                )
            self._previous_roles[person.employee_id] = cached
        return cached

    def matches(self, system: str, pattern: str, entitlement: Entitlement) -> bool:
        key = (system, pattern, entitlement.entitlement_id)
        hit = self._pattern_hits.get(key)
        if hit is None:
            hit = entitlement_matches(pattern, entitlement)
            self._pattern_hits[key] = hit
        return hit

    def is_privileged(self, view: SystemView, entitlement: Entitlement) -> bool:
        key = (view.name, entitlement.entitlement_id)
        privileged = self._privileged.get(key)
        if privileged is None:
            privileged = entitlement.privileged or any(
                self.matches(view.name, p.entitlement, entitlement)
                for p in self.policy.privileged.get(view.name, ())
            )
            self._privileged[key] = privileged
        return privileged

    def privileged_ids(self, view: SystemView) -> frozenset[str]:
        """Ids of the entitlements in ``view`` that are privileged: rules test each grant
        against this set instead of working it out per grant."""
        return self._entitlement_ids(("privileged",), view, lambda e: self.is_privileged(view, e))

    def matching_ids(self, view: SystemView, pattern: str) -> frozenset[str]:
        """Ids of the entitlements in ``view`` that a policy pattern names."""
        return self._entitlement_ids(
            ("pattern", pattern), view, lambda e: self.matches(view.name, pattern, e)
        )

    def role_explained_ids(self, roles: tuple[str, ...], view: SystemView) -> frozenset[str]:
        """Ids of the entitlements in ``view`` that these roles bring: a grant of one is
        explained by a role (``explain`` says so too), whatever else is true of it."""
        return self._entitlement_ids(
            ("roles", roles),
            view,
            lambda e: self._role_explanation(roles, view.name, e) is not None,
        )

    def _entitlement_ids(
        self, question: tuple[object, ...], view: SystemView, test: Callable[[Entitlement], bool]
    ) -> frozenset[str]:
        """The ids of the entitlements in ``view`` that pass ``test``, worked out once per
        question: rules ask the same of every account."""
        key = (*question, view.name)
        ids = self._ids.get(key)
        if ids is None:
            ids = self._ids[key] = frozenset(
                e.entitlement_id for e in view.entitlements.values() if test(e)
            )
        return ids

    def privilege_requirements(
        self, view: SystemView, entitlement: Entitlement
    ) -> PrivilegedEntitlement | None:
        """How the policy says this privileged entitlement must be held, if it says."""
        for spec in self.policy.privileged.get(view.name, ()):
            if self.matches(view.name, spec.entitlement, entitlement):
                return spec
        return None

    def privileged_grants(self, view: SystemView, account: Account) -> list[Entitlement]:
        """The privileged entitlements the account holds, each once: held directly and
        through a group too, it is still one entitlement."""
        privileged = self.privileged_ids(view)
        held = dict.fromkeys(
            grant.entitlement_id
            for grant in view.grants.get(account.native_id, ())
            if grant.entitlement_id in privileged
        )
        return [view.entitlements[entitlement_id] for entitlement_id in held]

    def explain(
        self, view: SystemView, account: Account, link: AccountLink, grant: GrantRow
    ) -> Explanation:
        """Why a grant is there, in order: the group it comes through, a declaration (service
        accounts), a role, an approved exception, a review decision; a role the person left
        behind (movers); else nothing, saying so when a role could have requested it."""
        entitlement = view.entitlements.get(grant.entitlement_id)
        if grant.via is not None:
            group = view.entitlements.get(grant.via)
            return Explanation("group", f"through {group.ref if group else grant.via}")
        if entitlement is None:
            return Explanation("none", "the entitlement is not in the snapshot")
        person = self.person_of(link)
        if link.kind is not AccountKind.HUMAN:
            declared = self.policy.declared(account)
            if declared is not None:
                for pattern in declared.item.entitlements:
                    if self.matches(view.name, pattern, entitlement):
                        return Explanation(
                            "declared",
                            f"declared for {link.kind.value} account at {declared.where}",
                        )
        if person is not None:
            by_role = self._role_explanation(self.roles_of(person), view.name, entitlement)
            if by_role is not None:
                return by_role
        exception = self.exception_for(view, account, person, entitlement)
        if exception.kind == "exception":
            return exception
        decision = self.decisions.get((view.name, account.native_id, entitlement.entitlement_id))
        if decision is not None:
            return Explanation("decision", decision)
        if person is not None:
            for pattern, role in self.policy.expected(self.previous_roles(person), view.name):
                if self.matches(view.name, pattern, entitlement):
                    move = self.moves[person.employee_id]
                    return Explanation(
                        "previous-role",
                        f"previous role {role}, before the change on {move.changed_at.date()}",
                    )
            for pattern, role in self.policy.requestable(self.roles_of(person), view.name):
                if self.matches(view.name, pattern, entitlement):
                    return Explanation(
                        "none",
                        f"requestable for role {role}, but no approval is recorded",
                        exception.expired,
                    )
        return exception

    def _role_explanation(
        self, roles: tuple[str, ...], system: str, entitlement: Entitlement
    ) -> Explanation | None:
        # Many people share a set of roles: each (roles, entitlement) is worked out once.
        key = (roles, system, entitlement.entitlement_id)
        if key in self._role_explanations:
            return self._role_explanations[key]
        found = None
        for pattern, role in self.policy.expected(roles, system):
            if self.matches(system, pattern, entitlement):
                found = Explanation("role", f"role {role} ({self.policy.roles[role].where})")
                break
        self._role_explanations[key] = found
        return found

    def exception_for(
        self, view: SystemView, account: Account, person: Person | None, entitlement: Entitlement
    ) -> Explanation:
        """A valid exception approving this grant, or "none" with any that have expired."""
        expired = []
        on = view.as_of.date()
        for located in self.policy.exceptions_for(view.name, person, account):
            exc = located.item
            if not self.matches(view.name, exc.entitlement, entitlement):
                continue
            text = f"exception approved by {exc.approver} until {exc.expires} ({located.where})"
            if exception_valid(exc, on):
                return Explanation("exception", text)
            expired.append(text)
        return Explanation("none", "no role, exception or declaration explains it", tuple(expired))
