"""OpenVPN collect from a real easy-rsa PKI into the model: identities, their certificates,
the VPN entitlement and its grants, and the identity mapping file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509

from iam_gov.errors import SourceError
from iam_gov.model import AccountKind, AccountStatus, CredentialKind, Entitlement, Grant
from tests.connectors.openvpn.test_connector import connect
from tests.support.pki import DemoPki, changed, tree_state

UTC = dt.UTC


def cert_not_before(demo: DemoPki, file_base: str) -> dt.datetime:
    data = (demo.pki.dir / "issued" / f"{file_base}.crt").read_bytes()
    return x509.load_pem_x509_certificate(data).not_valid_before_utc


def test_collect_maps_a_real_pki(demo: DemoPki) -> None:
    now = dt.datetime.now(UTC).replace(microsecond=0)
    before = tree_state(demo.pki.dir)

    snapshot = connect(demo.pki.dir, clock=now).collect()

    s = demo.serials
    assert changed(before, tree_state(demo.pki.dir)) == set()  # collect only reads
    assert snapshot.complete and snapshot.collected_at == now
    assert snapshot.source == "export:index.txt"
    accounts = {a.native_id: a for a in snapshot.accounts}
    assert list(accounts) == ["alice", "bob", "carol", "dave", "erin@example.com", "server"]
    alice = accounts["alice"]
    assert (alice.login, alice.email, alice.employee_id, alice.kind) == (
        "alice",
        None,
        None,
        AccountKind.HUMAN,
    )
    assert alice.status is AccountStatus.ACTIVE and alice.mfa_factors is None
    assert alice.created_at == cert_not_before(demo, "alice")
    assert alice.attributes == {
        "common_name": "alice",
        "valid_certificates": "1",
        "certificate_status": "valid",
    }
    assert accounts["carol"].status is AccountStatus.DISABLED
    assert accounts["carol"].attributes["certificate_status"] == "revoked"
    assert accounts["erin@example.com"].email == "erin@example.com"
    # Without server.conf nothing says the server refuses server certificates from clients.
    assert accounts["server"].kind is AccountKind.SERVICE
    assert accounts["server"].attributes["certificate_type"] == "server"

    credentials = {c.credential_id: c for c in snapshot.credentials}
    dave = [c for c in credentials.values() if c.account_id == "dave"]
    assert sorted(c.credential_id for c in dave) == sorted(
        [f"dave#cert-{s['dave']}", f"dave#cert-{s['dave-laptop2']}"]
    )
    assert all(c.active for c in dave) and accounts["dave"].attributes["valid_certificates"] == "2"
    carol = credentials[f"carol#cert-{s['carol']}"]
    assert carol.kind is CredentialKind.CERTIFICATE and not carol.active
    assert carol.attributes["status"] == "R"
    assert carol.attributes["serial"] == s["carol"]
    assert carol.attributes["revocation_reason"] == "keyCompromise"
    assert dt.datetime.fromisoformat(carol.attributes["revoked_at"]) <= now
    bob = credentials[f"bob#cert-{s['bob']}"]
    assert bob.active and bob.attributes == {
        "serial": s["bob"],
        "status": "V",
        "subject": "/CN=bob",
        "file": "bob.crt",
    }
    assert bob.created_at == cert_not_before(demo, "bob")
    assert bob.expires_at is not None and bob.expires_at > now + dt.timedelta(days=700)
    assert bob.last_used_at is None

    assert snapshot.entitlements == (
        Entitlement(
            system="vpn-prod",
            entitlement_id="vpn:vpn-prod",
            name="vpn-prod",
            kind="vpn",
            description="can connect to the OpenVPN server",
        ),
    )
    assert snapshot.grants == tuple(
        Grant(system="vpn-prod", account_id=name, entitlement_id="vpn:vpn-prod")
        for name in ("alice", "bob", "dave", "erin@example.com", "server")
    )
    vpn = snapshot.settings["vpn"]
    assert vpn["kind"] == "openvpn"
    assert vpn["authentication"]["certificate"] is True
    assert vpn["authentication"]["password"] is None
    crl = vpn["crl"]
    assert crl["path"] == str(demo.pki.crl) and crl["present"] is True
    assert crl["missing_revoked_serials"] == [] and crl["unknown_serials"] == []
    assert crl["signature_valid"] is True
    this_update = dt.datetime.fromisoformat(crl["this_update"])
    assert dt.datetime.fromisoformat(crl["next_update"]) - this_update == dt.timedelta(days=180)
    # Nothing says who connects: the watched window is empty rather than "never seen".
    assert snapshot.settings["observation"] == {"observed_since": now.isoformat()}
    assert [e.message for e in snapshot.errors] == [
        "no status_file, management or log_files given: when identities last connected is unknown"
    ]
    assert connect(demo.pki.dir, clock=now).collect() == snapshot  # deterministic


def test_network_name_names_the_vpn_entitlement(demo: DemoPki) -> None:
    snapshot = connect(demo.pki.dir, network_name="corp").collect()

    assert [e.ref for e in snapshot.entitlements] == ["vpn:corp"]
    assert {g.entitlement_id for g in snapshot.grants} == {"vpn:corp"}


def test_expired_certificates_cannot_connect(demo: DemoPki) -> None:
    snapshot = connect(demo.pki.dir, clock=dt.datetime(2040, 1, 1, tzinfo=UTC)).collect()

    assert {a.status for a in snapshot.accounts} == {AccountStatus.DISABLED}
    assert not any(c.active for c in snapshot.credentials)
    assert snapshot.grants == ()
    alice = next(a for a in snapshot.accounts if a.native_id == "alice")
    assert alice.attributes["certificate_status"] == "expired"


def test_the_mapping_file_names_people_and_services(demo: DemoPki, tmp_path: Path) -> None:
    mapping = tmp_path / "vpn-identities.yaml"
    mapping.write_text(
        "identities:\n"
        "  - cn: alice\n"
        "    login: aarcher\n"
        "    email: alice.archer@example.com\n"
        "    employee_id: E001\n"
        "  - cn: dave\n"
        "    kind: service\n"
        "    note: the CI runner's tunnel\n"
        "  - public_key: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\n"  # a WireGuard peer
        "    employee_id: E009\n"
    )

    snapshot = connect(demo.pki.dir, mapping=mapping).collect()

    accounts = {a.native_id: a for a in snapshot.accounts}
    alice = accounts["alice"]
    assert (alice.login, alice.email, alice.employee_id) == (
        "aarcher",
        "alice.archer@example.com",
        "E001",
    )
    assert accounts["dave"].kind is AccountKind.SERVICE
    assert accounts["dave"].attributes["note"] == "the CI runner's tunnel"
    assert accounts["bob"].employee_id is None
    assert snapshot.source == "export:index.txt,vpn-identities.yaml"


def test_mistakes_in_the_mapping_file_name_their_line(demo: DemoPki, tmp_path: Path) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        "identities:\n"
        "  - cn: alice\n"
        "    employee: E001\n"
        "  - login: nobody\n"
        "  - cn: bob\n"
        "    kind: robot\n"
    )

    with pytest.raises(SourceError) as raised:
        connect(demo.pki.dir, mapping=mapping).collect()

    assert raised.value.problems == (
        f"{mapping}:3: identities.0.employee: unknown key",
        f"{mapping}:4: identities.1: Value error, give exactly one of cn or public_key",
        f"{mapping}:6: identities.2.kind: Input should be 'human' or 'service'",
    )


def test_a_cn_mapped_twice_is_an_error(demo: DemoPki, tmp_path: Path) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_text("identities:\n  - cn: alice\n  - cn: bob\n  - cn: alice\n")

    with pytest.raises(SourceError) as raised:
        connect(demo.pki.dir, mapping=mapping).collect()

    assert str(raised.value) == f"{mapping}:4: identities.2.cn: 'alice' is mapped twice"


def test_cn_is_email_flags_common_names_that_are_not(demo: DemoPki) -> None:
    snapshot = connect(demo.pki.dir, cn_is="email").collect()

    flagged = sorted(e.record or "" for e in snapshot.errors if "cn_is = email" in e.message)
    assert flagged == ["alice", "bob", "carol", "dave", "server"]
