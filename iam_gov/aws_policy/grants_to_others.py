"""What a principal can grant to others: IAM writes on users, roles, groups and policies other
than its own (attach or write a policy, add a user to an admin group, rewrite an admin role's
trust, take over an admin user's credentials), with the targets, the most privileged first;
itself, or through the roles it can assume."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import cast

from iam_gov.aws_policy.account import Principal, is_customer_managed
from iam_gov.aws_policy.analysis import AwsAccount
from iam_gov.aws_policy.causes import Cause, Grantor, grantors_of
from iam_gov.aws_policy.document import StatementRef, resource_regex
from iam_gov.aws_policy.escalation import short_name
from iam_gov.aws_policy.evaluate import Certainty, Decision
from iam_gov.aws_policy.organization import account_of

METHOD = "grant-to-others"
"""The method part of the cause key (``GRANTOR:grant-to-others``)."""

_PASSWORD_UNKNOWN = "depends on the target's console password, unknown"
_MAX_NAMED = 25
"""Targets named per action, once one of them is as sure as the action can be: enough to act
on, and it bounds the work on accounts with thousands of admin-equivalent principals."""


@dataclass(frozen=True)
class GrantAction:
    """One IAM write that changes someone else's permissions."""

    action: str
    kind: str
    """What it acts on: ``user``, ``role``, ``group`` or ``policy``."""
    only_admin: bool
    """Only admin-equivalent targets count: the action gives the principal (or whoever it
    chooses) what the target has, rather than letting it write anything."""
    needs_password: bool | None = None
    """For a console-password action: the target must have one (True) or not (False)."""
    note: str | None = None
    """Why a path through it is never certain."""


GRANT_ACTIONS: tuple[GrantAction, ...] = (
    GrantAction("iam:AttachUserPolicy", "user", only_admin=False),
    GrantAction("iam:PutUserPolicy", "user", only_admin=False),
    GrantAction("iam:AttachRolePolicy", "role", only_admin=False),
    GrantAction("iam:PutRolePolicy", "role", only_admin=False),
    GrantAction("iam:AttachGroupPolicy", "group", only_admin=False),
    GrantAction("iam:PutGroupPolicy", "group", only_admin=False),
    GrantAction("iam:CreatePolicyVersion", "policy", only_admin=False),
    GrantAction(
        "iam:SetDefaultPolicyVersion",
        "policy",
        only_admin=False,
        note="the snapshot keeps only each policy's default version; what the others allow "
        "is not known",
    ),
    GrantAction("iam:AddUserToGroup", "group", only_admin=True),
    GrantAction("iam:UpdateAssumeRolePolicy", "role", only_admin=True),
    GrantAction("iam:CreateAccessKey", "user", only_admin=True),
    GrantAction("iam:CreateLoginProfile", "user", only_admin=True, needs_password=False),
    GrantAction("iam:UpdateLoginProfile", "user", only_admin=True, needs_password=True),
)
"""Every action this analysis looks for, in the order findings list them."""


@dataclass(frozen=True)
class GrantTarget:
    """A user, role, group or customer-managed policy the principal can act on."""

    arn: str
    kind: str
    admin: bool
    """Admin-equivalent: a user or role by iam-gov's own rule, a group whose policies make
    any member so, a policy that allows all of IAM without conditions."""
    certainty: Certainty


