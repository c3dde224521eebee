"""A person HR says has left still has an active account."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from pydantic import Field

from iam_gov.engine.state import EvaluationState, SystemView
from iam_gov.model import Account, AccountStatus, Severity
from iam_gov.rules._common import (
    account_subject,
    days,
    last_activity,
    privileged_refs,
    with_privileged,
)
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    grace_days: int = Field(
        0, ge=0, description="Days after the last working day during which access is tolerated."
    )
    grace_hours: int | None = Field(
        None, ge=0, description="The grace period in hours; overrides grace_days when set."
    )

    @property
    def grace(self) -> timedelta:
        hours = self.grace_hours if self.grace_hours is not None else self.grace_days * 24
        return timedelta(hours=hours)


def _access_ended_at(end: date) -> datetime:
    """Access should end when the last working day does: midnight (UTC) after it."""
    return datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)


class LeaverEvidence(Evidence):
    person_id: str
    person_name: str
    end_date: date | None
    days_since_end: int | None
    hours_since_end: int | None
    """Hours from the end of the last working day to the time of this system's data."""
    grace_hours: int
    account_login: str
    last_activity: datetime | None
    used_after_end: bool
    active_credentials: list[str]
    privileged_entitlements: list[str]
    permission_sets: list[str] = []
    """AWS permission sets the account can still get, each as ``<name> in <account name>
    (<account id>)`` (an IAM Identity Center user)."""


@rule(
    id="leaver-active-access",
    title="Leaver still has active access",
    severity=Severity.HIGH,
    control="Access is revoked in a timely manner when employment ends.",
    soc2=("CC6.2", "CC6.3"),
    iso27001=("A.5.16", "A.5.18"),
    remediation=(
        "Disable the account (remove console passwords, deactivate keys) and remove its "
        "grants today; if it was used after the end date, investigate that activity."
    ),
)
def leaver_active_access(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """HR marks the person terminated, or their end date (the last working day) has passed,
    and an account linked to them is still active the day after. Critical when it was used
    after they left or is privileged.

    ```yaml
    rules:
      leaver-active-access:
        grace_days: 1   # tolerate access on the day after the last working day
        # grace_hours: 4  # or in hours, counted from midnight (UTC) after the last day
    ```
    """
    for view, account, _link, person, left in state.entries():
        if not left or person is None or account.status is not AccountStatus.ACTIVE:
            continue
        on = view.on
        end = person.end_date
        since = (on - end).days if end else None
        overdue = view.as_of - _access_ended_at(end) if end else None
        if overdue is not None and overdue <= params.grace:
            continue
        hours = int(overdue.total_seconds() // 3600) if overdue is not None else None
        grace_hours = int(params.grace.total_seconds() // 3600)
        activity = last_activity(view, account)
        used_after = end is not None and activity is not None and activity.date() > end
        privileged = privileged_refs(state, view, account)
        credentials = [
            c.credential_id.rsplit("#", 1)[-1]
            for c in view.credentials.get(account.native_id, ())
            if c.active
        ]
        departure = (
            f"left on {end} ({days(since)} before this {view.name} data)"
            if end and since is not None
            else "is marked terminated in HR"
        )
        message = (
            f"{person.name} ({person.employee_id}) {departure}, "
            f"but {view.name} account {account.login} is still active"
        )
        if hours is not None and grace_hours:
            message += f" {hours} hours after their last day, past the {grace_hours}-hour grace"
        if used_after and activity is not None:
            message += f", and was used on {activity.date()} after they left"
        permission_sets = _permission_sets(view, account)
        if permission_sets:
            message += (
                f"; it can still get AWS permission set{'s' if len(permission_sets) > 1 else ''} "
                + ", ".join(permission_sets)
            )
        yield Hit(
            subject=account_subject(view, account),
            system=view.name,
            person_id=person.employee_id,
            message=with_privileged(message, privileged),
            severity=Severity.CRITICAL if used_after or privileged else None,
            evidence=LeaverEvidence(
                person_id=person.employee_id,
                person_name=person.name,
                end_date=end,
                days_since_end=since,
                hours_since_end=hours,
                grace_hours=grace_hours,
                account_login=account.login,
                last_activity=activity,
                used_after_end=used_after,
                active_credentials=credentials,
                privileged_entitlements=privileged,
                permission_sets=permission_sets,
            ),
        )


def _permission_sets(view: SystemView, account: Account) -> list[str]:
    """The permission sets an Identity Center user holds, each once: ``Admin in prod
    (222222222222)`` (the entitlement is ``<permission set arn>@<account id>``)."""
    found = []
    for grant in view.grants.get(account.native_id, ()):
        entitlement = view.entitlements.get(grant.entitlement_id)
        if entitlement is not None and entitlement.kind == "permission-set":
            account_id = entitlement.entitlement_id.rpartition("@")[2]
            found.append(f"{entitlement.name} ({account_id})" if account_id else entitlement.name)
    return sorted(set(found))
