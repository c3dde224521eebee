"""The connector registry: each connector class registers itself under its options' type name."""

from __future__ import annotations

import typing
from typing import Any, TypeVar

from iam_gov.connectors.shared.protocol import Connector, ConnectorOptions
from iam_gov.plugins import CONNECTORS_GROUP, PluginError, Registry, module_of

CONNECTORS: Registry[type[Connector[Any]]] = Registry(
    "connector type",
    group=CONNECTORS_GROUP,
    package="iam_gov.connectors",
    skip=lambda name: name.startswith("_") or name == "shared",
    named_like_modules=True,  # the okta package is type "okta": a run imports only its own
)

ConnectorT = TypeVar("ConnectorT", bound=type[Connector[Any]])


def connector(cls: ConnectorT) -> ConnectorT:
    """Register a connector class. Its type name is written once, in its options model
    (``type: Literal["okta"]``), which is also what checks ``type = "okta"`` in the
    configuration."""
    name = type_name_of(cls.options_model)
    cls.type_name = name
    CONNECTORS.add(name, cls, module_of(cls))
    return cls


def type_name_of(options: type[ConnectorOptions]) -> str:
    annotation = options.model_fields["type"].annotation
    values = typing.get_args(annotation) if typing.get_origin(annotation) is typing.Literal else ()
    if len(values) != 1 or not isinstance(values[0], str):
        raise PluginError(
            f"{module_of(options)}.{options.__name__}: a connector's options declare its type "
            f'name as `type: Literal["name"]`'
        )
    return values[0]


def connector_class(type_name: str) -> type[Connector[Any]]:
    """The connector registered as ``type_name``; ``KeyError`` naming the known ones."""
    return CONNECTORS.get(type_name)


def is_connector_type(name: str) -> bool:
    """Whether ``name`` is a connector type, importing only what it takes to know."""
    return name in CONNECTORS


def connector_types() -> list[str]:
    """Every connector type name, built in or from an installed package."""
    return list(CONNECTORS.all())


def options_model(type_name: str) -> type[ConnectorOptions]:
    return connector_class(type_name).options_model
