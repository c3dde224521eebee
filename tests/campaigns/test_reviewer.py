"""Who the reviewer is: the OS account mapped in the configuration, else IAM_GOV_REVIEWER; acting
for someone else only for admins, and then recorded as acting for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam_gov import audit
from iam_gov.campaigns.definition import CampaignError
from iam_gov.campaigns.reviewer import REVIEWER_ENV, Reviewer, resolve_reviewer
from iam_gov.config import (
    Config,
    CorrelationSettings,
    PolicySettings,
    ReviewSettings,
    StoreSettings,
)


def config_with(reviewers: dict[str, str] | None = None, admins: tuple[str, ...] = ()) -> Config:
    return Config(
        path=Path("/srv/iam-gov/iam-gov.toml"),
        store=StoreSettings(),
        policy=PolicySettings(path=Path("policy.yaml")),
        correlation=CorrelationSettings(),
        systems={},
        review=ReviewSettings(reviewers=reviewers or {}, admins=admins),
    )


@pytest.fixture(autouse=True)
def no_configured_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REVIEWER_ENV, raising=False)


def test_the_os_account_is_mapped_to_its_e_mail() -> None:
    config = config_with({"mkeller": "maria.keller@example.com"})
    reviewer = resolve_reviewer(config, os_user="mkeller")
    assert reviewer == Reviewer(
        email="maria.keller@example.com",
        actor="maria.keller@example.com",
        os_user="mkeller",
        admin=False,
    )
    assert reviewer.acting_for is None


def test_without_os_user_the_logged_in_account_is_used() -> None:
    me = audit.os_user_name()
    reviewer = resolve_reviewer(config_with({me: "me@example.com"}))
    assert (reviewer.email, reviewer.os_user) == ("me@example.com", me)


def test_logname_and_user_cannot_pick_another_accounts_reviewer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """$LOGNAME / $USER are anyone's to set: the account is the real user id's, so claiming
    an admin's account name gives neither their e-mail nor their admin role."""
    me = audit.os_user_name()
    monkeypatch.setenv("LOGNAME", "boss")
    monkeypatch.setenv("USER", "boss")
    monkeypatch.delenv(REVIEWER_ENV, raising=False)
    config = config_with({"boss": "boss@example.com", me: "me@example.com"})
    reviewer = resolve_reviewer(config)
    assert (reviewer.actor, reviewer.os_user) == ("me@example.com", me)


def test_os_account_names_are_matched_exactly() -> None:
    config = config_with({"mkeller": "maria.keller@example.com"})
    with pytest.raises(CampaignError):
        resolve_reviewer(config, os_user="MKeller")


def test_an_unmapped_account_uses_the_configured_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REVIEWER_ENV, " ops.lead@example.com ")
    reviewer = resolve_reviewer(config_with({"mkeller": "m@example.com"}), os_user="jump")
    assert (reviewer.email, reviewer.actor, reviewer.os_user) == (
        "ops.lead@example.com",
        "ops.lead@example.com",
        "jump",
    )


def test_the_mapping_wins_over_the_configured_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REVIEWER_ENV, "someone.else@example.com")
    reviewer = resolve_reviewer(config_with({"mkeller": "m@example.com"}), os_user="mkeller")
    assert reviewer.email == "m@example.com"


def test_nobody_configured_says_how_to_configure_it() -> None:
    with pytest.raises(CampaignError) as caught:
        resolve_reviewer(config_with(), os_user="jdoe")
    message = str(caught.value)
    assert "'jdoe'" in message
    assert "[review.reviewers]" in message
    assert REVIEWER_ENV in message


@pytest.mark.parametrize("bad", ["not an address", "two@@example.com", "a@b.c\x1b[31m"])
def test_a_configured_identity_must_be_an_e_mail(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv(REVIEWER_ENV, bad)
    with pytest.raises(CampaignError, match=REVIEWER_ENV):
        resolve_reviewer(config_with(), os_user="jdoe")


def test_acting_for_someone_else_needs_the_admin_role() -> None:
    config = config_with({"mkeller": "m@example.com"}, admins=("boss@example.com",))
    with pytest.raises(CampaignError, match="admin") as caught:
        resolve_reviewer(config, os_user="mkeller", as_email="other@example.com")
    assert "m@example.com" in str(caught.value)
    assert "other@example.com" in str(caught.value)


def test_an_admin_acts_for_someone_else_and_it_shows() -> None:
    config = config_with({"boss": "Boss@Example.com"}, admins=("boss@example.com",))
    reviewer = resolve_reviewer(config, os_user="boss", as_email="m@example.com")
    assert reviewer.admin
    assert (reviewer.email, reviewer.actor) == (
        "m@example.com",
        "boss@example.com",
    )  # lower case, as stored
    assert reviewer.acting_for == "m@example.com"


def test_as_oneself_is_not_acting_for_anyone() -> None:
    config = config_with({"mkeller": "m@example.com"})
    reviewer = resolve_reviewer(config, os_user="mkeller", as_email="M@example.com")
    assert reviewer.acting_for is None and not reviewer.admin


def test_as_must_be_an_e_mail() -> None:
    config = config_with({"boss": "boss@example.com"}, admins=("boss@example.com",))
    with pytest.raises(CampaignError, match="--as"):
        resolve_reviewer(config, os_user="boss", as_email="[bold]x[/]")
