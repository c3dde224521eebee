"""revoked-in-review: access revoked in a closed review is still there in the latest data."""

from __future__ import annotations

from datetime import timedelta

from iam_gov.evaluation import run_rules
from iam_gov.model import AccountStatus, Finding, Severity
from iam_gov.rules import all_rules
from iam_gov.store.reviews import ReviewRevocation
from tests.support.world import AS_OF, World, account, arn, days_ago, grant, group, person

RULE = "revoked-in-review"

BILLING = group("Billing")
FINANCE = group("Finance")
DEVELOPERS = group("Developers")


def revocation(closed_days_ago: float = 5, **extra: object) -> ReviewRevocation:
    closed = days_ago(closed_days_ago)
    values: dict[str, object] = {
        "campaign_id": 3,
        "campaign": "Q4 2026",
        "decided_by": "alice@example.com",
        "acting_for": None,
        "decided_at": closed - timedelta(days=2),
        "closed_at": closed,
        "comment": "not needed since the move",
    }
    values.update(extra)
    return ReviewRevocation(**values)  # type: ignore[arg-type]


def jane(*held: object) -> World:
    jane = account("jane.doe")
    return World(
        people=[person("E1", "Jane Doe")],
        accounts=[jane],
        entitlements=[BILLING, FINANCE, DEVELOPERS],
        grants=list(held) if held else [grant(jane, BILLING)],  # type: ignore[arg-type]
    )


def findings(world: World, revoked: dict[tuple[str, str, str], ReviewRevocation]) -> list[Finding]:
    """The real evaluation path from the evaluated state on; the store fills
    ``review_revocations`` when it loads the state (tests/store/test_reviews.py)."""
    state = world.state()
    state.review_revocations = revoked
    found, _ = run_rules(state, all_rules())
    return [f for f in found if f.rule_id == RULE]


def billing(r: ReviewRevocation | None = None) -> dict[tuple[str, str, str], ReviewRevocation]:
    return {("aws", arn("jane.doe"), BILLING.entitlement_id): r or revocation()}


def test_a_revoked_grant_still_held_is_reported() -> None:
    [finding] = findings(jane(), billing())

    assert finding.severity is Severity.HIGH
    assert finding.subject == f"aws:{arn('jane.doe')}:revoked-in-review:{BILLING.entitlement_id}"
    assert finding.person_id == "E1" and finding.system == "aws"
    assert finding.message == (
        "Jane Doe's aws account jane.doe holds group:Billing (direct): revoked in review "
        "'Q4 2026' (#3) on 2026-11-20, still present in the aws data of 2026-11-27 "
        "(5 days after the review closed)."
    )
    evidence = finding.evidence
    assert evidence["campaign_id"] == 3 and evidence["campaign"] == "Q4 2026"
    assert evidence["revoked_by"] == "alice@example.com"
    assert evidence["revoked_on"] == "2026-11-20"
    assert evidence["days_since_close"] == 5
    assert evidence["comment"] == "not needed since the move"
    assert evidence["held"] == ["direct"]


def test_held_through_a_group_says_so() -> None:
    acct = account("jane.doe")
    world = jane(grant(acct, FINANCE), grant(acct, BILLING, via=FINANCE))

    [finding] = findings(world, billing())

    assert finding.evidence["held"] == ["through group:Finance"]
    assert "holds group:Billing (through group:Finance)" in finding.message


def test_a_removed_grant_is_fine() -> None:
    acct = account("jane.doe")
    assert findings(jane(grant(acct, DEVELOPERS)), billing()) == []


def test_reviews_closed_after_the_data_or_within_grace_are_not_judged() -> None:
    assert findings(jane(), billing(revocation(closed_days_ago=-1))) == []
    assert findings(jane(), billing(revocation(closed_days_ago=0))) == []

    world = jane()
    world.policy_yaml = "version: 1\nrules:\n  revoked-in-review: {grace_days: 7}\n"
    assert findings(world, billing()) == []
    assert len(findings(world, billing(revocation(closed_days_ago=8)))) == 1


def test_incomplete_data_or_a_disabled_account_is_not_judged() -> None:
    world = jane()
    world.incomplete_systems = {"aws"}
    assert findings(world, billing()) == []

    world = jane()
    world.accounts = [
        a.model_copy(update={"status": AccountStatus.DISABLED}) for a in world.accounts
    ]
    assert findings(world, billing()) == []


def test_an_account_nobody_owns_and_a_no_response_revocation() -> None:
    svc = account("svc-report")
    world = World(accounts=[svc], entitlements=[BILLING], grants=[grant(svc, BILLING)])
    revoked = {
        ("aws", arn("svc-report"), BILLING.entitlement_id): revocation(
            decided_by=None, decided_at=days_ago(5), comment=None
        )
    }

    [finding] = findings(world, revoked)

    assert finding.person_id is None
    assert finding.message.startswith("aws account svc-report holds group:Billing")
    assert finding.evidence["revoked_by"] is None
    assert finding.evidence["revoked_on"] == (AS_OF - timedelta(days=5)).date().isoformat()


def test_a_system_not_evaluated_is_skipped() -> None:
    revoked = {("okta", "00u1", "00g1"): revocation()}
    assert findings(jane(), revoked) == []
