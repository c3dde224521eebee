"""Progress of long work (a collect, an evaluation), reported by the code doing it and shown
by the reporter the command installed: Rich's live display on a terminal, one plain line per
system and phase otherwise (cron), nothing at all in library use and tests.

Connectors and the core call the module functions (``items``, ``page``, ``waiting``,
``phase`` …) without new parameters: the reporter and the task being worked on are found in
context variables. Work handed to another thread takes its context along (``carried``).
Rich is imported by the terminal display only, when it starts, to keep start-up fast.
"""

from __future__ import annotations

import contextvars
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, ParamSpec, TextIO, TypeVar

from iam_gov.textsafe import printable

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

HEARTBEAT_SECONDS = 600.0
"""How often the plain log says that a long system is still moving (items and pages so far)."""


@dataclass
class Task:
    """One system being collected, or one phase of an evaluation, as it goes."""

    kind: Literal["system", "phase"]
    name: str
    reporter: Reporter | None = field(default=None, repr=False)
    started: float = field(default_factory=time.monotonic)
    items: int = 0
    """Records read so far (users, entries, accounts of an organization …)."""
    pages: int = 0
    total: int | None = None
    """How many ``items`` there will be, where the system says (an AWS Organization's
    accounts); None where it does not (Okta, Graph, an LDAP paged search)."""
    unit: str = "items"
    step: str = ""
    """What a system is doing now: the search or list being read, storing."""
    waits: int = 0
    """Rate-limit (or retry) waits met so far."""
    waiting_until: datetime | None = None
    waiting_why: str = ""
    outcome: str | None = None
    """The words its end line says (set by ``done`` or ``failed``)."""
    ok: bool = True
    ended: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    logged: float = field(default_factory=time.monotonic, repr=False)
    """When the plain log last wrote of it."""

    @property
    def elapsed(self) -> float:
        return (self.ended if self.ended is not None else time.monotonic()) - self.started

    def done(self, words: str) -> None:
        """It ended well; ``words`` say with what (counts)."""
        self.outcome, self.ok = words, True

    def failed(self, words: str) -> None:
        """It ended without its result; ``words`` say why."""
        self.outcome, self.ok = words, False

    def counts_words(self) -> str:
        """``1,234 items in 56 pages, 2 rate-limit waits``: what it read, said plainly; empty
        when it reported nothing (an export read in one go)."""
        if not (self.items or self.pages or self.waits or self.total):
            return ""
        words = f"{self.items:,} {self.unit}" + (f" of {self.total:,}" if self.total else "")
        if self.pages:
            words += f" in {_count(self.pages, 'page')}"
        if self.waits:
            words += f", {_count(self.waits, 'rate-limit wait')}"
        return words


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}" if n == 1 else f"{n:,} {what}s"


class Reporter:
    """Shows tasks as they start, change and end. This one shows nothing."""

    def started(self, task: Task) -> None:
        """A system or a phase began."""

    def changed(self, task: Task) -> None:
        """Its counts changed (called often: keep it cheap)."""

    def waiting(self, task: Task) -> None:
        """It began to wait for a rate limit (``task.waiting_until``)."""

    def finished(self, task: Task) -> None:
        """It ended (``task.outcome``, ``task.ok``)."""

    def close(self) -> None:
        """The command's work is over: stop showing."""


_reporter: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar(
    "iam_gov_progress_reporter", default=None
)
_task: contextvars.ContextVar[Task | None] = contextvars.ContextVar(
    "iam_gov_progress_task", default=None
)


@contextmanager
def use(reporter: Reporter) -> Iterator[Reporter]:
    """Report to ``reporter`` within the block (and in what it hands to threads with
    ``carried``); closed at the end."""
    token = _reporter.set(reporter)
    try:
        yield reporter
    finally:
        _reporter.reset(token)
        reporter.close()


def active() -> bool:
    """Whether a reporter is installed: callers skip work done only to report."""
    return _reporter.get() is not None


@contextmanager
def system(name: str) -> Iterator[Task]:
    """One system's collect: what is reported inside counts for it."""
    with _running("system", name) as task:
        yield task


