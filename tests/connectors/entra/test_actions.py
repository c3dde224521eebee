"""Entra connector actions against a local Graph: each changes what it says, a re-run is a
noop, a refusal is a failed result; and the permissions it declares are the ones it uses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from iam_gov.connectors.entra.connector import EntraConnector, EntraOptions
from iam_gov.connectors.shared.protocol import ActionNotSupported
from iam_gov.model import Action, ActionKind, ActionOutcome, ActionResult
from tests.support.graph_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    App,
    Fault,
    GraphServer,
    oid,
    required_permissions,
    running_server,
)
from tests.support.graph_tenant import (
    DEFAULT_ACCESS,
    GLOBAL_ADMIN,
    SECRET_ENV,
    demo_tenant,
    live_connector,
)

ALICE, BOB, CAROL, DAVE, EVE, FRANK = (
    oid(n) for n in ("alice", "bob", "carol", "dave", "eve_partner.example#EXT#", "frank")
)
ENGINEERING, PLATFORM, STAFF, SALES = (
    oid(f"group: {n}") for n in ("Engineering", "Platform", "All Staff", "Sales")
)
SALESFORCE, WIKI = oid("sp: salesforce"), oid("sp: wiki")
SF_ADMIN, SF_USER = oid("approle: salesforce admin"), oid("approle: salesforce user")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphServer]:
    yield from running_server(tmp_path_factory)


@pytest.fixture
def graph(server: GraphServer, monkeypatch: pytest.MonkeyPatch) -> GraphServer:
    server.reset(demo_tenant())
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    return server


@pytest.fixture
def connector(graph: GraphServer) -> Iterator[EntraConnector]:
    opened: EntraConnector = live_connector(graph, token_provider=graph.issue_token)
    yield opened
    opened.close()


def _action(kind: ActionKind, account: str, **extra: str) -> Action:
    return Action(kind=kind, system="entra-prod", account_id=account, reason="leaver", **extra)


def _twice(connector: EntraConnector, action: Action) -> tuple[ActionResult, ActionResult]:
    return connector.apply(action), connector.apply(action)


def _writes(graph: GraphServer) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in graph.graph_requests() if r.method != "GET"]


# --- disable --------------------------------------------------------------------------------


def test_disable_then_noop(graph: GraphServer, connector: EntraConnector) -> None:
    first, again = _twice(connector, _action(ActionKind.DISABLE_ACCOUNT, ALICE))

    assert first.outcome is ActionOutcome.APPLIED, first.message
    assert first.message.startswith("Disabled Entra user alice@contoso.com: it can no longer")
    assert graph.tenant.users[ALICE]["accountEnabled"] is False
    assert again.outcome is ActionOutcome.NOOP
    assert again.message == "Entra user alice@contoso.com is already disabled."
    assert _writes(graph) == [("PATCH", f"/users/{ALICE}")]


def test_disable_a_synchronised_user_fails_with_the_reason(
    graph: GraphServer, connector: EntraConnector
) -> None:
    result = connector.apply(_action(ActionKind.DISABLE_ACCOUNT, DAVE))

    assert result.outcome is ActionOutcome.FAILED
    assert "synchronised from on-premises Active Directory: disable it there" in result.message
    assert graph.tenant.users[DAVE]["accountEnabled"] is True and _writes(graph) == []


def test_disable_a_user_that_is_gone_is_a_noop(connector: EntraConnector) -> None:
    result = connector.apply(_action(ActionKind.DISABLE_ACCOUNT, oid("nobody")))

    assert result.outcome is ActionOutcome.NOOP
    assert "Entra has no user" in result.message


def test_a_refusal_is_a_failed_result_not_an_exception(
    graph: GraphServer, connector: EntraConnector
) -> None:
    graph.faults.append(
        Fault("PATCH", f"/users/{BOB}", 403, code="Authorization_RequestDenied",
              message="Insufficient privileges to complete the operation.")
    )  # fmt: skip

    result = connector.apply(_action(ActionKind.DISABLE_ACCOUNT, BOB))

    assert result.outcome is ActionOutcome.FAILED
    assert result.message.startswith(
        f"Graph refused: PATCH /users/{BOB}: 403 Authorization_RequestDenied: Insufficient "
        "privileges to complete the operation. (request-id "
    )
    assert graph.tenant.users[BOB]["accountEnabled"] is True


# --- revoke sessions ------------------------------------------------------------------------


def test_revoke_sessions_is_applied_every_time(
    graph: GraphServer, connector: EntraConnector
) -> None:
    before = graph.tenant.users[BOB]["signInSessionsValidFromDateTime"]

    first, again = _twice(connector, _action(ActionKind.REVOKE_SESSIONS, BOB))

    # Graph cannot say whether a token was issued since: revoking again is the safe answer.
    assert (first.outcome, again.outcome) == (ActionOutcome.APPLIED, ActionOutcome.APPLIED)
    assert first.message.startswith(
        "Revoked the sign-in sessions and refresh tokens of Entra user bob@"
    )
    assert first.details == {"previously_valid_from": before}
    assert graph.tenant.users[BOB]["signInSessionsValidFromDateTime"] != before
    assert _writes(graph) == [("POST", f"/users/{BOB}/revokeSignInSessions")] * 2


# --- remove grant: groups -------------------------------------------------------------------


def test_leave_a_group_then_noop(graph: GraphServer, connector: EntraConnector) -> None:
    action = _action(ActionKind.REMOVE_GRANT, BOB, entitlement_id=f"groups/{ENGINEERING}")

    first, again = _twice(connector, action)

    assert first.outcome is ActionOutcome.APPLIED, first.message
    assert first.message == f"Removed user {BOB} from group Engineering."
    assert BOB not in graph.tenant.members[ENGINEERING]
    assert again.outcome is ActionOutcome.NOOP
    assert again.message == f"User {BOB} is not a member of group Engineering."
    assert _writes(graph) == [("DELETE", f"/groups/{ENGINEERING}/members/{BOB}/$ref")]


def test_a_group_held_through_a_nested_group_names_it(
    graph: GraphServer, connector: EntraConnector
) -> None:
    # Frank is in Platform, which is in Engineering, which is in All Staff.
    result = connector.apply(
        _action(ActionKind.REMOVE_GRANT, FRANK, entitlement_id=f"groups/{STAFF}")
    )

    assert result.outcome is ActionOutcome.FAILED
    assert result.message == (
        f"User {FRANK} is in group All Staff through group Platform, not directly: remove that "
        "membership instead."
    )
    assert result.details == {"via": [f"groups/{PLATFORM}"]}
    assert _writes(graph) == []


def test_leaving_a_group_says_when_a_nested_group_still_holds_it(
    graph: GraphServer, connector: EntraConnector
) -> None:
    graph.tenant.members[ENGINEERING].append(FRANK)  # also in Platform, which is in Engineering

    result = connector.apply(
        _action(ActionKind.REMOVE_GRANT, FRANK, entitlement_id=f"groups/{ENGINEERING}")
    )

    assert result.outcome is ActionOutcome.APPLIED
    assert result.message == (
        f"Removed user {FRANK} from group Engineering. It is still a member through group Platform."
    )
    assert FRANK not in graph.tenant.members[ENGINEERING]


def test_a_dynamic_group_cannot_be_left(graph: GraphServer, connector: EntraConnector) -> None:
    result = connector.apply(
        _action(ActionKind.REMOVE_GRANT, EVE, entitlement_id=f"groups/{SALES}")
    )

    assert result.outcome is ActionOutcome.FAILED
    assert result.message.startswith("Group Sales is dynamic: its rule decides who is a member.")
    assert EVE in graph.tenant.members[SALES]


def test_a_group_that_is_gone_is_a_noop(connector: EntraConnector) -> None:
    result = connector.apply(
        _action(ActionKind.REMOVE_GRANT, BOB, entitlement_id=f"groups/{oid('group: gone')}")
    )

    assert result.outcome is ActionOutcome.NOOP


# --- remove grant: app roles and directory roles -------------------------------------------


def test_remove_an_app_role_then_noop(graph: GraphServer, connector: EntraConnector) -> None:
    entitlement = f"servicePrincipals/{SALESFORCE}/appRoles/{SF_ADMIN}"

    first, again = _twice(
        connector, _action(ActionKind.REMOVE_GRANT, ALICE, entitlement_id=entitlement)
    )

    assert first.outcome is ActionOutcome.APPLIED, first.message
    # Alice also holds Salesforce's User role through Engineering; that is another role.
    assert first.message == f"Removed app role {SF_ADMIN} to Salesforce from user {ALICE}."
    assert not any(
        a["principalId"] == ALICE and a["appRoleId"] == SF_ADMIN
        for a in graph.tenant.app_role_assignments.values()
    )
    assert again.outcome is ActionOutcome.NOOP
    [delete] = _writes(graph)
    assert delete[0] == "DELETE" and delete[1].startswith(
        f"/servicePrincipals/{SALESFORCE}/appRoleAssignedTo/"
    )
    # Listing a user's assignments completely is an advanced query: the one place it is sent.
    advanced = [r for r in graph.graph_requests() if "consistencylevel" in r.headers]
    assert {r.path for r in advanced} == {f"/users/{ALICE}/appRoleAssignments"}
    assert all(r.headers["consistencylevel"] == "eventual" for r in advanced)


def test_an_app_role_held_through_a_group_names_it(
    graph: GraphServer, connector: EntraConnector
) -> None:
    entitlement = f"servicePrincipals/{SALESFORCE}/appRoles/{SF_USER}"

    result = connector.apply(_action(ActionKind.REMOVE_GRANT, BOB, entitlement_id=entitlement))

    assert result.outcome is ActionOutcome.FAILED
    assert result.message == (
        f"User {BOB} holds app role {SF_USER} to Salesforce through group Engineering, not "
        "directly: remove that group membership instead."
    )
    assert result.details == {"via": [f"groups/{ENGINEERING}"]}
    assert _writes(graph) == []


def test_default_access_is_named_so(connector: EntraConnector) -> None:
    entitlement = f"servicePrincipals/{WIKI}/appRoles/{DEFAULT_ACCESS}"

    result = connector.apply(_action(ActionKind.REMOVE_GRANT, EVE, entitlement_id=entitlement))

    assert result.outcome is ActionOutcome.APPLIED
    assert result.message == f"Removed default access to Wiki from user {EVE}."


def test_directory_roles_are_not_removed(graph: GraphServer, connector: EntraConnector) -> None:
    action = _action(
        ActionKind.REMOVE_GRANT, ALICE, entitlement_id=f"roleDefinitions/{GLOBAL_ADMIN}"
    )

    result = connector.apply(action)

    assert result.outcome is ActionOutcome.FAILED
    assert "RoleManagement.ReadWrite.Directory" in result.message
    assert graph.graph_requests() == []


@pytest.mark.parametrize(
    ("account", "entitlement", "problem"),
    [
        ("../groups", f"groups/{ENGINEERING}", "is not an Entra user id"),
        (BOB, "groups/../../users", "is not an Entra group or app role"),
        (BOB, "", "(no entitlement given) is not an Entra group or app role"),
    ],
)
def test_ids_that_are_not_object_ids_never_reach_graph(
    graph: GraphServer, connector: EntraConnector, account: str, entitlement: str, problem: str
) -> None:
    result = connector.apply(_action(ActionKind.REMOVE_GRANT, account, entitlement_id=entitlement))

    assert result.outcome is ActionOutcome.FAILED and problem in result.message
    assert graph.graph_requests() == []


def test_actions_need_live_mode_and_their_own_system(tmp_path: Any, graph: GraphServer) -> None:
    export = EntraConnector(
        "entra-prod",
        EntraOptions.model_validate({"type": "entra", "mode": "export", "path": tmp_path}),
    )
    result = export.apply(_action(ActionKind.DISABLE_ACCOUNT, ALICE))
    assert result.outcome is ActionOutcome.FAILED and 'mode = "live"' in result.message

    other = Action(kind=ActionKind.DISABLE_ACCOUNT, system="okta", account_id=ALICE, reason="x")
    assert live_connector(graph).apply(other).outcome is ActionOutcome.FAILED
    with pytest.raises(ActionNotSupported):
        live_connector(graph).apply(_action(ActionKind.DEACTIVATE_CREDENTIAL, ALICE))


def test_a_refused_sign_in_is_a_failed_result(
    graph: GraphServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "not-the-secret")

    result = live_connector(graph).apply(_action(ActionKind.DISABLE_ACCOUNT, ALICE))

    assert result.outcome is ActionOutcome.FAILED
    assert "AADSTS7000215" in result.message
    assert graph.tenant.users[ALICE]["accountEnabled"] is True


# --- permissions ----------------------------------------------------------------------------


def _used(graph: GraphServer, declared: frozenset[str], since: int = 0) -> set[str]:
    """The permissions the requests since ``since`` used: for each, the least privileged of
    the alternatives Graph's documentation names that the declared set holds."""
    used: set[str] = set()
    for request in graph.requests[since:]:
        if not request.graph:
            continue
        alternatives = required_permissions(request.method, request.path, request.query)
        assert alternatives, f"no documented permission for {request.method} {request.path}"
        chosen = next((a for a in alternatives if a <= declared), None)
        assert chosen is not None, f"{request.method} {request.path} is not covered"
        used |= chosen
    return used


