"""An approved exception that has expired (or soon will) while the access it approved is held."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from pydantic import Field

from iam_gov.correlate import AccountLink
from iam_gov.engine.state import EvaluationState, SystemView
from iam_gov.model import Account, AccountStatus, GrantRow, Severity
from iam_gov.policy import Located, exception_valid
from iam_gov.policy.model import Exception_
from iam_gov.rules._common import days
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule

# What keeps a grant approved without the exception; "decision" is a reviewer's.
_APPROVED_OTHERWISE = frozenset({"role", "declared", "decision"})


class Params(RuleParams):
    warn_days: int = Field(
        14, ge=0, description="Say (as info) that an exception ends within this many days."
    )


class ExceptionEvidence(Evidence):
    where: str
    """``file:line`` of the exception in the policy."""
    entitlement: str
    approver: str
    reason: str
    ticket: str | None
    expires: date
    days_past: int
    """Days since it expired; negative while it still runs."""
    account_login: str
    held: list[str]
    """What the account holds that the exception approved (``… through group:X``)."""


@rule(
    id="expired-exception",
    title="Exception expired while the access remains",
    severity=Severity.MEDIUM,
    control="All access is documented and approved; approvals outside a role are time-bound.",
    soc2=("CC6.2", "CC6.3"),
    iso27001=("A.5.15", "A.5.18"),
    remediation=(
        "Ask the approver: renew the exception in the policy (new expiry, same reason or a "
        "new one) or remove the access; then delete the expired exception from the policy."
    ),
)
def expired_exception(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """An exception in the policy whose expiry date has passed while the account it names
    (or an account of the person it names) still holds what it approved, and nothing else
    approves it (a role, a declaration, a review decision, or a later exception). The same
    exception ending within ``warn_days`` is reported as info, so that it can be renewed or
    the removal planned. This is the policy record's to-do; the excess-access rule reports
    the grant itself. Leavers' accounts are the leaver rule's business.

    ```yaml
    rules:
      expired-exception: {warn_days: 30}
    ```
    """
    named = state.policy.exception_systems
    for view, account, link, person, left in state.entries():
        if view.name not in named or left or account.status is not AccountStatus.ACTIVE:
            continue
        grants = view.grants.get(account.native_id, ())
        if not grants:
            continue
        on = view.on
        for located in state.policy.exceptions_for(view.name, person, account):
            exc = located.item
            past = (on - exc.expires).days
            if exception_valid(exc, on) and -past > params.warn_days:
                continue
            held = [
                _describe(view, g)
                for g in grants
                if _approves(state, view, exc, g)
                and not _approved_otherwise(state, view, account, link, located, g)
            ]
            if not held:
                continue
            whose = f"{person.name}'s " if person is not None else ""
            target = f"{whose}{view.name} account {account.login} to hold {exc.entitlement}"
            expired = not exception_valid(exc, on)
            if expired:
                message = (
                    f"The exception approved by {exc.approver} for {target} expired on "
                    f"{exc.expires} ({days(past)} ago), and the access is still held "
                    f"({', '.join(held)}; {located.where})."
                )
            else:
                message = (
                    f"The exception approved by {exc.approver} for {target} ends on "
                    f"{exc.expires}, in {days(-past)} ({located.where}): renew it or plan "
                    "the removal."
                )
            yield Hit(
                subject=(
                    f"{view.name}:{account.native_id}:exception:{exc.entitlement}:{exc.expires}"
                ),
                system=view.name,
                person_id=link.person_id,
                message=message,
                severity=None if expired else Severity.INFO,
                evidence=ExceptionEvidence(
                    where=located.where,
                    entitlement=exc.entitlement,
                    approver=exc.approver,
                    reason=exc.reason,
                    ticket=exc.ticket,
                    expires=exc.expires,
                    days_past=past,
                    account_login=account.login,
                    held=held,
                ),
            )


def _approves(state: EvaluationState, view: SystemView, exc: Exception_, grant: GrantRow) -> bool:
    entitlement = view.entitlements.get(grant.entitlement_id)
    return entitlement is not None and state.matches(view.name, exc.entitlement, entitlement)


def _approved_otherwise(
    state: EvaluationState,
    view: SystemView,
    account: Account,
    link: AccountLink,
    located: Located[Exception_],
    grant: GrantRow,
) -> bool:
    """Whether the grant stays approved without this exception. What comes through a group
    is approved when the membership of that group is."""
    if grant.via is not None:
        membership = next(
            (
                g
                for g in view.grants.get(account.native_id, ())
                if g.entitlement_id == grant.via and g.via is None
            ),
            None,
        )
        if membership is None:
            return False
        grant = membership
    explanation = state.explain(view, account, link, grant)
    if explanation.kind in _APPROVED_OTHERWISE:
        return True
    if explanation.kind != "exception":
        return False
    # An exception explains it: this one while it runs, or another, e.g. its renewal.
    entitlement = view.entitlements[grant.entitlement_id]
    on = view.as_of.date()
    return any(
        other is not located
        and exception_valid(other.item, on)
        and other.item.expires > located.item.expires
        and state.matches(view.name, other.item.entitlement, entitlement)
        for other in state.policy.exceptions_for(view.name, state.person_of(link), account)
    )


def _describe(view: SystemView, grant: GrantRow) -> str:
    entitlement = view.entitlements.get(grant.entitlement_id)
    ref = entitlement.ref if entitlement else grant.entitlement_id
    if grant.via is None:
        return ref
    group = view.entitlements.get(grant.via)
    return f"{ref} through {group.ref if group else grant.via}"
