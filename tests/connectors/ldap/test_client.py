"""The LDAP client against a real slapd: paged searches, StartTLS and LDAPS with the server's
certificate verified, failover, and credentials refused once, never shown."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest

from iam_gov.errors import ConnectorError
from tests.support.slapd import (
    PASSWORD_ENV,
    Operation,
    ThrowawaySlapd,
    free_port,
)

from .conftest import collect


def _user_searches(operations: list[Operation]) -> list[Operation]:
    return [op for op in operations if op.kind == "SRCH" and "person" in op.filter]


def test_searches_are_paged(slapd: ThrowawaySlapd) -> None:
    mark = slapd.log_mark()
    paged = collect(slapd, page_size=3)
    pages = len(_user_searches(slapd.operations_since(mark)))

    mark = slapd.log_mark()
    whole = collect(slapd, page_size=1000)
    assert len(_user_searches(slapd.operations_since(mark))) == 2  # users, then password holders

    users, holders = len(paged.accounts), len(paged.credentials)
    assert (users, holders) == (15, 14)
    # Two paged searches, users and the users with a password, 3 entries a page.
    assert pages == math.ceil(users / 3) + math.ceil(holders / 3)
    assert paged == whole


def test_starttls_and_ldaps_verify_the_server_certificate(slapd: ThrowawaySlapd) -> None:
    start_tls = collect(
        slapd, url=f"ldap://localhost:{slapd.port}", start_tls=True, ca_file=slapd.ca_file
    )
    ldaps = collect(slapd, url=slapd.ldaps_url, ca_file=slapd.ca_file)
    plain = collect(slapd)

    assert start_tls.complete and ldaps.complete
    assert start_tls == plain and ldaps == plain
    # Without our CA the system's trust store does not know the server: refused.
    with pytest.raises(ConnectorError) as refused:
        collect(slapd, url=slapd.ldaps_url)
    assert str(refused.value) == (
        f"ldap: cannot connect to the directory: {slapd.ldaps_url}: TLS: the server's "
        "certificate is not trusted (self-signed certificate in certificate chain); give "
        "ca_file, the CA certificate that issued it"
    )
    # The certificate names localhost only: the same server by address is refused.
    address = f"ldap://127.0.0.1:{slapd.port}"
    with pytest.raises(ConnectorError) as refused:
        collect(slapd, url=address, start_tls=True, ca_file=slapd.ca_file)
    assert str(refused.value).endswith(
        f"{address}: TLS: the server's certificate is for localhost, not 127.0.0.1"
    )


def test_a_missing_ca_file_is_one_clear_error(slapd: ThrowawaySlapd, tmp_path: Path) -> None:
    missing = tmp_path / "corp-ca.pem"

    with pytest.raises(ConnectorError) as raised:
        collect(slapd, url=slapd.ldaps_url, ca_file=missing)

    assert str(raised.value) == (
        f"ldap: ca_file {missing} is not a readable file of PEM certificates"
    )


def test_tls_verify_false_warns_loudly(
    slapd: ThrowawaySlapd, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="iam_gov.connectors.ldap"):
        snapshot = collect(slapd, url=slapd.ldaps_url, tls_verify=False)

    assert "NOT verified" in caplog.text
    assert snapshot.complete  # the data is all there; the warning stays with it
    assert [e.message for e in snapshot.errors] == [
        "tls_verify = false: the server's certificate was not verified"
    ]


def test_fails_over_to_the_next_url(slapd: ThrowawaySlapd) -> None:
    dead = f"ldap://127.0.0.1:{free_port()}"

    snapshot = collect(slapd, url=[dead, slapd.url], timeout=2)

    assert snapshot.complete and len(snapshot.accounts) == 15


def test_no_server_answering_is_one_clear_error(slapd: ThrowawaySlapd) -> None:
    dead = [f"ldap://127.0.0.1:{free_port()}", f"ldap://127.0.0.1:{free_port()}"]

    with pytest.raises(ConnectorError) as raised:
        collect(slapd, url=dead, timeout=2)

    message = str(raised.value)
    assert message.startswith("ldap: cannot connect to the directory: ")
    assert dead[0] in message and dead[1] in message and "\n" not in message


def test_a_refused_password_is_not_retried_nor_shown(
    slapd: ThrowawaySlapd, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "Wr0ng-but-Secret!"
    monkeypatch.setenv(PASSWORD_ENV, wrong)
    mark = slapd.log_mark()

    with pytest.raises(ConnectorError) as raised:
        collect(slapd, url=[slapd.url, slapd.url])

    message = str(raised.value)
    assert "refused the bind as cn=iam-gov,dc=example,dc=org: invalidCredentials" in message
    assert wrong not in message and wrong not in repr(raised.value)
    binds = [op for op in slapd.operations_since(mark) if op.kind == "BIND"]
    assert len(binds) == 1  # the second server would refuse it too, and count a failure
