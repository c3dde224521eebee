"""`config check --connect` for Okta: sign in, then one small read per declared scope through the
SDK, against the local Okta: granted scopes read, a refused one named, a refused sign-in or an
unreachable org one clear error."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from iam_gov.connectors.okta.access import PROBES
from iam_gov.connectors.okta.connector import COLLECT_SCOPES, POLICIES_SCOPE, OktaConnector
from iam_gov.connectors.shared.protocol import AccessCheck
from iam_gov.errors import ConnectorError
from tests.support.connect_check import company_with_live, connect_check, table_rows
from tests.support.okta_server import TOKEN, OktaServer, Org, example_org

from .test_client import key_pair, oauth
from .test_connector import export, live, okta_env

__all__ = ["key_pair", "okta_env"]


@pytest.fixture(scope="module")
def org() -> Org:
    return example_org()


@pytest.fixture
def server(org: Org, okta_env: None) -> Iterator[OktaServer]:
    with OktaServer(org) as running:
        yield running


def results(checks: list[AccessCheck]) -> dict[str, bool | None]:
    return {check.permission: check.ok for check in checks}


def test_every_declared_scope_has_a_read_to_try_it_with() -> None:
    assert set(OktaConnector.permissions.collect) <= set(PROBES)


def test_an_admin_token_with_every_scope_reads_each_once(server: OktaServer) -> None:
    checks = live(server).check_access()

    assert [c.permission for c in checks] == list(COLLECT_SCOPES)
    assert all(c.ok for c in checks), checks
    # One small read per scope, the collect's own calls: one item asked for where Okta
    # takes a limit, and nothing else read.
    asked = {(s.path, s.query.get("limit"), s.query.get("type")) for s in server.seen}
    assert asked == {
        ("/api/v1/users", "1", None),
        ("/api/v1/groups", "1", None),
        ("/api/v1/apps", "1", None),
        ("/api/v1/iam/assignees/users", "1", None),
        ("/api/v1/policies", None, "PASSWORD"),
    }
    assert len(server.seen) == len(COLLECT_SCOPES)
    users = next(c for c in checks if c.permission == "okta.users.read")
    assert users.detail == "GET /api/v1/users?limit=1: read (1 of the users)"
    assert all(TOKEN not in c.detail for c in checks)


def test_a_scope_the_administrator_lacks_is_missing_and_the_others_granted(
    server: OktaServer,
) -> None:
    server.refused_scopes.add("okta.roles.read")

    checks = live(server).check_access()

    assert results(checks) == {scope: scope != "okta.roles.read" for scope in COLLECT_SCOPES}
    roles = next(c for c in checks if c.permission == "okta.roles.read")
    assert roles.detail.startswith("GET /api/v1/iam/assignees/users?limit=1: refused: HTTP 403")
    assert "E0000006 You do not have permission" in roles.detail


def test_without_the_assignee_list_one_user_s_roles_prove_the_scope(server: OktaServer) -> None:
    server.assignees_available = False

    checks = live(server).check_access()

    assert all(c.ok for c in checks), checks
    roles = next(c for c in checks if c.permission == "okta.roles.read")
    assert "not available" in roles.detail
    assert re.search(r"GET /api/v1/users/\w+/roles: read$", roles.detail)


def test_policies_not_collected_are_not_asked_for(server: OktaServer) -> None:
    server.refused_scopes.add(POLICIES_SCOPE)

    checks = live(server, collect_password_policies=False).check_access()

    assert results(checks)[POLICIES_SCOPE] is None
    assert not any(s.path.startswith("/api/v1/policies") for s in server.seen)
    assert all(ok for scope, ok in results(checks).items() if scope != POLICIES_SCOPE)


def test_an_oauth_app_gets_one_token_per_scope_and_a_scope_not_granted_is_missing(
    server: OktaServer, key_pair: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    private, public = key_pair
    server.add_oauth_client("0oaServiceApp", public, set(COLLECT_SCOPES) - {"okta.roles.read"})

    checks = oauth(server, monkeypatch, private).check_access()

    assert results(checks) == {scope: scope != "okta.roles.read" for scope in COLLECT_SCOPES}
    roles = next(c for c in checks if c.permission == "okta.roles.read")
    assert "invalid_scope" in roles.detail and "okta.roles.read" in roles.detail
    assert "PRIVATE KEY" not in roles.detail
    # Each read went with a token of its own scope alone, which the server checked.
    assert {s.status for s in server.seen} == {200}
    assert sorted(len(scopes) for scopes in server.access_tokens.values()) == [1, 1, 1, 1]


def test_an_oauth_app_that_may_read_but_not_as_an_admin_is_refused_per_read(
    server: OktaServer, key_pair: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Granted the scope, but the app's admin role does not allow the call: 403 on the read.
    private, public = key_pair
    server.add_oauth_client("0oaServiceApp", public, COLLECT_SCOPES)
    server.fail("GET", r"^/api/v1/apps\?", 403)

    checks = oauth(server, monkeypatch, private).check_access()

    assert results(checks) == {scope: scope != "okta.apps.read" for scope in COLLECT_SCOPES}


def test_a_wrong_token_is_one_clear_error(
    server: OktaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKTA_API_TOKEN", "00Wrong-Token")

    with pytest.raises(ConnectorError) as raised:
        live(server).check_access()

    message = str(raised.value)
    assert message == (
        f"okta: Okta at {server.url} refused the sign-in: HTTP 401 E0000011 Invalid token provided"
    )
    assert "00Wrong-Token" not in message


def test_an_oauth_app_okta_does_not_know_is_one_clear_error(
    server: OktaServer, key_pair: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    private, _ = key_pair

    with pytest.raises(ConnectorError) as raised:
        oauth(server, monkeypatch, private).check_access()

    assert "refused the sign-in: no OAuth access token" in str(raised.value)
    assert "invalid_client" in str(raised.value)
    assert "PRIVATE KEY" not in str(raised.value)


def test_an_org_that_does_not_answer_is_one_clear_error(okta_env: None) -> None:
    with OktaServer(example_org()) as gone:
        url = gone.url
    connector = OktaConnector("okta", live(gone).options.model_copy(update={"max_retries": 0}))

    with pytest.raises(ConnectorError) as raised:
        connector.check_access()

    assert str(raised.value).startswith(f"okta: cannot read Okta at {url}: no response from Okta")


def test_an_export_has_nothing_to_connect_to(tmp_path: Path) -> None:
    assert export(tmp_path).check_access() == []


# --- the command ------------------------------------------------------------------------------


def test_config_check_connect_names_the_missing_scope_and_exits_4(
    server: OktaServer, tmp_path: Path
) -> None:
    server.refused_scopes.add("okta.roles.read")
    live_table = (
        f'[systems.okta]\ntype = "okta"\nmode = "live"\norg_url = "{server.url}"\n'
        'allow_http = true\napi_token = { env = "OKTA_API_TOKEN" }\n\n'
    )
    config = company_with_live(tmp_path, "okta", live_table)

    ran = connect_check(config, "okta", tmp_path)

    assert ran.returncode == 4, ran.stdout + ran.stderr
    assert table_rows(ran.stdout, "okta") == {
        scope: "MISSING" if scope == "okta.roles.read" else "granted" for scope in COLLECT_SCOPES
    }
    assert "refused: HTTP 403 E0000006" in ran.stdout
    assert TOKEN not in ran.stdout + ran.stderr
