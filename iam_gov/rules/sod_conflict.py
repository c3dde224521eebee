"""Separation of duties: one person holding what the policy says must stay apart."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date

from iam_gov.engine.state import EvaluationState, SystemView
from iam_gov.model import AccountStatus, Entitlement, Person, Severity
from iam_gov.policy import exception_valid
from iam_gov.policy.model import SodException
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    pass


class SodEvidence(Evidence):
    conflict: str
    sides: list[list[str]]
    """For each side the person holds: ``system: entitlement`` entries."""
    where: str
    expired_exception: date | None = None
    """When an exception for this person covered the conflict until this day."""


@rule(
    id="sod-conflict",
    title="Separation-of-duties conflict",
    severity=Severity.HIGH,
    control="Incompatible duties are separated so that no one person can both do and approve.",
    soc2=("CC6.3", "CC5.1"),
    iso27001=("A.5.3", "A.5.15"),
    remediation=(
        "Remove one side of the conflict from the person, or record a compensating control "
        "and an approved exception."
    ),
)
def sod_conflict(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """For each ``separation_of_duties`` entry of the policy, a current person who holds
    something from two or more of its sides, in any systems, directly or through groups.
    The entry's severity is the finding's. A person the entry's exceptions approve, until
    the expiry date, is not reported; after it, the finding says the exception expired.

    ```yaml
    separation_of_duties:
      - name: deploy-and-approve
        sides:
          - {aws: ["group:Deployers"]}
          - {okta: ["app:Change Approvals"]}
        exceptions:
          - {person: E1042, approver: cto@example.com, expires: 2027-03-31,
             reason: "On-call lead; every approval is reviewed weekly by the CAB chair"}
    ```
    """
    if not state.policy.separation_of_duties:
        return
    # Each side, worked out once: the entitlement ids it names in each system. Only grants
    # of one of these matter, and most grants are none of them.
    sides = {
        id(side): {
            system: _named(state, state.systems[system], patterns)
            for system, patterns in side.items()
            if system in state.systems
        }
        for located in state.policy.separation_of_duties
        for side in located.item.sides
    }
    relevant: dict[str, set[str]] = defaultdict(set)
    for by_system in sides.values():
        for system, ids in by_system.items():
            relevant[system].update(ids)
    held: dict[str, list[tuple[str, Entitlement]]] = defaultdict(list)
    for view, account, _link, person, left in state.entries():
        wanted = relevant.get(view.name)
        if not wanted or person is None or left or account.status is not AccountStatus.ACTIVE:
            continue
        for grant in view.grants.get(account.native_id, ()):
            if grant.entitlement_id in wanted:
                held[person.employee_id].append(
                    (view.name, view.entitlements[grant.entitlement_id])
                )
    for located in state.policy.separation_of_duties:
        sod = located.item
        for person_id, grants in sorted(held.items()):
            matched_sides = []
            for side in sod.sides:
                named = sides[id(side)]
                matched = sorted(
                    {
                        f"{system}: {entitlement.ref}"
                        for system, entitlement in grants
                        if entitlement.entitlement_id in named.get(system, ())
                    }
                )
                if matched:
                    matched_sides.append(matched)
            if len(matched_sides) < 2:
                continue
            person = state.people[person_id]
            on = max(state.systems[system].on for system, _ in grants)
            approvals = _exceptions_of(sod.exceptions, person)
            if any(exception_valid(e, on) for e in approvals):
                continue
            expired = max((e.expires for e in approvals), default=None)
            listed = " and ".join(", ".join(side) for side in matched_sides)
            message = (
                f"{person.name} ({person_id}) holds both sides of separation of duties "
                f"'{sod.name}': {listed}"
            )
            if expired is not None:
                message += f"; the exception that allowed it expired on {expired}"
            yield Hit(
                subject=f"sod:{sod.name}:{person_id}",
                system=None,
                person_id=person_id,
                severity=sod.severity,
                message=message + ".",
                evidence=SodEvidence(
                    conflict=sod.name,
                    sides=matched_sides,
                    where=located.where,
                    expired_exception=expired,
                ),
            )


def _exceptions_of(exceptions: Iterable[SodException], person: Person) -> list[SodException]:
    email = person.email.casefold() if person.email else None
    return [
        e
        for e in exceptions
        if e.person == person.employee_id or (email is not None and e.person.casefold() == email)
    ]


def _named(state: EvaluationState, view: SystemView, patterns: Iterable[str]) -> frozenset[str]:
    return frozenset().union(*(state.matching_ids(view, p) for p in patterns))
