"""Reading a big export without the cyclic garbage collector's pauses.

Parsing an export allocates millions of containers (JSON objects, records, models) that all
stay alive: each time the collector runs it walks every one of them again and frees nothing
(JSON and the records hold no reference cycles), and at 100,000 users these walks were a
quarter of a collect's CPU time. While a connector builds its data the collector is paused;
it runs as usual again afterwards, and catches up on whatever cycles were left meanwhile."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the block, then on again if it was on. Threads
    share it: a block that found it off (another is running) leaves it off."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
