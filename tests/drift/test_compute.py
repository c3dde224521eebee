"""The drift report of a company with known differences between two runs: every section, the
systems that must not be compared (stale, incomplete), exit codes, date and previous
baselines, and no baseline at all."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from iam_gov.drift.baseline import BaselineSpec
from iam_gov.drift.compute import DriftError, compute_drift
from iam_gov.drift.model import (
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_STALE,
    AccountChange,
    DriftReport,
    GrantChange,
    LeaverStillActive,
    OverdueCampaign,
    Summary,
)
from iam_gov.store.schema import campaigns
from tests.drift.conftest import (
    ENTRA_AGAIN,
    NOW,
    T0,
    T1,
    World,
    account,
    entra,
    lab,
    okta_after,
)


def drift(
    world: World,
    *,
    baseline: BaselineSpec | None = None,
    fail_on: str | None = "high",
    now: datetime = NOW,
    failures: Sequence[str] = (),
    with_charts: bool = False,
) -> DriftReport:
    return compute_drift(
        world.store,
        world.config,
        world.policy,
        baseline=baseline,
        fail_on=fail_on,
        now=now,
        failures=failures,
        with_charts=with_charts,
    )


def account_changes(report: DriftReport) -> list[tuple[str, str, str]]:
    return [(c.change, c.system, c.login) for c in report.accounts]


def grant_changes(report: DriftReport) -> list[tuple[str, str, str, str, bool, str | None]]:
    return [
        (c.change, c.system, c.login, c.entitlement_name, c.privileged, c.via)
        for c in report.grants
    ]


def finding_changes(report: DriftReport) -> list[tuple[str, str, str, str]]:
    return [(f.change, f.rule_id, f.subject, f.severity) for f in report.findings]


def compared(report: DriftReport) -> dict[str, bool]:
    return {s.system: s.compared for s in report.systems}


def test_every_section_of_the_report(changed: World) -> None:
    changed.entra_fails()
    overdue_id = changed.overdue_campaign()
    first, second = changed.evaluations

    report = drift(changed, with_charts=True)

    assert report.made_at == NOW
    assert report.baseline.kind == "previous"
    assert report.baseline.at == T0
    assert report.baseline.snapshot_ids == {name: info.id for name, info in first.snapshots.items()}
    assert report.snapshot_ids == {name: info.id for name, info in second.snapshots.items()}
    assert report.fail_on == "high"

    # systems: Okta and HR compared; Entra stale (its data is of 2026-11-05); the lab's latest
    # snapshot incomplete
    systems = {s.system: s for s in report.systems}
    assert list(systems) == ["hr", "okta", "entra", "lab"]
    assert [(s.compared, s.stale, s.complete) for s in report.systems] == [
        (True, False, True),
        (True, False, True),
        (False, True, True),
        (False, False, False),
    ]
    entra_state = systems["entra"]
    assert entra_state.collected_at == ENTRA_AGAIN
    assert entra_state.stale_reason == "login.microsoftonline.com: connection refused"
    assert entra_state.stale_since == T1 + timedelta(minutes=5)
    assert entra_state.age_hours == 120.0
    assert entra_state.not_compared_reason is not None
    assert entra_state.not_compared_reason.startswith("its last collect failed")
    assert systems["lab"].not_compared_reason == "its latest snapshot is incomplete (1 problem(s))"
    assert systems["okta"].age_hours == 24.0
    assert systems["okta"].not_compared_reason is None

    assert report.accounts == [
        AccountChange(
            system="okta",
            account_id="00u-erin",
            login="erin",
            change="created",
            status="active",
            kind="human",
            person_id="E5",
            person_name="Erin New",
        ),
        AccountChange(
            system="okta",
            account_id="00u-dan",
            login="dan",
            change="removed",
            status="active",
            kind="human",
            person_id="E4",
            person_name="Dan Removed",
        ),
    ]
    # Carol's Wiki moved from Engineering to Docs: not a change. Okta Admins is no longer in
    # Okta at all: the baseline's own data says it was privileged.
    assert grant_changes(report) == [
        ("added", "okta", "alice", "Super Administrator", True, None),
        ("added", "okta", "carol", "Docs", False, None),
        ("added", "okta", "erin", "Engineering", False, None),
        ("removed", "okta", "bob", "AWS Console", True, "Okta Admins"),
        ("removed", "okta", "bob", "Okta Admins", True, None),
        ("removed", "okta", "dan", "Engineering", False, None),
    ]
    assert report.grants[0] == GrantChange(
        system="okta",
        account_id="00u-alice",
        login="alice",
        entitlement_id="role-super-administrator",
        entitlement_name="Super Administrator",
        privileged=True,
        change="added",
        via=None,
        person_id="E1",
        person_name="Alice Admin",
    )
    assert {(g.login, g.person_id, g.person_name) for g in report.grants} == {
        ("alice", "E1", "Alice Admin"),
        ("bob", "E2", "Bob Builder"),
        ("carol", "E3", "Carol Leaver"),
        ("dan", "E4", "Dan Removed"),
        ("erin", "E5", "Erin New"),
    }

    # findings: new since the first evaluation and still open; resolved since it. (The lab's
    # finding about Bob is not resolved: the lab's data is incomplete.)
    assert finding_changes(report) == [
        ("new", "leaver-active-access", "okta:00u-carol", "high"),
        ("new", "missing-birthright", "okta:E4:missing", "low"),
        (
            "new",
            "expired-exception",
            "okta:00u-alice:exception:role:Super Administrator:2026-11-20",
            "info",
        ),
        ("resolved", "excess-access", "okta:00u-bob:group-okta-admins", "high"),
        ("resolved", "excess-access", "entra:00u-dan:group-engineering", "medium"),
    ]
    new = report.findings[0]
    assert new.first_seen == second.evaluated_at
    assert new.resolved_at is None
    assert new.person_id == "E3"
    assert report.findings[3].resolved_at == second.evaluated_at
    assert report.findings[3].first_seen == first.evaluated_at

    # Fay left in October, but her account is disabled: not listed
    assert report.leavers_still_active == [
        LeaverStillActive(
            employee_id="E3",
            name="Carol Leaver",
            end_date=date(2026, 11, 5),
            days_since=5,
            accounts=["okta:carol"],
        )
    ]

    # valid today and ending within 30 days (one today); not the one that expired, nor the
    # one ending on 2026-12-31
    assert [
        (e.person, e.entitlement, e.expires, e.days_left, e.approver)
        for e in report.exceptions_expiring
    ] == [
        ("E2", "group:Docs", date(2026, 11, 10), 0, "cto@example.com"),
        ("E1", "role:Super Administrator", date(2026, 11, 20), 10, "cto@example.com"),
    ]
    assert report.exceptions_expiring[1].where.endswith("policy.yaml:10")
    assert report.exceptions_expiring[1].system == "okta"
    assert report.exceptions_expiring[1].account is None

    with changed.store.reading() as conn:
        items = conn.execute(
            select(campaigns.c.item_count).where(campaigns.c.id == overdue_id)
        ).scalar_one()
    assert items > 1
    assert report.campaigns_overdue == [
        OverdueCampaign(
            campaign_id=overdue_id,
            name="Okta Q4",
            due_on=date(2026, 11, 8),
            days_overdue=2,
            pending_items=items - 1,
            pending_reviewers=["reviewer@example.com"],
        )
    ]

    assert report.summary == Summary(
        accounts_created=1,
        accounts_removed=1,
        grants_added=3,
        grants_removed=3,
        privileged_added=1,
        privileged_removed=2,
        findings_new=3,
        findings_resolved=2,
        findings_open=7,
        new_at_or_above_threshold=1,
        leavers_still_active=1,
        exceptions_expiring=2,
        campaigns_overdue=1,
        stale_systems=1,
    )
    assert report.exit_code == EXIT_STALE
    assert report.failures == []

    charts = report.charts
    assert [p.at for p in charts.findings_by_severity] == [
        first.evaluated_at,
        second.evaluated_at,
    ]
    assert [p.values for p in charts.findings_by_severity] == [
        {"critical": 0, "high": 1, "medium": 5, "low": 0, "info": 0},
        {"critical": 0, "high": 1, "medium": 3, "low": 1, "info": 1},
    ]
    assert [p.values for p in charts.findings_by_system] == [
        {"entra": 3, "lab": 2, "okta": 1},
        {"entra": 2, "lab": 1, "okta": 3},
    ]
    assert [p.values for p in charts.accounts_per_system] == [
        {"okta": 5, "entra": 3, "lab": 2},
        {"okta": 5, "entra": 2, "lab": 1},
    ]
    assert len(charts.leaver_sla) == 12
    assert charts.leaver_sla[0].at == datetime(2025, 12, 1, tzinfo=UTC)
    assert [(p.at.date(), p.values) for p in charts.leaver_sla[-2:]] == [
        (date(2026, 10, 1), {"within": 0, "over": 1, "still active": 0}),  # Fay
        (date(2026, 11, 1), {"within": 0, "over": 0, "still active": 1}),  # Carol
    ]
    assert all(sum(p.values.values()) == 0 for p in charts.leaver_sla[:-2])

    # the report is its own JSON format
    assert DriftReport.model_validate_json(report.model_dump_json()) == report


def test_a_stale_system_reports_no_removals(changed: World) -> None:
    # Entra's latest data (2026-11-05) has no Dan; the baseline's (2026-11-02) has him.
    # Without the failed collect, that is a removal …
    fresh = drift(changed)
    assert compared(fresh)["entra"]
    assert ("removed", "entra", "dan") in account_changes(fresh)
    assert ("removed", "entra", "dan", "Engineering", False, None) in grant_changes(fresh)

    # … once its collect has failed, the system is stale: nothing of it is called removed
    changed.entra_fails()
    report = drift(changed)
    state = next(s for s in report.systems if s.system == "entra")
    assert (state.stale, state.compared) == (True, False)
    assert [c for c in report.accounts if c.system == "entra"] == []
    assert [c for c in report.grants if c.system == "entra"] == []
    assert report.summary.stale_systems == 1
    assert report.exit_code == EXIT_STALE


def test_a_stale_system_stays_stale_until_a_collect_succeeds(changed: World) -> None:
    changed.entra_fails()
    # read again, without Bob: compared with the previous run's Entra data (2026-11-05)
    changed.save(entra(T1 + timedelta(hours=3), [("alice", "E1")]))
    report = drift(changed)
    state = next(s for s in report.systems if s.system == "entra")
    assert (state.stale, state.compared) == (False, True)
    assert account_changes(report) == [("removed", "entra", "bob")]


def test_an_incomplete_snapshot_reports_no_removals(changed: World) -> None:
    # The lab's latest snapshot is incomplete and lacks Bob.
    report = drift(changed)
    state = next(s for s in report.systems if s.system == "lab")
    assert (state.complete, state.stale, state.compared) == (False, False, False)
    assert [c for c in report.accounts if c.system == "lab"] == []
    assert [c for c in report.grants if c.system == "lab"] == []

    # The next run reads the lab completely: compared with a baseline whose lab snapshot is
    # the incomplete one, the lab is still not compared (what the baseline missed would be
    # called created).
    later = T1 + timedelta(days=1)
    changed.save(lab(later, [("alice", "E1"), ("bob", "E2")], complete=True))
    changed.evaluate(later + timedelta(hours=1))
    report = drift(changed, now=later + timedelta(hours=2))
    state = next(s for s in report.systems if s.system == "lab")
    assert (state.complete, state.compared) == (True, False)
    assert state.not_compared_reason == (
        "the baseline's snapshot of it is incomplete (1 problem(s))"
    )
    assert [c for c in report.accounts if c.system == "lab"] == []


def test_an_incomplete_system_outranks_findings_and_a_stale_one_outranks_both(
    changed: World,
) -> None:
    # The lab's latest snapshot is incomplete
    assert drift(changed, fail_on="high").exit_code == EXIT_INCOMPLETE
    assert drift(changed, fail_on="critical").exit_code == EXIT_INCOMPLETE
    changed.entra_fails()
    assert drift(changed, fail_on="high").exit_code == EXIT_STALE


def test_exit_codes(world: World) -> None:
    world.baseline_run()
    world.current_run(lab_complete=True)
    changed = world

    # A new high finding (Carol, a leaver still active); nothing critical
    assert drift(changed, fail_on="high").exit_code == EXIT_FINDINGS
    assert drift(changed, fail_on="HIGH").exit_code == EXIT_FINDINGS
    assert drift(changed, fail_on="low").summary.new_at_or_above_threshold == 2
    assert drift(changed, fail_on="info").summary.new_at_or_above_threshold == 3
    quiet = drift(changed, fail_on="critical")
    assert (quiet.exit_code, quiet.summary.new_at_or_above_threshold) == (EXIT_OK, 0)
    assert quiet.fail_on == "critical"
    # the configuration's [drift] fail_on (high) by default
    assert drift(changed, fail_on=None).exit_code == EXIT_FINDINGS

    failed = drift(changed, fail_on="critical", failures=["okta: connection timed out"])
    assert (failed.exit_code, failed.failures) == (EXIT_STALE, ["okta: connection timed out"])

    changed.entra_fails()
    assert drift(changed, fail_on="critical").exit_code == EXIT_STALE

    with pytest.raises(DriftError, match="not a severity"):
        drift(changed, fail_on="severe")


def test_no_baseline_at_all(world: World) -> None:
    world.baseline_run()
    (only,) = world.evaluations

    report = drift(world)

    assert report.baseline.kind == "none"
    assert report.baseline.snapshot_ids == {}
    assert report.baseline.at is None
    assert all(not s.compared for s in report.systems)
    assert {s.not_compared_reason for s in report.systems} == {
        "no baseline: there is no earlier data to compare with"
    }
    assert report.accounts == []
    assert report.grants == []
    # nothing was known before: every open finding is new, none resolved
    assert sorted(f.finding_id for f in report.findings) == sorted(
        f.finding_id for f in only.findings
    )
    assert {f.change for f in report.findings} == {"new"}
    assert report.summary.findings_new == len(only.findings) == report.summary.findings_open
    assert report.exit_code == EXIT_FINDINGS  # Bob's Okta Admins: a high finding


def test_nothing_collected_yet(world: World) -> None:
    report = drift(world)
    assert report.baseline.kind == "none"
    assert report.snapshot_ids == {}
    assert [(s.system, s.stale, s.compared, s.snapshot_id) for s in report.systems] == [
        ("hr", True, False, None),
        ("okta", True, False, None),
        ("entra", True, False, None),
        ("lab", True, False, None),
    ]
    assert report.summary.stale_systems == 4
    assert report.exit_code == EXIT_STALE
    assert report.findings == [] and report.leavers_still_active == []


def test_baseline_by_date(changed: World) -> None:
    first, second = changed.evaluations
    # the end of the baseline's day: the same snapshots as the previous run
    report = drift(changed, baseline=BaselineSpec.on_date(date(2026, 11, 2)))
    assert (report.baseline.kind, report.baseline.name) == ("date", "2026-11-02")
    assert report.baseline.snapshot_ids == {name: info.id for name, info in first.snapshots.items()}
    assert account_changes(report) == [
        ("created", "okta", "erin"),
        ("removed", "okta", "dan"),
        ("removed", "entra", "dan"),  # Entra did not fail here
    ]
    assert len(report.grants) == 7
    assert [f.change for f in report.findings] == ["new"] * 3 + ["resolved"] * 2

    # 2026-11-06: Entra's snapshot of 2026-11-05 is the baseline's; its latest is that one
    report = drift(changed, baseline=BaselineSpec.on_date(date(2026, 11, 6)))
    entra_again = second.snapshots["entra"].id
    assert report.baseline.snapshot_ids["entra"] == entra_again
    assert report.baseline.snapshot_ids["okta"] == first.snapshots["okta"].id
    assert report.baseline.at == ENTRA_AGAIN
    assert compared(report)["entra"]
    assert [c for c in report.accounts if c.system == "entra"] == []
    # no evaluation between the end of that day and now but the second: its findings
    assert [f.change for f in report.findings] == ["new"] * 3 + ["resolved"] * 2

    # 2026-11-09, the current run's day: the lab's snapshot of that day is incomplete, so the
    # lab's baseline is its complete one of 2026-11-02; nothing else changed since
    report = drift(changed, baseline=BaselineSpec.on_date(date(2026, 11, 9)))
    assert report.baseline.snapshot_ids == {
        "hr": second.snapshots["hr"].id,
        "okta": second.snapshots["okta"].id,
        "entra": entra_again,
        "lab": first.snapshots["lab"].id,
    }
    assert report.accounts == [] and report.grants == []
    assert report.findings == []
    assert report.exit_code == EXIT_INCOMPLETE  # nothing new, but the lab's latest is partial

    # a day before anything was collected: no baseline
    report = drift(changed, baseline=BaselineSpec.on_date(date(2026, 11, 1)))
    assert report.baseline.kind == "none"
    assert report.accounts == [] and report.grants == []
    assert all(not s.compared for s in report.systems)


def test_previous_is_the_run_before_the_current_data(changed: World) -> None:
    first, second = changed.evaluations
    # Okta collected again, not evaluated yet: the previous run is the last evaluation
    later = T1 + timedelta(days=1)
    snapshot = okta_after().model_copy(
        update={
            "collected_at": later,
            "accounts": (*okta_after().accounts, account("okta", "gus", "E7")),
        }
    )
    changed.save(snapshot)
    report = drift(changed, now=later + timedelta(hours=1))
    assert report.baseline.snapshot_ids == {
        name: info.id for name, info in second.snapshots.items()
    }
    assert account_changes(report) == [("created", "okta", "gus")]
    assert report.accounts[0].person_id is None  # no evaluation has linked it yet
    assert report.findings == []  # nothing evaluated since

    # once evaluated, the run before is the second evaluation still
    changed.evaluate(later + timedelta(minutes=30))
    report = drift(changed, now=later + timedelta(hours=1))
    assert report.baseline.snapshot_ids == {
        name: info.id for name, info in second.snapshots.items()
    }
    assert account_changes(report) == [("created", "okta", "gus")]
    assert first.evaluation_id < second.evaluation_id
