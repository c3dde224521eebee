"""The two "first run" Okta configurations of the settings guide, collected as written: only the
org's address is pointed at a local Okta (over HTTPS, so that nothing else has to change), the
secret comes from the environment variable the example names."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from iam_gov.config import BASE_DIR_KEY
from iam_gov.connectors.okta.connector import OktaConnector, OktaOptions
from tests.support.okta_server import TOKEN, OktaServer, example_org

EXAMPLE_ORG = "https://example.okta.com"

API_TOKEN_EXAMPLE = """\
[systems.okta]
type = "okta"
mode = "live"
org_url = "https://example.okta.com"
api_token = { env = "OKTA_API_TOKEN" }   # an SSWS token of a read-only administrator
"""

OAUTH_EXAMPLE = """\
[systems.okta]
type = "okta"
mode = "live"
org_url = "https://example.okta.com"
client_id = "0oa8serviceapp0example"     # the API service app's client id
private_key = { env = "OKTA_PRIVATE_KEY" }   # its private key, PEM or JWK
key_id = "iam-gov-1"                     # the key's kid in the app's public keys
"""


@pytest.fixture
def https_okta(tmp_path: Path) -> Iterator[OktaServer]:
    """A local Okta over HTTPS whose certificate this process trusts, and no environment
    setting that would change what the SDK does."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "SSL_CERT_DIR"):
            patch.delenv(name, raising=False)
        patch.delenv("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", raising=False)
        with OktaServer(example_org(), tls_folder=tmp_path) as server:
            # The trust store, with the server's CA in it: what SSL_CERT_FILE does, had it been
            # set before aiohttp made its default context (when it is imported).
            import aiohttp.connector

            trusted = aiohttp.connector._make_ssl_context(True)
            trusted.load_verify_locations(cafile=server.ca_file)
            patch.setattr(aiohttp.connector, "_SSL_CONTEXT_VERIFIED", trusted)
            yield server


def section(example: str, server: OktaServer, base_dir: Path) -> OktaOptions:
    """The example's ``[systems.okta]`` table as the configuration loader reads it, with the
    org's address (and nothing else) replaced."""
    assert example.count(EXAMPLE_ORG) == 1
    table = tomllib.loads(example.replace(EXAMPLE_ORG, server.url))["systems"]["okta"]
    return OktaOptions.model_validate(table, context={BASE_DIR_KEY: base_dir})


def test_the_api_token_example_collects(
    https_okta: OktaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKTA_API_TOKEN", TOKEN)
    options = section(API_TOKEN_EXAMPLE, https_okta, tmp_path)

    snapshot = OktaConnector("okta", options).collect()

    assert https_okta.url.startswith("https://") and not options.allow_http
    assert snapshot.complete, snapshot.errors
    assert len(snapshot.accounts) == 10 and snapshot.settings["password_policies"]


def test_the_oauth_service_app_example_collects(
    https_okta: OktaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from iam_gov.connectors.okta.connector import COLLECT_SCOPES

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    https_okta.add_oauth_client("0oa8serviceapp0example", public, COLLECT_SCOPES)
    monkeypatch.setenv("OKTA_PRIVATE_KEY", private)
    options = section(OAUTH_EXAMPLE, https_okta, tmp_path)

    snapshot = OktaConnector("okta", options).collect()

    assert snapshot.complete, snapshot.errors
    assert len(snapshot.accounts) == 10
    # Every call after the token went with the service app's access token.
    assert all(s.status == 200 for s in https_okta.seen)
