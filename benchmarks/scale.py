"""Scale run: exports to findings at 10k, 30k and 100k people, against the floor and the targets.

    make bench                                     # 10,000, 30,000 and 100,000 people, SQLite
    .venv/bin/python benchmarks/scale.py --people 2000,4000
    .venv/bin/python benchmarks/scale.py --postgres                # a throwaway PostgreSQL
    .venv/bin/python benchmarks/scale.py --database-url postgresql+psycopg://…/postgres
    .venv/bin/python benchmarks/scale.py --companies-dir /tmp --dump-findings /tmp/before

For each size, a company is generated (``iam-gov samples generate --seed``) in a process of its
own first, so that its memory does not count; with ``--companies-dir`` it is kept there as
``co10k``, ``co30k``, ``co100k`` … and reused when present. Then, each in a child process:

- **the pipeline** as ``iam-gov run`` does it, less the drift report: ``collect_each`` (each
  system read and stored in its own transaction) and ``evaluate`` into a fresh store. Each
  system's *read + parse* seconds are timed around its connector's ``collect()``; *store
  snapshots* is the rest of each system's time in ``collect_each`` (its checks and its
  write), summed; load, correlate, rules and store findings are the ``timings`` the
  evaluation's report gives; *total* is the child's wall time from its start (imports,
  configuration and policy included: *start-up*) to the findings stored.
- **the floor** (``benchmarks/scale_floor.py``): the same files read and parsed with the
  standard library alone; the ratio is the pipeline's total over it.

Peak memory is that of **all the processes of the child's tree together**: while the child
runs, this process walks the tree every 50 ms (``/proc/<pid>/task/*/children``) and keeps each
process's high-water mark (``VmHWM``); the figure is the sum of those marks over every process
seen (an upper bound of what they held at once: exact for one process) or, if larger, the
child's own ``ru_maxrss`` from ``wait4`` (which also covers descendants reaped before they were
seen). Systems collected in parallel processes, or rules evaluated in one, count in full.
A PostgreSQL server is not part of iam-gov and does not count.

``--dump-findings DIR`` writes each size's findings as JSON lines (``findings-<people>.jsonl``,
the finding as stored, in the order ``evaluate`` returns them; no timestamps), to compare two
runs with ``cmp``; the sha256 is printed beside the count.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SAMPLE_SECONDS = 0.05

TARGET_PEOPLE = 100_000
TARGET_TOTAL = {"sqlite": 60.0, "postgresql": 90.0}
TARGET_PEAK_BYTES = 1.5e9
TARGET_EVALUATION = 20.0


# --- the measured child: the pipeline ----------------------------------------------------------


def pipeline(company: Path, url: str, dump: Path | None) -> dict[str, Any]:
    """Collect and evaluate ``company`` into the store at ``url``: the figures, as JSON."""
    started = time.perf_counter()
    from iam_gov import progress
    from iam_gov.cli_common import policy_of
    from iam_gov.collect import build_connector, collect_each
    from iam_gov.config import load_config
    from iam_gov.connectors import Connector
    from iam_gov.correlate import load_overrides
    from iam_gov.evaluation import evaluate
    from iam_gov.store import Store
    from iam_gov.store.snapshots import latest_snapshot

    reads: dict[str, float] = {}
    elapsed: dict[str, float] = {}

    def timed_connector(name: str, options: Any) -> Connector[Any]:
        connector = build_connector(name, options)
        read = connector.collect

        def collect() -> Any:
            clock = time.perf_counter()
            try:
                return read()
            finally:
                reads[name] = time.perf_counter() - clock

        setattr(connector, "collect", collect)  # noqa: B010 -- a method, replaced per instance
        return connector

    class Clock(progress.Reporter):
        """Each system's seconds in ``collect_each``, read and store together."""

        def finished(self, task: progress.Task) -> None:
            if task.kind == "system":
                elapsed[task.name] = task.elapsed

    config = load_config(company / "iam-gov.toml")
    policy = policy_of(config)
    overrides = load_overrides(config.correlation.overrides)
    setup = time.perf_counter() - started
    with progress.use(Clock()), Store.open(url) as store:
        clock = time.perf_counter()
        result = collect_each(config, store, factory=timed_connector)
        collected = time.perf_counter() - clock
        clock = time.perf_counter()
        report = evaluate(store, config, policy, overrides=overrides)
        evaluated = time.perf_counter() - clock
        total = time.perf_counter() - started
        counts: dict[str, int] = {}
        with store.reading() as conn:
            for name in config.systems:
                info = latest_snapshot(conn, name)
                for what, n in (info.counts if info is not None else {}).items():
                    counts[what] = counts.get(what, 0) + n
    figures: dict[str, Any] = {
        "setup": setup,
        "read": reads,
        "store": {n: max(elapsed.get(n, s) - s, 0.0) for n, s in reads.items()},
        "collect": collected,
        "failed": {name: failed.reason for name, failed in result.failed.items()},
        "evaluation": dict(report.timings),
        "evaluate": evaluated,
        "total": total,
        "findings": len(report.findings),
        "counts": counts,
        "sha256": None,
    }
    if dump is not None:
        figures["sha256"] = dump_findings(report.findings, dump)
    return figures


