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
