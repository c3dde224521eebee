"""`iam-gov leavers report`: for every termination in a period, when HR says it took effect,
when each of the person's accounts went off, and how long the last one took, against the
SLA (``[deprovision] sla_hours``). The table auditors sample to test the leaver control, so
every time in it says where it comes from.

The termination time is the HR event's ``effective_at`` when one was received, else the end
of the last day HR gives (``end_date`` + 1 day, 00:00 UTC). When an account went off is
taken from the best evidence there is:

1. a deprovisioning run's step that ended its access (``deprovision_steps``): a recorded
   time, exact;
2. else the snapshots stored over time: the first one in which the account is gone or not
   active. Only an upper bound ("seen off by"): the data cannot say when, before it, the
   change happened.

An account still active in the latest snapshot (and not disabled by a run since) is still
on, and its time keeps running to now; one already off before the termination counts as 0.
Break-glass and service accounts linked to the person are listed but never count towards
the SLA: deprovisioning does not touch them by design.

Headless: ``iam_gov.cli_leavers`` renders it (a Rich table from ``table_rows``, or the
plain text, CSV or JSON made here).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal, NamedTuple, cast

from sqlalchemy import Connection, func, or_, select

from iam_gov.config import Config
from iam_gov.engine.load import load_state
from iam_gov.engine.state import EvaluationState
from iam_gov.errors import IamGovError
from iam_gov.model import AccountKind, EmploymentStatus, Person
from iam_gov.policy import Policy
from iam_gov.store import Store
from iam_gov.store.schema import accounts as accounts_table
from iam_gov.store.schema import deprovision_steps, hr_events, people, snapshots
from iam_gov.store.snapshots import SnapshotInfo, snapshot_history
from iam_gov.textsafe import csv_cell, printable
from iam_gov.timeutil import as_utc, start_of_day, utcnow

Source = Literal["hr-event", "hr-end-date"]
AccountState = Literal["off", "off-before", "active", "unknown"]
"""``off``: went off after the termination; ``off-before``: was already off at it;
``active``: still on; ``unknown``: no step and no snapshot says anything about it."""

ENDING_KINDS: Final = frozenset({"disable-account", "suspend-account"})
"""Steps that end an account's access by themselves."""
CREDENTIAL_KIND: Final = "deactivate-credential"
"""Steps that end one credential: the last of them ends the access of an account whose
disable step then had nothing left to do (AWS: no console password, no active key)."""
NOT_COUNTED: Final = {
    AccountKind.BREAK_GLASS: (
        "break-glass account: listed, not counted towards the SLA (deprovisioning never touches it)"
    ),
    AccountKind.SERVICE: (
        "service account: listed, not counted towards the SLA (it goes to a new owner, "
        "it is not disabled)"
    ),
}
_CHUNK = 500
"""Values per ``IN (…)``: well under every database's limit on bound parameters."""


class LeaversError(IamGovError):
    """The report cannot be made as asked (an empty period)."""

    exit_code = 2


@dataclass(frozen=True)
class AccountOff:
    """One account of a leaver: when its access ended, and the evidence."""

    system: str
    account_id: str
    login: str
    kind: str
    """human, service or break-glass."""
    counted: bool
    """Counts towards the SLA (break-glass and service accounts do not)."""
    state: AccountState
    off_at: datetime | None
    """When access ended: a step's time (``exact``) or the first snapshot that showed it off
    (an upper bound); None while still active, or when nothing says."""
    exact: bool
    hours: float | None
    """From the termination to ``off_at`` (0 when already off before it), or to the time of
    the report while still active; None when nothing says."""
    how: str
    """The evidence, in words: "deprovision run #3", "snapshot of …"."""
    note: str = ""


