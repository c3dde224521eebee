"""`iam-gov export` for Entra: the live tenant read through MSAL and Graph, written as raw Graph
answers in the export layout, reads back as the same snapshot."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.entra.connector import EntraConnector, EntraOptions
from iam_gov.connectors.shared.export_folder import write_options
from iam_gov.connectors.shared.protocol import ExportNotSupported
from iam_gov.model import SystemSnapshot
from tests.support.graph_server import CLIENT_SECRET, Fault, GraphServer, oid, running_server
from tests.support.graph_tenant import NOW, SECRET_ENV, demo_tenant, live_connector

ENGINEERING = oid("group: Engineering")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphServer]:
    yield from running_server(tmp_path_factory)


@pytest.fixture
def graph(server: GraphServer, monkeypatch: pytest.MonkeyPatch) -> GraphServer:
    server.reset(demo_tenant())
    server.page_size = 2  # every list on several pages
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    return server


def _read_back(out: Path) -> SystemSnapshot:
    """The folder read with the options table written beside it, as a user would paste it."""
    table = tomllib.loads((out / "iam-gov-export.toml").read_text())["systems"]["entra-prod"]
    assert table["path"] == "."
    options = EntraOptions.model_validate({**table, "path": out / table["path"]})
    return EntraConnector("entra-prod", options).collect()


def _comparable(snapshot: SystemSnapshot) -> dict[str, Any]:
    return snapshot.model_dump(exclude={"source", "collected_at", "errors"})


def test_the_export_reads_back_as_the_live_snapshot(graph: GraphServer, tmp_path: Path) -> None:
    connector = live_connector(graph)  # signs in through MSAL with the client secret
    live = connector.collect()
    graph.requests.clear()

    written = connector.write_export(tmp_path)
    write_options(tmp_path, "entra-prod", written.options)
    exported = _read_back(tmp_path)

    assert live.complete and written.problems == ()
    assert exported.complete, exported.errors
    assert _comparable(exported) == _comparable(live)
    assert exported.collected_at == NOW  # exported_at: when it was read
    assert exported.errors == live.errors == ()
    # Every page is a file of its own, exactly the body Graph sent.
    assert {"users.json", "users-2.json", "users-3.json"} <= {str(f) for f in written.files}
    assert all((tmp_path / f).is_file() for f in written.files)
    first = json.loads((tmp_path / "users.json").read_text())
    assert first["@odata.context"].endswith("$metadata#users")
    assert first["@odata.nextLink"].startswith(f"{graph.url}/v1.0/users?")
    pages = [r for r in graph.graph_requests() if r.path == "/users"]
    assert len(pages) == 3 == len([f for f in written.files if f.name.startswith("users")])
    connector.close()


def test_no_secret_is_written(graph: GraphServer, tmp_path: Path) -> None:
    written = live_connector(graph).write_export(tmp_path)

    assert dict(written.options) == {
        "type": "entra",
        "mode": "export",
        "path": ".",
        "exported_at": NOW,
    }
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert CLIENT_SECRET not in path.read_text()


def test_what_could_not_be_read_is_said_and_reads_back_incomplete(
    graph: GraphServer, tmp_path: Path
) -> None:
    graph.faults.append(
        Fault("GET", f"/groups/{ENGINEERING}/members", 403, code="Authorization_RequestDenied",
              message="Insufficient privileges to complete the operation.", times=-1)
    )  # fmt: skip

    written = live_connector(graph, token_provider=graph.issue_token).write_export(tmp_path)
    write_options(tmp_path, "entra-prod", written.options)
    exported = _read_back(tmp_path)

    [problem] = written.problems
    assert "403 Authorization_RequestDenied" in problem
    assert "access held through group Engineering is not concluded" in problem
    assert not (tmp_path / "group-members" / f"{ENGINEERING}.json").exists()
    assert not exported.complete
    [missing] = [e for e in exported.errors if e.consequence]
    assert missing.source == str(tmp_path / "group-members" / f"{ENGINEERING}.json")
    assert missing.consequence == "access held through group Engineering is not concluded"


def test_an_export_cannot_be_exported(tmp_path: Path) -> None:
    options = EntraOptions.model_validate({"type": "entra", "mode": "export", "path": tmp_path})

    with pytest.raises(ExportNotSupported, match='export needs mode = "live"'):
        EntraConnector("entra-prod", options).write_export(tmp_path / "out")
