"""Decisions on campaign items: who may decide what, comments, optimistic locking, undo,
delegation, sign-off; every change in the items, the history and the audit log."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from iam_gov import audit
from iam_gov.campaigns.decisions import (
    Conflict,
    add_comment,
    decide,
    delegate,
    ranges_text,
    sign_off,
    undo,
)
from iam_gov.campaigns.definition import CampaignDefinition, CampaignError, CommentWhen
from iam_gov.campaigns.reviewer import Reviewer
from iam_gov.store import Store
from iam_gov.store.schema import campaign_history, campaign_items, campaign_signoffs
from tests.campaigns.seed import REVIEWER, seed_campaign

RITA = Reviewer(email=REVIEWER, actor=REVIEWER, os_user="rita", admin=False)
BOSS = Reviewer(email=REVIEWER, actor="boss@example.com", os_user="boss", admin=True)
OTTO = Reviewer(email="otto@example.com", actor="otto@example.com", os_user="otto", admin=False)
T0 = datetime(2025, 2, 3, 10, 0, tzinfo=UTC)
NO_COMMENTS = CampaignDefinition(name="No comments needed", comment_required=())


def item(store: Store, campaign_id: int, item_id: int) -> Any:
    with store.reading() as conn:
        return conn.execute(
            select(campaign_items).where(
                campaign_items.c.campaign_id == campaign_id, campaign_items.c.item_id == item_id
            )
        ).one()


def history(store: Store, campaign_id: int, item_id: int | None = None) -> list[Any]:
    query = select(campaign_history).where(campaign_history.c.campaign_id == campaign_id)
    if item_id is not None:
        query = query.where(campaign_history.c.item_id == item_id)
    with store.reading() as conn:
        return list(conn.execute(query.order_by(campaign_history.c.id)))


def audit_records(store: Store) -> list[audit.AuditRecord]:
    with store.reading() as conn:
        assert audit.verify(conn).ok
        return list(reversed(audit.records(conn)))


def three(store: Store, definition: CampaignDefinition = NO_COMMENTS, **kwargs: Any) -> int:
    return seed_campaign(store, [{}, {}, {}], definition, **kwargs)


# --- deciding -------------------------------------------------------------------------------


def test_a_decision_lands_in_the_item_the_history_and_the_audit_log(store: Store) -> None:
    cid = three(store)
    assert decide(store, cid, [1, 2], "approve", RITA, comment="needed for on-call", now=T0) == 2
    first = item(store, cid, 1)
    assert (first.decision, first.comment, first.decided_by, first.decided_at) == (
        "approve",
        "needed for on-call",
        REVIEWER,
        T0,
    )
    assert first.acting_for is None and first.version == 1
    assert item(store, cid, 3).decision is None and item(store, cid, 3).version == 0
    rows = history(store, cid)
    assert [(r.item_id, r.action, r.decision, r.actor, r.os_user, r.at) for r in rows] == [
        (1, "decide", "approve", REVIEWER, "rita", T0),
        (2, "decide", "approve", REVIEWER, "rita", T0),
    ]
    (record,) = audit_records(store)
    assert (record.action, record.actor, record.target) == (
        "campaign.decide",
        audit.attributed(REVIEWER),  # the OS user, with the reviewer's identity beside it
        f"campaign #{cid}",
    )
    assert record.details["items"] == "1-2" and record.details["decision"] == "approve"
    assert record.details["comment"] == "needed for on-call"


def test_a_decision_can_be_changed_until_sign_off(store: Store) -> None:
    cid = three(store)
    decide(store, cid, [1], "approve", RITA)
    decide(store, cid, [1], "revoke", RITA, comment="no longer needed")
    changed = item(store, cid, 1)
    assert (changed.decision, changed.version) == ("revoke", 2)
    assert [r.decision for r in history(store, cid, 1)] == ["approve", "revoke"]


def test_an_unknown_decision_is_refused(store: Store) -> None:
    cid = three(store)
    with pytest.raises(CampaignError, match="not a decision"):
        decide(store, cid, [1], "maybe", RITA)  # type: ignore[arg-type]


def test_only_the_items_reviewer_decides_them(store: Store) -> None:
    cid = seed_campaign(store, [{}, {"reviewer": "otto@example.com"}], NO_COMMENTS)
    with pytest.raises(CampaignError, match="item 2 is not in") as caught:
        decide(store, cid, [1, 2], "approve", RITA)
    assert "otto@example.com" in str(caught.value)
    assert item(store, cid, 1).decision is None  # all or nothing
    assert history(store, cid) == [] and audit_records(store) == []


def test_the_reviewer_column_is_matched_without_case(store: Store) -> None:
    cid = seed_campaign(store, [{"reviewer": REVIEWER.upper()}], NO_COMMENTS)
    assert decide(store, cid, [1], "approve", RITA) == 1


def test_missing_items_and_campaigns_are_named(store: Store) -> None:
    cid = three(store)
    with pytest.raises(CampaignError, match=f"campaign #{cid} has no items 4, 9"):
        decide(store, cid, [1, 4, 9], "approve", RITA)
    with pytest.raises(CampaignError, match="no campaign #999"):
        decide(store, 999, [1], "approve", RITA)


@pytest.mark.parametrize(("status", "says"), [("closed", "closed"), ("draft", "not launched")])
def test_only_an_open_campaign_takes_decisions(store: Store, status: str, says: str) -> None:
    cid = three(store, status=status)
    with pytest.raises(CampaignError, match=says):
        decide(store, cid, [1], "approve", RITA)
    with pytest.raises(CampaignError, match=says):
        add_comment(store, cid, 1, "hello", RITA)


# --- nobody reviews their own access ----------------------------------------------------------


def test_nobody_decides_their_own_access(store: Store) -> None:
    cid = seed_campaign(store, [{}, {"person_email": REVIEWER.title()}], NO_COMMENTS)
    with pytest.raises(CampaignError, match="item 2 is about .* own access"):
        decide(store, cid, [1, 2], "approve", RITA)
    with pytest.raises(CampaignError, match="own access"):
        add_comment(store, cid, 2, "fine", RITA)
    assert item(store, cid, 1).decision is None


def test_an_admin_acting_for_someone_decides_neither_their_own_nor_the_reviewers_access(
    store: Store,
) -> None:
    cid = seed_campaign(
        store, [{"person_email": "boss@example.com"}, {"person_email": REVIEWER}], NO_COMMENTS
    )
    with pytest.raises(CampaignError, match="boss@example.com's own access"):
        decide(store, cid, [1], "approve", BOSS)
    with pytest.raises(CampaignError, match=f"{REVIEWER}'s own access"):
        decide(store, cid, [2], "approve", BOSS)


def test_after_delegation_the_new_reviewer_cannot_decide_their_own_access(store: Store) -> None:
    cid = seed_campaign(store, [{"person_email": "carl@example.com"}], NO_COMMENTS)
    with pytest.raises(CampaignError, match="carl@example.com's own access"):
        delegate(store, cid, [1], "carl@example.com", RITA)
    assert item(store, cid, 1).reviewer == REVIEWER


# --- acting for someone else ----------------------------------------------------------------


def test_acting_for_is_recorded_in_the_item_the_history_and_the_audit_log(store: Store) -> None:
    cid = three(store)
    decide(store, cid, [3], "revoke", BOSS, comment="left the team", now=T0)
    decided = item(store, cid, 3)
    assert (decided.decided_by, decided.acting_for) == ("boss@example.com", REVIEWER)
    (row,) = history(store, cid)
    assert (row.actor, row.acting_for, row.os_user) == ("boss@example.com", REVIEWER, "boss")
    (record,) = audit_records(store)
    assert record.actor == audit.attributed("boss@example.com")
    assert record.details["acting_for"] == REVIEWER and record.details["reviewer"] == REVIEWER


# --- comments -------------------------------------------------------------------------------


def test_a_required_comment_is_asked_for_naming_the_items(store: Store) -> None:
    flagged = CampaignDefinition(name="q1", comment_required=(CommentWhen.APPROVE_FLAGGED,))
    cid = seed_campaign(
        store,
        [{"recommendation": "approve"}, {"recommendation": "revoke"}, {"recommendation": "revoke"}],
        flagged,
    )
    with pytest.raises(CampaignError, match="items 2, 3: .*requires a comment to approve"):
        decide(store, cid, [1, 2, 3], "approve", RITA)
    assert item(store, cid, 1).decision is None
    assert decide(store, cid, [1], "approve", RITA) == 1
    assert decide(store, cid, [2], "revoke", RITA) == 1
    assert decide(store, cid, [2, 3], "approve", RITA, comment="still on the project") == 2


def test_a_comment_written_before_deciding_counts(store: Store) -> None:
    always = CampaignDefinition(name="q1", comment_required=(CommentWhen.ALWAYS,))
    cid = three(store, always)
    with pytest.raises(CampaignError, match="item 1: .*requires a comment to abstain"):
        decide(store, cid, [1], "abstain", RITA)
    add_comment(store, cid, 1, "not my team", RITA)
    decide(store, cid, [1], "abstain", RITA)
    assert (item(store, cid, 1).decision, item(store, cid, 1).comment) == (
        "abstain",
        "not my team",
    )


def test_revoking_can_require_a_comment(store: Store) -> None:
    cid = three(store, CampaignDefinition(name="q1", comment_required=(CommentWhen.REVOKE,)))
    with pytest.raises(CampaignError, match="requires a comment to revoke"):
        decide(store, cid, [1], "revoke", RITA, comment="   ")
    decide(store, cid, [1], "approve", RITA)


def test_add_comment_changes_the_comment_only(store: Store) -> None:
    cid = three(store)
    add_comment(store, cid, 2, "  ask Otto [bold]first[/]  ", RITA, now=T0)
    commented = item(store, cid, 2)
    assert (commented.comment, commented.decision, commented.version) == (
        "ask Otto [bold]first[/]",
        None,
        1,
    )
    (row,) = history(store, cid)
    assert (row.action, row.comment, row.at) == ("comment", "ask Otto [bold]first[/]", T0)
    assert audit_records(store)[0].action == "campaign.comment"


@pytest.mark.parametrize("bad", ["", "  ", "evil\x1b[2J", "bell\x07", "abc\u202edcba", "\x9b31m"])
def test_empty_comments_and_control_characters_are_refused(store: Store, bad: str) -> None:
    cid = three(store)
    with pytest.raises(CampaignError, match="comment"):
        add_comment(store, cid, 1, bad, RITA)
    assert item(store, cid, 1).version == 0


def test_a_comment_keeps_its_lines_and_any_script(store: Store) -> None:
    cid = three(store)
    decide(store, cid, [1], "revoke", RITA, comment="two\r\nlines\tand a tab, Zoë 😀\u00a0ok")
    assert item(store, cid, 1).comment == "two\nlines\tand a tab, Zoë 😀\u00a0ok"


def test_a_made_up_acting_for_without_the_admin_role_is_refused(store: Store) -> None:
    cid = three(store)
    impostor = Reviewer(email=REVIEWER, actor="eve@example.com", os_user="eve", admin=False)
    with pytest.raises(CampaignError, match="admin role"):
        decide(store, cid, [1], "approve", impostor)


def test_audit_records_list_item_ids_as_ranges() -> None:
    assert ranges_text([7, 1, 2, 3, 5, 9, 8, 2]) == "1-3, 5, 7-9"
    assert ranges_text([4]) == "4"


# --- optimistic locking ---------------------------------------------------------------------


def test_a_stale_version_is_a_conflict_naming_who_changed_it_and_nothing_is_written(
    store: Store,
) -> None:
    cid = three(store)
    seen = {1: 0, 2: 0, 3: 0}
    decide(store, cid, [2], "revoke", BOSS, comment="gone")
    with pytest.raises(Conflict) as caught:
        decide(store, cid, [1, 2, 3], "approve", RITA, seen_versions=seen)
    conflict = caught.value
    assert conflict.item_ids == (2,)
    assert "boss@example.com" in conflict.changed_by[2]
    assert "item 2 by boss@example.com" in str(conflict)
    assert item(store, cid, 1).decision is None
    assert item(store, cid, 2).decision == "revoke"
    assert len(history(store, cid)) == 1
    assert [r.action for r in audit_records(store)] == ["campaign.decide"]


def test_current_versions_decide_without_seen_versions(store: Store) -> None:
    cid = three(store)
    decide(store, cid, [1], "approve", RITA)
    decide(store, cid, [1], "revoke", RITA, seen_versions={1: 1})
    assert item(store, cid, 1).version == 2
    with pytest.raises(Conflict):
        decide(store, cid, [1], "abstain", RITA, seen_versions={1: 1})


def test_ten_thousand_items_are_decided_in_one_set_based_call(store: Store) -> None:
    count = 10_000
    cid = seed_campaign(store, [{} for _ in range(count)], NO_COMMENTS)
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    # set-based: the number of statements does not grow with the items (speed itself is
    # measured in benchmarks/, not here)
    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        assert decide(store, cid, range(1, count + 1), "approve", RITA, comment="bulk") == count
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert len(statements) < 40, f"{len(statements)} statements for {count} decisions"
    with store.reading() as conn:
        decided = conn.execute(
            select(func.count()).where(
                campaign_items.c.campaign_id == cid,
                campaign_items.c.decision == "approve",
                campaign_items.c.version == 1,
            )
        ).scalar_one()
        rows = conn.execute(
            select(func.count()).where(campaign_history.c.campaign_id == cid)
        ).scalar_one()
    assert decided == count and rows == count
    (record,) = audit_records(store)
    assert record.details["count"] == count and record.details["items"] == f"1-{count}"


# --- undo -----------------------------------------------------------------------------------


def test_undo_restores_the_state_before_each_decision_in_turn(store: Store) -> None:
    cid = three(store)
    decide(store, cid, [1], "approve", RITA, comment="fine", now=T0)
    decide(store, cid, [1], "revoke", BOSS, comment="left", now=T0 + timedelta(hours=1))
    undo(store, cid, 1, RITA, now=T0 + timedelta(hours=2))
    restored = item(store, cid, 1)
    assert (
        restored.decision,
        restored.comment,
        restored.decided_by,
        restored.decided_at,
        restored.acting_for,
    ) == ("approve", "fine", REVIEWER, T0, None)
    undo(store, cid, 1, RITA)
    blank = item(store, cid, 1)
    assert (blank.decision, blank.comment, blank.decided_by, blank.decided_at) == (
        None,
        None,
        None,
        None,
    )
    with pytest.raises(CampaignError, match="no decision of yours to undo"):
        undo(store, cid, 1, RITA)
    assert [r.action for r in history(store, cid, 1)] == ["decide", "decide", "undo", "undo"]
    assert [r.action for r in audit_records(store)][-2:] == ["campaign.undo", "campaign.undo"]


def test_undo_then_decide_then_undo(store: Store) -> None:
    cid = three(store)
    decide(store, cid, [1], "approve", RITA)
    undo(store, cid, 1, RITA)
    decide(store, cid, [1], "revoke", RITA)
    undo(store, cid, 1, RITA)
    assert item(store, cid, 1).decision is None


def test_undo_does_not_reach_back_past_a_delegation(store: Store) -> None:
    cid = three(store)
    decide(store, cid, [1], "approve", RITA)
    delegate(store, cid, [1], OTTO.email, RITA)
    with pytest.raises(CampaignError, match="no decision"):
        undo(store, cid, 1, OTTO)


# --- delegation -----------------------------------------------------------------------------


def test_delegation_moves_items_and_records_who_to_whom_and_when(store: Store) -> None:
    cid = three(store)
    decide(store, cid, [2], "approve", RITA)
    assert delegate(store, cid, [1, 2], OTTO.email, BOSS, comment="Otto's team", now=T0) == 2
    moved = item(store, cid, 2)
    assert (moved.reviewer, moved.reviewer_rule, moved.decision, moved.comment) == (
        OTTO.email,
        "delegated",
        None,
        "Otto's team",
    )
    rows = [r for r in history(store, cid) if r.action == "delegate"]
    assert [(r.item_id, r.actor, r.acting_for, r.at) for r in rows] == [
        (1, "boss@example.com", REVIEWER, T0),
        (2, "boss@example.com", REVIEWER, T0),
    ]
    assert rows[1].details["from"] == REVIEWER and rows[1].details["to"] == OTTO.email
    assert rows[1].details["previous"]["decision"] == "approve"
    record = audit_records(store)[-1]
    assert record.action == "campaign.delegate" and record.details["to"] == OTTO.email
    assert record.details["items"] == "1-2"
    with pytest.raises(CampaignError, match="not in"):
        decide(store, cid, [1], "approve", RITA)
    assert decide(store, cid, [1, 2], "revoke", OTTO) == 2


def test_ones_own_access_can_be_delegated_away(store: Store) -> None:
    cid = seed_campaign(store, [{"person_email": REVIEWER}], NO_COMMENTS)
    assert delegate(store, cid, [1], OTTO.email, RITA) == 1
    assert decide(store, cid, [1], "approve", OTTO) == 1


def test_delegating_to_oneself_or_to_someone_signed_off_is_refused(store: Store) -> None:
    cid = seed_campaign(store, [{}, {"reviewer": OTTO.email}], NO_COMMENTS)
    with pytest.raises(CampaignError, match="already"):
        delegate(store, cid, [1], REVIEWER.upper(), RITA)
    decide(store, cid, [2], "approve", OTTO)
    sign_off(store, cid, OTTO)
    with pytest.raises(CampaignError, match="otto@example.com signed off"):
        delegate(store, cid, [1], OTTO.email, RITA)
    with pytest.raises(CampaignError, match="not an e-mail"):
        delegate(store, cid, [1], "otto", RITA)


# --- sign-off -------------------------------------------------------------------------------


def test_sign_off_waits_for_every_item_then_freezes_the_decisions(store: Store) -> None:
    cid = seed_campaign(store, [{}, {}, {}, {"reviewer": OTTO.email}], NO_COMMENTS)
    decide(store, cid, [1], "approve", RITA)
    with pytest.raises(CampaignError, match="still has 2 undecided items of 3"):
        sign_off(store, cid, RITA)
    decide(store, cid, [2, 3], "abstain", RITA)
    sign_off(store, cid, BOSS, now=T0)
    with store.reading() as conn:
        signed = conn.execute(select(campaign_signoffs)).one()
    assert (signed.reviewer, signed.signed_at, signed.signed_by, signed.acting_for) == (
        REVIEWER,
        T0,
        "boss@example.com",
        REVIEWER,
    )
    last = history(store, cid)[-1]
    assert (last.action, last.item_id, last.actor) == ("sign-off", None, "boss@example.com")
    assert audit_records(store)[-1].action == "campaign.sign-off"
    for attempt in (
        lambda: decide(store, cid, [1], "revoke", RITA, comment="changed my mind"),
        lambda: undo(store, cid, 1, RITA),
        lambda: add_comment(store, cid, 1, "late", RITA),
        lambda: delegate(store, cid, [1], OTTO.email, RITA),
        lambda: sign_off(store, cid, RITA),
    ):
        with pytest.raises(CampaignError, match="signed off"):
            attempt()
    assert item(store, cid, 1).decision == "approve"
    assert decide(store, cid, [4], "approve", OTTO) == 1  # others go on


def test_a_reviewer_without_items_cannot_sign_off(store: Store) -> None:
    cid = three(store)
    with pytest.raises(CampaignError, match="no items"):
        sign_off(store, cid, OTTO)


# --- the command line -----------------------------------------------------------------------


def iam_gov(tmp_path: Path, *args: str, user: str = "rita") -> subprocess.CompletedProcess[str]:
    config = tmp_path / "iam-gov.toml"
    config.write_text(
        '[policy]\npath = "policy.yaml"\n\n'
        '[systems.hr]\ntype = "hr"\npath = "hr.csv"\n\n'
        f'[review]\nadmins = ["boss@example.com"]\n\n'
        f'[review.reviewers]\nrita = "{REVIEWER}"\nboss = "boss@example.com"\n'
    )
    env = {
        **os.environ,
        "IAM_GOV_DATABASE_URL": f"sqlite:///{tmp_path / 'iam-gov.db'}",
        "COLUMNS": "200",
    }
    # who each test user is: their configured identity (the OS account is the real uid's,
    # mapped to nobody); an unknown user has none
    env.pop("IAM_GOV_REVIEWER", None)
    identity = {"rita": REVIEWER, "boss": "boss@example.com"}.get(user)
    if identity:
        env["IAM_GOV_REVIEWER"] = identity
    return subprocess.run(
        [sys.executable, "-m", "iam_gov", "--config", str(config), "campaign", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_decide_delegate_and_sign_off_from_the_command_line(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'iam-gov.db'}") as store:
        cid = seed_campaign(store, [{} for _ in range(6)], NO_COMMENTS)
    decided = iam_gov(tmp_path, "decide", str(cid), "1-3", "5", "--approve", "--comment", "ok")
    assert decided.returncode == 0, decided.stderr
    assert f"campaign #{cid}: 4 items approved as {REVIEWER}" in decided.stdout
    acting = iam_gov(tmp_path, "decide", str(cid), "4", "--revoke", "--as", REVIEWER, user="boss")
    assert acting.returncode == 0, acting.stderr
    assert f"(by boss@example.com for {REVIEWER})" in acting.stdout
    moved = iam_gov(tmp_path, "delegate", str(cid), "6", "--to", OTTO.email)
    assert moved.returncode == 0 and "1 item delegated to otto@example.com" in moved.stdout
    signed = iam_gov(tmp_path, "sign-off", str(cid))
    assert signed.returncode == 0, signed.stderr
    with Store.open(f"sqlite:///{tmp_path / 'iam-gov.db'}") as store:
        assert item(store, cid, 4).acting_for == REVIEWER
        assert item(store, cid, 6).reviewer == OTTO.email
        assert [r.action for r in audit_records(store)] == [
            "campaign.decide",
            "campaign.decide",
            "campaign.delegate",
            "campaign.sign-off",
        ]


@pytest.mark.parametrize(
    ("args", "user", "says"),
    [
        (("decide", "{cid}", "1", "--approve", "--revoke"), "rita", "exactly one of"),
        (("decide", "{cid}", "3-1", "--approve"), "rita", "'3-1' is not an item number"),
        (("decide", "{cid}", "1", "--approve", "--as", "x@example.com"), "rita", "admin role"),
        (("decide", "{cid}", "1", "--approve"), "mallory", "[review.reviewers]"),
        (("sign-off", "{cid}"), "rita", "1 undecided item of 1"),
    ],
)
def test_command_line_mistakes_are_one_line_errors(
    tmp_path: Path, args: tuple[str, ...], user: str, says: str
) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'iam-gov.db'}") as store:
        cid = seed_campaign(store, [{}], NO_COMMENTS)
    result = iam_gov(tmp_path, *(a.format(cid=cid) for a in args), user=user)
    assert result.returncode == 2
    assert says in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
