"""The analysis rules ask for: an account with its escalation paths and admin-equivalence,
built once per snapshot view however many rules ask."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

from iam_gov.aws_policy.account import AccountModel, Principal
from iam_gov.aws_policy.causes import (
    Cause,
    Placement,
    admin_causes,
    path_cause,
    paths_without_admin,
)
from iam_gov.aws_policy.escalation import (
    AdminEquivalence,
    EscalationPath,
    admin_equivalence,
    escalation_paths,
)
from iam_gov.aws_policy.organization import account_of
from iam_gov.engine.state import EvaluationState, SystemView


class AwsAccount(AccountModel):
    """One AWS account: its effective permissions and role assumption (``AccountModel``),
    and what a principal can make of them."""

    def escalation_paths(self, principal: str | Principal) -> tuple[EscalationPath, ...]:
        """The best path for each escalation method open to the principal, through the roles
        it can assume too. Empty for an admin-equivalent principal: it has nothing to gain."""
        return escalation_paths(self, self.principal(principal))

    def is_admin_equivalent(self, principal: str | Principal) -> AdminEquivalence | None:
        """Why the principal can do anything (or grant itself anything), unconditionally; None
        when it cannot."""
        return admin_equivalence(self, self.principal(principal))

    def admin_causes(self, principal: str | Principal) -> tuple[Cause, ...]:
        """What makes the principal admin-equivalent, each cause on its own (a group, a
        policy attached directly, a role it can assume …); empty when it is not."""
        p = self.principal(principal)
        equivalence = admin_equivalence(self, p)
        return () if equivalence is None else admin_causes(self, p, equivalence)

    def paths_beyond_admin(self, principal: str | Principal) -> tuple[EscalationPath, ...]:
        """For a principal admin-equivalent through its policies, the escalation paths it
        keeps without them: redundant today, open once the admin grant alone is fixed."""
        return paths_without_admin(self, self.principal(principal))

    def cause_of(self, path: EscalationPath) -> Cause:
        """What makes an escalation path possible: the grants of its enabling actions, the
        method and the target."""
        return path_cause(self, path)


_ANALYSES: dict[int, tuple[weakref.ref[SystemView], AwsAccount]] = {}


def is_aws_view(view: SystemView) -> bool:
    """The view holds an AWS snapshot (the kinds of documents only the AWS connector keeps)."""
    return view.info.connector == "aws" or any(
        d.kind in ("managed-policy", "inline-policy", "trust-policy")
        for d in view.documents.values()
    )


def analysis_for(view: SystemView) -> AwsAccount:
    """The analysis of a view, built once however many rules ask for it."""
    key = id(view)
    cached = _ANALYSES.get(key)
    if cached is not None and cached[0]() is view:
        return cached[1]
    account = AwsAccount.from_view(view)
    _ANALYSES[key] = (weakref.ref(view, lambda _: _ANALYSES.pop(key, None)), account)
    return account


class _Scope(NamedTuple):
    system: str
    account_id: str
    ready: frozenset[str] | None
    """The accounts whose findings are complete once this one is done (no principal of an
    account still to come can reach their roles); None on the system's last account:
    every finding."""


_SCOPE: ContextVar[_Scope | None] = ContextVar("aws_account_scope", default=None)
"""The account of an AWS system the AWS rules are run on now; None: every account."""


def by_account(state: EvaluationState) -> Iterator[tuple[str, str]]:
    """The parts the AWS rules run on (``Rule.parts``): each account of each AWS system in
    turn. After each, what its analysis worked out (policy sets, decisions, escalation
    paths) is let go: an organization of 50 accounts needs the memory of about a few.
    Roles of other accounts a principal can reach are still followed.

    A finding's members may come from several accounts (a role of one account that
    principals of others can assume), so the rules gather causes and members account by
    account (``gathering``) and report an account's findings once every account whose
    principals can reach its roles, directly or through a chain, has been done."""
    for view in state.systems.values():
        if not is_aws_view(view):
            continue
        analysis = analysis_for(view)
        accounts = analysis.account_ids()
        done_at = _complete_after(analysis, accounts)
        for i, account_id in enumerate(accounts):
            last = i == len(accounts) - 1
            ready = None if last else frozenset(a for a, at in done_at.items() if at == i)
            token = _SCOPE.set(_Scope(view.name, account_id, ready))
            try:
                yield (view.name, account_id)
            finally:
                _SCOPE.reset(token)
                analysis.forget_work(everything=i == len(accounts) - 1)


def _complete_after(analysis: AwsAccount, accounts: list[str]) -> dict[str, int]:
    """Account -> the index in ``accounts`` after which its findings are complete: the
    latest of itself and every account whose principals can reach its roles, directly
    or through a chain (by what the trust policies name; a role open to anyone is reached
    from every account)."""
    index = {a: i for i, a in enumerate(accounts)}
    into: dict[str, set[str]] = {a: set() for a in accounts}
    named, by_account, open_to_all = analysis.trust_index()
    for arn, roles in named.items():
        for role in roles:
            into.setdefault(account_of(role), set()).add(account_of(arn))
    for source, roles in by_account.items():
        for role in roles:
            into.setdefault(account_of(role), set()).add(source)
    for role in open_to_all:
        into.setdefault(account_of(role), set()).update(accounts)
    done_at: dict[str, int] = {}
    for home in accounts:
        seen = {home}
        todo = [home]
        while todo:
            for source in into.get(todo.pop(), ()):
                if source not in seen:
                    seen.add(source)
                    todo.append(source)
        done_at[home] = max(index[a] for a in seen if a in index)
    return done_at


def scoped_arns(view: SystemView, analysis: AwsAccount) -> list[str]:
    """The ARNs of the view's accounts an AWS rule looks at now, in order: every one, or
    those of the account ``by_account`` is on."""
    scope = _SCOPE.get()
    if scope is None:
        return sorted(view.accounts)
    if scope.system != view.name:
        return []
    return sorted(p.arn for p in analysis.in_account(scope.account_id) if p.arn in view.accounts)


def in_turn(view: SystemView) -> bool:
    """The AWS rules look at this system now (every system, outside ``by_account``)."""
    scope = _SCOPE.get()
    return scope is None or scope.system == view.name


M = TypeVar("M")


@dataclass
class Gathered(Generic[M]):
    """One AWS rule's causes and members by finding key, gathered over the accounts."""

    causes: dict[str, list[Cause]] = field(default_factory=dict)
    members: dict[str, list[M]] = field(default_factory=dict)
    places: dict[str, Placement] = field(default_factory=dict)
    shared: dict[Any, Any] = field(default_factory=dict)
    """Whatever the rule shares between its members while it runs."""

    def add(self, placed: Placement, cause: Cause, member: M) -> None:
        self.places.setdefault(placed.key, placed)
        self.causes.setdefault(placed.key, []).append(cause)
        self.members.setdefault(placed.key, []).append(member)

    def drain(
        self, ready: frozenset[str] | None
    ) -> Iterator[tuple[list[Cause], list[M], Placement]]:
        """The causes, members and placement of each finding of the ``ready`` accounts
        (None: of every account), in key order, let go once given."""
        keys = sorted(
            key
            for key, placed in self.places.items()
            if ready is None or placed.account_id in ready
        )
        for key in keys:
            yield self.causes.pop(key), self.members.pop(key), self.places.pop(key)


def gathering(
    state: EvaluationState, view: SystemView, analysis: AwsAccount, rule_id: str
) -> tuple[Gathered[Any], frozenset[str] | None]:
    """What the rule gathered so far on this system in this evaluation, and the accounts
    whose findings to report now (``by_account``); outside ``by_account``, a new gathering
    and None: everything at once."""
    scope = _SCOPE.get()
    if scope is None:
        return Gathered(), None
    key = f"gathered {rule_id}"
    kept = analysis.lasting.get(key)
    if kept is None or kept[0]() is not state:
        kept = analysis.lasting[key] = (weakref.ref(state), Gathered())
    if scope.ready is None:
        del analysis.lasting[key]
    gathered: Gathered[Any] = kept[1]
    return gathered, scope.ready
