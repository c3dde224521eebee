"""Writing a file a user or a scheduler will read: whole or not at all."""

from __future__ import annotations

from pathlib import Path

from iam_gov.errors import InputError


def write_atomically(path: Path, data: str | bytes, what: str) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``: a
    reader never sees half of it. An ``InputError`` naming the file and ``what`` it is when
    it cannot be written."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write the {what}: {exc.strerror}") from None
