"""Separation of duties: one person holding what the policy says must stay apart."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from iam_gov.engine.state import EvaluationState, SystemView
from iam_gov.model import AccountStatus, Entitlement, Severity
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    pass


class SodEvidence(Evidence):
    conflict: str
    sides: list[list[str]]
    """For each side the person holds: ``system: entitlement`` entries."""
    where: str


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
    The entry's severity is the finding's.

    ```yaml
    separation_of_duties:
      - name: deploy-and-approve
        sides:
          - {aws: ["group:Deployers"]}
          - {okta: ["app:Change Approvals"]}
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
            listed = " and ".join(", ".join(side) for side in matched_sides)
            yield Hit(
                subject=f"sod:{sod.name}:{person_id}",
                system=None,
                person_id=person_id,
                severity=sod.severity,
                message=(
                    f"{person.name} ({person_id}) holds both sides of separation of duties "
                    f"'{sod.name}': {listed}."
                ),
                evidence=SodEvidence(conflict=sod.name, sides=matched_sides, where=located.where),
            )


def _named(state: EvaluationState, view: SystemView, patterns: Iterable[str]) -> frozenset[str]:
    return frozenset().union(*(state.matching_ids(view, p) for p in patterns))
