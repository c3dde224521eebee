"""Scale run: generate an N-person company, then time collect + correlate + evaluate.

    make bench                       # 100,000 people on SQLite
    .venv/bin/python benchmarks/scale.py --people 20000 --database-url postgresql+psycopg://…

Prints seconds per phase and the peak memory (RSS) of the measured process. The company is
generated in a separate process first, so that its memory does not count.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--keep", action="store_true", help="keep the generated company")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="iam-gov-bench-"))
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
            str(args.people),
            "--seed",
            str(args.seed),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    generated = time.perf_counter() - started
    size = sum(p.stat().st_size for p in company.rglob("*") if p.is_file())

    from iam_gov import audit
    from iam_gov.collect import build_connector
    from iam_gov.config import load_config
    from iam_gov.evaluation import evaluate
    from iam_gov.policy import load_policy
    from iam_gov.rules import all_rules
    from iam_gov.store import Store
    from iam_gov.store.snapshots import save_snapshot
    from iam_gov.timeutil import utcnow

    config = load_config(company / "iam-gov.toml")
    policy = load_policy(config.policy.path, rules=all_rules())
    url = args.database_url or f"sqlite:///{work / 'iam-gov.db'}"
    timings: dict[str, float] = {}
    with Store.open(url) as store:
        snapshots = {}
        for name, options in config.systems.items():
            t = time.perf_counter()
            snapshots[name] = build_connector(name, options).collect()
            timings[f"collect {name} (read + parse)"] = time.perf_counter() - t
        t = time.perf_counter()
        with store.writing() as conn:
            for name, snapshot in snapshots.items():
                sid = save_snapshot(conn, snapshot, utcnow())
                audit.append(conn, "collect", name, {"snapshot_id": sid})
        timings["store snapshots"] = time.perf_counter() - t
        accounts = sum(len(s.accounts) for s in snapshots.values())
        grants = sum(len(s.grants) for s in snapshots.values())
        del snapshots
        t = time.perf_counter()
        report = evaluate(store, config, policy)
        timings["load + correlate + evaluate + store findings"] = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(
        f"company: {args.people:,} people, {accounts:,} accounts, {grants:,} grants "
        f"({size / 1e6:.1f} MB of exports, generated in {generated:.1f} s)"
    )
    print(f"store:   {store.display_url}")
    for phase, seconds in timings.items():
        print(f"  {phase:<48} {seconds:8.2f} s")
    total = sum(timings.values())
    print(f"  {'total collect + correlate + evaluate':<48} {total:8.2f} s")
    print(f"  {'findings':<48} {len(report.findings):8,}")
    print(f"  {'peak memory (RSS)':<48} {peak_mb:8.0f} MB")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
