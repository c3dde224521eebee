"""Okta actions against a local Okta: each changes the org once, then is a no-op; refusals
are results, not exceptions; and the API calls made are exactly the declared permissions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.okta.connector import (
    APPLY_SCOPES,
    COLLECT_SCOPES,
    OktaConnector,
    OktaOptions,
)
from iam_gov.connectors.shared.protocol import ActionNotSupported
from iam_gov.model import Action, ActionKind, ActionOutcome, ActionResult
from tests.support.okta_server import OktaServer, Org, example_org

from .test_connector import live, okta_env

__all__ = ["okta_env"]


@pytest.fixture
def org() -> Org:
    return example_org()


@pytest.fixture
def server(org: Org, okta_env: None) -> Iterator[OktaServer]:
    with OktaServer(org) as running:
        yield running


@pytest.fixture
def okta(server: OktaServer) -> OktaConnector:
    return live(server)


def action(kind: ActionKind, account_id: str, **extra: Any) -> Action:
    return Action(kind=kind, system="okta", account_id=account_id, reason="leaver", **extra)


def twice(okta: OktaConnector, act: Action) -> tuple[ActionResult, ActionResult]:
    return okta.apply(act), okta.apply(act)


def changes(server: OktaServer) -> list[str]:
    return [f"{s.method} {s.path}" for s in server.seen if s.method != "GET"]


def test_suspend_then_noop(okta: OktaConnector, server: OktaServer, org: Org) -> None:
    alice = org.user("alice@example.com")

    first, again = twice(okta, action(ActionKind.SUSPEND_ACCOUNT, alice.id))

    assert first.outcome is ActionOutcome.APPLIED
    assert first.message == (
        "Suspended Okta user alice@example.com (was ACTIVE): sign-in is blocked, assignments kept."
    )
    assert again.outcome is ActionOutcome.NOOP
    assert again.message == "Okta user alice@example.com is already suspended."
    assert alice.status == "SUSPENDED"
    assert changes(server) == [f"POST /api/v1/users/{alice.id}/lifecycle/suspend"]


def test_suspend_refused_by_okta_is_a_failed_result(
    okta: OktaConnector, server: OktaServer, org: Org
) -> None:
    erin = org.user("erin@example.com")  # locked out: Okta suspends active users only

    result = okta.apply(action(ActionKind.SUSPEND_ACCOUNT, erin.id))

    assert result.outcome is ActionOutcome.FAILED
    assert result.message == (
        "Okta refused: HTTP 400 E0000001 Api validation failed: Cannot suspend a user that is "
        "not active"
    )
    assert erin.status == "LOCKED_OUT"


def test_a_change_whose_answer_was_lost_is_applied(
    okta: OktaConnector, server: OktaServer, org: Org
) -> None:
    alice = org.user("alice@example.com")
    # A gateway times out after Okta suspended her; the retry is refused: she is not active.
    server.fail("POST", "/lifecycle/suspend", status=504, times=1, after=True)

    result = okta.apply(action(ActionKind.SUSPEND_ACCOUNT, alice.id))

    assert result.outcome is ActionOutcome.APPLIED, result.message
    assert alice.status == "SUSPENDED"
    assert [s.status for s in server.seen if s.method == "POST"] == [504, 400]
    assert okta.apply(action(ActionKind.SUSPEND_ACCOUNT, alice.id)).outcome is ActionOutcome.NOOP


def test_deactivate_then_noop(okta: OktaConnector, server: OktaServer, org: Org) -> None:
    carol = org.user("carol@example.com")  # suspended users can be deactivated too

    first, again = twice(okta, action(ActionKind.DISABLE_ACCOUNT, carol.id))

    assert first.outcome is ActionOutcome.APPLIED
    assert first.message == "Deactivated Okta user carol@example.com (was SUSPENDED)."
    assert first.details == {"previous_status": "SUSPENDED"}
    assert again.outcome is ActionOutcome.NOOP
    assert again.message == "Okta user carol@example.com is already deactivated."
    assert carol.status == "DEPROVISIONED"
    assert changes(server) == [f"POST /api/v1/users/{carol.id}/lifecycle/deactivate"]
    (post,) = [s for s in server.seen if s.method == "POST"]
    assert post.query == {"sendEmail": "false"}  # no email to the leaver


def test_suspending_a_deactivated_user_is_a_noop(okta: OktaConnector, org: Org) -> None:
    dave = org.user("dave@example.com")

    result = okta.apply(action(ActionKind.SUSPEND_ACCOUNT, dave.id))

    assert result.outcome is ActionOutcome.NOOP
    assert dave.status == "DEPROVISIONED"


def test_revoke_sessions_is_applied_every_time(
    okta: OktaConnector, server: OktaServer, org: Org
) -> None:
    alice = org.user("alice@example.com")

    first, again = twice(okta, action(ActionKind.REVOKE_SESSIONS, alice.id))

    # Okta cannot say whether she has sessions: clearing them again is the safe answer.
    assert (first.outcome, again.outcome) == (ActionOutcome.APPLIED, ActionOutcome.APPLIED)
    assert first.message == (
        "Ended every Okta session of alice@example.com and revoked its OAuth tokens."
    )
    assert alice.sessions_revoked == [True, True]
    assert alice.status == "ACTIVE"
    assert changes(server) == [f"DELETE /api/v1/users/{alice.id}/sessions"] * 2
    assert [s.query for s in server.seen if s.method == "DELETE"] == [{"oauthTokens": "true"}] * 2


def test_revoking_the_sessions_of_a_deleted_user_is_a_noop(
    okta: OktaConnector, server: OktaServer
) -> None:
    result = okta.apply(action(ActionKind.REVOKE_SESSIONS, "00uDeletedLongAgo"))

    assert result.outcome is ActionOutcome.NOOP
    assert result.message == "Okta has no user 00uDeletedLongAgo (deleted?): nothing to change."
    assert changes(server) == []


def test_revoke_sessions_refused_by_okta_is_a_failed_result(
    okta: OktaConnector, server: OktaServer, org: Org
) -> None:
    alice = org.user("alice@example.com")
    server.fail("DELETE", "/sessions", status=403, times=None)

    result = okta.apply(action(ActionKind.REVOKE_SESSIONS, alice.id))

    assert result.outcome is ActionOutcome.FAILED
    assert result.message == (
        "Okta refused: HTTP 403 E0000006 You do not have permission to perform the requested action"
    )
    assert result.details == {"status": 403}
    assert alice.sessions_revoked == []


def test_revoke_sessions_is_retried_after_a_server_error(
    okta: OktaConnector, server: OktaServer, org: Org
) -> None:
    alice = org.user("alice@example.com")
    server.fail("DELETE", "/sessions", status=503, times=1)

    result = okta.apply(action(ActionKind.REVOKE_SESSIONS, alice.id))

    assert result.outcome is ActionOutcome.APPLIED, result.message
    assert [s.status for s in server.seen if s.method == "DELETE"] == [503, 204]
    assert alice.sessions_revoked == [True]


def test_revoke_sessions_is_a_capability() -> None:
    assert ActionKind.REVOKE_SESSIONS in OktaConnector.capabilities


def test_leave_group_then_noop(okta: OktaConnector, server: OktaServer, org: Org) -> None:
    bob, admins = org.user("bob@example.com"), org.group("Okta Admins")

    first, again = twice(okta, action(ActionKind.REMOVE_GRANT, bob.id, entitlement_id=admins.id))

    assert first.outcome is ActionOutcome.APPLIED
    assert first.message == "Removed bob@example.com from Okta group Okta Admins."
    assert again.outcome is ActionOutcome.NOOP
    assert again.message == "bob@example.com is not in Okta group Okta Admins."
    assert bob.id not in admins.members
    assert changes(server) == [f"DELETE /api/v1/groups/{admins.id}/users/{bob.id}"]


@pytest.mark.parametrize(
    ("group", "login", "reason"),
    [
        ("Everyone", "bob", "is built in: every user is in it"),
        ("Sales", "erin", "is imported from a directory or app"),
    ],
)
def test_groups_okta_does_not_manage_are_not_touched(
    okta: OktaConnector, server: OktaServer, org: Org, group: str, login: str, reason: str
) -> None:
    target, user = org.group(group), org.user(f"{login}@example.com")

    result = okta.apply(action(ActionKind.REMOVE_GRANT, user.id, entitlement_id=target.id))

    assert result.outcome is ActionOutcome.FAILED
    assert reason in result.message
    assert user.id in target.members
    assert changes(server) == []


def test_unassign_app_then_noop(okta: OktaConnector, server: OktaServer, org: Org) -> None:
    bob, legacy = org.user("bob@example.com"), org.app("Legacy CRM")

    first, again = twice(okta, action(ActionKind.REMOVE_GRANT, bob.id, entitlement_id=legacy.id))

    assert first.outcome is ActionOutcome.APPLIED
    assert (
        first.message == "Removed the direct assignment of Okta app Legacy CRM to bob@example.com."
    )
    assert again.outcome is ActionOutcome.NOOP
    assert again.message == "bob@example.com is not assigned to Okta app Legacy CRM."
    assert bob.id not in legacy.direct
    assert changes(server) == [f"DELETE /api/v1/apps/{legacy.id}/users/{bob.id}"]


def test_an_app_held_through_a_group_names_the_group(
    okta: OktaConnector, server: OktaServer, org: Org
) -> None:
    bob, github = org.user("bob@example.com"), org.app("GitHub")
    engineering = org.group("Engineering")

    result = okta.apply(action(ActionKind.REMOVE_GRANT, bob.id, entitlement_id=github.id))

    assert result.outcome is ActionOutcome.FAILED
    assert result.message == (
        "bob@example.com has Okta app GitHub through group Engineering, not directly: remove "
        "the group membership instead."
    )
    assert result.details == {"via": [engineering.id]}
    assert changes(server) == []


def test_removing_a_direct_assignment_says_what_remains(
    okta: OktaConnector, server: OktaServer, org: Org
) -> None:
    alice, github = org.user("alice@example.com"), org.app("GitHub")

    result = okta.apply(action(ActionKind.REMOVE_GRANT, alice.id, entitlement_id=github.id))

    assert result.outcome is ActionOutcome.APPLIED
    assert result.message.endswith("It still has the app through group Engineering.")
    assert alice.id not in github.direct


def test_admin_roles_are_not_removed(okta: OktaConnector, server: OktaServer, org: Org) -> None:
    alice = org.user("alice@example.com")

    result = okta.apply(
        action(ActionKind.REMOVE_GRANT, alice.id, entitlement_id="role:SUPER_ADMIN")
    )

    assert result.outcome is ActionOutcome.FAILED
    assert "does not unassign admin roles" in result.message
    assert changes(server) == []


@pytest.mark.parametrize("entitlement", ["00gDeletedGroup", None])
def test_what_is_not_there_cannot_be_removed(
    okta: OktaConnector, org: Org, entitlement: str | None
) -> None:
    alice = org.user("alice@example.com")

    result = okta.apply(action(ActionKind.REMOVE_GRANT, alice.id, entitlement_id=entitlement))

    expected = ActionOutcome.NOOP if entitlement else ActionOutcome.FAILED
    assert result.outcome is expected


def test_a_deleted_user_is_a_noop(okta: OktaConnector) -> None:
    result = okta.apply(action(ActionKind.DISABLE_ACCOUNT, "00uDeletedLongAgo"))

    assert result.outcome is ActionOutcome.NOOP
    assert "Okta has no user 00uDeletedLongAgo" in result.message


def test_an_api_refusal_is_a_failed_result(
    okta: OktaConnector, server: OktaServer, org: Org
) -> None:
    bob, admins = org.user("bob@example.com"), org.group("Okta Admins")
    server.fail("DELETE", "/users/", status=403, times=None)

    result = okta.apply(action(ActionKind.REMOVE_GRANT, bob.id, entitlement_id=admins.id))

    assert result.outcome is ActionOutcome.FAILED
    assert result.message.startswith("Okta refused: HTTP 403")
    assert bob.id in admins.members


def test_not_an_okta_id_is_refused_before_any_call(okta: OktaConnector, server: OktaServer) -> None:
    result = okta.apply(action(ActionKind.DISABLE_ACCOUNT, "../../api/v1/org"))

    assert result.outcome is ActionOutcome.FAILED
    assert server.seen == []


def test_an_export_cannot_act(tmp_path: Path) -> None:
    options = OktaOptions.model_validate({"type": "okta", "mode": "export", "path": tmp_path})

    result = OktaConnector("okta", options).apply(action(ActionKind.DISABLE_ACCOUNT, "00u1"))

    assert result.outcome is ActionOutcome.FAILED and 'mode = "live"' in result.message


def test_what_it_cannot_do_is_said(okta: OktaConnector) -> None:
    with pytest.raises(ActionNotSupported):
        okta.apply(action(ActionKind.DEACTIVATE_CREDENTIAL, "00u1", credential_id="00u1#password"))


# --- permissions ----------------------------------------------------------------------------


def test_declared_permissions_are_exactly_the_ones_used(
    okta: OktaConnector, server: OktaServer, org: Org
) -> None:
    snapshot = okta.collect()
    assert snapshot.complete, snapshot.errors
    collect_used = {s.scope for s in server.seen}

    bob, alice = org.user("bob@example.com"), org.user("alice@example.com")
    actions = [
        action(ActionKind.SUSPEND_ACCOUNT, alice.id),
        action(ActionKind.DISABLE_ACCOUNT, alice.id),
        action(ActionKind.REVOKE_SESSIONS, alice.id),
        action(ActionKind.REMOVE_GRANT, bob.id, entitlement_id=org.group("Okta Admins").id),
        action(ActionKind.REMOVE_GRANT, bob.id, entitlement_id=org.app("Legacy CRM").id),
        action(ActionKind.REMOVE_GRANT, bob.id, entitlement_id=org.app("GitHub").id),
    ]
    apply_used: set[str | None] = set()
    for act in actions:
        server.seen.clear()
        result = okta.apply(act)
        assert result.outcome is not ActionOutcome.FAILED or "through group" in result.message
        used = {s.scope for s in server.seen}
        assert used <= set(OktaConnector.permissions.apply), act
        apply_used |= used

    assert collect_used == set(OktaConnector.permissions.collect) == set(COLLECT_SCOPES)
    assert apply_used == set(OktaConnector.permissions.apply) == set(APPLY_SCOPES)
    assert all(scope.endswith(".read") for scope in OktaConnector.permissions.collect)
