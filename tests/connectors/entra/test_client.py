"""Entra connector against a misbehaving Graph: paging, throttling, outages, refused sign-ins,
and secrets that must never show."""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from iam_gov.connectors.entra.client import retry_after
from iam_gov.connectors.entra.connector import EntraOptions
from iam_gov.errors import ConnectorError
from tests.support.graph_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    App,
    Fault,
    GraphServer,
    oid,
    running_server,
)
from tests.support.graph_tenant import (
    SECRET_ENV,
    demo_tenant,
    live_connector,
)

ENGINEERING = oid("group: Engineering")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphServer]:
    yield from running_server(tmp_path_factory)


@pytest.fixture
def graph(server: GraphServer, monkeypatch: pytest.MonkeyPatch) -> GraphServer:
    server.reset(demo_tenant())
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    return server


def _users_pages(graph: GraphServer) -> list[str]:
    return [r.query.get("$skiptoken", "") for r in graph.graph_requests() if r.path == "/users"]


# --- paging and throttling ------------------------------------------------------------------


def test_follows_next_links_over_several_pages(graph: GraphServer) -> None:
    whole = live_connector(graph, token_provider=graph.issue_token).collect()
    graph.requests.clear()
    graph.page_size = 2

    paged = live_connector(graph, token_provider=graph.issue_token).collect()

    assert paged.complete, paged.errors
    assert paged == whole
    # Six users in three pages; the query ($select, $top) travels in each nextLink.
    pages = [r for r in graph.graph_requests() if r.path == "/users"]
    assert len(pages) == 3 and all("signInActivity" in r.query["$select"] for r in pages)
    assert [bool(p) for p in _users_pages(graph)] == [False, True, True]
    members = [r for r in graph.graph_requests() if r.path == f"/groups/{ENGINEERING}/members"]
    assert len(members) == 2  # three members


def test_waits_as_long_as_retry_after_says(graph: GraphServer) -> None:
    graph.page_size = 2
    graph.faults.append(
        Fault("GET", "/users", 429, skip=1, headers={"Retry-After": "7"}, query="skiptoken")
    )
    waits: list[float] = []

    snapshot = live_connector(graph, waits=waits, token_provider=graph.issue_token).collect()

    assert waits == [7.0]
    assert snapshot.complete and len(snapshot.accounts) == 6
    statuses = [r.status for r in graph.graph_requests() if r.path == "/users"]
    assert statuses == [200, 200, 429, 200]  # the second page was asked for again


def test_backs_off_exponentially_with_jitter_without_retry_after(graph: GraphServer) -> None:
    graph.faults.append(Fault("GET", "/groups", 503, times=3, code="ServiceUnavailable"))
    waits: list[float] = []

    snapshot = live_connector(graph, waits=waits, token_provider=graph.issue_token).collect()

    assert snapshot.complete
    assert len(waits) == 3
    for attempt, wait in enumerate(waits):
        assert 0.5 * 2**attempt <= wait <= 2**attempt, waits


def test_a_part_that_keeps_failing_makes_the_snapshot_incomplete(graph: GraphServer) -> None:
    graph.faults.append(
        Fault("GET", f"/groups/{ENGINEERING}/members", 504, times=-1, code="GatewayTimeout",
              message="The gateway did not receive a response in time")
    )  # fmt: skip
    waits: list[float] = []

    snapshot = live_connector(
        graph, waits=waits, token_provider=graph.issue_token, max_retries=2
    ).collect()

    assert not snapshot.complete
    assert len(waits) == 2
    [error] = snapshot.errors
    assert error.source == "/groups/{id}/members" and error.record == ENGINEERING
    assert error.message.startswith(f"GET /groups/{ENGINEERING}/members: 504 GatewayTimeout: ")
    assert error.message.endswith("the members of group Engineering are unknown")
    # Everything else is there; what Engineering's members would have brought is not.
    frank = {(g.entitlement_id, g.via) for g in snapshot.grants if g.account_id == oid("frank")}
    assert frank == {(f"groups/{oid('group: Platform')}", None)}
    assert any(g.entitlement_id.startswith("roleDefinitions/") for g in snapshot.grants)
    assert any(e.kind == "app-role" for e in snapshot.entitlements)


def test_other_errors_are_not_retried(graph: GraphServer) -> None:
    graph.faults.append(Fault("GET", "/servicePrincipals", 500, code="InternalServerError"))
    waits: list[float] = []

    snapshot = live_connector(graph, waits=waits, token_provider=graph.issue_token).collect()

    assert waits == []
    assert not snapshot.complete
    assert [e.source for e in snapshot.errors] == ["/servicePrincipals"]
    assert not any(e.kind == "app-role" for e in snapshot.entitlements)


def test_users_cut_short_keeps_the_first_pages(graph: GraphServer) -> None:
    graph.page_size = 4
    graph.faults.append(
        Fault("GET", "/users", 500, code="UnknownError", query="skiptoken", times=-1)
    )

    snapshot = live_connector(graph, token_provider=graph.issue_token).collect()

    assert not snapshot.complete
    assert len(snapshot.accounts) == 4
    messages = [str(e) for e in snapshot.errors]
    assert messages[0].startswith("/users: GET /users: 500 UnknownError")
    assert snapshot.errors[0].message.endswith("the users after it are missing")
    # It says what cannot be concluded without them.
    consequence = snapshot.errors[0].consequence or ""
    assert consequence.startswith("the users after it are unknown: their accounts are not")
    # Group members who were not read are said to be unknown, not left out silently.
    assert any("is a user that was not read" in m for m in messages[1:])
    account_ids = {a.native_id for a in snapshot.accounts}
    assert all(g.account_id in account_ids for g in snapshot.grants)


