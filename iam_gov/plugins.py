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
import functools
import importlib
import pkgutil
import sys
import threading
from collections.abc import Callable
from importlib.metadata import EntryPoint, EntryPoints, entry_points
from typing import Generic, Protocol, TypeVar

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
        named_like_modules: bool = False,
    ) -> None:
        self.kind = kind
        self.group = group
        self.package = package
        self._skip = skip
        self._named_like_modules = named_like_modules
        """Each built-in module registers the extension named like it (the connectors: the
        ``okta`` package is type ``okta``), so that asking for one imports that module and
        the entry points, not every built-in one (a good part of a command's start-up)."""
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        self._loaded = False
        self._entry_points_loaded = False
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
        self._load_for(name)
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
        if isinstance(name, str):
            self._load_for(name)
        else:
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
                for module in self._builtin_modules():
                    importlib.import_module(f"{self.package}.{module}")
                self._load_entry_points()
                self._loaded = True
            finally:
                self._loading_now = False

    def _builtin_modules(self) -> list[str]:
        """The names of this registry's own modules (none without a package)."""
        if self.package is None:
            return []
        package = importlib.import_module(self.package)
        return [m.name for m in pkgutil.iter_modules(package.__path__) if not self._skip(m.name)]

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        for point in _installed_entry_points(tuple(sys.path)).select(group=self.group):
            self._load_entry_point(point)
        self._entry_points_loaded = True

    def _load_for(self, name: str) -> None:
        """What ``get(name)`` needs: everything, or (``named_like_modules``) the built-in
        module of that name and the entry points, then everything only when ``name`` is
        still unknown. A plugin that registers the name of a built-in module is found out
        here too: that module is imported, and the second registration refused."""
        if self._loaded:
            return
        if not self._named_like_modules:
            self.load()
            return
        if name in self._items and self._entry_points_loaded:
            return
        with self._lock:
            if self._loaded or self._loading_now:
                return
            self._loading_now = True
            try:
                builtin = self._builtin_modules()
                if name in builtin:
                    importlib.import_module(f"{self.package}.{name}")
                self._load_entry_points()
                for module in sorted(set(self._items) & set(builtin)):
                    importlib.import_module(f"{self.package}.{module}")
            finally:
                self._loading_now = False
        if name not in self._items:
            self.load()

    def _load_entry_point(self, point: EntryPoint) -> None:
        where = f"entry point {point.name!r} = {point.value!r} ({self.group})"
        try:
            point.load()
        except PluginError:
            raise
        except Exception as exc:  # a broken plugin is named, not a traceback
            raise PluginError(f"{where} cannot be loaded: {type(exc).__name__}: {exc}") from exc


@functools.lru_cache(maxsize=4)
def _installed_entry_points(path: tuple[str, ...]) -> _Selectable:
    """Every installed distribution's entry points, read once for all the registries (reading
    them walks every distribution's metadata); read again when ``sys.path`` changes."""
    return entry_points()


class _Selectable(Protocol):
    """What ``entry_points()`` returns: grouped (Python 3.11) or not (3.12), both selectable."""

    def select(self, *, group: str) -> EntryPoints: ...


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
