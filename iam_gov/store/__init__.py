"""The store: SQLite by default, PostgreSQL by URL; snapshots, evaluations, findings, audit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DatabaseError, DBAPIError, OperationalError

from iam_gov.errors import StoreError
from iam_gov.store import migrate
from iam_gov.store.database import WRITE, create_store_engine, parse_url, safe_url

WRITER_LOCK = 7352002
"""PostgreSQL advisory lock key held by every writing transaction (7352001 guards migrations)."""


class Store:
    """A handle on one database. ``reading()`` and ``writing()`` hand out connections; a
    ``writing()`` block is one transaction: all of it lands, or none of it."""

    def __init__(self, engine: Engine, url: str):
        self.engine = engine
        self.url = url
        # The advisory lock below serializes writers only if each statement after it sees
        # what the writer before committed: READ COMMITTED, whatever the server's default
        # (under REPEATABLE READ or SERIALIZABLE the snapshot is taken before the lock is
        # granted, and every writer that waited for it would fail to serialize).
        pinned = (
            {"isolation_level": "READ COMMITTED"} if engine.dialect.name == "postgresql" else {}
        )
        self._writer = engine.execution_options(**{WRITE: True}, **pinned)

    @classmethod
    def open(cls, url: str, *, create: bool = True) -> Store:
        """Open (creating if needed) and migrate to the schema this version expects.

        With ``create=False`` (what a read-only command uses) a store is never created: a
        missing SQLite file, or a database without iam-gov's schema (an empty file, a
        mistyped PostgreSQL database), is a ``StoreError``."""
        engine = create_store_engine(url, create=create)
        try:
            if not create and migrate.current_revision(engine) is None:
                raise StoreError(
                    f"the store at {safe_url(url)} is empty: no evaluation yet, nothing has "
                    "been recorded (run `iam-gov run` first, or check the store's URL)"
                )
            migrate.upgrade(engine)
        except DBAPIError as exc:
            engine.dispose()
            raise StoreError(
                f"cannot open the store at {safe_url(url)}: {_first_line(exc)}"
            ) from exc
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, url)

    @property
    def display_url(self) -> str:
        return safe_url(self.url)

    @property
    def dialect(self) -> str:
        return parse_url(self.url).get_backend_name()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            raise self._failed(exc) from exc

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One write transaction at a time, across processes and machines: SQLite takes its
        write lock at BEGIN; PostgreSQL takes a transaction-level advisory lock. Readers are
        never blocked. Without this, two evaluations could both insert the same new finding."""
        try:
            with self._writer.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITER_LOCK})
                yield conn
        except DBAPIError as exc:
            raise self._failed(exc) from exc

    def _failed(self, exc: DBAPIError) -> Exception:
        """A storage failure (disk full, I/O error, the server gone, a damaged file) as one
        line naming the store and the driver's reason, never the statement or its rows;
        anything else (an integrity error: a bug or a race the caller handles) unchanged."""
        if isinstance(exc, OperationalError) or type(exc) is DatabaseError:
            return storage_error(exc, self.url)
        return exc

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def storage_error(exc: BaseException, url: str) -> StoreError:
    """``exc`` (from SQLAlchemy, the driver, or the file system) as a one-line ``StoreError``
    naming the store: the driver's own reason, without SQLAlchemy's ``[SQL: …]`` and
    ``[parameters: …]``, which hold people's names and e-mails."""
    if isinstance(exc, DBAPIError):
        reason = _first_line(exc)
    elif isinstance(exc, OSError) and exc.strerror:
        reason = exc.strerror
    else:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StoreError(f"the store at {safe_url(url)} failed: {reason}")


def _first_line(exc: DBAPIError) -> str:
    original = exc.orig if exc.orig is not None else exc
    return (
        str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    )


__all__ = ["Store", "storage_error"]
