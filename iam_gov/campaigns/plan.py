"""The remediation plan of a closed campaign: the revocations, as actions for the
deprovisioning executor (``remediation-plan.json``).

A grant held directly is removed as such. A grant held only through groups cannot be removed
on its own: the plan removes the account from each group it comes through (resolved to the
group's entitlement id in the snapshot the campaign was launched from), and says so in the
action's reason, since that also removes everything else the group gives. Actions are
deduplicated: one group membership revoked for several items is one action naming them all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Connection, select

from iam_gov.campaigns.definition import CampaignError
from iam_gov.errors import InputError
from iam_gov.model import Action, ActionKind, UTCDateTime
from iam_gov.store.schema import campaign_items, campaigns, entitlements
from iam_gov.textsafe import printable
from iam_gov.yamlfile import MB, TooLarge, read_limited, size_limit

PLAN_VERSION: Final = 1
PLAN_FILE = "remediation-plan.json"
MAX_PLAN_BYTES = 64 * MB
"""Default size limit of a saved plan (a remediation plan or a deprovisioning plan)."""
MAX_PLAN_ENV = "IAM_GOV_MAX_PLAN_MB"
"""Environment variable that sets another limit for plan files, in MB."""
_ITEMS_PER_REASON = 10


class PlanCampaign(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    name: str
    closed_at: UTCDateTime | None
    closed_by: str | None


class RemediationPlan(BaseModel):
    """What to remove because reviewers (or the no-response rule) revoked it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = PLAN_VERSION
    campaign: PlanCampaign
    generated_at: UTCDateTime
    actions: list[Action]
    notes: list[str] = []
    """Revocations the plan could not turn into an action (to do by hand), in words."""

    def to_json(self) -> str:
        """The file's text: ASCII only (every other character escaped), so that no control or
        bidi character reaches a terminal, and the ids stay exact for the executor."""
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=True, indent=2) + "\n"


def read_plan_bytes(path: Path, what: str) -> bytes:
    """A plan file's bytes; one line naming the file and the limit when it is larger than
    ``IAM_GOV_MAX_PLAN_MB`` (checked before it is read, so before it is parsed)."""
    try:
        return read_limited(path, size_limit(MAX_PLAN_ENV, MAX_PLAN_BYTES), MAX_PLAN_ENV)
    except TooLarge as exc:
        raise InputError(f"{path}: {exc}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror}") from None


def load_plan(path: Path, data: bytes | None = None) -> RemediationPlan:
    """A plan written by ``close``/``export`` (``data``: its bytes, when already read); an
    InputError naming the file when it is not."""
    if data is None:
        data = read_plan_bytes(path, "the remediation plan")
    try:
        return RemediationPlan.model_validate_json(data)
    except ValidationError as exc:
        problems = [
            f"{path}: {'.'.join(str(p) for p in error['loc']) or 'plan'}: {error['msg']}"
            for error in exc.errors()
        ]
        raise InputError(problems) from None


@dataclass
class _Pending:
    system: str
    account_id: str
    entitlement_id: str
    group: str | None
    items: list[str] = field(default_factory=list)


def build_plan(conn: Connection, campaign_id: int, *, generated_at: datetime) -> RemediationPlan:
    """The plan from the campaign's revoked items, in the caller's transaction."""
    row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).one_or_none()
    if row is None:
        raise CampaignError(f"there is no campaign {campaign_id} (iam-gov campaign list)")
    c = campaign_items.c
    revoked = conn.execute(
        select(
            c.item_id,
            c.system,
            c.account_id,
            c.account_login,
            c.person_name,
            c.entitlement_id,
            c.entitlement_name,
            c.via_ids,
            c.direct,
            c.reviewer,
            c.decided_by,
            c.acting_for,
        )
        .where(c.campaign_id == campaign_id, c.decision == "revoke")
        .order_by(c.item_id)
    ).all()
    groups = _resolve_groups(conn, _snapshot_ids(row.snapshot_ids), revoked)
    planned: dict[tuple[str, str, str], _Pending] = {}
    notes: list[str] = []
    for item in revoked:
        what = (
            f"item {item.item_id} ({printable(item.person_name or item.account_login)}: "
            f"{printable(item.entitlement_name)}) revoked by {printable(item.decided_by)}"
            + (f" for {printable(item.acting_for)}" if item.acting_for else "")
            + f", reviewer {printable(item.reviewer)}"
        )
        tokens = _via(item.via_ids)
        if item.direct:
            key = (item.system, item.account_id, item.entitlement_id)
            planned.setdefault(key, _Pending(*key, group=None)).items.append(what)
        for token in tokens:
            found = groups.get((item.system, token))
            if found is None:
                notes.append(
                    f"{what}: it comes through group id '{printable(token)}', which is not in the "
                    f"{printable(item.system)} snapshot the campaign was launched from; "
                    "remove it by hand"
                )
                continue
            group_id, group_name = found
            key = (item.system, item.account_id, group_id)
            pending = planned.setdefault(key, _Pending(*key, group=group_name))
            pending.items.append(what)
        if not item.direct and not tokens:
            notes.append(f"{what}: neither held directly nor through a group; check it by hand")
    title = f"access review '{printable(row.name)}' (campaign {campaign_id})"
    actions = [
        Action(
            kind=ActionKind.REMOVE_GRANT,
            system=p.system,
            account_id=p.account_id,
            entitlement_id=p.entitlement_id,
            reason=_reason(title, p),
        )
        for p in sorted(planned.values(), key=lambda p: (p.system, p.account_id, p.entitlement_id))
    ]
    return RemediationPlan(
        campaign=PlanCampaign(
            id=campaign_id, name=row.name, closed_at=row.closed_at, closed_by=row.closed_by
        ),
        generated_at=generated_at,
        actions=actions,
        notes=notes,
    )


def _reason(title: str, pending: _Pending) -> str:
    shown = "; ".join(pending.items[:_ITEMS_PER_REASON])
    more = len(pending.items) - _ITEMS_PER_REASON
    if more > 0:
        shown += f"; and {more} more item{'s' if more > 1 else ''}"
    text = f"{title}: {shown}"
    if pending.group is not None:
        text += (
            f". Held through group '{printable(pending.group)}': this removes the account from "
            "that group, and with it everything else the group gives"
        )
    return text


def _via(value: str) -> list[str]:
    """The group ids an item comes through (``via_ids``: one per line)."""
    return [token for token in (value or "").split("\n") if token]


def _snapshot_ids(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        return {}
    return {str(k): int(v) for k, v in value.items() if isinstance(v, int)}


def _resolve_groups(
    conn: Connection, snapshot_ids: dict[str, int], items: Iterable[Any]
) -> dict[tuple[str, str], tuple[str, str]]:
    """(system, group id in ``via_ids``) -> (the group's entitlement id, its name), from the
    snapshot the campaign was launched from."""
    wanted: dict[str, set[str]] = {}
    for item in items:
        via = _via(item.via_ids)
        if via:
            wanted.setdefault(item.system, set()).update(via)
    found: dict[tuple[str, str], tuple[str, str]] = {}
    e = entitlements.c
    for system, tokens in wanted.items():
        snapshot_id = snapshot_ids.get(system)
        if snapshot_id is None:
            continue
        ordered = sorted(tokens)
        for start in range(0, len(ordered), 400):
            chunk = ordered[start : start + 400]
            query = select(e.entitlement_id, e.name).where(
                e.snapshot_id == snapshot_id, e.entitlement_id.in_(chunk)
            )
            for entitlement_id, name in conn.execute(query):
                found[(system, entitlement_id)] = (entitlement_id, name)
    return found
