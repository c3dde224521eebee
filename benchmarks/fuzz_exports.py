"""Thousands of damaged export files for the OpenVPN, WireGuard, AWS, Okta and Entra connectors
(truncated, bytes flipped, inserted or deleted, random; JSON of the wrong shape, keys twice,
deep nesting): each read must end in the typed error naming the file, an incomplete snapshot
saying where, or a snapshot that lost no account. Prints the cases and the outcomes per file.

`make test` runs a few hundred of these (tests/hardening/test_fuzz_*.py)."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.hardening.fuzz_exports import (  # noqa: E402
    DAMAGED_FILES as FILES,
)
from tests.hardening.fuzz_exports import (
    DemoCopy,
    Mutation,
    byte_mutations,
    json_mutation,
    read_damaged,
)

MAY_BE_EMPTY = {"okta/users-deprovisioned.json"}


def run_file(
    demo: DemoCopy, system: str, relative: str, cases: int, random_seed: int
) -> tuple[Counter[str], list[str]]:
    """``cases`` damaged versions of one file: outcomes, and the failures' descriptions."""
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    strategy = byte_mutations()
    if relative.endswith(".json"):
        strategy = st.one_of(strategy, json_mutation((demo.root / relative).read_bytes()))

    @seed(random_seed)
    @settings(
        max_examples=cases,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(mutation=strategy)
    def one(mutation: Mutation) -> None:
        try:
            outcome = read_damaged(
                demo, system, relative, mutation, may_be_empty=relative in MAY_BE_EMPTY
            )
        except Exception as exc:  # every failure is counted, none stops the run
            outcomes["FAILED"] += 1
            where = traceback.extract_tb(exc.__traceback__)[-1]
            failures.append(
                f"{relative}: {mutation!r}: {type(exc).__name__} at "
                f"{Path(where.filename).name}:{where.lineno}: {str(exc)[:200]}"
            )
            return
        outcomes[outcome.kind] += 1

    one()
    return outcomes, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=300, help="damaged versions per file")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--system", action="append", choices=sorted(FILES))
    args = parser.parse_args()
    demo = DemoCopy()
    started = time.perf_counter()
    total: Counter[str] = Counter()
    failures: list[str] = []
    try:
        for system in args.system or FILES:
            for relative in FILES[system]:
                begun = time.perf_counter()
                outcomes, failed = run_file(demo, system, relative, args.cases, args.seed)
                total.update(outcomes)
                failures.extend(failed)
                cases = sum(outcomes.values())
                print(
                    f"{relative:70} {cases:5} cases: {outcomes['read']:5} read, "
                    f"{outcomes['incomplete']:5} incomplete, {outcomes['refused']:5} refused, "
                    f"{outcomes['FAILED']:3} failed ({time.perf_counter() - begun:.1f} s)"
                )
    finally:
        demo.close()
    elapsed = time.perf_counter() - started
    print(
        f"fuzz exports: {sum(total.values())} damaged files: {total['read']} read losing no "
        f"account, {total['incomplete']} incomplete saying where, {total['refused']} refused "
        f"naming the file, {total['FAILED']} failed, {elapsed:.1f} s"
    )
    for failure in failures[:20]:
        print(f"  failed: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
