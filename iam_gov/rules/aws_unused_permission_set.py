"""IAM Identity Center permission sets assigned in an AWS account that nobody has used."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from iam_gov.engine.state import EvaluationState, SystemView
from iam_gov.model import Account, Entitlement, Severity
from iam_gov.rules._common import counted, days, one_person, some_of
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule

PERMISSION_SET_KIND = "permission-set"
TIED_ATTRIBUTE = "permission_set_entitlement"
"""The attribute that ties an ``AWSReservedSSO_*`` role to its ``<ps arn>@<account>``."""


class Params(RuleParams):
    unused_days: int = Field(
        90, ge=1, description="A permission set whose role was not used for this many days."
    )


class Assignee(BaseModel):
    login: str
    """The Identity Store user name."""
    person_id: str | None
    person: str | None
    via_group: str | None
    """The Identity Store group the assignment comes through; None when assigned directly."""


class UnusedPermissionSetEvidence(Evidence):
    permission_set: str
    permission_set_arn: str
    aws_account_id: str
    aws_account_name: str
    role_arn: str
    role_last_used: datetime | None
    """None: never used, as far as AWS tracks role use."""
    role_created: datetime | None
    threshold_days: int
    privileged: bool
    assigned: list[Assignee]


@rule(
    id="aws-unused-permission-set",
    title="Unused AWS permission set",
    severity=Severity.MEDIUM,
    control="Access is granted on the principle of least privilege.",
    soc2=("CC6.1", "CC6.2", "CC6.3"),
    iso27001=("A.5.15", "A.5.18", "A.8.2"),
    remediation=(
        "Remove the permission set's assignment in that account (from the users and groups "
        "listed); if some of them still need it, assign it to them alone."
    ),
)
def aws_unused_permission_set(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """An IAM Identity Center permission set assigned in an AWS account whose role there
    (``AWSReservedSSO_<name>_…``, which everyone signing in with it uses) was not used for N
    days, or never and created more than N days ago. Names the permission set, the account
    and everyone assigned, with the group it comes through. A permission set whose role is
    not in the data (its account could not be read) is not judged: the data lacks it, so it
    is no finding, and the incomplete snapshot resolves none. High severity when the
    permission set is privileged.

    ```yaml
    rules:
      aws-unused-permission-set:
        unused_days: 60
    ```
    """
    for view in state.systems.values():
        sets = {
            e.entitlement_id: e for e in view.entitlements.values() if e.kind == PERMISSION_SET_KIND
        }
        if not sets:
            continue
        roles = {
            tied: account
            for account in view.accounts.values()
            if (tied := account.attributes.get(TIED_ATTRIBUTE)) in sets
        }
        holders: dict[str, list[tuple[str, str | None]]] = {}
        for account_id, grants in view.grants.items():
            for grant in grants:
                if grant.entitlement_id in sets:
                    holders.setdefault(grant.entitlement_id, []).append((account_id, grant.via))
        cutoff = view.as_of - timedelta(days=params.unused_days)
        for entitlement_id in sorted(sets):
            role = roles.get(entitlement_id)
            if role is None:
                continue  # its account was not read (or the role is not provisioned): unknown
            last = role.last_login_at
            if last is not None and last >= cutoff:
                continue
            if last is None and (role.created_at is None or role.created_at > cutoff):
                continue  # never used, but too young (or of unknown age) to judge
            yield _hit(
                state,
                view,
                sets[entitlement_id],
                role,
                holders.get(entitlement_id, []),
                params.unused_days,
            )


def _hit(
    state: EvaluationState,
    view: SystemView,
    entitlement: Entitlement,
    role: Account,
    holders: list[tuple[str, str | None]],
    threshold: int,
) -> Hit:
    ps_arn, _, account_id = entitlement.entitlement_id.rpartition("@")
    account_name = account_name_of(view.settings, account_id)
    document = view.documents.get(ps_arn)
    name = document.name if document is not None else entitlement.name
    assigned = []
    for account_id_held, via in sorted(holders, key=lambda h: (h[1] or "", h[0])):
        account = view.accounts.get(account_id_held)
        if account is None:
            continue
        link = state.links.get((view.name, account.native_id))
        person = state.person_of(link) if link is not None else None
        group = view.entitlements.get(via) if via is not None else None
        assigned.append(
            Assignee(
                login=account.login,
                person_id=person.employee_id if person is not None else None,
                person=person.name if person is not None else None,
                via_group=(group.name if group is not None else via) if via else None,
            )
        )
    privileged = state.is_privileged(view, entitlement)
    last = role.last_login_at
    idle = (
        f"has not been used for {days((view.as_of - last).days)} (last on {last.date()})"
        if last is not None
        else f"was never used in the {days((view.as_of - role.created_at).days)} since its "
        "role was created"
        if role.created_at is not None
        else "was never used"
    )
    who = [
        f"{a.person or a.login}" + (f" through group {a.via_group}" if a.via_group else "")
        for a in assigned
    ]
    whom = (
        f"assigned to {counted(len(who), 'user')}: {some_of(who)}"
        if who
        else "assigned to nobody who holds it now"
    )
    return Hit(
        subject=f"{view.name}:{entitlement.entitlement_id}:unused",
        system=view.name,
        person_id=one_person(a.person_id for a in assigned),
        message=(
            f"{view.name} permission set {name}{' (privileged)' if privileged else ''} in "
            f"account {account_name} ({account_id}) {idle}; {whom}."
        ),
        severity=Severity.HIGH if privileged else None,
        evidence=UnusedPermissionSetEvidence(
            permission_set=name,
            permission_set_arn=ps_arn,
            aws_account_id=account_id,
            aws_account_name=account_name,
            role_arn=role.native_id,
            role_last_used=last,
            role_created=role.created_at,
            threshold_days=threshold,
            privileged=privileged,
            assigned=assigned,
        ),
    )


def account_name_of(settings: Mapping[str, Any], account_id: str) -> str:
    """The account's name in Organizations (``settings["organization"]``); its id when the
    snapshot does not say."""
    organization = settings.get("organization")
    accounts = organization.get("accounts") if isinstance(organization, Mapping) else None
    entry = accounts.get(account_id) if isinstance(accounts, Mapping) else None
    name = entry.get("name") if isinstance(entry, Mapping) else None
    return name if isinstance(name, str) and name else account_id
