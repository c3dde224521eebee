"""What the OpenVPN and WireGuard connectors model alike: the VPN as one entitlement.

The entitlement is ``vpn:<network>``, held by every account that can connect. Both also
write ``iam-gov export`` folders the same way (``ExportFiles``): never a private key."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from iam_gov.files import make_private_folders, write_atomically
from iam_gov.model import (
    Account,
    AccountStatus,
    Credential,
    Entitlement,
    Grant,
    SnapshotError,
    SystemSnapshot,
)


@dataclass(frozen=True)
class Vpn:
    """One VPN server of a system: being able to connect is all it grants."""

    connector: str
    """The connector's type name, as the snapshot records it."""
    entitlement: Entitlement

    @classmethod
    def named(cls, system: str, connector: str, network: str | None, description: str) -> Vpn:
        """``network`` names the entitlement (``network_name``); default: the system's name."""
        name = network or system
        return cls(
            connector,
            Entitlement(
                system=system,
                entitlement_id=f"vpn:{name}",
                name=name,
                kind="vpn",
                description=description,
            ),
        )

    @property
    def system(self) -> str:
        return self.entitlement.system

    def snapshot(
        self,
        *,
        source: str,
        collected_at: datetime,
        complete: bool,
        errors: Iterable[SnapshotError],
        accounts: Sequence[Account],
        credentials: Iterable[Credential],
        settings: dict[str, Any],
    ) -> SystemSnapshot:
        """The system's snapshot: every active account holds the VPN (grants in the order of
        ``accounts``), and nothing else is granted."""
        grants = tuple(
            Grant(
                system=self.system,
                account_id=account.native_id,
                entitlement_id=self.entitlement.entitlement_id,
            )
            for account in accounts
            if account.status is AccountStatus.ACTIVE
        )
        return SystemSnapshot(
            system=self.system,
            connector=self.connector,
            source=source,
            collected_at=collected_at,
            complete=complete,
            errors=tuple(errors),
            accounts=tuple(accounts),
            credentials=tuple(credentials),
            entitlements=(self.entitlement,),
            grants=grants,
            settings=settings,
        )


# A PEM block holding a private key (PKCS#1, PKCS#8, SEC1, encrypted or not) or an OpenVPN
# static or tls-crypt key.
_SECRET_PEM = re.compile(
    rb"-----BEGIN ((?:[A-Z0-9 ]*PRIVATE KEY)|(?:OpenVPN [^-\r\n]*))-----.*?-----END \1-----",
    re.DOTALL,
)
SECRET_LEFT_OUT = b"(a private key was here: iam-gov export does not copy private keys)"


def without_private_keys(data: bytes) -> bytes:
    """``data`` with every PEM private key (and OpenVPN static key) replaced by a note."""
    return _SECRET_PEM.sub(SECRET_LEFT_OUT, data)


@dataclass
class ExportFiles:
    """What ``iam-gov export`` writes into a folder for a VPN: the files (relative to it, in
    the order written) and what could not be read and is missing from it."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def write(self, relative: str, data: bytes, *, mtime_ns: int | None = None) -> Path:
        """``data`` at ``relative``, with private keys left out; ``mtime_ns`` gives it the
        original's modification time (readers fall back on it for when data was true)."""
        path = self.folder / relative
        make_private_folders(path.parent)
        write_atomically(path, without_private_keys(data), f"export's {relative}")
        if mtime_ns is not None:
            os.utime(path, ns=(mtime_ns, mtime_ns))
        self.files.append(Path(relative))
        return path

    def copy(self, source: Path, relative: str, what: str) -> bool:
        """Copy ``source`` (its bytes and modification time); a file that cannot be read is
        a problem naming ``what`` is missing, and False."""
        try:
            data = source.read_bytes()
            mtime_ns = source.stat().st_mtime_ns
        except OSError as exc:
            self.problems.append(
                f"{source}: cannot be read ({exc.strerror or exc}): {what} is missing from the "
                "export"
            )
            return False
        self.write(relative, data, mtime_ns=mtime_ns)
        return True
