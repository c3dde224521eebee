"""Progress of long work: Rich's display on a terminal, a plain timestamped line per system and
phase elsewhere (cron), rate-limit waits with when they end, nothing on standard output and
nothing at all in library use."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from iam_gov import progress
from iam_gov.store import Store
from iam_gov.store.snapshots import latest_snapshots
from tests.support.okta_server import TOKEN, OktaServer, example_org

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "samples" / "demo"
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
TOKEN_ENV = "IAM_GOV_TEST_OKTA_TOKEN"


def cli_env() -> dict[str, str]:
    """The environment of a CLI run: the Okta token, no proxy, nothing that steers Rich."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IAM_GOV_")}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_COLOR",
                 "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES",
                 "OKTA_TESTING_TESTINGDISABLEHTTPSCHECK"):  # fmt: skip
        env.pop(name, None)
    env[TOKEN_ENV] = TOKEN
    env["TERM"] = "xterm-256color"
    return env


def iam_gov(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command with standard output and error on pipes (not a terminal: cron)."""
    return subprocess.run(
        [sys.executable, "-m", "iam_gov", *args],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
        check=False,
    )


def iam_gov_on_a_terminal(*args: str) -> tuple[int, bytes, bytes]:
    """The real command with standard error on a pseudo-terminal (what a person at the
    keyboard sees of it) and standard output on a pipe: (exit code, terminal, output)."""
    master, slave = pty.openpty()
    os.set_inheritable(slave, False)
    env = {**cli_env(), "COLUMNS": "200"}
    child = subprocess.Popen(
        [sys.executable, "-m", "iam_gov", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    assert child.stdout is not None
    seen, out = bytearray(), bytearray()
    streams = {master: seen, child.stdout.fileno(): out}
    deadline = time.monotonic() + 120
    while streams and time.monotonic() < deadline:
        ready, _, _ = select.select(list(streams), [], [], 1.0)
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # the terminal's other end closed (Linux: EIO)
                data = b""
            if data:
                streams[fd].extend(data)
            else:
                del streams[fd]
    code = child.wait(timeout=10)
    os.close(master)
    child.stdout.close()
    return code, bytes(seen), bytes(out)


def shown(terminal: bytes) -> str:
    """The terminal's bytes without colours and cursor moves: the words on screen."""
    text = terminal.decode("utf-8", "replace")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "\n")


# --- a live Okta for the command ---------------------------------------------------------------


@pytest.fixture(scope="module")
def okta() -> Iterator[OktaServer]:
    # max_page 3: several pages per list, so that the count of pages means something
    with OktaServer(example_org(), max_page=3) as server:
        yield server


def okta_config(folder: Path, server: OktaServer, name: str = "okta") -> Path:
    (folder / "policy.yaml").write_text("{}\n", encoding="utf-8")
    config = folder / "iam-gov.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{folder / "iam-gov.db"}"\n\n[policy]\npath = "policy.yaml"\n\n'
        f'[systems."{name}"]\ntype = "okta"\nmode = "live"\norg_url = "{server.url}"\n'
        f'allow_http = true\napi_token = {{ env = "{TOKEN_ENV}" }}\n',
        encoding="utf-8",
    )
    return config


def test_a_terminal_shows_each_system_with_its_items_and_pages(
    okta: OktaServer, tmp_path: Path
) -> None:
    """`collect` with standard error on a terminal: Rich's live display (redrawn in place)
    names the system with the items and pages it read, and its outcome; standard output has
    the same table as ever and no trace of the display."""
    config = okta_config(tmp_path, okta)
    before = len(okta.seen)

    code, terminal, out = iam_gov_on_a_terminal("--config", str(config), "collect")

    assert code == 0, shown(terminal) + out.decode()
    assert b"\r" in terminal and b"\x1b[" in terminal  # drawn in place, in colour
    words = shown(terminal)
    answered = [s for s in okta.seen[before:] if s.method == "GET" and s.status == 200]
    last = [line for line in words.splitlines() if line.lstrip().startswith("• okta")][-1]
    found = re.search(r"• okta .* ([\d,]+) items in ([\d,]+) pages · stored (\d+) accounts", last)
    assert found, words
    assert int(found[2].replace(",", "")) == len(answered) > 3  # a page: an answer read
    with Store.open(f"sqlite:///{tmp_path / 'iam-gov.db'}") as store, store.reading() as conn:
        stored = latest_snapshots(conn)["okta"].counts
    assert int(found[3]) == stored["accounts"]
    assert int(found[1].replace(",", "")) >= stored["accounts"] + stored["entitlements"]
    assert b"\x1b" not in out and b"items" not in out
    assert "okta" in out.decode() and "Collected" in out.decode()


