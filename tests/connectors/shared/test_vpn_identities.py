"""The VPN identity mapping file: each VPN reads its own kind of entry (``cn`` for OpenVPN,
``public_key`` for WireGuard), and every mistake is named at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam_gov.connectors.shared.vpn_identities import MappedIdentity, read_identities
from iam_gov.errors import SourceError

IDENTITIES = """\
identities:
  - cn: jdoe-laptop
    login: jdoe
    kind: human
  - public_key: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
    email: jane.doe@example.com
    employee_id: E1001
    note: laptop
  - cn: ci-runner
    kind: service
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vpn-identities.yaml"
    path.write_text(text)
    return path


def test_each_vpn_reads_its_own_entries(tmp_path: Path) -> None:
    path = write(tmp_path, IDENTITIES)

    by_cn = read_identities(path)
    by_key = read_identities(path, "public_key")

    assert by_cn == {
        "jdoe-laptop": MappedIdentity(cn="jdoe-laptop", login="jdoe", kind="human"),
        "ci-runner": MappedIdentity(cn="ci-runner", kind="service"),
    }
    assert list(by_key) == ["xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="]
    entry = by_key["xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="]
    assert (entry.email, entry.employee_id, entry.note) == (
        "jane.doe@example.com",
        "E1001",
        "laptop",
    )


def test_an_empty_list_maps_nobody(tmp_path: Path) -> None:
    assert read_identities(write(tmp_path, "identities: []\n")) == {}


def test_a_key_is_checked_and_mapped_once(tmp_path: Path) -> None:
    path = write(tmp_path, IDENTITIES + "  - cn: jdoe-laptop\n  - cn: Bad Name\n")

    def check(value: str) -> str | None:
        return "has a space" if " " in value else None

    with pytest.raises(SourceError) as raised:
        read_identities(path, "cn", check)

    assert raised.value.problems == (
        f"{path}:11: identities.3.cn: 'jdoe-laptop' is mapped twice",
        f"{path}:12: identities.4.cn: has a space",
    )


def test_entries_that_are_not_identities(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "identities:\n"
        "  - cn: alice\n"
        "    public_key: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\n"
        "  - cn: bob\n"
        "    email: b\n",
    )

    with pytest.raises(SourceError) as raised:
        read_identities(path)

    assert raised.value.problems == (
        f"{path}:2: identities.0: Value error, give exactly one of cn or public_key",
        f"{path}:5: identities.1.email: String should have at least 3 characters",
    )
