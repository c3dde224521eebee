"""Reading an easy-rsa PKI for the OpenVPN connector: index.txt, issued certificates, the CRL."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from iam_gov.connectors.openvpn.conf import ServerConf
from iam_gov.connectors.shared.files import BadFile, read_source
from iam_gov.errors import InputError, SourceError
from iam_gov.files import make_private_folders, write_atomically
from iam_gov.model import SnapshotError

INDEX = "index.txt"
CA_CERT = "ca.crt"
PKI_CRL = "crl.pem"

# Where easy-rsa 3.0 to 3.2 keep certificates: the current ones, copies by serial, revoked,
# renewed (3.0.9-3.1.x) and expired (3.2) ones. Private keys are never read.
CERTIFICATE_GLOBS = (
    "issued/*.crt",
    "certs_by_serial/*.pem",
    "revoked/certs_by_serial/*.crt",
    "revoked/certs_by_serial/*.pem",
    "renewed/issued/*.crt",
    "renewed/certs_by_serial/*.crt",
    "expired/*.crt",
)

_REASONS = {
    # openssl ca keeps the -crl_compromise / -crl_CA_compromise forms under these names
    "keytime": "keyCompromise",
    "cakeytime": "CACompromise",
    "holdinstruction": "certificateHold",
}
_KNOWN_REASONS = (
    "unspecified",
    "keyCompromise",
    "CACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "certificateHold",
    "removeFromCRL",
    "privilegeWithdrawn",
    "aACompromise",
)
_REASON_BY_LOWER = {r.lower(): r for r in _KNOWN_REASONS} | _REASONS
# OpenSSL's one-line DN: "/C=US/O=Org/CN=alice". A "/" inside a value is not escaped, so a
# new attribute starts only where "/" is followed by a name and "=".
_DN_SPLIT = re.compile(r"/(?=[A-Za-z][A-Za-z0-9.-]*=)")
_HEX = re.compile(r"^[0-9A-Fa-f]+$")


def serial_hex(number: int) -> str:
    """A serial as OpenSSL writes it in index.txt: upper-case hex, an even number of digits."""
    text = f"{number:X}"
    return text if len(text) % 2 == 0 else "0" + text


@dataclass(frozen=True)
class IndexEntry:
    """One line of an OpenSSL CA database (easy-rsa's index.txt)."""

    line: int
    status: str
    """``V`` valid, ``R`` revoked, ``E`` expired (as ``openssl ca -updatedb`` marks them)."""
    expires_at: datetime
    revoked_at: datetime | None
    revocation_reason: str | None
    serial: str
    """Canonical upper-case hex, see ``serial_hex``."""
    subject: str
    common_name: str | None
    email: str | None

    @property
    def serial_number(self) -> int:
        return int(self.serial, 16)


@dataclass
class Index:
    path: Path
    entries: list[IndexEntry] = field(default_factory=list)
    errors: list[SnapshotError] = field(default_factory=list)
    bad_lines: int = 0

    def bad_line(self, line: int, message: str, serial: str | None = None) -> None:
        """A line left out: the snapshot cannot show the access it gives."""
        self.bad_lines += 1
        self.errors.append(
            SnapshotError(source=str(self.path), line=line, record=serial, message=message)
        )


def read_index(pki_dir: Path) -> Index:
    """index.txt, line by line; a bad line is an error naming file:line, the rest is read."""
    path = pki_dir / INDEX
    raw = read_source(path, "the PKI's certificate database")
    index = Index(path)
    seen: dict[str, int] = {}
    lines = raw.split(b"\n")
    for number, raw_line in enumerate(lines, start=1):
        line = _decode(raw_line).rstrip("\r")
        if not line.strip():
            continue
        if number == len(lines):
            # OpenSSL ends every line; one without its end is where a copy was cut off, and
            # OpenSSL itself does not read it either.
            index.bad_line(number, "the last line has no line end: index.txt is cut off here")
            continue
        try:
            entry = parse_index_line(line, number)
        except ValueError as exc:
            index.bad_line(number, str(exc))
            continue
        if entry.common_name is None:
            # A certificate nobody can be named for: access this snapshot cannot show.
            index.bad_line(
                number,
                "the subject has no CN: no identity to give this certificate",
                entry.serial,
            )
        elif entry.serial in seen:
            index.bad_line(
                number,
                f"serial {entry.serial} is already on line {seen[entry.serial]}",
                entry.serial,
            )
        else:
            seen[entry.serial] = number
            index.entries.append(entry)
    if index.bad_lines and not index.entries:
        raise SourceError(
            f"{path}: not an OpenSSL CA database (index.txt): no line reads as one "
            f"({index.errors[0].message} on line {index.errors[0].line})"
        )
    return index


def parse_index_line(line: str, number: int = 0) -> IndexEntry:
    fields = line.split("\t")
    # OpenSSL writes six fields (status, expiry, revocation, serial, file name, subject);
    # some tools leave out the file name.
    if len(fields) == 6:
        status, expiry, revocation, serial, _file, subject = fields
    elif len(fields) == 5:
        status, expiry, revocation, serial, subject = fields
    else:
        raise ValueError(
            f"expected 6 tab-separated fields (status, expiry, revocation, serial, file, "
            f"subject), found {len(fields)}"
        )
    status = status.strip()
    if status not in ("V", "R", "E"):
        raise ValueError(f"unknown status {status[:10]!r} (expected V, R or E)")
    expires_at = asn1_time(expiry.strip(), "expiry date")
    revoked_at: datetime | None = None
    reason: str | None = None
    revocation = revocation.strip()
    if revocation:
        when, _, rest = revocation.partition(",")
        revoked_at = asn1_time(when, "revocation date")
        if rest:
            name = rest.split(",", 1)[0].strip()
            reason = _REASON_BY_LOWER.get(name.lower(), name)
    if status == "R" and revoked_at is None:
        raise ValueError("a revoked (R) certificate without a revocation date")
    serial = serial.strip()
    if not _HEX.match(serial):
        raise ValueError(f"serial {serial[:40]!r} is not hexadecimal")
    attributes = parse_dn(subject.strip())
    return IndexEntry(
        line=number,
        status=status,
        expires_at=expires_at,
        revoked_at=revoked_at,
        revocation_reason=reason,
        serial=serial_hex(int(serial, 16)),
        subject=subject.strip(),
        common_name=_last(attributes, "CN"),
        email=_last(attributes, "emailAddress"),
    )


def parse_dn(subject: str) -> list[tuple[str, str]]:
    """OpenSSL's one-line form (``/O=Org/CN=alice``) as (name, value) pairs, in order."""
    if not subject.startswith("/"):
        raise ValueError(f"subject {subject[:60]!r} is not an OpenSSL one-line name (/CN=...)")
    pairs = []
    for part in _DN_SPLIT.split(subject[1:]):
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"subject {subject[:60]!r}: {part[:30]!r} has no '='")
        pairs.append((name, value))
    return pairs


