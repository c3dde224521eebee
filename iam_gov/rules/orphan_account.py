"""An active account that belongs to nobody in HR and is not declared as a non-person account."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from iam_gov.engine.state import EvaluationState
from iam_gov.model import AccountKind, AccountStatus, Severity
from iam_gov.rules._common import account_subject, last_activity, privileged_refs, with_privileged
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    include_disabled: bool = False
    """Disabled orphans cannot sign in; report them only when asked (clean-up work)."""


class OrphanEvidence(Evidence):
    account_login: str
    display_name: str | None
    email: str | None
    status: str
    created_at: datetime | None
    last_activity: datetime | None
    correlation_note: str
    privileged_entitlements: list[str]


@rule(
    id="orphan-account",
    title="Account with no owner",
    severity=Severity.HIGH,
    control="Unique user IDs: every account belongs to a person or is a declared service account.",
    soc2=("CC6.1", "CC6.2"),
    iso27001=("A.5.16",),
    remediation=(
        "Find the owner: link the account to its person in the overrides file, declare it as "
        "a service or break-glass account in the policy, or disable it."
    ),
    needs_complete_hr=True,
)
def orphan_account(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """No HR record matches the account by any configured method, and the policy does not
    declare it. Does not run on incomplete HR data: the owner may be in a row that failed.

    ```yaml
    rules:
      orphan-account:
        include_disabled: true
    ```
    """
    for view, account, link in state.accounts():
        if link.person_id is not None or link.kind is not AccountKind.HUMAN:
            continue
        if account.status is not AccountStatus.ACTIVE and not params.include_disabled:
            continue
        privileged = privileged_refs(state, view, account)
        message = (
            f"{view.name} account {account.login} belongs to nobody in HR and is not declared "
            "as a service or break-glass account"
        )
        if link.note:
            message += f" ({link.note})"
        yield Hit(
            subject=account_subject(view, account),
            system=view.name,
            message=with_privileged(message, privileged),
            severity=Severity.CRITICAL if privileged else None,
            evidence=OrphanEvidence(
                account_login=account.login,
                display_name=account.display_name,
                email=account.email,
                status=account.status.value,
                created_at=account.created_at,
                last_activity=last_activity(view, account),
                correlation_note=link.note,
                privileged_entitlements=privileged,
            ),
        )
