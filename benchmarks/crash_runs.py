"""Hundreds of crash runs per kind: `iam-gov collect`, campaign decisions and deprovisioning
(against the local Okta server), each killed with SIGKILL at a random moment (seeded), then
checked: SQLite integrity_check, the audit chain, every acknowledged decision or step present,
no half snapshot, a re-run (--resume) that finishes with the state of a clean run, and no
external write repeated after it was done. Prints the counts and where the kills landed.

`make test` runs a few of each (tests/hardening/test_crash_runs.py)."""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.crash import (  # noqa: E402
    CollectScenario,
    DecideScenario,
    DeprovisionScenario,
    Outcome,
    Tally,
)

KINDS = ("collect", "decide", "deprovision")


def series(kind: str, work: Path, runs: int, seed: int) -> tuple[list[str], bool]:
    """The report lines of ``runs`` crash runs of one kind, and whether all passed."""
    started = time.perf_counter()
    scenario: CollectScenario | DecideScenario | DeprovisionScenario
    if kind == "collect":
        scenario = CollectScenario(work, people=300)
    elif kind == "decide":
        scenario = DecideScenario(work, items=200)
    else:
        scenario = DeprovisionScenario(work)
    rng = random.Random(seed)
    tally = Tally()
    outcomes: list[Outcome] = []
    for _ in range(runs):
        with contextlib.redirect_stderr(io.StringIO()):  # the local Okta's http warnings
            outcome = scenario.crash_run(rng)
        outcomes.append(outcome)
        tally.add(outcome.crash, outcome.where)
    failed = [o for o in outcomes if not o.ok]
    elapsed = time.perf_counter() - started
    lines = [
        f"{kind}: {tally.runs} runs, {tally.killed} killed, kill window {scenario.window:.2f} s, "
        f"{elapsed:.0f} s",
        f"  integrity_check ok: {sum(o.integrity == 'ok' for o in outcomes)}; "
        f"audit chain ok: {sum(o.chain is None for o in outcomes)}",
        f"  acknowledged: {sum(o.acknowledged for o in outcomes)}, present: "
        f"{sum(o.present for o in outcomes)}",
        f"  external writes repeated: {sum(len(o.repeated_writes) for o in outcomes)}"
        + (
            f"; Okta session revocations sent again (no state to read first, idempotent): "
            f"{sum(len(o.reissued) for o in outcomes)}"
            if kind == "deprovision"
            else ""
        ),
        f"  runs with another problem (half snapshot, re-run failed, final state unlike a "
        f"clean run's): {sum(bool(o.problems) for o in outcomes)}",
        f"  where the kills landed: {tally.distribution()}",
    ]
    for outcome in failed[:10]:
        lines.append(
            f"  FAILED ({outcome.where}): integrity {outcome.integrity!r}, chain "
            f"{outcome.chain!r}, {outcome.present}/{outcome.acknowledged} present, repeated "
            f"{outcome.repeated_writes[:3]}, {outcome.problems[:3]}"
        )
    return lines, not failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200, help="Crash runs per kind.")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--kind", choices=KINDS, action="append", help="Only these kinds.")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.kind or KINDS:
            lines, passed = series(kind, Path(folder) / kind, args.runs, args.seed)
            ok = ok and passed
            print("\n".join(lines), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
