"""The cyclic garbage collector paused while a large structure is built.

Reading a big export, loading a store or analysing an AWS Organization allocates millions of
containers (JSON objects, records, models, decisions) that stay alive and form no reference
cycles: each time the collector runs it walks every one of them again and frees nothing
(at 100,000 people, a quarter to a third of the CPU time). They are freed by reference
counting as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The collector off for the block, then as it was. Turned on again, it would walk every
    object made meanwhile at its next pass of the youngest generation (whose count is then in
    the millions): they are moved to the oldest generation unexamined instead (``freeze``
    then ``unfreeze``), as if they had lived through the collections they skipped. Threads
    share the collector: a block that found it off (another block is running) leaves it
    off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()