def test_declared_permissions_are_exactly_the_ones_used(
    graph: GraphServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    declared = EntraConnector.permissions
    collect, apply = frozenset(declared.collect), frozenset(declared.apply)
    # The app holds what is declared, no more; Graph refuses anything else.
    graph.apps[CLIENT_ID] = App(CLIENT_ID, secret=CLIENT_SECRET, permissions=collect)
    connector = live_connector(graph)

    snapshot = connector.collect()

    assert snapshot.complete and snapshot.errors == (), snapshot.errors
    assert all(r.status < 400 for r in graph.graph_requests())
    assert _used(graph, collect) == collect

    graph.apps[CLIENT_ID] = App(CLIENT_ID, secret=CLIENT_SECRET, permissions=apply)
    actions = [
        _action(ActionKind.DISABLE_ACCOUNT, ALICE),
        _action(ActionKind.REVOKE_SESSIONS, ALICE),
        _action(ActionKind.REMOVE_GRANT, BOB, entitlement_id=f"groups/{ENGINEERING}"),
        _action(ActionKind.REMOVE_GRANT, FRANK, entitlement_id=f"groups/{STAFF}"),
        _action(ActionKind.REMOVE_GRANT, ALICE,
                entitlement_id=f"servicePrincipals/{SALESFORCE}/appRoles/{SF_ADMIN}"),
    ]  # fmt: skip
    apply_used: set[str] = set()
    for action in actions:
        since = len(graph.requests)
        # A fresh connector: its token carries the apply permissions.
        result = live_connector(graph).apply(action)
        assert result.outcome in {ActionOutcome.APPLIED, ActionOutcome.FAILED}, result.message
        assert "Graph refused" not in result.message, result.message
        apply_used |= _used(graph, apply, since)
    assert apply_used == apply
    # Reading is all collection does.
    assert not any("Write" in p or "EnableDisable" in p or "Revoke" in p for p in collect)
    connector.close()


def test_undeclared_permissions_are_refused(graph: GraphServer) -> None:
    """The server's permission check is real: without Application.Read.All, app roles are
    missing and the snapshot says so."""
    held = frozenset(EntraConnector.permissions.collect) - {"Application.Read.All"}
    graph.apps[CLIENT_ID] = App(CLIENT_ID, secret=CLIENT_SECRET, permissions=held)

    snapshot = live_connector(graph).collect()

    assert not snapshot.complete
    assert "403 Authorization_RequestDenied" in str(snapshot.errors[0])
    assert not any(e.kind == "app-role" for e in snapshot.entitlements)
