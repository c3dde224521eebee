"""Batched writes: many rows per statement, a bounded number held in memory at once.

``write_rows`` is the fast path for large tables: the driver's own executemany on SQLite (one
prepared statement, plain tuples) and ``COPY … FROM STDIN`` on PostgreSQL, with no SQLAlchemy
object or type processing per row. Its rows are tuples of values the driver takes as they are
(text, numbers, booleans, NULL, and on PostgreSQL dates and aware datetimes); the caller
converts anything else the way the column's type would. A driver error is raised as
SQLAlchemy's (``DBAPIError`` and its kinds, parameters hidden), as a Core statement's is, so
that the store's error handling sees one kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError

CHUNK = 5000
T = TypeVar("T")


def chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def bulk_insert(conn: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> int:
    count = 0
    for chunk in chunks(rows):
        conn.execute(table.insert(), chunk)
        count += len(chunk)
    return count


BULK_CACHE_KIB = 65536
"""SQLite's page cache while a snapshot is written (64 MiB, instead of its default 2 MiB):
the primary-key indexes of a million rows stay in memory instead of spilling to the WAL
mid-transaction and being read back."""


@contextmanager
def bulk_session(conn: Connection) -> Iterator[None]:
    """Settings for a large write, safe inside the caller's transaction and undone after it
    (SQLite: a larger page cache; ``synchronous`` and the journal are left as the store set
    them, so nothing written is less durable). Nothing on PostgreSQL."""
    if conn.dialect.name != "sqlite":
        yield
        return
    cursor = conn.connection.cursor()
    try:
        before = cursor.execute("PRAGMA cache_size").fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
        try:
            yield
        finally:
            # A failure here (the disk gone) must not hide the save's own error; a larger
            # cache left on a pooled connection costs only memory.
            with suppress(conn.dialect.loaded_dbapi.Error):
                cursor.execute(f"PRAGMA cache_size = {int(before)}")
    finally:
        cursor.close()


def write_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert rows of driver-ready values, in the caller's transaction: ``COPY`` on
    PostgreSQL, the driver's executemany elsewhere. Returns how many were written."""
    if conn.dialect.name == "postgresql":
        return copy_rows(conn, table, columns, rows)
    return insert_plain(conn, table, columns, rows)


def insert_plain(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert rows of plain values (text, numbers, NULL: nothing SQLAlchemy would convert)
    with the driver's own executemany. At hundreds of thousands of rows, SQLAlchemy's
    per-row work would be most of the time."""
    compiled = table.insert().compile(dialect=conn.dialect, column_keys=list(columns))
    # SQLite's driver takes each row as a tuple in the statement's order, PostgreSQL's as a
    # mapping of names.
    order = [columns.index(name) for name in compiled.positiontup or ()]

    in_order = compiled.positional and order == list(range(len(columns)))

    def shape(row: Sequence[Any]) -> Any:
        if in_order:
            return row
        if compiled.positional:
            return tuple(row[i] for i in order)
        return dict(zip(columns, row, strict=True))

    cursor = conn.connection.cursor()
    count = 0
    try:
        for chunk in chunks(rows):
            cursor.executemany(
                compiled.string, chunk if in_order else [shape(row) for row in chunk]
            )
            count += len(chunk)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(conn, compiled.string, exc) from exc
    finally:
        cursor.close()
    return count


def copy_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """PostgreSQL: the rows through ``COPY … FROM STDIN`` (psycopg 3, text format: psycopg
    escapes tabs, newlines and backslashes, and writes None as NULL; text with a NUL is
    refused, as an INSERT refuses it)."""
    quote = conn.dialect.identifier_preparer
    statement = (
        f"COPY {quote.format_table(table)} ({', '.join(quote.quote(c) for c in columns)}) "
        "FROM STDIN"
    )
    cursor = conn.connection.cursor()
    count = 0
    try:
        with cursor.copy(statement) as copy:
            write = copy.write_row
            for row in rows:
                write(row)
                count += 1
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(conn, statement, exc) from exc
    finally:
        cursor.close()
    return count


def _wrapped(conn: Connection, statement: str, exc: Exception) -> BaseException:
    """The driver's error as SQLAlchemy raises it for a statement it ran: its kind
    (``OperationalError``, ``IntegrityError``, ``DataError`` …), parameters hidden; a lost
    connection is invalidated, so that the pool does not hand it out again."""
    dbapi_connection = conn.connection.dbapi_connection
    lost = conn.dialect.is_disconnect(exc, dbapi_connection, None)  # type: ignore[arg-type]
    if lost:
        conn.invalidate(exc)
    return DBAPIError.instance(
        statement,
        [()],  # the rows are never shown: "[SQL parameters hidden …]"
        exc,
        conn.dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=lost,
        dialect=conn.dialect,
        ismulti=True,
    )
