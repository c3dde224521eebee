"""Store snapshots: each system's snapshot saved into a fresh store, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/store_snapshots.py --people 100000
    .venv/bin/python benchmarks/store_snapshots.py --company /tmp/co100k --repeat 3

Collects the company once (in this process; nothing is pickled), then times ``save_snapshot``
of every system, each in its own transaction as ``collect`` stores them, into a fresh store:
wall and CPU seconds of this process (PostgreSQL's server works in its own processes), best
of ``--repeat``. PostgreSQL is a throwaway cluster (``tests/support/postgres.py``), skipped
when its programs are not installed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--company", type=Path, default=None, help="an already generated one")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    from iam_gov.collect import build_connector
    from iam_gov.config import load_config
    from iam_gov.store import Store
    from iam_gov.store.snapshots import save_snapshot
    from iam_gov.timeutil import utcnow
    from tests.support.postgres import ThrowawayPostgres, find_bin_dir

    work = Path(tempfile.mkdtemp(prefix="iam-gov-bench-store-"))
    company = args.company
    if company is None:
        company = work / "company"
        subprocess.run(
            [sys.executable, "-m", "iam_gov", "samples", "generate", "--out", str(company)]
            + ["--people", str(args.people), "--seed", str(args.seed)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    config = load_config(company / "iam-gov.toml")
    snapshots = {name: build_connector(name, o).collect() for name, o in config.systems.items()}
    rows = sum(
        len(s.people)
        + len(s.accounts)
        + len(s.credentials)
        + len(s.entitlements)
        + len(s.grants)
        + len(s.documents)
        for s in snapshots.values()
    )
    print(f"company: {company} ({len(snapshots)} systems, {rows:,} rows)")

    def measure(label: str, new_url: Callable[[], str]) -> None:
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.repeat):
            with Store.open(new_url()) as store:
                for name, snapshot in [*snapshots.items(), ("all", None)]:
                    if snapshot is None:
                        continue
                    wall, cpu = time.perf_counter(), time.process_time()
                    with store.writing() as conn:
                        save_snapshot(conn, snapshot, utcnow())
                    took = (time.perf_counter() - wall, time.process_time() - cpu)
                    if name not in best or took[0] < best[name][0]:
                        best[name] = took
        print(f"{label} (best of {args.repeat}):")
        for name, (wall, cpu) in best.items():
            print(f"  {name:<12} {wall:8.2f} s wall {cpu:8.2f} s CPU")
        wall = sum(w for w, _ in best.values())
        cpu = sum(c for _, c in best.values())
        print(f"  {'store snapshots':<12} {wall:8.2f} s wall {cpu:8.2f} s CPU")

    counter = iter(range(1_000_000))
    try:
        measure("sqlite", lambda: f"sqlite:///{work}/store-{next(counter)}/iam-gov.db")
        bin_dir = None if args.no_postgres else find_bin_dir()
        if bin_dir is None:
            print("postgresql: not measured (server programs not found)")
        else:
            server = ThrowawayPostgres(bin_dir)
            server.start()
            try:
                measure("postgresql", server.new_database)
            finally:
                server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