@dataclass(frozen=True)
class Leaver:
    """One termination and the time its access took to end."""

    employee_id: str
    name: str
    email: str | None
    hr_status: str | None
    """As the latest HR data that knows them says; None when no HR snapshot knows them."""
    end_date: date | None
    terminated_at: datetime
    source: Source
    event_id: str | None
    """The HR event the termination time comes from (``source`` "hr-event")."""
    accounts: tuple[AccountOff, ...]
    last_off_at: datetime | None
    """When the last counted account went off; None while one is still on (or unknown), or
    when no account counts."""
    hours: float
    """From the termination to ``last_off_at``, or to the time of the report while an
    account is still on (or unknown)."""
    within_sla: bool
    """Every counted account went off within ``sla_hours`` of the termination."""
    flags: tuple[str, ...]
    """``over SLA``, ``still active``, ``no evidence``, ``not in HR``."""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LeaversReport:
    since: date
    until: date
    generated_at: datetime
    sla_hours: float
    hr_as_of: datetime
    """When the HR data the leavers were found in was true."""
    leavers: tuple[Leaver, ...]
    notes: tuple[str, ...] = ()

    @property
    def all_within_sla(self) -> bool:
        return all(leaver.within_sla for leaver in self.leavers)

    @property
    def alerts(self) -> list[Leaver]:
        """The leavers over the SLA, still active, or whose access cannot be shown ended."""
        return [leaver for leaver in self.leavers if not leaver.within_sla]


# --- making the report -----------------------------------------------------------------


@dataclass(frozen=True)
class _Who:
    employee_id: str
    name: str
    email: str | None
    status: str | None
    end_date: date | None
    person: Person | None
    """As the latest HR snapshot has them (their accounts are linked to it); None otherwise."""


@dataclass(frozen=True)
class _Termination:
    who: _Who
    at: datetime
    source: Source
    event_id: str | None


@dataclass
class _Account:
    system: str
    account_id: str
    login: str
    kind: AccountKind


class _Step(NamedTuple):
    run_id: int
    step_id: str
    person_id: str | None
    system: str
    account_id: str
    account_login: str | None
    kind: str
    outcome: str
    at: datetime


@dataclass
class _History:
    """One system's snapshots (oldest first) and the status of the wanted accounts in each."""

    snapshots: list[SnapshotInfo]
    status: dict[str, dict[int, str]] = field(default_factory=dict)
    """Account id -> snapshot id -> its status there (absent: not in that snapshot)."""

    def seen(self, account_id: str) -> list[tuple[SnapshotInfo, str]]:
        """Each snapshot that says something of the account: ``active``, another status, or
        ``gone``. An incomplete snapshot without it says nothing (it may have missed it)."""
        statuses = self.status.get(account_id, {})
        out = []
        for info in self.snapshots:
            status = statuses.get(info.id)
            if status is not None:
                out.append((info, status))
            elif info.complete:
                out.append((info, "gone"))
        return out


def leavers_report(
    store: Store,
    config: Config,
    policy: Policy,
    *,
    since: date,
    until: date | None = None,
    now: datetime | None = None,
    state: EvaluationState | None = None,
) -> LeaversReport:
    """Every termination from ``since`` to ``until`` (both included; default: today): people
    whose last day in the latest HR data falls in it (terminated, or the day has passed),
    and anyone a termination HR event took effect for in it."""
    at = as_utc(now) if now is not None else utcnow()
    last = until or at.date()
    if last < since:
        raise LeaversError(
            f"the period is empty: it ends ({last}) before it begins ({since}); give an end "
            "on or after the start"
        )
    sla = config.deprovision.sla_hours
    if state is None:  # a run that has just evaluated passes its own
        state = load_state(store, config, policy, now=at).state
    notes: list[str] = []
    with store.reading() as conn:
        terminations = _terminations(conn, config, state, since, last, at)
        later = [t for t in terminations if t.at > at]
        if later:
            notes.append(
                f"{len(later)} termination(s) in the period take effect after "
                f"{_iso(at)} (not reported yet): "
                + ", ".join(f"{_label(t.who)} at {_iso(t.at)}" for t in later[:10])
                + (" …" if len(later) > 10 else "")
            )
        terminations = [t for t in terminations if t.at <= at]
        wanted = {t.who.employee_id: _linked(state, t.who) for t in terminations}
        by_person = _steps_of_people(conn, list(wanted))
        for person_id, steps in by_person.items():
            found = wanted[person_id]
            for step in steps:
                if (step.system, step.account_id) not in found:
                    found[(step.system, step.account_id)] = _stepped(state, step)
        keys = {key for found in wanted.values() for key in found}
        steps_of = _steps_of_accounts(conn, keys)
        for steps in by_person.values():
            for step in steps:
                steps_of.setdefault((step.system, step.account_id), {})[
                    (step.run_id, step.step_id)
                ] = step
        histories = _histories(conn, keys)
    order = {name: n for n, name in enumerate(config.systems)}
    leavers = []
    for termination in terminations:
        found = wanted[termination.who.employee_id]
        offs = [
            _account_off(
                account,
                sorted(steps_of.get(key, {}).values(), key=lambda s: (s.at, s.run_id)),
                histories.get(account.system),
                termination.at,
                at,
            )
            for key, account in sorted(
                found.items(),
                key=lambda kv: (order.get(kv[0][0], len(order)), kv[0][0], kv[1].login),
            )
        ]
        leavers.append(_leaver(termination, offs, sla, at))
    leavers.sort(key=lambda leaver: (leaver.terminated_at, leaver.employee_id))
    return LeaversReport(
        since=since,
        until=last,
        generated_at=at,
        sla_hours=sla,
        hr_as_of=state.hr.collected_at,
        leavers=tuple(leavers),
        notes=tuple(notes),
    )


