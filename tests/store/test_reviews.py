"""What closed reviews decided, read back for the engine: approvals explain grants, revocations
must be gone from the next collect (the revoked-in-review finding)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from iam_gov.collect import collect
from iam_gov.config import Config, load_config
from iam_gov.engine import EvaluationState, load_state
from iam_gov.evaluation import evaluate
from iam_gov.model import AccountStatus
from iam_gov.policy import load_policy
from iam_gov.rules import all_rules
from iam_gov.samplegen import generate
from iam_gov.store import Store
from iam_gov.store.reviews import review_outcomes
from iam_gov.store.schema import campaign_items, campaigns
from tests.support.world import AS_OF

AWS = "aws"


def add_campaign(
    store: Store,
    items: list[dict[str, Any]],
    *,
    name: str = "Q4 2026",
    status: str = "closed",
    closed_at: datetime | None = None,
) -> int:
    """A campaign with its items, every NOT NULL column filled; each item dict overrides."""
    closed_at = closed_at or AS_OF - timedelta(days=3)
    with store.writing() as conn:
        campaign_id: int = conn.execute(
            campaigns.insert()
            .values(
                name=name,
                kind="periodic",
                status=status,
                definition={"name": name},
                created_at=closed_at - timedelta(days=20),
                created_by="lead@example.com",
                launched_at=closed_at - timedelta(days=19),
                closed_at=closed_at if status == "closed" else None,
                item_count=len(items),
            )
            .returning(campaigns.c.id)
        ).scalar_one()
        rows = []
        for n, item in enumerate(items, 1):
            row: dict[str, Any] = {
                "campaign_id": campaign_id,
                "item_id": n,
                "system": AWS,
                "account_id": f"acct-{n}",
                "account_login": f"user{n}",
                "account_kind": "human",
                "account_status": "active",
                "entitlement_id": f"ent-{n}",
                "entitlement_name": f"Ent{n}",
                "entitlement_kind": "group",
                "via": "",
                "via_ids": "",
                "direct": True,
                "privileged": False,
                "leaver": False,
                "mover": False,
                "in_role": False,
                "explanation": "no role, exception or declaration explains it",
                "peers_holding": 0,
                "peers_total": 0,
                "finding_rules": "",
                "risk": 1,
                "recommendation": "approve",
                "reviewer": "alice@example.com",
                "reviewer_rule": "manager",
                "version": 0,
            }
            # One INSERT for every row: each names every column.
            row.update({c.name: None for c in campaign_items.columns if c.name not in row})
            row.update(item)
            if row["decision"] is not None and "decided_by" not in item:
                row["decided_by"] = "alice@example.com"
            if row["decision"] is not None and "decided_at" not in item:
                row["decided_at"] = closed_at - timedelta(days=1)
            rows.append(row)
        if rows:
            conn.execute(campaign_items.insert(), rows)
    return campaign_id


def grant_key(n: int) -> tuple[str, str, str]:
    return (AWS, f"acct-{n}", f"ent-{n}")


def test_no_campaigns_no_outcomes(store: Store) -> None:
    with store.reading() as conn:
        outcomes = review_outcomes(conn)
    assert outcomes.approvals == {} and outcomes.revocations == {}


def test_approvals_outside_the_role_and_revocations_of_closed_reviews(store: Store) -> None:
    cid = add_campaign(
        store,
        [
            {"decision": "approve"},
            {"decision": "approve", "in_role": True},
            {"decision": "revoke", "comment": "left the team", "acting_for": "bob@example.com"},
            {"decision": "abstain"},
            {},
            {
                "decision": "approve",
                "decided_by": "admin@example.com",
                "acting_for": "bob@example.com",
            },
        ],
    )
    add_campaign(store, [{"decision": "revoke", "account_id": "acct-9"}], status="open")

    with store.reading() as conn:
        outcomes = review_outcomes(conn)

    assert outcomes.approvals == {
        grant_key(1): f"approved in review 'Q4 2026' (#{cid}) by alice@example.com on 2026-11-23",
        grant_key(6): (
            f"approved in review 'Q4 2026' (#{cid}) by admin@example.com for bob@example.com "
            "on 2026-11-23"
        ),
    }
    [(key, revoked)] = outcomes.revocations.items()
    assert key == grant_key(3)
    assert (revoked.campaign_id, revoked.campaign, revoked.comment) == (
        cid,
        "Q4 2026",
        "left the team",
    )
    assert revoked.decided_at == AS_OF - timedelta(days=4)
    assert revoked.closed_at == AS_OF - timedelta(days=3)
    assert revoked.closed_at.tzinfo is not None
    assert revoked.text == (
        f"revoked in review 'Q4 2026' (#{cid}) by alice@example.com for bob@example.com "
        "on 2026-11-23"
    )


def test_the_latest_decision_about_a_grant_wins(store: Store) -> None:
    early, late = AS_OF - timedelta(days=100), AS_OF - timedelta(days=10)
    # Revoked in Q3, approved in Q4 (in role by then): the approval ends the revocation.
    add_campaign(store, [{"decision": "revoke"}], name="Q3", closed_at=early)
    add_campaign(store, [{"decision": "approve", "in_role": True}], name="Q4", closed_at=late)
    # Approved in Q3, revoked in Q4.
    add_campaign(store, [{}, {"decision": "approve"}], name="Q3b", closed_at=early)
    q4b = add_campaign(store, [{}, {"decision": "revoke"}], name="Q4b", closed_at=late)
    # Revoked by nobody: the no-response rule at the close.
    nobody = add_campaign(
        store,
        [{}, {}, {"decision": "revoke", "decided_by": None, "decided_at": None}],
        name="silent",
        closed_at=late,
    )

    with store.reading() as conn:
        outcomes = review_outcomes(conn)
        only_okta = review_outcomes(conn, ["okta"])

    assert outcomes.approvals == {}
    assert set(outcomes.revocations) == {grant_key(2), grant_key(3)}
    assert outcomes.revocations[grant_key(2)].campaign_id == q4b
    silent = outcomes.revocations[grant_key(3)]
    assert silent.campaign_id == nobody and silent.decided_at == late
    assert silent.text.startswith(f"revoked in review 'silent' (#{nobody}) by its no-response rule")
    assert only_okta.revocations == {} and only_okta.approvals == {}


# --- through the engine, on a collected company --------------------------------------------


@pytest.fixture
def company(tmp_path: Path) -> Path:
    out = tmp_path / "company"
    generate(out, people=40, seed=3, as_of=AS_OF)
    return out


def unexplained_grant(state: EvaluationState) -> tuple[str, str, str]:
    """An active human AWS account's direct grant that nothing explains."""
    view = state.systems[AWS]
    for account in sorted(view.accounts.values(), key=lambda a: a.native_id):
        if account.status is not AccountStatus.ACTIVE:
            continue
        link = state.links[(AWS, account.native_id)]
        for row in view.grants.get(account.native_id, ()):
            if row.via is None and state.explain(view, account, link, row).kind == "none":
                return account.native_id, row.entitlement_id, account.login
    raise AssertionError("the company has no unexplained AWS grant")