def test_quiet_shows_no_progress_on_a_terminal(okta: OktaServer, tmp_path: Path) -> None:
    """`--quiet`: the command's output as it was before progress existed."""
    config = okta_config(tmp_path, okta)
    code, terminal, out = iam_gov_on_a_terminal("--config", str(config), "collect", "--quiet")
    assert code == 0, shown(terminal)
    # only the connector's own warning (plain http) remains: no display, no cursor moves
    assert b"\x1b[" not in terminal and b"items" not in terminal and b"okta " not in terminal
    assert shown(terminal).strip().startswith("okta: org_url http://")
    assert b"Collected" in out


def test_not_on_a_terminal_a_plain_line_per_system_and_phase(tmp_path: Path) -> None:
    """`run` on the demo with pipes (cron): one timestamped line as each system starts and
    one as it ends with the counts it stored and its seconds, one per evaluation phase; no
    carriage return, no ANSI code, nothing of it on standard output."""
    company = tmp_path / "samples" / "demo"
    shutil.copytree(DEMO, company)
    (tmp_path / ".demo").mkdir()

    ran = iam_gov("--config", str(company / "iam-gov.toml"), "run")

    assert ran.returncode == 1, ran.stderr  # the first run: every high finding is new
    assert "\r" not in ran.stderr and "\x1b" not in ran.stderr
    lines = ran.stderr.splitlines()
    assert all(re.match(f"{STAMP} ", line) for line in lines), lines
    words = [line.split(" ", 1)[1] for line in lines]
    db = tmp_path / ".demo" / "iam-gov.db"
    with Store.open(f"sqlite:///{db}") as store, store.reading() as conn:
        latest = latest_snapshots(conn)
    systems = list(latest)
    assert len(systems) == 7
    for name, info in latest.items():
        start = words.index(f"{name}: collecting")
        [end] = [w for w in words if w.startswith(f"{name}: stored ")]
        assert words.index(end) == start + 1  # one after the other, nothing between
        counts = ", ".join(
            f"{n:,} {what}" if n != 1 else f"1 {'person' if what == 'people' else what[:-1]}"
            for what, n in info.counts.items()
            if n
        )
        assert re.fullmatch(rf"{name}: stored {counts} in \d+\.\d s", end), end
    phases = [w for w in words if w.startswith("evaluation: ")]
    assert [p.split(" ")[1] for p in phases] == ["load", "rules", "store"]
    assert re.fullmatch(r"evaluation: rules \d+\.\d s: (\d+) findings, 0 rule\(s\) skipped",
                        phases[1])  # fmt: skip
    assert not re.search(f"{STAMP} ", ran.stdout)


def test_quiet_keeps_standard_error_empty(tmp_path: Path, okta: OktaServer) -> None:
    """`collect --quiet` in cron: nothing on standard error when all goes well, as before."""
    config = okta_config(tmp_path, okta)
    ran = iam_gov("--config", str(config), "collect", "--quiet")
    assert ran.returncode == 0, ran.stderr
    warning = f"okta: org_url {okta.url} is plain http"  # the connector's own, not progress
    assert [line for line in ran.stderr.splitlines() if not line.startswith(warning)] == []
    loud = iam_gov("--config", str(config), "collect")
    assert loud.stdout == ran.stdout  # standard output is the same with or without progress
    logged = [line for line in loud.stderr.splitlines() if not line.startswith(warning)]
    assert re.fullmatch(f"{STAMP} okta: collecting", logged[0])
    stored = (
        rf"{STAMP} okta: stored [\d,]+ accounts.* in \d+\.\d s \([\d,]+ items in [\d,]+ pages\)"
    )
    assert re.fullmatch(stored, logged[1]), logged
    assert len(logged) == 2


