"""A live system that dies mid-collect: the collect gives up in seconds, stores nothing of it,
keeps its previous snapshot (stale), writes the failure to the audit log, and the command's
exit code says a system failed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from iam_gov.collect import collect_each
from iam_gov.config import load_config
from iam_gov.exitcodes import EXIT_STALE, data_code
from iam_gov.samplegen import generate
from iam_gov.store import Store
from iam_gov.store.schema import audit_log
from iam_gov.store.snapshots import latest_snapshots, stale_systems
from tests.support.graph_server import CLIENT_SECRET, GraphServer, running_server
from tests.support.graph_tenant import SECRET_ENV, demo_tenant, live_connector
from tests.support.world import AS_OF


@pytest.fixture
def graph(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GraphServer]:
    for server in running_server(tmp_path_factory):  # a server of its own: this test kills it
        server.reset(demo_tenant())
        monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
        yield server


def test_a_dead_graph_fails_entra_fast_and_loud_and_keeps_the_rest(
    store: Store, tmp_path: Path, graph: GraphServer
) -> None:
    company = tmp_path / "company"
    generate(company, people=30, seed=5, as_of=AS_OF)
    config = load_config(company / "iam-gov.toml")
    assert collect_each(config, store).ok  # every system from its export, once
    with store.reading() as conn:
        before = latest_snapshots(conn)["entra"].id

    graph.die_at = lambda method, path: path.endswith("/members")
    live = live_connector(graph, token_provider=graph.issue_token, sleep=time.sleep)

    def factory(name: str, options: Any) -> Any:
        from iam_gov.collect import build_connector

        return live if name == "entra" else build_connector(name, options)

    started = time.monotonic()
    result = collect_each(config, store, factory=factory)
    elapsed = time.monotonic() - started

    assert elapsed < 15, elapsed
    assert list(result.failed) == ["entra"]
    assert "the server is not answering" in result.failed["entra"].reason
    assert {c.system for c in result.collected} == set(config.systems) - {"entra"}
    assert data_code(incomplete=result.incomplete(), failed=result.failed) == EXIT_STALE
    with store.reading() as conn:
        assert latest_snapshots(conn)["entra"].id == before  # nothing of it stored
        stale = stale_systems(conn)["entra"]
        assert stale.snapshot is not None and stale.snapshot.id == before
        failures = [
            row.details
            for row in conn.execute(select(audit_log).where(audit_log.c.action == "collect.failed"))
        ]
    assert len(failures) == 1 and "not answering" in failures[0]["reason"]
