"""Waiting before a retry, as every HTTP client of iam-gov does: exponential backoff with
jitter, and the server's own ``Retry-After`` when it sends one."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
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


class GaveUp(Exception):
    """A collect stopped asking a system: its deadline passed, or the system is clearly gone
    (the circuit breaker opened). What was not read is unknown; the message says why."""


class Patience:
    """One collect's patience with one system: a deadline for the whole collect and a circuit
    breaker, so that a dead server ends the collect in seconds, not after every remaining call
    has retried its full count.

    ``before_call()`` raises ``GaveUp`` once the deadline has passed or ``failures_to_open``
    calls in a row failed to reach the server (connection refused, timeout, 5xx after its
    retries); ``succeeded()`` closes the breaker again. ``wait_allowed(seconds)`` caps a retry
    wait at what is left of the deadline (None: no time left to wait). ``noted(why)`` keeps a
    problem that does not open the breaker (a 429: the server answers), so that a deadline
    that passes says what used the time up."""

    def __init__(
        self,
        *,
        deadline_seconds: float,
        failures_to_open: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.started = clock()
        self.deadline_seconds = deadline_seconds
        self.failures_to_open = failures_to_open
        self.failures_in_a_row = 0
        self.last_failure: str | None = None
        self.last_problem: str | None = None
        """The last failure or noted problem, whichever came last."""

    def remaining(self) -> float:
        return self.deadline_seconds - (self.clock() - self.started)

    def before_call(self) -> None:
        if self.failures_in_a_row >= self.failures_to_open:
            raise GaveUp(
                f"the server is not answering ({self.failures_in_a_row} calls in a row "
                f"failed, the last: {self.last_failure}); stopped asking"
            )
        if self.remaining() <= 0:
            last = f" (the last problem met: {self.last_problem})" if self.last_problem else ""
            raise GaveUp(
                f"the collect's deadline of {self.deadline_seconds:.0f} s passed{last}; "
                "stopped asking"
            )

    def succeeded(self) -> None:
        self.failures_in_a_row = 0

    def failed(self, why: str) -> None:
        """A call that could not reach the server or got a server error after its retries."""
        self.failures_in_a_row += 1
        self.last_failure = self.last_problem = why

    def noted(self, why: str) -> None:
        """A problem that says nothing about whether the server is there (throttling)."""
        self.last_problem = why

    def wait_allowed(self, seconds: float) -> float | None:
        left = self.remaining()
        if left <= 0:
            return None
        return min(seconds, left)
