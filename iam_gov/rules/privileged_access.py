"""Privileged access held the wrong way: by a non-employee, without MFA, without an approval
that expires, or for longer than allowed."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from iam_gov.engine.state import EvaluationState, SystemView
from iam_gov.model import (
    Account,
    AccountKind,
    AccountStatus,
    CredentialKind,
    EmploymentType,
    Severity,
)
from iam_gov.policy.model import PrivilegedEntitlement
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    """Defaults for every privileged entitlement; the policy's ``privileged`` entries may
    set each one per entitlement."""

    require_mfa: bool = True
    """The holding account must have a second factor (even when it only uses keys)."""
    require_justification: bool = False
    """A role is not enough: an approved, expiring exception must back the grant."""
    employees_only: bool = True
    """Contractors, interns and others must not hold privileged access."""
    max_days: int | None = Field(default=None, ge=1)
    """Longest time one grant may be held, where the system records when it was granted;
    None: no limit."""


def _requirements(spec: PrivilegedEntitlement | None, params: Params) -> Params:
    """The policy's setting for this entitlement where it gives one, else the rule's."""
    if spec is None:
        return params
    given = {
        name: value for name in Params.model_fields if (value := getattr(spec, name)) is not None
    }
    return params.model_copy(update=given)


class PrivilegedEvidence(Evidence):
    account_login: str
    entitlement: str
    via: str | None
    problems: list[str]
    employment_type: str
    explanation: str


@rule(
    id="privileged-access",
    title="Privileged access held without its safeguards",
    severity=Severity.HIGH,
    control="Privileged access is restricted, justified and protected by MFA.",
    soc2=("CC6.1", "CC6.3"),
    iso27001=("A.8.2", "A.8.5"),
    remediation=(
        "Move the privilege to an employee's account with MFA, back it with an exception that "
        "names an approver and expires, or remove it."
    ),
)
def privileged_access(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """Each privileged entitlement a current person holds (directly or through a group) is
    checked against how it must be held: employees only; a second factor on the account
    (an account that signs in with a password without MFA is the mfa-missing rule's, so this
    catches key-only and federated holders); an approved exception, when a role alone is not
    enough (``require_justification``); and at most ``max_days`` since it was granted.

    ```yaml
    privileged:
      aws:
        - {entitlement: "group:Admins", require_justification: true, max_days: 30}
    rules:
      privileged-access: {employees_only: true}
    ```
    """
    for view, account, link, person, left in state.entries():
        if link.kind is AccountKind.BREAK_GLASS and account.status is AccountStatus.ACTIVE:
            yield from _break_glass(state, view, account)
            continue
        if (
            person is None
            or left
            or link.kind is not AccountKind.HUMAN
            or account.status is not AccountStatus.ACTIVE
        ):
            continue
        privileged = state.privileged_ids(view)
        grants = [
            g for g in view.grants.get(account.native_id, ()) if g.entitlement_id in privileged
        ]
        if not grants:
            continue
        signs_in_with_password = any(
            c.kind is CredentialKind.PASSWORD and c.active
            for c in view.credentials.get(account.native_id, ())
        )
        for grant in grants:
            entitlement = view.entitlements[grant.entitlement_id]
            need = _requirements(state.privilege_requirements(view, entitlement), params)
            problems = []
            if need.employees_only and person.employment_type is not EmploymentType.EMPLOYEE:
                problems.append(f"it is held by a {person.employment_type.value}")
            if need.require_mfa and account.mfa_factors == () and not signs_in_with_password:
                problems.append("the account has no second factor")
            explanation = state.explain(view, account, link, grant)
            if need.require_justification and grant.via is None:
                approval = state.exception_for(view, account, person, entitlement)
                decided = (view.name, account.native_id, entitlement.entitlement_id)
                if approval.kind != "exception" and decided not in state.decisions:
                    problems.append("no approved, expiring exception backs it")
            max_days = need.max_days
            if max_days is not None and grant.granted_at is not None:
                held = (view.as_of - grant.granted_at).days
                if held > max_days:
                    problems.append(f"it has been held for {held} days (at most {max_days})")
            if not problems:
                continue
            via = view.entitlements.get(grant.via) if grant.via else None
            through = f" through {via.ref}" if via else ""
            yield Hit(
                subject=f"{view.name}:{account.native_id}:{grant.entitlement_id}:privileged",
                system=view.name,
                person_id=person.employee_id,
                message=(
                    f"{person.name}'s {view.name} account {account.login} holds privileged "
                    f"{entitlement.ref}{through}, but " + "; ".join(problems) + "."
                ),
                evidence=PrivilegedEvidence(
                    account_login=account.login,
                    entitlement=entitlement.ref,
                    via=via.ref if via else None,
                    problems=problems,
                    employment_type=person.employment_type.value,
                    explanation=explanation.detail,
                ),
            )


def _break_glass(state: EvaluationState, view: SystemView, account: Account) -> Iterator[Hit]:
    """A declared break-glass account's privileges: admin by design, expected by policy (no
    finding; ``explain`` shows them and the summary counts them)."""
    privileged = state.privileged_ids(view)
    for grant in view.grants.get(account.native_id, ()):
        if grant.entitlement_id not in privileged:
            continue
        entitlement = view.entitlements[grant.entitlement_id]
        via = view.entitlements.get(grant.via) if grant.via else None
        yield Hit(
            subject=f"{view.name}:{account.native_id}:{grant.entitlement_id}:privileged",
            system=view.name,
            message=(
                f"break-glass {view.name} account {account.login} holds privileged "
                f"{entitlement.ref}: expected of a declared break-glass account."
            ),
            evidence=PrivilegedEvidence(
                account_login=account.login,
                entitlement=entitlement.ref,
                via=via.ref if via else None,
                problems=[],
                employment_type="",
                explanation="declared break-glass account in the policy",
            ),
            expected="declared break-glass account in the policy",
        )
