"""Connectors: one module per system, all behind the protocol in ``base``."""

from __future__ import annotations

import importlib
from typing import Any

from iam_gov.connectors.base import Connector, ConnectorOptions

# type name -> "module:class". Modules are imported only when a system of that type is used,
# so an SDK that is not needed is never imported.
CONNECTOR_TYPES: dict[str, str] = {
    "hr": "iam_gov.connectors.hr:HRConnector",
    "aws": "iam_gov.connectors.aws:AWSConnector",
    "okta": "iam_gov.connectors.okta:OktaConnector",
    "entra": "iam_gov.connectors.entra:EntraConnector",
    "ldap": "iam_gov.connectors.ldap:LDAPConnector",
    "openvpn": "iam_gov.connectors.openvpn:OpenVPNConnector",
    "wireguard": "iam_gov.connectors.wireguard:WireGuardConnector",
}


def connector_class(type_name: str) -> type[Connector[Any]]:
    try:
        target = CONNECTOR_TYPES[type_name]
    except KeyError:
        known = ", ".join(sorted(CONNECTOR_TYPES))
        raise KeyError(f"unknown connector type {type_name!r} (known: {known})") from None
    module_name, _, class_name = target.partition(":")
    cls: type[Connector[Any]] = getattr(importlib.import_module(module_name), class_name)
    return cls


def options_model(type_name: str) -> type[ConnectorOptions]:
    return connector_class(type_name).options_model


__all__ = ["CONNECTOR_TYPES", "Connector", "ConnectorOptions", "connector_class", "options_model"]
