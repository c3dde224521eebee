"""Reading YAML files we are given (policy, overrides) so that every mistake names file:line.

Every YAML file iam-gov reads goes through :func:`load_yaml`, which guards against inputs that
cost far more than their size:

* a file over a size limit (:data:`MAX_YAML_BYTES`, raised with ``IAM_GOV_MAX_YAML_MB``) is
  refused from its ``stat`` before it is read;
* aliases are allowed (``<<: *defaults`` and a reused list are handy and harmless) but what they
  expand to is counted while the document is composed: all the aliases of a file together may
  stand for at most :data:`MAX_ALIAS_NODES` nodes. A "billion laughs" document, a few KB of
  nested aliases that expand to billions of nodes, is refused at the alias that goes over,
  before anything is expanded. An alias inside the node it names (a cycle) is refused too;
* nesting deeper than :data:`MAX_DEPTH` is refused rather than exhausting the stack.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer, ComposerError, MaxDepthExceededError
from ruamel.yaml.constructor import ConstructorError, DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarbool import ScalarBoolean
from ruamel.yaml.scalarfloat import ScalarFloat
from ruamel.yaml.scalarint import ScalarInt

from iam_gov.errors import InputError

MB = 1_000_000
MAX_YAML_BYTES = 5 * MB
"""Default size limit of a YAML file (policy, overrides, mappings, campaign definitions)."""
MAX_YAML_ENV = "IAM_GOV_MAX_YAML_MB"
"""Environment variable that sets another limit for YAML files, in MB."""
MAX_ALIAS_NODES = 100_000
"""How many nodes all the aliases of one YAML file may stand for together."""
MAX_DEPTH = 200
"""How deep collections may nest in a YAML file."""


@dataclass(frozen=True)
class YamlDocument:
    """Plain Python data plus what is needed to find the line of any part of it."""

    path: Path
    data: Any
    _node: Any

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """1-based line of the deepest part of ``loc`` that exists in the file."""
        node = self._node
        line: int | None = None
        for part in loc:
            if isinstance(node, CommentedMap) and part in node:
                line = node.lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                line = node.lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        if line is None and isinstance(node, CommentedMap | CommentedSeq):
            line = node.lc.line + 1
        return line

    def where(self, loc: Sequence[str | int]) -> str:
        line = self.line_of(loc)
        return f"{self.path}:{line}" if line is not None else str(self.path)

    def problems(self, exc: ValidationError, prefix: Sequence[str | int] = ()) -> list[str]:
        """Pydantic errors as ``file:line: key.path: message`` (input values never echoed)."""
        out = []
        for error in exc.errors(include_input=False, include_url=False):
            loc = [*prefix, *error["loc"]]
            key = ".".join(key_text(p) for p in loc)
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = "unknown key"
            elif error["type"] == "missing":
                message = "required key is missing"
            out.append(
                f"{self.where(loc)}: {key}: {message}" if key else f"{self.where(loc)}: {message}"
            )
        return out


def size_limit(env: str, default: int) -> int:
    """The size limit in bytes that ``env`` sets (a number of MB), else ``default``."""
    raw = os.environ.get(env, "").strip()
    try:
        megabytes = float(raw) if raw else 0.0
    except ValueError:
        megabytes = 0.0
    return int(megabytes * MB) if megabytes > 0 else default


def read_limited(path: Path, limit: int, env: str) -> bytes:
    """The bytes of ``path`` if it holds at most ``limit``: the size is checked with ``stat``
    before reading, and no more than ``limit`` bytes are read even from a file that grows or
    does not know its size (a pipe). ``OSError`` as ``open`` raises it; :class:`TooLarge`
    naming the limit and ``env``, which raises it."""
    with path.open("rb") as file:
        size = os.fstat(file.fileno()).st_size
        if size > limit:
            raise TooLarge(size, limit, env)
        # read(limit + 1) would allocate the whole limit (256 MB) for every small file: read
        # what the file says it holds, then on in chunks (it grew, or is a pipe) to the limit.
        chunks = [file.read(size + 1)]
        total = len(chunks[0])
        while total <= limit:
            chunk = file.read(min(limit + 1 - total, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    if total > limit:
        raise TooLarge(None, limit, env)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class TooLarge(Exception):
    """A file over its size limit; ``str()`` is the message to print after the file's name."""

    def __init__(self, size: int | None, limit: int, env: str) -> None:
        has = f"is {_megabytes(size)}, over" if size is not None else "holds more than"
        super().__init__(f"{has} the size limit of {_megabytes(limit)} (set {env} to raise it)")


def _megabytes(size: int) -> str:
    return f"{size / MB:.1f}".removesuffix(".0") + " MB"


