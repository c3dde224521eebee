"""Reading a reviewer's items: pages from either end and next to a page, counts, filters,
positions, the next undecided item, the reviewer's campaigns, the administrators' overview."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert

from iam_gov.campaigns.decisions import decide, delegate, sign_off
from iam_gov.campaigns.definition import CampaignDefinition
from iam_gov.campaigns.items import (
    ALL,
    Item,
    ItemFilter,
    campaigns_for_reviewer,
    count_items,
    findings_summary,
    get_campaign,
    get_item,
    get_items,
    item_history,
    item_page,
    item_position,
    leavers_with_access,
    next_undecided,
    progress_of,
    systems_of,
)
from iam_gov.campaigns.reviewer import Reviewer
from iam_gov.store import Store
from iam_gov.store.schema import evaluations, findings
from tests.campaigns.seed import REVIEWER, seed_campaign

NOW = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)
OTHER = "oscar.other@example.com"
RITA = Reviewer(email=REVIEWER, actor=REVIEWER, os_user="rita", admin=False)


def mixed_items(n: int = 300) -> list[dict[str, object]]:
    """Rita's and Oscar's items interleaved, with every kind of flag and awkward names."""
    rng = random.Random(5)
    found = []
    for i in range(1, n + 1):
        found.append(
            dict(
                reviewer=OTHER if i % 3 == 0 else REVIEWER,
                person_name=rng.choice(["Ann Lee", "Bob_Smith", "Cé Ørsted", "50% Dave", None]),
                account_login=f"login{i}",
                entitlement_name=rng.choice(["Admins", "VPN", "Finance_RO", "sales"]),
                system=rng.choice(["okta", "ldap", "aws"]),
                leaver=rng.random() < 0.1,
                mover=rng.random() < 0.1,
                privileged=rng.random() < 0.1,
                in_role=rng.random() < 0.8,
                finding_rules="dormant-account" if rng.random() < 0.1 else "",
                recommendation="revoke" if rng.random() < 0.2 else "approve",
            )
        )
    return found


def all_of(store: Store, campaign: int, reviewer: str | None, flt: ItemFilter) -> list[Item]:
    """Every item the filter shows, the slow and obvious way: the reference for paging."""
    with store.reading() as conn:
        every = item_page(conn, campaign, reviewer=None, filter=ALL, limit=10_000)

    def shown(item: Item) -> bool:
        text = flt.text.lower()
        return (
            (reviewer is None or item.reviewer == reviewer)
            and (
                not text
                or any(
                    text in (value or "").lower()
                    for value in (
                        item.person_name,
                        item.person_email,
                        item.account_login,
                        item.entitlement_name,
                    )
                )
            )
            and (not flt.undecided or item.decision is None)
            and (not flt.flagged or item.flagged)
            and (flt.system is None or item.system == flt.system)
            and (
                flt.decision is None
                or item.decision == (None if flt.decision == "none" else flt.decision)
            )
        )

    assert [i.item_id for i in every] == list(range(1, len(every) + 1))
    return [item for item in every if shown(item)]


FILTERS = [
    ALL,
    ItemFilter(text="ann"),
    ItemFilter(text="_"),  # a literal underscore, not LIKE's any-character
    ItemFilter(text="50%"),  # a literal percent sign
    ItemFilter(text="ADMINS", flagged=True),
    ItemFilter(undecided=True, system="okta"),
    ItemFilter(decision="approve"),
    ItemFilter(decision="none", text="login1"),
]


@pytest.mark.parametrize("flt", FILTERS, ids=lambda f: f.describe() or "all")
def test_pages_from_anywhere_match_the_whole_list(store: Store, flt: ItemFilter) -> None:
    campaign = seed_campaign(store, mixed_items())
    decide(store, campaign, [1, 2, 4, 5, 7], "approve", RITA, comment="ok", now=NOW)
    expected = [i.item_id for i in all_of(store, campaign, REVIEWER, flt)]
    with store.reading() as conn:
        assert count_items(conn, campaign, reviewer=REVIEWER, filter=flt) == len(expected)

        def page(
            offset: int = 0, limit: int = 10, after: int | None = None, before: int | None = None
        ) -> list[int]:
            items = item_page(
                conn,
                campaign,
                reviewer=REVIEWER,
                filter=flt,
                offset=offset,
                limit=limit,
                after=after,
                before=before,
            )
            return [i.item_id for i in items]

        for offset in (0, 1, 17, len(expected) - 3, len(expected)):
            assert page(offset=offset, limit=10) == expected[offset : offset + 10]
        for index in (0, 5, len(expected) // 2):
            if index < len(expected):
                after = expected[index]
                assert page(after=after, limit=7) == expected[index + 1 : index + 8]
                assert page(after=after, offset=2, limit=7) == expected[index + 3 : index + 10]
                start = max(0, index - 7)
                assert page(before=after, limit=7) == expected[start:index]
        end = 2**31 - 1
        assert page(before=end, limit=5) == expected[-5:]
        assert page(before=end, offset=3, limit=5) == expected[max(0, len(expected) - 8) : -3]
        for target in expected[::9]:
            row = expected.index(target)
            found = item_position(conn, campaign, target, reviewer=REVIEWER, filter=flt)
            assert found == row
            for anchor_row in (0, len(expected) // 2, len(expected) - 1):
                anchor = (expected[anchor_row], anchor_row)
                assert (
                    item_position(
                        conn, campaign, target, reviewer=REVIEWER, filter=flt, anchor=anchor
                    )
                    == row
                )


def test_the_text_search_ignores_case(store: Store) -> None:
    campaign = seed_campaign(
        store, [dict(person_name="Ann Lee"), dict(entitlement_name="ADMINS"), dict()]
    )
    with store.reading() as conn:
        for text, ids in (("aNN", [1]), ("admins", [2]), ("USER3@", [3]), ("nobody", [])):
            flt = ItemFilter(text=text)
            items = item_page(conn, campaign, reviewer=REVIEWER, filter=flt)
            assert [i.item_id for i in items] == ids, text


def test_every_reviewer_sees_only_their_items(store: Store) -> None:
    campaign = seed_campaign(store, mixed_items(30))
    with store.reading() as conn:
        mine = item_page(conn, campaign, reviewer=REVIEWER.upper(), limit=100)
        theirs = item_page(conn, campaign, reviewer=OTHER, limit=100)
        everyone = count_items(conn, campaign, reviewer=None)
    assert {i.reviewer for i in mine} == {REVIEWER} and len(mine) == 20
    assert {i.reviewer for i in theirs} == {OTHER} and len(theirs) == 10
    assert everyone == 30


def test_next_undecided_wraps_around(store: Store) -> None:
    campaign = seed_campaign(store, [dict() for _ in range(6)])
    decide(store, campaign, [2, 3, 5, 6], "approve", RITA, now=NOW)
    with store.reading() as conn:

        def after(item_id: int, flt: ItemFilter = ALL, wrap: bool = True) -> int | None:
            return next_undecided(
                conn, campaign, reviewer=REVIEWER, after_item_id=item_id, filter=flt, wrap=wrap
            )

        assert after(1) == 4
        assert after(4) == 1  # none after 4: from the top again
        assert after(4, wrap=False) is None
        assert after(0, ItemFilter(text="user4@")) == 4
    decide(store, campaign, [1, 4], "revoke", RITA, now=NOW)
    with store.reading() as conn:
        assert after(0) is None


def test_items_history_and_progress_follow_the_decisions(store: Store) -> None:
    campaign = seed_campaign(store, [dict(), dict(), dict(reviewer=OTHER)])
    decide(store, campaign, [1], "revoke", RITA, comment="gone", now=NOW)
    decide(store, campaign, [1], "approve", RITA, comment="back", now=NOW + timedelta(hours=1))
    delegate(store, campaign, [2], "mia.manager@example.com", RITA, now=NOW)
    with store.reading() as conn:
        item = get_item(conn, campaign, 1)
        assert item is not None
        assert (item.decision, item.comment, item.version) == ("approve", "back", 2)
        assert get_item(conn, campaign, 99) is None
        assert [i.item_id for i in get_items(conn, campaign, [3, 1, 3, 42])] == [1, 3]
        history = item_history(conn, campaign, 1)
        assert [(h.action, h.decision, h.comment) for h in history] == [
            ("decide", "approve", "back"),
            ("decide", "revoke", "gone"),
        ]
        progress = progress_of(conn, campaign, reviewer=REVIEWER)
        assert (progress.total, progress.decided, progress.pending) == (1, 1, 0)
        assert systems_of(conn, campaign, reviewer=REVIEWER) == ["okta"]


def test_a_reviewers_campaigns_with_progress_due_date_and_sign_off(store: Store) -> None:
    first = seed_campaign(
        store,
        [dict(), dict(), dict(reviewer=OTHER)],
        CampaignDefinition(name="Later", due=date(2025, 3, 1)),
    )
    second = seed_campaign(store, [dict()], CampaignDefinition(name="Sooner", due=date(2025, 2, 1)))
    seed_campaign(store, [dict()], CampaignDefinition(name="Not launched"), status="draft")
    seed_campaign(store, [dict(reviewer=OTHER)], CampaignDefinition(name="Oscar's"))
    decide(store, first, [1], "approve", RITA, now=NOW)
    decide(store, second, [1], "approve", RITA, now=NOW)
    sign_off(store, second, RITA, now=NOW)
    with store.reading() as conn:
        found = campaigns_for_reviewer(conn, REVIEWER)
        info = get_campaign(conn, first)
    assert [(c.id, c.campaign.name) for c in found] == [(second, "Sooner"), (first, "Later")]
    assert [(c.progress.decided, c.progress.total) for c in found] == [(1, 1), (1, 2)]
    assert found[0].signed_off_at == NOW and found[1].signed_off_at is None
    assert not found[1].overdue(date(2025, 3, 1)) and found[1].overdue(date(2025, 3, 2))
    assert info is not None and info.definition.name == "Later" and info.due_on == date(2025, 3, 1)


def test_the_overview_of_findings_and_leavers(store: Store) -> None:
    with store.writing() as conn:
        evaluation = conn.execute(
            insert(evaluations).values(
                started_at=NOW, finished_at=NOW, snapshot_ids={}, policy_digest="0", summary={}
            )
        ).inserted_primary_key[0]
        rows = [
            (
                "a",
                "leaver-active-access",
                "critical",
                None,
                {"person_name": "Lena", "account_login": "lena", "end_date": "2024-12-31"},
            ),
            ("b", "dormant-account", "medium", None, {}),
            ("c", "dormant-account", "medium", None, {}),
            ("d", "mfa-missing", "high", NOW, {}),  # resolved: not counted
        ]
        for finding_id, rule, severity, resolved, evidence in rows:
            conn.execute(
                insert(findings).values(
                    finding_id=finding_id,
                    rule_id=rule,
                    severity=severity,
                    system="okta",
                    subject=f"okta:{finding_id}",
                    person_id="E1",
                    message="m",
                    evidence=evidence,
                    first_seen=NOW,
                    last_seen=NOW,
                    resolved_at=resolved,
                    last_evaluation_id=evaluation,
                )
            )
    with store.reading() as conn:
        summary = findings_summary(conn)
        leavers = leavers_with_access(conn)
    assert [(s.rule_id, s.severity, s.count) for s in summary] == [
        ("leaver-active-access", "critical", 1),
        ("dormant-account", "medium", 2),
    ]
    assert [(x.person_name, x.system, x.account_login, x.end_date) for x in leavers] == [
        ("Lena", "okta", "lena", "2024-12-31")
    ]
