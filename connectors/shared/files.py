"""Reading a connector's input files: one way to say that a file is missing or unreadable."""

from __future__ import annotations

from pathlib import Path

from iam_gov.errors import SourceError


def read_source(path: Path, what: str) -> bytes:
    """The file's bytes; ``SourceError`` naming the file (and what it should have been)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file ({what})") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: is a folder, not {what}") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read: {exc.strerror}") from None


def read_source_text(path: Path, what: str, encoding: str = "utf-8-sig") -> str:
    """The file as text; a file in another encoding is named with the offending byte."""
    data = read_source(path, what)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{path}: not {encoding.split('-sig')[0].upper()} text (byte {exc.start})"
        ) from None