def load_yaml(path: Path, error: type[InputError] = InputError) -> YamlDocument:
    try:
        raw = read_limited(path, size_limit(MAX_YAML_ENV, MAX_YAML_BYTES), MAX_YAML_ENV)
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except TooLarge as exc:
        raise error(f"{path}: {exc}") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start})") from None
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    yaml.max_depth = MAX_DEPTH
    yaml.Composer = _CountingComposer
    yaml.Constructor = _Constructor
    try:
        node = yaml.load(text)
    except MaxDepthExceededError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise error(f"{path}{line}: collections nest more than {MAX_DEPTH} levels deep") from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        what = (exc.problem or exc.context or "invalid YAML").strip()
        if isinstance(exc, DuplicateKeyError):
            # ruamel quotes both values whole: a part of the file, secrets and all.
            key = _DUPLICATE_KEY.match(what)
            what = "found duplicate key" + (f' "{key_text(key[1])}"' if key else "")
        # ruamel quotes what it found (an alias, a tag, a character): cut short, one line.
        what = _LONG_QUOTE.sub(lambda m: m[0][: _MAX_QUOTED + 1] + "…" + m[0][0], what)
        raise error(f"{path}{line}: {' '.join(what.split())}") from None
    except ReaderError as exc:
        # A character YAML does not allow (NUL, other control characters): at its line.
        number = text.count("\n", 0, exc.position) + 1
        raise error(f"{path}:{number}: invalid YAML: {str(exc).splitlines()[0]}") from None
    except YAMLError as exc:
        raise error(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None
    except (ValueError, OverflowError) as exc:  # a value no constructor above placed
        raise error(f"{path}: invalid YAML: a value cannot be read ({exc})") from None
    if node is None:
        raise error(f"{path}: the file is empty")
    return YamlDocument(path=path, data=_plain(node), _node=node)


_DUPLICATE_KEY = re.compile(r'found duplicate key "(.*?)" with value', re.DOTALL)
_MAX_QUOTED = 60
"""Longest piece of the file (a key, an alias) a message quotes; the rest is cut."""
_LONG_QUOTE = re.compile("|".join(f"{q}[^{q}]{{{_MAX_QUOTED + 1},}}{q}" for q in "'\""))


def key_text(part: str | int) -> str:
    """A key of the file as a message names it: cut if long, escaped if it holds line ends,
    control or bidi characters (a key is whatever the file says)."""
    text = str(part)
    text = text[:_MAX_QUOTED] + "…" if len(text) > _MAX_QUOTED else text
    return text if text.isprintable() else repr(text)[1:-1]


class _Constructor(RoundTripConstructor):
    """ruamel's round-trip constructor, with a date that is no date (``2026-02-30``) an error
    at its line rather than Python's ValueError."""

    def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
        try:
            return super().construct_yaml_timestamp(node, values)
        except (ValueError, OverflowError) as exc:
            raise ConstructorError(
                None, None, f"{node.value[:_MAX_QUOTED]!r} is not a date ({exc})", node.start_mark
            ) from None


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)


class _CountingComposer(Composer):
    """A composer that counts what the aliases of the document stand for (see the module's
    docstring), so that a document that would expand past :data:`MAX_ALIAS_NODES` is refused
    at the offending alias while it is still small."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader=loader)
        self._weights: dict[int, int] = {}
        self._spent = 0
        self._open: list[str] = []
        """The anchors of the nodes being composed, outermost first."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if not isinstance(event, AliasEvent):
            anchor = event.anchor
            if anchor is None:
                return super().compose_node(parent, index)
            self._open.append(anchor)
            try:
                return super().compose_node(parent, index)
            finally:
                self._open.pop()
        if event.anchor in self._open:
            # A cycle: expanding it never ends.
            raise ComposerError(
                None, None, f"alias *{event.anchor} is inside the node it names", event.start_mark
            )
        node = super().compose_node(parent, index)
        self._spent += _weight(node, self._weights)
        if self._spent > MAX_ALIAS_NODES:
            raise ComposerError(
                None,
                None,
                f"alias *{event.anchor} takes what the aliases of the file stand for past "
                f"{MAX_ALIAS_NODES:,} nodes (nested aliases that expand without end, "
                'a "billion laughs" document?)',
                event.start_mark,
            )
        return node


def _weight(node: Node, known: dict[int, int]) -> int:
    """How many nodes ``node`` stands for once its aliases are expanded; each node's count is
    worked out once, so this is linear in the document even when the expansion is not. Aliases
    name only nodes composed to the end, so the nodes form no cycle."""
    key = id(node)
    if key in known:
        return known[key]
    total = 1
    if isinstance(node, MappingNode):
        for pair in node.value:
            total += _weight(pair[0], known) + _weight(pair[1], known)
    elif isinstance(node, SequenceNode):
        for child in node.value:
            total += _weight(child, known)
    known[key] = total
    return total


def _plain(node: Any) -> Any:
    """ruamel's round-trip types as plain dicts, lists and scalars (for pydantic)."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, str) else k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, ScalarBoolean):
        return bool(node)
    if isinstance(node, ScalarInt):
        return int(node)
    if isinstance(node, ScalarFloat):
        return float(node)
    return node
