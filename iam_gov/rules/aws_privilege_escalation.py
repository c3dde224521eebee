"""An AWS user or role that can give itself more permissions than it has: one finding per
cause (the grant that enables the method, the method, its target), listing who can use it."""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from iam_gov.aws_policy import (
    AwsAccount,
    Cause,
    Certainty,
    EscalationPath,
    analysis_for,
    is_aws_view,
    short_name,
)
from iam_gov.aws_policy.analysis import by_account, gathering, in_turn
from iam_gov.aws_policy.causes import Placement, merge, place
from iam_gov.engine.state import EvaluationState, SystemView
from iam_gov.gcpause import collector_paused
from iam_gov.model import AccountKind, AccountStatus, Severity
from iam_gov.rules._common import (
    AffectedPrincipal,
    active_aws_principals,
    counted,
    one_lower,
    one_person,
    some_of,
)
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    pass


class EscalatingPrincipal(AffectedPrincipal):
    """One principal that can use the cause to escalate."""

    chain: list[str]
    """The principal, then each role it assumes before using the method (ARNs)."""
    path: str
    """The chain and the method in one line: ``user/alice → role/deployer → iam:PassRole …``."""
    certainty: str
    """``certain``, ``resource-constrained`` or ``conditional``: for this principal, chain
    included."""
    gained_actions: int
    notes: list[str]
    qualifiers: list[str]
    """What the path hangs on beyond its certainty: "needs MFA", "depends on the target's
    console password, unknown"; empty when nothing."""
    reachable_by_human: bool
    """A person's IAM user is the principal, or can assume it."""
    human_route: list[str]
    """The surest way a person's user becomes the principal: that user, then each role it
    assumes (ARNs); empty when no person's user can."""
    human_route_certainty: str | None
    """How surely it can (``certain`` when the principal is a person's user); None when no
    person's user can."""
    admin_equivalent: bool
    """It is admin-equivalent already (aws-admin-equivalent lists it): the path gains it
    nothing today, and is what it keeps once that grant alone is fixed."""


class EscalationEvidence(Evidence):
    cause: str
    """The root cause's key: the finding's subject after the system."""
    grantors: list[str]
    """What grants the enabling actions (group ARN, managed policy ARN attached directly,
    inline policy id, ``inline-policy/NAME@DIGEST`` for identical copies, ``ROLE#trust``)."""
    policies: list[str]
    method_id: str
    method_name: str
    enabling_actions: list[str]
    statements: list[str]
    """The identity-policy statements that allow the enabling actions."""
    target: str | None
    certainty: str
    """The surest of the principals' paths: ``certain``, ``resource-constrained`` or
    ``conditional``."""
    gains_admin: bool
    """The target is admin-equivalent by aws-admin-equivalent's own rule (a service-linked
    role never counts)."""
    gained_actions: int
    """The most any principal listed gains: actions of the catalogue it cannot take now."""
    service_linked_target: bool = False
    """The target is a service-linked role: only AWS uses it; the finding is one level
    lower."""
    principals: list[EscalatingPrincipal]
    """Every principal that can use it, the most severe first."""
    count: int
    account_login: str | None
    """The login of the one principal, when the cause affects one; None when several."""
    principal_arn: str | None
    """The one principal's ARN, when the cause affects one; None when several."""
    aws_account_id: str | None = None
    """The AWS account the cause is in (12 digits): where the fix is made."""
    aws_account_name: str | None = None
    """That account's name in the organization (its id when unknown)."""


@dataclass(frozen=True)
class _Member:
    evidence: EscalatingPrincipal
    who: str
    """``aws user alice (Alice Archer)``: how a sentence names it."""
    path: EscalationPath
    route: _Route | None


