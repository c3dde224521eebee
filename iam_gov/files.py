"""Writing a file a user or a scheduler will read: whole or not at all, and only its owner's."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from iam_gov.errors import InputError

PRIVATE_FILE = 0o600
"""Every file iam-gov creates: its data names people, their access and the company's gaps."""
PRIVATE_FOLDER = 0o700
"""Every folder iam-gov creates."""
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)


def make_private_folders(folder: Path) -> None:
    """``folder`` and any missing parents, each created 0700 whatever the umask says; folders
    already there are left as they are (they are the user's)."""
    missing: list[Path] = []
    here = folder
    while not os.path.lexists(here):
        missing.append(here)
        if here.parent == here:
            break
        here = here.parent
    for path in reversed(missing):
        # the umask can only take bits off 0700, never add any
        path.mkdir(mode=PRIVATE_FOLDER, exist_ok=True)


def create_private(path: Path) -> int:
    """A new file at ``path``, 0600, opened for writing: never through a symbolic link
    (``O_NOFOLLOW``), never over a file already there (``O_EXCL``). The descriptor is the
    caller's to close. ``OSError`` (``FileExistsError`` for anything already there, a link
    included) when it cannot be created."""
    fd = os.open(path, _CREATE, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def refuse_link(path: Path, what: str) -> None:
    """An ``InputError`` when ``path`` itself is a symbolic link: iam-gov writes the file it
    was given, never a file a link there points to, nor the link in its place."""
    try:
        info = os.lstat(path)
    except OSError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise InputError(
            f"{path}: is a symbolic link; iam-gov does not write the {what} through a link "
            "(give the target's path, or remove the link)"
        )


def write_atomically(path: Path, data: str | bytes, what: str) -> None:
    """Write ``data`` to a new private temporary file beside ``path``, then rename it over
    ``path``: a reader never sees half of it, and the file is 0600 whatever the umask. A
    ``path`` that is a symbolic link is refused. An ``InputError`` naming the file and
    ``what`` it is when it cannot be written."""
    refuse_link(path, what)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        # mkstemp: a random name, O_EXCL and O_NOFOLLOW, mode 0600
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the {what}: {exc.strerror}") from None
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), PRIVATE_FILE)
            out.write(raw)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write the {what}: {exc.strerror}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
