"""An AWS user or role that can grant privileges to others (and so make an admin), even when
it cannot use them itself: one finding per cause, naming the targets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

from iam_gov.aws_policy import AwsAccount, Cause, Certainty, analysis_for, is_aws_view, short_name
from iam_gov.aws_policy.analysis import by_account, gathering, in_turn
from iam_gov.aws_policy.causes import Placement, merge, place
from iam_gov.aws_policy.grants_to_others import Grant, by_route, grant_cause, grants_to_others
from iam_gov.engine.state import EvaluationState, SystemView
from iam_gov.gcpause import collector_paused
from iam_gov.model import AccountKind, Severity
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


class GrantTargetEvidence(Evidence):
    """One user, role, group or policy the action can be used on."""

    arn: str
    kind: str
    admin_equivalent: bool
    certainty: str


class GrantEvidence(Evidence):
    """One action that changes someone else's permissions, on which targets, by which
    statements: listed once per finding, however many principals it empowers."""

    action: str
    any_target: bool
    """Allowed on an open-ended set (``*``): any user, role, group or policy of that kind."""
    targets: list[GrantTargetEvidence]
    """Admin-equivalent targets first, then the others by ARN, at most ``NAMED_TARGETS``;
    with ``any_target``, only the admin-equivalent ones."""
    targets_total: int
    """How many targets the analysis found (at least, when ``more_targets``)."""
    targets_not_listed: int
    """Of those, how many ``targets`` leaves out: ``targets_total - len(targets)``."""
    more_targets: bool
    """The analysis stopped looking (a few dozen found, one as sure as it gets): there are
    more targets than ``targets_total``."""
    description: str
    """``iam:AttachUserPolicy on any user``, ``iam:AddUserToGroup on group/admins
    (admin-equivalent)``; the route to the role whose policies allow it is each principal's
    ``via``."""
    certainty: str
    """``certain``, ``resource-constrained`` or ``conditional``."""
    statements: list[str]
    notes: list[str]


class GrantingPrincipal(AffectedPrincipal):
    """One principal the cause lets grant privileges to others."""

    grants: list[int]
    """Its grants: positions in the finding's ``grants`` (each described once there)."""
    can_make_admin: bool
    """A target is admin-equivalent, or the action applies to any target."""
    certainty: str
    """The surest of its grants."""
    expected: bool
    """A declared break-glass account: allowed by design."""
    also_escalation: list[str]
    """Its escalation paths through the same actions on the same targets (used on itself:
    aws-privilege-escalation reports those), ``METHOD: PATH``."""
    via: list[str] = []
    """The roles it assumes, in order, to take these actions (ARNs); empty when its own
    policies allow them."""


class GrantToOthersEvidence(Evidence):
    cause: str
    """The root cause's key: the finding's subject after the system."""
    grantors: list[str]
    """What grants the actions (group ARN, managed policy ARN attached directly, inline
    policy id, ``inline-policy/NAME@DIGEST`` for identical copies)."""
    policies: list[str]
    actions: list[str]
    """Every action the principals listed may take on others."""
    statements: list[str]
    """The identity-policy statements that allow them."""
    targets: list[str]
    """Every target named (ARNs, admin-equivalent ones first), and ``any user`` / ``any
    role`` / ``any group`` / ``any policy`` where the resource is open-ended."""
    admin_targets: list[str]
    """The admin-equivalent targets (ARNs)."""
    can_make_admin: bool
    certainty: str
    """The surest of the principals'."""
    grants: list[GrantEvidence]
    """Every distinct grant the principals may use, each once: the action, the targets, the
    statements and the role whose policies allow it; what differs per principal (the route
    to that role) is in ``principals``."""
    principals: list[GrantingPrincipal]
    """Every principal the cause empowers, the most severe first."""
    count: int
    expected: bool
    account_login: str | None
    """The login of the one principal, when the cause affects one; None when several."""
    principal_arn: str | None
    """The one principal's ARN, when the cause affects one; None when several."""
    aws_account_id: str | None = None
    """The AWS account the cause is in (12 digits): where the fix is made."""
    aws_account_name: str | None = None
    """That account's name in the organization (its id when unknown)."""


