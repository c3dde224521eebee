"""Why a person has each grant they hold, in every system, and what the rules say about it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from iam_gov.aws_policy.analysis import analysis_for, is_aws_view
from iam_gov.correlate import AccountLink, normalise_name
from iam_gov.engine.state import EvaluationState, Explanation, SystemView
from iam_gov.errors import IamGovError
from iam_gov.model import Account, Entitlement, Finding, Person
from iam_gov.rules.aws_unused_permission_set import (
    PERMISSION_SET_KIND,
    TIED_ATTRIBUTE,
    account_name_of,
)
from iam_gov.store.affected import affects_person, listed_principals
from iam_gov.store.people import Move


@dataclass(frozen=True)
class AwsAccess:
    """What an AWS permission set held lets its holder do: as what, in which account,
    through which group."""

    permission_set: str
    account_id: str
    account_name: str
    acts_as: str
    """Its managed policies' names (``AdministratorAccess``), else the permission set's."""
    via_group: str | None
    admin: bool
    """Admin-equivalent: by the analysis of its ``AWSReservedSSO_*`` role when the role is
    in the data, else by the permission set's ``privileged`` flag."""
    role_arn: str | None

    @property
    def sentence(self) -> str:
        route = (
            f"via group {self.via_group} → permission set {self.permission_set}"
            if self.via_group is not None
            else f"via permission set {self.permission_set}, assigned directly"
        )
        text = f"can act as {self.acts_as} in account {self.account_name} ({self.account_id}) "
        return text + route + (" (admin-equivalent)" if self.admin else "")


@dataclass(frozen=True)
class GrantLine:
    entitlement: str
    entitlement_id: str
    via: str | None
    privileged: bool
    explanation: Explanation
    findings: list[Finding] = field(default_factory=list)
    aws_access: AwsAccess | None = None
    """For an AWS permission set: what it lets the person do, and where."""


@dataclass(frozen=True)
class AccountLine:
    system: str
    account: Account
    link: AccountLink
    last_activity: datetime | None
    grants: list[GrantLine]
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class PersonExplanation:
    person: Person
    roles: list[tuple[str, str]]
    """(role, where it is defined)."""
    previous_roles: list[str]
    move: Move | None
    accounts: list[AccountLine]
    other_findings: list[Finding]
    """Findings about the person that are not about one of their accounts (e.g. SoD)."""
    incomplete: dict[str, list[str]] = field(default_factory=dict)
    """System -> what is unknown in its data (consequences, else problems): what this
    explanation shows of it may be missing access, so it says so at the top and on the
    system's accounts."""


def find_person(people: Mapping[str, Person], query: str) -> Person:
    """By employee id, e-mail, or a name only one person has (``people`` by employee id)."""
    wanted = query.strip()
    if wanted in people:
        return people[wanted]
    by_email = [p for p in people.values() if p.email and p.email.casefold() == wanted.casefold()]
    if len(by_email) == 1:
        return by_email[0]
    key = normalise_name(wanted)
    by_name = [p for p in people.values() if normalise_name(p.name) == key]
    if len(by_name) == 1:
        return by_name[0]
    if by_name:
        ids = ", ".join(sorted(p.employee_id for p in by_name))
        raise IamGovError(f"{query!r} names several people ({ids}): give an employee id")
    raise IamGovError(f"nobody in HR is {query!r} (try an employee id or an e-mail address)")


