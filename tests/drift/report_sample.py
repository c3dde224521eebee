"""A hand-built drift report for the renderers' tests: every section filled, one stale and one
incomplete system (neither compared), and removals in both that no format may show; the same
report with hostile text in every untrusted string; and an empty report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from iam_gov.drift.model import (
    AccountChange,
    Baseline,
    Charts,
    DriftReport,
    ExpiringException,
    FindingChange,
    GrantChange,
    LeaverStillActive,
    OverdueCampaign,
    Point,
    Summary,
    SystemState,
)

MADE_AT = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
BASELINE_AT = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)

HOSTILE = (
    "=cmd|' /C calc'!A0 <script>alert(1)</script><img src=x onerror=alert(2)> | `tick` "
    "[link](http://evil.example/x) ![i](http://evil.example/i.png) **bold** &amp; "
    "\x1b[2J\x07 \u202egnp.exe\u202c\r\n# injected heading\n- item"
)
"""Markup, a script, a table pipe, a formula, an ANSI escape and a bidi override at once."""

UNTRUSTED_FIELDS = frozenset(
    {
        "company",
        "name",
        "failures",
        "system",
        "stale_reason",
        "login",
        "status",
        "kind",  # an account's kind (the baseline's kind is iam-gov's own)
        "person_id",
        "person_name",
        "entitlement_name",
        "via",
        "rule_id",
        "subject",
        "message",
        "employee_id",
        "accounts",
        "entitlement",
        "person",
        "account",
        "approver",
        "where",
        "pending_reviewers",
    }
)
"""Every string of the report that came from a system, an HR file or a person."""

# What the renderers must show of the sample (removals of okta and ad are hidden).
SHOWN_ACCOUNTS = {"created": 2, "removed": 1}
SHOWN_PRIVILEGED = {"added": 1, "removed": 1}
SHOWN_OTHER = {"added": 2, "removed": 1}
SHOWN_FINDINGS = {"new": 3, "resolved": 1}
HIDDEN_LOGINS = ("okta-gone", "ad-gone", "okta-priv-gone", "ad-grant-gone")
"""Removals in systems whose changes were not compared: no format lists them."""

SEVERITY_SERIES = ("critical", "high", "medium", "low")
SYSTEM_SERIES = ("ad", "aws", "okta")
ACCOUNT_SERIES = ("ad", "aws", "hr", "okta")
EVALUATIONS = 6
SLA_MONTHS = (
    {"within": 4, "over": 1},
    {"within": 6},
    {"within": 3, "over": 2, "still active": 1},
    {"within": 2, "still active": 2},
)
SLA_BARS = sum(len(month) for month in SLA_MONTHS)
"""Bars drawn in the leaver SLA chart: one per non-zero value."""


def _at(days_before: int) -> datetime:
    return MADE_AT - timedelta(days=days_before)


def _charts() -> Charts:
    times = [_at(5 * (EVALUATIONS - 1 - i)) for i in range(EVALUATIONS)]
    return Charts(
        findings_by_severity=[
            Point(at=t, values={"critical": i % 2, "high": 3 + i, "medium": 8 - i, "low": 5})
            for i, t in enumerate(times)
        ],
        findings_by_system=[
            Point(at=t, values={"aws": 6 + i, "okta": 4, "ad": 7 - i}) for i, t in enumerate(times)
        ],
        accounts_per_system=[
            Point(at=t, values={"aws": 120 + 3 * i, "okta": 410 + i, "ad": 395 - i, "hr": 402})
            for i, t in enumerate(times)
        ],
        leaver_sla=[
            Point(at=datetime(2026, 8 + i, 1, tzinfo=UTC), values=values)
            for i, values in enumerate(SLA_MONTHS)
        ],
    )


def sample_report() -> DriftReport:
    return DriftReport(
        made_at=MADE_AT,
        company="Example Corp",
        baseline=Baseline(
            kind="previous",
            at=BASELINE_AT,
            snapshot_ids={"aws": 40, "okta": 41, "ad": 42, "hr": 43},
        ),
        snapshot_ids={"aws": 50, "okta": 41, "ad": 52, "hr": 53},
        fail_on="high",
        exit_code=5,
        failures=["okta: the collect failed: HTTP 503 Service Unavailable from the API"],
        systems=[
            SystemState(
                system="ad",
                snapshot_id=52,
                collected_at=MADE_AT - timedelta(minutes=5),
                complete=False,
                stale=False,
                age_hours=0.1,
                compared=False,
            ),
            SystemState(
                system="aws",
                snapshot_id=50,
                collected_at=MADE_AT - timedelta(minutes=4),
                complete=True,
                stale=False,
                age_hours=0.1,
            ),
            SystemState(
                system="hr",
                snapshot_id=53,
                collected_at=MADE_AT - timedelta(minutes=3),
                complete=True,
                stale=False,
                age_hours=0.1,
            ),
            SystemState(
                system="okta",
                snapshot_id=41,
                collected_at=BASELINE_AT,
                complete=True,
                stale=True,
                stale_reason="HTTP 503 Service Unavailable",
                stale_since=MADE_AT - timedelta(minutes=2),
                age_hours=24.0,
                compared=False,
            ),
        ],
        summary=Summary(
            accounts_created=2,
            accounts_removed=1,
            grants_added=3,
            grants_removed=2,
            privileged_added=1,
            privileged_removed=1,
            findings_new=3,
            findings_resolved=1,
            findings_open=21,
            new_at_or_above_threshold=2,
            leavers_still_active=2,
            exceptions_expiring=1,
            campaigns_overdue=1,
            stale_systems=1,
        ),
        accounts=[
            AccountChange(
                system="aws",
                account_id="AIDA1",
                login="jane.doe",
                change="created",
                status="active",
                kind="human",
                person_id="E100",
                person_name="Jane Doe",
            ),
            AccountChange(
                system="ad",
                account_id="S-1-5-21-1",
                login="new.hire",
                change="created",
                status="active",
                kind="human",
            ),
            AccountChange(
                system="aws",
                account_id="AIDA2",
                login="old-robot",
                change="removed",
                status="active",
                kind="service",
            ),
            AccountChange(
                system="okta",
                account_id="00u1",
                login="okta-gone",
                change="removed",
                status="active",
                kind="human",
            ),
            AccountChange(
                system="ad",
                account_id="S-1-5-21-2",
                login="ad-gone",
                change="removed",
                status="active",
                kind="human",
            ),
        ],
        grants=[
            GrantChange(
                system="aws",
                account_id="AIDA1",
                login="jane.doe",
                entitlement_id="arn:aws:iam::aws:policy/AdministratorAccess",
                entitlement_name="AdministratorAccess",
                privileged=True,
                change="added",
                via="group admins",
                person_id="E100",
                person_name="Jane Doe",
            ),
            GrantChange(
                system="aws",
                account_id="AIDA3",
                login="ops.lead",
                entitlement_id="arn:aws:iam::aws:policy/PowerUserAccess",
                entitlement_name="PowerUserAccess",
                privileged=True,
                change="removed",
            ),
            GrantChange(
                system="aws",
                account_id="AIDA1",
                login="jane.doe",
                entitlement_id="arn:aws:iam::aws:policy/ReadOnlyAccess",
                entitlement_name="ReadOnlyAccess",
                privileged=False,
                change="added",
                person_id="E100",
                person_name="Jane Doe",
            ),
            GrantChange(
                system="ad",
                account_id="S-1-5-21-1",
                login="new.hire",
                entitlement_id="CN=Sales,OU=Groups,DC=example,DC=com",
                entitlement_name="Sales",
                privileged=False,
                change="added",
            ),
            GrantChange(
                system="aws",
                account_id="AIDA4",
                login="intern",
                entitlement_id="arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
                entitlement_name="ViewOnlyAccess",
                privileged=False,
                change="removed",
                via="group interns",
            ),
            GrantChange(
                system="okta",
                account_id="00u2",
                login="okta-priv-gone",
                entitlement_id="SUPER_ADMIN",
                entitlement_name="Super Administrator",
                privileged=True,
                change="removed",
            ),
            GrantChange(
                system="ad",
                account_id="S-1-5-21-3",
                login="ad-grant-gone",
                entitlement_id="CN=VPN,OU=Groups,DC=example,DC=com",
                entitlement_name="VPN",
                privileged=False,
                change="removed",
            ),
        ],
        findings=[
            FindingChange(
                finding_id="f-medium",
                rule_id="dormant-account",
                severity="medium",
                system="aws",
                subject="aws:user/old-robot",
                message="No sign-in for 120 days.",
                change="new",
                first_seen=MADE_AT,
            ),
            FindingChange(
                finding_id="f-critical",
                rule_id="leaver-active-access",
                severity="critical",
                system="aws",
                subject="aws:user/erik.reyes",
                message="Erik Reyes left on 2026-09-29 and can still sign in.",
                change="new",
                first_seen=MADE_AT,
                person_id="E7",
            ),
            FindingChange(
                finding_id="f-high",
                rule_id="admin-without-mfa",
                severity="high",
                system="aws",
                subject="aws:user/jane.doe",
                message="Administrator without MFA.",
                change="new",
                first_seen=MADE_AT,
                person_id="E100",
            ),
            FindingChange(
                finding_id="f-low",
                rule_id="unused-credential",
                severity="low",
                system="ad",
                subject="ad:svc-backup",
                message="An access key unused for 90 days.",
                change="resolved",
                first_seen=MADE_AT - timedelta(days=30),
                resolved_at=MADE_AT,
            ),
        ],
        leavers_still_active=[
            LeaverStillActive(
                employee_id="E7",
                name="Erik Reyes",
                end_date=date(2026, 9, 29),
                days_since=59,
                accounts=["aws:erik.reyes", "okta:erik.reyes@example.com"],
            ),
            LeaverStillActive(
                employee_id="E9",
                name="Lena Park",
                end_date=None,
                days_since=None,
                accounts=["ad:lpark"],
            ),
        ],
        exceptions_expiring=[
            ExpiringException(
                system="aws",
                entitlement="AdministratorAccess",
                person="E42",
                account=None,
                approver="ciso@example.com",
                expires=date(2026, 12, 10),
                days_left=13,
                where="policy.yaml:41",
            )
        ],
        campaigns_overdue=[
            OverdueCampaign(
                campaign_id=3,
                name="Q3 privileged access",
                due_on=date(2026, 11, 1),
                days_overdue=26,
                pending_items=17,
                pending_reviewers=["mira.bauer@example.com", "tom.ng@example.com"],
            )
        ],
        charts=_charts(),
    )


def _poison(value: Any, key: str | None) -> Any:
    if isinstance(value, dict):
        out = {k: v if k == "baseline" else _poison(v, k) for k, v in value.items()}
        if key == "values":  # a chart point's series: systems are untrusted names
            return {
                (f"{HOSTILE}{k}" if k in SYSTEM_SERIES + ACCOUNT_SERIES else k): v
                for k, v in out.items()
            }
        return out
    if isinstance(value, list):
        return [_poison(v, key) for v in value]
    if isinstance(value, str) and key in UNTRUSTED_FIELDS:
        return f"{HOSTILE}{value}"
    return value


def hostile_report() -> DriftReport:
    """The sample with ``HOSTILE`` in front of every untrusted string (and system name)."""
    data = _poison(sample_report().model_dump(mode="json"), None)
    return DriftReport.model_validate(data)


def empty_report() -> DriftReport:
    """A first run: nothing to compare with, nothing found, no history."""
    return DriftReport(
        made_at=MADE_AT,
        baseline=Baseline(kind="none"),
        snapshot_ids={},
        fail_on="high",
        exit_code=0,
    )
