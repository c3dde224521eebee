"""Launching a review campaign of about a million items, on the 100,000-person company.

    make bench                                                  # after benchmarks/evaluation.py
    .venv/bin/python benchmarks/campaign_launch.py --work .bench/evaluation

Uses the evaluated store that ``benchmarks/evaluation.py`` leaves in its work folder
(``run.db``), copies it, and launches one campaign scoped to the systems and departments
that together hold about a million (account, entitlement) pairs. Prints the phases, the
items and the peak memory. The target: 1,000,000 items in 15 seconds or less.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from pathlib import Path

TARGET_SECONDS = 15.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(".bench/evaluation"))
    parser.add_argument(
        "--systems",
        default="ad,entra",
        help="comma-separated systems in scope (default: ad,entra, about 1.2 M grants)",
    )
    parser.add_argument(
        "--departments",
        default="Engineering,Sales,Support,Marketing,People",
        help="comma-separated departments in scope ('' for all); the default makes about "
        "1,000,000 items (1,008,120) of the generated company's 1.2 M in AD and Entra",
    )
    args = parser.parse_args()
    work: Path = args.work.resolve()
    evaluated = work / "run.db"
    if not evaluated.exists():
        sys.exit(f"{evaluated} is missing: run benchmarks/evaluation.py --work {work} first")

    from iam_gov.campaigns.definition import CampaignDefinition
    from iam_gov.campaigns.launch import create_campaign, launch_campaign
    from iam_gov.config import load_config
    from iam_gov.policy import load_policy
    from iam_gov.rules import all_rules
    from iam_gov.store import Store

    store_file = work / "campaign.db"
    shutil.copyfile(evaluated, store_file)
    os.sync()  # the copy's gigabyte written out now, not while the launch is timed
    config = load_config(work / "company" / "iam-gov.toml")
    policy = load_policy(config.policy.path, rules=all_rules())
    with Store.open(f"sqlite:///{store_file}") as store:
        definition = CampaignDefinition(
            name="benchmark",
            scope={
                "systems": args.systems.split(","),
                "departments": [d for d in args.departments.split(",") if d],
            },
            reviewers={"rule": "manager", "fallback": "grc@example.com"},
            precertify="role-explained",
        )
        campaign_id = create_campaign(store, definition, actor="benchmark")
        started = time.perf_counter()
        result = launch_campaign(store, config, policy, campaign_id, actor="benchmark")
        seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"launch: {result.items:,} items, {result.precertified:,} pre-certified, "
        f"{result.reviewers:,} reviewers"
    )
    print("phases (s): " + ", ".join(f"{k} {v:.2f}" for k, v in result.timings.items()))
    verdict = "OK" if seconds <= TARGET_SECONDS or result.items < 1_000_000 else "SLOW"
    print(
        f"total {seconds:.1f} s (target {TARGET_SECONDS:.0f} s for 1,000,000 items: "
        f"{verdict}), peak RSS {peak_mb:,.0f} MB"
    )


if __name__ == "__main__":
    main()
