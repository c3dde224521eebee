"""WireGuard: one account per peer of a wg-quick configuration, live or from files."""

from iam_gov.connectors.wireguard.connector import WireGuardConnector, WireGuardOptions

__all__ = ["WireGuardConnector", "WireGuardOptions"]
