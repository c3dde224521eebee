"""A grant that no role, approved exception or declaration explains."""

from __future__ import annotations

from collections.abc import Iterator

from iam_gov.engine.state import EvaluationState
from iam_gov.model import AccountKind, Severity
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    pass


class ExcessEvidence(Evidence):
    account_login: str
    entitlement_id: str
    entitlement: str
    privileged: bool
    roles: list[str]
    expired_exceptions: list[str]
    correlation: str


@rule(
    id="excess-access",
    title="Access not explained by role or exception",
    severity=Severity.MEDIUM,
    control=(
        "Access is granted on least privilege, and all access is documented and approved "
        "before it is granted."
    ),
    soc2=("CC6.1", "CC6.3"),
    iso27001=("A.5.15", "A.5.18", "A.8.2"),
    remediation=(
        "Remove the grant, or record why it is needed: add it to the person's role if everyone "
        "in the role needs it, or add an exception with approver, reason and expiry."
    ),
)
def excess_access(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """Each grant held directly by a current employee's account (group members are judged by
    the group membership, not by every policy the group brings), or by a service account whose
    declaration lists what it may hold. High severity when the entitlement is privileged.
    Leavers are the leaver rule's business; orphans are the orphan rule's.
    """
    for view, account, link, person, left in state.entries():
        if link.kind is AccountKind.HUMAN:
            if person is None or left:
                continue
        elif link.kind is AccountKind.BREAK_GLASS:
            continue
        else:
            declared = state.policy.declared(account)
            if declared is None or not declared.item.entitlements:
                continue
        roles = state.roles_of(person) if person is not None else ()
        # Most grants are what a role brings: those are settled by one set lookup.
        by_role = state.role_explained_ids(roles, view)
        for grant in view.grants.get(account.native_id, ()):
            if grant.via is not None or grant.entitlement_id in by_role:
                continue
            explanation = state.explain(view, account, link, grant)
            if explanation.explained or explanation.kind == "previous-role":
                continue  # a role left behind is the mover rule's to report
            entitlement = view.entitlements.get(grant.entitlement_id)
            ref = entitlement.ref if entitlement else grant.entitlement_id
            privileged = entitlement is not None and state.is_privileged(view, entitlement)
            whose = (
                f"{person.name}'s {view.name} account"
                if person is not None
                else f"{view.name} {link.kind.value} account"
            )
            message = (
                f"{whose} {account.login} holds {ref}"
                f"{' (privileged)' if privileged else ''}, which no role, approved exception "
                "or declaration explains"
            )
            if explanation.detail.startswith("requestable"):
                message = (
                    f"{whose} {account.login} holds {ref}"
                    f"{' (privileged)' if privileged else ''}: {explanation.detail}"
                )
            if explanation.expired:
                message += f"; an exception for it has expired: {explanation.expired[0]}"
            yield Hit(
                subject=f"{view.name}:{account.native_id}:{grant.entitlement_id}",
                system=view.name,
                person_id=person.employee_id if person else None,
                message=message + ".",
                severity=Severity.HIGH if privileged else None,
                evidence=ExcessEvidence(
                    account_login=account.login,
                    entitlement_id=grant.entitlement_id,
                    entitlement=ref,
                    privileged=privileged,
                    roles=list(roles),
                    expired_exceptions=list(explanation.expired),
                    correlation=f"{link.method} ({link.confidence.value})",
                ),
            )