@dataclass(frozen=True)
class Grant:
    """One action the principal may take on others, and on whom."""

    action: GrantAction
    any_target: bool
    """The policies allow it on an open-ended set (``*``, ``NotResource``): any present or
    future user, role, group or policy of that kind (itself aside)."""
    targets: tuple[GrantTarget, ...]
    """The targets in the snapshot: admin-equivalent first, then by ARN. When
    ``any_target``, only the admin-equivalent ones (every other is covered by "any")."""
    certainty: Certainty
    """The surest the action is, on its best target."""
    statements: tuple[StatementRef, ...]
    """The identity-policy statements that allow it (on its best targets)."""
    notes: tuple[str, ...] = ()
    more_targets: bool = False
    """More targets than those named (the list stops at a few dozen)."""
    via: tuple[str, ...] = ()
    """The roles the principal assumes, in order, before taking the action (ARNs); empty
    when its own policies allow it. The statements are then the last role's."""

    @property
    def actor(self) -> str | None:
        """The role whose policies allow the action, when it is not the principal's own."""
        return self.via[-1] if self.via else None

    @property
    def admin(self) -> bool:
        """It can make an admin of an admin-equivalent target, or of anyone it likes."""
        return self.any_target or any(t.admin for t in self.targets)

    def describe(self, limit: int = _MAX_NAMED) -> str:
        """``iam:AttachUserPolicy on any user (admin-equivalent: user/root-ops)``,
        ``iam:AddUserToGroup on group/admins (admin-equivalent)``: at most ``limit`` targets
        named (admin-equivalent ones first), then how many more."""
        admins = [short_name(t.arn) for t in self.targets if t.admin]
        if self.any_target:
            where = f"any {self.action.kind}"
            if admins:
                named = ", ".join(admins[:limit]) + _more(len(admins) - limit, self.more_targets)
                where += f" (admin-equivalent: {named})"
        else:
            where = ", ".join(
                short_name(t.arn) + (" (admin-equivalent)" if t.admin else "")
                for t in self.targets[:limit]
            )
            where += _more(len(self.targets) - limit, self.more_targets)
        route = f" via {' → '.join(short_name(r) for r in self.via)}" if self.via else ""
        return f"{self.action.action} on {where}{route}"


def _more(hidden: int, more_targets: bool) -> str:
    """`` and 3 more``, `` … and more`` (the analysis stopped looking), or nothing."""
    if hidden > 0:
        return f" and {hidden}{'+' if more_targets else ''} more"
    return " … and more" if more_targets else ""


def grants_to_others(account: AwsAccount, principal: str | Principal) -> tuple[Grant, ...]:
    """Every action of ``GRANT_ACTIONS`` the principal can take on some target other than
    itself (its own user, itself as a role, its own groups, policies only it holds), as
    ``GRANT_ACTIONS`` orders them: allowed by its own policies, or else by those of a role it
    can assume (``Grant.via``: the surest route, then the shortest; as sure as the action
    and the route together). Explicit Denies and the permissions boundary apply as for any
    decision; an Allow under a condition makes the grant conditional."""
    p = account.principal(principal)
    if p.kind not in ("user", "role"):
        return ()
    own = _own_grants(account, p)
    best = {g.action.action: g for g in own}
    reachable = account.reachable_roles(p)
    for role, reach in sorted(reachable.items(), key=lambda item: (len(item[1].chain), item[0])):
        for grant in _own_grants(account, account.principals[role]):
            certainty = Certainty.weakest(reach.certainty, grant.certainty)
            known = best.get(grant.action.action)
            if known is not None and known.certainty.rank >= certainty.rank:
                continue  # as sure already: itself, or through a shorter route
            best[grant.action.action] = replace(grant, certainty=certainty, via=reach.chain)
    return tuple(best[a.action] for a in GRANT_ACTIONS if a.action in best)


def by_route(grants: Iterable[Grant]) -> tuple[tuple[Grant, ...], ...]:
    """The grants split by whose policies allow them: the principal's own first, then each
    role's (by route). Each is a root cause of its own, as a finding reports it."""
    routes: dict[tuple[str, ...], list[Grant]] = {}
    for grant in grants:
        routes.setdefault(grant.via, []).append(grant)
    return tuple(tuple(routes[via]) for via in sorted(routes, key=lambda v: (len(v), v)))


def _own_grants(account: AwsAccount, p: Principal) -> tuple[Grant, ...]:
    """What the principal's own policies let it grant (memoized: every principal that can
    assume a role asks for the role's)."""
    memo = account.memo.setdefault("grants-own", {})
    found: tuple[Grant, ...] | None = memo.get(p.arn)
    if found is None:
        policies = account.policy_set(p)
        grants: list[Grant] = []
        for action in GRANT_ACTIONS:
            if not account.catalog.knows(action.action):
                continue
            if not policies.allowed >> account.catalog.bit(action.action) & 1:
                continue
            grant = _grant(account, p, action)
            if grant is not None:
                grants.append(grant)
        found = memo[p.arn] = tuple(grants)
    return found


