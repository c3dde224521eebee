"""A throwaway OpenLDAP slapd: generated slapd.conf, mdb, memberof and ppolicy, TLS with a CA
made here, a free loopback port, unprivileged when run as root; and its stats log, read back.

It serves two directories: ``dc=example,dc=org`` as OpenLDAP has it, and
``dc=corp,dc=example,dc=com`` shaped like Active Directory (a small schema with AD's own
attribute names and OIDs), so that AD semantics run against a real server too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iam_gov.connectors.ldap.connector import LDAPOptions

SLAPD = Path("/usr/sbin/slapd")
MODULES = Path("/usr/lib/ldap")
SCHEMA = Path("/etc/ldap/schema")

OPENLDAP_BASE = "dc=example,dc=org"
AD_BASE = "DC=corp,DC=example,DC=com"
ADMIN_PASSWORD = "admin-secret"
SERVICE_PASSWORD = "s3rvice-Passw0rd!"
"""The bind password of the test's own service accounts: iam-gov; limited (OpenLDAP: reads
4 entries per paged search; AD: may not see the PSO container); narrow (OpenLDAP: may not
search userPassword nor see employeeNumber, and may search mail but not read it)."""

# The AD attributes the connector reads, with AD's OIDs; matching rules so that filters and
# value deletes work as they do in AD. AD expands objectCategory=person to the category's DN;
# here it is a plain string holding "person".
AD_SCHEMA = """
attributetype ( 1.2.840.113556.1.4.2 NAME 'objectGUID'
    EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.146 NAME 'objectSid'
    EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
    EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName'
    EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.1696 NAME 'lastLogonTimestamp'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.96 NAME 'pwdLastSet'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.159 NAME 'accountExpires'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.662 NAME 'lockoutTime'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.2.2 NAME 'whenCreated'
    EQUALITY generalizedTimeMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.150 NAME 'adminCount'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.98 NAME 'primaryGroupID'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.35 NAME 'employeeID'
    EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.750 NAME 'groupType'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.782 NAME 'objectCategory'
    EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.653 NAME 'managedBy'
    EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE )
objectclass ( 1.2.840.113556.1.5.9 NAME 'user' SUP organizationalPerson STRUCTURAL
    MAY ( objectGUID $ objectSid $ sAMAccountName $ userPrincipalName $ userAccountControl $
          lastLogonTimestamp $ pwdLastSet $ accountExpires $ lockoutTime $ whenCreated $
          adminCount $ primaryGroupID $ employeeID $ objectCategory $ mail $ displayName ) )
