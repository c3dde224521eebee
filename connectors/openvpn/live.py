"""Who is connected to an OpenVPN server now, asked through its management interface."""

from __future__ import annotations

from datetime import tzinfo

from pydantic import SecretStr

from iam_gov.connectors.openvpn.client import ManagementClient, ManagementError
from iam_gov.connectors.openvpn.status import StatusReport, parse_status
from iam_gov.errors import ConnectorError


def connected_now(client: ManagementClient, zone: tzinfo) -> StatusReport:
    """``status 3``: the server's client list, read as a status file of version 3."""
    return parse_status(client.status(), management_source(client.address), zone)


def management_source(address: str) -> str:
    return f"management {address}"


def management_status(address: str, password: SecretStr | None, system: str) -> list[str]:
    """The lines of ``status 3`` (a status file of version 3, as the server prints it);
    ``ConnectorError`` if they cannot be had. ``iam-gov export`` writes them as they are."""
    try:
        with ManagementClient(address, password) as client:
            return client.status()
    except ManagementError as exc:
        raise ConnectorError(f"{system}: OpenVPN management interface {address}: {exc}") from None


def read_management(
    address: str, password: SecretStr | None, zone: tzinfo, system: str
) -> StatusReport:
    """``status 3`` over the management interface; ``ConnectorError`` if it cannot be had."""
    lines = management_status(address, password, system)
    return parse_status(lines, management_source(address), zone)
