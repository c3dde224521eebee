"""Okta collection and time: 429s with and without their headers through the SDK's request path,
a server that stops mid-collect, and the collect's deadline."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import pytest

from iam_gov.errors import ConnectorError
from tests.support.okta_server import OktaServer, Org, example_org, generate

from .test_connector import live, okta_env

__all__ = ["okta_env"]

GROUPS = "/api/v1/groups"


@pytest.fixture
def server(okta_env: None) -> Iterator[OktaServer]:
    with OktaServer(example_org()) as running:
        yield running


def statuses(server: OktaServer, route: str) -> list[int]:
    return [s.status for s in server.seen if s.route == route]


# --- 429s --------------------------------------------------------------------------------------


def test_a_429_with_its_reset_header_waits_for_that_reset(okta_env: None) -> None:
    # Okta's windows here last 2 seconds: the header names the end of the current one.
    with OktaServer(example_org(), window=2.0) as server:
        server.fail("GET", r"^/api/v1/groups\?", status=429, times=1)
        snapshot = live(server).collect()

    assert snapshot.complete, snapshot.errors
    assert statuses(server, GROUPS) == [429, 200]
    refused, retried = [s for s in server.seen if s.route == GROUPS]
    assert refused.reset is not None
    # Waited for the reset the header named, on Okta's clock: not before it, and not long
    # after it (no backoff on top).
    assert retried.at >= refused.reset
    assert retried.at - refused.reset < 1.5


def test_a_429_without_rate_limit_headers_backs_off_and_recovers(server: OktaServer) -> None:
    # A proxy that strips the X-Rate-Limit-* headers: the wait is a backoff, not forever.
    server.fail("GET", r"^/api/v1/groups\?", status=429, times=2, rate_headers=False)

    started = time.monotonic()
    snapshot = live(server).collect()

    assert snapshot.complete, snapshot.errors
    assert statuses(server, GROUPS) == [429, 429, 200]
    first, second, third = [s for s in server.seen if s.route == GROUPS]
    # 0.5 s, then 1 s (each plus up to a quarter): not at once, not for minutes.
    assert 0.5 <= second.at - first.at < 2
    assert 1.0 <= third.at - second.at < 3
    assert time.monotonic() - started < 10


# --- a server that stops -------------------------------------------------------------------------


def test_a_server_that_stops_mid_collect_ends_the_collect_in_seconds(okta_env: None) -> None:
    org: Org = generate(400, groups=20, apps=4)
    server = OktaServer(org)
    server.start()
    # Slow factor answers keep the collect busy long enough to pull the plug in its middle.
    server.fail("GET", r"/factors$", status=None, times=None, delay=0.05)
    errors: list[ConnectorError] = []
    ended: list[float] = []

    def collect() -> None:
        try:
            live(server).collect()  # max_retries 4, request_timeout 30 s: the defaults
        except ConnectorError as exc:
            errors.append(exc)
        ended.append(time.monotonic())

    worker = threading.Thread(target=collect)
    worker.start()
    try:
        while len(server.paths("/api/v1/users/{user}/factors")) < 20:
            time.sleep(0.01)
        halted = time.monotonic()
        server.halt()
        worker.join(timeout=30)
    finally:
        server.stop()

    assert not worker.is_alive()
    # Without the collect's patience, each call left would retry for 7.5 s: minutes.
    assert ended[0] - halted < 5
    (error,) = errors
    message = str(error)
    assert message.startswith(f"okta: gave up reading Okta at {server.url} (")
    assert re.search(
        r"the server is not answering \(\d+ calls in a row failed, the last: no ", message
    )
    assert message.endswith("stopped asking; nothing is stored")
    assert "\n" not in message


def test_the_collect_deadline_ends_a_long_rate_limit_wait(server: OktaServer) -> None:
    # Another integration has used up the groups limit for the next 30 seconds.
    server.exhaust("/api/v1/groups", reset_in=30)

    started = time.monotonic()
    with pytest.raises(ConnectorError) as raised:
        live(server, deadline_seconds=1).collect()

    assert time.monotonic() - started < 4
    assert "the collect's deadline" in str(raised.value)
    assert str(raised.value).endswith("nothing is stored")
