"""The exit codes of `iam-gov`, one table for every command, so that a scheduler can tell
"there are findings" from "the data is not whole" from "the command itself failed".

The larger the code, the less the output can be trusted: when several apply, the largest wins
(a run that found something in data that is not whole exits 4 or 5, not 1).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

EXIT_OK: Final = 0
"""Done; every system complete; nothing new at or above the threshold."""
EXIT_FINDINGS: Final = 1
"""Findings: new ones at or above ``[drift] fail_on`` (`run`, `drift`); any (`problems`)."""
EXIT_ERROR: Final = 2
"""The command itself failed: a usage, configuration, policy, input or store error. Nothing
was stored by it (a collect stores nothing of a system it could not read)."""
EXIT_DELIVERY: Final = 3
"""The report was written, but sending it on (webhook, e-mail) failed."""
EXIT_INCOMPLETE: Final = 4
"""A system was read but its snapshot is incomplete: part of its data is unknown (each part is
listed with its consequence; `iam-gov problems`). Findings it would show are not concluded."""
EXIT_STALE: Final = 5
"""A system could not be collected (or its latest data is stale): its previous snapshot was
used, and what it did not read is not called removed."""
EXIT_INTERNAL: Final = 70
"""A bug in iam-gov (one line; the traceback with ``--debug``)."""
EXIT_INTERRUPTED: Final = 130

MEANING: Final = {
    EXIT_OK: "ok",
    EXIT_FINDINGS: "findings",
    EXIT_ERROR: "the command failed",
    EXIT_DELIVERY: "the report was written, but sending it on failed",
    EXIT_INCOMPLETE: "a system's data is incomplete",
    EXIT_STALE: "a system could not be collected or is stale",
    EXIT_INTERNAL: "internal error",
    EXIT_INTERRUPTED: "interrupted",
}

TABLE: Final = """\
Exit codes: 0 ok; 1 new findings at or above [drift] fail_on; 2 the command itself failed
(usage, configuration, policy, input, store); 3 the report was written but not delivered;
4 a system's snapshot is incomplete; 5 a system could not be collected (stale data used).
When several apply, the largest wins."""


def worst(codes: Iterable[int]) -> int:
    """The code to exit with when several apply: the largest of the data codes (0–5)."""
    return max((code for code in codes if code <= EXIT_STALE), default=EXIT_OK)


def data_code(*, incomplete: Iterable[str] = (), failed: Iterable[str] = ()) -> int:
    """``EXIT_STALE`` when a system failed, ``EXIT_INCOMPLETE`` when one is incomplete."""
    if any(True for _ in failed):
        return EXIT_STALE
    if any(True for _ in incomplete):
        return EXIT_INCOMPLETE
    return EXIT_OK
