"""An account that signs in with a password and has no second factor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from iam_gov.engine.state import EvaluationState
from iam_gov.model import AccountStatus, CredentialKind, Severity
from iam_gov.rules._common import account_subject, privileged_refs, with_privileged
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    pass


class MfaEvidence(Evidence):
    account_login: str
    kind: str
    password_last_used: datetime | None
    privileged_entitlements: list[str]


@rule(
    id="mfa-missing",
    title="Interactive sign-in without MFA",
    severity=Severity.HIGH,
    control="Access to the environment is protected by multi-factor authentication.",
    soc2=("CC6.1",),
    iso27001=("A.8.5",),
    remediation=(
        "Enrol a second factor (a hardware key for privileged and break-glass accounts), or "
        "remove the console password if the account does not need to sign in."
    ),
)
def mfa_missing(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """An active account with an active password (an AWS console password, an IdP password)
    and no enrolled second factor. Accounts whose factors the system does not report are not
    judged (unknown is not none). Critical for privileged accounts.
    """
    for view, account, link in state.accounts():
        if account.status is not AccountStatus.ACTIVE or account.mfa_factors != ():
            continue
        password = next(
            (
                c
                for c in view.credentials.get(account.native_id, ())
                if c.kind is CredentialKind.PASSWORD and c.active
            ),
            None,
        )
        if password is None:
            continue
        privileged = privileged_refs(state, view, account)
        person = state.person_of(link)
        owner = f" ({person.name})" if person is not None else ""
        message = (
            f"{view.name} account {account.login}{owner} can sign in with a password and has no MFA"
        )
        yield Hit(
            subject=account_subject(view, account),
            system=view.name,
            person_id=link.person_id,
            message=with_privileged(message, privileged),
            severity=Severity.CRITICAL if privileged else None,
            evidence=MfaEvidence(
                account_login=account.login,
                kind=link.kind.value,
                password_last_used=password.last_used_at,
                privileged_entitlements=privileged,
            ),
        )
