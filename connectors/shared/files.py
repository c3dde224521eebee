"""Reading a connector's input files: one way to say that a file is missing, unreadable, too
large or not what it should be, as a fatal error or as one problem of an incomplete snapshot.

Every export file is held to a size limit, :data:`MAX_EXPORT_BYTES` unless
``IAM_GOV_MAX_EXPORT_MB`` sets another: a larger file is refused from its ``stat``, before it is
read (and never more than the limit is read)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from iam_gov.errors import SourceError, location
from iam_gov.model import SnapshotError
from iam_gov.yamlfile import MB, TooLarge, read_limited, size_limit

MAX_EXPORT_BYTES = 256 * MB
"""Default size limit of a connector's input file (an export, a dump, a status file)."""
MAX_EXPORT_ENV = "IAM_GOV_MAX_EXPORT_MB"
"""Environment variable that sets another size limit for connector input files, in MB."""


def export_limit() -> int:
    """The size limit of a connector's input file, in bytes."""
    return size_limit(MAX_EXPORT_ENV, MAX_EXPORT_BYTES)


class BadFile(SourceError):
    """A file that cannot be read as what it should hold. Raised, it stops the collect (a
    ``SourceError``); caught, ``as_problem()`` makes it one problem of an incomplete snapshot."""

    def __init__(self, path: Path, message: str, line: int | None = None) -> None:
        super().__init__(f"{location(path, line)}: {message}")
        self.path, self.message, self.line = path, message, line

    def as_problem(self, record: str | None = None) -> SnapshotError:
        return SnapshotError(
            source=str(self.path), line=self.line, record=record, message=self.message
        )


def read_source(path: Path, what: str) -> bytes:
    """The file's bytes; ``BadFile`` naming the file (and what it should have been)."""
    try:
        return read_limited(path, export_limit(), MAX_EXPORT_ENV)
    except TooLarge as exc:
        raise BadFile(path, str(exc)) from None
    except FileNotFoundError:
        raise BadFile(path, f"no such file ({what})") from None
    except IsADirectoryError:
        raise BadFile(path, f"is a folder, not {what}") from None
    except OSError as exc:
        raise BadFile(path, f"cannot be read: {exc.strerror}") from None


def read_source_text(path: Path, what: str, encoding: str = "utf-8-sig") -> str:
    """The file as text; a file in another encoding is named with the offending byte."""
    data = read_source(path, what)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        name = encoding.split("-sig")[0].upper()
        raise BadFile(path, f"not {name} text (byte {exc.start})") from None


def json_documents(text: str, path: Path, *, single: bool = False) -> list[Any]:
    """Every JSON document in ``text``, one after the other with white space between them
    (what ``>>`` of several API calls, or a script saving page after page, leaves). With
    ``single``, a second document is a mistake. Bad JSON is named at ``file:line``."""
    decoder = _decoder()
    documents: list[Any] = []
    index, end = 0, len(text)
    while True:
        while index < end and text[index].isspace():
            index += 1
        if index == end:
            return documents
        if documents and single:
            line = text.count("\n", 0, index) + 1
            raise BadFile(path, "unexpected data after the JSON document", line)
        try:
            document, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise BadFile(path, f"not valid JSON ({exc.msg})", exc.lineno) from None
        except RecursionError:
            line = text.count("\n", 0, index) + 1
            raise BadFile(path, "JSON nested too deep to read", line) from None
        except _DuplicateKey as exc:
            line = text.count("\n", 0, index) + 1
            raise BadFile(
                path,
                f"not valid JSON (key {exc.key[:60]!r} twice in one object, in the document "
                "starting here): which value is meant is unknown",
                line,
            ) from None
        documents.append(document)


_DECODERS = threading.local()


def _decoder() -> json.JSONDecoder:
    """This thread's decoder: made once, not per file (an export can be 100,000 files); one
    per thread, since a decoder's scanner keeps state while it runs."""
    decoder: json.JSONDecoder | None = getattr(_DECODERS, "decoder", None)
    if decoder is None:
        decoder = _DECODERS.decoder = json.JSONDecoder(object_pairs_hook=_object)
    return decoder


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # No API writes a key twice; json would keep the last value and drop the first silently.
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return found
