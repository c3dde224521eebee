"""Crash runs: start iam-gov work in a child process and kill it with SIGKILL at a random moment.

``kill_at_random`` starts a child (the ``iam-gov`` CLI itself, or the small driver below that
calls the real functions and prints an ``ack`` line after each call returned, that is after its
transaction committed), reads its standard output as it comes, and sends SIGKILL after a delay
drawn by the caller's seeded ``random.Random``, counted from the child's ``ready`` line (after
its imports) or from its start. What the child printed before the kill is kept: an ``ack`` line
read here was written after a commit, so that work must be in the store.

The checks every crash run ends with are here too: ``integrity_check`` (SQLite's
``PRAGMA integrity_check``), ``chain_ok`` (``audit.verify`` over the whole log) and the snapshot
row counts a half-stored snapshot would show (``snapshot_rows``).

The driver (``python -m tests.support.crash decide|deprovision …``):

- ``decide URL CAMPAIGN REVIEWER FIRST LAST``: one ``decide`` call per item, in order, the
  decision chosen by the item's number (``decision_of``); ``ack ITEM DECISION`` after each.
- ``deprovision URL CONFIG PLAN [--resume]``: the executor on a saved plan, verification off;
  ``ack STEP OUTCOME`` after each step is recorded, ``finished STATUS`` at the end.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

READY = "ready"
ACK = "ack"
DECISIONS = ("approve", "revoke", "abstain")
SNAPSHOT_TABLES = ("people", "accounts", "credentials", "entitlements", "grants", "documents")
ROOT = Path(__file__).resolve().parent.parent.parent


def decision_of(item_id: int) -> str:
    """The decision the driver makes on an item: the same in every run, so runs compare."""
    return DECISIONS[item_id % len(DECISIONS)]


@dataclass
class Crash:
    """One child run, killed or not, and what it printed before it ended."""

    lines: list[str]
    """Standard output lines, in order, up to the kill."""
    killed: bool
    """SIGKILL was sent while the child still ran (False: it ended before the delay)."""
    returncode: int
    delay: float
    """The drawn delay (seconds after ``ready``, or after the start)."""
    elapsed: float
    """Seconds from the child's start to its end."""
    stderr: str = ""
    ready_at: float | None = None
    """Seconds from the child's start to its ``ready`` line, if it printed one."""
    times: list[float] = field(default_factory=list)
    """Seconds from the child's start to each line of ``lines``."""

    @property
    def working(self) -> float:
        """Seconds from ``ready`` (else the start) to the last line (else the end): the
        window kills are drawn in."""
        end = self.times[-1] if self.times and self.ready_at is not None else self.elapsed
        return end - (self.ready_at or 0.0)

    def acks(self) -> list[list[str]]:
        """The fields after ``ack`` of every acknowledgement line."""
        return [line.split()[1:] for line in self.lines if line.split()[:1] == [ACK]]

    @property
    def ready(self) -> bool:
        return READY in self.lines


@dataclass
class Tally:
    """Where the kills of a series of crash runs landed: a label per run, counted."""

    runs: int = 0
    killed: int = 0
    landed: dict[str, int] = field(default_factory=dict)

    def add(self, crash: Crash, where: str) -> None:
        self.runs += 1
        self.killed += crash.killed
        label = where if crash.killed else "finished before the kill"
        self.landed[label] = self.landed.get(label, 0) + 1

    def distribution(self) -> str:
        return ", ".join(f"{label}: {n}" for label, n in sorted(self.landed.items()))


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child: this one, the repository importable, no configuration or
    store of the machine's own, plus ``extra``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100", "PYTHONUNBUFFERED": "1"}
    for name in ("IAM_GOV_CONFIG", "IAM_GOV_DATABASE_URL"):
        env.pop(name, None)
    env.update(extra or {})
    return env


def kill_at_random(
    argv: Sequence[str],
    rng: random.Random,
    window: float,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    after_ready: bool = True,
    timeout: float = 300.0,
) -> Crash:
    """Run ``argv`` and SIGKILL it ``rng.uniform(0, window)`` seconds after its ``ready`` line
    (``after_ready``) or its start; a child that ends first is left to end."""
    delay = rng.uniform(0.0, window)
    return run_child(
        argv, kill_after=delay, env=env, cwd=cwd, after_ready=after_ready, timeout=timeout
    )


