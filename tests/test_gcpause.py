"""The collector pause every large read uses: off for the block, then as it was (also when
the block fails, also when an outer block still runs), what was made meanwhile moved to the
oldest generation rather than walked at the next collection."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from iam_gov.gcpause import collector_paused


@pytest.fixture
def collector_on() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        gc.enable() if enabled else gc.disable()


@pytest.mark.usefixtures("collector_on")
def test_paused_for_the_block_and_back_after_it_even_on_error() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a collect that fails")
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_a_pause_inside_another_leaves_the_collector_off_for_the_outer_one() -> None:
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_a_caller_that_turned_it_off_finds_it_off() -> None:
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_what_was_made_meanwhile_is_not_left_in_the_youngest_generation() -> None:
    gc.collect()
    with collector_paused():
        made = [[i] for i in range(50_000)]
    assert gc.get_count()[0] < 1_000  # moved on, not waiting to be walked
    assert len(made) == 50_000
