"""The store: SQLite by default, PostgreSQL by URL; snapshots, evaluations, findings, audit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

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
        self._writer = engine.execution_options(**{WRITE: True})

    @classmethod
    def open(cls, url: str) -> Store:
        """Open (creating if needed) and migrate to the schema this version expects."""
        engine = create_store_engine(url)
        try:
            migrate.upgrade(engine)
        except (OperationalError, DBAPIError) as exc:
            engine.dispose()
            raise StoreError(
                f"cannot open the store at {safe_url(url)}: {_first_line(exc)}"
            ) from exc
        return cls(engine, url)

    @property
    def display_url(self) -> str:
        return safe_url(self.url)

    @property
    def dialect(self) -> str:
        return parse_url(self.url).get_backend_name()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One write transaction at a time, across processes and machines: SQLite takes its
        write lock at BEGIN; PostgreSQL takes a transaction-level advisory lock. Readers are
        never blocked. Without this, two evaluations could both insert the same new finding."""
        with self._writer.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITER_LOCK})
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_line(exc: DBAPIError) -> str:
    original = exc.orig if exc.orig is not None else exc
    return (
        str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    )


__all__ = ["Store"]