NAMED_TARGETS = 25
"""Targets named per grant in the evidence (admin-equivalent ones first); the others are
counted (``targets_not_listed``)."""
NAMED_IN_MESSAGE = 10
"""Targets named per grant in the finding's message."""


@dataclass(frozen=True)
class _Member:
    evidence: GrantingPrincipal
    """Without its grants (``_hit`` numbers them)."""
    who: str
    grants: tuple[Grant, ...]
    shared: tuple[Grant, ...]
    """The grants as the finding lists them: without the route (``GrantingPrincipal.via``)."""


_CERTAINTY_WORDS = {
    Certainty.CERTAIN: "certain",
    Certainty.RESOURCE_CONSTRAINED: (
        "possible but not proven (resource-constrained: it depends on resources or "
        "credentials an IAM snapshot does not show)"
    ),
    Certainty.CONDITIONAL: (
        "possible but not proven (conditional: it depends on a condition an IAM snapshot "
        "cannot evaluate)"
    ),
}


@rule(
    id="aws-grant-to-others",
    title="AWS principal that can grant privileges to others",
    severity=Severity.HIGH,
    control="Access is granted on the principle of least privilege.",
    soc2=("CC6.1", "CC6.2", "CC6.3"),
    iso27001=("A.8.2", "A.5.15", "A.5.18"),
    remediation=(
        "Remove the IAM write, or narrow it to the users, roles, groups and policies the job "
        "administers (never admin-equivalent ones), under a permissions boundary that the "
        "principals it creates or changes must carry (iam:PermissionsBoundary condition)."
    ),
    parts=by_account,
)
def aws_grant_to_others(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """An active IAM user or role that can change someone else's permissions: attach or
    write a policy on another user, role or group (``iam:AttachUserPolicy``,
    ``iam:PutRolePolicy`` …), write a new default version of a customer-managed policy
    others hold (``iam:CreatePolicyVersion``, ``iam:SetDefaultPolicyVersion``), add a user
    to an admin-equivalent group (``iam:AddUserToGroup``), rewrite an admin-equivalent
    role's trust (``iam:UpdateAssumeRolePolicy``), or take over an admin-equivalent user's
    credentials (``iam:CreateAccessKey``, ``iam:CreateLoginProfile``,
    ``iam:UpdateLoginProfile``). It is reported even when it cannot use them itself: it can
    make an admin, which is what a reviewer must know. The finding names the targets: the
    admin-equivalent ones first, ``any user`` / ``any role`` where the resource is ``*``.

    One finding per root cause (the group, policy attached directly or inline policy that
    allows the actions), listing every principal it empowers; the subject is
    ``aws:GRANTOR:grant-to-others``.

    Severity: high when a target is admin-equivalent or the resource is open-ended, medium
    otherwise; one level lower when the grant depends on a condition or on what the snapshot
    does not show (a policy's other versions, whether a user has a console password); one
    level lower for a role only AWS services can assume. A principal that is already
    admin-equivalent is left to aws-admin-equivalent; its own user, groups and policies are
    left to aws-privilege-escalation. A declared break-glass account is expected by policy.

    Through roles: a principal that can assume a role (or a chain of roles) whose policies
    allow such an action is reported too, under the role's own cause (the same finding as
    the role, one per root cause, not one per assumer), naming the route (``via
    role/deployer``) and the targets; as sure as the action and the route together. For each
    action the surest route is kept (its own policies first, then the shortest chain).
    """
    with collector_paused():
        for view in state.systems.values():
            if not is_aws_view(view) or not in_turn(view):
                continue
            analysis = analysis_for(view)
            gathered, ready = gathering(state, view, analysis, "aws-grant-to-others")
            made: _Made = gathered.shared
            for arn, _account, principal in active_aws_principals(view, analysis):
                if analysis.is_admin_equivalent(principal) is not None:
                    continue  # aws-admin-equivalent reports it
                # Its own grants, and those of each role it assumes: each its own root cause.
                for grants in by_route(grants_to_others(analysis, principal)):
                    member = _member(state, view, analysis, arn, grants, made)
                    cause = grant_cause(analysis, principal, grants)
                    gathered.add(place(analysis, cause, grants[0].actor or arn), cause, member)
            for causes, members, placed in gathered.drain(ready):
                yield _hit(view, merge(causes), members, placed)


def _member(
    state: EvaluationState,
    view: SystemView,
    analysis: AwsAccount,
    arn: str,
    grants: tuple[Grant, ...],
    made: _Made,
) -> _Member:
    account = view.accounts[arn]
    principal = analysis.principals[arn]
    link = state.links[(view.name, arn)]
    person = state.person_of(link)
    expected = link.kind is AccountKind.BREAK_GLASS
    severity = max((_severity(g) for g in grants), key=lambda s: s.rank)
    service_note = ""
    if principal.kind == "role" and analysis.trust(arn).service_only:
        severity = one_lower(severity)
        services = ", ".join(sorted(analysis.trust(arn).services))
        service_note = f", which only AWS services ({services}) can assume,"
    if expected:
        severity = Severity.LOW
    owner = f" ({person.name})" if person is not None else ""
    surest = max((g.certainty for g in grants), key=lambda c: c.rank)
    used = {(g.action.action, t.arn) for g in grants for t in g.targets}
    escalations = [
        f"{path.method.name}: {path.describe()}"
        for path in analysis.escalation_paths(principal)
        if len(path.chain) == 1 and any((a, path.target) in used for a in path.enabling_actions)
    ]
    return _Member(
        evidence=GrantingPrincipal(
            arn=arn,
            login=account.login,
            type=principal.kind,
            person_id=link.person_id,
            person=None if person is None else person.name,
            severity=severity.value,
            grants=[],
            can_make_admin=any(g.admin for g in grants),
            certainty=surest.value,
            expected=expected,
            also_escalation=escalations,
            via=list(grants[0].via),
        ),
        who=f"{view.name} {principal.kind} {account.login}{owner}{service_note}",
        grants=grants,
        shared=tuple(_shared(g, made) for g in grants),
    )


def _severity(grant: Grant) -> Severity:
    severity = Severity.HIGH if grant.admin else Severity.MEDIUM
    return severity if grant.certainty is Certainty.CERTAIN else one_lower(severity)


_Made = dict[int, tuple[Grant, Grant]]
"""Per grant (by identity), while one rule run lasts, the grant as a finding lists it: a
role's grants are the same for every principal that reaches it, so each is reduced once."""


def _shared(grant: Grant, made: _Made) -> Grant:
    """The grant without its route: the same for every principal that holds it or reaches
    the role that does, however it does (each principal's ``via`` says how)."""
    found = made.get(id(grant))
    if found is None or found[0] is not grant:
        shared = replace(grant, via=()) if grant.via else grant
        found = made[id(grant)] = (grant, shared)
    return found[1]


def _grant_evidence(grant: Grant) -> GrantEvidence:
    named = grant.targets[:NAMED_TARGETS]
    return GrantEvidence(
        action=grant.action.action,
        any_target=grant.any_target,
        targets=[
            GrantTargetEvidence(
                arn=t.arn, kind=t.kind, admin_equivalent=t.admin, certainty=t.certainty.value
            )
            for t in named
        ],
        targets_total=len(grant.targets),
        targets_not_listed=len(grant.targets) - len(named),
        more_targets=grant.more_targets,
        description=grant.describe(NAMED_TARGETS),
        certainty=grant.certainty.value,
        statements=[str(ref) for ref in grant.statements],
        notes=list(grant.notes),
    )


def _hit(view: SystemView, cause: Cause, members: list[_Member], placed: Placement) -> Hit:
    members = sorted(members, key=lambda m: (-Severity(m.evidence.severity).rank, m.evidence.arn))
    unexpected = [m for m in members if not m.evidence.expected]
    severity = max(
        (Severity(m.evidence.severity) for m in unexpected or members), key=lambda s: s.rank
    )
    first = members[0]
    grants = first.grants
    surest = max((Certainty(m.evidence.certainty) for m in members), key=lambda c: c.rank)
    what = "; ".join(g.describe(NAMED_IN_MESSAGE) for g in grants)
    can_make_admin = any(m.evidence.can_make_admin for m in members)
    admin = ", so it can make an admin" if can_make_admin else ""
    if len(members) == 1:
        message = (
            f"{first.who}{placed.phrase} can grant privileges to others through "
            f"{cause.describe()}: {what}; "
            f"{_CERTAINTY_WORDS[surest]}{admin}"
        )
    else:
        kinds = " and ".join(
            counted(n, kind)
            for kind, n in sorted(Counter(m.evidence.type for m in members).items())
        )
        listed = some_of([_named(m) for m in members])
        admins = ", so each can make an admin" if can_make_admin else ""
        message = (
            f"{view.name} {cause.describe()}{placed.phrase} lets {kinds} grant privileges to "
            f"others: {what}; "
            f"{_CERTAINTY_WORDS[surest]}{admins}: {listed}"
        )
    escalating = [m for m in members if m.evidence.also_escalation]
    if escalating:
        who = "it" if len(members) == 1 else some_of([_named(m) for m in escalating])
        message += (
            f"; {who} can also use this on itself, which aws-privilege-escalation reports "
            "on its own"
        )
    if unexpected != members:
        if unexpected:
            names = ", ".join(_named(m) for m in members if m.evidence.expected)
            message += f"; of these, expected of declared break-glass accounts: {names}"
        else:
            message += "; expected of declared break-glass accounts, noted for the record"
    # Each distinct grant once, numbered in the order the principals (most severe first) use
    # them; each principal lists its grants' numbers.
    numbered: dict[Grant, int] = {}
    by_parts: dict[tuple[object, ...], int] = {}
    evidence = []
    for m in members:
        ids = []
        for g in m.shared:
            # Principals that reach one role share its grants' parts (the same objects):
            # compare those first, and whole grants (a costlier hash) once per distinct one.
            parts = _parts(g)
            number = by_parts.get(parts)
            if number is None:
                number = by_parts[parts] = numbered.setdefault(g, len(numbered))
            ids.append(number)
        evidence.append(m.evidence.model_copy(update={"grants": ids}))
    all_grants = list(numbered)
    grant_evidence = [_grant_evidence(g) for g in all_grants]
    named = [(t.arn, t.admin_equivalent) for g in grant_evidence for t in g.targets]
    admin_targets = sorted({arn for arn, admin in named if admin})
    others = sorted({arn for arn, admin in named if not admin})
    open_ended = sorted({f"any {g.action.kind}" for g in all_grants if g.any_target})
    one = evidence[0] if len(evidence) == 1 else None
    return Hit(
        subject=f"{view.name}:{placed.key}",
        system=view.name,
        person_id=one_person(e.person_id for e in evidence),
        message=message + ".",
        severity=severity,
        expected=None if unexpected else "declared break-glass account in the policy",
        evidence=GrantToOthersEvidence(
            cause=cause.key,
            grantors=[g.key for g in cause.grantors],
            policies=list(cause.policies),
            actions=sorted({g.action.action for g in all_grants}),
            statements=sorted({str(ref) for g in all_grants for ref in g.statements}),
            targets=[*admin_targets, *open_ended, *others],
            admin_targets=admin_targets,
            can_make_admin=can_make_admin,
            certainty=surest.value,
            grants=grant_evidence,
            principals=evidence,
            count=len(evidence),
            expected=not unexpected,
            account_login=None if one is None else one.login,
            principal_arn=None if one is None else one.arn,
            aws_account_id=placed.account_id,
            aws_account_name=placed.account_name,
        ),
    )


def _parts(grant: Grant) -> tuple[object, ...]:
    """What tells the grant apart, its tuples by identity (kept alive by the members)."""
    return (
        grant.action.action,
        grant.any_target,
        grant.certainty,
        grant.more_targets,
        id(grant.targets),
        id(grant.statements),
        id(grant.notes),
    )


def _named(member: _Member) -> str:
    """``user/alice (Alice Archer)``, ``user/bob via role/deployer``: how a list names it."""
    evidence = member.evidence
    owner = f" ({evidence.person})" if evidence.person is not None else ""
    via = member.grants[0].via
    route = f" via {' → '.join(short_name(r) for r in via)}" if via else ""
    return f"{short_name(evidence.arn)}{owner}{route}"
