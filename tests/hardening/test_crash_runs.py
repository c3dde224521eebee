"""Crash runs: collect, campaign decisions and deprovisioning killed with SIGKILL at a random
moment (a seeded RNG), then checked: the store is whole, the audit chain verifies, everything
acknowledged is there, a re-run finishes, and no external write already done is made again.

A few runs of each kind; ``benchmarks/crash_runs.py`` runs hundreds and prints where the
kills landed.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.support.crash import (
    CollectScenario,
    DecideScenario,
    DeprovisionScenario,
    Outcome,
    Tally,
)

RUNS = 2


def explained(outcome: Outcome) -> str:
    crash = outcome.crash
    return (
        f"killed {crash.killed} {crash.delay:.3f} s in ({outcome.where}): integrity "
        f"{outcome.integrity!r}, chain {outcome.chain!r}, {outcome.present} of "
        f"{outcome.acknowledged} acknowledged present, repeated {outcome.repeated_writes}, "
        f"problems {outcome.problems}; child stderr: {crash.stderr[-1500:]}"
    )


def crash_series(
    scenario: DecideScenario | CollectScenario | DeprovisionScenario,
    seed: int,
    runs: int = RUNS,
    *,
    cli: bool = False,
) -> Tally:
    """``runs`` crash runs; with ``cli``, the first verifies the chain with `iam-gov audit
    verify` (the others with the function it calls)."""
    rng = random.Random(seed)
    tally = Tally()
    for n in range(runs):
        outcome = scenario.crash_run(rng, cli=cli and n == 0)
        assert outcome.ok, explained(outcome)
        tally.add(outcome.crash, outcome.where)
    assert tally.killed, f"no run was killed: {tally.distribution()}"
    return tally


def test_decisions_killed_at_random_keep_every_acknowledged_one(tmp_path: Path) -> None:
    """A reviewer's decisions, one call each, killed at random: each decision the call
    acknowledged is in the store with its history row and audit record, none is there in
    part, and deciding the rest afterwards finishes the review."""
    scenario = DecideScenario(tmp_path, items=80)
    crash_series(scenario, seed=15, runs=2)


def test_a_collect_killed_at_random_leaves_no_half_snapshot(tmp_path: Path) -> None:
    """`iam-gov collect` killed at random over a store with an earlier collect: every
    snapshot has all its rows and its audit record or is not there at all, and a re-run
    stores every system."""
    scenario = CollectScenario(tmp_path, people=30)
    crash_series(scenario, seed=16, runs=2)


def test_a_deprovisioning_run_killed_at_random_is_finished_by_resume(tmp_path: Path) -> None:
    """Leavers' Okta access ended against the local Okta server, the run killed at random:
    every step it acknowledged is recorded, `--resume` finishes the plan, the server ends as
    after a clean run, and no write the server had already carried out is sent again."""
    scenario = DeprovisionScenario(tmp_path)
    crash_series(scenario, seed=17, runs=2, cli=True)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["decide", "collect", "deprovision"])
def test_many_crash_runs(tmp_path: Path, kind: str) -> None:
    """Thirty crash runs of one kind (slow: ``make bench`` runs hundreds)."""
    scenario: DecideScenario | CollectScenario | DeprovisionScenario
    if kind == "decide":
        scenario = DecideScenario(tmp_path, items=300)
    elif kind == "collect":
        scenario = CollectScenario(tmp_path, people=60)
    else:
        scenario = DeprovisionScenario(tmp_path)
    crash_series(scenario, seed=99, runs=30)
