"""The WireGuard connector's registration, options and inputs: a saved dump or the server's
own files, what makes them unusable, and ``wg`` failing."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from iam_gov.connectors import connector_class
from iam_gov.connectors.wireguard.connector import WireGuardConnector, WireGuardOptions
from iam_gov.errors import ConnectorError, SourceError
from tests.connectors.wireguard.office import (
    NOW,
    Keys,
    accounts_of,
    connector,
    exported,
)
from tests.support.unavailable import unavailable


def test_registered_under_its_type_name() -> None:
    assert connector_class("wireguard") is WireGuardConnector


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"exported_at": "2026-03-01T00:00:00Z"}, "exported_at only applies with dump_file"),
        (
            {"dump_file": "wg0.dump", "wg_command": ["sudo", "wg"]},
            "wg_command does not apply with dump_file",
        ),
        ({"interface": "wg0; reboot"}, "String should match pattern"),
        ({"interface": "a-very-long-interface"}, "String should match pattern"),
        ({"comment_convention": "guess"}, "Input should be 'auto', 'iam-gov' or 'off'"),
        ({"private_key": "x"}, "Extra inputs are not permitted"),
    ],
)
def test_options_are_checked(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        WireGuardOptions.model_validate({"type": "wireguard", "config": "wg0.conf", **options})


def test_the_configuration_alone(files: Path, keys: Keys) -> None:
    snapshot = connector(files).collect()
    accounts = accounts_of(snapshot)

    assert snapshot.complete and snapshot.source == "live" and snapshot.collected_at == NOW
    assert keys.ghost not in accounts
    assert all(a.last_login_at is None for a in snapshot.accounts)
    assert all("interface" not in a.attributes for a in snapshot.accounts)
    # Nothing was watched: no claim about who was not seen.
    assert "observation" not in snapshot.settings
    assert snapshot.settings["wireguard"]["handshakes"] is None
    assert snapshot.settings["wireguard"]["config_mode"] == "0600"
    # Without the mapping, bob is named by his comment alone.
    assert (accounts[keys.bob].employee_id, accounts[keys.bob].attributes["identity_from"]) == (
        None,
        "comment",
    )
    assert accounts[keys.ci].login == f"peer-{keys.ci[:8]}"


def test_exported_at_defaults_to_the_dump_file_time(files: Path) -> None:
    taken = datetime(2026, 2, 27, 23, 0, tzinfo=UTC)
    os.utime(files / "wg0.dump", (taken.timestamp(), taken.timestamp()))

    snapshot = connector(files, dump_file="wg0.dump").collect()

    assert snapshot.collected_at == taken
    assert snapshot.complete
    assert [str(e) for e in snapshot.errors] == [
        f"{files / 'wg0.dump'}: exported_at not given: taken to be the file's modification "
        "time, 2026-02-27 23:00 UTC"
    ]
    # Without the interface's start, only the moment of the dump is certain.
    assert snapshot.settings["observation"] == {"observed_since": taken.isoformat()}


@pytest.mark.parametrize(
    ("file", "content", "problem"),
    [
        ("wg0.conf", None, "wg0.conf: no such file"),
        ("wg0.conf", '{"peers": []}\n', "wg0.conf: not a WireGuard configuration"),
        ("wg0.dump", None, "wg0.dump: no such file"),
        ("wg0.dump", "", "wg0.dump: empty: not the output of `wg show <interface> dump`"),
        ("wg0.dump", "[Interface]\nListenPort = 1\n", "wg0.dump:1: not the output of `wg show"),
        ("identities.yaml", "identities:\n  - login: x\n", "identities.yaml:2: identities.0: "),
        (
            "identities.yaml",
            "identities:\n  - public_key: nope\n",
            "identities.yaml:2: identities.0.public_key: not a WireGuard public key",
        ),
        ("identities.yaml", "people: []\n", "identities.yaml:1: people: unknown key"),
    ],
)
def test_unusable_inputs(files: Path, file: str, content: str | None, problem: str) -> None:
    if content is None:
        (files / file).unlink()
    else:
        (files / file).write_text(content)

    with pytest.raises(SourceError) as raised:
        exported(files).collect()

    assert str(raised.value).startswith(f"{files / problem}")


def test_an_interface_that_is_not_up(files: Path, keys: Keys) -> None:
    if os.geteuid() != 0:
        unavailable("wg tells a missing interface from a refusal only as root")

    snapshot = connector(files, interface="iamgov-none").collect()

    assert snapshot.complete  # nobody can connect through it; the file says who will
    (error,) = snapshot.errors
    assert error.source == "wg show iamgov-none dump"
    assert error.message.startswith("interface iamgov-none is not up: no handshakes read")
    assert "observation" not in snapshot.settings
    assert accounts_of(snapshot)[keys.jane].attributes["interface"] == "absent"


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        (["/nonexistent/wg"], "office-vpn: `/nonexistent/wg` is not installed (wireguard-tools)"),
        (["false"], "office-vpn: `wg show wg0 dump` failed: exit status 1"),
    ],
)
def test_wg_that_fails_is_a_connector_error(files: Path, command: list[str], problem: str) -> None:
    with pytest.raises(ConnectorError) as raised:
        connector(files, interface="wg0", wg_command=command).collect()

    assert str(raised.value) == problem