def grant_cause(account: AwsAccount, principal: str | Principal, grants: Iterable[Grant]) -> Cause:
    """What lets the principal grant to others: how the principal (or, for grants through a
    role, that role: ``by_route``) holds the policies whose statements allow it (a group, a
    policy attached directly, an inline policy …), so that every principal the same grant
    empowers — those that hold it, and those that can become one that does — is reported
    together."""
    grants = list(grants)
    actor = next((g.actor for g in grants if g.actor is not None), None)
    p = account.principal(principal if actor is None else actor)
    documents = sorted({ref.document_id for g in grants for ref in g.statements})
    policies: dict[str, set[str]] = {}
    kinds: dict[str, Grantor] = {}
    for document_id in documents:
        for grantor in grantors_of(account, p, document_id):
            kinds.setdefault(grantor.key, grantor)
            policies.setdefault(grantor.key, set()).update(grantor.policies)
    return Cause(
        tuple(
            Grantor(key, kinds[key].kind, tuple(sorted(policies[key])), kinds[key].owners)
            for key in sorted(kinds)
        ),
        METHOD,
    )


def _grant(account: AwsAccount, p: Principal, action: GrantAction) -> Grant | None:
    policies = account.policy_set(p)
    scope = policies.scope((action.action,))
    elsewhere = _elsewhere(account, p, action)
    # Open-ended: ``*``, ``NotResource``, or a pattern any new user (role …) would match.
    any_target = scope is None or any(resource_regex(s).fullmatch(elsewhere) for s in scope)
    candidates = _candidates(account, p, action, scope, any_target)
    decided: list[tuple[GrantTarget, Decision, tuple[str, ...]]] = []
    # Once enough are named and one is as sure as the policies allow anywhere, stop.
    ceiling = policies.at_best((action.action,)) or Certainty.CONDITIONAL
    more_targets = surest = False
    for arn, kind, admin in candidates:
        if surest and len(decided) >= _MAX_NAMED:
            more_targets = True
            break
        if any_target and not admin and not action.only_admin:
            continue  # "any" covers it; only the admin-equivalent ones are named
        decision = policies.decide(action.action, arn)
        if decision is None:
            continue
        certainty, notes = decision.certainty, list(decision.notes)
        if action.note is not None:
            certainty = Certainty.weakest(certainty, Certainty.RESOURCE_CONSTRAINED)
            notes.append(action.note)
        if action.needs_password is not None:
            has = account.principals[arn].has_password
            if has is None:
                certainty = Certainty.weakest(certainty, Certainty.RESOURCE_CONSTRAINED)
                notes.append(_PASSWORD_UNKNOWN)
            elif has is not action.needs_password:
                continue
        decided.append((GrantTarget(arn, kind, admin, certainty), decision, tuple(notes)))
        surest = surest or certainty.rank >= ceiling.rank
    if any_target and not action.only_admin:
        # Open-ended: whether it applies to others at all (and how surely) is the decision
        # on a resource none of the principal's own.
        decision = policies.decide(action.action, elsewhere)
        if decision is None:
            return None
        base = decision.certainty
        notes_any = list(decision.notes)
        if action.note is not None:
            base = Certainty.weakest(base, Certainty.RESOURCE_CONSTRAINED)
            notes_any.append(action.note)
        statements = set(decision.statements)
        certainty = base
        notes_set = set(notes_any)
    else:
        if not decided:
            return None
        certainty = max((t.certainty for t, _, _ in decided), key=lambda c: c.rank)
        statements = set()
        notes_set = set()
        for target, decision, why in decided:
            if target.certainty is certainty:
                statements.update(decision.statements)
                notes_set.update(why)
    targets = sorted((t for t, _, _ in decided), key=lambda t: (not t.admin, t.arn))
    return Grant(
        action=action,
        any_target=any_target,
        targets=tuple(targets),
        certainty=certainty,
        statements=tuple(sorted(statements)),
        notes=tuple(sorted(notes_set)),
        more_targets=more_targets,
    )


def _elsewhere(account: AwsAccount, p: Principal, action: GrantAction) -> str:
    """An ARN of the action's kind that is not the principal's own (no IAM name holds the
    control character), standing for "some other one, present or future"."""
    account_id = p.arn.split(":")[4]
    return f"arn:aws:iam::{account_id}:{action.kind}/\x02other"


