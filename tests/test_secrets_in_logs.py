"""Credentials never reach the logs, at any level: an LDAP bind password and an Entra client
secret, through a collect that works and one that is refused, against the local servers.
(The Okta token: tests/connectors/okta/test_client.py::test_the_token_never_shows.)"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from iam_gov.connectors.ldap.connector import LDAPConnector
from iam_gov.errors import ConnectorError
from tests.support.graph_server import CLIENT_SECRET, GraphServer, running_server
from tests.support.graph_tenant import SECRET_ENV, demo_tenant, live_connector
from tests.support.slapd import (
    PASSWORD_ENV,
    SERVICE_PASSWORD,
    ThrowawaySlapd,
    free_port,
    live_options,
    seeded_slapd,
)

WRONG_PASSWORD = "wr0ng-Bind-Passw0rd!"
WRONG_SECRET = "Yy7~wrong-secret-value_0123456789abcdef"


@pytest.fixture(scope="module")
def slapd() -> Iterator[ThrowawaySlapd]:
    with seeded_slapd() as server:
        yield server


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphServer]:
    yield from running_server(tmp_path_factory)


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    """Everything logged, the arguments substituted, and the raw arguments too (a handler
    with another format could print them)."""
    return "\n".join(
        [caplog.text] + [f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records]
    )


def test_the_ldap_bind_password_is_never_logged(
    slapd: ThrowawaySlapd, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    snapshot = LDAPConnector("ldap", live_options(slapd)).collect()
    # tls_verify = false logs a warning on every connection: the log is not empty.
    unverified = live_options(slapd, url=slapd.ldaps_url, tls_verify=False)
    assert LDAPConnector("ldap", unverified).collect().accounts == snapshot.accounts
    # A failover list whose first server is dead, then a refused bind.
    failover = live_options(slapd, url=[f"ldap://127.0.0.1:{free_port()}", slapd.url], timeout=2)
    assert LDAPConnector("ldap", failover).collect().complete
    monkeypatch.setenv(PASSWORD_ENV, WRONG_PASSWORD)
    with pytest.raises(ConnectorError, match="refused the bind"):
        LDAPConnector("ldap", live_options(slapd)).collect()

    logged = _logged(caplog)
    assert snapshot.complete and caplog.records, "nothing was logged: the test proves nothing"
    assert SERVICE_PASSWORD not in logged
    assert WRONG_PASSWORD not in logged


def test_the_entra_client_secret_is_never_logged(
    graph: GraphServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    graph.reset(demo_tenant())
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)

    snapshot = live_connector(graph).collect()
    monkeypatch.setenv(SECRET_ENV, WRONG_SECRET)
    graph.echo_secret = True  # a careless endpoint that quotes the wrong secret back
    try:
        with pytest.raises(ConnectorError, match="invalid_client"):
            live_connector(graph).collect()
    finally:
        graph.echo_secret = False

    logged = _logged(caplog)
    assert snapshot.complete and caplog.records, "nothing was logged: the test proves nothing"
    assert CLIENT_SECRET not in logged
    assert WRONG_SECRET not in logged
