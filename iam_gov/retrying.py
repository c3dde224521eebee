"""Waiting before a retry, as every HTTP client of iam-gov does: exponential backoff with
jitter, and the server's own ``Retry-After`` when it sends one."""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime

from iam_gov.timeutil import as_utc, utcnow


def backoff(attempt: int, *, base: float, ceiling: float) -> float:
    """Exponential with jitter, so that many clients throttled together do not return
    together: between half and all of ``base * 2**attempt``, at most ``ceiling``."""
    top = min(ceiling, base * 2.0**attempt)
    return top * random.uniform(0.5, 1.0)


def retry_after(value: str | None, *, cap: float) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), at most ``cap``; None when
    absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = (as_utc(when) - utcnow()).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), cap)
