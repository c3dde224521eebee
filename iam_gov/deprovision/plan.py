"""A deprovisioning plan: the actions, in order, per system and account, and the state they
were worked out from. Saved with ``--plan-out``, applied with ``--apply --plan FILE``.

A plan is refused at apply time when the systems it was made from have changed since for
the accounts it touches (``basis``): a plan is only ever applied to the world it describes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from iam_gov.campaigns.plan import read_plan_bytes
from iam_gov.errors import InputError
from iam_gov.files import write_atomically
from iam_gov.model import Action, ActionKind, UTCDateTime

PLAN_VERSION: Final = 1

Phase = Literal["sign-in", "credentials", "memberships"]
PHASES: tuple[Phase, ...] = ("sign-in", "credentials", "memberships")
"""The order of a run: first nobody can sign in any more (identity provider, directory) and
what they are signed in with ends; then credentials that outlive that (access keys, VPN
certificates, WireGuard peers); last the group memberships of the now disabled accounts."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanPerson(_Model):
    employee_id: str
    name: str
    email: str | None
    status: str
    end_date: date | None
    left: bool
    """HR shows them gone (terminated, last day behind us) when the plan was made."""


class PlanBasis(_Model):
    """What the plan knew of one system: its snapshot, and a digest of the state of the
    accounts the plan touches in it (status, active credentials, direct grants)."""

    system: str
    snapshot_id: int
    collected_at: UTCDateTime
    complete: bool
    state: str


class Step(_Model):
    step_id: str
    seq: int
    phase: Phase
    person_id: str | None
    account_login: str
    action: Action
    entitlement_name: str | None = None
    """The name of the entitlement a ``remove-grant`` takes away, as the system calls it."""
    skip: str | None = None
    """Why this step will not be carried out (a protected account, a system whose data is
    too old or incomplete); None: it will be."""


class Plan(_Model):
    version: Literal[1] = PLAN_VERSION
    kind: Literal["deprovision", "remediation"]
    made_at: UTCDateTime
    made_by: str
    trigger: str
    reason: str
    campaign_id: int | None = None
    people: list[PlanPerson] = []
    basis: list[PlanBasis] = []
    steps: list[Step] = []
    problems: list[str] = []
    """What keeps the plan from being whole, in words (each also a skipped step or a refusal)."""

    @property
    def plan_id(self) -> str:
        """SHA-256 of the plan's canonical JSON: what a run and its resumption refer to."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=True)
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()

    def to_json(self) -> str:
        """ASCII only (every other character escaped): no control or bidi character reaches
        a terminal or an editor from a saved plan, and the ids stay exact."""
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=True, indent=2) + "\n"

    def active_steps(self) -> list[Step]:
        return [s for s in self.steps if s.skip is None]


def step_id(action: Action) -> str:
    """The same action always has the same id, in any plan: what ``--resume`` matches on."""
    key = "\x1f".join(
        (
            action.kind.value,
            action.system,
            action.account_id,
            action.entitlement_id or "",
            action.credential_id or "",
        )
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def phase_of(kind: ActionKind, connector_type: str) -> Phase:
    if kind is ActionKind.REMOVE_GRANT:
        return "memberships"
    if kind is ActionKind.DEACTIVATE_CREDENTIAL or connector_type in {
        "aws",
        "openvpn",
        "wireguard",
    }:
        return "credentials"
    return "sign-in"


def save_plan(plan: Plan, path: Path) -> None:
    """Written whole or not at all (a temporary file beside it, then renamed)."""
    write_atomically(path, plan.to_json(), "plan")


def load_plan_file(path: Path, data: bytes | None = None) -> Plan:
    """A plan written by ``--plan-out`` (``data``: its bytes, when already read); a closed
    campaign's ``remediation-plan.json`` is turned into a plan by
    ``planner.plan_from_actions`` (see the CLI). An ``InputError`` naming the file and field
    otherwise; a file over ``IAM_GOV_MAX_PLAN_MB`` is refused before it is read."""
    if data is None:
        data = read_plan_bytes(path, "the plan")
    try:
        return Plan.model_validate_json(data)
    except ValidationError as exc:
        raise InputError(
            [
                f"{path}: {'.'.join(str(p) for p in e['loc']) or 'plan'}: {e['msg']}"
                for e in exc.errors()[:20]
            ]
        ) from None
