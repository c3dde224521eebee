"""`config check --connect` for Entra: sign in through MSAL, then one small Graph read per declared
application permission, against the local Entra and Graph: consented permissions read, a
refused one named (with what the token's roles claim says), a refused sign-in or an
unreachable Graph one clear error."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from iam_gov.connectors.entra.access import GROUP_PIM, PROBES, token_roles
from iam_gov.connectors.entra.connector import COLLECT_PERMISSIONS, EntraConnector
from iam_gov.connectors.shared.protocol import AccessCheck
from iam_gov.errors import ConnectorError
from tests.support.connect_check import company_with_live, connect_check, table_rows
from tests.support.graph_server import CLIENT_ID, CLIENT_SECRET, App, GraphServer, running_server
from tests.support.graph_tenant import SECRET_ENV, demo_tenant, live_connector

ROLES = "RoleManagement.Read.Directory"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphServer]:
    yield from running_server(tmp_path_factory)


@pytest.fixture
def graph(server: GraphServer, monkeypatch: pytest.MonkeyPatch) -> GraphServer:
    server.reset(demo_tenant())
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    return server


def consent(graph: GraphServer, permissions: frozenset[str]) -> None:
    graph.apps[CLIENT_ID] = App(CLIENT_ID, secret=CLIENT_SECRET, permissions=permissions)


def results(checks: list[AccessCheck]) -> dict[str, bool | None]:
    return {check.permission: check.ok for check in checks}


def test_every_declared_permission_has_a_read_to_try_it_with() -> None:
    assert set(EntraConnector.permissions.collect) <= set(PROBES)


def test_an_app_with_exactly_the_declared_permissions_reads_each_once(graph: GraphServer) -> None:
    consent(graph, frozenset(COLLECT_PERMISSIONS))

    checks = live_connector(graph).check_access()

    assert [c.permission for c in checks] == list(COLLECT_PERMISSIONS)
    assert all(c.ok for c in checks), checks
    # Signed in through MSAL, then one small read per permission, each allowed by it.
    reads = graph.graph_requests()
    assert len(reads) == len(COLLECT_PERMISSIONS)
    assert {r.status for r in reads} == {200}
    asked = {r.path: r.query for r in reads}
    assert asked["/users"] == {"$select": "id", "$top": "1"}
    assert asked["/groups"] == {"$select": "id", "$top": "1"}
    assert asked["/roleManagement/directory/roleAssignments"]["$filter"].startswith(
        "roleDefinitionId eq "
    )
    pim = asked["/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances"]
    assert re.fullmatch(r"principalId eq '[0-9a-f-]{36}'", pim["$filter"])
    users = checks[0]
    assert users.detail == "GET /users?$select=id&$top=1: read (1 of the users)"
    assert all(CLIENT_SECRET not in c.detail for c in checks)


def test_a_permission_not_consented_is_missing_and_the_others_granted(graph: GraphServer) -> None:
    consent(graph, frozenset(COLLECT_PERMISSIONS) - {ROLES})

    checks = live_connector(graph).check_access()

    assert results(checks) == {p: p != ROLES for p in COLLECT_PERMISSIONS}
    roles = next(c for c in checks if c.permission == ROLES)
    assert "refused: 403 Authorization_RequestDenied" in roles.detail
    assert f"the token's roles claim lacks {ROLES}" in roles.detail


def test_what_the_tenant_is_not_licensed_for_is_not_conclusive(graph: GraphServer) -> None:
    graph.tenant.premium = False  # no Entra ID P1: the registration report is refused
    graph.tenant.governance = False  # no Entra ID P2: PIM is refused

    checks = results(live_connector(graph).check_access())

    assert checks["AuditLog.Read.All"] is None and checks[GROUP_PIM] is None
    assert all(ok for p, ok in checks.items() if p not in {"AuditLog.Read.All", GROUP_PIM})


def test_pim_off_is_not_asked(graph: GraphServer) -> None:
    checks = live_connector(graph, pim=False).check_access()

    assert results(checks)[GROUP_PIM] is None
    assert not any("privilegedAccess" in r.path for r in graph.graph_requests())


def test_a_wrong_secret_is_one_clear_error(
    graph: GraphServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "wrong~secret-value")

    with pytest.raises(ConnectorError) as raised:
        live_connector(graph).check_access()

    message = str(raised.value)
    assert message.startswith(f"entra-prod: Entra tenant {graph.tenant_id} (client {CLIENT_ID})")
    assert "invalid_client (AADSTS7000215)" in message
    assert "wrong~secret-value" not in message and "\n" not in message
    assert graph.graph_requests() == []


def test_a_token_graph_refuses_is_one_clear_error(graph: GraphServer) -> None:
    with pytest.raises(ConnectorError) as raised:
        live_connector(graph, token_provider=lambda: "not-a-token").check_access()

    assert str(raised.value).startswith(
        f"entra-prod: Microsoft Graph at {graph.url} refused the token: GET /users: 401 "
        "InvalidAuthenticationToken"
    )
    assert "not-a-token" not in str(raised.value)


def test_a_graph_that_does_not_answer_is_one_clear_error(graph: GraphServer) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed = f"https://127.0.0.1:{free.getsockname()[1]}"
    connector = live_connector(
        graph, token_provider=graph.issue_token, graph_url=closed, max_retries=0
    )

    with pytest.raises(ConnectorError) as raised:
        connector.check_access()

    assert str(raised.value).startswith(
        f"entra-prod: Microsoft Graph at {closed} cannot be reached: GET /users: ConnectError"
    )


def test_an_export_has_nothing_to_connect_to(tmp_path: Path) -> None:
    from iam_gov.connectors.entra.connector import EntraOptions

    options = EntraOptions.model_validate({"type": "entra", "mode": "export", "path": tmp_path})
    assert EntraConnector("entra", options).check_access() == []


def test_the_roles_claim_is_read_only_from_a_jwt() -> None:
    assert token_roles("opaque") is None
    assert token_roles("a.!!!.c") is None


# --- the command ------------------------------------------------------------------------------


def test_config_check_connect_names_the_missing_permission_and_exits_4(
    graph: GraphServer, tmp_path: Path
) -> None:
    consent(graph, frozenset(COLLECT_PERMISSIONS) - {ROLES})
    live_table = (
        f'[systems.entra]\ntype = "entra"\nmode = "live"\ntenant_id = "{graph.tenant_id}"\n'
        f'client_id = "{CLIENT_ID}"\nclient_secret = {{ env = "{SECRET_ENV}" }}\n'
        f'authority_host = "{graph.url}"\ngraph_url = "{graph.url}"\n\n'
    )
    config = company_with_live(tmp_path, "entra", live_table)

    ran = connect_check(config, "entra", tmp_path)

    assert ran.returncode == 4, ran.stdout + ran.stderr
    assert table_rows(ran.stdout, "entra") == {
        p: "MISSING" if p == ROLES else "granted" for p in COLLECT_PERMISSIONS
    }
    assert "403 Authorization_RequestDenied" in ran.stdout
    assert CLIENT_SECRET not in ran.stdout + ran.stderr
