"""An AWS user or role that can do anything, or give itself anything."""

from __future__ import annotations

from collections.abc import Iterator

from iam_gov.aws_policy import analysis_for, is_aws_view
from iam_gov.engine.state import EvaluationState
from iam_gov.model import AccountKind, AccountStatus, Severity
from iam_gov.rules._common import account_subject
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    pass


class AdminEvidence(Evidence):
    account_login: str
    principal_arn: str
    principal_type: str
    reason: str
    chain: list[str]
    """The principal, then each role it assumes to get there (ARNs)."""
    statements: list[str]
    """The policy statements that make it so."""
    method: str | None
    """The escalation method id, when it writes its own permissions."""
    expected: bool
    """A declared break-glass account: admin by design."""
    assumable_by: list[str]
    """For a role: who its trust policy admits (``service:…``, ``aws:…``, ``federated:…``),
    ARNs as the policy spells them."""


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
)
def aws_admin_equivalent(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """An active IAM user, role or root user that can do anything: ``*`` or ``iam:*`` on
    every resource without conditions, a certain way to write its own permissions (attach
    or write a policy to itself or its group, a new version of a policy it holds), or a
    certain chain of role assumptions to a principal that can. Declared break-glass accounts
    (and the root user) are reported at low severity, as expected but noted; roles that only
    AWS services can assume at medium.

    Out of scope: SCPs and resource-based policies (they can only narrow or widen what is
    reported here from outside the account's own IAM).
    """
    for view in state.systems.values():
        if not is_aws_view(view):
            continue
        analysis = analysis_for(view)
        for arn in sorted(view.accounts):
            account = view.accounts[arn]
            principal = analysis.principals.get(arn)
            if principal is None or account.status is not AccountStatus.ACTIVE:
                continue
            admin = analysis.is_admin_equivalent(principal)
            if admin is None:
                continue
            link = state.links[(view.name, arn)]
            person = state.person_of(link)
            expected = link.kind is AccountKind.BREAK_GLASS
            assumable_by: list[str] = []
            severity = None
            owner = f" ({person.name})" if person is not None else ""
            who = f"{view.name} {principal.kind} {account.login}{owner}"
            if principal.kind == "root":
                who = f"the {view.name} root user"
            if principal.kind == "role":
                trust = analysis.trust(arn)
                assumable_by = sorted(
                    [f"service:{s}" for s in trust.services]
                    + [f"aws:{a}" for a in trust.aws_principals_as_spelled]
                    + [f"federated:{f}" for f in trust.federated]
                    + (["aws:*"] if trust.anyone else [])
                )
                if trust.service_only and not expected:
                    severity = Severity.MEDIUM
                    who += f", which only AWS services ({', '.join(sorted(trust.services))}) "
                    who += "can assume,"
            message = f"{who} is admin-equivalent: it {admin.reason}"
            if expected:
                severity = Severity.LOW
                message += (
                    "; expected of the root user (keep it without access keys, with hardware "
                    "MFA), noted for the record"
                    if principal.kind == "root"
                    else "; expected of a declared break-glass account, noted for the record"
                )
            yield Hit(
                subject=account_subject(view, account),
                system=view.name,
                person_id=link.person_id,
                message=message + ".",
                severity=severity,
                evidence=AdminEvidence(
                    account_login=account.login,
                    principal_arn=arn,
                    principal_type=principal.kind,
                    reason=admin.reason,
                    chain=list(admin.chain),
                    statements=[str(ref) for ref in admin.statements],
                    method=admin.method,
                    expected=expected,
                    assumable_by=assumable_by,
                ),
            )
