"""The one small protocol every connector implements: collect, capabilities, apply."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from iam_gov.model import Action, ActionKind, ActionResult, SystemSnapshot
from iam_gov.timeutil import utcnow


class ConnectorOptions(BaseModel):
    """Base of every connector's options; unknown keys are mistakes, not extensions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str


class Permissions(BaseModel):
    """The API permissions a connector's own credential needs: least privilege for ourselves."""

    model_config = ConfigDict(frozen=True)

    collect: tuple[str, ...]
    """Read-only permissions needed by ``collect()``."""
    apply: tuple[str, ...] = ()
    """Write permissions needed by ``apply()``, only for the actions in ``capabilities``."""


class ActionNotSupported(Exception):
    pass


OptionsT = TypeVar("OptionsT", bound=ConnectorOptions)


class Connector(ABC, Generic[OptionsT]):
    """One system. Clients are built lazily; nothing talks to the network at import time."""

    type_name: ClassVar[str]
    options_model: ClassVar[type[ConnectorOptions]]
    permissions: ClassVar[Permissions]
    capabilities: ClassVar[frozenset[ActionKind]] = frozenset()

    def __init__(
        self, system: str, options: OptionsT, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.system = system
        self.options = options
        self.clock = clock

    @abstractmethod
    def collect(self) -> SystemSnapshot:
        """Everything the system says now. Raise ``SourceError`` when the input is unusable
        as a whole; otherwise return a snapshot, marked incomplete with the errors met."""

    def apply(self, action: Action) -> ActionResult:
        """Carry out one action; idempotent: an action already in effect is a ``noop``."""
        raise ActionNotSupported(f"{self.type_name} connector cannot {action.kind.value}")
