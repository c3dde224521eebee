"""Okta collection when the API pushes back: rate limits, 5xx, timeouts, refused credentials,
calls that keep failing; and the credential never shows."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest

from iam_gov.connectors.okta.connector import (
    COLLECT_SCOPES,
    POLICIES_SCOPE,
    OktaConnector,
    OktaOptions,
)
from iam_gov.errors import ConnectorError
from tests.support.okta_server import TOKEN, OktaServer, Org, example_org

from .test_connector import account, live, live_options, okta_env

__all__ = ["okta_env"]  # the fixture, shared with test_connector


@pytest.fixture
def org() -> Org:
    return example_org()


@pytest.fixture
def server(org: Org, okta_env: None) -> Iterator[OktaServer]:
    with OktaServer(org) as running:
        yield running


def statuses(server: OktaServer, route: str) -> list[int]:
    return [s.status for s in server.seen if s.route == route]


# --- rate limits ------------------------------------------------------------------------------


def test_requests_are_paced_to_the_limit_without_a_429(org: Org, okta_env: None) -> None:
    # 5 requests a second per endpoint; the 7 users who can sign in need 7 factor calls.
    with OktaServer(org, rate_limit=5, window=1.0) as server:
        started = time.monotonic()
        snapshot = live(server).collect()
        elapsed = time.monotonic() - started
        factors = [s for s in server.seen if s.route == "/api/v1/users/{user}/factors"]

    assert snapshot.complete, snapshot.errors
    assert [s.status for s in server.seen if s.status == 429] == []
    assert len(factors) == 7
    # No window of the server's ever saw more than its limit: the calls were spread over
    # at least two windows, the reset waited for.
    assert factors[-1].at - factors[0].at >= 0.9
    assert elapsed >= 0.9


def test_a_429_waits_for_the_reset_then_succeeds(server: OktaServer) -> None:
    # Another integration has just used up the groups limit.
    reset = server.exhaust("/api/v1/groups", reset_in=1.0)
    started = time.time()

    snapshot = live(server).collect()

    assert snapshot.complete, snapshot.errors
    groups = [s for s in server.seen if s.route == "/api/v1/groups"]
    assert [s.status for s in groups] == [429, 200]
    refused, retried = groups
    assert refused.reset == reset
    # The retry came once the window had reset, not before, and it was answered.
    assert retried.at >= reset
    assert retried.at - refused.at >= reset - refused.at - 0.01
    assert time.time() - started >= reset - started


def test_still_rate_limited_after_many_waits_is_a_problem_not_a_hang(
    org: Org, okta_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from iam_gov.connectors.okta import client as okta_http

    monkeypatch.setattr(okta_http, "_MAX_RATE_LIMIT_WAITS", 1)
    with OktaServer(org, window=0.5) as server:
        server.fail("GET", r"^/api/v1/apps\?", status=429, times=None)
        snapshot = live(server).collect()

    assert not snapshot.complete
    (error,) = snapshot.errors
    assert error.source == "/api/v1/apps"
    assert "HTTP 429" in error.message and "still rate limited" in error.message


# --- 5xx, timeouts, failures ------------------------------------------------------------------


def test_a_5xx_is_retried_with_backoff(server: OktaServer) -> None:
    server.fail("GET", r"^/api/v1/groups\?", status=503, times=2)

    snapshot = live(server).collect()

    assert snapshot.complete, snapshot.errors
    groups = [s for s in server.seen if s.route == "/api/v1/groups"]
    assert [s.status for s in groups] == [503, 503, 200]
    # Backoff: 0.5 s, then 1 s (each plus up to a quarter).
    assert groups[1].at - groups[0].at >= 0.5
    assert groups[2].at - groups[1].at >= 1.0


def test_a_slow_answer_times_out_and_is_asked_again(server: OktaServer, org: Org) -> None:
    bob = org.user("bob@example.com").id
    server.fail("GET", f"/users/{bob}/factors", status=None, times=1, delay=1.5)

    snapshot = live(server, request_timeout=0.5).collect()

    assert snapshot.complete, snapshot.errors
    assert account(snapshot, org, "bob").mfa_factors == ()
    assert len([s for s in server.seen if s.path == f"/api/v1/users/{bob}/factors"]) == 2


def test_factors_that_keep_failing_leave_that_user_unknown(server: OktaServer, org: Org) -> None:
    alice = org.user("alice@example.com").id
    server.fail("GET", f"/users/{alice}/factors", status=500, times=None)

    snapshot = live(server, max_retries=1).collect()

    assert not snapshot.complete
    (error,) = snapshot.errors
    assert (error.source, error.record) == ("/api/v1/users/{id}/factors", alice)
    assert error.message.startswith("MFA factors unknown: HTTP 500 E0000009 Internal Server Error")
    assert "after 2 attempts" in error.message
    assert account(snapshot, org, "alice").mfa_factors is None
    assert account(snapshot, org, "erin").mfa_factors == ("webauthn",)
    assert len(snapshot.accounts) == 10


def test_a_page_that_keeps_failing_stops_that_listing(server: OktaServer) -> None:
    server.max_page = 3
    server.fail("GET", r"^/api/v1/users\?.*after=", status=502, times=None)

    snapshot = live(server, max_retries=0).collect()

    assert not snapshot.complete
    (error,) = snapshot.errors
    assert error.source == "/api/v1/users"
    assert (
        error.message
        == "the listing stopped: HTTP 502 E0000009 Internal Server Error (after 1 attempts)"
    )
    # The first page and the deactivated users were read; the rest are not taken as gone.
    assert len(snapshot.accounts) >= 4


def test_a_refused_kind_of_call_is_reported_once(org: Org, okta_env: None) -> None:
    for n in range(30):
        org.add_group(f"Team {n}")
    with OktaServer(org) as server:
        server.fail("GET", r"/api/v1/groups/\w+/roles", status=403, times=None)
        snapshot = live(server).collect()

    assert not snapshot.complete
    (error,) = snapshot.errors
    assert error.source == "/api/v1/groups/{id}/roles"
    assert error.message.startswith(
        "refused, so admin roles held through groups are unknown: HTTP 403"
    )
    # Calls already under way when the first refusal came back may still go out (8 at
    # once by default), but not one per group.
    assert len(statuses(server, "/api/v1/groups/{group}/roles")) <= 8


def test_refused_password_policies_are_not_judged_and_nothing_else_is_lost(
    server: OktaServer,
) -> None:
    # An admin role, or an OAuth token, without okta.policies.read.
    server.fail("GET", r"^/api/v1/policies\?", status=403, times=None)

    snapshot = live(server).collect()

    # As the LDAP connector does with a policy entry it may not read: the policy is unknown,
    # the access data complete.
    assert snapshot.complete
    assert "password_policies" not in snapshot.settings
    (note,) = snapshot.errors
    assert note.source == "/api/v1/policies?type=PASSWORD"
    assert note.message == (
        "the password policies were refused (HTTP 403 E0000006 You do not have permission to "
        "perform the requested action); they are not judged"
    )
    assert len(snapshot.accounts) == 10 and len(snapshot.grants) > 0
    assert statuses(server, "/api/v1/policies") == [403]


def test_password_policies_that_keep_failing_are_not_judged(server: OktaServer) -> None:
    server.fail("GET", r"^/api/v1/policies\?", status=500, times=None)

    snapshot = live(server, max_retries=1).collect()

    assert snapshot.complete
    assert "password_policies" not in snapshot.settings
    (note,) = snapshot.errors
    assert note.message.startswith("the password policies could not be read (HTTP 500")
    assert statuses(server, "/api/v1/policies") == [500, 500]


def test_a_user_deleted_while_listing_is_not_a_gap(server: OktaServer, org: Org) -> None:
    # Both the factors and the user itself answer 404 (E0000007): the user is gone.
    bob = org.user("bob@example.com").id
    server.fail("GET", f"/users/{bob}(/factors)?$", status=404, times=None)

    snapshot = live(server).collect()

    assert snapshot.complete
    (note,) = snapshot.errors
    assert note.record == bob and note.message.startswith("deleted while being read: HTTP 404")
    assert server.paths("/api/v1/users/{user}") == [f"/api/v1/users/{bob}"]


def test_a_sub_resource_that_is_not_there_is_unknown_not_deleted(
    server: OktaServer, org: Org
) -> None:
    # The same E0000007 for the members of a group that is still there: the endpoint is
    # missing (a proxy), for every group: said once, not asked again, the snapshot incomplete.
    for n in range(20):
        org.add_group(f"Team {n}")
    server.fail("GET", r"^/api/v1/groups/\w+/users", status=404, times=None)

    snapshot = live(server, concurrency=1).collect()

    assert not snapshot.complete
    (error,) = snapshot.errors
    assert error.source == "/api/v1/groups/{id}/users" and error.record is None
    assert error.message.startswith("not available (HTTP 404 E0000007 Not found")
    assert "although group" in error.message and error.message.endswith(
        "exists), so group members are unknown"
    )
    assert error.consequence is not None and error.consequence.startswith("group members unknown")
    assert len(server.paths("/api/v1/groups/{group}/users")) == 1
    assert len(server.paths("/api/v1/groups/{group}")) == 1


# --- credentials --------------------------------------------------------------------------------


def test_a_refused_token_is_one_clear_error(
    server: OktaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKTA_API_TOKEN", "00Wrong-Token-Value-abcdef")

    with pytest.raises(ConnectorError) as raised:
        live(server).collect()

    message = str(raised.value)
    assert message == (
        f"okta: cannot read Okta at {server.url}: HTTP 401 E0000011 Invalid token provided"
    )
    assert "00Wrong" not in message
    assert len(server.seen) == 1


def test_an_unreachable_org_is_one_clear_error(okta_env: None) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    options = OktaOptions.model_validate(
        {
            "type": "okta",
            "mode": "live",
            "org_url": f"http://127.0.0.1:{port}",
            "allow_http": True,
            "api_token": {"env": "OKTA_API_TOKEN"},
            "max_retries": 0,
        }
    )

    with pytest.raises(ConnectorError) as raised:
        OktaConnector("okta", options).collect()

    message = str(raised.value)
    assert message.startswith(f"okta: cannot read Okta at http://127.0.0.1:{port}: no response")
    assert "\n" not in message


def test_a_missing_token_variable_is_one_clear_error(
    server: OktaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OKTA_API_TOKEN")

    with pytest.raises(
        ConnectorError, match="api_token: environment variable OKTA_API_TOKEN is not set"
    ):
        live(server).collect()


def test_the_token_never_shows(
    server: OktaServer, org: Org, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from iam_gov.model import Action, ActionKind

    caplog.set_level(logging.DEBUG)
    connector = live(server, max_retries=0)
    server.fail("GET", "/factors", status=500, times=None)
    snapshot = connector.collect()
    action = Action(
        kind=ActionKind.REMOVE_GRANT,
        system="okta",
        account_id=org.user("alice@example.com").id,
        entitlement_id=org.group("Engineering").id,
        reason="test",
    )
    server.fail("DELETE", "/users/", status=403, times=None)
    result = connector.apply(action)
    monkeypatch.setenv("OKTA_API_TOKEN", TOKEN[:-1] + "X")
    with pytest.raises(ConnectorError) as raised:
        connector.collect()

    shown = [
        repr(connector),
        repr(connector.options),
        connector.options.model_dump_json(),
        snapshot.model_dump_json(),
        result.model_dump_json(),
        str(raised.value),
        caplog.text,
    ]
    assert not snapshot.complete and result.outcome.value == "failed"
    assert not any(TOKEN[:-1] in text for text in shown)


# --- OAuth 2.0 service app ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def key_pair() -> tuple[str, bytes]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def oauth(
    server: OktaServer, monkeypatch: pytest.MonkeyPatch, private_key: str, **extra: object
) -> OktaConnector:
    monkeypatch.setenv("OKTA_PRIVATE_KEY", private_key)
    options = OktaOptions.model_validate(
        {
            "type": "okta",
            "mode": "live",
            "org_url": server.url,
            "allow_http": True,
            "client_id": "0oaServiceApp",
            "private_key": {"env": "OKTA_PRIVATE_KEY"},
            "key_id": "key-1",
            **extra,
        }
    )
    return OktaConnector("okta", options)


def test_an_oauth_service_app_with_the_read_scopes_collects(
    server: OktaServer, key_pair: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    private, public = key_pair
    server.add_oauth_client("0oaServiceApp", public, COLLECT_SCOPES)

    snapshot = oauth(server, monkeypatch, private).collect()

    assert snapshot.complete, snapshot.errors
    assert snapshot == live(server).collect().model_copy(
        update={"collected_at": snapshot.collected_at}
    )
    # Every call went with the access token, which the server checked against the scope the
    # call needs.
    assert {s.status for s in server.seen} == {200}


def test_an_oauth_app_without_a_scope_is_one_clear_error(
    server: OktaServer, key_pair: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    private, public = key_pair
    server.add_oauth_client("0oaServiceApp", public, set(COLLECT_SCOPES) - {"okta.roles.read"})

    with pytest.raises(ConnectorError) as raised:
        oauth(server, monkeypatch, private).collect()

    message = str(raised.value)
    assert message.startswith(f"okta: cannot read Okta at {server.url}: no OAuth access token:")
    assert "okta.roles.read" in message
    assert "PRIVATE KEY" not in message


def test_an_oauth_app_without_the_policies_scope_collects_when_told_not_to_read_them(
    server: OktaServer, key_pair: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    private, public = key_pair
    server.add_oauth_client("0oaServiceApp", public, set(COLLECT_SCOPES) - {POLICIES_SCOPE})

    snapshot = oauth(server, monkeypatch, private, collect_password_policies=False).collect()

    assert snapshot.complete
    assert "password_policies" not in snapshot.settings
    (note,) = snapshot.errors
    assert "collect_password_policies = false" in note.message
    assert not any(s.route.startswith("/api/v1/policies") for s in server.seen)
    assert {s.status for s in server.seen} == {200}


def test_options_never_hold_the_secret(server: OktaServer) -> None:
    options = live_options(server)

    assert options.api_token is not None and options.api_token.env == "OKTA_API_TOKEN"
    assert TOKEN not in options.model_dump_json()