def explain_person(
    state: EvaluationState, person: Person, findings: list[Finding]
) -> PersonExplanation:
    mine = [f for f in findings if affects_person(f, person.employee_id)]
    # a finding about a shared cause is about each account it lists, whatever its subject
    listed = {
        f.finding_id: {p.account_id for p in principals}
        for f in mine
        if (principals := listed_principals(f.evidence))
    }
    used: set[str] = set()
    lines = []
    tied: dict[str, dict[str, Account]] = {}
    for view, account, link in state.accounts():
        if link.person_id != person.employee_id:
            continue
        prefix = f"{view.name}:{account.native_id}"
        grants = []
        for grant in sorted(
            view.grants.get(account.native_id, ()), key=lambda g: (g.via or "", g.entitlement_id)
        ):
            entitlement = view.entitlements.get(grant.entitlement_id)
            via = view.entitlements.get(grant.via) if grant.via else None
            about = [
                f
                for f in mine
                if f.finding_id not in listed
                and f.subject.startswith(prefix)
                and grant.entitlement_id in f.subject
            ]
            used.update(f.finding_id for f in about)
            grants.append(
                GrantLine(
                    entitlement=entitlement.ref if entitlement else grant.entitlement_id,
                    entitlement_id=grant.entitlement_id,
                    via=via.ref if via else grant.via,
                    privileged=entitlement is not None and state.is_privileged(view, entitlement),
                    explanation=state.explain(view, account, link, grant),
                    findings=about,
                    aws_access=(
                        aws_access(state, view, entitlement, grant.via, tied)
                        if entitlement is not None and entitlement.kind == PERMISSION_SET_KIND
                        else None
                    ),
                )
            )
        account_findings = [
            f
            for f in mine
            if (
                f.system == view.name and account.native_id in listed[f.finding_id]
                if f.finding_id in listed
                else f.subject.startswith(prefix) and f.finding_id not in used
            )
        ]
        used.update(f.finding_id for f in account_findings)
        seen = [account.last_login_at] if account.last_login_at else []
        seen += [
            c.last_used_at for c in view.credentials.get(account.native_id, ()) if c.last_used_at
        ]
        lines.append(
            AccountLine(
                system=view.name,
                account=account,
                link=link,
                last_activity=max(seen, default=None),
                grants=grants,
                findings=account_findings,
            )
        )
    roles = [(name, state.policy.roles[name].where) for name in state.roles_of(person)]
    return PersonExplanation(
        person=person,
        roles=roles,
        previous_roles=list(state.previous_roles(person)),
        move=state.moves.get(person.employee_id),
        accounts=lines,
        other_findings=[f for f in mine if f.finding_id not in used],
        incomplete=incomplete_systems(state),
    )


def aws_access(
    state: EvaluationState,
    view: SystemView,
    entitlement: Entitlement,
    via: str | None,
    tied: dict[str, dict[str, Account]],
) -> AwsAccess:
    """What a permission set held in an account (``<ps arn>@<account id>``) lets its holder
    do. ``tied``: each view's ``AWSReservedSSO_*`` roles by the entitlement they are tied to,
    filled on first use."""
    ps_arn, _, account_id = entitlement.entitlement_id.rpartition("@")
    roles = tied.get(view.name)
    if roles is None:
        roles = tied[view.name] = {
            key: a for a in view.accounts.values() if (key := a.attributes.get(TIED_ATTRIBUTE))
        }
    role = roles.get(entitlement.entitlement_id)
    if role is not None and is_aws_view(view):
        admin = analysis_for(view).is_admin_equivalent(role.native_id) is not None
    else:
        admin = state.is_privileged(view, entitlement)
    document = view.documents.get(ps_arn)
    spec = document.document if document is not None else {}
    name = str(spec.get("Name") or (document.name if document else entitlement.name))
    policies = [str(p).rsplit("/", 1)[-1] for p in spec.get("ManagedPolicies") or ()]
    policies += [
        str(p.get("Name")) for p in spec.get("CustomerManagedPolicies") or () if isinstance(p, dict)
    ]
    if spec.get("InlinePolicy"):
        policies.append("an inline policy")
    group = view.entitlements.get(via) if via is not None else None
    return AwsAccess(
        permission_set=name,
        account_id=account_id,
        account_name=account_name_of(view.settings, account_id),
        acts_as=" + ".join(policies) or name,
        via_group=(group.name if group is not None else via) if via is not None else None,
        admin=admin,
        role_arn=role.native_id if role is not None else None,
    )


INCOMPLETE_SHOWN = 3


def incomplete_systems(state: EvaluationState) -> dict[str, list[str]]:
    """Each system (HR included) whose data is incomplete, with what is unknown: the
    consequences its connector stated, else its first problems."""
    infos = [state.hr, *(view.info for view in state.systems.values())]
    found: dict[str, list[str]] = {}
    for info in infos:
        if info.complete:
            continue
        said = list(dict.fromkeys(e.consequence for e in info.errors if e.consequence))
        found[info.system] = (said or [str(e) for e in info.errors])[:INCOMPLETE_SHOWN]
    return found


def shared_cause(finding: Finding) -> str | None:
    """``one of 25 principals; cause: arn:aws:iam::1:group/Admins``: what a finding about a
    shared cause that lists more accounts than the person's is; None for any other."""
    principals = listed_principals(finding.evidence)
    if len(principals) < 2:
        return None
    cause = finding.evidence.get("cause")
    if not isinstance(cause, str):
        cause = finding.subject.removeprefix(f"{finding.system}:")
    return f"one of {len(principals)} principals; cause: {cause}"