def setup(store: Store, company: Path) -> Config:
    config = load_config(company / "iam-gov.toml")
    collect(config, store)
    return config


def test_a_revocation_still_present_is_a_finding_and_an_approval_explains(
    store: Store, company: Path
) -> None:
    config = setup(store, company)
    policy = load_policy(config.policy.path, rules=all_rules())
    before = load_state(store, config, policy).state
    assert before.decisions == {} and before.review_revocations == {}
    account_id, entitlement_id, login = unexplained_grant(before)
    collected_at = before.systems[AWS].as_of

    revoked = add_campaign(
        store,
        [
            {
                "account_id": account_id,
                "entitlement_id": entitlement_id,
                "decision": "revoke",
                "account_login": login,
            }
        ],
        name="Q4 <b>[red]2026[/red]</b>",
        closed_at=collected_at - timedelta(days=2),
    )
    # Closed after the data was collected: the removal cannot show yet.
    add_campaign(
        store,
        [{"account_id": "other", "entitlement_id": "x", "decision": "revoke"}],
        closed_at=collected_at + timedelta(hours=1),
    )

    report = evaluate(store, config, policy)

    [finding] = [f for f in report.findings if f.rule_id == "revoked-in-review"]
    assert finding.subject == f"aws:{account_id}:revoked-in-review:{entitlement_id}"
    assert f"aws account {login} holds" in finding.message
    assert f"revoked in review 'Q4 <b>[red]2026[/red]</b>' (#{revoked}) on " in finding.message
    assert "still present in the aws data of" in finding.message
    assert finding.evidence["days_since_close"] == 2

    # A later review approves it (not in role): the finding goes, and explain says why.
    add_campaign(
        store,
        [
            {
                "account_id": account_id,
                "entitlement_id": entitlement_id,
                "decision": "approve",
                "decided_by": "carol@example.com",
            }
        ],
        name="Q1 2027",
        closed_at=collected_at - timedelta(days=1),
    )
    loaded = load_state(store, config, policy)
    state = loaded.state
    assert state.review_revocations == {}
    [text] = state.decisions.values()
    assert text.startswith("approved in review 'Q1 2027' (#") and "by carol@example.com" in text
    view = state.systems[AWS]
    account = view.accounts[account_id]
    [row] = [
        g for g in view.grants[account_id] if g.entitlement_id == entitlement_id and g.via is None
    ]
    explanation = state.explain(view, account, state.links[(AWS, account_id)], row)
    assert (explanation.kind, explanation.detail) == ("decision", text)

    report = evaluate(store, config, policy)
    assert [f for f in report.findings if f.rule_id == "revoked-in-review"] == []
    assert report.recorded.resolved >= 1
