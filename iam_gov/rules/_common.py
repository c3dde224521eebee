"""Small helpers shared by rules: activity dates, privileged access held, words, subject keys."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from iam_gov.engine.state import EvaluationState, SystemView
from iam_gov.model import Account, AccountStatus, Credential


def last_activity(view: SystemView, account: Account) -> datetime | None:
    """The latest sign-in or credential use we know of, if any."""
    latest = account.last_login_at
    for credential in view.credentials.get(account.native_id, ()):
        used = credential.last_used_at
        if used is not None and (latest is None or used > latest):
            latest = used
    return latest


def account_subject(view: SystemView, account: Account) -> str:
    return f"{view.name}:{account.native_id}"


def days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def privileged_refs(state: EvaluationState, view: SystemView, account: Account) -> list[str]:
    """The privileged entitlements the account holds, as messages and evidence show them:
    sorted, each once."""
    return sorted(e.ref for e in state.privileged_grants(view, account))


def with_privileged(message: str, privileged: Sequence[str]) -> str:
    """A finding's sentence, ending with the privileged access the account holds, if any."""
    if privileged:
        message += f"; it holds privileged access ({', '.join(privileged)})"
    return message + "."


def active_accounts_credentials(
    state: EvaluationState,
) -> Iterator[tuple[SystemView, Account, list[Credential]]]:
    """Every active account with its credentials, system by system: those of a disabled
    account cannot be used, so they are not judged."""
    for view in state.systems.values():
        for account_id, credentials in view.credentials.items():
            account = view.accounts.get(account_id)
            if account is not None and account.status is AccountStatus.ACTIVE:
                yield view, account, credentials