def run_child(
    argv: Sequence[str],
    *,
    kill_after: float | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    after_ready: bool = True,
    timeout: float = 300.0,
) -> Crash:
    """Run ``argv`` to its end, or SIGKILL it ``kill_after`` seconds (after ``ready``, or after
    the start); every line it printed before is returned."""
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else child_env(),
        cwd=cwd,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[str] = []
    errors: list[str] = []
    ready = threading.Event()
    ready_at: list[float] = []
    times: list[float] = []

    def read_out() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            times.append(time.monotonic() - started)
            if line.strip() == READY:
                ready_at.append(time.monotonic() - started)
                ready.set()
        ready.set()  # ended without ``ready``: nothing left to wait for

    def read_err() -> None:
        assert proc.stderr is not None
        errors.append(proc.stderr.read())

    readers = [threading.Thread(target=read_out), threading.Thread(target=read_err)]
    for reader in readers:
        reader.start()
    killed = False
    try:
        if kill_after is not None:
            if after_ready and not ready.wait(timeout):
                raise TimeoutError(f"{argv[:4]}: no {READY!r} line in {timeout:g} s")
            try:
                proc.wait(timeout=kill_after)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        for reader in readers:
            reader.join()
    return Crash(
        lines=lines,
        killed=killed,
        returncode=proc.returncode,
        delay=kill_after or 0.0,
        elapsed=time.monotonic() - started,
        stderr="".join(errors),
        ready_at=ready_at[0] if ready_at else None,
        times=times,
    )


def iam_gov_argv(*args: str) -> list[str]:
    """The ``iam-gov`` command, as this interpreter runs it."""
    return [sys.executable, "-m", "iam_gov", *args]


def driver_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "tests.support.crash", *args]


# --- the checks after a kill --------------------------------------------------------------


def integrity_check(db: Path) -> str:
    """SQLite's own check of the file (``ok`` when whole), WAL included."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    return "; ".join(str(row[0]) for row in rows)


def chain_ok(url: str) -> str | None:
    """The audit chain verified end to end: None when intact, else the problem."""
    from iam_gov import audit
    from iam_gov.store import Store

    with Store.open(url, create=False) as store, store.reading() as conn:
        result = audit.verify(conn)
    return None if result.ok else result.problem


def snapshot_rows(db: Path) -> dict[int, tuple[str, dict[str, int]]]:
    """Snapshot id -> (system, rows per table) as stored."""
    with sqlite3.connect(db) as conn:
        found: dict[int, tuple[str, dict[str, int]]] = {
            sid: (system, {}) for sid, system in conn.execute("SELECT id, system FROM snapshots")
        }
        for table in SNAPSHOT_TABLES:
            query = f"SELECT snapshot_id, count(*) FROM {table} GROUP BY snapshot_id"  # noqa: S608
            for sid, count in conn.execute(query):
                found.setdefault(sid, ("?", {}))[1][table] = count
    for _, counts in found.values():
        for table in SNAPSHOT_TABLES:
            counts.setdefault(table, 0)
    return found


def copy_store(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite store (SQLite's backup, WAL pages included); whatever
    was at ``target`` (and its WAL) is replaced."""
    for side in ("-wal", "-shm"):
        target.with_name(target.name + side).unlink(missing_ok=True)
    target.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    target.chmod(0o600)


# --- the scenarios: a clean run, then crash runs checked against it ------------------------


@dataclass
class Outcome:
    """What one crash run left, checked: every list empty and every count equal is a pass."""

    crash: Crash
    where: str
    """Where the kill landed, in the scenario's words."""
    integrity: str = "ok"
    chain: str | None = None
    """The audit chain's problem, None when it verifies."""
    acknowledged: int = 0
    present: int = 0
    """Of the acknowledged calls (decisions, steps), how many the store has."""
    repeated_writes: list[str] = field(default_factory=list)
    """External writes made again after a crash although their effect was already there."""
    reissued: list[str] = field(default_factory=list)
    """Writes made again that have no state to read first (Okta sessions), idempotent."""
    problems: list[str] = field(default_factory=list)
    """Any other promise broken: a half snapshot, a failed re-run, a final state unlike a
    clean run's."""

    @property
    def ok(self) -> bool:
        return (
            self.integrity == "ok"
            and self.chain is None
            and self.present == self.acknowledged
            and not self.repeated_writes
            and not self.problems
        )


