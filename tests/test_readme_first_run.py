"""The README's first-run examples are the ones the connector tests run against the local
servers: a user copying one gets a configuration that has been shown to collect."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.connectors.aws import test_first_run as aws
from tests.connectors.entra import test_settings as entra
from tests.connectors.hr import test_live_cli as hr
from tests.connectors.ldap import test_first_run as ldap
from tests.connectors.okta import test_settings_examples as okta
from tests.connectors.openvpn import test_first_run as openvpn
from tests.connectors.wireguard import test_first_run as wireguard

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")

TESTED = {
    "okta API token": okta.API_TOKEN_EXAMPLE,
    "okta OAuth service app": okta.OAUTH_EXAMPLE,
    "entra client secret": entra.WITH_SECRET,
    "entra certificate": entra.WITH_CERTIFICATE,
    "AD over LDAPS": ldap.AD_OVER_LDAPS,
    "OpenLDAP": ldap.OPENLDAP,
    "AWS profile": aws.WITH_A_PROFILE,
    "AWS role": aws.WITH_A_ROLE,
    "AWS endpoint_url": aws.WITH_AN_ENDPOINT,
    "OpenVPN management": openvpn.FIRST_RUN_MANAGEMENT,
    "OpenVPN RADIUS mfa_from": openvpn.FIRST_RUN_RADIUS,
    "WireGuard sudo": wireguard.FIRST_RUN_WG,
}


@pytest.mark.parametrize("name", sorted(TESTED))
def test_each_tested_example_is_in_the_readme_as_written(name: str) -> None:
    assert TESTED[name].strip() in README, f"the README's {name} example differs from the test's"


@pytest.mark.parametrize("name", sorted(hr.FIRST_RUN))
def test_each_tested_hr_example_is_in_the_readme(name: str) -> None:
    # the lines naming {server} or {ca} point the test at the local server instead of the
    # real service (the README names the real one); every other line is as written
    lines = hr.FIRST_RUN[name].splitlines()
    kept = [line for line in lines if "{server}" not in line and "{ca}" not in line]
    assert kept
    for line in kept:
        assert f"\n{line}\n" in README, (name, line)
