"""Reading YAML files we are given (policy, overrides) so that every mistake names file:line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean
from ruamel.yaml.scalarfloat import ScalarFloat
from ruamel.yaml.scalarint import ScalarInt

from iam_gov.errors import InputError


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
            key = ".".join(str(p) for p in loc)
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = "unknown key"
            elif error["type"] == "missing":
                message = "required key is missing"
            out.append(
                f"{self.where(loc)}: {key}: {message}" if key else f"{self.where(loc)}: {message}"
            )
        return out


def load_yaml(path: Path, error: type[InputError] = InputError) -> YamlDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read: {exc.strerror}") from None
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        node = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        what = (exc.problem or exc.context or "invalid YAML").strip()
        raise error(f"{path}{line}: {what}") from None
    except YAMLError as exc:
        raise error(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None
    if node is None:
        raise error(f"{path}: the file is empty")
    return YamlDocument(path=path, data=_plain(node), _node=node)


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
