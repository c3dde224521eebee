"""An active account nobody has used for a long time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pydantic import Field

from iam_gov.engine.state import EvaluationState
from iam_gov.model import AccountKind, AccountStatus, Severity
from iam_gov.rules._common import (
    account_subject,
    days,
    last_activity,
    privileged_refs,
    with_privileged,
)
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    days: int = Field(90, ge=1, description="No sign-in or credential use for this many days.")
    days_by_system: dict[str, int] = Field(default_factory=dict)
    """Per-system thresholds, e.g. ``{aws: 45}``."""


class DormantEvidence(Evidence):
    account_login: str
    kind: str
    last_activity: datetime | None
    created_at: datetime | None
    idle_days: int
    threshold_days: int
    privileged_entitlements: list[str]


@rule(
    id="dormant-account",
    title="Dormant account",
    severity=Severity.MEDIUM,
    control="Access is deprovisioned on termination or infrequent use.",
    soc2=("CC6.2",),
    iso27001=("A.5.18",),
    remediation=(
        "Disable the account; if it is still needed, its owner signs in or re-requests it. "
        "Dormant privileged accounts are removed first."
    ),
)
def dormant_account(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """No sign-in and no credential use for N days (never used: N days since creation).
    Where sign-ins are only sampled (a VPN's status file shows who is connected when iam-gov
    looks), "never seen" counts from when watching began, so a new installation reports
    nobody until it has watched for N days.
    Break-glass accounts are meant to sit unused and are skipped; leavers' accounts are
    reported by the leaver rule instead, and the roles IAM Identity Center provisions for a
    permission set by aws-unused-permission-set. High severity for privileged accounts.

    ```yaml
    rules:
      dormant-account:
        days: 90
        days_by_system: {aws: 45}
    ```
    """
    for view, account, link, person, left in state.entries():
        if (
            account.status is not AccountStatus.ACTIVE
            or link.kind is AccountKind.BREAK_GLASS
            or left
            # an AWSReservedSSO_* role: its permission set's use, reported with who is
            # assigned it by aws-unused-permission-set
            or "permission_set_entitlement" in account.attributes
        ):
            continue
        threshold = params.days_by_system.get(view.name, params.days)
        activity = last_activity(view, account)
        since = activity or _not_seen_since(view.observed_since, account.created_at)
        if since is None:
            continue
        idle = (view.as_of - since).days
        if idle < threshold:
            continue
        privileged = privileged_refs(state, view, account)
        owner = f" ({person.name})" if person is not None else ""
        if activity is None and since != account.created_at:
            message = (
                f"{view.name} account {account.login}{owner} was not seen in the "
                f"{days(idle)} iam-gov has been watching (since {since.date()})"
            )
        elif activity is None:
            message = (
                f"{view.name} account {account.login}{owner} was never used in the "
                f"{days(idle)} since it was created"
            )
        else:
            message = (
                f"{view.name} account {account.login}{owner} has not been used for "
                f"{days(idle)} (last on {activity.date()})"
            )
        yield Hit(
            subject=account_subject(view, account),
            system=view.name,
            person_id=link.person_id,
            message=with_privileged(message, privileged),
            severity=Severity.HIGH if privileged else None,
            evidence=DormantEvidence(
                account_login=account.login,
                kind=link.kind.value,
                last_activity=activity,
                created_at=account.created_at,
                idle_days=idle,
                threshold_days=threshold,
                privileged_entitlements=privileged,
            ),
        )


def _not_seen_since(
    observed_since: datetime | None, created_at: datetime | None
) -> datetime | None:
    if observed_since is None:
        return created_at
    return observed_since if created_at is None else max(observed_since, created_at)