def cli_verify(url: str) -> str | None:
    """``iam-gov audit verify`` on the store: None when it exits 0, else what it said."""
    done = subprocess.run(
        iam_gov_argv("audit", "verify"),
        env=child_env({"IAM_GOV_DATABASE_URL": url}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return None if done.returncode == 0 else f"exit {done.returncode}: {done.stderr.strip()}"


def _checked(outcome: Outcome, db: Path, url: str, *, cli: bool) -> None:
    outcome.integrity = integrity_check(db)
    outcome.chain = cli_verify(url) if cli else chain_ok(url)


class DecideScenario:
    """A campaign of ``items`` items for one reviewer; the driver decides them one by one."""

    reviewer = "rita.reviewer@example.com"

    def __init__(self, root: Path, items: int) -> None:
        from iam_gov.store import Store
        from tests.campaigns.seed import seed_campaign

        self.root, self.items = root, items
        self.template = root / "template.db"
        with Store.open(f"sqlite:///{self.template}") as store:
            self.campaign_id = seed_campaign(
                store, [{"reviewer": self.reviewer} for _ in range(items)]
            )
        clean = self._run(root / "clean", None)
        if clean.crash.returncode != 0 or clean.present != items:
            raise AssertionError(f"the clean run failed: {clean.crash.stderr[-2000:]}")
        self.window = clean.crash.working
        self.runs = 0

    def _argv(self, url: str, first: int) -> list[str]:
        return driver_argv(
            "decide", url, str(self.campaign_id), self.reviewer, str(first), str(self.items)
        )

    def _run(self, folder: Path, rng: random.Random | None, *, cli: bool = False) -> Outcome:
        db = folder / "iam-gov.db"
        url = f"sqlite:///{db}"
        copy_store(self.template, db)
        if rng is None:
            crash = run_child(self._argv(url, 1))
        else:
            crash = kill_at_random(self._argv(url, 1), rng, self.window)
        acks = crash.acks()
        decided = self._decided(db)
        tenth = min(9, len(acks) * 10 // self.items)
        where = (
            "after every decision"
            if len(acks) == self.items
            else f"within decisions {tenth * 10}-{tenth * 10 + 10}%"
        )
        outcome = Outcome(crash, where)
        _checked(outcome, db, url, cli=cli)
        outcome.acknowledged = len(acks)
        outcome.present = sum(1 for item, d in acks if decided.get(int(item)) == d)
        k = len(decided)
        if sorted(decided) != list(range(1, k + 1)):
            outcome.problems.append(f"the decided items are not 1..{k}: {sorted(decided)[:20]}")
        if not len(acks) <= k <= len(acks) + 1:  # one call may commit before its ack is out
            outcome.problems.append(f"{k} items decided, {len(acks)} acknowledged")
        outcome.problems += self._consistency(db, k)
        if k < self.items:  # the same work again, for what is left: it finishes
            try:
                decide_items(url, self.campaign_id, self.reviewer, k + 1, self.items, _quiet)
            except Exception as exc:  # noqa: BLE001 -- a failed re-run is a finding
                outcome.problems.append(f"the re-run failed: {type(exc).__name__}: {exc}")
        if len(self._decided(db)) != self.items:
            outcome.problems.append("after the re-run, not every item is decided")
        outcome.problems += self._consistency(db, self.items)
        if chain_ok(url) is not None:
            outcome.problems.append(f"after the re-run: {chain_ok(url)}")
        return outcome

    def _decided(self, db: Path) -> dict[int, str]:
        with sqlite3.connect(db) as conn:
            rows = conn.execute(
                "SELECT item_id, decision, version FROM campaign_items "
                "WHERE campaign_id = ? AND decision IS NOT NULL",
                (self.campaign_id,),
            ).fetchall()
        return {item: decision for item, decision, _ in rows}

    def _consistency(self, db: Path, decided: int) -> list[str]:
        """Each decision with its one history row, at version 1, and its one audit record."""
        with sqlite3.connect(db) as conn:
            history = conn.execute(
                "SELECT count(*), count(DISTINCT item_id) FROM campaign_history "
                "WHERE action = 'decide'"
            ).fetchone()
            audited = conn.execute(
                "SELECT count(*) FROM audit_log WHERE action = 'campaign.decide'"
            ).fetchone()[0]
            wrong = conn.execute(
                "SELECT count(*) FROM campaign_items WHERE decision IS NOT NULL AND "
                "(version != 1 OR comment IS NULL OR decided_by IS NULL)"
            ).fetchone()[0]
        problems = []
        if tuple(history) != (decided, decided):
            problems.append(f"{decided} decided, history rows (all, items) {tuple(history)}")
        if audited != decided:
            problems.append(f"{decided} decided, {audited} campaign.decide audit records")
        if wrong:
            problems.append(f"{wrong} decided items written in part")
        return problems

    def crash_run(self, rng: random.Random, *, cli: bool = False) -> Outcome:
        self.runs += 1
        return self._run(self.root / f"run-{self.runs}", rng, cli=cli)


class CollectScenario:
    """A generated company collected once (the store every run starts from: its previous
    snapshots), then ``iam-gov collect`` again, killed."""

    def __init__(self, root: Path, people: int, seed: int = 5) -> None:
        from iam_gov.collect import collect_each
        from iam_gov.config import load_config
        from iam_gov.samplegen import generate
        from iam_gov.store import Store
        from tests.support.world import AS_OF

        self.root = root
        self.company = root / "company"
        generate(self.company, people=people, seed=seed, as_of=AS_OF)
        self.config = self.company / "iam-gov.toml"
        self.template = root / "template.db"
        with Store.open(f"sqlite:///{self.template}") as store:  # the earlier collect
            first = collect_each(load_config(self.config), store)
        if not first.ok:
            raise AssertionError(f"the first collect failed: {first.problem_lines()[:5]}")
        self.counts = {system: counts for system, counts in snapshot_rows(self.template).values()}
        self.systems = len(self.counts)
        clean_db = root / "clean.db"
        copy_store(self.template, clean_db)
        clean = self._collect(clean_db, None)
        if clean.returncode not in (0, 4):
            raise AssertionError(f"the clean collect failed: {clean.stderr[-2000:]}")
        self.exit_code = clean.returncode
        self.window = clean.elapsed
        self.runs = 0

    def _collect(self, db: Path, rng: random.Random | None) -> Crash:
        argv = iam_gov_argv("--config", str(self.config), "collect")
        env = child_env({"IAM_GOV_DATABASE_URL": f"sqlite:///{db}"})
        if rng is None:
            return run_child(argv, env=env, cwd=self.root)
        return kill_at_random(argv, rng, self.window, env=env, cwd=self.root, after_ready=False)

    def crash_run(self, rng: random.Random, *, cli: bool = False) -> Outcome:
        from iam_gov.collect import collect_each
        from iam_gov.config import load_config
        from iam_gov.store import Store

        self.runs += 1
        db = self.root / f"run-{self.runs}" / "iam-gov.db"
        url = f"sqlite:///{db}"
        copy_store(self.template, db)
        crash = self._collect(db, rng)
        stored = snapshot_rows(db)
        new = len(stored) - self.systems
        outcome = Outcome(crash, f"after {new} of {self.systems} systems stored")
        _checked(outcome, db, url, cli=cli)
        outcome.problems += self._whole(db, stored)
        if not crash.killed and crash.returncode != self.exit_code:
            outcome.problems.append(f"collect exited {crash.returncode}: {crash.stderr[-500:]}")
        with Store.open(url, create=False) as store:  # a re-run succeeds and stores them all
            result = collect_each(load_config(self.config), store)
        if not result.ok:
            outcome.problems.append(f"the re-run failed: {result.problem_lines()[:3]}")
        again = snapshot_rows(db)
        if len(again) != len(stored) + self.systems:
            outcome.problems.append(f"the re-run stored {len(again) - len(stored)} snapshots")
        outcome.problems += self._whole(db, again)
        problem = chain_ok(url)
        if problem is not None:
            outcome.problems.append(f"after the re-run: {problem}")
        return outcome

    def _whole(self, db: Path, stored: Mapping[int, tuple[str, dict[str, int]]]) -> list[str]:
        """Every snapshot has all the rows a clean collect stores for its system, and one
        ``collect`` audit record; none is there in part."""
        problems = [
            f"snapshot #{sid} ({system}) is half there: {counts} rows, a whole one has "
            f"{self.counts.get(system)}"
            for sid, (system, counts) in sorted(stored.items())
            if counts != self.counts.get(system)
        ]
        with sqlite3.connect(db) as conn:
            audited = sorted(
                row[0]
                for row in conn.execute(
                    "SELECT json_extract(details, '$.snapshot_id') FROM audit_log "
                    "WHERE action = 'collect'"
                )
            )
        if audited != sorted(stored):
            problems.append(f"snapshots {sorted(stored)} but collect records of {audited}")
        return problems


OKTA_LEAVERS = 3
"""People HR shows gone who still have Okta: each with three groups and an app of their own."""
OKTA_GROUPS = ("Engineering", "On-call", "Finance Reports")


def okta_org() -> Any:
    """The Okta org of the deprovisioning runs, the same ids every time it is made."""
    from tests.support.okta_server import Org

    org = Org()
    people = [
        org.add_user(f"{login}@crash.example", first=login, last="Crash", employee_number=eid)
        for eid, login, _ in okta_people()
    ]
    groups = [org.add_group(name) for name in OKTA_GROUPS]
    wiki = org.add_app("Wiki", "wiki")
    for user in people:
        org.add_member(groups[0], user)
        org.add_member(groups[1], user)
    org.add_member(groups[2], *people[:OKTA_LEAVERS])
    org.assign_app(wiki, *people)
    return org


def okta_people() -> list[tuple[str, str, str]]:
    """(employee id, login, HR status): the leavers first, then two who stay."""
    leavers = [(f"E{200 + n}", f"leaver{n}", "terminated") for n in range(OKTA_LEAVERS)]
    return [*leavers, ("E300", "stayer0", "active"), ("E301", "stayer1", "active")]


def okta_state(server: Any) -> dict[str, Any]:
    """What the org holds of each user: status, groups, direct apps, sessions ended (yes/no)."""
    org = server.org
    with server.lock:
        return {
            user.login: (
                user.status,
                sorted(g.name for g in org.groups.values() if user.id in g.members),
                sorted(app.label for app in org.apps.values() if user.id in org.app_users(app)),
                bool(user.sessions_revoked),
            )
            for user in org.users.values()
        }


def okta_writes(server: Any) -> list[str]:
    """The writes the server carried out (not the reads, not the refused), in order."""
    with server.lock:
        return [f"{s.method} {s.path}" for s in server.seen if s.method != "GET" and s.status < 300]


@contextlib.contextmanager
def okta_token() -> Iterator[None]:
    """The local Okta's token in this process's environment, as the configuration names it."""
    from tests.support.okta_server import TOKEN

    previous = os.environ.get("OKTA_API_TOKEN")
    os.environ["OKTA_API_TOKEN"] = TOKEN
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("OKTA_API_TOKEN", None)
        else:
            os.environ["OKTA_API_TOKEN"] = previous


class DeprovisionScenario:
    """Leavers' Okta access ended by the executor against the local Okta server; HR a CSV.
    Every run gets a fresh server (the same org) and a copy of the store the plan was made
    from; a killed run is finished by the same command with ``--resume``."""

    def __init__(self, root: Path, *, clean: bool = True) -> None:
        from iam_gov.collect import collect
        from iam_gov.config import load_config
        from iam_gov.deprovision.plan import save_plan
        from iam_gov.deprovision.planner import Request, make_plan
        from iam_gov.evaluation import evaluate
        from iam_gov.policy import load_policy
        from iam_gov.rules import all_rules
        from iam_gov.store import Store
        from tests.support.okta_server import TOKEN

        self.root = root
        self.env = child_env({"OKTA_API_TOKEN": TOKEN})
        root.mkdir(parents=True, exist_ok=True)
        left = (date.today() - timedelta(days=14)).isoformat()
        rows = ["employee_id,email,name,department,title,employment_type,status,end_date"]
        rows += [
            f"{eid},{login}@crash.example,{login} Crash,Engineering,Staff,employee,{status},"
            f"{left if status == 'terminated' else ''}"
            for eid, login, status in okta_people()
        ]
        (root / "workers.csv").write_text("\n".join(rows) + "\n")
        (root / "policy.yaml").write_text("version: 1\n")
        self.template = root / "template.db"
        server = self.server()
        try:
            config_file = self.config_for(root, server.url)
            config = load_config(config_file)
            with okta_token(), Store.open(f"sqlite:///{self.template}") as store:
                collect(config, store)
                policy = load_policy(config.policy.path, rules=all_rules())
                evaluate(store, config, policy)
                who = [
                    f"{login}@crash.example" for _, login, s in okta_people() if s == "terminated"
                ]
                plan = make_plan(
                    store,
                    config,
                    policy,
                    Request(
                        who=who,
                        reason="left, crash run",
                        trigger="cli",
                        actor="crash@example.com",
                    ),
                )
        finally:
            server.stop()
        self.steps = len(plan.active_steps())
        if self.steps < OKTA_LEAVERS * 4:
            raise AssertionError(f"the plan has {self.steps} steps: {plan.problems}")
        self.plan = root / "plan.json"
        save_plan(plan, self.plan)
        self.runs = 0
        self.final: dict[str, Any] = {}
        self.clean_writes: list[str] = []
        self.window = 0.0
        if clean:  # the run crash runs are measured against: its final state, writes, time
            run = self._run(root / "clean", None)
            if not run.ok or run.crash.returncode != 0:
                raise AssertionError(f"the clean run failed: {run.problems} {run.crash.stderr}")
            self.window = run.crash.working

    def server(self) -> Any:
        from tests.support.okta_server import OktaServer

        return OktaServer(okta_org()).start()

    def config_for(self, folder: Path, url: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "iam-gov.toml"
        path.write_text(
            f"""\
[policy]
path = "{self.root / "policy.yaml"}"

[deprovision]
max_share = 1.0

[systems.hr]
type = "hr"
path = "{self.root / "workers.csv"}"

[systems.okta]
type = "okta"
mode = "live"
org_url = "{url}"
allow_http = true
api_token = {{env = "OKTA_API_TOKEN"}}
max_retries = 0
"""
        )
        return path

    def _argv(self, url: str, config: Path, *flags: str) -> list[str]:
        return driver_argv("deprovision", url, str(config), str(self.plan), *flags)

    def _run(self, folder: Path, rng: random.Random | None, *, cli: bool = False) -> Outcome:
        db = folder / "iam-gov.db"
        url = f"sqlite:///{db}"
        copy_store(self.template, db)
        server = self.server()
        try:
            config = self.config_for(folder, server.url)
            if rng is None:
                crash = run_child(self._argv(url, config), env=self.env)
            else:
                crash = kill_at_random(self._argv(url, config), rng, self.window, env=self.env)
            acks = crash.acks()
            outcome = Outcome(crash, self._where(db))
            _checked(outcome, db, url, cli=cli)
            recorded = self._recorded(db)
            outcome.acknowledged = len(acks)
            outcome.present = sum(1 for step, o in acks if (step, o) in recorded)
            outcome.where += self._applied_unrecorded(db, okta_writes(server))
            if crash.killed:  # the same work again, resuming: it finishes the plan
                with okta_token():
                    status = apply_plan(url, config, self.plan, resume=True, say=_quiet)
                if status != "done":
                    outcome.problems.append(f"the resumed run ended {status}")
            writes = okta_writes(server)
            state = okta_state(server)
        finally:
            server.stop()
        if rng is None:
            self.final, self.clean_writes = state, writes
            return outcome
        if state != self.final:
            outcome.problems.append(f"the final state differs from a clean run's: {state}")
        seen: set[str] = set()
        for write in writes:
            if write in seen:
                is_session = write.startswith("DELETE ") and write.endswith("/sessions")
                (outcome.reissued if is_session else outcome.repeated_writes).append(write)
            seen.add(write)
        if seen != set(self.clean_writes):
            outcome.problems.append(
                f"writes unlike a clean run's: {sorted(seen ^ set(self.clean_writes))}"
            )
        problem = chain_ok(url)
        if problem is not None:
            outcome.problems.append(f"after the resumed run: {problem}")
        return outcome

    def _applied_unrecorded(self, db: Path, writes: Sequence[str]) -> str:
        """``; applied, not recorded`` when the server carried out a write whose step the
        store does not have: the case a resumption must not repeat."""
        with sqlite3.connect(db) as conn:
            done = conn.execute(
                "SELECT count(*) FROM deprovision_steps WHERE outcome = 'done'"
            ).fetchone()[0]
        return "; applied by the server, not recorded" if len(writes) > done else ""

    def _recorded(self, db: Path) -> set[tuple[str, str]]:
        with sqlite3.connect(db) as conn:
            return {
                (step, outcome)
                for step, outcome in conn.execute("SELECT step_id, outcome FROM deprovision_steps")
            }

    def _where(self, db: Path) -> str:
        """How far the killed run got: steps recorded, and whether an action was under way
        (its intent audited, its outcome not recorded)."""
        with sqlite3.connect(db) as conn:
            intents = conn.execute(
                "SELECT count(*) FROM audit_log WHERE action = 'deprovision.intent'"
            ).fetchone()[0]
            started = conn.execute("SELECT count(*) FROM deprovision_runs").fetchone()[0]
            recorded = conn.execute("SELECT count(*) FROM deprovision_steps").fetchone()[0]
        if not started:
            return "before the run was recorded"
        if intents > recorded:
            return "during an action (intent audited, outcome not recorded)"
        return "between steps" if recorded < self.steps else "after the last step"

    def crash_run(self, rng: random.Random, *, cli: bool = False) -> Outcome:
        self.runs += 1
        return self._run(self.root / f"run-{self.runs}", rng, cli=cli)


# --- the driver -----------------------------------------------------------------------------


def _say(*fields: object) -> None:
    """One line in one write: a kill never leaves half an ``ack`` line."""
    sys.stdout.write(" ".join(str(f) for f in fields) + "\n")
    sys.stdout.flush()


def decide_items(
    url: str,
    campaign_id: int,
    reviewer_email: str,
    first: int,
    last: int,
    say: Callable[..., None] = _say,
) -> None:
    """The driver's work: one ``decide`` per item, ``ack`` after each returned."""
    from iam_gov.campaigns.decisions import decide
    from iam_gov.campaigns.reviewer import Reviewer
    from iam_gov.store import Store

    reviewer = Reviewer(email=reviewer_email, actor=reviewer_email, os_user="crash", admin=False)
    with Store.open(url, create=False) as store:
        say(READY)
        for item in range(first, last + 1):
            decision = decision_of(item)
            decide(store, campaign_id, [item], decision, reviewer, comment=f"crash run {item}")  # type: ignore[arg-type]
            say(ACK, item, decision)


def apply_plan(
    url: str, config_path: Path, plan_path: Path, *, resume: bool, say: Callable[..., None] = _say
) -> str:
    """The driver's work: the executor on the saved plan, ``ack`` after each step; the run's
    status."""
    from iam_gov.config import load_config
    from iam_gov.deprovision.executor import Executor
    from iam_gov.deprovision.outcome import StepResult
    from iam_gov.deprovision.plan import load_plan_file
    from iam_gov.policy import load_policy
    from iam_gov.rules import all_rules
    from iam_gov.store import Store

    config = load_config(config_path)
    policy = load_policy(config.policy.path, rules=all_rules())
    plan = load_plan_file(plan_path)

    def acked(done: StepResult) -> None:
        say(ACK, done.step.step_id, done.outcome)

    with Store.open(url, create=False) as store:
        executor = Executor(store, config, actor="crash@example.com", progress=acked, policy=policy)
        executor._connector(plan.steps[0].action.system)  # built before ``ready``: its imports
        say(READY)
        result = executor.apply(plan, resume=resume, verify=False)
    say("finished", result.status)
    return result.status


def _quiet(*_: object) -> None:
    pass


def main(argv: Sequence[str]) -> None:
    kind, *rest = argv
    if kind == "decide":
        url, campaign, reviewer, first, last = rest
        decide_items(url, int(campaign), reviewer, int(first), int(last))
    elif kind == "deprovision":
        url, config_path, plan_path, *flags = rest
        apply_plan(url, Path(config_path), Path(plan_path), resume="--resume" in flags)
    else:
        raise SystemExit(f"unknown driver {kind!r}: decide or deprovision")


if __name__ == "__main__":
    main(sys.argv[1:])
