"""The Entra settings as documented: the two first-run examples collect (pointed at the local
Graph, secrets from the environment), and the service URLs are checked before any call."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from iam_gov.configtypes import BASE_DIR_KEY
from iam_gov.connectors.entra.connector import EntraConnector, EntraOptions
from tests.support.graph_server import CLIENT_ID, CLIENT_SECRET, App, GraphServer, running_server
from tests.support.graph_tenant import demo_tenant

# The first-run examples of the README, verbatim (tests/test_readme_first_run.py)
WITH_SECRET = """\
[systems.entra]
type = "entra"
mode = "live"
tenant_id = "contoso.onmicrosoft.com"
client_id = "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c"
client_secret = { env = "ENTRA_CLIENT_SECRET" }
"""
WITH_CERTIFICATE = """\
[systems.entra]
type = "entra"
mode = "live"
tenant_id = "7b3c9d2e-1f4a-4c8b-9e6d-5a2f1b0c3d4e"
client_id = "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c"
# The key and its certificate in one PEM (no thumbprint needed); upload the certificate to
# the app registration (Certificates & secrets).
certificate_private_key = { env = "ENTRA_CERTIFICATE_PEM" }
ca_file = "/etc/iam-gov/proxy-ca.pem"
deadline_seconds = 1800
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphServer]:
    yield from running_server(tmp_path_factory)


@pytest.fixture
def graph(server: GraphServer) -> GraphServer:
    server.reset(demo_tenant())
    return server


def _pointed_at(example: str, graph: GraphServer) -> dict[str, Any]:
    """The example's table, its tenant and hosts (and CA file) the local server's."""
    table = dict(tomllib.loads(example)["systems"]["entra"])
    assert table["client_id"] == CLIENT_ID
    table["tenant_id"] = graph.tenant_id
    table["authority_host"] = graph.url
    table["graph_url"] = graph.url
    if "ca_file" in table:
        table["ca_file"] = str(graph.ca_file)
    return table


def test_first_run_with_a_client_secret(
    graph: GraphServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ENTRA_CLIENT_SECRET", CLIENT_SECRET)
    options = EntraOptions.model_validate(
        _pointed_at(WITH_SECRET, graph), context={BASE_DIR_KEY: tmp_path}
    )

    snapshot = EntraConnector("entra", options).collect()

    assert snapshot.complete, snapshot.errors
    assert len(snapshot.accounts) == 6
    assert [r.path.rsplit("/", 1)[-1] for r in graph.requests if not r.graph][-1] == "token"


def test_first_run_with_a_certificate(
    graph: GraphServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.connectors.entra.test_connector import _client_certificate

    key_pem, cert_pem, _ = _client_certificate()
    graph.apps[CLIENT_ID] = App(CLIENT_ID, certificate_pem=cert_pem)
    monkeypatch.setenv("ENTRA_CERTIFICATE_PEM", key_pem + cert_pem.decode())
    options = EntraOptions.model_validate(
        _pointed_at(WITH_CERTIFICATE, graph), context={BASE_DIR_KEY: tmp_path}
    )
    assert options.deadline_seconds == 1800 and options.ca_file == graph.ca_file

    snapshot = EntraConnector("entra", options).collect()

    assert snapshot.complete, snapshot.errors
    assert len(snapshot.accounts) == 6


# --- the service URLs ---------------------------------------------------------------------

BASE = {
    "type": "entra",
    "mode": "live",
    "tenant_id": "contoso.onmicrosoft.com",
    "client_id": CLIENT_ID,
    "client_secret": {"env": "X"},
}


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"authority_host": "http://login.microsoftonline.com"}, "authority_host: must be https"),
        ({"authority_host": "http://127.0.0.1:8443"}, "authority_host: must be https"),
        ({"graph_url": "http://graph.example.net"}, "graph_url: must be https (http only to"),
        ({"graph_url": "https://graph.microsoft.com/v1.0"}, "graph_url: only the root"),
        ({"graph_url": "https://graph.microsoft.com/?x=1"}, "graph_url: only the root"),
        ({"graph_url": "https://user:pw@graph.example.net"}, "graph_url: no user or password"),
        ({"graph_url": "graph.microsoft.com"}, "graph_url: expected https://host"),
        ({"graph_url": "https://graph.example.net:99999"}, "graph_url: not a URL"),
        (
            {"authority_host": "https://login.microsoftonline.us"},
            "authority_host login.microsoftonline.us signs in to the US Government cloud",
        ),
        (
            {
                "authority_host": "https://login.partner.microsoftonline.cn",
                "graph_url": "https://graph.microsoft.us",
            },
            "set both for one cloud",
        ),
    ],
)
def test_service_urls_are_checked(options: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(problem)):
        EntraOptions.model_validate({**BASE, **options})


@pytest.mark.parametrize(
    ("options", "authority", "graph"),
    [
        ({}, "https://login.microsoftonline.com", "https://graph.microsoft.com"),
        (
            {
                "authority_host": "https://login.microsoftonline.us/",
                "graph_url": "https://dod-graph.microsoft.us",
            },
            "https://login.microsoftonline.us",
            "https://dod-graph.microsoft.us",
        ),  # fmt: skip
        (
            {
                "authority_host": "https://login.proxy.example:8443",
                "graph_url": "http://127.0.0.1:8080",
            },
            "https://login.proxy.example:8443",
            "http://127.0.0.1:8080",
        ),  # fmt: skip
        (
            {"graph_url": "http://[::1]:8080"},
            "https://login.microsoftonline.com",
            "http://[::1]:8080",
        ),  # fmt: skip
    ],
)
def test_service_urls_that_are_accepted(
    options: dict[str, object], authority: str, graph: str
) -> None:
    parsed = EntraOptions.model_validate({**BASE, **options})
    assert (parsed.authority_host, parsed.graph_url) == (authority, graph)
