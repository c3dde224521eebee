"""The company's VPNs in their own files: an easy-rsa PKI with its CRL, an OpenVPN server's
configuration, status file and log, and a WireGuard server configuration with `wg show dump`.

Keys are Ed25519 / X25519 derived from the seed, so the same company is written byte for byte
every time (Ed25519 signatures are deterministic)."""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from ipaddress import IPv4Address

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.x509.oid import NameOID

from iam_gov.samplegen.company import Company, Person, Planted

OPENVPN_NETWORK = "corp-vpn"
WIREGUARD_NETWORK = "ops-wg"


def _key(seed: int, *parts: str) -> bytes:
    return hashlib.sha256("/".join((str(seed), *parts)).encode()).digest()


def _ed25519(seed: int, name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_key(seed, "ed25519", name))


def _wg_public(seed: int, name: str) -> str:
    private = X25519PrivateKey.from_private_bytes(_key(seed, "x25519", name))
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return base64.b64encode(raw).decode()


def _wg_private(seed: int, name: str) -> str:
    return base64.b64encode(_key(seed, "x25519", name)).decode()


def _utc_stamp(moment: datetime) -> str:
    """index.txt's time format: YYMMDDHHMMSSZ."""
    return moment.strftime("%y%m%d%H%M%SZ")


@dataclass
class Cert:
    cn: str
    serial: int
    issued: datetime
    expires: datetime
    revoked: datetime | None = None
    in_crl: bool = True


@dataclass
class VpnData:
    certs: list[Cert] = field(default_factory=list)
    connected: dict[str, datetime] = field(default_factory=dict)
    """CN -> connected since (who is on the VPN when the export is taken)."""
    history: list[tuple[datetime, str]] = field(default_factory=list)
    """(when, CN) of every connection in the server log."""
    crl_this_update: datetime | None = None
    crl_next_update: datetime | None = None
    peers: list[tuple[str, str | None, datetime | None]] = field(default_factory=list)
    """WireGuard: (key name, iam-gov comment or None, latest handshake)."""


