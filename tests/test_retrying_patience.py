"""One collect's patience with one system: a deadline and a circuit breaker."""

from __future__ import annotations

import pytest

from iam_gov.retrying import GaveUp, Patience


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_after_failures_in_a_row_and_a_success_closes_it() -> None:
    patience = Patience(deadline_seconds=600, failures_to_open=3, clock=Clock())
    patience.failed("connection refused")
    patience.failed("connection refused")
    patience.before_call()  # two in a row: still asking
    patience.succeeded()
    for _ in range(3):
        patience.failed("timed out")
    with pytest.raises(GaveUp, match=r"3 calls in a row failed, the last: timed out"):
        patience.before_call()


def test_the_deadline_stops_the_collect_and_caps_the_waits() -> None:
    clock = Clock()
    patience = Patience(deadline_seconds=60, clock=clock)
    clock.now = 50
    assert patience.wait_allowed(30) == 10
    patience.before_call()
    clock.now = 61
    assert patience.wait_allowed(30) is None
    with pytest.raises(GaveUp, match="deadline of 60 s passed"):
        patience.before_call()
