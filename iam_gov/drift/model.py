"""The drift report, as computed and as published (``iam-gov drift --format json``).

Every string that came from a directory or an HR file is kept as it came: each renderer
neutralises it for its own format (``iam_gov.textsafe``)."""

from __future__ import annotations

import json
from datetime import date
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from iam_gov.exitcodes import (  # the table every command shares
    EXIT_DELIVERY,
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_STALE,
)
from iam_gov.model import UTCDateTime

REPORT_VERSION: Final = 1

__all__ = ["EXIT_DELIVERY", "EXIT_FINDINGS", "EXIT_INCOMPLETE", "EXIT_OK", "EXIT_STALE"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Baseline(_Model):
    """What the report compares with."""

    kind: Literal["previous", "date", "named", "none"]
    """``previous``: the run before; ``date``: the latest snapshots on or before a day;
    ``named``: pinned with ``iam-gov baseline pin``; ``none``: no earlier data at all."""
    name: str | None = None
    at: UTCDateTime | None = None
    """When the baseline's data was collected (the newest of its snapshots)."""
    snapshot_ids: dict[str, int] = Field(default_factory=dict)


class SystemState(_Model):
    system: str
    snapshot_id: int | None
    collected_at: UTCDateTime | None
    complete: bool
    stale: bool
    """The last collect of this system failed: its data is the snapshot of ``collected_at``."""
    stale_reason: str | None = None
    stale_since: UTCDateTime | None = None
    age_hours: float | None = None
    compared: bool = True
    """False when this system's changes are not reported (stale, incomplete or no baseline):
    what it did not show is not called removed."""
    not_compared_reason: str | None = None
    """Why its changes are not reported, in words (its collect failed, its latest or the
    baseline's snapshot is incomplete, no baseline…); None when ``compared``."""


class AccountChange(_Model):
    system: str
    account_id: str
    login: str
    change: Literal["created", "removed"]
    status: str
    kind: str
    person_id: str | None = None
    person_name: str | None = None


class GrantChange(_Model):
    system: str
    account_id: str
    login: str
    entitlement_id: str
    entitlement_name: str
    privileged: bool
    change: Literal["added", "removed"]
    via: str | None = None
    person_id: str | None = None
    person_name: str | None = None


class FindingChange(_Model):
    finding_id: str
    rule_id: str
    severity: str
    system: str | None
    subject: str
    message: str
    change: Literal["new", "resolved"]
    first_seen: UTCDateTime | None = None
    resolved_at: UTCDateTime | None = None
    person_id: str | None = None


class LeaverStillActive(_Model):
    employee_id: str
    name: str
    end_date: date | None
    days_since: int | None
    """Days since the last working day; None when HR gives no date."""
    accounts: list[str]
    """``system:login`` of each account still active."""


class ExpiringException(_Model):
    system: str
    entitlement: str
    person: str | None
    account: str | None
    approver: str
    expires: date
    days_left: int
    where: str


class OverdueCampaign(_Model):
    campaign_id: int
    name: str
    due_on: date
    days_overdue: int
    pending_items: int
    pending_reviewers: list[str]


class Point(_Model):
    """One moment of a chart: when, and a value per series (e.g. per severity)."""

    at: UTCDateTime
    values: dict[str, int]


class Charts(_Model):
    findings_by_severity: list[Point] = Field(default_factory=list)
    """Open findings at each evaluation, per severity."""
    findings_by_system: list[Point] = Field(default_factory=list)
    """Open findings at each evaluation, per system."""
    accounts_per_system: list[Point] = Field(default_factory=list)
    """Accounts in each system's snapshots over time."""
    leaver_sla: list[Point] = Field(default_factory=list)
    """Leavers by month of termination: ``within`` the SLA, ``over`` it, ``still active``."""


class Summary(_Model):
    accounts_created: int = 0
    accounts_removed: int = 0
    grants_added: int = 0
    grants_removed: int = 0
    privileged_added: int = 0
    privileged_removed: int = 0
    findings_new: int = 0
    findings_resolved: int = 0
    findings_open: int = 0
    new_at_or_above_threshold: int = 0
    leavers_still_active: int = 0
    exceptions_expiring: int = 0
    campaigns_overdue: int = 0
    stale_systems: int = 0


class DriftReport(_Model):
    version: Literal[1] = REPORT_VERSION
    made_at: UTCDateTime
    company: str | None = None
    baseline: Baseline
    snapshot_ids: dict[str, int]
    """The snapshots the report describes (the latest of each system)."""
    fail_on: str
    """The severity at or above which a new finding makes the exit code 1."""
    exit_code: int
    failures: list[str] = Field(default_factory=list)
    """What went wrong in the run itself (a system that could not be collected…), first."""
    systems: list[SystemState] = Field(default_factory=list)
    summary: Summary = Field(default_factory=Summary)
    accounts: list[AccountChange] = Field(default_factory=list)
    grants: list[GrantChange] = Field(default_factory=list)
    findings: list[FindingChange] = Field(default_factory=list)
    leavers_still_active: list[LeaverStillActive] = Field(default_factory=list)
    exceptions_expiring: list[ExpiringException] = Field(default_factory=list)
    campaigns_overdue: list[OverdueCampaign] = Field(default_factory=list)
    charts: Charts = Field(default_factory=Charts)


def json_schema() -> str:
    """The published JSON Schema of the report (``docs/drift-report.schema.json``)."""
    schema = DriftReport.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://iam-gov.dev/schemas/drift-report-1.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
