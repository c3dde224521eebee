"""Fail closed on the campaign-revocation path: `iam-gov deprovision --campaign ID --apply`
against the local Okta server takes no action when the audit log cannot be written (the
intent record refused as on a full disk, or a read-only store), and fails loudly; with the log
writable, the same command does carry out the revocations (so the path does write)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from iam_gov.campaigns.close import close_campaign
from iam_gov.campaigns.decisions import decide
from iam_gov.campaigns.definition import CampaignDefinition
from iam_gov.campaigns.launch import create_campaign, launch_campaign
from iam_gov.campaigns.reviewer import Reviewer
from iam_gov.config import load_config
from iam_gov.policy import load_policy
from iam_gov.rules import all_rules
from iam_gov.store import Store
from iam_gov.store.schema import campaign_items
from tests.support.crash import (
    DeprovisionScenario,
    copy_store,
    iam_gov_argv,
    okta_state,
    okta_writes,
)

GRC = Reviewer(email="grc@example.com", actor="grc@example.com", os_user="grc", admin=False)


@dataclass(frozen=True)
class Closed:
    scenario: DeprovisionScenario
    store: Path
    """A store with a closed campaign that revoked the leavers' Okta groups."""
    campaign_id: int


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Closed:
    root = tmp_path_factory.mktemp("fail-closed")
    scenario = DeprovisionScenario(root / "okta", clean=False)
    db = root / "closed.db"
    copy_store(scenario.template, db)
    config = load_config(scenario.config_for(root / "setup", "http://127.0.0.1:9"))
    policy = load_policy(config.policy.path, rules=all_rules())
    definition = CampaignDefinition(
        name="Okta review",
        scope={"systems": ["okta"]},
        reviewers={"rule": "named", "named": GRC.email},
        comment_required=[],
    )
    with Store.open(f"sqlite:///{db}", create=False) as store:
        campaign = create_campaign(store, definition, actor=GRC.email)
        launch_campaign(store, config, policy, campaign, actor=GRC.email)
        with store.reading() as conn:
            items = conn.execute(
                select(campaign_items.c.item_id, campaign_items.c.person_email).where(
                    campaign_items.c.campaign_id == campaign,
                    campaign_items.c.entitlement_name != "Everyone",
                )
            ).all()
        revoked = [i.item_id for i in items if i.person_email.startswith("leaver")]
        assert revoked, items
        decide(store, campaign, revoked, "revoke", GRC)
        close_campaign(store, campaign, actor=GRC.email, force_before_due=True)
    return Closed(scenario, db, campaign)


def refuse_intent(url: str) -> None:
    """The audit log refuses the record of an action about to be taken (a full disk)."""
    with Store.open(url, create=False) as store, store.writing() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER full_disk BEFORE INSERT ON audit_log "
            "WHEN NEW.action = 'deprovision.intent' "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )


@pytest.mark.parametrize("fault", ["none", "intent refused", "read-only store"])
def test_campaign_revocations_are_not_carried_out_without_an_audit_log(
    closed: Closed, tmp_path: Path, fault: str
) -> None:
    """The closed review's revocations through the CLI: done with a writable log; with a log
    that cannot be written, a non-zero exit saying why and the Okta server not written to."""
    db = tmp_path / "iam-gov.db"
    copy_store(closed.store, db)
    url = f"sqlite:///{db}"
    if fault == "intent refused":
        refuse_intent(url)
    elif fault == "read-only store":
        url = f"sqlite:///file:{db}?mode=ro&uri=true"
    server = closed.scenario.server()
    try:
        before = okta_state(server)
        config = closed.scenario.config_for(tmp_path, server.url)
        env = {**closed.scenario.env, "IAM_GOV_DATABASE_URL": url}
        argv = ["--config", str(config), "deprovision", "--campaign", str(closed.campaign_id)]
        done = subprocess.run(
            iam_gov_argv(*argv, "--apply"),
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        writes, after = okta_writes(server), okta_state(server)
    finally:
        server.stop()
    if fault == "none":
        assert done.returncode == 0, done.stdout + done.stderr
        # the revoked memberships and app assignments: removed, nothing else
        assert writes and all(w.startswith("DELETE /api/v1/") for w in writes), writes
        assert after != before
        return
    assert done.returncode != 0, done.stdout
    assert writes == [] and after == before  # nothing was taken
    said = done.stderr.lower()
    assert ("disk is full" if fault == "intent refused" else "readonly") in said.replace(
        "read-only", "readonly"
    ), done.stderr