def dump_findings(findings: list[Any], path: Path) -> str:
    """The findings as JSON lines (what the store keeps of each, without timestamps), in
    order; the file's sha256."""
    keep = {"finding_id", "rule_id", "severity", "system", "subject", "person_id", "message"}
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for finding in findings:
            row = finding.model_dump(mode="json", include=keep | {"evidence"})
            line = json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            data = line.encode() + b"\n"
            out.write(data)
            digest.update(data)
    return digest.hexdigest()


# --- the parent: generating, measuring the children, the table -------------------------------


@dataclass
class Measured:
    """A child's figures and the memory of its process tree."""

    figures: dict[str, Any]
    wall: float
    peak: int
    """Bytes: the sum of the high-water marks of every process of the tree."""
    processes: int


def _status(pid: int) -> dict[str, int]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0]) * 1024
    return out


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo.extend(int(c) for c in children.read_text().split())
    return found


def measure(command: list[str], result: Path) -> Measured:
    """Run ``command`` (which writes its figures to ``result``) and watch its process tree."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT)
    marks: dict[int, int] = {}
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        for member in _tree(child.pid):
            hwm = _status(member).get("VmHWM")
            if hwm is not None:
                marks[member] = max(marks.get(member, 0), hwm)
        time.sleep(SAMPLE_SECONDS)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed with exit code {child.returncode}")
    maxrss = usage.ru_maxrss * 1024  # kilobytes on Linux
    peak = max(sum(marks.values()), maxrss)
    return Measured(json.loads(result.read_text()), wall, peak, max(len(marks), 1))


def company_dir(base: Path, people: int) -> Path:
    return base / (f"co{people // 1000}k" if people % 1000 == 0 else f"co{people}")


def generate(company: Path, people: int, seed: int) -> float:
    if (company / "iam-gov.toml").exists():
        return 0.0
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "iam_gov", "samples", "generate", "--out", str(company)]
        + ["--people", str(people), "--seed", str(seed)],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=ROOT,
    )
    return time.perf_counter() - started


@dataclass
class Size:
    people: int
    run: Measured
    floor: Measured
    export_bytes: int
    dump: Path | None = None
    rows: dict[str, float] = field(default_factory=dict)


class Databases:
    """A fresh store per size: a SQLite file in the work folder, a new database on the given
    PostgreSQL server, or on a throwaway one (``--postgres``)."""

    def __init__(self, work: Path, url: str | None, throwaway: bool):
        self.work, self.url, self.server = work, url, None
        if throwaway:
            sys.path.insert(0, str(ROOT))
            from tests.support.postgres import ThrowawayPostgres, find_bin_dir

            bin_dir = find_bin_dir()
            if bin_dir is None:
                raise SystemExit("--postgres: PostgreSQL's programs (initdb) are not installed")
            server = ThrowawayPostgres(bin_dir)
            server.start()
            self.server, self.url = server, server.admin_url

    @property
    def kind(self) -> str:
        return "postgresql" if self.url and self.url.startswith("postgresql") else "sqlite"

    def fresh(self, people: int) -> str:
        if self.url is None:
            return f"sqlite:///{self.work / f'scale-{people}.db'}"
        if self.kind == "postgresql":
            sys.path.insert(0, str(ROOT))
            from tests.support.postgres import create_database

            return create_database(self.url, f"iam_gov_scale_{people}_{os.getpid()}")
        return self.url

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--people", default="10000,30000,100000", help="sizes, comma-separated")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL: a fresh database per size is created on its server; default: a "
        "fresh SQLite file per size",
    )
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL")
    parser.add_argument("--companies-dir", type=Path, default=None, help="keep/reuse companies")
    parser.add_argument("--dump-findings", type=Path, default=None, metavar="DIR")
    parser.add_argument(
        "--pipeline", nargs=3, metavar=("COMPANY", "URL", "RESULT"), help=argparse.SUPPRESS
    )
    parser.add_argument("--dump", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pipeline:
        company, url, result = args.pipeline
        from iam_gov.cli import _collector_for_a_command

        with _collector_for_a_command():  # the garbage collector as the CLI sets it
            figures = pipeline(Path(company), url, args.dump)
        Path(result).write_text(json.dumps(figures))
        return

    sizes = [int(n.replace("_", "")) for n in args.people.split(",") if n.strip()]
    if args.database_url and not args.database_url.startswith("postgresql") and len(sizes) > 1:
        parser.error("a --database-url that is not PostgreSQL takes one size (--people N)")
    work = Path(tempfile.mkdtemp(prefix="iam-gov-scale-"))
    base = args.companies_dir or work
    if args.dump_findings is not None:
        args.dump_findings.mkdir(parents=True, exist_ok=True)
    databases = Databases(work, args.database_url, args.postgres)
    results: list[Size] = []
    try:
        for people in sizes:
            company = company_dir(base, people)
            seconds = generate(company, people, args.seed)
            made = f"generated in {seconds:.0f} s" if seconds else "reused"
            print(f"{people:,} people: {company} ({made})", flush=True)
            floor = measure(
                [sys.executable, str(HERE / "scale_floor.py"), str(company)]
                + ["--result", str(work / "floor.json")],
                work / "floor.json",
            )
            dump = args.dump_findings / f"findings-{people}.jsonl" if args.dump_findings else None
            url = databases.fresh(people)
            command = [sys.executable, str(Path(__file__).resolve()), "--pipeline"]
            command += [str(company), url, str(work / "run.json")]
            command += ["--dump", str(dump)] if dump else []
            run = measure(command, work / "run.json")
            exports = sum(int(s["bytes"]) for s in floor.figures["systems"].values())
            size = Size(people, run, floor, exports, dump)
            results.append(size)
            print_size(size, databases.kind)
        print_summary(results, databases.kind)
    finally:
        databases.close()
        shutil.rmtree(work, ignore_errors=True)
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(this process, which only watches: {peak_self:.0f} MB)")


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def print_size(size: Size, kind: str) -> None:
    f = size.run.figures
    counts = f["counts"]
    print(
        f"  {counts.get('accounts', 0):,} accounts, {counts.get('grants', 0):,} grants, "
        f"{size.export_bytes / 1e6:,.0f} MB of exports read; "
        f"store: {kind}"
    )
    if f["failed"]:
        for name, reason in f["failed"].items():
            print(f"  ! {name} not collected: {reason}")
    print(f"  {'start-up: imports, config, policy':<40} {f['setup']:8.2f} s")
    for name, seconds in f["read"].items():
        floor = size.floor.figures["systems"].get(name, {}).get("seconds")
        beside = f"   (floor {floor:6.2f} s)" if floor is not None else ""
        print(f"  {'collect ' + name + ' (read + parse)':<40} {seconds:8.2f} s{beside}")
    print(f"  {'store snapshots':<40} {sum(f['store'].values()):8.2f} s")
    for phase, seconds in f["evaluation"].items():
        label = {"store": "store findings"}.get(phase, phase)
        print(f"  {label:<40} {seconds:8.2f} s")
    print(f"  {'evaluation (wall)':<40} {f['evaluate']:8.2f} s")
    print(f"  {'total':<40} {f['total']:8.2f} s")
    sha = f"  sha256 {f['sha256']}" if f["sha256"] else ""
    print(f"  {'findings':<40} {f['findings']:8,}{sha}")
    print(
        f"  {'peak RSS, all processes':<40} {_mb(size.run.peak):>10}"
        f"  ({size.run.processes} process(es))"
    )
    ratio = f["total"] / max(size.floor.figures["seconds"], 1e-9)
    print(
        f"  {'floor (stdlib read + parse)':<40} {size.floor.figures['seconds']:8.2f} s, "
        f"{_mb(size.floor.peak)}; pipeline / floor: {ratio:.1f}x time, "
        f"{size.run.peak / max(size.floor.peak, 1):.1f}x memory",
        flush=True,
    )


def print_summary(results: list[Size], kind: str) -> None:
    if not results:
        return
    head = "".join(f"{r.people:>12,}" for r in results)
    print(f"\nsummary ({kind}){'':<26}{head}")

    def row(label: str, values: list[str]) -> None:
        print(f"  {label:<38}" + "".join(f"{v:>12}" for v in values))

    row("start-up: imports, config, policy (s)", [f"{r.run.figures['setup']:.1f}" for r in results])
    read = [sum(r.run.figures["read"].values()) for r in results]
    row("collect: read + parse (s)", [f"{v:.1f}" for v in read])
    row("store snapshots (s)", [f"{sum(r.run.figures['store'].values()):.1f}" for r in results])
    phases = list(dict.fromkeys(p for r in results for p in r.run.figures["evaluation"]))
    for phase in phases:
        label = {"store": "store findings"}.get(phase, phase)
        row(f"{label} (s)", [f"{r.run.figures['evaluation'].get(phase, 0.0):.1f}" for r in results])
    row("evaluation (s)", [f"{r.run.figures['evaluate']:.1f}" for r in results])
    row("total (s)", [f"{r.run.figures['total']:.1f}" for r in results])
    row("findings", [f"{r.run.figures['findings']:,}" for r in results])
    row("peak RSS, all processes", [_mb(r.run.peak) for r in results])
    row("floor (s)", [f"{r.floor.figures['seconds']:.1f}" for r in results])
    row("floor peak RSS", [_mb(r.floor.peak) for r in results])
    row(
        "pipeline / floor (time)",
        [f"{r.run.figures['total'] / max(r.floor.figures['seconds'], 1e-9):.1f}x" for r in results],
    )
    per = [r.run.figures["total"] / r.people * 1e3 for r in results]
    row("ms per person", [f"{v:.2f}" for v in per])
    if len(results) > 1:
        steps = ", ".join(
            f"{b.people // 1000 or b.people}k/{a.people // 1000 or a.people}k {pb / pa:.2f}"
            for a, b, pa, pb in zip(results, results[1:], per, per[1:], strict=False)
        )
        print(
            f"  linearity: time per person, each size over the one before: {steps} (1.00 = linear)"
        )
    targets(results, kind)


def targets(results: list[Size], kind: str) -> None:
    at = [r for r in results if r.people == TARGET_PEOPLE]
    if not at:
        print(f"  targets: for {TARGET_PEOPLE:,} people, not in this run")
        return
    f, peak = at[0].run.figures, at[0].run.peak
    checks = [
        (
            f"total ≤ {TARGET_TOTAL[kind]:.0f} s ({kind})",
            f"{f['total']:.1f} s",
            f["total"] <= TARGET_TOTAL[kind],
        ),
        (
            f"peak RSS ≤ {TARGET_PEAK_BYTES / 1e9:.1f} GB",
            f"{peak / 1e9:.2f} GB",
            peak <= TARGET_PEAK_BYTES,
        ),
        (
            f"evaluation ≤ {TARGET_EVALUATION:.0f} s",
            f"{f['evaluate']:.1f} s",
            f["evaluate"] <= TARGET_EVALUATION,
        ),
    ]
    print(f"  targets at {TARGET_PEOPLE:,} people:")
    for what, measured, met in checks:
        print(f"    {what:<30} {measured:>10}  {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