def _last(pairs: Iterable[tuple[str, str]], name: str) -> str | None:
    # A DN with several CNs names its subject by the last (most specific) one, as OpenVPN does.
    found = [value for key, value in pairs if key.lower() == name.lower()]
    return found[-1] if found and found[-1] else None


def asn1_time(text: str, what: str) -> datetime:
    """UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ), as index.txt has them."""
    try:
        if len(text) == 13 and text.endswith("Z"):
            value = datetime.strptime(text[:-1], "%y%m%d%H%M%S")
            # RFC 5280: YY >= 50 is 19YY; strptime's pivot is 69.
            year = value.year % 100
            value = value.replace(year=(1900 if year >= 50 else 2000) + year)
        elif len(text) == 15 and text.endswith("Z"):
            value = datetime.strptime(text[:-1], "%Y%m%d%H%M%S")
        else:
            raise ValueError
    except ValueError:
        raise ValueError(f"{what} {text[:20]!r} is not YYMMDDHHMMSSZ") from None
    return value.replace(tzinfo=UTC)


# --- certificates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateFile:
    path: Path
    serial: str
    not_before: datetime
    not_after: datetime
    common_name: str | None
    email: str | None
    server_only: bool
    """Its extended key usage allows TLS server but not client authentication."""


def read_certificates(
    pki_dir: Path, errors: list[SnapshotError]
) -> dict[str, list[CertificateFile]]:
    """Serial -> the certificate files that hold it (issued/, certs_by_serial/, …). What each
    file says is kept in a cache by its content (``CertificateCache``): the next collect
    reads the files again but parses only the new ones."""
    found: dict[str, list[CertificateFile]] = {}
    cache = CertificateCache.load(pki_dir)
    for path in certificate_files(pki_dir):
        try:
            data = read_source(path, "a certificate")
            cert = cache.certificate(path, data)
        except BadFile as exc:
            errors.append(exc.as_problem())
            continue
        except (ValueError, x509.InvalidVersion) as exc:
            # Only notBefore and the key usage come from here; index.txt stays the truth.
            errors.append(
                SnapshotError(source=str(path), message=f"not a readable certificate: {exc}")
            )
            continue
        found.setdefault(cert.serial, []).append(cert)
    cache.save()
    return found


