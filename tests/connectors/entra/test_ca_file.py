"""``ca_file``: a private CA trusted for this Entra system's sign-in host and Graph only, with
a server whose certificate that CA issued and an environment that does not trust it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from iam_gov.errors import ConfigError, ConnectorError
from tests.support.graph_server import CLIENT_SECRET, GraphServer, running_server
from tests.support.graph_tenant import SECRET_ENV, demo_tenant, live_connector


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphServer]:
    # The environment's bundle is certifi's: the server's private CA is not in it.
    yield from running_server(tmp_path_factory, ca_in_environment=False)


@pytest.fixture
def graph(server: GraphServer, monkeypatch: pytest.MonkeyPatch) -> GraphServer:
    server.reset(demo_tenant())
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    return server


def test_without_ca_file_signing_in_fails_with_one_line_naming_the_setting(
    graph: GraphServer,
) -> None:
    with pytest.raises(ConnectorError) as raised:
        live_connector(graph).collect()

    message = str(raised.value)
    print(f"\n{message}")
    assert "\n" not in message
    assert message.startswith("entra-prod: Entra tenant ")
    assert "the TLS certificate of 127.0.0.1:" in message and "is not trusted" in message
    assert "set systems.entra-prod.ca_file to that CA's PEM file" in message
    assert CLIENT_SECRET not in message
    assert graph.requests == []  # the handshake failed: nothing was asked


def test_without_ca_file_graph_fails_with_one_line_naming_the_setting(
    graph: GraphServer,
) -> None:
    # Tokens from elsewhere: the first Graph call meets the certificate, and is not retried.
    waits: list[float] = []
    with pytest.raises(ConnectorError) as raised:
        live_connector(graph, waits=waits, token_provider=graph.issue_token).collect()

    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("entra-prod: Microsoft Graph: the TLS certificate of 127.0.0.1:")
    assert "systems.entra-prod.ca_file" in message
    assert waits == []


def test_with_ca_file_both_msal_and_graph_trust_it(graph: GraphServer) -> None:
    connector = live_connector(graph, ca_file=str(graph.ca_file))

    snapshot = connector.collect()

    assert snapshot.complete, snapshot.errors
    assert len(snapshot.accounts) == 6
    # MSAL discovered the tenant and got its token over the same trusted connection.
    assert [r.path.rsplit("/", 1)[-1] for r in graph.requests if not r.graph] == [
        "openid-configuration",
        "token",
    ]
    connector.close()


def test_a_ca_file_that_is_no_pem_is_a_configuration_error(
    graph: GraphServer, tmp_path: Path
) -> None:
    bad = tmp_path / "proxy-ca.pem"
    bad.write_text("not a certificate\n")

    with pytest.raises(ConfigError, match=r"proxy-ca\.pem: cannot be read as PEM CA"):
        live_connector(graph, ca_file=str(bad)).collect()


def test_a_relative_ca_file_is_resolved_beside_the_configuration(tmp_path: Path) -> None:
    from iam_gov.configtypes import BASE_DIR_KEY
    from iam_gov.connectors.entra.connector import EntraOptions

    options = EntraOptions.model_validate(
        {
            "type": "entra",
            "mode": "live",
            "tenant_id": "contoso.onmicrosoft.com",
            "client_id": "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c",
            "client_secret": {"env": "X"},
            "ca_file": "proxy-ca.pem",
        },
        context={BASE_DIR_KEY: tmp_path},
    )
    assert options.ca_file == tmp_path / "proxy-ca.pem"
