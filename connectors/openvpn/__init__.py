"""OpenVPN: certificate identities from the easy-rsa PKI, who connects and how, revocation."""

from iam_gov.connectors.openvpn.connector import OpenVPNConnector, OpenVPNOptions

__all__ = ["OpenVPNConnector", "OpenVPNOptions"]
