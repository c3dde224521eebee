"""The one small protocol every connector implements: collect, capabilities, apply."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from iam_gov.errors import ConfigError, ConnectorError
from iam_gov.model import Action, ActionKind, ActionOutcome, ActionResult, SystemSnapshot
from iam_gov.timeutil import utcnow


class ConnectorOptions(BaseModel):
    """Base of every connector's options; unknown keys are mistakes, not extensions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str

    def why_read_only(self) -> str | None:
        """Why a connector with these options cannot change its system (it reads a copy of
        the data, not the system itself), or None."""
        return None


class Permissions(BaseModel):
    """The API permissions a connector's own credential needs: least privilege for ourselves."""

    model_config = ConfigDict(frozen=True)

    collect: tuple[str, ...]
    """Read-only permissions needed by ``collect()``."""
    apply: tuple[str, ...] = ()
    """Write permissions needed by ``apply()``, only for the actions in ``capabilities``."""


class ActionNotSupported(Exception):
    pass


@dataclass(frozen=True)
class AccessCheck:
    """One permission a connector declares, tried with a small read of its kind."""

    permission: str
    """As declared in ``permissions.collect`` (e.g. ``okta.roles.read``)."""
    ok: bool | None
    """True: the read worked; False: refused (the credential lacks it); None: not tried or
    not conclusive (the server did not answer, nothing of that kind to read)."""
    detail: str = ""
    """What was tried and what came back (never a secret)."""


class ExportNotSupported(ConfigError):
    """``iam-gov export`` asked of a connector (or of options) that cannot write one."""


@dataclass(frozen=True)
class ExportWritten:
    """What ``Connector.write_export`` wrote: the files (relative to the folder), and the
    options that read the folder back (the ``[systems.NAME]`` table, without secrets)."""

    files: tuple[Path, ...]
    options: Mapping[str, Any]
    problems: tuple[str, ...] = ()
    """What could not be read live and is therefore missing from the export."""


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
        """Carry out one action; idempotent: an action already in effect is a ``noop``.

        A kind of action the connector cannot take raises ``ActionNotSupported``. One it cannot
        take here and now is a ``failed`` result saying why: an action for another system,
        options that read a copy of the data (an export), the system unreachable or refusing,
        a secret that cannot be found."""
        if action.kind not in self.capabilities:
            raise ActionNotSupported(f"{self.type_name} connector cannot {action.kind.value}")
        if action.system != self.system:
            return failed(action, f"this connector serves system {self.system!r}")
        read_only = self.options.why_read_only()
        if read_only is not None:
            return failed(action, read_only)
        try:
            return self.carry_out(action)
        except (ConnectorError, ConfigError) as exc:
            return failed(action, str(exc))

    def write_export(self, out: Path) -> ExportWritten:
        """Read the live system and write what was read into ``out`` (an empty folder) in the
        offline layout this connector's export mode reads, so that collecting that folder gives
        the same snapshot as collecting the system. Raises ``ExportNotSupported`` when these
        options already read an export, or when the connector has no live mode."""
        raise ExportNotSupported(f"{self.type_name} connector cannot write an export")

    def check_access(self) -> list[AccessCheck]:
        """``config check --connect``: sign in, then one small read per permission of
        ``permissions.collect``, saying which the credential lacks. Raises ``ConnectorError``
        when the system cannot be reached or refuses the sign-in itself; returns an empty list
        for options that read an export (nothing to connect to)."""
        if self.options.why_read_only() is not None:
            return []
        return [
            AccessCheck(
                permission,
                None,
                "not checked one by one by this connector: the full read shows what it can read",
            )
            for permission in self.permissions.collect
        ]

    def carry_out(self, action: Action) -> ActionResult:
        """Take one action of ``capabilities`` on this connector's own system (``apply`` has
        checked that it may)."""
        raise ActionNotSupported(f"{self.type_name} connector cannot {action.kind.value}")


def failed(action: Action, message: str) -> ActionResult:
    """The result of an action that was not carried out, and why."""
    return ActionResult(action=action, outcome=ActionOutcome.FAILED, message=message)