def _terminations(
    conn: Connection,
    config: Config,
    state: EvaluationState,
    since: date,
    last: date,
    at: datetime,
) -> list[_Termination]:
    """By employee: their HR event's time when one took effect in the period (the latest
    received, which corrects earlier ones), else the end of their last day."""
    found: dict[str, _Termination] = {}
    for current in state.people.values():
        end = current.end_date
        if end is None or not since <= end <= last:
            continue
        if current.status is not EmploymentStatus.TERMINATED and end >= at.date():
            continue  # an end date still ahead, and HR does not say they have gone
        found[current.employee_id] = _Termination(
            _who(current), start_of_day(end + timedelta(days=1)), "hr-end-date", None
        )
    start, stop = start_of_day(since), start_of_day(last + timedelta(days=1))
    rows = conn.execute(
        select(hr_events)
        .where(hr_events.c.kind == "termination")
        .order_by(hr_events.c.received_at, hr_events.c.event_id)
    ).all()
    by_id = {pid.lower(): p for pid, p in state.people.items()}
    by_email = {p.email.lower(): p for p in state.people.values() if p.email}
    for row in rows:
        effective = row.effective_at or row.received_at
        if not start <= effective < stop:
            continue
        key = str(row.employee).strip().lower()
        person = by_id.get(key) or by_email.get(key)
        who = _who(person) if person else _former(conn, config.hr_system, key, str(row.employee))
        found[who.employee_id] = _Termination(who, effective, "hr-event", str(row.event_id))
    return sorted(found.values(), key=lambda t: (t.at, t.who.employee_id))


def _who(person: Person) -> _Who:
    return _Who(
        person.employee_id,
        person.name,
        person.email,
        person.status.value,
        person.end_date,
        person,
    )


