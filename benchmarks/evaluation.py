"""Evaluation at scale: a 100,000-person company with about 3 million grants, evaluated.

    make bench                                       # builds the company once into .bench/
    .venv/bin/python benchmarks/evaluation.py --work /tmp/eval-20k --people 20000

The company is generated (``iam-gov samples generate --access-density 4``: about 30 grants a
person in Okta, AD, Entra, AWS and the VPNs) and collected through the real connectors into
a SQLite store, once: the work folder keeps it and later runs reuse it. Each run then
evaluates a fresh copy of that store in a new process (load the snapshots, correlate, run
every rule, store the findings) and prints each phase's seconds and the peak memory (RSS).
The target: under 60 seconds and 4 GB for 100,000 people on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

BUILT = "built.json"
"""Written last, with what was built: a folder without it is built again."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(".bench/evaluation"))
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--access-density", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    work: Path = args.work.resolve()
    if args.measure:
        measure(work)
        return
    wanted = {"people": args.people, "access_density": args.access_density, "seed": args.seed}
    built = work / BUILT
    if not built.exists() or json.loads(built.read_text())["parameters"] != wanted:
        build(work, wanted)
    else:
        print(f"reusing the company in {work}", flush=True)
    # A new process: nothing from building the company is in its memory.
    subprocess.run([sys.executable, __file__, "--work", str(work), "--measure"], check=True)


def build(work: Path, parameters: dict[str, int]) -> None:
    """Generate the company and collect it into ``work/base.db``."""
    from iam_gov.collect import collect
    from iam_gov.config import load_config
    from iam_gov.store import Store

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    company = work / "company"
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "iam_gov",
            "samples",
            "generate",
            "--out",
            str(company),
            "--people",
            str(parameters["people"]),
            "--seed",
            str(parameters["seed"]),
            "--access-density",
            str(parameters["access_density"]),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    generated = time.perf_counter() - started
    print(f"generated {parameters['people']:,} people in {generated:.0f} s", flush=True)
    started = time.perf_counter()
    config = load_config(company / "iam-gov.toml")
    with Store.open(f"sqlite:///{work / 'base.db'}") as store:
        collected = collect(config, store)
    grants = sum(len(c.snapshot.grants) for c in collected)
    print(f"collected {grants:,} grants in {time.perf_counter() - started:.0f} s", flush=True)
    (work / BUILT).write_text(json.dumps({"parameters": parameters}))


def measure(work: Path) -> None:
    from iam_gov.config import load_config
    from iam_gov.evaluation import evaluate
    from iam_gov.policy import load_policy
    from iam_gov.rules import all_rules
    from iam_gov.store import Store

    run_db = work / "run.db"
    for leftover in work.glob("run.db*"):
        leftover.unlink()
    shutil.copyfile(work / "base.db", run_db)  # every run is a first evaluation
    config = load_config(work / "company" / "iam-gov.toml")
    policy = load_policy(config.policy.path, rules=all_rules())
    with Store.open(f"sqlite:///{run_db}") as store:
        started = time.perf_counter()
        report = evaluate(store, config, policy)
        total = time.perf_counter() - started
    peak_mb = peak_rss_mb()

    counts = [info.counts for info in report.snapshots.values()]
    people = sum(c.get("people", 0) for c in counts)
    accounts = sum(c.get("accounts", 0) for c in counts)
    grants = sum(c.get("grants", 0) for c in counts)
    print(f"company: {people:,} people, {accounts:,} accounts, {grants:,} grants")
    for phase, seconds in report.timings.items():
        print(f"  {phase:<40} {seconds:8.2f} s")
    print(f"  {'evaluation in all':<40} {total:8.2f} s")
    print(f"  {'findings':<40} {len(report.findings):8,}")
    print(f"  {'peak memory (RSS)':<40} {peak_mb:8.0f} MB")


def peak_rss_mb() -> float:
    """This process's own peak: Linux's VmHWM starts afresh at exec, while ru_maxrss keeps
    the peak of the process it was forked from (here the one that built the company)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
