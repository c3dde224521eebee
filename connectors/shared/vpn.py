"""What the OpenVPN and WireGuard connectors model alike: the VPN as one entitlement.

The entitlement is ``vpn:<network>``, held by every account that can connect."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
