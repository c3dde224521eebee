"""Named baselines: pinning, listing, unpinning (audited), a report against one, names, and
what ``--baseline`` reads."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import delete, select

from iam_gov.audit import attributed, verify
from iam_gov.drift.baseline import (
    BaselineError,
    BaselineSpec,
    check_name,
    list_baselines,
    parse_baseline,
    pin,
    resolve_baseline,
    unpin,
)
from iam_gov.drift.compute import compute_drift
from iam_gov.store.schema import audit_log, snapshots
from tests.drift.conftest import NOW, T0, T1, World


def audit_records(world: World) -> list[tuple[str, str, str]]:
    with world.store.reading() as conn:
        return [
            (row.action, row.target, row.actor)
            for row in conn.execute(
                select(audit_log.c.action, audit_log.c.target, audit_log.c.actor)
                .where(audit_log.c.action.like("baseline.%"))
                .order_by(audit_log.c.seq)
            )
        ]


def test_pin_list_unpin(world: World) -> None:
    world.baseline_run()
    (first,) = world.evaluations
    pinned_at = T0 + timedelta(hours=2)

    pinned = pin(world.store, "before-q4", "ana@example.com", "before the migration", now=pinned_at)

    assert pinned.name == "before-q4"
    assert pinned.snapshot_ids == {name: info.id for name, info in first.snapshots.items()}
    assert pinned.evaluation_id == first.evaluation_id
    assert (pinned.pinned_at, pinned.pinned_by, pinned.note) == (
        pinned_at,
        "ana@example.com",
        "before the migration",
    )
    assert list_baselines(world.store) == [pinned]

    # a name is pinned once …
    with pytest.raises(BaselineError, match="already pinned by ana@example.com"):
        pin(world.store, "before-q4", "bo@example.com", now=pinned_at)
    assert list_baselines(world.store) == [pinned]

    # … unless replaced, on purpose
    world.current_run()
    _, second = world.evaluations
    replaced = pin(world.store, "before-q4", "bo@example.com", replace=True, now=NOW)
    assert replaced.snapshot_ids == {name: info.id for name, info in second.snapshots.items()}
    assert replaced.evaluation_id == second.evaluation_id
    assert replaced.note is None
    other = pin(world.store, "after-q4", "bo@example.com", now=NOW + timedelta(minutes=1))
    assert [b.name for b in list_baselines(world.store)] == ["after-q4", "before-q4"]

    removed = unpin(world.store, "before-q4", "cy@example.com", now=NOW + timedelta(hours=1))
    assert removed == replaced
    assert list_baselines(world.store) == [other]
    with pytest.raises(BaselineError, match="no baseline named 'before-q4'"):
        unpin(world.store, "before-q4", "cy@example.com")

    assert audit_records(world) == [
        ("baseline.pin", "baseline:before-q4", attributed("ana@example.com")),
        ("baseline.pin", "baseline:before-q4", attributed("bo@example.com")),
        ("baseline.pin", "baseline:after-q4", attributed("bo@example.com")),
        ("baseline.unpin", "baseline:before-q4", attributed("cy@example.com")),
    ]
    with world.store.reading() as conn:
        details = conn.execute(
            select(audit_log.c.details)
            .where(audit_log.c.action == "baseline.pin")
            .order_by(audit_log.c.seq)
            .limit(2)
        ).all()
        assert verify(conn).ok
    assert details[0].details["replaced"] is None
    assert details[0].details["note"] == "before the migration"
    assert details[1].details["replaced"]["snapshot_ids"] == pinned.snapshot_ids


def test_pin_needs_data(world: World) -> None:
    with pytest.raises(BaselineError, match="nothing to pin"):
        pin(world.store, "empty", "ana@example.com")
    assert list_baselines(world.store) == []
    assert audit_records(world) == []


def test_a_report_against_a_named_baseline(world: World) -> None:
    world.baseline_run()
    (first,) = world.evaluations
    pin(world.store, "quarter start", "ana@example.com", now=T0 + timedelta(hours=2))
    world.current_run()
    world.entra_fails()

    report = compute_drift(
        world.store,
        world.config,
        world.policy,
        baseline=BaselineSpec.named("quarter start"),
        fail_on="high",
        now=NOW,
        with_charts=False,
    )
    assert (report.baseline.kind, report.baseline.name, report.baseline.at) == (
        "named",
        "quarter start",
        T0,
    )
    assert report.baseline.snapshot_ids == {name: info.id for name, info in first.snapshots.items()}
    assert [(c.change, c.system, c.login, c.person_id) for c in report.accounts] == [
        ("created", "okta", "erin", "E5"),
        ("removed", "okta", "dan", "E4"),
    ]
    assert [(g.change, g.login, g.entitlement_name, g.privileged) for g in report.grants] == [
        ("added", "alice", "Super Administrator", True),
        ("added", "carol", "Docs", False),
        ("added", "erin", "Engineering", False),
        ("removed", "bob", "AWS Console", True),
        ("removed", "bob", "Okta Admins", True),
        ("removed", "dan", "Engineering", False),
    ]
    # findings since the evaluation that was the last when it was pinned
    assert [(f.change, f.rule_id) for f in report.findings] == [
        ("new", "leaver-active-access"),
        ("new", "missing-birthright"),
        ("new", "expired-exception"),
        ("resolved", "excess-access"),
        ("resolved", "excess-access"),
    ]
    assert report.exit_code == 5  # Entra is stale

    # a baseline whose snapshot of a system is no longer stored: that system is not compared
    with world.store.writing() as conn:
        conn.execute(delete(snapshots).where(snapshots.c.id == first.snapshots["okta"].id))
    report = compute_drift(
        world.store,
        world.config,
        world.policy,
        baseline=BaselineSpec.named("quarter start"),
        fail_on="high",
        now=NOW,
        with_charts=False,
    )
    okta = next(s for s in report.systems if s.system == "okta")
    assert (okta.compared, okta.not_compared_reason) == (
        False,
        "the baseline's snapshot of it is no longer stored",
    )
    assert report.accounts == [] and report.grants == []
    assert report.baseline.snapshot_ids["okta"] == first.snapshots["okta"].id

    with pytest.raises(BaselineError, match="no baseline named 'nope' \\(pinned: quarter start\\)"):
        compute_drift(
            world.store,
            world.config,
            world.policy,
            baseline=BaselineSpec.named("nope"),
            fail_on="high",
            now=NOW,
        )


def test_resolving_each_kind(world: World) -> None:
    world.baseline_run()
    world.current_run()
    first, second = world.evaluations
    current = {name: info.id for name, info in second.snapshots.items()}
    with world.store.reading() as conn:
        previous = resolve_baseline(conn, BaselineSpec.previous(), current=current)
        assert previous.evaluation_id == first.evaluation_id
        assert previous.findings_since == first.evaluated_at
        assert set(previous.snapshots) == {"hr", "okta", "entra", "lab"}

        on_day = resolve_baseline(conn, BaselineSpec.on_date(date(2026, 11, 5)), current=current)
        assert on_day.evaluation_id == first.evaluation_id  # the last one by the end of the day
        assert on_day.findings_since is not None
        assert on_day.findings_since.isoformat() == "2026-11-06T00:00:00+00:00"
        only_okta = resolve_baseline(
            conn, BaselineSpec.on_date(T1.date()), current=current, systems=["okta"]
        )
        assert list(only_okta.baseline.snapshot_ids) == ["okta"]

        nothing = resolve_baseline(conn, BaselineSpec.on_date(date(2026, 1, 1)), current=current)
        assert (nothing.none, nothing.findings_since, nothing.evaluation_id) == (True, None, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("previous", BaselineSpec.previous()),
        (" Previous ", BaselineSpec.previous()),
        ("2026-11-02", BaselineSpec.on_date(date(2026, 11, 2))),
        ("before-q4", BaselineSpec.named("before-q4")),
        ("quarter start", BaselineSpec.named("quarter start")),
        ("20261102", BaselineSpec.named("20261102")),  # only YYYY-MM-DD is a day
    ],
)
def test_what_baseline_reads(text: str, expected: BaselineSpec) -> None:
    assert parse_baseline(text) == expected


def test_not_a_day() -> None:
    with pytest.raises(BaselineError, match="not a date"):
        parse_baseline("2026-02-30")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "1 to 128 characters"),
        ("x" * 129, "1 to 128 characters"),
        ("tab\there", "only printable characters"),
        ("bell\x07", "only printable characters"),
        ("rtl\u202eoverride", "only printable characters"),
        (" padded", "no spaces at the start or the end"),
        ("previous", "reserved"),
        ("NONE", "reserved"),
        ("2026-11-02", "reserved"),
    ],
)
def test_bad_names_are_refused(world: World, name: str, problem: str) -> None:
    with pytest.raises(BaselineError, match=problem):
        check_name(name)
    world.baseline_run()
    with pytest.raises(BaselineError, match=problem):
        pin(world.store, name, "ana@example.com")
    assert list_baselines(world.store) == []


def test_longest_name(world: World) -> None:
    world.baseline_run()
    name = "é" * 128
    assert pin(world.store, name, "ana@example.com").name == name
    assert [b.name for b in list_baselines(world.store)] == [name]
