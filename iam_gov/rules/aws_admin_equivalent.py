"""An AWS user or role that can do anything, or give itself anything: one finding per cause."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from iam_gov.aws_policy import (
    METHODS_BY_ID,
    AdminEquivalence,
    AwsAccount,
    Cause,
    Principal,
    analysis_for,
    is_aws_view,
    short_name,
)
from iam_gov.aws_policy.analysis import (
    by_account,
    gathering,
    in_turn,
    scoped_arns,
)
from iam_gov.aws_policy.causes import Placement, admin_scope, merge, place
from iam_gov.aws_policy.organization import account_of
from iam_gov.engine.state import EvaluationState, SystemView
from iam_gov.gcpause import collector_paused
from iam_gov.model import Account, AccountKind, AccountStatus, Severity
from iam_gov.rules._common import AffectedPrincipal, counted, one_person, some_of
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    pass


class AdminPrincipal(AffectedPrincipal):
    """One principal the cause makes admin-equivalent."""

    reason: str
    chain: list[str]
    """The principal, then each role it assumes to get there (ARNs)."""
    statements: list[str]
    """The policy statements that make it so."""
    method: str | None
    """The escalation method id, when it writes its own permissions."""
    expected: bool
    """A declared break-glass account (or the root user): admin by design."""
    assumable_by: list[str]
    """For a role: who its trust policy admits (``service:…``, ``aws:…``, ``federated:…``),
    ARNs as the policy spells them."""
    still_escalates: list[str]
    """The escalation paths it keeps without the policies that make it admin-equivalent
    (aws-privilege-escalation lists it under each): fixing those alone leaves them open."""


class AdminEvidence(Evidence):
    cause: str
    """The root cause's key: the finding's subject after the system."""
    grantors: list[str]
    """What grants it (group ARN, managed policy ARN attached directly, inline policy id,
    ``inline-policy/NAME@DIGEST`` for identical copies, a role to assume)."""
    policies: list[str]
    """The policy documents through those grantors that make it so."""
    reason: str
    """Why, for every principal listed."""
    method: str | None
    """The escalation method id when being admin-equivalent is itself an escalation path
    (writing its own permissions, assuming an admin role)."""
    method_name: str | None
    principals: list[AdminPrincipal]
    """Every principal the cause makes admin-equivalent, the most severe first."""
    count: int
    expected: bool
    """Every principal listed is a declared break-glass account (or the root user)."""
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
    evidence: AdminPrincipal
    who: str
    """``aws user alice (Alice Archer)``: how a sentence names it."""
    service_note: str
    """For a role only AWS services can assume: which, as the sentence says it."""
    admin: AdminEquivalence


@rule(
    id="aws-admin-equivalent",
    title="Admin-equivalent AWS principal",
    severity=Severity.HIGH,
    control="Access is granted on the principle of least privilege.",
    soc2=("CC6.1", "CC6.3"),
    iso27001=("A.8.2", "A.5.15"),
    remediation=(
        "Replace the broad grant (*, iam:*, or the right to write its own policies) with the "
        "actions the job needs; keep full administration for declared break-glass accounts "
        "and roles that people assume with MFA for a reason."
    ),
    parts=by_account,
)
def aws_admin_equivalent(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """An active IAM user, role or root user that can do anything: ``*`` or ``iam:*`` on
    every resource without conditions, a certain way to write its own permissions (attach
    or write a policy to itself or its group, a new version of a policy it holds), or a
    certain chain of role assumptions to a principal that can.

    One finding per root cause, listing every principal it affects: a group (through the
    policy that makes its members admin), a managed policy attached directly, an inline
    policy (identical copies of one inline policy count as one), a role the principals can
    certainly assume, the policies that let a principal write its own permissions. A
    principal with two causes (in the Admins group and AdministratorAccess attached
    directly) is listed under both: either alone keeps it admin. The subject is the cause
    (``aws:GROUP_ARN``, ``aws:POLICY_ARN``, ``aws:ROLE_ARN:sts-assume-role`` …), so it keeps
    its id however many principals it affects.

    Severity is the highest of the principals': high; medium for a role only AWS services
    can assume; low for the root user (admin by nature: keep it without access keys, with
    hardware MFA). A cause that makes only declared break-glass accounts admin is no finding:
    it is expected by policy (shown by ``explain``, counted in the summary); a break-glass
    account in a group with others is listed in that group's finding, marked expected.

    Admin-equivalent principals and escalation: neither rule hides the other. When being
    admin-equivalent *is* an escalation path (it can write its own permissions, or certainly
    assume an admin role), this finding says so and names the method, and
    aws-privilege-escalation does not report it again. When a principal admin-equivalent
    through its policies also has escalation paths it would keep without them, both rules
    report it: this finding names them (``still_escalates``), and aws-privilege-escalation
    lists the principal, marked ``admin_equivalent``, under each path's own cause.

    In an AWS Organization, service control policies fence every principal of the
    accounts they reach (an SCP denying ``iam:*`` leaves no admin there; the management
    account is exempt), roles of other accounts of the organization count among those a
    principal can assume, and each finding names its account ("in account prod
    (222222222222)"): a cause shared by several accounts (an AWS-managed policy) is one
    finding per account. Out of scope: resource-based policies.
    """
    with collector_paused():
        for view in state.systems.values():
            if not is_aws_view(view) or not in_turn(view):
                continue
            analysis = analysis_for(view)
            gathered, ready = gathering(state, view, analysis, "aws-admin-equivalent")
            for arn in scoped_arns(view, analysis):
                account = view.accounts[arn]
                principal = analysis.principals.get(arn)
                if principal is None or account.status is not AccountStatus.ACTIVE:
                    continue
                admin = analysis.is_admin_equivalent(principal)
                if admin is None:
                    continue
                member = _member(state, view, analysis, account, principal, admin)
                for cause in analysis.admin_causes(principal):
                    gathered.add(place(analysis, cause, arn), cause, member)
            for causes, members, placed in gathered.drain(ready):
                yield _hit(view, analysis, merge(causes), members, placed)


def _member(
    state: EvaluationState,
    view: SystemView,
    analysis: AwsAccount,
    account: Account,
    principal: Principal,
    admin: AdminEquivalence,
) -> _Member:
    link = state.links[(view.name, principal.arn)]
    person = state.person_of(link)
    expected = link.kind is AccountKind.BREAK_GLASS
    assumable_by: list[str] = []
    severity = Severity.HIGH
    service_note = ""
    if principal.kind == "role":
        trust = analysis.trust(principal.arn)
        assumable_by = sorted(
            [f"service:{s}" for s in trust.services]
            + [f"aws:{a}" for a in trust.aws_principals_as_spelled]
            + [f"federated:{f}" for f in trust.federated]
            + (["aws:*"] if trust.anyone else [])
        )
        if trust.service_only and not expected:
            severity = Severity.MEDIUM
            service_note = (
                f", which only AWS services ({', '.join(sorted(trust.services))}) can assume,"
            )
    if expected:
        severity = Severity.LOW
    owner = f" ({person.name})" if person is not None else ""
    who = f"{view.name} {principal.kind} {account.login}{owner}"
    if principal.kind == "root":
        who = f"the {view.name} root user"
    return _Member(
        evidence=AdminPrincipal(
            arn=principal.arn,
            login=account.login,
            type=principal.kind,
            person_id=link.person_id,
            person=None if person is None else person.name,
            severity=severity.value,
            reason=admin.reason,
            chain=list(admin.chain),
            statements=[str(ref) for ref in admin.statements],
            method=admin.method,
            expected=expected,
            assumable_by=assumable_by,
            still_escalates=[
                f"{path.method.name}: {path.describe()}"
                for path in analysis.paths_beyond_admin(principal)
            ],
        ),
        who=who,
        service_note=service_note,
        admin=admin,
    )


def _hit(
    view: SystemView,
    analysis: AwsAccount,
    cause: Cause,
    members: list[_Member],
    placed: Placement,
) -> Hit:
    members = sorted(members, key=lambda m: (-Severity(m.evidence.severity).rank, m.evidence.arn))
    unexpected = [m for m in members if not m.evidence.expected]
    severity = max(
        (Severity(m.evidence.severity) for m in unexpected or members), key=lambda s: s.rank
    )
    method = cause.method
    method_name = None if method is None else METHODS_BY_ID[method].name
    escalation = (
        ""
        if method_name is None
        else f" (a privilege-escalation path: {method_name}; reported here, not also under "
        "aws-privilege-escalation)"
    )
    root = cause.grantors[0].kind == "root"
    if len(members) == 1:
        [member] = members
        reason = member.admin.reason
        through = "" if root or method == "sts-assume-role" else f" through {cause.describe()}"
        where, elsewhere = placed.phrase, ""
        own = account_of(member.evidence.arn)
        if placed.phrase and own != placed.account_id:
            # a chain across accounts: the principal's own account, then where the cause is
            where = f" in account {analysis.account_label(own)}"
            elsewhere = f"; {short_name(cause.grantors[0].key)} is{placed.phrase}"
        message = (
            f"{member.who}{where}{member.service_note} is admin-equivalent{through}: "
            f"it {reason}{elsewhere}{escalation}"
        )
    else:
        reason = _shared_reason(analysis, cause)
        kinds = _kinds(m.evidence.type for m in members)
        listed = some_of([_named(m) for m in members])
        subject = (
            f"assuming {view.name} {cause.describe()}{placed.phrase}"
            if method == "sts-assume-role"
            else f"{view.name} {cause.describe()}{placed.phrase}"
        )
        message = f"{subject} makes {kinds} admin-equivalent: {reason}{escalation}: {listed}"
    message += _expected_note(members, root) + _escalation_note(members)
    evidence = [m.evidence for m in members]
    one = evidence[0] if len(evidence) == 1 else None
    return Hit(
        subject=f"{view.name}:{placed.key}",
        system=view.name,
        person_id=one_person(e.person_id for e in evidence),
        message=message + ".",
        severity=severity,
        # only declared break-glass accounts: admin by design, not a finding (root is
        # admin by nature but declared by nobody: it stays a low finding)
        expected=None if unexpected or root else "declared break-glass account in the policy",
        evidence=AdminEvidence(
            cause=cause.key,
            grantors=[g.key for g in cause.grantors],
            policies=list(cause.policies),
            reason=reason,
            method=method,
            method_name=method_name,
            principals=evidence,
            count=len(evidence),
            expected=not unexpected,
            account_login=None if one is None else one.login,
            principal_arn=None if one is None else one.arn,
            aws_account_id=placed.account_id,
            aws_account_name=placed.account_name,
        ),
    )


def _shared_reason(analysis: AwsAccount, cause: Cause) -> str:
    """Why, said once for every principal the cause affects."""
    method = cause.method
    if method == "sts-assume-role":
        role = cause.grantors[0].key
        theirs = analysis.is_admin_equivalent(role)
        which = "" if theirs is None else f", which {theirs.reason}"
        return f"each can become {short_name(role)}{which}"
    if method is not None:
        return "each can grant itself anything"
    what = admin_scope(analysis, cause)
    return f"it allows {what} on every resource, without conditions"


def _expected_note(members: list[_Member], root: bool) -> str:
    expected = [m for m in members if m.evidence.expected]
    if root and expected:
        return (
            "; expected of the root user (keep it without access keys, with hardware MFA), "
            "noted for the record"
        )
    if not expected:
        return ""
    if len(expected) == len(members):
        if len(members) == 1:
            return "; expected of a declared break-glass account, noted for the record"
        return "; expected of declared break-glass accounts, noted for the record"
    names = ", ".join(_named(m) for m in expected)
    return f"; of these, expected of declared break-glass accounts: {names}"


def _escalation_note(members: list[_Member]) -> str:
    """Who keeps an escalation path once the admin grant is gone: both rules say so."""
    escalating = [m for m in members if m.evidence.still_escalates]
    if not escalating:
        return ""
    if len(members) == 1:
        methods = "; ".join(escalating[0].evidence.still_escalates)
        return (
            f"; without the policies that make it so, it can still escalate "
            f"(aws-privilege-escalation): {methods}"
        )
    names = some_of([_named(m) for m in escalating])
    return (
        f"; {len(escalating)} of them can still escalate without the policies that make "
        f"them so (aws-privilege-escalation): {names}"
    )


def _named(member: _Member) -> str:
    """``user/alice (Alice Archer)``: how a list names it."""
    evidence = member.evidence
    owner = f" ({evidence.person})" if evidence.person is not None else ""
    return f"{short_name(evidence.arn)}{owner}"


def _kinds(types: Iterable[str]) -> str:
    counts: dict[str, int] = {}
    for kind in types:
        counts[kind] = counts.get(kind, 0) + 1
    return " and ".join(counted(n, kind) for kind, n in sorted(counts.items()))
