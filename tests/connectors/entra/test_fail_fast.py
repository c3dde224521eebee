"""A Graph that stops answering mid-collect ends the collect in seconds, and fails the
system (its previous snapshot stays the latest) rather than storing a mostly empty one."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from iam_gov.errors import ConnectorError
from tests.support.graph_server import CLIENT_SECRET, Fault, GraphServer, running_server
from tests.support.graph_tenant import SECRET_ENV, demo_tenant, live_connector


@pytest.fixture
def graph(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GraphServer]:
    # A server of its own: these tests kill it.
    for server in running_server(tmp_path_factory):
        server.reset(demo_tenant())
        monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
        yield server


def test_a_server_gone_mid_collect_ends_it_in_seconds(graph: GraphServer) -> None:
    # The server dies as the first group's members are asked for: users, domains and groups
    # were read; the members, roles, PIM, applications and MFA were not.
    graph.die_at = lambda method, path: path.endswith("/members")
    connector = live_connector(graph, token_provider=graph.issue_token, sleep=time.sleep)

    started = time.monotonic()
    with pytest.raises(ConnectorError) as raised:
        connector.collect()
    elapsed = time.monotonic() - started

    print(f"\nGraph gone mid-collect: the collect gave up after {elapsed:.1f} s (real waits)")
    assert elapsed < 10, elapsed
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"entra-prod: Microsoft Graph at {graph.url}: ")
    assert "the server is not answering (3 calls in a row failed" in message
    assert "nothing of this collect is kept (the previous snapshot stays the latest)" in message
    assert graph.dead


def test_a_server_too_slow_for_the_deadline_ends_at_the_deadline(graph: GraphServer) -> None:
    # Alive, but throttling every call: the deadline, not the breaker, ends it.
    graph.faults.append(Fault("GET", "/groups", 429, times=-1, headers={"Retry-After": "1"}))
    connector = live_connector(
        graph,
        token_provider=graph.issue_token,
        sleep=time.sleep,
        deadline_seconds=2.5,
        max_retries=20,
    )

    started = time.monotonic()
    with pytest.raises(ConnectorError, match=r"the collect's deadline of 2 s passed"):
        connector.collect()
    elapsed = time.monotonic() - started

    print(f"\nthrottled past a 2.5 s deadline: gave up after {elapsed:.1f} s")
    assert 2.4 <= elapsed < 5, elapsed


def test_failures_apart_do_not_open_the_breaker(graph: GraphServer) -> None:
    # Two calls in a row fail (500 is not retried), then Graph answers again: the breaker
    # closes, and the collect goes on with what failed said unknown.
    graph.faults.append(Fault("GET", "/domains", 500, code="UnknownError"))
    graph.faults.append(Fault("GET", "/groups", 500, code="UnknownError"))

    snapshot = live_connector(graph, token_provider=graph.issue_token).collect()

    assert not snapshot.complete
    sources = [e.source for e in snapshot.errors]
    assert sources[:2] == ["/domains", "/groups"]
    assert len(snapshot.accounts) == 6 and any(g.entitlement_id.startswith("roleDefinitions/")
                                               for g in snapshot.grants)  # fmt: skip


def test_the_default_deadline_is_an_hour() -> None:
    from iam_gov.connectors.entra.connector import EntraOptions

    assert EntraOptions.model_fields["deadline_seconds"].default == 3600.0
