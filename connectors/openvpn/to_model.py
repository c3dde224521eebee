"""What the OpenVPN connector read, turned into iam-gov's model.

index.txt, the certificates, the CRL, status and logs and the identity mapping file become: a
common name is an account, each of its certificates a credential, the VPN one entitlement."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from iam_gov.connectors.openvpn.conf import ServerConf, authentication
from iam_gov.connectors.openvpn.log import LogHistory
from iam_gov.connectors.openvpn.pki import CertificateFile, CrlInfo, Index, IndexEntry
from iam_gov.connectors.openvpn.status import Session, StatusReport, connected
from iam_gov.connectors.shared.vpn import Vpn
from iam_gov.connectors.shared.vpn_identities import MappedIdentity
from iam_gov.model import (
    Account,
    AccountKind,
    AccountStatus,
    Credential,
    CredentialKind,
    SnapshotError,
    SystemSnapshot,
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class ServerRecords:
    """Everything collect read about one server and its PKI, before it is the model."""

    index: Index
    certificates: dict[str, list[CertificateFile]]
    """Serial -> the certificate files that hold it."""
    certificate_errors: list[SnapshotError]
    conf: ServerConf | None
    identities: dict[str, MappedIdentity]
    """Common name -> its entry in the identity mapping file."""
    crl: CrlInfo | None
    """The CRL the server checks; None when server.conf has it check none."""
    reports: list[StatusReport]
    """Who is connected: the management interface's answer, then the status files."""
    history: LogHistory | None


