"""What both VPN connectors model alike: one entitlement, ``vpn:<network>``, held by every
active account and by nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

from iam_gov.connectors.shared.vpn import Vpn
from iam_gov.model import (
    Account,
    AccountStatus,
    Credential,
    CredentialKind,
    Entitlement,
    Grant,
    SnapshotError,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def account(name: str, status: AccountStatus) -> Account:
    return Account(system="vpn-prod", native_id=name, login=name, status=status)


def test_the_network_is_named_after_the_system_by_default() -> None:
    default = Vpn.named("vpn-prod", "openvpn", None, "can connect")
    named = Vpn.named("vpn-prod", "openvpn", "corp", "can connect")

    assert default.entitlement == Entitlement(
        system="vpn-prod",
        entitlement_id="vpn:vpn-prod",
        name="vpn-prod",
        kind="vpn",
        description="can connect",
    )
    assert (named.entitlement.ref, named.system) == ("vpn:corp", "vpn-prod")


def test_every_active_account_holds_the_vpn() -> None:
    vpn = Vpn.named("vpn-prod", "wireguard", "office", "WireGuard interface wg0")
    accounts = [
        account("bob", AccountStatus.ACTIVE),
        account("alice", AccountStatus.DISABLED),
        account("carol", AccountStatus.ACTIVE),
    ]
    key = Credential(
        system="vpn-prod",
        account_id="bob",
        credential_id="bob#key",
        kind=CredentialKind.PUBLIC_KEY,
        active=True,
    )
    problem = SnapshotError(source="wg0.conf", message="a problem")

    snapshot = vpn.snapshot(
        source="live",
        collected_at=NOW,
        complete=False,
        errors=[problem],
        accounts=accounts,
        credentials=[key],
        settings={"vpn": {"kind": vpn.connector}},
    )

    assert (snapshot.system, snapshot.connector, snapshot.source) == (
        "vpn-prod",
        "wireguard",
        "live",
    )
    assert (snapshot.collected_at, snapshot.complete, snapshot.errors) == (NOW, False, (problem,))
    assert snapshot.accounts == tuple(accounts) and snapshot.credentials == (key,)
    assert snapshot.entitlements == (vpn.entitlement,)
    assert snapshot.grants == (
        Grant(system="vpn-prod", account_id="bob", entitlement_id="vpn:office"),
        Grant(system="vpn-prod", account_id="carol", entitlement_id="vpn:office"),
    )
    assert snapshot.settings == {"vpn": {"kind": "wireguard"}}
