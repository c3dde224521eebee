"""What the LDAP tests share: a seeded slapd for each test module, a live collect from it, and
LDIF entries to write exports with."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.ldap.connector import LDAPConnector, LDAPOptions
from iam_gov.model import SystemSnapshot
from tests.support.slapd import ThrowawaySlapd, live_options, seeded_slapd

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def slapd() -> Iterator[ThrowawaySlapd]:
    with seeded_slapd() as server:
        yield server


def collect(slapd: ThrowawaySlapd, **extra: Any) -> SystemSnapshot:
    return LDAPConnector("ldap", live_options(slapd, **extra), clock=lambda: NOW).collect()


# --- LDIF ------------------------------------------------------------------------------------

ALICE_UUID = "3f1c2a4e-8d2b-1041-9a6e-5b9c1d2e3f40"
STAFF_UUID = "3f1c2a4e-8d2b-1041-9a6e-5b9c1d2e3f41"
BOB_UUID = "3f1c2a4e-8d2b-1041-9a6e-5b9c1d2e3f42"


def alice(**extra: str) -> str:
    lines = {
        "dn": "uid=alice,ou=people,dc=example,dc=org",
        "objectClass": "inetOrgPerson",
        "uid": "alice",
        "cn": "Alice Archer",
        "entryUUID": ALICE_UUID,
        "userPassword": "{SSHA}c2VjcmV0",
        **extra,
    }
    return "".join(f"{k}: {v}\n" for k, v in lines.items()) + "\n"


def staff(*members: str) -> str:
    text = (
        "dn: cn=staff,ou=groups,dc=example,dc=org\n"
        "objectClass: groupOfNames\n"
        "cn: staff\n"
        f"entryUUID: {STAFF_UUID}\n"
    )
    return text + "".join(f"member: {m}\n" for m in members) + "\n"


def bob() -> str:
    return (
        "dn: uid=bob,ou=people,dc=example,dc=org\n"
        "objectClass: inetOrgPerson\nuid: bob\ncn: Bob\n"
        f"entryUUID: {BOB_UUID}\npwdChangedTime: 20250101000000Z\n\n"
    )


def export(tmp_path: Path, text: str | bytes, **extra: Any) -> LDAPConnector:
    path = tmp_path / "directory.ldif"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    options = LDAPOptions.model_validate(
        {
            "type": "ldap",
            "flavor": "openldap",
            "mode": "export",
            "path": path,
            "exported_at": "2026-03-01T00:00:00Z",
            **extra,
        }
    )
    return LDAPConnector("ldap", options)