def test_a_failed_system_is_one_end_line_with_its_reason(tmp_path: Path) -> None:
    """A system that cannot be read ends its progress with "not collected" and the reason,
    shown literally (a name that looks like markup stays as it is)."""
    (tmp_path / "policy.yaml").write_text("{}\n", encoding="utf-8")
    config = tmp_path / "iam-gov.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "iam-gov.db"}"\n\n'
        '[policy]\npath = "policy.yaml"\n\n[systems.hr]\ntype = "hr"\n'
        'path = "gone/[bold]x[/bold].csv"\npreset = "workday"\n',
        encoding="utf-8",
    )
    ran = iam_gov("--config", str(config), "collect")
    assert ran.returncode == 5
    [started, ended] = [line for line in ran.stderr.splitlines() if re.match(STAMP, line)]
    assert started.endswith(" hr: collecting")
    assert re.search(r" hr: not collected after \d+\.\d s: .*gone/\[bold\]x\[/bold\]\.csv", ended)


# --- rate-limit waits ---------------------------------------------------------------------------


class Recorder(progress.Reporter):
    """What a display is told: each wait's end and reason, each task as it ends."""

    def __init__(self) -> None:
        self.waits: list[tuple[str, datetime, str]] = []
        self.finished_tasks: list[progress.Task] = []

    def waiting(self, task: progress.Task) -> None:
        assert task.waiting_until is not None
        self.waits.append((task.name, task.waiting_until, task.waiting_why))

    def finished(self, task: progress.Task) -> None:
        self.finished_tasks.append(task)


@pytest.fixture
def okta_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.delenv("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


def okta_connector(server: OktaServer) -> object:
    from iam_gov.connectors.okta.connector import OktaConnector, OktaOptions

    options = OktaOptions.model_validate(
        {"type": "okta", "mode": "live", "org_url": server.url, "allow_http": True,
         "api_token": {"env": TOKEN_ENV}}
    )  # fmt: skip
    return OktaConnector("okta", options)


def test_a_rate_limit_wait_is_reported_with_when_it_ends(okta_token: None) -> None:
    """Okta answers 429 with ``X-Rate-Limit-Reset``: the wait is reported once, for the
    system at work, resuming at that reset second (on Okta's clock, a second at most later
    on ours), and its end line counts it."""
    log = io.StringIO()
    recorder = Recorder()

    class Both(progress.LineLog):
        def waiting(self, task: progress.Task) -> None:
            recorder.waiting(task)

    with OktaServer(example_org()) as server:
        reset = server.exhaust("/api/v1/groups", reset_in=3)
        with progress.use(Both(log)), progress.system("okta") as task:
            snapshot = okta_connector(server).collect()  # type: ignore[attr-defined]
            task.done("stored")
        assert server.throttled == 1

    assert snapshot.complete, snapshot.errors
    [(name, until, why)] = recorder.waits
    assert name == "okta" and "rate limit" in why and "/api/v1/groups" in why
    assert reset - 0.05 <= until.timestamp() <= reset + 1.05
    assert task.waits == 1
    end = log.getvalue().splitlines()[-1]
    assert re.fullmatch(rf"{STAMP} okta: stored in \d+\.\d s \([\d,]+ items in \d+ pages, 1 "
                        r"rate-limit wait\)", end), end  # fmt: skip


def test_the_terminal_shows_the_wait_and_when_it_resumes() -> None:
    """While a system waits, its line on the terminal says why and the time it resumes, and
    a name or reason that looks like markup is shown as it is, control characters escaped."""
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=200, color_system=None)
    display = progress.RichDisplay(console)
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=90)
    with progress.use(display), progress.system("[red]okta[/red]\x1b[2J"):
        progress.page(200)
        progress.waiting(until, "Okta's [bold]rate limit[/bold]")
        display._progress.refresh()
        words = screen.getvalue()
    assert f"resumes {until:%H:%M:%S} UTC (in " in words
    assert "Okta's [bold]rate limit[/bold]" in words
    assert "[red]okta[/red]\\x1b[2J" in words
    assert "200 items in 1 page" in words
    assert "\x1b[2J" not in words


# --- the reporter found through the context -------------------------------------------------------