@rule(
    id="aws-privilege-escalation",
    title="AWS privilege-escalation path",
    severity=Severity.HIGH,
    control="Access is granted on the principle of least privilege.",
    soc2=("CC6.1", "CC6.3"),
    iso27001=("A.8.2", "A.5.15"),
    remediation=(
        "Remove the enabling permission, or narrow it to resources that grant nothing more "
        "(e.g. iam:PassRole on the roles the job passes, with iam:PassedToService), or put "
        "the principal under a permissions boundary that denies the IAM writes."
    ),
    parts=by_account,
)
def aws_privilege_escalation(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """An active IAM user or role that can gain permissions it does not have, by one of
    the published escalation methods (Rhino Security Labs' catalogue and later additions):
    rewriting its own or its group's policies, taking over another user's credentials,
    passing a more privileged role to a service it controls, assuming such a role —
    directly or through a chain of roles it can assume. For each principal, the best path
    for each method.

    One finding per root cause: what grants the enabling actions (a group, a managed policy
    attached directly, an inline policy — identical copies of one inline policy count as
    one —, or the trust policy that names the principal), the method and its target, listing
    every principal that can use it: those that hold the grant, and those that can become
    one that does through a chain of roles. The subject is the cause
    (``aws:GRANTOR:METHOD:TARGET``), so it keeps its id however many principals it affects.

    Severity follows certainty. A certain path is critical when a person's user is, or can
    certainly become, the principal (a route through a trust with an MFA condition, say,
    leaves it high), high otherwise; a path that is possible but not proven (it depends on
    a condition or on resources an IAM snapshot cannot see) ranks one level lower. The
    finding takes the highest of its principals'.

    Impact: "gains admin" whenever the target is admin-equivalent by aws-admin-equivalent's
    own rule; every target a method reaches is searched, the admin-equivalent ones first.
    Otherwise the finding counts the actions gained, every one the action catalogue knows
    (never only a kind of them). A service-linked role (path ``/aws-service-role/``) as the
    target is never "gains admin", and ranks one level lower, as aws-admin-equivalent lowers
    roles only AWS services use.

    Admin-equivalent principals: both rules report them, so neither hides the other.
    aws-admin-equivalent lists every one. Here, one admin-equivalent through its policies
    (AdministratorAccess, ``*``) is listed, marked ``admin_equivalent``, under each path it
    would keep without those policies: the path gains it nothing today, but fixing the admin
    grant alone leaves it open. When being admin-equivalent is itself the escalation
    (writing its own permissions, certainly assuming an admin role), the aws-admin-equivalent
    finding names the method and it is not reported here again.
    """
    with collector_paused():
        for view in state.systems.values():
            if not is_aws_view(view) or not in_turn(view):
                continue
            analysis = analysis_for(view)
            routes = _routes_of(state, view, analysis)
            gathered, ready = gathering(state, view, analysis, "aws-privilege-escalation")
            for arn, account, principal in active_aws_principals(view, analysis):
                link = state.links[(view.name, arn)]
                person = state.person_of(link)
                route = routes.get(arn)
                owner = f" ({person.name})" if person is not None else ""
                who = f"{view.name} {principal.kind} {account.login}{owner}"
                beyond_admin = analysis.paths_beyond_admin(principal)
                for path in analysis.escalation_paths(principal) or beyond_admin:
                    cause = analysis.cause_of(path)
                    member = _Member(
                        evidence=EscalatingPrincipal(
                            arn=arn,
                            login=account.login,
                            type=principal.kind,
                            person_id=link.person_id,
                            person=None if person is None else person.name,
                            severity=_severity(path, route).value,
                            chain=list(path.chain),
                            path=path.describe(),
                            certainty=path.certainty.value,
                            gained_actions=path.gained,
                            notes=list(path.notes),
                            qualifiers=list(path.qualifiers),
                            reachable_by_human=route is not None,
                            human_route=[] if route is None else list(route.chain),
                            human_route_certainty=None if route is None else route.certainty.value,
                            admin_equivalent=bool(beyond_admin),
                        ),
                        who=who,
                        path=path,
                        route=route,
                    )
                    gathered.add(place(analysis, cause, arn), cause, member)
            for causes, members, placed in gathered.drain(ready):
                yield _hit(view, analysis, merge(causes), members, placed)


def _severity(path: EscalationPath, route: _Route | None) -> Severity:
    """Critical when a person's user certainly is or becomes the principal, high otherwise;
    one level lower when the path itself is possible but not proven, and one lower when its
    target is a service-linked role (as aws-admin-equivalent lowers roles only AWS uses)."""
    surely_by_human = route is not None and route.certainty is Certainty.CERTAIN
    severity = Severity.CRITICAL if surely_by_human else Severity.HIGH
    if path.service_linked:
        severity = one_lower(severity)
    return severity if path.certainty is Certainty.CERTAIN else one_lower(severity)


_CERTAINTY_WORDS = {
    Certainty.CERTAIN: "certain",
    Certainty.RESOURCE_CONSTRAINED: (
        "possible but not proven (resource-constrained: it depends on resources an IAM "
        "snapshot cannot see)"
    ),
    Certainty.CONDITIONAL: (
        "possible but not proven (conditional: it depends on a condition an IAM snapshot "
        "cannot evaluate)"
    ),
}


def _hit(
    view: SystemView,
    analysis: AwsAccount,
    cause: Cause,
    members: list[_Member],
    placed: Placement,
) -> Hit:
    members = sorted(members, key=lambda m: (-Severity(m.evidence.severity).rank, m.evidence.arn))
    severity = Severity(members[0].evidence.severity)
    # The path as the principal using the method has it, when that one is listed.
    actor = next((m for m in members if len(m.path.chain) == 1), members[0])
    path = actor.path
    surest = max((m.path.certainty for m in members), key=lambda c: c.rank)
    more = "action" if path.gained == 1 else "actions"
    gained = max(m.path.gained for m in members)
    if len(members) == 1:
        gains = "admin" if path.admin else f"{path.gained} more {more}"
        message = (
            f"{actor.who}{placed.phrase} can escalate its privileges ({path.method.name}) through "
            f"{cause.describe()}: {path.describe()}; {_CERTAINTY_WORDS[path.certainty]}, "
            f"gains {gains}"
        )
        if actor.evidence.admin_equivalent:
            message += (
                "; it is admin-equivalent already (aws-admin-equivalent) and keeps this path "
                "when that is fixed"
            )
        route = actor.route
        if route is not None and route.certainty is not Certainty.CERTAIN:
            hops = " → ".join(short_name(a) for a in route.chain)
            message += (
                f"; a person's user can become it, but not certainly "
                f"({route.certainty.value}: {hops})"
            )
    else:
        action = " + ".join(path.enabling_actions)
        if path.target is not None:
            action += f" on {short_name(path.target)}"
        gains = "admin" if path.admin else f"up to {counted(gained, 'more action')}"
        listed = some_of([_named(m) for m in members])
        message = (
            f"{view.name} {cause.describe()}{placed.phrase} lets "
            f"{_kinds(m.evidence.type for m in members)} "
            f"escalate their privileges ({path.method.name}): {action}; "
            f"{_certainties(members)}, gains {gains}: {listed}"
        )
    if path.service_linked:
        message += (
            f"; {short_name(path.target or '')} is a service-linked role, which only AWS uses: "
            "ranked one level lower"
        )
    evidence = [m.evidence for m in members]
    one = evidence[0] if len(evidence) == 1 else None
    return Hit(
        subject=f"{view.name}:{placed.key}",
        system=view.name,
        person_id=one_person(e.person_id for e in evidence),
        message=message + ".",
        severity=severity,
        evidence=EscalationEvidence(
            cause=cause.key,
            grantors=[g.key for g in cause.grantors],
            policies=list(cause.policies),
            method_id=path.method.id,
            method_name=path.method.name,
            enabling_actions=list(path.enabling_actions),
            statements=[str(ref) for ref in path.statements],
            target=path.target,
            certainty=surest.value,
            gains_admin=path.admin,
            service_linked_target=path.service_linked,
            gained_actions=gained,
            principals=evidence,
            count=len(evidence),
            account_login=None if one is None else one.login,
            principal_arn=None if one is None else one.arn,
            aws_account_id=placed.account_id,
            aws_account_name=placed.account_name,
        ),
    )


def _certainties(members: list[_Member]) -> str:
    """``certain``, or ``certain for 2 of them; possible but not proven (…) for 1``."""
    counts = Counter(m.path.certainty for m in members)
    if len(counts) == 1:
        return _CERTAINTY_WORDS[next(iter(counts))]
    ordered = sorted(counts.items(), key=lambda item: -item[0].rank)
    return "; ".join(f"{_CERTAINTY_WORDS[level]} for {n} of them" for level, n in ordered)


def _named(member: _Member) -> str:
    """``user/alice (Alice Archer)``, ``user/bob through role/ops``: how a list names it."""
    evidence = member.evidence
    owner = f" ({evidence.person})" if evidence.person is not None else ""
    through = member.path.chain[1:]
    via = f" through {' → '.join(short_name(r) for r in through)}" if through else ""
    admin = " (admin-equivalent already)" if evidence.admin_equivalent else ""
    return f"{short_name(evidence.arn)}{owner}{via}{admin}"


def _kinds(types: Iterator[str]) -> str:
    counts = Counter(types)
    return " and ".join(counted(n, kind) for kind, n in sorted(counts.items()))


@dataclass(frozen=True)
class _Route:
    certainty: Certainty
    chain: tuple[str, ...]
    """The person's user, then the roles it assumes."""


def _routes_of(state: EvaluationState, view: SystemView, analysis: AwsAccount) -> dict[str, _Route]:
    """The routes from people's users (``_human_routes``), worked out once per evaluation
    however many accounts the rule runs on in turn: a user in one account may reach a role
    in another."""
    kept = analysis.lasting.get("human-routes")
    if kept is not None and kept[0]() is state:
        routes: dict[str, _Route] = kept[1]
        return routes
    human_users = [
        arn
        for arn, account in sorted(view.accounts.items())
        if account.status is AccountStatus.ACTIVE
        and state.links[(view.name, arn)].kind is AccountKind.HUMAN
        and arn in analysis.principals
        and analysis.principals[arn].kind == "user"
    ]
    routes = _human_routes(analysis, human_users)
    analysis.lasting["human-routes"] = (weakref.ref(state), routes)
    return routes


def _human_routes(analysis: AwsAccount, human_users: list[str]) -> dict[str, _Route]:
    """For each principal a person's user is or can become, the surest route there (then
    the shortest, then the first user by ARN)."""
    routes = {arn: _Route(Certainty.CERTAIN, (arn,)) for arn in human_users}
    for arn in human_users:
        for role, reach in analysis.reachable_roles(arn).items():
            route = _Route(reach.certainty, (arn, *reach.chain))
            known = routes.get(role)
            if known is None or _order(route) < _order(known):
                routes[role] = route
    return routes


def _order(route: _Route) -> tuple[int, int, tuple[str, ...]]:
    return (-route.certainty.rank, len(route.chain), route.chain)
