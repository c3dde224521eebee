"""Okta over plain http: only on a loopback address, only when asked for, and said loudly."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from iam_gov.connectors.okta.connector import OktaOptions
from tests.support.okta_server import OktaServer, Org, example_org

from .test_connector import live, okta_env

__all__ = ["okta_env"]


def options(org_url: str, **extra: Any) -> OktaOptions:
    return OktaOptions.model_validate(
        {
            "type": "okta",
            "mode": "live",
            "org_url": org_url,
            "api_token": {"env": "OKTA_API_TOKEN"},
            **extra,
        }
    )


@pytest.fixture
def org() -> Org:
    return example_org()


@pytest.fixture
def server(org: Org, okta_env: None) -> Iterator[OktaServer]:
    with OktaServer(org) as running:
        yield running


def test_http_without_allow_http_is_refused_by_the_options(monkeypatch: pytest.MonkeyPatch) -> None:
    # Not later by the SDK, with a message about its own environment variable; and that
    # variable does not let it through either.
    monkeypatch.setenv("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", "true")
    with pytest.raises(ValidationError) as raised:
        options("http://127.0.0.1:8080")

    assert (
        "org_url http://127.0.0.1:8080 is plain http: set allow_http = true to read a local "
        "test server or proxy on this machine (or use https://)"
    ) in str(raised.value)
    assert "OKTA_TESTING" not in str(raised.value)


@pytest.mark.parametrize(
    "url", ["http://example.okta.com", "http://10.0.0.5:8080", "http://okta-proxy.internal"]
)
def test_http_across_a_network_is_refused_even_when_allowed(url: str) -> None:
    with pytest.raises(ValidationError, match="http:// sends the token in clear"):
        options(url, allow_http=True)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080", "http://127.8.0.1"],
)
def test_http_on_loopback_is_accepted_when_allowed(url: str) -> None:
    assert options(url, allow_http=True).allow_http


def test_allowed_http_collects_and_warns(
    server: OktaServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="iam_gov.connectors.okta")

    snapshot = live(server).collect()  # allow_http = true, no SDK variable set

    assert snapshot.complete, snapshot.errors
    (warning,) = [r for r in caplog.records if r.name == "iam_gov.connectors.okta"]
    assert warning.levelno == logging.WARNING
    assert f"org_url {server.url} is plain http (allow_http = true)" in warning.getMessage()
    assert "unencrypted" in warning.getMessage()
