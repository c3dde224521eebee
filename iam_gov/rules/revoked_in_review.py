"""Access a reviewer revoked in a closed access review is still there in the latest data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from pydantic import Field

from iam_gov.engine.state import EvaluationState, SystemView
from iam_gov.model import AccountStatus, GrantRow, Severity
from iam_gov.rules._common import days
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    grace_days: int = Field(
        0,
        ge=0,
        description=(
            "Days after the review closed that the removal may take before the grant still "
            "being there is reported."
        ),
    )


class RevokedInReviewEvidence(Evidence):
    campaign_id: int
    campaign: str
    revoked_by: str | None
    """Who decided; ``None`` when the campaign's no-response rule revoked it."""
    acting_for: str | None
    revoked_on: date
    closed_at: datetime
    days_since_close: int
    """From the review's close to the time of this system's data."""
    comment: str | None
    account_login: str
    entitlement: str
    held: list[str]
    """How the account holds it now: ``direct`` and ``through group:X``."""


@rule(
    id="revoked-in-review",
    title="Revoked in an access review, still present",
    severity=Severity.HIGH,
    control=(
        "Periodic reviews are conducted to ensure that all access privileges granted are "
        "appropriate, and access found inappropriate is removed."
    ),
    soc2=("CC6.2", "CC6.3"),
    iso27001=("A.5.18",),
    remediation=(
        "Carry out the revocation (the campaign's remediation plan lists it) and find out why "
        "it was not: a failed or skipped removal, or the access granted again since."
    ),
)
def revoked_in_review(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """A reviewer revoked a grant in an access review (or the review's no-response rule did)
    and the review was closed before this system's data was collected, but the account, still
    active, holds the entitlement: the removal was not carried out, or the access came back.
    Only the latest decision about a grant counts: an approval in a later review ends it.
    Judged on complete data only; disabled accounts are not reported.

    ```yaml
    rules:
      revoked-in-review: {grace_days: 2}   # allow two days for the removal after the close
    ```
    """
    for (system, account_id, entitlement_id), revocation in state.review_revocations.items():
        view = state.systems.get(system)
        if view is None or not view.complete:
            continue
        since_close = view.as_of - revocation.closed_at
        if since_close <= timedelta(days=params.grace_days):
            continue
        account = view.accounts.get(account_id)
        if account is None or account.status is not AccountStatus.ACTIVE:
            continue
        held = [
            _how(view, grant)
            for grant in view.grants.get(account_id, ())
            if grant.entitlement_id == entitlement_id
        ]
        if not held:
            continue
        link = state.links.get((system, account_id))
        person = state.person_of(link) if link is not None else None
        entitlement = view.entitlements.get(entitlement_id)
        ref = entitlement.ref if entitlement is not None else entitlement_id
        whose = f"{person.name}'s " if person is not None else ""
        revoked_on = revocation.decided_at.date()
        message = (
            f"{whose}{system} account {account.login} holds {ref} ({', '.join(held)}): "
            f"revoked in review '{revocation.campaign}' (#{revocation.campaign_id}) on "
            f"{revoked_on}, still present in the {system} data of {view.on} "
            f"({days(since_close.days)} after the review closed)."
        )
        yield Hit(
            subject=f"{system}:{account_id}:revoked-in-review:{entitlement_id}",
            system=system,
            person_id=link.person_id if link is not None else None,
            message=message,
            evidence=RevokedInReviewEvidence(
                campaign_id=revocation.campaign_id,
                campaign=revocation.campaign,
                revoked_by=revocation.decided_by,
                acting_for=revocation.acting_for,
                revoked_on=revoked_on,
                closed_at=revocation.closed_at,
                days_since_close=since_close.days,
                comment=revocation.comment,
                account_login=account.login,
                entitlement=ref,
                held=held,
            ),
        )


def _how(view: SystemView, grant: GrantRow) -> str:
    if grant.via is None:
        return "direct"
    group = view.entitlements.get(grant.via)
    return f"through {group.ref if group else grant.via}"