class _VpnBuilder:
    def __init__(self, company: Company, seed: int):
        self.company = company
        self.seed = seed
        self.rng = random.Random(seed * 104729 + 3)
        self.as_of = company.as_of
        self.data = VpnData()
        self.serial = 0x1000

    def ago(self, days: float) -> datetime:
        return (self.as_of - timedelta(days=days, minutes=self.rng.randint(0, 600))).replace(
            microsecond=0
        )

    def _cert(self, cn: str, issued_days: float, **kw: object) -> Cert:
        self.serial += self.rng.randint(1, 40)
        issued = self.ago(issued_days)
        cert = Cert(cn, self.serial, issued, issued + timedelta(days=825), **kw)  # type: ignore[arg-type]
        self.data.certs.append(cert)
        return cert

    def build(self) -> VpnData:
        people = self.company.people
        planted = self.company.planted
        aws_leaver = {p.login for p in planted if p.rule_id == "leaver-active-access"}
        history_days = 120
        vpn_people = [p for p in people if p.department in ("Engineering", "IT")]
        sales = [p for p in people if p.department == "Sales" and p.status == "Active"]
        for person in vpn_people:
            cn = person.email.split("@")[0]
            cert = self._cert(cn, self.rng.randint(30, 600))
            if person.status == "Terminated" and person.termination_date is not None:
                if cn in aws_leaver:
                    # Revoked yesterday, but nobody regenerated the CRL the server reads.
                    cert.revoked, cert.in_crl = self.ago(1), False
                    planted.append(
                        Planted(
                            "revocation-not-enforced",
                            "",
                            f"{cn}: revoked, not in the CRL",
                            "openvpn",
                        )
                    )
                    wg_comment = f"iam-gov: login={cn} email={person.email}"
                    self.data.peers.append((cn, wg_comment, self.ago(3)))
                    planted.append(
                        Planted("leaver-active-access", cn, "peer still configured", "wireguard")
                    )
                    continue
                planted.append(
                    Planted("leaver-active-access", cn, "VPN certificate never revoked", "openvpn")
                )
                continue
            self._history(cn, history_days, recent=True)
            if person.title.startswith(("Site Reliability", "IT Administrator")):
                comment = (
                    f"iam-gov: login={cn} email={person.email} employee_id={person.employee_id}"
                )
                self.data.peers.append((cn, comment, self.ago(self.rng.uniform(0, 2))))
        self._plant_certificates(vpn_people, sales, history_days)
        self.data.history.sort()
        self.data.crl_this_update = self.ago(25)
        self.data.crl_next_update = self.as_of + timedelta(days=5)
        # Findings about a whole server have no account: "" matches the system's finding.
        planted.append(Planted("crl-expiring", "", "the CRL expires in 5 days", "openvpn"))
        planted.append(Planted("vpn-without-mfa", "", "certificate only", "openvpn"))
        planted.append(Planted("vpn-without-mfa", "", "key only", "wireguard"))
        self.data.peers.append(("unknown-laptop", None, self.ago(6)))
        planted.append(Planted("orphan-account", "", "a peer nobody can map", "wireguard"))
        return self.data

    def _history(self, cn: str, days: int, *, recent: bool) -> None:
        start = 0 if recent else 100
        moment = self.ago(start + self.rng.uniform(0, 3))
        while (self.as_of - moment).days < days:
            self.data.history.append((moment, cn))
            moment = moment - timedelta(
                days=self.rng.uniform(1, 9), minutes=self.rng.randint(0, 300)
            )
        if recent and self.rng.random() < 0.25:
            self.data.connected[cn] = self.ago(self.rng.uniform(0, 0.3))

    def _plant_certificates(self, vpn_people: list[Person], sales: list[Person], days: int) -> None:
        active = [p for p in vpn_people if p.status == "Active" and p.manager_id]
        self.rng.shuffle(active)
        if active:
            cn = active[0].email.split("@")[0]
            self._cert(cn, 40)  # reissued; the old certificate was never revoked
            self.company.planted.append(
                Planted(
                    "multiple-valid-certificates", cn, "reissued, old one still valid", "openvpn"
                )
            )
        if len(active) > 1:
            cn = active[1].email.split("@")[0]
            self.data.history = [(t, c) for t, c in self.data.history if c != cn]
            self._history(cn, days, recent=False)
            self.data.connected.pop(cn, None)
            self.company.planted.append(
                Planted("dormant-account", cn, "no VPN connection for 100 days", "openvpn")
            )
        if len(active) > 2:
            cn = active[2].email.split("@")[0]
            cert = next(c for c in self.data.certs if c.cn == cn)
            cert.expires = (self.as_of + timedelta(days=12)).replace(minute=0, second=0)
            cert.issued = cert.expires - timedelta(days=825)
            self.company.planted.append(
                Planted("expiring-certificate", cn, "VPN certificate expires in 12 days", "openvpn")
            )
        if sales:
            cn = sales[0].email.split("@")[0]
            self._cert(cn, 60)
            self._history(cn, days, recent=True)
            self.company.planted.append(
                Planted("excess-access", cn, "a VPN certificate for sales", "openvpn")
            )
        # An old revoked certificate, properly in the CRL.
        self._cert("former-contractor", 700, revoked=self.ago(300))


def build_vpn(company: Company, seed: int) -> VpnData:
    return _VpnBuilder(company, seed).build()


# --- OpenVPN files ---------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def openvpn_files(data: VpnData, seed: int, as_of: datetime) -> Iterator[tuple[str, str]]:
    ca_key = _ed25519(seed, "ca")
    ca_name = _name("Example Corp VPN CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(as_of - timedelta(days=1000))
        .not_valid_after(as_of + timedelta(days=2650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, None)
    )
    yield "pki/ca.crt", _pem(ca)
    index = []
    for cert in sorted(data.certs, key=lambda c: c.serial):
        serial = f"{cert.serial:X}"
        if cert.revoked is not None:
            index.append(
                f"R\t{_utc_stamp(cert.expires)}\t{_utc_stamp(cert.revoked)},superseded\t{serial}"
                f"\tunknown\t/CN={cert.cn}"
            )
        else:
            index.append(f"V\t{_utc_stamp(cert.expires)}\t\t{serial}\tunknown\t/CN={cert.cn}")
        issued = (
            x509.CertificateBuilder()
            .subject_name(_name(cert.cn))
            .issuer_name(ca_name)
            .public_key(_ed25519(seed, f"client-{cert.serial}").public_key())
            .serial_number(cert.serial)
            .not_valid_before(cert.issued)
            .not_valid_after(cert.expires)
            .sign(ca_key, None)
        )
        yield f"pki/certs_by_serial/{serial}.pem", _pem(issued)
    yield "pki/index.txt", "\n".join(index) + "\n"
    assert data.crl_this_update is not None and data.crl_next_update is not None
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_name)
        .last_update(data.crl_this_update)
        .next_update(data.crl_next_update)
    )
    for cert in data.certs:
        if cert.revoked is not None and cert.in_crl:
            crl = crl.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial)
                .revocation_date(cert.revoked)
                .build()
            )
    yield "pki/crl.pem", crl.sign(ca_key, None).public_bytes(serialization.Encoding.PEM).decode()
    yield "server.conf", SERVER_CONF
    yield "status.log", _status_v2(data, as_of)
    yield (
        "openvpn.log",
        "".join(
            f"{when:%Y-%m-%d %H:%M:%S} {cn}/198.51.100.{sum(map(ord, cn)) % 250 + 1}:"
            f"{40000 + sum(map(ord, cn)) % 20000} MULTI: primary virtual IP for "
            f"{cn}/198.51.100.{sum(map(ord, cn)) % 250 + 1}:{40000 + sum(map(ord, cn)) % 20000}: "
            f"10.8.0.{sum(map(ord, cn)) % 250 + 2}\n"
            for when, cn in data.history
        ),
    )