objectclass ( 1.2.840.113556.1.3.30 NAME 'computer' SUP user STRUCTURAL )
attributetype ( 1.2.840.113556.1.4.2023 NAME 'msDS-PasswordSettingsPrecedence'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.2020 NAME 'msDS-PSOAppliesTo'
    EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
attributetype ( 1.2.840.113556.1.4.2013 NAME 'msDS-MinimumPasswordLength'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.2014 NAME 'msDS-PasswordHistoryLength'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.2015 NAME 'msDS-PasswordComplexityEnabled'
    EQUALITY booleanMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.2016 NAME 'msDS-PasswordReversibleEncryptionEnabled'
    EQUALITY booleanMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.2011 NAME 'msDS-MaximumPasswordAge'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.2012 NAME 'msDS-MinimumPasswordAge'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.2019 NAME 'msDS-LockoutThreshold'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.2017 NAME 'msDS-LockoutObservationWindow'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.2018 NAME 'msDS-LockoutDuration'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
objectclass ( 1.2.840.113556.1.3.23 NAME 'container' SUP top STRUCTURAL MUST cn )
objectclass ( 1.2.840.113556.1.5.256 NAME 'msDS-PasswordSettingsContainer' SUP top
    STRUCTURAL MUST cn )
objectclass ( 1.2.840.113556.1.5.255 NAME 'msDS-PasswordSettings' SUP top STRUCTURAL
    MUST ( cn $ msDS-PasswordSettingsPrecedence $ msDS-PasswordReversibleEncryptionEnabled $
           msDS-PasswordHistoryLength $ msDS-PasswordComplexityEnabled $
           msDS-MinimumPasswordLength $ msDS-MinimumPasswordAge $ msDS-MaximumPasswordAge $
           msDS-LockoutThreshold $ msDS-LockoutObservationWindow $ msDS-LockoutDuration )
    MAY ( objectGUID $ msDS-PSOAppliesTo $ description ) )
objectclass ( 1.2.840.113556.1.5.8 NAME 'group' SUP top STRUCTURAL MUST cn
    MAY ( objectGUID $ objectSid $ sAMAccountName $ groupType $ member $ description $
          managedBy $ whenCreated $ adminCount $ objectCategory ) )
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def available() -> bool:
    return SLAPD.exists() and (MODULES / "back_mdb.so").exists()


@dataclass
class Operation:
    """One LDAP operation as slapd's stats log shows it."""

    kind: str  # BIND, SRCH, MOD, ...
    dn: str = ""
    filter: str = ""
    attributes: list[str] = field(default_factory=list)


def make_ca_and_server_cert(folder: Path) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server.key) for localhost, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("iam-gov test CA"))
        .issuer_name(name("iam-gov test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                # by name only: a connection to 127.0.0.1 must fail the host name check
                [x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def _database(suffix: str, directory: Path, acl: str, extra: str = "") -> str:
    return f"""
database mdb
suffix "{suffix}"
rootdn "cn=admin,{suffix}"
rootpw {ADMIN_PASSWORD}
directory {directory}
maxsize 33554432
lastbind on
{extra}
{acl}
"""


def _config(folder: Path) -> str:
    ours = f'dn.exact="cn=iam-gov,{OPENLDAP_BASE}"'
    limited = f'dn.exact="cn=limited,{OPENLDAP_BASE}"'
    narrow = f'dn.exact="cn=narrow,{OPENLDAP_BASE}"'
    ad_ours = f'dn.exact="cn=iam-gov,{AD_BASE}"'
    ad_limited = f'dn.exact="cn=limited,{AD_BASE}"'
    openldap_acl = f"""
access to attrs=userPassword
    by self write
    by anonymous auth
    by {ours} search
    by {limited} search
    by * none
access to dn.subtree="ou=people,{OPENLDAP_BASE}" attrs=pwdAccountLockedTime
    by {ours} write
    by * read
access to dn.subtree="ou=groups,{OPENLDAP_BASE}" attrs=member,uniqueMember,memberUid
    by {ours} write
    by * read
access to attrs=employeeNumber
    by {narrow} none
    by * read
access to attrs=mail
    by {narrow} search
    by * read
access to * by * read
"""
    ad_acl = f"""
access to attrs=userPassword by self write by anonymous auth by * none
access to dn.subtree="OU=Staff,{AD_BASE}" attrs=userAccountControl
    by {ad_ours} write
    by * read
access to dn.subtree="OU=Groups,{AD_BASE}" attrs=member
    by {ad_ours} write
    by * read
access to dn.subtree="{PSO_CONTAINER_DN}"
    by {ad_limited} none
    by * read
access to * by * read
"""
    openldap_extra = f"""
limits {limited} size.prtotal=4
overlay memberof
overlay ppolicy
ppolicy_default "cn=default,ou=policies,{OPENLDAP_BASE}"
"""
    (folder / "ad.schema").write_text(AD_SCHEMA)
    return f"""
include {SCHEMA}/core.schema
include {SCHEMA}/cosine.schema
include {SCHEMA}/inetorgperson.schema
include {SCHEMA}/nis.schema
include {folder}/ad.schema
modulepath {MODULES}
moduleload back_mdb
moduleload memberof
moduleload ppolicy
pidfile {folder}/slapd.pid
argsfile {folder}/slapd.args
TLSCACertificateFile {folder}/ca.pem
TLSCertificateFile {folder}/server.pem
TLSCertificateKeyFile {folder}/server.key
sizelimit unlimited
{_database(OPENLDAP_BASE, folder / "openldap", openldap_acl, openldap_extra)}
{_database(AD_BASE, folder / "ad", ad_acl)}
"""


class ThrowawaySlapd:
    """Started once per test module; stopped and removed after it."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="iam-gov-slapd-"))
        self.port = free_port()
        self.ldaps_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.dir / "slapd.log"
        self.ca_file = self.dir / "ca.pem"

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        # by name: the certificate is checked against the host name in the URL
        return f"ldaps://localhost:{self.ldaps_port}"

    def start(self) -> None:
        make_ca_and_server_cert(self.dir)
        for name in ("openldap", "ad"):
            (self.dir / name).mkdir()
        config = self.dir / "slapd.conf"
        config.write_text(_config(self.dir))
        command = [
            str(SLAPD),
            "-f",
            str(config),
            "-h",
            f"ldap://127.0.0.1:{self.port}/ ldaps://127.0.0.1:{self.ldaps_port}/",
            "-d",
            "256",  # stats: every operation, in the foreground, to stderr
        ]
        if os.geteuid() == 0:
            # slapd can drop root itself once its ports are open; it then owns nothing else.
            user = pwd.getpwnam("nobody")
            for path in [self.dir, *self.dir.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid)
            command += ["-u", user.pw_name, "-g", _group_name(user.pw_gid)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=log, cwd=self.dir
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"slapd exited: {self.log_path.read_text()[-3000:]}")
            if _answers(self.port) and _answers(self.ldaps_port):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("slapd did not start within 10 s")

    def stop(self) -> None:
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- the log --------------------------------------------------------------------------

    def log_mark(self) -> int:
        return self.log_path.stat().st_size

    def operations_since(self, mark: int) -> list[Operation]:
        """Operations logged after ``mark``, in order (slapd writes the request lines before
        it answers, so whatever a finished call sent is already there)."""
        text = self.log_path.read_bytes()[mark:].decode("utf-8", errors="replace")
        operations: dict[tuple[str, str], Operation] = {}
        for match in _LOG_LINE.finditer(text):
            key = (match["conn"], match["op"])
            kind, rest = match["kind"], match["rest"]
            if kind == "SRCH":
                if rest.startswith("attr="):
                    operations[key].attributes += rest[5:].split()
                else:
                    base = re.search(r'base="(.*?)" scope', rest)
                    filt = re.search(r'filter="(.*)"$', rest)
                    operations[key] = Operation(
                        "SRCH", dn=base[1] if base else "", filter=filt[1] if filt else ""
                    )
            elif kind == "MOD":
                if rest.startswith("attr="):
                    operations[key].attributes += rest[5:].split()
                else:
                    dn = re.search(r'dn="(.*)"', rest)
                    operations[key] = Operation("MOD", dn=dn[1] if dn else "")
            elif kind == "BIND" and rest.startswith("dn="):
                operations.setdefault(key, Operation("BIND", dn=rest[4:].split('"')[0]))
        return list(operations.values())


_LOG_LINE = re.compile(
    r"conn=(?P<conn>\d+) op=(?P<op>\d+) (?P<kind>SRCH|MOD|BIND) (?P<rest>[^\n]*)"
)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _group_name(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name


# --- the directories the tests read -------------------------------------------------------

NASTY = "evil*()\\\x00name"
"""A login and cn made of everything a filter must escape."""
DECOYS = ("evil*()\\", "evilname", "*", "evil")
"""Users an unescaped filter for NASTY would find."""
DOMAIN_SID = "S-1-5-21-1004336348-1177238915-682003330"
NASTY_GUID = b"*()\\\x00" + bytes(range(0xA0, 0xAB))
"""An objectGUID whose bytes are everything a filter must escape."""


def admin(server: ThrowawaySlapd, base: str) -> Any:
    import ldap3

    return ldap3.Connection(
        ldap3.Server(server.url, get_info=ldap3.NONE),
        f"cn=admin,{base}",
        ADMIN_PASSWORD,
        auto_bind=True,
        raise_exceptions=True,
        auto_escape=False,
    )


def dn_value(value: str) -> str:
    """An RDN value escaped for a DN (RFC 4514), NUL included."""
    out = []
    for i, char in enumerate(value):
        if (
            char in ',+"\\<>;='
            or (char in " #" and i == 0)
            or (char == " " and i == len(value) - 1)
        ):
            out.append("\\" + char)
        elif char == "\x00":
            out.append("\\00")
        else:
            out.append(char)
    return "".join(out)


def person_dn(login: str) -> str:
    return f"uid={dn_value(login)},ou=people,{OPENLDAP_BASE}"


def group_dn(name: str) -> str:
    return f"cn={dn_value(name)},ou=groups,{OPENLDAP_BASE}"


LONG_DESCRIPTION = (
    "Directory administrators: may change every entry of the directory, including the "
    "password policy; reviewed quarterly"
)
"""Longer than an LDIF line: ldapsearch folds it."""


def seed_openldap(server: ThrowawaySlapd, *, fillers: int = 6) -> None:
    """People with passwords, a permanently locked and a locked-out user, one without a
    password, nested and cyclic groups, a posixGroup, a groupOfUniqueNames, and NASTY."""
    conn = admin(server, OPENLDAP_BASE)
    conn.add(OPENLDAP_BASE, ["dcObject", "organization"], {"o": "Example"})
    for ou in ("people", "groups", "policies"):
        conn.add(f"ou={ou},{OPENLDAP_BASE}", ["organizationalUnit"])
    conn.add(
        f"cn=default,ou=policies,{OPENLDAP_BASE}",
        ["organizationalRole", "pwdPolicy"],
        {"pwdAttribute": "userPassword", "pwdLockout": "TRUE", "pwdMaxFailure": "5"},
    )
    for name in ("iam-gov", "limited", "narrow"):
        conn.add(
            f"cn={name},{OPENLDAP_BASE}",
            ["organizationalRole", "simpleSecurityObject"],
            {"userPassword": SERVICE_PASSWORD},
        )

    def user(login: str, name: str, *, password: str | None = "Passw0rd!", **extra: Any) -> None:
        attributes: dict[str, Any] = {"uid": login, "cn": name, "sn": name.split()[-1], **extra}
        if password is not None:
            attributes["userPassword"] = password
        conn.add(person_dn(login), ["inetOrgPerson"], attributes)

    user(
        "alice",
        "Alice Archer",
        mail="alice@example.org",
        employeeNumber="E001",
        displayName="Alice Archer",
    )
    user("bob", "Bob Baker", mail="bob@example.org", employeeNumber="E002")
    user("carol", "Carol Cook", mail="carol@example.org", employeeNumber="E003")
    conn.add(
        person_dn("dave"),
        ["inetOrgPerson", "posixAccount"],
        {
            "uid": "dave",
            "cn": "Dave Dunn",
            "sn": "Dunn",
            "uidNumber": "1004",
            "gidNumber": "1004",
            "homeDirectory": "/home/dave",
        },
    )
    user(NASTY, NASTY, mail="nasty@example.org")
    for login in DECOYS:
        user(login, login + " decoy")
    for number in range(1, fillers + 1):
        user(f"user{number:02}", f"Filler User{number:02}")

    # alice signs in once: slapd's "lastbind on" records pwdLastSuccess.
    import ldap3

    ldap3.Connection(
        ldap3.Server(server.url, get_info=ldap3.NONE),
        person_dn("alice"),
        "Passw0rd!",
        auto_bind=True,
    ).unbind()
    conn.modify(person_dn("bob"), {"pwdAccountLockedTime": [("MODIFY_REPLACE", ["000001010000Z"])]})
    conn.modify(
        person_dn("carol"), {"pwdAccountLockedTime": [("MODIFY_REPLACE", ["20260101000000Z"])]}
    )

    def group(name: str, *members: str, kind: str = "groupOfNames", **extra: Any) -> None:
        attribute = "uniqueMember" if kind == "groupOfUniqueNames" else "member"
        conn.add(group_dn(name), [kind], {"cn": name, attribute: list(members), **extra})

    group("sre", person_dn("carol"), person_dn(NASTY))
    group("platform", group_dn("sre"), person_dn("alice"))
    group("ldap-admins", group_dn("platform"), description=LONG_DESCRIPTION)
    group("everyone", person_dn("alice"), person_dn("bob") + "#'0101'B", kind="groupOfUniqueNames")
    conn.add(
        group_dn("developers"),
        ["posixGroup"],
        {"cn": "developers", "gidNumber": "2001", "memberUid": ["dave", "alice"]},
    )
    group("loop-a", person_dn("bob"))
    group("loop-b", group_dn("loop-a"))
    conn.modify(group_dn("loop-a"), {"member": [("MODIFY_ADD", [group_dn("loop-b")])]})
    group("decoys", *(person_dn(login) for login in DECOYS))
    conn.unbind()


def ad_user_dn(name: str) -> str:
    return f"CN={dn_value(name)},OU=Staff,{AD_BASE}"


def ad_group_dn(name: str) -> str:
    return f"CN={dn_value(name)},OU=Groups,{AD_BASE}"


def sid_bytes(sid: str) -> bytes:
    parts = sid.split("-")
    subs = [int(p) for p in parts[3:]]
    return (
        bytes([int(parts[1]), len(subs)])
        + int(parts[2]).to_bytes(6, "big")
        + b"".join(s.to_bytes(4, "little") for s in subs)
    )


def filetime(value: dt.datetime) -> str:
    epoch = dt.datetime(1601, 1, 1, tzinfo=dt.UTC)
    return str((value - epoch) // dt.timedelta(microseconds=1) * 10)


AD_NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
PSO_CONTAINER_DN = f"CN=Password Settings Container,CN=System,{AD_BASE}"
"""Where AD keeps fine-grained password policies: every domain since 2008 has it (empty here;
the PSO tests add their own). ``cn=limited`` may not see it, as AD's own default ACL has it."""


def guid(number: int) -> bytes:
    return bytes([number]) + bytes(range(1, 16))


def seed_ad(server: ThrowawaySlapd) -> None:
    """A small AD domain: the built-in Administrator and krbtgt, users in every state,
    privileged groups by RID and by name, nesting, a distribution group, a primary group."""
    conn = admin(server, AD_BASE)
    conn.add(AD_BASE, ["dcObject", "organization"], {"o": "Corp"})
    for ou in ("Staff", "Groups", "Builtin"):
        conn.add(f"OU={ou},{AD_BASE}", ["organizationalUnit"])
    for reader in ("iam-gov", "limited"):
        conn.add(
            f"cn={reader},{AD_BASE}",
            ["organizationalRole", "simpleSecurityObject"],
            {"userPassword": SERVICE_PASSWORD},
        )
    conn.add(f"CN=System,{AD_BASE}", ["container"], {"cn": "System"})
    conn.add(PSO_CONTAINER_DN, ["msDS-PasswordSettingsContainer"])
    day = dt.timedelta(days=1)

    def user(
        name: str, rid: int, control: int = 0x200, *, object_guid: bytes | None = None, **extra: Any
    ) -> None:
        attributes: dict[str, Any] = {
            "cn": name,
            "sn": name,
            "sAMAccountName": name,
            "objectGUID": object_guid or guid(rid % 256),
            "objectSid": sid_bytes(f"{DOMAIN_SID}-{rid}"),
            "userAccountControl": str(control),
            "objectCategory": "person",
            "primaryGroupID": "513",
            "whenCreated": "20240115103000.0Z",
            "pwdLastSet": filetime(AD_NOW - 30 * day),
            "accountExpires": "9223372036854775807",
            **extra,
        }
        conn.add(ad_user_dn(name), ["user"], attributes)

    user(
        "Administrator", 500, 0x10200, adminCount="1", lastLogonTimestamp=filetime(AD_NOW - 2 * day)
    )
    user("krbtgt", 502, 0x202, accountExpires="0")
    user(
        "jdoe",
        1104,
        mail="jdoe@corp.example.com",
        displayName="John Doe",
        employeeID="E104",
        userPrincipalName="jdoe@corp.example.com",
        lastLogonTimestamp=filetime(AD_NOW - 10 * day),
    )
    user("msmith", 1105, 0x202, employeeID="E105")
    user("temp", 1106, accountExpires=filetime(AD_NOW - 5 * day))
    user("lockedout", 1107, lockoutTime=filetime(AD_NOW - dt.timedelta(minutes=10)))
    user("newhire", 1108, pwdLastSet="0", accountExpires="0")
    user("sneaky", 1109, primaryGroupID="512")
    user(NASTY, 1110, object_guid=NASTY_GUID)
    conn.add(
        f"CN=WS01,OU=Staff,{AD_BASE}",
        ["computer"],
        {
            "cn": "WS01",
            "sn": "WS01",
            "sAMAccountName": "WS01$",
            "objectGUID": guid(200),
            "objectCategory": "computer",
        },
    )

    def group(
        name: str, sid: str, group_type: int, *members: str, dn: str | None = None, **extra: Any
    ) -> None:
        attributes: dict[str, Any] = {
            "cn": name,
            "sAMAccountName": name,
            "objectGUID": guid(int(sid.rsplit("-", 1)[1]) % 256 ^ 0x80),
            "objectSid": sid_bytes(sid),
            "groupType": str(group_type - (1 << 32) if group_type & 0x80000000 else group_type),
            **extra,
        }
        if members:
            attributes["member"] = list(members)
        conn.add(dn or ad_group_dn(name), ["group"], attributes)

    global_security, builtin_local, domain_local = 0x80000002, 0x80000005, 0x80000004
    group(
        "Domain Admins",
        f"{DOMAIN_SID}-512",
        global_security,
        ad_user_dn("Administrator"),
        adminCount="1",
    )
    group("Domain Users", f"{DOMAIN_SID}-513", global_security)
    group(
        "Administrators",
        "S-1-5-32-544",
        builtin_local,
        ad_group_dn("Domain Admins"),
        dn=f"CN=Administrators,OU=Builtin,{AD_BASE}",
    )
    group(
        "Helpdesk",
        f"{DOMAIN_SID}-1201",
        global_security,
        ad_user_dn("jdoe"),
        ad_user_dn(NASTY),
        managedBy=ad_user_dn("jdoe"),
        description="First-line support",
    )
    group("Ops Mail", f"{DOMAIN_SID}-1202", 0x2, ad_user_dn("msmith"))
    group(
        "Account Operators",
        "S-1-5-32-548",
        builtin_local,
        ad_group_dn("Helpdesk"),
        ad_group_dn("Ops Mail"),
        dn=f"CN=Account Operators,OU=Builtin,{AD_BASE}",
    )
    group("DnsAdmins", f"{DOMAIN_SID}-1101", domain_local, ad_user_dn("lockedout"))
    group("Finance", f"{DOMAIN_SID}-1203", global_security, ad_user_dn("jdoe"), ad_user_dn("temp"))
    conn.unbind()


# --- connecting the connector -------------------------------------------------------------

PASSWORD_ENV = "IAM_GOV_TEST_LDAP_PASSWORD"


def base_of(flavor: str) -> str:
    return OPENLDAP_BASE if flavor == "openldap" else AD_BASE


def live_options(server: ThrowawaySlapd, flavor: str = "openldap", **extra: Any) -> LDAPOptions:
    from iam_gov.connectors.ldap.connector import LDAPOptions

    return LDAPOptions.model_validate(
        {
            "type": "ldap",
            "flavor": flavor,
            "mode": "live",
            "url": server.url,
            "bind_dn": f"cn=iam-gov,{base_of(flavor)}",
            "bind_password": {"env": PASSWORD_ENV},
            "base_dn": base_of(flavor),
            **extra,
        }
    )


@contextlib.contextmanager
def seeded_slapd() -> Iterator[ThrowawaySlapd]:
    """slapd with both directories seeded, and the service password in the environment."""
    import pytest

    if not available():
        from tests.support.unavailable import unavailable

        unavailable("slapd not found (make test installs it: .ci/install-system-packages)")
    server = ThrowawaySlapd()
    server.start()
    try:
        seed_openldap(server)
        seed_ad(server)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(PASSWORD_ENV, SERVICE_PASSWORD)
            yield server
    finally:
        server.stop()


def ldapsearch(
    server: ThrowawaySlapd,
    flavor: str,
    out: Path,
    search_filter: str,
    attributes: list[str],
    *extra: str,
) -> Path:
    """What ``ldapsearch -LLL`` writes for the directory, as an administrator (who may read
    userPassword, so that the export says who has a password)."""
    binary = shutil.which("ldapsearch")
    if binary is None:
        from tests.support.unavailable import unavailable

        unavailable("ldapsearch not found (make test installs ldap-utils)")
    base = base_of(flavor)
    result = subprocess.run(
        [
            binary,
            "-x",
            "-LLL",
            "-H",
            server.url,
            "-D",
            f"cn=admin,{base}",
            "-w",
            ADMIN_PASSWORD,
            "-b",
            base,
            "-E",
            "pr=4/noprompt",
            *extra,
            search_filter,
            *attributes,
        ],
        capture_output=True,
        check=True,
    )
    out.write_bytes(result.stdout)
    return out


_FILTER_ATTRIBUTE = re.compile(r"\(([A-Za-z][A-Za-z0-9-]*)(?:[~<>]?=|:)")
_GROUP_MARKERS = ("groupOfNames", "objectClass=group)")


def used_permissions(operations: list[Operation], flavor: str) -> set[str]:
    """The operations as the connector's permission strings: what was bound, searched on,
    read and written, on users or groups."""
    used: set[str] = set()
    for op in operations:
        if op.kind == "BIND":
            used.add("ldap:bind")
            continue
        if op.kind == "MOD":
            kind = "group" if "ou=groups" in op.dn.lower() else "user"
            used.add("ldap:modify")
            used.update(f"{flavor}:write:{kind}/{a}" for a in op.attributes)
            continue
        kind = "group" if any(m in op.filter for m in _GROUP_MARKERS) else "user"
        used.add("ldap:search")
        used.update(f"{flavor}:search:{kind}/{a}" for a in _FILTER_ATTRIBUTE.findall(op.filter))
        used.update(f"{flavor}:read:{kind}/{a}" for a in op.attributes if a != "1.1")
    return used


def declared(permissions: tuple[str, ...], flavor: str) -> set[str]:
    return {p for p in permissions if p.startswith((f"{flavor}:", "ldap:"))}