@contextmanager
def phase(name: str) -> Iterator[Task]:
    """A phase: within a system, the step it is at (shown, not logged); otherwise a phase of
    its own (an evaluation's load, rules, store), logged as it ends."""
    current = _task.get()
    if current is not None and current.kind == "system":
        previous = current.step
        current.step = name
        try:
            yield current
        finally:
            current.step = previous
        return
    with _running("phase", name) as task:
        yield task


@contextmanager
def _running(kind: Literal["system", "phase"], name: str) -> Iterator[Task]:
    reporter = _reporter.get()
    task = Task(kind, name, reporter)
    if reporter is None:
        yield task  # nothing to show; the caller may still set its outcome
        return
    token = _task.set(task)
    reporter.started(task)
    try:
        yield task
    except BaseException as exc:
        if task.outcome is None:
            task.failed(f"stopped: {type(exc).__name__}")
        raise
    finally:
        _task.reset(token)
        task.ended = time.monotonic()
        task.waiting_until = None
        reporter.finished(task)


def items(n: int = 1) -> None:
    """``n`` more records read by the system at work."""
    task = _task.get()
    if task is None or task.reporter is None:
        return
    with task.lock:
        task.items += n
        task.waiting_until = None
    task.reporter.changed(task)


def page(n_items: int = 0) -> None:
    """One more page (an HTTP answer of a list) with ``n_items`` records."""
    task = _task.get()
    if task is None or task.reporter is None:
        return
    with task.lock:
        task.pages += 1
        task.items += n_items
        task.waiting_until = None
    task.reporter.changed(task)


def total(n: int, unit: str = "items") -> None:
    """How many ``unit`` the system at work will read, when it knows (an AWS Organization)."""
    task = _task.get()
    if task is None or task.reporter is None:
        return
    with task.lock:
        task.total, task.unit = n, unit
    task.reporter.changed(task)


def after(seconds: float) -> datetime:
    """The moment ``seconds`` from now (UTC): when a wait of that long ends."""
    return datetime.now(UTC) + timedelta(seconds=max(seconds, 0.0))


def waiting(until: datetime, why: str) -> None:
    """The system at work waits until ``until`` (UTC) because ``why`` (a rate limit). The same
    wait reported again (several requests held by it) counts once; the next records read
    end it."""
    task = _task.get()
    if task is None or task.reporter is None:
        return
    with task.lock:
        same = (
            task.waiting_until is not None
            and abs((task.waiting_until - until).total_seconds()) < 1.0
        )
        task.waiting_until, task.waiting_why = until, why
        if not same:
            task.waits += 1
    if not same:
        task.reporter.waiting(task)


def counting(values: Iterable[T]) -> Iterator[T]:
    """Each of ``values``, one item reported as each comes (results collected in another
    thread and consumed in this one)."""
    for value in values:
        yield value
        items(1)


