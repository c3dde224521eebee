"""The easy-rsa PKI as collect reads it: the CRL the server checks (signature, expiry,
revocations missing from it), and index.txt variations and mistakes (file:line, the rest
still read)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from iam_gov.connectors.openvpn.pki import parse_index_line
from iam_gov.errors import SourceError
from iam_gov.model import AccountStatus
from tests.connectors.openvpn.test_connector import connect
from tests.support.pki import DemoPki

UTC = dt.UTC


# --- the CRL ---------------------------------------------------------------------------------


def test_a_revocation_missing_from_the_crl_is_reported(demo: DemoPki) -> None:
    demo.pki.easyrsa("revoke", "bob")  # and nobody ran gen-crl

    snapshot = connect(demo.pki.dir).collect()

    crl = snapshot.settings["vpn"]["crl"]
    assert crl["missing_revoked_serials"] == [demo.serials["bob"]]
    bob = next(a for a in snapshot.accounts if a.native_id == "bob")
    assert bob.status is AccountStatus.DISABLED  # revoked in the PKI; the CRL rule reports it


def _foreign_crl(demo: DemoPki, *serials: int) -> bytes:
    """A CRL naming the demo CA as issuer but signed by another key."""
    from cryptography.hazmat.primitives.serialization import Encoding

    ca = x509.load_pem_x509_certificate((demo.pki.dir / "ca.crt").read_bytes())
    now = dt.datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(now)
        .next_update(now + dt.timedelta(days=30))
    )
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        )
    crl = builder.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    return crl.public_bytes(Encoding.DER)


def test_a_crl_with_a_bad_signature_and_serials_the_pki_does_not_know(demo: DemoPki) -> None:
    dave = int(demo.serials["dave"], 16)
    path = demo.pki.root / "server-crl.der"
    path.write_bytes(_foreign_crl(demo, 0x0BADC0DE, dave))

    snapshot = connect(demo.pki.dir, crl_path=path).collect()

    crl = snapshot.settings["vpn"]["crl"]
    assert crl["signature_valid"] is False
    assert crl["unknown_serials"] == ["0BADC0DE"]
    assert crl["missing_revoked_serials"] == [demo.serials["carol"]]
    assert snapshot.source == "export:index.txt,server-crl.der"
    messages = [str(e) for e in snapshot.errors]
    assert (
        f"{path}: the CRL's signature does not verify against the CA certificate" in (messages[0])
    )
    # The server refuses a certificate its CRL lists, whatever index.txt says.
    credentials = {c.credential_id: c for c in snapshot.credentials}
    assert not credentials[f"dave#cert-{demo.serials['dave']}"].active
    assert credentials[f"dave#cert-{demo.serials['dave-laptop2']}"].active
    assert any("the CRL lists dave's certificate" in m for m in messages)


def test_a_missing_crl_is_a_fact_not_a_failure(demo: DemoPki) -> None:
    demo.pki.crl.unlink()

    snapshot = connect(demo.pki.dir).collect()

    crl = snapshot.settings["vpn"]["crl"]
    assert crl["present"] is False and crl["this_update"] is None
    assert crl["missing_revoked_serials"] == [demo.serials["carol"]]
    assert snapshot.complete
    assert f"{demo.pki.crl}: the CRL file does not exist" in [str(e) for e in snapshot.errors]


def test_a_crl_about_to_expire_or_expired_is_reported(demo: DemoPki) -> None:
    soon = connect(demo.pki.dir, crl_warning_days=200).collect()
    later = dt.datetime.now(UTC) + dt.timedelta(days=200)
    expired = connect(demo.pki.dir, clock=later).collect()

    assert any("regenerate it before it expires" in e.message for e in soon.errors)
    assert any("OpenVPN refuses every client" in e.message for e in expired.errors)


# --- index.txt as it is found ---------------------------------------------------------------

VARIANTS = (
    # GeneralizedTime past 2049, lower-case serial, several RDNs with an e-mail address, CRLF
    "V\t20550101000000Z\t\t0a1b\tunknown\t"
    "/C=DE/O=Example GmbH/CN=zoe/emailAddress=zoe@example.de\r\n"
    # openssl ca -crl_compromise keeps the reason as keyTime plus the compromise time
    "R\t300101000000Z\t250102030405Z,keyTime,20250101000000Z\t0C\tunknown\t/CN=yann\n"
    "\n"
    # no file name field
    "R\t300101000000Z\t250102030405Z\t0D\t/CN=xavi\n"
    # marked expired by openssl ca -updatedb
    "E\t240101000000Z\t\t0E\tunknown\t/CN=walt\n"
    # a "/" inside a value is not escaped by OpenSSL
    "V\t300101000000Z\t\t0F\tunknown\t/O=Org/CN=web/api\n"
)


def handmade_pki(tmp_path: Path, index: str | bytes) -> Path:
    pki = tmp_path / "pki"
    pki.mkdir()
    data = index.encode() if isinstance(index, str) else index
    (pki / "index.txt").write_bytes(data)
    return pki


def test_index_variations_easy_rsa_and_openssl_write(tmp_path: Path) -> None:
    pki = handmade_pki(tmp_path, VARIANTS)

    snapshot = connect(pki, clock=dt.datetime(2026, 1, 1, tzinfo=UTC)).collect()

    assert snapshot.complete
    credentials = {c.account_id: c for c in snapshot.credentials}
    assert sorted(credentials) == ["walt", "web/api", "xavi", "yann", "zoe"]
    zoe = credentials["zoe"]
    assert zoe.credential_id == "zoe#cert-0A1B" and zoe.active
    assert zoe.expires_at == dt.datetime(2055, 1, 1, tzinfo=UTC)
    assert credentials["yann"].attributes["revocation_reason"] == "keyCompromise"
    assert credentials["yann"].attributes["revoked_at"] == "2025-01-02T03:04:05+00:00"
    assert credentials["xavi"].attributes["status"] == "R"
    assert "revocation_reason" not in credentials["xavi"].attributes
    assert not credentials["walt"].active and credentials["walt"].attributes["status"] == "E"
    accounts = {a.native_id: a for a in snapshot.accounts}
    assert accounts["zoe"].email == "zoe@example.de"  # from the subject's emailAddress
    assert accounts["web/api"].status is AccountStatus.ACTIVE
    crl = snapshot.settings["vpn"]["crl"]
    assert crl["present"] is False
    assert crl["missing_revoked_serials"] == ["0C", "0D"]


def test_malformed_index_lines_are_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    good = "V\t300101000000Z\t\t01\tunknown\t/CN=alice\n"
    pki = handmade_pki(
        tmp_path,
        good
        + "X\t300101000000Z\t\t02\tunknown\t/CN=bob\n"
        + "V\t30-01-01\t\t03\tunknown\t/CN=carol\n"
        + "V\t300101000000Z\t04\t/CN=dave\n"
        + "V\t300101000000Z\t\t01\tunknown\t/CN=alice-again\n"
        + "V\t300101000000Z\t\tzz\tunknown\t/CN=erin\n"
        + "R\t300101000000Z\t\t06\tunknown\t/CN=frank\n"
        + "V\t300101000000Z\t\t07\tunknown\t/O=No Name Inc\n"
        + "V\t300101000000Z\t\t08\tunknown\t/CN=grace\n",
    )
    index = pki / "index.txt"

    snapshot = connect(pki).collect()

    assert not snapshot.complete
    assert [a.native_id for a in snapshot.accounts] == ["alice", "grace"]
    assert [str(e) for e in snapshot.errors[:7]] == [
        f"{index}:2: unknown status 'X' (expected V, R or E)",
        f"{index}:3: expiry date '30-01-01' is not YYMMDDHHMMSSZ",
        f"{index}:4: expected 6 tab-separated fields (status, expiry, revocation, serial, "
        "file, subject), found 4",
        f"{index}:5 (01): serial 01 is already on line 1",
        f"{index}:6: serial 'zz' is not hexadecimal",
        f"{index}:7: a revoked (R) certificate without a revocation date",
        f"{index}:8 (07): the subject has no CN: no identity to give this certificate",
    ]


def test_an_index_that_is_not_one_is_unusable(tmp_path: Path) -> None:
    pki = handmade_pki(tmp_path, b"\x89PNG\r\n\x1a\nnot an index at all\n")

    with pytest.raises(SourceError, match=r"index\.txt: not an OpenSSL CA database"):
        connect(pki).collect()
    with pytest.raises(SourceError) as raised:
        connect(tmp_path / "nowhere").collect()
    assert str(raised.value) == (
        f"{tmp_path / 'nowhere' / 'index.txt'}: no such file (the PKI's certificate database)"
    )


def test_an_empty_index_is_a_pki_without_certificates(tmp_path: Path) -> None:
    snapshot = connect(handmade_pki(tmp_path, "")).collect()

    assert snapshot.accounts == () and snapshot.grants == ()
    assert len(snapshot.entitlements) == 1


_TIMES = st.datetimes(min_value=dt.datetime(1950, 1, 1), max_value=dt.datetime(2099, 12, 31)).map(
    lambda t: t.replace(microsecond=0, tzinfo=UTC)
)


@given(
    status=st.sampled_from("VRE"),
    expiry=_TIMES,
    revoked=_TIMES,
    serial=st.integers(min_value=1, max_value=2**159),
    name=st.text(
        st.characters(codec="utf-8", exclude_characters="\t\r\n\x00=", exclude_categories=["Cs"]),
        min_size=1,
        max_size=30,
    ).filter(lambda n: n == n.strip()),
)
def test_any_line_openssl_writes_reads_back(
    status: str, expiry: dt.datetime, revoked: dt.datetime, serial: int, name: str
) -> None:
    def asn1(t: dt.datetime) -> str:
        # RFC 5280: UTCTime up to 2049, GeneralizedTime from 2050, as OpenSSL writes them
        return t.strftime("%y%m%d%H%M%SZ" if t.year < 2050 else "%Y%m%d%H%M%SZ")

    revocation = f"{asn1(revoked)},superseded" if status == "R" else ""
    hex_serial = f"{serial:X}"
    hex_serial = "0" * (len(hex_serial) % 2) + hex_serial
    line = f"{status}\t{asn1(expiry)}\t{revocation}\t{hex_serial}\tunknown\t/O=Org/CN={name}"

    entry = parse_index_line(line)

    assert (entry.status, entry.serial, entry.common_name) == (status, hex_serial, name)
    assert entry.expires_at == expiry
    assert entry.revoked_at == (revoked if status == "R" else None)
    assert entry.revocation_reason == ("superseded" if status == "R" else None)
