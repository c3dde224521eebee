"""Access that belonged to someone's previous role, still held after they moved."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pydantic import Field

from iam_gov.engine.state import EvaluationState
from iam_gov.model import AccountKind, AccountStatus, Severity
from iam_gov.rules._common import days
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    grace_days: int = Field(
        30, ge=0, description="Days after a move during which the old role's access may stay."
    )


class MoverEvidence(Evidence):
    account_login: str
    entitlement: str
    privileged: bool
    previous_roles: list[str]
    current_roles: list[str]
    changed_at: datetime
    days_since_change: int
    changes: dict[str, list[str | None]]
    """field -> [before, after]"""


@rule(
    id="mover-access",
    title="Previous role's access kept after a move",
    severity=Severity.MEDIUM,
    control="Privileges are revoked in a timely manner when a job changes.",
    soc2=("CC6.2", "CC6.3"),
    iso27001=("A.5.18",),
    remediation=(
        "Remove what the previous role brought; if the person still needs it, grant it again "
        "through their new role or an exception with an approver."
    ),
)
def mover_access(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """HR changed a person's department, title or another field roles match on, and an
    account of theirs still holds an entitlement only their previous role explains, more
    than ``grace_days`` after the change. High severity for privileged entitlements.

    A move is what changed between two HR snapshots, dated by the snapshot that first shows
    it, or the previous department, title or manager the HR export itself reports with the
    change's effective date (Workday's previous / prior fields, BambooHR's job history):
    then it is found from a single export and dated by HR, so a move first seen in the
    newest export is reported in that run once the grace period has passed since it took
    effect. A move both show is one move (``state.moves`` holds one per person).

    ```yaml
    rules:
      mover-access: {grace_days: 14}
    ```
    """
    for person_id, move in state.moves.items():
        person = state.people.get(person_id)
        if person is None:
            continue
        previous = state.previous_roles(person)
        if not previous:
            continue
        changed = ", ".join(
            f"{field.removeprefix('attributes.')} {old or '—'} → {new or '—'}"
            for field, (old, new) in sorted(move.changes.items())
        )
        for view, account, link, _person, left in state.entries_of(person):
            if (
                left
                or link.kind is not AccountKind.HUMAN
                or account.status is not AccountStatus.ACTIVE
            ):
                continue
            since = (view.as_of - move.changed_at).days
            if since <= params.grace_days:
                continue
            for grant in view.grants.get(account.native_id, ()):
                if grant.via is not None:
                    continue
                explanation = state.explain(view, account, link, grant)
                if explanation.kind != "previous-role":
                    continue
                entitlement = view.entitlements.get(grant.entitlement_id)
                ref = entitlement.ref if entitlement else grant.entitlement_id
                privileged = entitlement is not None and state.is_privileged(view, entitlement)
                yield Hit(
                    subject=f"{view.name}:{account.native_id}:{grant.entitlement_id}:moved",
                    system=view.name,
                    person_id=person.employee_id,
                    severity=Severity.HIGH if privileged else None,
                    message=(
                        f"{person.name} changed role on {move.changed_at.date()} ({changed}), "
                        f"{days(since)} before this {view.name} data, but their {view.name} "
                        f"account {account.login} still holds {ref}, which came with their "
                        f"{explanation.detail}."
                    ),
                    evidence=MoverEvidence(
                        account_login=account.login,
                        entitlement=ref,
                        privileged=privileged,
                        previous_roles=list(previous),
                        current_roles=list(state.roles_of(person)),
                        changed_at=move.changed_at,
                        days_since_change=since,
                        changes={k: [old, new] for k, (old, new) in move.changes.items()},
                    ),
                )
