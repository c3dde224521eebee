"""One person holding more than one active account in the same system."""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from iam_gov.correlate import AccountLink
from iam_gov.engine.state import EvaluationState
from iam_gov.model import Account, AccountKind, AccountStatus, Severity
from iam_gov.rules._common import last_activity, privileged_refs
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    admin_patterns: tuple[str, ...] = Field(
        ("*-admin", "adm-*", "*.admin"),
        description="Logins (before any @, case ignored) of separate admin accounts: a person "
        "may hold one of these besides their everyday account.",
    )
    include_vpn: bool = Field(
        False,
        description="Also count VPN identities, which are often one per device (the "
        "multiple-valid-certificates rule watches those).",
    )


class HeldAccount(BaseModel):
    model_config = ConfigDict(frozen=True)

    login: str
    native_id: str
    linked_by: str
    last_activity: datetime | None
    privileged_entitlements: list[str]


class DuplicateEvidence(Evidence):
    person_name: str
    accounts: list[HeldAccount]
    admin_accounts: list[str]
    """Separate admin accounts of the same person, which the naming convention allows."""


@rule(
    id="duplicate-accounts",
    title="Several accounts for one person",
    severity=Severity.LOW,
    control="Unique user IDs: one account per person in each system, so that access is "
    "reviewed and revoked in one place.",
    soc2=("CC6.1", "CC6.2"),
    iso27001=("A.5.16", "A.5.18"),
    remediation=(
        "Keep one everyday account per person and disable the others (move what they hold "
        "first); an admin account that is needed is renamed to the admin naming convention."
    ),
)
def duplicate_accounts(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """A current employee linked to two or more active human accounts in one system (say
    ``jdoe`` and ``jane.doe2``): the second one is easily forgotten when access is reviewed or
    when they leave. Separate admin accounts named by ``admin_patterns`` do not count. VPN
    identities are left out unless ``include_vpn`` is set. Medium when one of the accounts
    holds privileged access.

    ```yaml
    rules:
      duplicate-accounts:
        admin_patterns: ["*-admin", "adm-*", "*.admin", "a-*"]
    ```
    """
    admin = re.compile("|".join(fnmatch.translate(p.casefold()) for p in params.admin_patterns))
    for view in state.systems.values():
        if isinstance(view.settings.get("vpn"), dict) and not params.include_vpn:
            continue
        linked: dict[str, list[tuple[Account, AccountLink]]] = defaultdict(list)
        for account in view.accounts.values():
            link = state.links[(view.name, account.native_id)]
            if (
                account.status is not AccountStatus.ACTIVE
                or link.kind is not AccountKind.HUMAN
                or link.person_id is None
            ):
                continue
            linked[link.person_id].append((account, link))
        # Only someone with two accounts or more can hold two that are not admin accounts.
        for person_id in sorted(p for p, accounts in linked.items() if len(accounts) > 1):
            accounts, admins = [], []
            for account, link in linked[person_id]:
                local = account.login.casefold().partition("@")[0]
                if params.admin_patterns and admin.match(local):
                    admins.append(account.login)
                else:
                    accounts.append((account, link))
            if len(accounts) < 2:
                continue
            person = state.people[person_id]
            if state.has_left(person, view.on):
                continue
            listed = [
                HeldAccount(
                    login=account.login,
                    native_id=account.native_id,
                    linked_by=link.method,
                    last_activity=last_activity(view, account),
                    privileged_entitlements=privileged_refs(state, view, account),
                )
                for account, link in sorted(accounts, key=lambda a: a[0].native_id)
            ]
            names = ", ".join(f"{a.login} ({a.linked_by.replace('_', ' ')})" for a in listed)
            privileged = any(a.privileged_entitlements for a in listed)
            message = (
                f"{person.name} ({person_id}) holds {len(listed)} active {view.name} accounts: "
                f"{names}; one account per person is expected"
            )
            if privileged:
                message += ", and one of them holds privileged access"
            yield Hit(
                subject=f"{view.name}:{person_id}:accounts",
                system=view.name,
                person_id=person_id,
                message=message + ".",
                severity=Severity.MEDIUM if privileged else None,
                evidence=DuplicateEvidence(
                    person_name=person.name,
                    accounts=listed,
                    admin_accounts=sorted(admins),
                ),
            )
