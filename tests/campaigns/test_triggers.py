"""Event-triggered reviews on the demo company: a new privileged grant, a mover, an exception
about to end each open one small review of exactly that access, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from iam_gov.campaigns.definition import CampaignDefinition, DefinitionError
from iam_gov.campaigns.triggers import (
    Detection,
    Trigger,
    TriggerKind,
    event_key,
    expiring_exceptions,
    load_triggers,
    open_once,
    run_triggers,
)
from iam_gov.evaluation import evaluate
from iam_gov.model import EmploymentStatus, Grant, SystemSnapshot
from iam_gov.store import Store
from iam_gov.store.people import record_changes
from iam_gov.store.schema import audit_log, campaign_items, campaigns, review_triggers
from iam_gov.store.snapshots import latest_snapshots, load_snapshot, save_snapshot
from tests.campaigns.conftest import DEMO_NOW, Demo
from tests.support.world import World, account, grant, group, person

FALLBACK = "grc@example.com"
LATER = DEMO_NOW + timedelta(days=1)


def trigger(kind: str, **extra: Any) -> Trigger:
    return Trigger.model_validate(
        {"kind": kind, "reviewers": {"rule": "manager", "fallback": FALLBACK}, **extra}
    )


def run(demo: Demo, *triggers: Trigger, now: datetime = LATER, dry_run: bool = False) -> Any:
    return run_triggers(
        demo.store, demo.config, demo.policy, triggers, actor="cron", now=now, dry_run=dry_run
    )


def recollect(demo: Demo, system: str, change: Any, *, at: datetime = LATER) -> None:
    """A new snapshot of ``system``: the latest one changed by ``change(snapshot)``, collected
    at ``at``; then evaluated, as cron does before the triggers run."""
    with demo.store.writing() as conn:
        latest = latest_snapshots(conn)[system]
        snapshot = load_snapshot(conn, latest.id)
        changed: SystemSnapshot = change(snapshot).model_copy(update={"collected_at": at})
        sid = save_snapshot(conn, changed, at)
        if system == demo.config.hr_system:
            record_changes(conn, sid, changed)
    evaluate(demo.store, demo.config, demo.policy, now=at)


def items(store: Store, campaign_id: int) -> list[dict[str, Any]]:
    with store.reading() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                select(campaign_items).where(campaign_items.c.campaign_id == campaign_id)
            )
        ]


def campaign(store: Store, campaign_id: int) -> dict[str, Any]:
    with store.reading() as conn:
        return dict(
            conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).one()._mapping
        )


def count(store: Store, table: Any) -> int:
    with store.reading() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


# --- the triggers file -------------------------------------------------------------------


def test_a_triggers_file_is_read_and_its_mistakes_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "triggers.yaml"
    path.write_text(
        "triggers:\n"
        "  - kind: new-privileged-grant\n"
        "    reviewers: {rule: owner, fallback: security@example.com}\n"
        "    due_in_days: 5\n"
        "  - kind: exception-expiring\n"
        "    days_before: 30\n"
        "    comment_required: [always]\n"
    )
    privileged, expiring = load_triggers(path)
    assert privileged.kind is TriggerKind.NEW_PRIVILEGED_GRANT
    assert privileged.reviewers.fallback == "security@example.com"
    assert (privileged.due_in_days, expiring.days_before) == (5, 30)

    path.write_text("triggers:\n  - kind: mover\n    days_before: 3\n  - kind: hired\n")
    with pytest.raises(DefinitionError) as bad:
        load_triggers(path)
    assert "triggers.yaml:2: triggers.0: Value error, days_before is for kind: exception-" in str(
        bad.value
    )
    assert "triggers.yaml:4: triggers.1.kind:" in str(bad.value)

    path.write_text("triggers:\n  - kind: mover\n  - kind: mover\n")
    with pytest.raises(DefinitionError, match="one trigger per kind: mover"):
        load_triggers(path)


# --- new privileged grants ----------------------------------------------------------------


def add_admins(login: str) -> Any:
    def change(snapshot: SystemSnapshot) -> SystemSnapshot:
        holder = next(a for a in snapshot.accounts if a.login == login)
        admins = next(e for e in snapshot.entitlements if e.ref == "group:Admins")
        new = Grant(system="aws", account_id=holder.native_id, entitlement_id=admins.entitlement_id)
        return snapshot.model_copy(update={"grants": (*snapshot.grants, new)})

    return change


def test_a_new_privileged_grant_opens_one_review_of_that_grant_once(demo: Demo) -> None:
    privileged = trigger("new-privileged-grant", due_in_days=3)
    first = run(demo, privileged, now=DEMO_NOW)
    assert first.results == []  # one snapshot: nothing to compare it with yet

    recollect(demo, "aws", add_admins("ana.sato"))
    audit_before = count(demo.store, audit_log)

    [dry] = run(demo, privileged, dry_run=True).results
    assert dry.status == "would-open" and dry.campaign_id is None
    assert dry.name == "New privileged access: ana.sato in aws (2026-11-29)"
    assert "holds privileged access it did not hold on 2026-11-27: group:Admins" in dry.message
    assert count(demo.store, campaigns) == 0 and count(demo.store, audit_log) == audit_before

    [opened] = run(demo, privileged).results
    assert opened.status == "opened" and opened.items == 1
    assert opened.campaign_id is not None
    [item] = items(demo.store, opened.campaign_id)
    assert (item["system"], item["account_login"], item["entitlement_name"]) == (
        "aws",
        "ana.sato",
        "Admins",
    )
    assert item["privileged"]
    row = campaign(demo.store, opened.campaign_id)
    assert (row["kind"], row["trigger"], row["status"]) == ("event", "new-privileged-grant", "open")
    assert row["due_on"] == (LATER + timedelta(days=3)).date()
    with demo.store.reading() as conn:
        actions = list(
            conn.execute(
                select(audit_log.c.action, audit_log.c.target).where(audit_log.c.seq > audit_before)
            )
        )
    target = f"campaign:{opened.campaign_id}"
    assert [tuple(a) for a in actions] == [
        ("campaign.create", target),
        ("campaign.launch", target),
        ("campaign.trigger", target),
    ]

    # Again, and again after another collect that adds nothing: no second review.
    assert run(demo, privileged).results == []
    recollect(demo, "aws", lambda s: s, at=LATER + timedelta(days=1))
    assert run(demo, privileged, now=LATER + timedelta(days=1)).results == []
    assert count(demo.store, campaigns) == 1


def test_a_grant_that_appeared_while_the_triggers_did_not_run_is_still_found(
    demo: Demo,
) -> None:
    privileged = trigger("new-privileged-grant")
    run(demo, privileged, now=DEMO_NOW)
    recollect(demo, "aws", add_admins("ana.sato"))
    recollect(demo, "aws", lambda s: s, at=LATER + timedelta(days=1))

    [opened] = run(demo, privileged, now=LATER + timedelta(days=1)).results

    assert opened.status == "opened" and opened.name.startswith("New privileged access: ana.sato")


def test_a_failed_launch_is_launched_again_not_opened_twice(demo: Demo) -> None:
    privileged = trigger("new-privileged-grant")
    run(demo, privileged, now=DEMO_NOW)
    # Collected but not evaluated yet: the launch refuses, the draft waits.
    with demo.store.writing() as conn:
        latest = latest_snapshots(conn)["aws"]
        changed = add_admins("ana.sato")(load_snapshot(conn, latest.id))
        save_snapshot(conn, changed.model_copy(update={"collected_at": LATER}), LATER)

    [failed] = run(demo, privileged).results
    assert failed.status == "failed" and "not been evaluated" in failed.message
    assert failed.campaign_id is not None
    assert campaign(demo.store, failed.campaign_id)["status"] == "draft"

    evaluate(demo.store, demo.config, demo.policy, now=LATER)
    [retried] = run(demo, privileged).results

    assert (retried.status, retried.campaign_id) == ("opened", failed.campaign_id)
    assert count(demo.store, campaigns) == 1


def test_an_event_is_opened_once_even_when_asked_twice(demo: Demo) -> None:
    definition = CampaignDefinition(
        name="Mover: Ana Sato",
        scope={"people": ["E1042"], "systems": ["aws"]},
        reviewers={"rule": "manager", "fallback": FALLBACK},
    )

    def once() -> Any:
        return open_once(
            demo.store,
            demo.config,
            demo.policy,
            definition,
            trigger="mover",
            key="person\tE1042\t1",
            actor="cron",
            now=LATER,
        )

    first, second = once(), once()

    assert first.status == "opened" and first.items > 0
    assert (second.status, second.campaign_id) == ("already-opened", first.campaign_id)
    assert count(demo.store, campaigns) == 1
    with demo.store.reading() as conn:
        [row] = conn.execute(select(review_triggers).where(review_triggers.c.trigger == "mover"))
    assert row.campaign_id == first.campaign_id


# --- movers ----------------------------------------------------------------------------------


def change_person(employee_id: str, **update: Any) -> Any:
    def change(snapshot: SystemSnapshot) -> SystemSnapshot:
        people = tuple(
            p.model_copy(update=update) if p.employee_id == employee_id else p
            for p in snapshot.people
        )
        return snapshot.model_copy(update={"people": people})

    return change


def test_a_mover_opens_a_review_of_all_their_access(demo: Demo) -> None:
    movers = trigger("mover")
    run(demo, movers, now=DEMO_NOW)
    recollect(demo, "hr", change_person("E1042", department="Finance", title="Analyst"))

    [opened] = run(demo, movers).results

    assert opened.status == "opened"
    assert opened.name == "Mover: Ana Sato (E1042) (2026-11-29)"
    rows = items(demo.store, opened.campaign_id or 0)
    assert rows and {r["person_id"] for r in rows} == {"E1042"}
    assert len({r["system"] for r in rows}) > 1  # every system, not one
    assert all(r["mover"] for r in rows)
    row = campaign(demo.store, opened.campaign_id or 0)
    assert (
        "department Engineering → Finance, title Senior Software Engineer → Analyst"
        in (row["definition"]["description"])
    )
    assert run(demo, movers).results == []


def test_a_new_name_or_a_leaver_is_not_a_mover(demo: Demo) -> None:
    movers = trigger("mover")
    run(demo, movers, now=DEMO_NOW)
    recollect(demo, "hr", change_person("E1042", name="Ana Sato-Berg"))
    assert run(demo, movers).results == []

    gone = change_person(
        "E1011", department="IT", status=EmploymentStatus.TERMINATED, end_date=LATER.date()
    )
    recollect(demo, "hr", gone, at=LATER + timedelta(days=1))
    assert run(demo, movers, now=LATER + timedelta(days=1)).results == []


# --- exceptions about to end -----------------------------------------------------------------


def test_an_exception_ending_soon_opens_a_review_of_the_grants_it_approves(demo: Demo) -> None:
    # E1004's Domain Admins exception ends on 2027-01-11; E1042's on 2027-01-26.
    expiring = trigger("exception-expiring", days_before=14)
    now = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
    assert run(demo, trigger("exception-expiring", days_before=5), now=now).results == []

    [opened] = run(demo, expiring, now=now).results

    assert opened.status == "opened"
    rows = items(demo.store, opened.campaign_id or 0)
    assert {(r["system"], r["person_id"], r["entitlement_name"]) for r in rows} == {
        ("ad", "E1004", "Domain Admins")
    }
    description = campaign(demo.store, opened.campaign_id or 0)["definition"]["description"]
    assert description.startswith(
        "The exception approved by head.of.it@example.com for E1004 to hold group:Domain Admins "
        "in ad ends on 2027-01-11"
    )
    [again] = run(demo, expiring, now=now + timedelta(days=1)).results
    assert (again.status, again.campaign_id) == ("already-opened", opened.campaign_id)
    assert count(demo.store, campaigns) == 1


def test_expiring_exceptions_are_found_in_the_evaluated_state() -> None:
    jane, bob = account("jane.doe"), account("bob.smith")
    billing = group("Billing")
    world = World(
        policy_yaml=(
            "version: 1\nexceptions:\n"
            + "".join(
                f"  - {{person: {who}, system: aws, entitlement: 'group:Billing', "
                f"approver: cfo@example.com, reason: close, expires: {expires}}}\n"
                for who, expires in (
                    ("E1", "2026-12-05"),
                    ("E2", "2026-12-30"),
                    ("E3", "2026-12-01"),
                )
            )
        ),
        people=[
            person("E1", "Jane Doe"),
            person("E2", "Bob Smith"),
            person("E3", "Nobody Holds"),
        ],
        accounts=[jane, bob],
        entitlements=[billing],
        grants=[grant(jane, billing), grant(bob, billing)],
    )
    detection = Detection()
    expiring_exceptions(world.state(), world.as_of.date(), detection, trigger("exception-expiring"))

    [(_, event)] = detection.events  # Bob's ends too late; nobody holds E3's
    assert event.kind is TriggerKind.EXCEPTION_EXPIRING
    assert event.title == "Jane Doe in aws"
    assert [(g.account_id, g.entitlement_id) for g in event.scope.grants] == [
        (jane.native_id, billing.entitlement_id)
    ]
    assert event.key == "exception\taws\tE1\tgroup:Billing\t2026-12-05"


def test_event_keys_fit_their_column_and_stay_distinct() -> None:
    assert event_key("grant", "aws", "arn:x", 7) == "grant\taws\tarn:x\t7"
    long_a, long_b = event_key("exception", "a" * 2000), event_key("exception", "a" * 1999 + "b")
    assert len(long_a) == len(long_b) == 1024 and long_a != long_b
