"""Extensions by name: rules, connectors and report formats, built in or from other packages.

One mechanism for every kind. An extension registers itself when its module is imported (a
rule with ``@rule``, a connector with ``@connector``), under the name it declares once. A
registry finds the modules to import in two places: every module of its own package in
iam-gov (if it has one), and every entry point of its group that an installed distribution
declares::

    # the pyproject.toml of a company's own package
    [project.entry-points."iam_gov.rules"]
    acme = "acme_iam.rules"          # a module (or package) whose import registers its rules

The entry point's name is only a label (say, the package); the names that count are the ones
the extensions register.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
import threading
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

from iam_gov.errors import IamGovError

T = TypeVar("T")

RULES_GROUP = "iam_gov.rules"
CONNECTORS_GROUP = "iam_gov.connectors"
REPORTS_GROUP = "iam_gov.reports"
COMMANDS_GROUP = "iam_gov.commands"


class PluginError(IamGovError, ValueError):
    """An extension could not be loaded or registered (a broken or clashing plugin)."""


class Registry(Generic[T]):
    """The extensions of one kind, by name; loaded on first use, then kept."""

    def __init__(
        self,
        kind: str,
        *,
        group: str,
        package: str | None,
        skip: Callable[[str], bool] = lambda name: name.startswith("_"),
    ) -> None:
        self.kind = kind
        self.group = group
        self.package = package
        self._skip = skip
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        self._loaded = False
        self._loading_now = False
        self._lock = threading.RLock()

    def add(self, name: str, item: T, origin: str) -> T:
        """Register ``item``; called by the decorators as a module is imported."""
        if name in self._items:
            raise PluginError(
                f"{self.kind} {name!r} is registered twice: by {self._origins[name]} "
                f"and by {origin}"
            )
        self._items[name] = item
        self._origins[name] = origin
        return item

    def get(self, name: str) -> T:
        """The extension registered as ``name``; ``KeyError`` naming the known ones."""
        self.load()
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(self.unknown(name)) from None

    def unknown(self, name: str) -> str:
        """The sentence for a name nobody registered, with the nearest known one."""
        self.load()
        known = sorted(self._items)
        near = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        return f"unknown {self.kind} {name!r} (known: {', '.join(known)}){hint}"

    def __contains__(self, name: object) -> bool:
        self.load()
        return name in self._items

    def all(self) -> dict[str, T]:
        """Every registered extension, by name, in name order."""
        self.load()
        return dict(sorted(self._items.items()))

    def origin(self, name: str) -> str:
        """The module that registered ``name``."""
        self.load()
        return self._origins[name]

    def load(self) -> None:
        """Import the built-in modules, then the entry points' (once)."""
        if self._loaded:
            return
        with self._lock:
            if self._loaded or self._loading_now:  # a module being imported asked again
                return
            self._loading_now = True
            try:
                if self.package is not None:
                    package = importlib.import_module(self.package)
                    for module in pkgutil.iter_modules(package.__path__):
                        if not self._skip(module.name):
                            importlib.import_module(f"{self.package}.{module.name}")
                for point in entry_points(group=self.group):
                    self._load_entry_point(point)
                self._loaded = True
            finally:
                self._loading_now = False

    def _load_entry_point(self, point: EntryPoint) -> None:
        where = f"entry point {point.name!r} = {point.value!r} ({self.group})"
        try:
            point.load()
        except PluginError:
            raise
        except Exception as exc:  # a broken plugin is named, not a traceback
            raise PluginError(f"{where} cannot be loaded: {type(exc).__name__}: {exc}") from exc


def module_of(obj: object) -> str:
    """Where an extension comes from, for messages: its module."""
    return getattr(obj, "__module__", None) or repr(obj)


__all__ = [
    "COMMANDS_GROUP",
    "CONNECTORS_GROUP",
    "REPORTS_GROUP",
    "RULES_GROUP",
    "PluginError",
    "Registry",
    "module_of",
]