def _former(conn: Connection, hr: str, key: str, given: str) -> _Who:
    """Someone an HR event names who is not in the latest HR data (exports drop people
    some time after they leave): as the newest HR snapshot that has them says."""
    row = conn.execute(
        select(people.c.employee_id, people.c.name, people.c.email, people.c.status)
        .add_columns(people.c.end_date)
        .join(snapshots, snapshots.c.id == people.c.snapshot_id)
        .where(snapshots.c.system == hr)
        .where(or_(func.lower(people.c.employee_id) == key, func.lower(people.c.email) == key))
        .order_by(snapshots.c.collected_at.desc(), snapshots.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return _Who(given, given, None, None, None, None)
    return _Who(row.employee_id, row.name, row.email, row.status, row.end_date, None)


def _linked(state: EvaluationState, who: _Who) -> dict[tuple[str, str], _Account]:
    """Their accounts linked in the latest state."""
    if who.person is None:
        return {}
    return {
        (entry.view.name, entry.account.native_id): _Account(
            entry.view.name,
            entry.account.native_id,
            entry.account.login,
            _kind(entry.link.kind, entry.account.kind),
        )
        for entry in state.entries_of(who.person)
    }


def _stepped(state: EvaluationState, step: _Step) -> _Account:
    """An account a step touched for them that the latest state does not link to them (gone
    since, or linked otherwise now)."""
    view = state.systems.get(step.system)
    account = view.accounts.get(step.account_id) if view else None
    link = state.links.get((step.system, step.account_id))
    kind = _kind(
        link.kind if link else AccountKind.HUMAN, account.kind if account else AccountKind.HUMAN
    )
    login = account.login if account else step.account_login or step.account_id
    return _Account(step.system, step.account_id, login, kind)


def _kind(link: AccountKind, account: AccountKind) -> AccountKind:
    """As the planner protects them: break-glass or service when either says so."""
    for kind in (AccountKind.BREAK_GLASS, AccountKind.SERVICE):
        if kind in (link, account):
            return kind
    return AccountKind.HUMAN


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for n in range(0, len(values), _CHUNK):
        yield values[n : n + _CHUNK]


_STEP_COLUMNS = (
    deprovision_steps.c.run_id,
    deprovision_steps.c.step_id,
    deprovision_steps.c.person_id,
    deprovision_steps.c.system,
    deprovision_steps.c.account_id,
    deprovision_steps.c.account_login,
    deprovision_steps.c.kind,
    deprovision_steps.c.outcome,
    deprovision_steps.c.at,
)


def _step(row: Any) -> _Step:
    return _Step(
        int(row.run_id),
        row.step_id,
        row.person_id,
        row.system,
        row.account_id,
        row.account_login,
        row.kind,
        row.outcome,
        as_utc(row.at),
    )


def _steps_of_people(conn: Connection, person_ids: list[str]) -> dict[str, list[_Step]]:
    """Every step any run took for these people, by person."""
    out: dict[str, list[_Step]] = {}
    for chunk in _chunks(sorted(person_ids)):
        for row in conn.execute(
            select(*_STEP_COLUMNS).where(deprovision_steps.c.person_id.in_(chunk))
        ):
            out.setdefault(row.person_id, []).append(_step(row))
    return out


def _steps_of_accounts(
    conn: Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], dict[tuple[int, str], _Step]]:
    """The steps that can have ended these accounts' access, whoever they were taken for
    (a review's revocation counts as much as a leaver's run)."""
    by_system: dict[str, list[str]] = {}
    for system, account_id in keys:
        by_system.setdefault(system, []).append(account_id)
    out: dict[tuple[str, str], dict[tuple[int, str], _Step]] = {}
    for system, ids in sorted(by_system.items()):
        for chunk in _chunks(sorted(ids)):
            for row in conn.execute(
                select(*_STEP_COLUMNS)
                .where(deprovision_steps.c.system == system)
                .where(deprovision_steps.c.account_id.in_(chunk))
                .where(deprovision_steps.c.kind.in_(sorted(ENDING_KINDS | {CREDENTIAL_KIND})))
            ):
                step = _step(row)
                out.setdefault((system, step.account_id), {})[(step.run_id, step.step_id)] = step
    return out


def _histories(conn: Connection, keys: Iterable[tuple[str, str]]) -> dict[str, _History]:
    """Per system: its snapshots, and the wanted accounts' status in each (one query per
    chunk of accounts, not one per snapshot)."""
    by_system: dict[str, list[str]] = {}
    for system, account_id in keys:
        by_system.setdefault(system, []).append(account_id)
    out: dict[str, _History] = {}
    for system, ids in sorted(by_system.items()):
        history = _History(list(reversed(snapshot_history(conn, system))))
        for chunk in _chunks(sorted(ids)):
            for row in conn.execute(
                select(accounts_table.c.snapshot_id, accounts_table.c.native_id)
                .add_columns(accounts_table.c.status)
                .join(snapshots, snapshots.c.id == accounts_table.c.snapshot_id)
                .where(snapshots.c.system == system)
                .where(accounts_table.c.native_id.in_(chunk))
            ):
                history.status.setdefault(row.native_id, {})[int(row.snapshot_id)] = row.status
        out[system] = history
    return out


class _Ended(NamedTuple):
    at: datetime
    run_id: int
    how: str


def _ended(steps: Sequence[_Step]) -> list[_Ended]:
    """When runs ended the account's access: a done disable (or suspend) step; or, in a run
    whose disable step found nothing left to do, the last credential it deactivated."""
    out: list[_Ended] = []
    by_run: dict[int, list[_Step]] = {}
    for step in steps:
        by_run.setdefault(step.run_id, []).append(step)
    for run_id, run in by_run.items():
        enders = [s for s in run if s.kind in ENDING_KINDS]
        out.extend(
            _Ended(s.at, run_id, f"deprovision run #{run_id}")
            for s in enders
            if s.outcome == "done"
        )
        credentials = [s for s in run if s.kind == CREDENTIAL_KIND and s.outcome == "done"]
        if credentials and enders and all(s.outcome == "noop" for s in enders):
            out.append(
                _Ended(
                    max(s.at for s in credentials),
                    run_id,
                    f"deprovision run #{run_id} (its last credential deactivated)",
                )
            )
    return sorted(out)


def _account_off(
    account: _Account,
    steps: Sequence[_Step],
    history: _History | None,
    terminated: datetime,
    now: datetime,
) -> AccountOff:
    seen = history.seen(account.account_id) if history is not None else []
    last_on = max((n for n, (_, status) in enumerate(seen) if status == "active"), default=None)
    on_at = seen[last_on][0].collected_at if last_on is not None else None
    ended = [e for e in _ended(steps) if on_at is None or e.at > on_at]
    note = NOT_COUNTED.get(account.kind, "")

    def made(
        state: AccountState, off: datetime | None, exact: bool, how: str, hours: float | None
    ) -> AccountOff:
        return AccountOff(
            system=account.system,
            account_id=account.account_id,
            login=account.login,
            kind=account.kind.value,
            counted=not note,
            state=state,
            off_at=off,
            exact=exact,
            hours=hours,
            how=how,
            note=note,
        )

    if ended:  # a run ended it after any snapshot that still showed it on
        first = ended[0]
        if first.at <= terminated:
            return made("off-before", first.at, True, f"{first.how}, before the termination", 0)
        return made("off", first.at, True, first.how, _hours(terminated, first.at))
    said = _step_said(steps, seen[last_on][0] if last_on is not None else None)
    if last_on is not None and last_on == len(seen) - 1:
        info = seen[last_on][0]
        how = f"active in the latest snapshot ({_iso(info.collected_at)})"
        return made("active", None, False, _join(how, said), _hours(terminated, now))
    if not seen:
        what = (
            f"no snapshot of {account.system} is stored"
            if history is None or not history.snapshots
            else f"no snapshot of {account.system} shows it"
        )
        return made("unknown", None, False, _join(said, what), None)
    info, status = seen[0 if last_on is None else last_on + 1]
    word = "gone" if status == "gone" else status
    if info.collected_at <= terminated:
        how = f"already {word} in the snapshot of {_iso(info.collected_at)}, before the termination"
        return made("off-before", info.collected_at, False, _join(said, how), 0)
    how = f"first seen {word} in the snapshot of {_iso(info.collected_at)}"
    return made(
        "off", info.collected_at, False, _join(said, how), _hours(terminated, info.collected_at)
    )


def _step_said(steps: Sequence[_Step], last_on: SnapshotInfo | None) -> str:
    """What the latest step about ending the account's access did, when it did not end it
    (noop: already off; failed; skipped), or was undone (seen on again after it)."""
    relevant = [s for s in steps if s.kind in ENDING_KINDS or s.kind == CREDENTIAL_KIND]
    if not relevant:
        return ""
    step = relevant[-1]
    if step.outcome == "done" and last_on is not None:
        return (
            f"done in run #{step.run_id}, but active again in the snapshot of "
            f"{_iso(last_on.collected_at)}"
        )
    return f"{step.outcome} in run #{step.run_id}"


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _hours(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds() / 3600)


def _leaver(termination: _Termination, offs: list[AccountOff], sla: float, now: datetime) -> Leaver:
    who = termination.who
    counted = [a for a in offs if a.counted]
    still = any(a.state == "active" for a in counted)
    unknown = any(a.state == "unknown" for a in counted)
    notes: list[str] = []
    last_off: datetime | None = None
    if still or unknown:
        hours = _hours(termination.at, now)
    elif counted:
        last_off = max(a.off_at for a in counted if a.off_at is not None)
        hours = _hours(termination.at, last_off)
    else:
        hours = 0.0
        notes.append(
            "no account in any system is linked to them"
            if not offs
            else "only break-glass or service accounts: nothing counts towards the SLA"
        )
    flags = []
    if hours > sla:
        flags.append("over SLA")
    if still:
        flags.append("still active")
    if unknown:
        flags.append("no evidence")
    if who.status is None:
        flags.append("not in HR")
        notes.append(
            "no HR snapshot knows them: no account could be linked to them (check the event's "
            "employee id or e-mail)"
        )
    return Leaver(
        employee_id=who.employee_id,
        name=who.name,
        email=who.email,
        hr_status=who.status,
        end_date=who.end_date,
        terminated_at=termination.at,
        source=termination.source,
        event_id=termination.event_id,
        accounts=tuple(offs),
        last_off_at=last_off,
        hours=hours,
        within_sla=not flags,
        flags=tuple(flags),
        notes=tuple(notes),
    )


def _label(who: _Who) -> str:
    return f"{printable(who.name)} ({printable(who.employee_id)})"


# --- rendering -------------------------------------------------------------------------


def _iso(at: datetime) -> str:
    """UTC, ISO 8601, to the second: for people (tables, CSV)."""
    return as_utc(at).isoformat(timespec="seconds").replace("+00:00", "Z")


def _exact(at: datetime) -> str:
    """UTC, ISO 8601, as precise as recorded: for JSON, which must read back the same."""
    return as_utc(at).isoformat().replace("+00:00", "Z")


def _hours_text(hours: float | None) -> str:
    return "" if hours is None else f"{hours:,.1f} h"


SOURCE_WORDS: Final = {"hr-event": "HR event", "hr-end-date": "HR end date"}
STATE_WORDS: Final = {
    "off": "",
    "off-before": "off before the termination",
    "active": "STILL ACTIVE",
    "unknown": "NO EVIDENCE",
}

_LEAVER_CELLS: Final = 3
"""The first columns of the table are the leaver's; the others, one account's."""
TABLE_COLUMNS: Final = (
    "leaver",
    "terminated (UTC)",
    "time to last off",
    "account",
    "off (UTC), how we know",
)


@dataclass(frozen=True)
class TableRow:
    """One line of the table: an account of a leaver (the leaver's cells only on their first
    line). Every cell is printable; ``leaver`` and ``account`` say what to highlight."""

    leaver: Leaver
    account: AccountOff | None
    first: bool
    cells: tuple[str, ...]


def table_rows(report: LeaversReport) -> list[TableRow]:
    rows = []
    for leaver in report.leavers:
        verdict = (
            f"within {report.sla_hours:g} h"
            if leaver.within_sla
            else ", ".join(f.upper() if f == "over SLA" else f for f in leaver.flags)
        )
        source = SOURCE_WORDS[leaver.source] + (
            f" {printable(leaver.event_id)}" if leaver.event_id else ""
        )
        person = [
            f"{printable(leaver.name)}\n{printable(leaver.employee_id)}",
            f"{_iso(leaver.terminated_at)}\n{source}",
            f"{_hours_text(leaver.hours)}\n{verdict}",
        ]
        accounts: list[AccountOff | None] = list(leaver.accounts) or [None]
        for n, account in enumerate(accounts):
            cells = person if n == 0 else ["", "", ""]
            if account is None:
                rest = ["", "\n".join(printable(note) for note in leaver.notes)]
            else:
                name = f"{printable(account.system)}: {printable(account.login)}"
                if account.note:
                    name += f"\n({account.kind}: not counted)"
                if account.off_at is not None and account.state == "off":
                    off = ("" if account.exact else "by ") + _iso(account.off_at)
                else:
                    off = STATE_WORDS[account.state]
                rest = [name, f"{off}\n{printable(account.how)}"]
            rows.append(TableRow(leaver, account, n == 0, tuple(cells + rest)))
    return rows


def title(report: LeaversReport) -> str:
    alerts = len(report.alerts)
    return (
        f"Leavers terminated {report.since} to {report.until}: {len(report.leavers)}; "
        f"SLA {report.sla_hours:g} h; "
        + (f"{alerts} over it, still active or unproven" if alerts else "all within it")
    )


def footnotes(report: LeaversReport) -> list[str]:
    """What the table's words mean, and the report's own notes (printable)."""
    lines = [
        f"Generated {_iso(report.generated_at)} from HR data as of {_iso(report.hr_as_of)}. "
        "Times are UTC.",
        "Off times are a deprovisioning run's recorded step (exact) or, marked 'by', the first "
        "snapshot that showed the account off (an upper bound).",
    ]
    if any(not a.counted for leaver in report.leavers for a in leaver.accounts):
        lines.append(
            "Break-glass and service accounts are listed but do not count towards the SLA."
        )
    lines.extend(printable(note) for note in report.notes)
    for leaver in report.leavers:
        lines.extend(
            f"{printable(leaver.name)} ({printable(leaver.employee_id)}): {printable(note)}"
            for note in leaver.notes
        )
    return lines


def leavers_text(report: LeaversReport) -> str:
    """The table as plain text (a file, a mail): columns padded; a leaver's cells run down
    beside their accounts, a blank line between leavers."""
    rows = table_rows(report)
    widths = [len(c) for c in TABLE_COLUMNS]
    for row in rows:
        for n, cell in enumerate(row.cells):
            widths[n] = max(widths[n], *(len(line) for line in cell.split("\n")))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [title(report), "", line(TABLE_COLUMNS), line(["-" * w for w in widths])]
    blocks: list[list[TableRow]] = []
    for row in rows:
        if row.first:
            blocks.append([])
        blocks[-1].append(row)
    for n, block in enumerate(blocks):
        if n:
            out.append("")
        left = [cell.split("\n") for cell in block[0].cells[:_LEAVER_CELLS]]
        right: list[list[str]] = []
        for row in block:
            split = [cell.split("\n") for cell in row.cells[_LEAVER_CELLS:]]
            right.extend(
                [s[k] if k < len(s) else "" for s in split]
                for k in range(max(len(s) for s in split))
            )
        for k in range(max(len(right), *(len(s) for s in left))):
            cells = [s[k] if k < len(s) else "" for s in left]
            out.append(line(cells + (right[k] if k < len(right) else [""] * len(right[0]))))
    if not rows:
        out.append("(no terminations in the period)")
    out.append("")
    out.extend(footnotes(report))
    return "\n".join(out) + "\n"


CSV_COLUMNS: Final = (
    "employee_id",
    "name",
    "email",
    "hr_status",
    "end_date",
    "terminated_at",
    "termination_source",
    "hr_event_id",
    "last_off_at",
    "hours_to_last_off",
    "sla_hours",
    "within_sla",
    "flags",
    "system",
    "account_id",
    "account_login",
    "account_kind",
    "counts_towards_sla",
    "account_state",
    "off_at",
    "off_at_is",
    "hours_to_off",
    "how",
    "note",
)


def leavers_csv(report: LeaversReport) -> str:
    """One row per account, the leaver's columns repeated (a leaver without accounts: one row
    with those left empty). Every cell through ``csv_cell``: no formula, no control
    character reaches the spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for leaver in report.leavers:
        person: list[object] = [
            leaver.employee_id,
            leaver.name,
            leaver.email or "",
            leaver.hr_status or "",
            leaver.end_date.isoformat() if leaver.end_date else "",
            _iso(leaver.terminated_at),
            leaver.source,
            leaver.event_id or "",
            _iso(leaver.last_off_at) if leaver.last_off_at else "",
            f"{leaver.hours:.2f}",
            f"{report.sla_hours:g}",
            "yes" if leaver.within_sla else "no",
            "; ".join(leaver.flags),
        ]
        accounts: list[AccountOff | None] = list(leaver.accounts) or [None]
        for account in accounts:
            if account is None:
                rest: list[object] = [*[""] * 10, "; ".join(leaver.notes)]
            else:
                rest = [
                    account.system,
                    account.account_id,
                    account.login,
                    account.kind,
                    "yes" if account.counted else "no",
                    account.state,
                    _iso(account.off_at) if account.off_at else "",
                    ("exact" if account.exact else "upper bound") if account.off_at else "",
                    "" if account.hours is None else f"{account.hours:.2f}",
                    account.how,
                    account.note,
                ]
            writer.writerow([csv_cell(value) for value in person + rest])
    return out.getvalue()


def leavers_dict(report: LeaversReport) -> dict[str, Any]:
    return {
        "since": report.since.isoformat(),
        "until": report.until.isoformat(),
        "generated_at": _exact(report.generated_at),
        "sla_hours": report.sla_hours,
        "hr_as_of": _exact(report.hr_as_of),
        "all_within_sla": report.all_within_sla,
        "notes": list(report.notes),
        "leavers": [_leaver_dict(leaver) for leaver in report.leavers],
    }


def _leaver_dict(leaver: Leaver) -> dict[str, Any]:
    return {
        "employee_id": leaver.employee_id,
        "name": leaver.name,
        "email": leaver.email,
        "hr_status": leaver.hr_status,
        "end_date": leaver.end_date.isoformat() if leaver.end_date else None,
        "terminated_at": _exact(leaver.terminated_at),
        "source": leaver.source,
        "event_id": leaver.event_id,
        "last_off_at": _exact(leaver.last_off_at) if leaver.last_off_at else None,
        "hours": leaver.hours,
        "within_sla": leaver.within_sla,
        "flags": list(leaver.flags),
        "notes": list(leaver.notes),
        "accounts": [
            {
                "system": a.system,
                "account_id": a.account_id,
                "login": a.login,
                "kind": a.kind,
                "counted": a.counted,
                "state": a.state,
                "off_at": _exact(a.off_at) if a.off_at else None,
                "exact": a.exact,
                "hours": a.hours,
                "how": a.how,
                "note": a.note,
            }
            for a in leaver.accounts
        ],
    }


def leavers_json(report: LeaversReport) -> str:
    """ASCII only (every other character escaped): no control or bidi character from HR or
    a directory reaches a terminal or an editor, and the text reads back exactly."""
    return json.dumps(leavers_dict(report), ensure_ascii=True, indent=2) + "\n"


def leavers_from_json(text: str) -> LeaversReport:
    """A report written by ``leavers_json``, read back (to compare periods, or to re-render)."""
    data = json.loads(text)
    return LeaversReport(
        since=date.fromisoformat(data["since"]),
        until=date.fromisoformat(data["until"]),
        generated_at=_time(data["generated_at"]),
        sla_hours=float(data["sla_hours"]),
        hr_as_of=_time(data["hr_as_of"]),
        notes=tuple(data["notes"]),
        leavers=tuple(
            Leaver(
                employee_id=item["employee_id"],
                name=item["name"],
                email=item["email"],
                hr_status=item["hr_status"],
                end_date=date.fromisoformat(item["end_date"]) if item["end_date"] else None,
                terminated_at=_time(item["terminated_at"]),
                source=cast(Source, item["source"]),
                event_id=item["event_id"],
                last_off_at=_time(item["last_off_at"]) if item["last_off_at"] else None,
                hours=float(item["hours"]),
                within_sla=bool(item["within_sla"]),
                flags=tuple(item["flags"]),
                notes=tuple(item["notes"]),
                accounts=tuple(
                    AccountOff(
                        system=a["system"],
                        account_id=a["account_id"],
                        login=a["login"],
                        kind=a["kind"],
                        counted=bool(a["counted"]),
                        state=cast(AccountState, a["state"]),
                        off_at=_time(a["off_at"]) if a["off_at"] else None,
                        exact=bool(a["exact"]),
                        hours=None if a["hours"] is None else float(a["hours"]),
                        how=a["how"],
                        note=a["note"],
                    )
                    for a in item["accounts"]
                ),
            )
            for item in data["leavers"]
        ),
    )


def _time(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text))