SERVER_CONF = """\
# OpenVPN server for staff: certificate authentication only (no password, no OTP).
port 1194
proto udp
dev tun
ca /etc/openvpn/server/ca.crt
cert /etc/openvpn/server/vpn.example.com.crt
key /etc/openvpn/server/vpn.example.com.key
dh none
tls-crypt /etc/openvpn/server/tls-crypt.key
crl-verify /etc/openvpn/server/crl.pem
server 10.8.0.0 255.255.0.0
topology subnet
keepalive 10 120
status /var/log/openvpn/status.log 60
status-version 2
log-append /var/log/openvpn/openvpn.log
verb 3
"""


def _status_v2(data: VpnData, as_of: datetime) -> str:
    lines = [
        "TITLE,OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [DCO]",
        f"TIME,{as_of:%Y-%m-%d %H:%M:%S},{int(as_of.timestamp())}",
        "HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,"
        "Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,Client ID,"
        "Peer ID,Data Channel Cipher",
    ]
    for i, (cn, since) in enumerate(sorted(data.connected.items())):
        lines.append(
            f"CLIENT_LIST,{cn},203.0.113.{10 + i}:{50000 + i},10.8.0.{10 + i},,"
            f"{1_000_000 + i * 7919},{2_000_000 + i * 104729},{since:%Y-%m-%d %H:%M:%S},"
            f"{int(since.timestamp())},UNDEF,{i},{i},AES-256-GCM"
        )
    lines += [
        "HEADER,ROUTING_TABLE,Virtual Address,Common Name,Real Address,Last Ref,Last Ref (time_t)",
    ]
    for i, cn in enumerate(sorted(data.connected)):
        lines.append(
            f"ROUTING_TABLE,10.8.0.{10 + i},{cn},203.0.113.{10 + i}:{50000 + i},"
            f"{as_of:%Y-%m-%d %H:%M:%S},{int(as_of.timestamp())}"
        )
    lines += ["GLOBAL_STATS,Max bcast/mcast queue length,0", "END"]
    return "\n".join(lines) + "\n"


# --- WireGuard files -------------------------------------------------------------------------


_PEER_BASE = int(IPv4Address("10.20.0.0"))


def wireguard_files(data: VpnData, seed: int, as_of: datetime) -> Iterator[tuple[str, str]]:
    # a /24 while it holds everyone (the demo), a /16 for a large company: every address valid
    prefix = 24 if len(data.peers) < 240 else 16
    lines = [
        "# WireGuard for operations staff (managed by hand; one peer per person and device).",
        "[Interface]",
        f"Address = 10.20.0.1/{prefix}",
        "ListenPort = 51820",
        f"PrivateKey = {_wg_private(seed, 'server')}",
        "",
    ]
    dump = [
        f"{_wg_private(seed, 'server')}\t{_wg_public(seed, 'server')}\t51820\toff",
    ]
    for i, (name, comment, handshake) in enumerate(data.peers):
        public = _wg_public(seed, name)
        if comment:
            lines.append(f"# {comment}")
        else:
            lines.append("# added during the 2025 office move")
        address = IPv4Address(_PEER_BASE + 10 + i)
        endpoint = f"198.51.100.{20 + i % 230}:{51000 + i % 14000}"
        lines += ["[Peer]", f"PublicKey = {public}", f"AllowedIPs = {address}/32", ""]
        stamp = int(handshake.timestamp()) if handshake else 0
        dump.append(
            f"{public}\t(none)\t{endpoint}\t{address}/32\t{stamp}"
            f"\t{100_000 + i}\t{200_000 + i}\toff"
        )
    yield "wg0.conf", "\n".join(lines)
    yield "wg0.dump", "\n".join(dump) + "\n"
