"""A simple bind over plain ldap:// to another host is refused unless allow_plaintext = true:
the bind password would cross the network in clear text. Loopback stays allowed."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from iam_gov.connectors.ldap.client import Settings, connect
from iam_gov.connectors.ldap.connector import LDAPOptions
from iam_gov.errors import ConnectorError
from tests.support.slapd import ThrowawaySlapd, free_port

from .conftest import collect

REMOTE = "ldap://dc1.corp.example.com"


def _options(**extra: Any) -> LDAPOptions:
    return LDAPOptions.model_validate(
        {
            "type": "ldap",
            "flavor": "openldap",
            "mode": "live",
            "url": REMOTE,
            "bind_dn": "cn=iam-gov,dc=example,dc=org",
            "bind_password": {"env": "LDAP_PASSWORD"},
            "base_dn": "dc=example,dc=org",
            **extra,
        }
    )


def test_plain_ldap_to_another_host_is_refused_in_one_line() -> None:
    with pytest.raises(ValidationError) as raised:
        _options()

    (error,) = raised.value.errors()
    assert error["msg"] == (
        f"Value error, {REMOTE} would send the bind password in clear text: use ldaps://, "
        "start_tls = true, or allow_plaintext = true to accept that"
    )
    # A failover list is refused for its one plain URL too.
    with pytest.raises(ValidationError, match="dc2.corp.example.com would send"):
        _options(url=["ldaps://dc1.corp.example.com", "ldap://dc2.corp.example.com"])


@pytest.mark.parametrize(
    "extra",
    [
        {"allow_plaintext": True},
        {"start_tls": True},
        {"url": "ldaps://dc1.corp.example.com"},
        {"url": ["ldap://127.0.0.1:389", "ldap://[::1]:389", "ldap://localhost"]},
    ],
    ids=["allow_plaintext", "start_tls", "ldaps", "loopback"],
)
def test_tls_loopback_or_an_explicit_choice_is_accepted(extra: dict[str, Any]) -> None:
    assert _options(**extra).url


def test_export_mode_has_no_bind_to_refuse() -> None:
    options = LDAPOptions.model_validate(
        {"type": "ldap", "flavor": "openldap", "mode": "export", "path": "users.ldif"}
    )
    assert options.allow_plaintext is False


def test_loopback_binds_in_plain_text_without_the_option(slapd: ThrowawaySlapd) -> None:
    assert slapd.url.startswith("ldap://127.0.0.1:")
    assert collect(slapd).complete


def _settings(url: str, **extra: Any) -> Settings:
    return Settings(
        urls=(url,),
        bind_dn="cn=iam-gov,dc=example,dc=org",
        start_tls=False,
        ca_file=None,
        tls_verify=True,
        timeout=1.0,
        **extra,
    )


def test_the_client_refuses_too_before_sending_anything() -> None:
    # 192.0.2.0/24 is TEST-NET-1: nothing answers there; the refusal must come first.
    url = f"ldap://192.0.2.1:{free_port()}"

    with pytest.raises(ConnectorError) as raised:
        connect(_settings(url), SecretStr("s3cret-Canary"), system="ad", read_only=True)

    assert str(raised.value) == (
        f"ad: {url} would receive the bind password in clear text: use ldaps://, "
        "start_tls = true, or allow_plaintext = true to accept that"
    )


def test_allow_plaintext_still_warns_on_every_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"ldap://192.0.2.1:{free_port()}"

    with (
        caplog.at_level(logging.WARNING, logger="iam_gov.connectors.ldap"),
        pytest.raises(ConnectorError, match="cannot connect to the directory"),
    ):
        connect(
            _settings(url, allow_plaintext=True),
            SecretStr("s3cret-Canary"),
            system="ad",
            read_only=True,
        )

    assert f"allow_plaintext = true: binding to {url} without TLS" in caplog.text
    assert "s3cret-Canary" not in caplog.text
