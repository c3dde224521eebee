"""A shared or generic account: a login or name that says role, team or test, not a person."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import lru_cache

from pydantic import Field

from iam_gov.correlate import AccountLink
from iam_gov.engine.state import EvaluationState
from iam_gov.model import Account, AccountKind, AccountStatus, Severity
from iam_gov.rules._common import account_subject, last_activity, privileged_refs, with_privileged
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule

# Whole-name patterns, not substrings: "jdoe-admin" is one person's admin account (the
# duplicate-accounts rule knows it) and "chris.testa" is a person; "admin", "test-01",
# "temp-contractor" and "support-team" are nobody in particular.
GENERIC_PATTERNS = (
    "admin",
    "admin[0-9]*",
    "administrator",
    "root",
    "sysadmin",
    "superuser",
    "test",
    "test[0-9]*",
    "test[-_.]*",
    "*[-_.]test",
    "tester",
    "testuser*",
    "temp",
    "temp[0-9]*",
    "temp[-_.]*",
    "tmp[-_.]*",
    "shared",
    "shared[-_.]*",
    "*[-_.]shared",
    "team",
    "team[-_.]*",
    "*[-_.]team",
    "info",
    "support",
    "helpdesk",
    "servicedesk",
    "guest",
    "guest[0-9]*",
    "guest[-_.]*",
    "training",
    "training[0-9]*",
    "training[-_.]*",
    "trainee[0-9]*",
    "demo",
    "demo[0-9]*",
    "demo[-_.]*",
    "user",
    "user[0-9]*",
    "generic*",
    "office",
    "reception",
    "noreply",
    "no-reply",
)


class Params(RuleParams):
    patterns: tuple[str, ...] = Field(
        GENERIC_PATTERNS,
        description="Wildcard patterns (case ignored) for generic names; they must match the "
        "whole login (before any @) or the whole display name (spaces read as -).",
    )
    extra_patterns: tuple[str, ...] = Field(
        (), description="More patterns, added to ``patterns`` rather than replacing them."
    )


class SharedEvidence(Evidence):
    account_login: str
    display_name: str | None
    matched: list[str]
    """Why the account looks shared, e.g. ``login admin matches 'admin'``."""
    linked_person: str | None
    link_method: str
    last_activity: datetime | None
    privileged_entitlements: list[str]


@rule(
    id="shared-account",
    title="Shared or generic account",
    severity=Severity.MEDIUM,
    control="Unique user IDs: every person signs in with an account of their own.",
    soc2=("CC6.1", "CC6.2"),
    iso27001=("A.5.16", "A.5.17"),
    remediation=(
        "Give each person who uses it an account of their own and disable the shared one; if "
        "it is a service or break-glass account, declare it in the policy with its owner."
    ),
)
def shared_account(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """An active human account whose login or display name is generic (``admin``, ``test``,
    ``temp-…``, ``…-team``, ``support``, ``user1`` …) and that the policy does not declare as
    a service or break-glass account: several people probably share it, so nobody in
    particular answers for what it does. Also an account tied to a person by display name
    only while its login is the name of a team (an HR department or a policy role): a team
    mailbox someone once set up, not that person's account. Built-in break-glass accounts
    (AWS root, AD's Administrator) are not human accounts and are not reported. High when
    the account holds privileged access.

    ```yaml
    rules:
      shared-account:
        extra_patterns: ["kiosk*", "*-shared-*"]
    ```
    """
    patterns = tuple(p.casefold() for p in (*params.patterns, *params.extra_patterns))
    teams = _team_names(state)
    # A person's accounts in each system mostly share a display name and a login: each is
    # matched against the patterns once.
    matches: dict[str, str | None] = {}

    def first_match(text: str) -> str | None:
        if text not in matches:
            matches[text] = _first_match(text, patterns)
        return matches[text]

    for view, account, link, person, _left in state.entries():
        if account.status is not AccountStatus.ACTIVE or link.kind is not AccountKind.HUMAN:
            continue
        matched = _generic(account, first_match)
        team = teams.get(_letters(_local_part(account.login))) if link.method == "name" else None
        if team is not None:
            matched.append(f"login {account.login} names the team {team}")
        if not matched:
            continue
        privileged = privileged_refs(state, view, account)
        message = f"{view.name} account {account.login} looks like a shared or generic account "
        if team is not None and person is not None:
            message += (
                f"(its login names the team {team}), yet it is linked to {person.name} "
                f"({person.employee_id}) only by display name"
            )
        else:
            message += f"({'; '.join(matched)}) and is not declared as a service or break-glass "
            message += "account"
            if person is not None:
                message += f"; it is linked to {person.name} ({person.employee_id}) by {_how(link)}"
        yield Hit(
            subject=account_subject(view, account),
            system=view.name,
            person_id=link.person_id,
            message=with_privileged(message, privileged),
            severity=Severity.HIGH if privileged else None,
            evidence=SharedEvidence(
                account_login=account.login,
                display_name=account.display_name,
                matched=matched,
                linked_person=link.person_id,
                link_method=link.method,
                last_activity=last_activity(view, account),
                privileged_entitlements=privileged,
            ),
        )


def _local_part(login: str) -> str:
    return login.casefold().partition("@")[0]


def _letters(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.casefold())


@lru_cache(maxsize=64)
def _matcher(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """All patterns as one regex (a named group each), so an account is matched once."""
    return re.compile("|".join(f"(?P<p{i}>{fnmatch.translate(p)})" for i, p in enumerate(patterns)))


def _first_match(text: str, patterns: tuple[str, ...]) -> str | None:
    found = _matcher(patterns).match(text) if patterns else None
    if found is None or found.lastgroup is None:
        return None
    return patterns[int(found.lastgroup[1:])]


def _generic(account: Account, first_match: Callable[[str], str | None]) -> list[str]:
    found = []
    hit = first_match(_local_part(account.login))
    if hit is not None:
        found.append(f"login {account.login} matches {hit!r}")
    if account.display_name:
        hit = first_match("-".join(account.display_name.casefold().split()))
        if hit is not None:
            found.append(f"display name {account.display_name} matches {hit!r}")
    return found


def _team_names(state: EvaluationState) -> dict[str, str]:
    """Departments in HR and role names in the policy, by their letters: what a team is
    called, so that a login like ``finance`` or ``customer-success`` can be recognised."""
    names = {p.department for p in state.people.values() if p.department}
    names.update(state.policy.roles)
    return {key: name for name in sorted(names) if len(key := _letters(name)) >= 2}


def _how(link: AccountLink) -> str:
    return {"employee_id": "employee id", "name": "display name"}.get(link.method, link.method)
