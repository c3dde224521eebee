"""A person HR says has left still has an active account."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

from pydantic import Field

from iam_gov.engine.state import EvaluationState
from iam_gov.model import AccountStatus, Severity
from iam_gov.rules._common import account_subject, days, last_activity
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    grace_days: int = Field(
        0, ge=0, description="Days after the last working day during which access is tolerated."
    )


class LeaverEvidence(Evidence):
    person_id: str
    person_name: str
    end_date: date | None
    days_since_end: int | None
    account_login: str
    last_activity: datetime | None
    used_after_end: bool
    active_credentials: list[str]
    privileged_entitlements: list[str]


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
    ```
    """
    for view, account, link in state.accounts():
        person = state.person_of(link)
        if person is None or account.status is not AccountStatus.ACTIVE:
            continue
        on = view.as_of.date()
        if not state.has_left(person, on):
            continue
        end = person.end_date
        since = (on - end).days if end else None
        if since is not None and since <= params.grace_days:
            continue
        activity = last_activity(view, account)
        used_after = end is not None and activity is not None and activity.date() > end
        privileged = [e.ref for e in state.privileged_grants(view, account)]
        credentials = [
            c.credential_id.rsplit("#", 1)[-1]
            for c in view.credentials.get(account.native_id, ())
            if c.active
        ]
        left = (
            f"left on {end} ({days(since)} before this {view.name} data)"
            if end and since is not None
            else "is marked terminated in HR"
        )
        message = (
            f"{person.name} ({person.employee_id}) {left}, "
            f"but {view.name} account {account.login} is still active"
        )
        if used_after and activity is not None:
            message += f", and was used on {activity.date()} after they left"
        if privileged:
            message += f"; it holds privileged access ({', '.join(sorted(privileged))})"
        yield Hit(
            subject=account_subject(view, account),
            system=view.name,
            person_id=person.employee_id,
            message=message + ".",
            severity=Severity.CRITICAL if used_after or privileged else None,
            evidence=LeaverEvidence(
                person_id=person.employee_id,
                person_name=person.name,
                end_date=end,
                days_since_end=since,
                account_login=account.login,
                last_activity=activity,
                used_after_end=used_after,
                active_credentials=credentials,
                privileged_entitlements=sorted(privileged),
            ),
        )
