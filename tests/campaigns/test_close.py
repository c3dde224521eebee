"""Closing a campaign: the no-response rule, the due date, the remediation plan, and that a
failed close changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from iam_gov.campaigns.close import close_campaign
from iam_gov.campaigns.definition import CampaignDefinition, CampaignError, NoResponse
from iam_gov.campaigns.plan import RemediationPlan, load_plan
from iam_gov.model import ActionKind
from iam_gov.store import Store
from iam_gov.store.schema import (
    audit_log,
    campaign_history,
    campaign_items,
    campaigns,
    entitlements,
    snapshots,
)
from tests.campaigns.seed import REVIEWER, seed_campaign

AFTER_DUE = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)
"""Seeded campaigns are due on 2025-01-20."""
BEFORE_DUE = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
CLOSER = "carol.closer@example.com"


def definition(rule: NoResponse) -> CampaignDefinition:
    return CampaignDefinition(name="Q1 review", no_response=rule)


def decided(**extra: Any) -> dict[str, Any]:
    return {
        "decision": "approve",
        "decided_by": REVIEWER,
        "decided_at": datetime(2025, 1, 8, tzinfo=UTC),
        "version": 1,
        **extra,
    }


def items_of(store: Store, campaign_id: int) -> dict[int, Any]:
    with store.reading() as conn:
        rows = conn.execute(
            select(campaign_items).where(campaign_items.c.campaign_id == campaign_id)
        ).all()
    return {row.item_id: row for row in rows}


def campaign_row(store: Store, campaign_id: int) -> Any:
    with store.reading() as conn:
        return conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).one()


def audit_actions(store: Store) -> list[tuple[str, dict[str, Any]]]:
    with store.reading() as conn:
        rows = conn.execute(
            select(audit_log.c.action, audit_log.c.details).order_by(audit_log.c.seq)
        )
        return [(row.action, row.details) for row in rows]


def history(store: Store, campaign_id: int) -> list[Any]:
    with store.reading() as conn:
        return list(
            conn.execute(
                select(campaign_history)
                .where(campaign_history.c.campaign_id == campaign_id)
                .order_by(campaign_history.c.id)
            )
        )


def test_keep_approves_what_nobody_decided_and_records_it(store: Store) -> None:
    cid = seed_campaign(
        store,
        [
            {},
            decided(decision="revoke", comment="not needed"),
            {"recommendation": "revoke"},
            decided(decision="abstain"),
        ],
        definition(NoResponse.KEEP),
    )
    result = close_campaign(store, cid, actor=CLOSER, now=AFTER_DUE)

    items = items_of(store, cid)
    assert (items[1].decision, items[1].decided_by) == ("approve", "no-response (keep)")
    assert items[1].decided_at == AFTER_DUE and items[1].version == 1
    assert (items[3].decision, items[3].decided_by) == ("approve", "no-response (keep)")
    # What reviewers decided stays theirs.
    assert (items[2].decision, items[2].decided_by, items[2].version) == ("revoke", REVIEWER, 1)
    assert items[4].decision == "abstain"
    assert (result.no_response_approved, result.no_response_revoked) == (2, 0)
    assert (result.counts.approved, result.counts.revoked, result.counts.abstained) == (2, 1, 1)
    assert result.counts.no_response == 2 and result.counts.pending == 0

    rows = [h for h in history(store, cid) if h.action == "no-response"]
    assert sorted((h.item_id, h.decision, h.actor) for h in rows) == [
        (1, "approve", CLOSER),
        (3, "approve", CLOSER),
    ]
    assert rows[0].details == {"rule": "keep", "decided_by": "no-response (keep)"}
    assert rows[0].at == AFTER_DUE

    row = campaign_row(store, cid)
    assert (row.status, row.closed_at, row.closed_by) == ("closed", AFTER_DUE, CLOSER)
    assert row.close_summary["no_response"]["approved"] == 2
    assert row.close_summary["counts"]["revoked"] == 1
    actions = audit_actions(store)
    assert [a for a, _ in actions] == ["campaign.no-response", "campaign.close"]
    assert actions[0][1]["rule"] == "keep" and actions[0][1]["approved"] == 2
    assert row.close_summary["audit"] == {"seq": result.audit_seq, "hash": result.audit_hash}
    assert row.close_summary["no_response"]["items_sha256"] == actions[0][1]["items_sha256"]
    assert [h.action for h in history(store, cid)][-1] == "close"
    # Only reviewer revocations are in the plan.
    assert [(a.account_id, a.entitlement_id) for a in result.plan.actions] == [
        ("acct-2", "group:app-2")
    ]


def test_revoke_revokes_what_nobody_decided(store: Store) -> None:
    cid = seed_campaign(store, [{}, decided(), {}], definition(NoResponse.REVOKE))
    result = close_campaign(store, cid, actor=CLOSER, now=AFTER_DUE)
    items = items_of(store, cid)
    assert [items[n].decision for n in (1, 2, 3)] == ["revoke", "approve", "revoke"]
    assert items[1].decided_by == "no-response (revoke)"
    assert (result.no_response_approved, result.no_response_revoked) == (0, 2)
    assert sorted(a.account_id for a in result.plan.actions) == ["acct-1", "acct-3"]
    reason = next(a.reason for a in result.plan.actions if a.account_id == "acct-1")
    assert reason.startswith(f"access review 'Q1 review' (campaign {cid}): item 1 ")
    assert "item 1 " in reason and "no-response (revoke)" in reason and REVIEWER in reason


def test_recommendation_follows_each_items_recommendation(store: Store) -> None:
    cid = seed_campaign(
        store,
        [{"recommendation": "revoke"}, {"recommendation": "approve"}],
        definition(NoResponse.RECOMMENDATION),
    )
    result = close_campaign(store, cid, actor=CLOSER, now=AFTER_DUE)
    items = items_of(store, cid)
    assert (items[1].decision, items[2].decision) == ("revoke", "approve")
    assert items[1].decided_by == "no-response (recommendation)"
    assert (result.no_response_approved, result.no_response_revoked) == (1, 1)
    events = {h.item_id: h.decision for h in history(store, cid) if h.action == "no-response"}
    assert events == {1: "revoke", 2: "approve"}


def test_before_the_due_date_only_when_forced(store: Store) -> None:
    cid = seed_campaign(store, [{}], definition(NoResponse.REVOKE))
    with pytest.raises(CampaignError, match="due on 2025-01-20.*--force-before-due"):
        close_campaign(store, cid, actor=CLOSER, now=BEFORE_DUE)
    assert campaign_row(store, cid).status == "open"
    assert items_of(store, cid)[1].decision is None
    assert audit_actions(store) == []

    result = close_campaign(store, cid, actor=CLOSER, now=BEFORE_DUE, force_before_due=True)
    assert result.forced_before_due
    assert campaign_row(store, cid).close_summary["forced_before_due"] is True
    # On the due date itself, no force is needed.
    on_time = seed_campaign(store, [{}], definition(NoResponse.KEEP))
    close_campaign(store, on_time, actor=CLOSER, now=datetime(2025, 1, 20, 0, 1, tzinfo=UTC))
    assert campaign_row(store, on_time).close_summary["forced_before_due"] is False


def test_only_open_campaigns_close(store: Store) -> None:
    draft = seed_campaign(store, [{}], status="draft")
    with pytest.raises(CampaignError, match="never launched"):
        close_campaign(store, draft, actor=CLOSER, now=AFTER_DUE)
    cid = seed_campaign(store, [{}])
    close_campaign(store, cid, actor=CLOSER, now=AFTER_DUE)
    with pytest.raises(CampaignError, match="already closed on 2025-02-01 12:00 UTC by carol"):
        close_campaign(store, cid, actor=CLOSER, now=AFTER_DUE)
    with pytest.raises(CampaignError, match="no campaign 999"):
        close_campaign(store, 999, actor=CLOSER, now=AFTER_DUE)


def add_snapshot(store: Store, system: str, groups: dict[str, str]) -> int:
    """A snapshot of ``system`` holding these groups (entitlement id -> name)."""
    with store.writing() as conn:
        sid = conn.execute(
            snapshots.insert()
            .values(
                system=system,
                connector="okta",
                source="test",
                collected_at=AFTER_DUE,
                stored_at=AFTER_DUE,
                complete=True,
                errors=[],
                settings={},
                counts={},
            )
            .returning(snapshots.c.id)
        ).scalar_one()
        for entitlement_id, name in groups.items():
            conn.execute(
                entitlements.insert().values(
                    snapshot_id=sid,
                    entitlement_id=entitlement_id,
                    name=name,
                    kind="group",
                    privileged=False,
                )
            )
    return int(sid)


def test_the_plan_removes_direct_grants_and_group_memberships_once(
    store: Store, tmp_path: Path
) -> None:
    revoked = {"decision": "revoke", "decided_by": REVIEWER, "decided_at": AFTER_DUE}
    cid = seed_campaign(
        store,
        [
            # held directly
            {**revoked, "account_id": "00u1", "entitlement_id": "0oaGitHub"},
            # held only through two groups (launch stores their names, ', '-separated, and
            # their ids one per line)
            {
                **revoked,
                "account_id": "00u2",
                "entitlement_id": "0oaJira",
                "entitlement_name": "Jira",
                "direct": False,
                "via": "Contractors, Engineering",
                "via_ids": "00gCon\n00gEng",
            },
            # through one of the same groups: one removal serves both items
            {
                **revoked,
                "account_id": "00u2",
                "entitlement_id": "0oaWiki",
                "entitlement_name": "Wiki",
                "direct": False,
                "via": "Engineering",
                "via_ids": "00gEng",
            },
            # directly and through a group : both go
            {
                **revoked,
                "account_id": "00u3",
                "entitlement_id": "0oaAWS",
                "via": "Ops",
                "via_ids": "00gOps",
            },
            # through a group the snapshot does not have: a note, not a guess
            {
                **revoked,
                "account_id": "00u4",
                "entitlement_id": "0oaX",
                "direct": False,
                "via": "Gone",
                "via_ids": "00gGone",
            },
            # approved: nothing to do
            {"decision": "approve", "decided_by": REVIEWER, "account_id": "00u5"},
        ],
    )
    sid = add_snapshot(
        store, "okta", {"00gEng": "Engineering", "00gCon": "Contractors", "00gOps": "Ops"}
    )
    with store.writing() as conn:
        conn.execute(
            update(campaigns).where(campaigns.c.id == cid).values(snapshot_ids={"okta": sid})
        )
    result = close_campaign(store, cid, actor=CLOSER, now=AFTER_DUE, out_dir=tmp_path / "ev")

    plan = result.plan
    assert all(a.kind is ActionKind.REMOVE_GRANT and a.system == "okta" for a in plan.actions)
    assert [(a.account_id, a.entitlement_id) for a in plan.actions] == [
        ("00u1", "0oaGitHub"),
        ("00u2", "00gCon"),
        ("00u2", "00gEng"),
        ("00u3", "00gOps"),
        ("00u3", "0oaAWS"),
    ]
    engineering = next(a for a in plan.actions if a.entitlement_id == "00gEng")
    assert "item 2 " in engineering.reason and "item 3 " in engineering.reason
    assert "Held through group 'Engineering'" in engineering.reason
    assert "everything else the group gives" in engineering.reason
    direct = next(a for a in plan.actions if a.entitlement_id == "0oaGitHub")
    assert "group" not in direct.reason and f"(campaign {cid})" in direct.reason
    assert len(plan.notes) == 1 and "item 5 " in plan.notes[0] and "'00gGone'" in plan.notes[0]

    # The file the executor reads loads back into the same plan.
    loaded = load_plan(tmp_path / "ev" / "remediation-plan.json")
    assert loaded == plan
    assert isinstance(loaded, RemediationPlan) and loaded.version == 1
    assert loaded.campaign.id == cid and loaded.generated_at == AFTER_DUE


def test_a_failed_close_leaves_the_campaign_open_and_nothing_written(
    store: Store, tmp_path: Path
) -> None:
    cid = seed_campaign(store, [{}, {}], definition(NoResponse.REVOKE))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError):
        # The bundle cannot be written (its parent is a file): after the items were decided
        # and the campaign marked closed in the transaction.
        close_campaign(store, cid, actor=CLOSER, now=AFTER_DUE, out_dir=blocker / "evidence")
    row = campaign_row(store, cid)
    assert (row.status, row.closed_at, row.close_summary) == ("open", None, None)
    assert all(
        item.decision is None and item.version == 0 for item in items_of(store, cid).values()
    )
    assert history(store, cid) == [] and audit_actions(store) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_refuses_a_folder_that_is_not_empty_before_changing_anything(
    store: Store, tmp_path: Path
) -> None:
    cid = seed_campaign(store, [{}])
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "old.txt").write_text("earlier evidence")
    with pytest.raises(CampaignError, match="not empty"):
        close_campaign(store, cid, actor=CLOSER, now=AFTER_DUE, out_dir=tmp_path / "ev")
    assert campaign_row(store, cid).status == "open"
    assert (tmp_path / "ev" / "old.txt").read_text() == "earlier evidence"


def test_closing_a_large_campaign_is_set_based(store: Store) -> None:
    cid = seed_campaign(
        store,
        [{"recommendation": "revoke" if n % 3 == 0 else "approve"} for n in range(3000)],
        definition(NoResponse.RECOMMENDATION),
    )
    result = close_campaign(store, cid, actor=CLOSER, now=AFTER_DUE)
    assert (result.no_response_approved, result.no_response_revoked) == (2000, 1000)
    assert len(result.plan.actions) == 1000
    with store.reading() as conn:
        events = conn.execute(
            select(func.count()).where(
                campaign_history.c.campaign_id == cid, campaign_history.c.action == "no-response"
            )
        ).scalar_one()
    assert events == 3000
    assert campaign_row(store, cid).due_on == date(2025, 1, 20)
