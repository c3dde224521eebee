"""An active access key that is too old, or that nobody uses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pydantic import Field

from iam_gov.engine.state import EvaluationState
from iam_gov.model import CredentialKind, Severity
from iam_gov.rules._common import active_accounts_credentials, days
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    max_age_days: int = Field(90, ge=1, description="Rotate keys at least this often.")
    unused_days: int = Field(90, ge=1, description="An active key unused this long goes.")


class StaleKeyEvidence(Evidence):
    account_login: str
    credential_id: str
    created_at: datetime | None
    last_used_at: datetime | None
    age_days: int | None
    unused_days: int | None
    reasons: list[str]


@rule(
    id="stale-access-key",
    title="Stale access key",
    severity=Severity.MEDIUM,
    control="Strong authentication: long-lived credentials are rotated, unused ones removed.",
    soc2=("CC6.1",),
    iso27001=("A.5.17",),
    remediation=(
        "Rotate the key (create a new one, move its users, deactivate then delete the old "
        "one); delete keys nobody uses."
    ),
)
def stale_access_key(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """An active key older than ``max_age_days``, or not used (or never used) for
    ``unused_days``. Keys of disabled accounts are not reported (they cannot be used).

    ```yaml
    rules:
      stale-access-key: {max_age_days: 90, unused_days: 60}
    ```
    """
    for view, account, credentials in active_accounts_credentials(state):
        for key in credentials:
            if key.kind is not CredentialKind.ACCESS_KEY or not key.active:
                continue
            age = (view.as_of - key.created_at).days if key.created_at else None
            idle_since = key.last_used_at or key.created_at
            unused = (view.as_of - idle_since).days if idle_since else None
            reasons = []
            if age is not None and age > params.max_age_days:
                reasons.append(f"is {days(age)} old (rotate every {days(params.max_age_days)})")
            if unused is not None and unused > params.unused_days:
                if key.last_used_at is None:
                    reasons.append(f"was never used in {days(unused)}")
                else:
                    reasons.append(f"has not been used for {days(unused)}")
            if not reasons:
                continue
            name = key.credential_id.rsplit("#", 1)[-1].replace("_", " ")
            yield Hit(
                subject=f"{view.name}:{key.credential_id}",
                system=view.name,
                person_id=state.links[(view.name, account.native_id)].person_id,
                message=f"{view.name} account {account.login}'s {name} "
                + " and ".join(reasons)
                + ".",
                evidence=StaleKeyEvidence(
                    account_login=account.login,
                    credential_id=key.credential_id,
                    created_at=key.created_at,
                    last_used_at=key.last_used_at,
                    age_days=age,
                    unused_days=unused,
                    reasons=reasons,
                ),
            )