def test_a_next_link_elsewhere_is_not_followed(graph: GraphServer) -> None:
    graph.page_size = 3
    graph.link_base = "https://graph.example.net"

    snapshot = live_connector(graph, token_provider=graph.issue_token).collect()

    assert not snapshot.complete
    assert "UnexpectedLink" in str(snapshot.errors[0])
    # The token went nowhere else: every request this server saw is a first page.
    assert all("$skiptoken" not in r.query for r in graph.graph_requests())


def test_retry_after_as_a_date() -> None:
    in_a_minute = datetime.now(UTC) + timedelta(seconds=60)
    wait = retry_after(email.utils.format_datetime(in_a_minute, usegmt=True))
    assert wait is not None and 55 <= wait <= 60
    assert retry_after("3") == 3.0
    assert retry_after("soon") is None and retry_after(None) is None
    assert retry_after("100000") == 300.0  # capped


# --- refusals before any data -----------------------------------------------------------------


def test_a_tenant_that_refuses_the_user_list_is_an_error(graph: GraphServer) -> None:
    graph.apps[CLIENT_ID] = App(
        CLIENT_ID, secret=CLIENT_SECRET, permissions=frozenset({"Domain.Read.All"})
    )

    with pytest.raises(ConnectorError) as raised:
        live_connector(graph).collect()

    message = str(raised.value)
    assert message.startswith("entra-prod: cannot list the tenant's users: GET /users: 403 ")
    assert "Authorization_RequestDenied" in message and "\n" not in message


def test_a_wrong_secret_names_the_tenant_and_the_code_never_the_secret(
    graph: GraphServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "Yy7~wrong-secret-value_0123456789abcdef"
    monkeypatch.setenv(SECRET_ENV, wrong)
    graph.echo_secret = True  # a careless endpoint that quotes it back
    connector = live_connector(graph)

    with pytest.raises(ConnectorError) as raised:
        connector.collect()

    message = str(raised.value)
    assert message.startswith(f"entra-prod: Entra tenant {graph.tenant_id} (client {CLIENT_ID}): ")
    assert "invalid_client (AADSTS7000215)" in message
    assert wrong not in message and "**********" in message
    assert wrong not in repr(connector) and wrong not in repr(connector.options)
    assert wrong not in connector.options.model_dump_json()
    assert graph.graph_requests() == []


def test_an_unknown_application(graph: GraphServer) -> None:
    other = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"

    with pytest.raises(ConnectorError, match=r"unauthorized_client \(AADSTS700016\)"):
        live_connector(graph, client_id=other).collect()


def test_an_unknown_tenant(graph: GraphServer) -> None:
    with pytest.raises(ConnectorError) as raised:
        live_connector(graph, tenant_id="contoso-typo.onmicrosoft.com").collect()

    message = str(raised.value)
    assert "Entra tenant contoso-typo.onmicrosoft.com" in message
    assert "AADSTS90002: Tenant 'contoso-typo.onmicrosoft.com' not found." in message


def test_an_unreachable_authority(graph: GraphServer) -> None:
    with pytest.raises(ConnectorError, match=r"https://127\.0\.0\.1:9/.* cannot be reached"):
        live_connector(graph, authority_host="https://127.0.0.1:9", timeout=2).collect()


def test_a_missing_secret_is_a_configuration_error(
    graph: GraphServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from iam_gov.errors import ConfigError

    monkeypatch.delenv(SECRET_ENV)

    with pytest.raises(
        ConfigError,
        match=f"systems.entra-prod.client_secret: environment variable {SECRET_ENV} is not set",
    ):
        live_connector(graph).collect()


def test_the_secret_is_nowhere_in_a_snapshot(graph: GraphServer) -> None:
    connector = live_connector(graph)

    snapshot = connector.collect()

    assert CLIENT_SECRET not in snapshot.model_dump_json()
    assert CLIENT_SECRET not in repr(connector) + repr(connector.options) + repr(vars(connector))


# --- options ----------------------------------------------------------------------------------


LIVE = {"mode": "live", "tenant_id": "t", "client_id": CLIENT_ID}
SECRET = {"client_secret": {"env": "X"}}


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({**LIVE, "tenant_id": None, **SECRET}, "needs tenant_id"),
        (LIVE, "exactly one credential"),
        ({**LIVE, **SECRET, "certificate_private_key": {"env": "Y"}}, "exactly one credential"),
        (
            {**LIVE, **SECRET, "certificate_thumbprint": "A" * 40},
            "certificate_thumbprint goes with certificate_private_key",
        ),
        ({**LIVE, **SECRET, "tenant_id": "t/../x"}, "tenant_id"),
        ({**LIVE, **SECRET, "graph_url": "http://graph.microsoft.com"}, "graph_url"),
        ({**LIVE, **SECRET, "path": "export"}, 'path only apply to mode = "export"'),
        ({"mode": "export"}, 'mode = "export" needs path'),
        (
            {"mode": "export", "path": "x", "tenant_id": "t"},
            'tenant_id only apply to mode = "live"',
        ),
        ({**LIVE, "client_secret": "in-the-file"}, "client_secret"),
    ],
)
def test_options_are_checked(options: dict[str, object], problem: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=problem.replace("(", r"\(")):
        EntraOptions.model_validate({"type": "entra", **options})