def carried(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` run with the context it was wrapped in (the reporter and the task), for a
    thread pool: threads do not inherit context variables."""
    context = contextvars.copy_context()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.copy().run(function, *args, **kwargs)

    return run


# --- the plain log: one line per system and phase -------------------------------------------


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LineLog(Reporter):
    """One line as each system starts and ends (with its counts and seconds), one per
    evaluation phase, a line every ``heartbeat`` seconds while a system is long at work:
    UTC timestamps, no carriage return, no colour. For cron and log files."""

    def __init__(self, stream: TextIO | None = None, *, heartbeat: float = HEARTBEAT_SECONDS):
        self._stream = stream
        self._heartbeat = heartbeat
        self._lock = threading.Lock()

    def _line(self, text: str) -> None:
        stream = self._stream if self._stream is not None else sys.stderr
        with self._lock:
            stream.write(f"{_stamp()} {printable(text)}\n")
            stream.flush()

    def started(self, task: Task) -> None:
        if task.kind == "system":
            self._line(f"{task.name}: collecting")

    def changed(self, task: Task) -> None:
        now = time.monotonic()
        if task.kind != "system" or now - task.logged < self._heartbeat:
            return
        task.logged = now
        self._line(
            f"{task.name}: still collecting, {task.counts_words()} so far, {task.elapsed:.0f} s"
        )

    def waiting(self, task: Task) -> None:
        self.changed(task)

    def finished(self, task: Task) -> None:
        seconds = f"{task.elapsed:.1f} s"
        if task.kind == "phase":
            words = f": {task.outcome}" if task.outcome else ""
            self._line(f"evaluation: {task.name} {seconds}{words}")
            return
        counts = task.counts_words()
        read = f" ({counts})" if counts else ""
        if task.ok:
            self._line(f"{task.name}: {task.outcome or 'done'} in {seconds}{read}")
        else:
            self._line(f"{task.name}: not collected after {seconds}{read}: {task.outcome}")


# --- the terminal: Rich's live display --------------------------------------------------------


class RichDisplay(Reporter):
    """Rich's live display on a terminal: a line per system and phase with its counts, the
    rate-limit wait and when it ends, the elapsed time, and a bar where the total is known."""

    def __init__(self, console: Any) -> None:
        from rich.progress import Progress

        self._tasks: dict[Any, Task] = {}  # Rich's task id -> ours
        self._lock = threading.Lock()
        display = self

        class _Progress(Progress):
            def get_renderables(self) -> Iterable[Any]:
                display._sync()
                return super().get_renderables()

        self._progress = _Progress(
            *_rich_columns(),
            console=console,
            refresh_per_second=4,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._progress.start()

    def _sync(self) -> None:
        """Rich's copy of each task's counts (its bar), from ours, before each refresh."""
        with self._lock:
            tasks = list(self._tasks.items())
        for task_id, task in tasks:
            if task.ended is None:
                self._progress.update(task_id, completed=task.items, total=task.total)

    def started(self, task: Task) -> None:
        label = task.name if task.kind == "system" else f"evaluation: {task.name}"
        task_id = self._progress.add_task(label, total=task.total, ours=task)
        with self._lock:
            self._tasks[task_id] = task

    def finished(self, task: Task) -> None:
        with self._lock:
            task_id = next((i for i, t in self._tasks.items() if t is task), None)
        if task_id is None:
            return
        done = max(task.items, 1)
        self._progress.update(task_id, completed=done, total=done)
        self._progress.stop_task(task_id)
        self._progress.refresh()

    def close(self) -> None:
        self._progress.stop()


def _our_task(rich_task: Any) -> Task | None:
    fields: Mapping[str, Any] = rich_task.fields
    ours = fields.get("ours")
    return ours if isinstance(ours, Task) else None


def _rich_columns() -> list[Any]:
    """The display's columns: spinner, name, bar, counts or wait, elapsed. Every string is
    plain text (names from the configuration, outcomes from systems): never markup."""
    from rich.progress import BarColumn, ProgressColumn, SpinnerColumn, TimeElapsedColumn
    from rich.text import Text

    class NameColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(printable(task.description), style="bold", no_wrap=True)

    class CountsColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            ours = _our_task(task)
            if ours is None:
                return Text("")
            text = Text(ours.counts_words(), no_wrap=True)
            sep = " · " if text else ""
            if ours.ended is not None:
                if ours.outcome:
                    text.append(sep)
                    text.append(printable(ours.outcome), style="green" if ours.ok else "red")
                return text
            until = ours.waiting_until
            if until is not None:
                left = (until - datetime.now(UTC)).total_seconds()
                text.append(f"{sep}waiting: ")
                text.append(printable(ours.waiting_why))
                text.append(
                    f", resumes {until:%H:%M:%S} UTC (in {max(left, 0):.0f} s)", style="yellow"
                )
            elif ours.step:
                text.append(sep)
                text.append(printable(ours.step), style="dim")
            return text

    return [
        SpinnerColumn(finished_text="•"),
        NameColumn(),
        BarColumn(bar_width=20),
        CountsColumn(),
        TimeElapsedColumn(),
    ]