def _candidates(
    account: AwsAccount,
    p: Principal,
    action: GrantAction,
    scope: tuple[str, ...] | None,
    any_target: bool,
) -> Iterator[tuple[str, str, bool]]:
    """(ARN, kind, admin-equivalent) of each target of the action's kind in the snapshot that
    is not the principal's own, within ``scope`` when the policies name one; only the
    admin-equivalent ones when no other would be named (``any_target``, or an action that
    counts only on those). Admin-equivalent ones first, then by ARN."""
    home = account_of(p.arn)  # IAM writes reach only the caller's own account
    admins = _admins(account, home)
    within = None if scope is None else account.matching(scope)
    if action.kind == "policy":
        holders = _holders(account).get(home, {})
        pool: Iterable[str] = sorted(holders if within is None else within & holders.keys())
        for policy in pool:
            # only its own: the escalation analysis covers it
            if holders[policy] - {p.arn}:
                yield policy, "policy", _policy_admin(account, policy)
        return
    own = {*p.groups, p.arn}
    if any_target or action.only_admin or within is None:
        pool = admins.by_kind.get(action.kind, ())
    else:
        pool = sorted(
            (arn for arn in within if account_of(arn) == home),
            key=lambda arn: (arn not in admins.every, arn),
        )
    for arn in pool:
        if arn in own or (within is not None and arn not in within) or account_of(arn) != home:
            continue
        if _kind(account, arn) != action.kind:
            continue
        admin = arn in admins.every
        if action.only_admin and not admin:
            continue
        yield arn, action.kind, admin


def _kind(account: AwsAccount, arn: str) -> str | None:
    principal = account.principals.get(arn)
    if principal is not None:
        return principal.kind
    return "group" if arn in account.group_policies else None


@dataclass(frozen=True)
class _Admins:
    """The admin-equivalent users, roles and groups of one account."""

    by_kind: dict[str, tuple[str, ...]]
    """Kind -> the admin-equivalent ones, sorted."""
    every: frozenset[str]


def _admins(account: AwsAccount, home: str) -> _Admins:
    """Those of the account ``home`` (IAM writes reach only the caller's own account)."""
    memo = account.memo.setdefault("grants-admins", {})
    found = memo.get(home)
    if found is None:
        iam = account.catalog.iam
        listed: dict[str, list[str]] = {}
        for p in sorted(account.in_account(home), key=lambda p: p.arn):
            if p.kind in ("user", "role") and account.is_admin_equivalent(p):
                listed.setdefault(p.kind, []).append(p.arn)
        for g in sorted(account.group_policies):
            if account_of(g) == home and account.group_set(g).unconditional & iam == iam:
                listed.setdefault("group", []).append(g)
        by_kind = {kind: tuple(arns) for kind, arns in listed.items()}
        found = _Admins(by_kind, frozenset(a for arns in by_kind.values() for a in arns))
        memo[home] = found
    return cast(_Admins, found)


def _policy_admin(account: AwsAccount, policy: str) -> bool:
    iam = account.catalog.iam
    return account.compiled(policy).allow_full & iam == iam


def _holders(account: AwsAccount) -> dict[str, dict[str, frozenset[str]]]:
    """Account id -> customer-managed policy ARN of that account -> the users, roles and
    groups that hold it."""
    memo = account.memo.setdefault("grants-holders", {})
    found = memo.get("")
    if found is None:
        holders: dict[str, set[str]] = {}
        for principal in account.principals.values():
            for document_id in principal.policies:
                if is_customer_managed(document_id):
                    holders.setdefault(document_id, set()).add(principal.arn)
        for group, documents in account.group_policies.items():
            for document_id in documents:
                if is_customer_managed(document_id):
                    holders.setdefault(document_id, set()).add(group)
        found = {}
        for policy, arns in holders.items():
            found.setdefault(account_of(policy), {})[policy] = frozenset(arns)
        memo[""] = found
    return cast(dict[str, dict[str, frozenset[str]]], found)


__all__ = [
    "GRANT_ACTIONS",
    "METHOD",
    "Grant",
    "by_route",
    "GrantAction",
    "GrantTarget",
    "grant_cause",
    "grants_to_others",
]