def test_without_a_reporter_nothing_is_counted() -> None:
    """Library use and tests: the reporting calls do nothing and cost nothing to set up."""
    assert not progress.active()
    with progress.system("okta") as task:
        progress.items(5)
        progress.page(3)
        progress.waiting(progress.after(10), "rate limit")
    assert (task.items, task.pages, task.waits) == (0, 0, 0)


def test_work_in_a_thread_counts_for_its_system_when_carried() -> None:
    """A thread pool's work counts for the system that started it when the function is
    ``carried`` (it takes the context along); a bare thread has no reporter."""
    recorder = Recorder()
    with progress.use(recorder), progress.system("aws"):
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(progress.carried(progress.items), [1, 2, 3]))
            list(pool.map(progress.items, [100]))
        bare = threading.Thread(target=progress.items, args=(1000,))
        bare.start()
        bare.join()
    [task] = recorder.finished_tasks
    assert task.items == 6


def test_counting_reports_each_value_as_it_is_consumed_and_a_total() -> None:
    """An AWS Organization knows its account count: items of a total, as each arrives."""
    recorder = Recorder()
    seen: list[int] = []
    with progress.use(recorder), progress.system("aws") as task:
        progress.total(3, "accounts")
        for value in progress.counting([10, 20, 30]):
            seen.append(task.items)
            assert value
    assert seen == [0, 1, 2]
    assert task.counts_words() == "3 accounts of 3"


def test_a_long_system_says_every_heartbeat_that_it_is_still_moving() -> None:
    """The plain log of a system that takes hours is not silent in between: a line every
    heartbeat with what it has read so far."""
    log = io.StringIO()
    with progress.use(progress.LineLog(log, heartbeat=0.0)), progress.system("okta"):
        progress.page(200)
    lines = log.getvalue().splitlines()
    assert re.fullmatch(rf"{STAMP} okta: still collecting, 200 items in 1 page so far, \d+ s",
                        lines[1])  # fmt: skip
    assert len(lines) == 3


def test_an_error_ends_the_task_as_stopped() -> None:
    """A bug inside a system's collect still ends its progress line, saying so."""
    log = io.StringIO()
    with (
        pytest.raises(ZeroDivisionError),
        progress.use(progress.LineLog(log)),
        progress.system("okta"),
    ):
        _ = 1 / 0
    assert re.search(r"okta: not collected after \d+\.\d s: stopped: ZeroDivisionError$",
                     log.getvalue().strip())  # fmt: skip


def test_a_phase_inside_a_system_is_its_step_not_a_line() -> None:
    """A system's step (the LDAP search it is at, storing) is shown on the terminal, not
    logged: the log stays at two lines per system."""
    log = io.StringIO()
    steps: list[str] = []
    with progress.use(progress.LineLog(log)), progress.system("ad") as task:
        with progress.phase("users"):
            steps.append(task.step)
        steps.append(task.step)
    assert steps == ["users", ""]
    assert len(log.getvalue().splitlines()) == 2


def test_graph_throttling_is_a_wait_until_retry_after(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Graph answers 429 with ``Retry-After: 7``: the wait is reported as ending seven seconds
    after it began, and every list page read counts with its records."""
    from tests.support.graph_server import CLIENT_SECRET, Fault, running_server
    from tests.support.graph_tenant import SECRET_ENV, demo_tenant, live_connector

    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    recorder = Recorder()
    for graph in running_server(tmp_path_factory):
        graph.reset(demo_tenant())
        graph.page_size = 2
        graph.faults.append(
            Fault("GET", "/users", 429, skip=1, headers={"Retry-After": "7"}, query="skiptoken")
        )
        began = datetime.now(UTC)
        with progress.use(recorder), progress.system("entra") as task:
            snapshot = live_connector(graph, waits=[], token_provider=graph.issue_token).collect()
        ended = datetime.now(UTC)
        answered = [r for r in graph.graph_requests() if r.status == 200]
    assert snapshot.complete
    [(name, until, why)] = recorder.waits
    assert name == "entra" and why == "HTTP 429 from Graph"
    assert began + timedelta(seconds=7) <= until <= ended + timedelta(seconds=7)
    assert task.waits == 1
    assert task.pages == len(answered) and task.items >= len(snapshot.accounts)
