"""Opening the database: SQLite file (0600, WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote, urlsplit

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from iam_gov.errors import StoreError
from iam_gov.files import make_private_folders

WRITE = "iam_gov_write"
"""Execution option marking a connection that will write (SQLite: BEGIN IMMEDIATE)."""

MASK = "***"

# Masked wherever a URL is shown: any query parameter naming a credential (the secrets the
# configuration refuses, ``iam_gov.config.secret_url_parameters``, and also the paths of key
# files, ``sslkey`` and ``passfile``, which say where the credentials are).
_CREDENTIAL_PARAMETER = re.compile(r"pass|pwd|secret|token|key|credential|auth", re.IGNORECASE)

_SIDE_FILES = ("-wal", "-shm")
"""The files SQLite keeps beside a database in WAL mode: they hold its pages too."""


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"not a database URL: {safe_url(url)}") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.get_driver_name() != "psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend not in ("sqlite", "postgresql"):
        raise StoreError(f"{backend} is not a supported store (use sqlite or postgresql)")
    return parsed


def safe_url(url: str | URL) -> str:
    """The URL with every credential masked (the password, and query parameters such as
    ``password``, ``sslpassword``, ``token``, ``sslkey``), for messages and logs."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "<unparseable URL>"
    base = parsed.set(query={}).render_as_string(hide_password=True)
    pairs = []
    for key, values in parsed.query.items():
        masked = _CREDENTIAL_PARAMETER.search(key) is not None
        for value in (values,) if isinstance(values, str) else values:
            pairs.append(f"{quote_plus(key)}={MASK if masked else quote_plus(value)}")
    return f"{base}?{'&'.join(pairs)}" if pairs else base


def create_store_engine(url: str, *, create: bool = True) -> Engine:
    """An engine on the store at ``url``; with ``create=False`` a SQLite file that does not
    exist is refused instead of created. Statement parameters (people's names, e-mails) are
    never put in an error's text: ``hide_parameters``."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, create=create)
    return create_engine(parsed, pool_pre_ping=True, hide_parameters=True, future=True)


def sqlite_path(url: URL) -> Path | None:
    """The file a SQLite URL names (a plain path or a ``file:`` URI), or None for memory."""
    database = url.database or ""
    if not database or database == ":memory:":
        return None
    if not (database.startswith("file:") and url.query.get("uri") == "true"):
        return Path(database)  # without uri=true, pysqlite takes even "file:…" as a name
    uri = urlsplit(database)
    mode = dict(p.partition("=")[::2] for p in uri.query.split("&") if p).get("mode")
    mode = mode or str(url.query.get("mode", ""))
    if mode == "memory" or not uri.path or uri.path == ":memory:":
        return None
    return Path(unquote(uri.path))


def _sqlite_engine(url: URL, *, create: bool) -> Engine:
    path = sqlite_path(url)
    if path is not None:
        prepare_private_file(path, create=create and url.query.get("mode") not in ("ro", "rw"))
    engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True, future=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event issue BEGIN itself (pysqlite's own handling defers it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the write lock up front, so that a read-then-write (the audit chain)
        # can never interleave with another writer's.
        conn.exec_driver_sql(
            "BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN"
        )

    return engine


def prepare_private_file(path: Path, *, create: bool = True) -> None:
    """Make sure SQLite opens a file only its owner can read, before it opens it.

    A missing store is created 0600 (its folder 0700) with ``O_EXCL|O_NOFOLLOW``, whatever
    the umask says, and so are its WAL and shared-memory files, which SQLite would otherwise
    create itself. A symbolic link to a missing file is refused rather than followed: SQLite
    would create the target with the umask's permissions, somewhere the link's owner chose.
    A link to an existing store is followed (a store kept on another disk). An existing store
    others can read is opened, with a one-line warning on stderr.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise StoreError(f"{path}: cannot open the store: {exc.strerror}") from None
    if info is not None and stat.S_ISLNK(info.st_mode):
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise StoreError(
                f"{path}: the store is a symbolic link to a missing file; iam-gov does not "
                "create a store through a link (give the target's path, or remove the link)"
            ) from None
        except OSError as exc:
            raise StoreError(f"{path}: cannot open the store: {exc.strerror}") from None
    if info is None:
        if not create:
            raise StoreError(
                f"no store at {path}: no evaluation yet, nothing has been recorded "
                "(run `iam-gov run` first, or check the store's path)"
            )
        _create_private(path)
        return
    if info.st_mode & 0o077:
        print(
            f"warning: the store {path} can be read by others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); chmod 600 it",
            file=sys.stderr,
        )


def _create_private(path: Path) -> None:
    for name in _SIDE_FILES:
        side = path.with_name(path.name + name)
        if os.path.lexists(side):
            # SQLite would take a stale WAL's pages into the new store: someone must look.
            raise StoreError(f"{side}: left beside a missing store; remove it or restore the store")
    try:
        make_private_folders(path.parent)  # each folder it makes 0700, parents too
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the store: {exc.strerror}") from None
    for name in ("", *_SIDE_FILES):
        target = path.with_name(path.name + name)
        flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(target, flags, 0o600)
        except FileExistsError:
            if name:  # created by another process opening the new store: SQLite's to use
                continue
            # Another process created the store between our look and now: take it as it is.
            prepare_private_file(path, create=False)
            return
        except OSError as exc:
            raise StoreError(f"{target}: cannot create the store: {exc.strerror}") from None
        try:
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
