"""Ten reviewers at once on PostgreSQL, each on its own connection, 10,000 random decisions
each (approve / revoke / abstain, changing their minds, sometimes on the same items, some in
bulk); then the store is checked against what every reviewer was told. Prints the counts.

`make test` runs 10 × 200 on SQLite and PostgreSQL (tests/hardening/test_reviewer_load.py).
PostgreSQL: $IAM_GOV_TEST_POSTGRES_URL, else a throwaway cluster (the server programs from
.ci/install-system-packages)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import reviewer_load  # noqa: E402
from tests.support.postgres import ThrowawayPostgres, external_factory, find_bin_dir  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reviewers", type=int, default=10)
    parser.add_argument("--decisions", type=int, default=10_000, help="per reviewer")
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    server = None
    make = external_factory()
    if make is None:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            print("reviewer load: PostgreSQL server programs not found", file=sys.stderr)
            return 2
        server = ThrowawayPostgres(bin_dir)
        server.start()
        make = server.new_database
    try:
        outcome = reviewer_load.run(
            make(),
            reviewers=args.reviewers,
            decisions_each=args.decisions,
            items=args.items,
            seed_=args.seed,
        )
    finally:
        if server is not None:
            server.stop()
    attempted = len(outcome.attempts)
    print(
        f"reviewer load (PostgreSQL, {args.reviewers} reviewers × {args.decisions:,} on "
        f"{args.items:,} items): {attempted:,} decisions attempted, {outcome.committed:,} "
        f"committed, {outcome.conflicts:,} conflicts reported (each real), "
        f"{outcome.retries} serialization retries, lost updates = {outcome.lost}, "
        f"phantom writes = {outcome.phantom}, {attempted / outcome.seconds:,.0f} decisions/s "
        f"({outcome.seconds:.1f} s)"
    )
    for problem in (outcome.errors + outcome.problems)[:20]:
        print(f"  problem: {problem}")
    return 1 if outcome.errors or outcome.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