def certificate_files(pki_dir: Path) -> Iterator[Path]:
    for pattern in CERTIFICATE_GLOBS:
        # Each pattern's files are in one folder: by name is the order of their paths.
        yield from sorted(pki_dir.glob(pattern), key=lambda path: path.name)


def load_certificate(path: Path) -> CertificateFile:
    return parse_certificate(path, read_source(path, "a certificate"))


def parse_certificate(path: Path, data: bytes) -> CertificateFile:
    """What ``data``, the bytes of the certificate file ``path``, says; ValueError (or
    ``x509.InvalidVersion``) when it is not a certificate."""
    # easy-rsa puts a text dump before the PEM block; cryptography skips it.
    cert = (
        x509.load_pem_x509_certificate(data)
        if b"-----BEGIN" in data
        else x509.load_der_x509_certificate(data)
    )
    common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    emails = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        emails += san.get_values_for_type(x509.RFC822Name)
    except x509.ExtensionNotFound:
        pass
    try:
        usages = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
        server_only = (
            ExtendedKeyUsageOID.SERVER_AUTH in usages
            and ExtendedKeyUsageOID.CLIENT_AUTH not in usages
        )
    except x509.ExtensionNotFound:
        server_only = False
    return CertificateFile(
        path=path,
        serial=serial_hex(cert.serial_number),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        common_name=str(common_names[-1].value) if common_names else None,
        email=emails[0] if emails else None,
        server_only=server_only,
    )


_CACHE_FORMAT = "iam-gov openvpn certificates 1"