class SnapshotBuilder:
    """Turns one server's records into its snapshot."""

    def __init__(
        self,
        vpn: Vpn,
        records: ServerRecords,
        *,
        collected_at: datetime,
        cn_is: Literal["login", "email"],
        crl_warning_days: int,
        second_factor: str | None,
        relies_on: str | None,
        mfa_from: str | None = None,
    ) -> None:
        """``second_factor``, ``relies_on`` and ``mfa_from``: what the options declare of how
        clients authenticate, beyond what server.conf shows."""
        self.vpn = vpn
        self.system = vpn.system
        self.records = records
        self.index = records.index
        self.certificates = records.certificates
        self.crl = records.crl
        self.conf = records.conf
        self.identities = records.identities
        self.collected_at = collected_at
        self.cn_is = cn_is
        self.crl_warning_days = crl_warning_days
        self.second_factor = second_factor
        self.relies_on = relies_on
        self.mfa_from = mfa_from
        self.errors: list[SnapshotError] = []
        self.accounts: dict[str, Account] = {}
        self.credentials: list[Credential] = []
        self.server_certificates: set[str] = set()

    def snapshot(self, *, source: str) -> SystemSnapshot:
        records = self.records
        unlisted = self._unlisted_certificates()
        self.errors = [
            *self.index.errors,
            *unlisted,
            *records.certificate_errors,
            *self._crl_problems(),
        ]
        complete = self.index.bad_lines == 0 and not unlisted
        for report in records.reports:
            self.errors.extend(report.errors)
            complete = complete and not report.errors
        if records.history is not None:
            self.errors.extend(records.history.errors)
        self._identities()
        self._activity(records.reports, records.history)
        settings: dict[str, Any] = {
            "vpn": {
                "kind": self.vpn.connector,
                "authentication": authentication(
                    self.conf,
                    second_factor=self.second_factor,
                    relies_on=self.relies_on,
                    mfa_from=self.mfa_from,
                ),
                "crl": self.crl.settings(self.index) if self.crl is not None else None,
            },
            "observation": {"observed_since": self._observed_since().isoformat()},
        }
        if self.server_certificates:
            settings["vpn"]["server_certificates"] = sorted(self.server_certificates)
        # Whose data its findings are judged by too: a finding is not resolved while that
        # system's data is incomplete (a VPN user's factors live in the IdP behind RADIUS).
        depends_on = [name for name in (self.mfa_from, self.relies_on) if name]
        if depends_on:
            settings["depends_on"] = list(dict.fromkeys(depends_on))
        if not records.reports and records.history is None:
            self.errors.append(
                SnapshotError(
                    source=self.system,
                    message="no status_file, management or log_files given: when identities "
                    "last connected is unknown",
                )
            )
        return self.vpn.snapshot(
            source=source,
            collected_at=self.collected_at,
            complete=complete,
            errors=self.errors,
            accounts=sorted(self.accounts.values(), key=lambda a: a.native_id),
            credentials=sorted(self.credentials, key=lambda c: c.credential_id),
            settings=settings,
        )

    def _unlisted_certificates(self) -> list[SnapshotError]:
        """Certificates the PKI issued that index.txt does not list: an index.txt cut short
        or edited. The server accepts them all the same, so whose access they are is unknown."""
        listed = {entry.serial for entry in self.index.entries}
        problems = []
        for serial, files in sorted(self.certificates.items()):
            if serial in listed:
                continue
            found = files[0]
            holder = f" ({found.common_name})" if found.common_name else ""
            problems.append(
                SnapshotError(
                    source=str(found.path),
                    record=serial,
                    message=f"certificate {serial}{holder} is not among the lines read from "
                    f"{self.index.path} (cut short, edited, or a line left out above)",
                    consequence="whoever holds it can connect unless the CRL lists it; no "
                    "finding names them",
                )
            )
        return problems

    # the CRL

    def _crl_problems(self) -> list[SnapshotError]:
        crl = self.crl
        if crl is None:
            assert self.conf is not None  # only server.conf can say that no CRL is checked
            return [
                SnapshotError(
                    source=str(self.conf.path),
                    message="no crl-verify: the server does not check whether a certificate "
                    "was revoked, so every revoked certificate can still connect",
                )
            ]
        source = str(crl.path)
        problems = [SnapshotError(source=source, message=p) for p in crl.problems]
        if crl.next_update is not None:
            left = crl.next_update - self.collected_at
            if left.total_seconds() <= 0:
                problems.append(
                    SnapshotError(
                        source=source,
                        message=f"the CRL expired on {crl.next_update:%Y-%m-%d %H:%M} UTC: "
                        "OpenVPN refuses every client until a new one is installed",
                    )
                )
            elif left.days < self.crl_warning_days:
                problems.append(
                    SnapshotError(
                        source=source,
                        message=f"the CRL's next update is {crl.next_update:%Y-%m-%d %H:%M} "
                        f"UTC, in {left.days} days: regenerate it before it expires",
                    )
                )
        return problems

    # identities

    def _identities(self) -> None:
        by_name: dict[str, list[IndexEntry]] = {}
        for entry in self.index.entries:
            assert entry.common_name is not None  # read_index leaves out those without
            by_name.setdefault(entry.common_name, []).append(entry)
        for name, entries in by_name.items():
            self._identity(name, entries)

    def _identity(self, name: str, entries: list[IndexEntry]) -> None:
        files = [f for e in entries for f in self.certificates.get(e.serial, [])[:1]]
        server_only = bool(files) and all(f.server_only for f in files)
        if server_only and self.conf is not None and self.conf.requires_client_eku():
            # remote-cert-tls client: the server's own certificate cannot connect as a client.
            self.server_certificates.add(name)
            return
        mapped = self.identities.get(name)
        credentials = [self._credential(name, e) for e in entries]
        self.credentials.extend(credentials)
        valid = [c for c in credentials if c.active]
        created = [c.created_at for c in credentials if c.created_at is not None]
        attributes = {"common_name": name, "valid_certificates": str(len(valid))}
        if valid:
            attributes["certificate_status"] = "valid"
        else:
            # Revoked in index.txt, or listed by the CRL the server checks.
            revoked = any(
                e.status == "R" or (self.crl is not None and e.serial in self.crl.serials)
                for e in entries
            )
            attributes["certificate_status"] = "revoked" if revoked else "expired"
        kind = AccountKind.HUMAN
        if server_only:
            kind = AccountKind.SERVICE
            attributes["certificate_type"] = "server"
            if self.conf is not None:
                self.errors.append(
                    SnapshotError(
                        source=str(self.conf.path),
                        record=name,
                        message=f"{name} holds a server certificate, and without "
                        "`remote-cert-tls client` the server accepts it from a client",
                    )
                )
        if mapped is not None and mapped.kind is not None:
            kind = AccountKind.SERVICE if mapped.kind == "service" else AccountKind.HUMAN
        if mapped is not None and mapped.note:
            attributes["note"] = mapped.note
        self.accounts[name] = Account(
            system=self.system,
            native_id=name,
            login=(mapped.login if mapped and mapped.login else name),
            email=self._email(name, entries, files, mapped),
            employee_id=mapped.employee_id if mapped else None,
            status=AccountStatus.ACTIVE if valid else AccountStatus.DISABLED,
            kind=kind,
            created_at=min(created) if created else None,
            # The VPN enrols no factor per user; MFA is judged per server (settings).
            mfa_factors=None,
            attributes=attributes,
        )

    def _email(
        self,
        name: str,
        entries: list[IndexEntry],
        files: list[CertificateFile],
        mapped: MappedIdentity | None,
    ) -> str | None:
        if mapped is not None and mapped.email:
            return mapped.email
        if _EMAIL.match(name):
            return name
        if self.cn_is == "email":
            self.errors.append(
                SnapshotError(
                    source=str(self.index.path),
                    line=entries[0].line,
                    record=name,
                    message=f"cn_is = email, but the common name {name!r} is not an e-mail address",
                )
            )
        found = [e.email for e in entries if e.email] + [f.email for f in files if f.email]
        return found[0] if found else None

    def _credential(self, name: str, entry: IndexEntry) -> Credential:
        files = self.certificates.get(entry.serial, [])
        listed = self.crl is not None and self.crl.readable and entry.serial in self.crl.serials
        active = entry.status == "V" and entry.expires_at > self.collected_at and not listed
        if listed and entry.status == "V":
            self.errors.append(
                SnapshotError(
                    source=str(self.index.path),
                    line=entry.line,
                    record=entry.serial,
                    message=f"the CRL lists {name}'s certificate {entry.serial}, which "
                    "index.txt says is valid: the server refuses it",
                )
            )
        attributes = {"serial": entry.serial, "status": entry.status, "subject": entry.subject}
        if entry.revoked_at is not None:
            attributes["revoked_at"] = entry.revoked_at.isoformat()
        if entry.revocation_reason:
            attributes["revocation_reason"] = entry.revocation_reason
        if files:
            attributes["file"] = files[0].path.name
        return Credential(
            system=self.system,
            account_id=name,
            credential_id=f"{name}#cert-{entry.serial}",
            kind=CredentialKind.CERTIFICATE,
            active=active,
            created_at=files[0].not_before if files else None,
            expires_at=entry.expires_at,
            attributes=attributes,
        )

    # activity

    def _activity(self, reports: list[StatusReport], history: LogHistory | None) -> None:
        aliases = {name: name for name in self.accounts}
        for name, account in self.accounts.items():
            # username-as-common-name: the status and logs name the user, not the CN.
            aliases.setdefault(account.login, name)
        seen: dict[str, datetime] = {}
        sessions: dict[str, list[Session]] = {}
        for report in reports:
            moment = report.updated_at or self.collected_at
            for name, found in connected([report]).items():
                key = aliases.get(name)
                if key is None:
                    key = self._connected_stranger(name, report)
                    aliases[name] = key
                sessions.setdefault(key, []).extend(found)
                seen[key] = max(seen.get(key, moment), moment)
        strangers: set[str] = set()
        if history is not None:
            for name, moment in history.last_seen.items():
                key = aliases.get(name)
                if key is None:
                    strangers.add(name)
                    continue
                seen[key] = max(seen.get(key, moment), moment)
        if strangers:
            listed = ", ".join(sorted(strangers)[:10]) + (" …" if len(strangers) > 10 else "")
            self.errors.append(
                SnapshotError(
                    source="log_files",
                    message=f"{len(strangers)} names connected in the past have no certificate "
                    f"in index.txt: {listed}",
                )
            )
        positions: dict[str, list[int]] = {}
        for index, credential in enumerate(self.credentials):
            positions.setdefault(credential.account_id, []).append(index)
        for key, moment in seen.items():
            self._seen(key, moment, sessions.get(key, []), positions.get(key, []))

    def _connected_stranger(self, name: str, report: StatusReport) -> str:
        # Connected now, so it can connect: kept as an identity rather than left out.
        self.errors.append(
            SnapshotError(
                source=report.source,
                record=name,
                message=f"{name} is connected but no certificate in index.txt has that common "
                "name (another PKI, or usernames as common names?)",
            )
        )
        mapped = self.identities.get(name)
        self.accounts[name] = Account(
            system=self.system,
            native_id=name,
            login=(mapped.login if mapped and mapped.login else name),
            email=(mapped.email if mapped else None) or (name if _EMAIL.match(name) else None),
            employee_id=mapped.employee_id if mapped else None,
            status=AccountStatus.ACTIVE,
            kind=AccountKind.SERVICE if mapped and mapped.kind == "service" else AccountKind.HUMAN,
            attributes={"common_name": name, "certificate_status": "unknown"},
        )
        return name

    def _seen(
        self, name: str, moment: datetime, sessions: list[Session], positions: list[int]
    ) -> None:
        """``positions``: where this identity's certificates are in ``self.credentials``."""
        account = self.accounts[name]
        attributes = dict(account.attributes)
        starts = [s.connected_since for s in sessions if s.connected_since is not None]
        if sessions:
            attributes["connected"] = "true"
            attributes["sessions"] = str(len(sessions))
        if starts:
            attributes["connected_since"] = min(starts).isoformat()
        if sessions and account.status is not AccountStatus.ACTIVE:
            self.errors.append(
                SnapshotError(
                    source=self.system,
                    record=name,
                    message=f"{name} is connected although no certificate of theirs is valid: "
                    "the session lasts until its next TLS renegotiation unless it is ended "
                    "(the disable action does that through the management interface)",
                )
            )
        self.accounts[name] = account.model_copy(
            update={"last_login_at": moment, "attributes": attributes}
        )
        if len(positions) == 1:
            # With one certificate, the connection was made with it; with several, which one
            # is not recorded anywhere OpenVPN writes.
            [index] = positions
            mine = self.credentials[index]
            if mine.created_at is None or mine.created_at <= moment:
                self.credentials[index] = mine.model_copy(update={"last_used_at": moment})

    def _observed_since(self) -> datetime:
        """Since when a connection would have been seen: the oldest log line, else the status."""
        moments = [r.updated_at or self.collected_at for r in self.records.reports]
        history = self.records.history
        if history is not None and history.oldest is not None:
            moments.append(history.oldest)
        # Nothing watched: the window is empty, so nobody counts as long unseen.
        return min(moments) if moments else self.collected_at
