"""Access a person's role brings that they do not have (yet)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from pydantic import Field

from iam_gov.engine.state import EvaluationState
from iam_gov.model import AccountKind, AccountStatus, EmploymentStatus, Person, Severity
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule

_WILDCARDS = frozenset("*?[")


class Params(RuleParams):
    grace_days: int = Field(
        7, ge=0, description="Days after someone starts before their access is expected."
    )


class MissingEvidence(Evidence):
    missing: list[str]
    roles: list[str]
    accounts: list[str]


@rule(
    id="missing-birthright",
    title="Birthright access missing",
    severity=Severity.LOW,
    control="Access is granted through roles, consistently, when someone joins or moves.",
    soc2=("CC6.2",),
    iso27001=("A.5.18",),
    remediation=(
        "Provision what the role brings (or fix the role if people in it do not need it); "
        "a gap is also a sign that access is being granted by hand instead of by role."
    ),
)
def missing_birthright(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """For each active person and each system whose data is complete: entitlements their
    roles bring there (exact names; a wildcard cannot be missing) that none of their accounts
    holds, or no account at all. People on leave, and those who started less than
    ``grace_days`` ago, are not judged. Incomplete data never counts as missing.
    """
    accounts_of: dict[str, dict[str, list[str]]] = {}
    for view, account, link, _person, _left in state.entries():
        if (
            link.person_id is not None
            and link.kind is AccountKind.HUMAN
            and account.status is AccountStatus.ACTIVE
        ):
            accounts_of.setdefault(view.name, {}).setdefault(link.person_id, []).append(
                account.native_id
            )
    judged = [
        (person, roles)
        for person in state.people.values()
        if person.status is EmploymentStatus.ACTIVE and (roles := state.roles_of(person))
    ]
    # Who is judged depends on the day of a system's data only: worked out once per day.
    judged_on: dict[date, list[tuple[Person, tuple[str, ...]]]] = {}
    for view in state.systems.values():
        if not view.complete:
            continue
        name, on = view.name, view.on
        present = judged_on.get(on)
        if present is None:
            present = judged_on[on] = [
                (person, roles)
                for person, roles in judged
                if not state.has_left(person, on)
                and not (person.start_date and (on - person.start_date).days < params.grace_days)
            ]
        grants_of = view.grants
        accounts_here = accounts_of.get(name, {})
        # Many people share a set of roles: what they bring is listed once per set, with the
        # entitlements that would satisfy each.
        expected_of: dict[tuple[str, ...], list[tuple[str, frozenset[str]]]] = {}
        for person, roles in present:
            expected = expected_of.get(roles)
            if expected is None:
                expected = expected_of[roles] = [
                    (p, state.matching_ids(view, p)) for p in _exact_patterns(state, roles, name)
                ]
            if not expected:
                continue
            mine = accounts_here.get(person.employee_id, [])
            held = {g[2] for a in mine for g in grants_of.get(a, ())}  # entitlement ids
            missing = sorted({p for p, ids in expected if ids.isdisjoint(held)})
            if not missing:
                continue
            logins = [view.accounts[a].login for a in mine]
            if not mine:
                message = (
                    f"{person.name} ({person.employee_id}) has no {view.name} account, though "
                    f"their role brings {', '.join(missing)} there"
                )
            else:
                message = (
                    f"{person.name}'s {view.name} account {', '.join(logins)} lacks "
                    f"{', '.join(missing)}, which their role brings"
                )
            yield Hit(
                subject=f"{view.name}:{person.employee_id}:missing",
                system=view.name,
                person_id=person.employee_id,
                message=message + ".",
                evidence=MissingEvidence(missing=missing, roles=list(roles), accounts=logins),
            )


def _exact_patterns(state: EvaluationState, roles: tuple[str, ...], system: str) -> list[str]:
    """What the roles bring in ``system``, by exact name (a wildcard cannot be missing)."""
    return [p for p, _role in state.policy.expected(roles, system) if not _WILDCARDS & set(p)]