def cache_folder() -> Path:
    """Where parsed certificates are kept, as the AWS action catalogue is:
    ``$IAM_GOV_CACHE_DIR``, else ``$XDG_CACHE_HOME/iam-gov``, else ``~/.cache/iam-gov``."""
    explicit = os.environ.get("IAM_GOV_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "iam-gov"


@dataclass
class CertificateCache:
    """What the certificate files of one PKI said, by the SHA-256 of their bytes: a file is
    read every time, and parsed again only when its bytes are new. The cache file (0600, in
    a 0700 folder) keeps the certificates of the last collect only; one that cannot be read,
    or is damaged, counts as empty and is written again; one that cannot be written costs
    the next collect the parsing, nothing else."""

    path: Path | None
    known: dict[str, list[Any]] = field(default_factory=dict)
    used: dict[str, list[Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, pki_dir: Path) -> CertificateCache:
        try:
            where = str(pki_dir.resolve()).encode("utf-8", "surrogateescape")
        except (OSError, RuntimeError):
            return cls(None)
        path = (
            cache_folder() / f"openvpn-certificates-{hashlib.sha256(where).hexdigest()[:16]}.json"
        )
        try:
            stored = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return cls(path)
        if not isinstance(stored, dict) or stored.get("format") != _CACHE_FORMAT:
            return cls(path)
        known = stored.get("certificates")
        return cls(path, known if isinstance(known, dict) else {})

    def certificate(self, path: Path, data: bytes) -> CertificateFile:
        """What the file ``path`` holding ``data`` says: from the cache, else parsed."""
        key = hashlib.sha256(data).hexdigest()
        cert = _from_cache(path, self.known.get(key))
        if cert is None:
            cert = parse_certificate(path, data)
        self.used[key] = [
            cert.serial,
            cert.not_before.isoformat(),
            cert.not_after.isoformat(),
            cert.common_name,
            cert.email,
            cert.server_only,
        ]
        return cert

    def save(self) -> None:
        if self.path is None or self.used == self.known:
            return
        text = json.dumps({"format": _CACHE_FORMAT, "certificates": self.used})
        try:
            make_private_folders(self.path.parent)
            write_atomically(self.path, text, "certificate cache")
        except (OSError, InputError):
            return


def _from_cache(path: Path, entry: object) -> CertificateFile | None:
    """The certificate a cache entry describes; None for an entry not of the right shape."""
    if not isinstance(entry, list) or len(entry) != 6:
        return None
    serial, not_before, not_after, common_name, email, server_only = entry
    if not (
        isinstance(serial, str)
        and isinstance(not_before, str)
        and isinstance(not_after, str)
        and isinstance(common_name, str | None)
        and isinstance(email, str | None)
        and isinstance(server_only, bool)
    ):
        return None
    try:
        starts, ends = datetime.fromisoformat(not_before), datetime.fromisoformat(not_after)
    except ValueError:
        return None
    if starts.utcoffset() != timedelta(0) or ends.utcoffset() != timedelta(0):
        return None
    return CertificateFile(
        path=path,
        serial=serial,
        not_before=starts,
        not_after=ends,
        common_name=common_name,
        email=email,
        server_only=server_only,
    )


# --- the CRL ----------------------------------------------------------------------------------


@dataclass
class CrlInfo:
    """What the CRL the server checks says, as ``settings["vpn"]["crl"]`` reports it."""

    path: Path
    present: bool
    is_dir: bool = False
    this_update: datetime | None = None
    next_update: datetime | None = None
    serials: set[str] = field(default_factory=set)
    readable: bool = False
    signature_valid: bool | None = None
    problems: list[str] = field(default_factory=list)

    def settings(self, index: Index) -> dict[str, object]:
        revoked = {e.serial for e in index.entries if e.status == "R"}
        known = {e.serial for e in index.entries}
        # An unreadable CRL lists nothing the server can use.
        missing = sorted(revoked - self.serials, key=_serial_key)
        return {
            "path": str(self.path),
            "present": self.present,
            "this_update": self.this_update.isoformat() if self.this_update else None,
            "next_update": self.next_update.isoformat() if self.next_update else None,
            "missing_revoked_serials": missing,
            "unknown_serials": sorted(self.serials - known, key=_serial_key),
            "signature_valid": self.signature_valid,
        }


def _serial_key(serial: str) -> int:
    return int(serial, 16)


def crl_location(
    crl_path: Path | None, pki_dir: Path, conf: ServerConf | None
) -> tuple[Path, bool] | None:
    """Where the server reads its CRL, and whether it is a folder of serials: ``crl_path``
    when given, else server.conf's ``crl-verify``, else the PKI's own crl.pem. None when
    server.conf says the server checks none."""
    if crl_path is not None:
        return crl_path, crl_path.is_dir()
    if conf is not None:
        return conf.crl()
    return pki_dir / PKI_CRL, False


def read_server_crl(
    crl_path: Path | None, pki_dir: Path, conf: ServerConf | None
) -> CrlInfo | None:
    """The CRL the server checks (see ``crl_location``), its signature checked against the
    PKI's CA certificate; None when it checks none."""
    location = crl_location(crl_path, pki_dir, conf)
    if location is None:
        return None
    path, is_dir = location
    return read_crl(path, [pki_dir / CA_CERT], directory=is_dir)


def read_crl(path: Path, ca_paths: Iterable[Path], *, directory: bool = False) -> CrlInfo:
    """The CRL at ``path`` (PEM or DER), its signature checked against the CA certificate.
    With ``directory`` (``crl-verify DIR dir``), a folder whose file names are revoked serials
    in decimal, as OpenVPN reads it."""
    if directory:
        return _read_crl_dir(path)
    info = CrlInfo(path=path, present=path.is_file())
    if not info.present:
        info.problems.append("the CRL file does not exist")
        return info
    try:
        data = read_source(path, "a CRL")
        crl = (
            x509.load_pem_x509_crl(data)
            if b"-----BEGIN X509 CRL" in data
            else x509.load_der_x509_crl(data)
        )
    except BadFile as exc:
        info.problems.append(exc.message)
        return info
    except (ValueError, x509.InvalidVersion) as exc:
        info.problems.append(f"not a readable CRL: {exc}")
        return info
    info.readable = True
    info.this_update = crl.last_update_utc
    info.next_update = crl.next_update_utc
    info.serials = {serial_hex(revoked.serial_number) for revoked in crl}
    info.signature_valid = _crl_signed_by(crl, ca_paths, info.problems)
    return info


def _crl_signed_by(
    crl: x509.CertificateRevocationList, ca_paths: Iterable[Path], problems: list[str]
) -> bool | None:
    cas: list[x509.Certificate] = []
    for ca_path in ca_paths:
        try:
            cas.extend(x509.load_pem_x509_certificates(read_source(ca_path, "a CA certificate")))
        except BadFile as exc:
            problems.append(str(exc))
            continue
        except ValueError:
            continue
        break
    if not cas:
        problems.append("no readable CA certificate to check the CRL's signature against")
        return None
    for ca in cas:
        try:
            if ca.subject != crl.issuer:  # parsed when first used: may fail here
                continue
            if crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
                return True
        except (TypeError, ValueError):
            continue
    problems.append(
        "the CRL's signature does not verify against the CA certificate: OpenVPN rejects "
        "such a CRL (a CRL from another CA, or a damaged file)"
    )
    return False


def _read_crl_dir(path: Path) -> CrlInfo:
    info = CrlInfo(path=path, present=path.is_dir(), is_dir=True)
    if not info.present:
        info.problems.append("the CRL directory does not exist")
        return info
    info.readable = True
    for entry in path.iterdir():
        # isdigit() is true of "²" and other digits int() refuses
        if entry.name.isascii() and entry.name.isdigit():
            info.serials.add(serial_hex(int(entry.name)))
    return info


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
