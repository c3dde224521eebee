"""Batched writes: many rows per statement, a bounded number held in memory at once."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import Connection, Table

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
            cursor.executemany(compiled.string, [shape(row) for row in chunk])
            count += len(chunk)
    finally:
        cursor.close()
    return count
