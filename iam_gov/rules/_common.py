"""Small helpers shared by rules: activity dates, privileged access held, words, subject keys,
findings that gather every account one cause affects."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from iam_gov.aws_policy.account import Principal
from iam_gov.aws_policy.analysis import AwsAccount, scoped_arns
from iam_gov.engine.state import EvaluationState, SystemView
from iam_gov.model import Account, AccountStatus, Credential, Severity
from iam_gov.rules.registry import Evidence


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


def one_lower(severity: Severity) -> Severity:
    """The next severity down (info stays info): what a possible but unproven finding is
    worth next to a certain one."""
    ordered = list(Severity)
    return ordered[max(severity.rank - 1, 0)]


def counted(n: int, noun: str) -> str:
    """``1 user``, ``3 users``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def some_of(names: Sequence[str], shown: int = 5) -> str:
    """The first few of a list, then how many more: ``a, b, c … and 12 more``."""
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} … and {len(names) - shown} more"


def one_person(person_ids: Iterable[str | None]) -> str | None:
    """The person a finding is about when all it affects is one person's; None when it
    affects several people, or nobody's accounts."""
    people = {p for p in person_ids if p is not None}
    return people.pop() if len(people) == 1 else None


class AffectedPrincipal(Evidence):
    """One account among those a finding about a shared cause affects."""

    arn: str
    """The account's id in its system (an AWS principal's ARN)."""
    login: str
    type: str
    """``user``, ``role``, ``root`` …"""
    person_id: str | None
    person: str | None
    """The linked person's name, when the account is someone's."""
    severity: str
    """What this account alone would make of the finding."""


def active_aws_principals(
    view: SystemView, analysis: AwsAccount
) -> Iterator[tuple[str, Account, Principal]]:
    """Each active IAM user and role of an AWS view, in ARN order: its ARN, its account and
    the analysis's principal (of the account the AWS rules are on, when they run by
    account)."""
    for arn in scoped_arns(view, analysis):
        account = view.accounts[arn]
        principal = analysis.principals.get(arn)
        if (
            principal is not None
            and principal.kind in ("user", "role")
            and account.status is AccountStatus.ACTIVE
        ):
            yield arn, account, principal
