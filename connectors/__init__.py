"""Connectors: one package per system, all behind the protocol in ``shared.protocol``.

A system's package is found by the registry when a configuration names its type; a company's
own connector registers the same way from its own package (entry point ``iam_gov.connectors``).
Everything a connector needs from iam-gov is importable from here.
"""

from __future__ import annotations

from iam_gov.connectors.shared.protocol import (
    AccessCheck,
    ActionNotSupported,
    Connector,
    ConnectorOptions,
    ExportNotSupported,
    ExportWritten,
    Permissions,
)
from iam_gov.connectors.shared.registry import (
    CONNECTORS,
    connector,
    connector_class,
    connector_types,
    options_model,
)

__all__ = [
    "CONNECTORS",
    "AccessCheck",
    "ActionNotSupported",
    "Connector",
    "ConnectorOptions",
    "ExportNotSupported",
    "ExportWritten",
    "Permissions",
    "connector",
    "connector_class",
    "connector_types",
    "options_model",
]
