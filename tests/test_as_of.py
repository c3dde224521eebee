"""`--as-of TIME` on evaluate, run, findings and explain: the data and the finding history as
they stood then, worked out without changing anything recorded (on SQLite and PostgreSQL).

Two collects, each evaluated an hour later:

- FIRST (2026-10-01 09:00): HR and Okta. Alice holds Super Administrator outside her role
  (excess access); Bob last signed in on 2026-08-01 (61 days: not dormant yet); Carol works
  here.
- SECOND (2026-11-20 09:00): HR, Okta and, for the first time, the lab. Alice's Super
  Administrator is gone (its finding is resolved); Bob is now dormant (111 days); Carol left
  on 2026-11-10 and her account is still active.

As of 2026-10-15 (a date: the end of that day) the first collect is what the store knew.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from iam_gov.config import load_config
from iam_gov.correlate import AccountLink
from iam_gov.evaluation import evaluate, finding_id
from iam_gov.model import EmploymentStatus, Finding, Severity, SystemSnapshot
from iam_gov.policy import load_policy
from iam_gov.rules import all_rules
from iam_gov.store import Store
from iam_gov.store.findings import FindingFilter, findings_as_of, record_evaluation
from iam_gov.store.schema import (
    account_links,
    audit_log,
    evaluation_findings,
    evaluations,
    findings,
    snapshots,
)
from iam_gov.store.snapshots import save_snapshot
from iam_gov.timeutil import parse_as_of
from tests.drift.conftest import account, directory, entitlement, grant, hr, person
from tests.support.progress_log import without_progress

FIRST = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
SECOND = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BETWEEN = "2026-10-15"
BETWEEN_END = datetime(2026, 10, 15, 23, 59, 59, 999999, tzinfo=UTC)

CONFIG = """\
[policy]
path = "policy.yaml"

[correlation]
match = ["employee_id", "email"]

[systems.hr]
type = "hr"
path = "hr.csv"

[systems.okta]
type = "okta"
mode = "export"
path = "okta"

[systems.lab]
type = "okta"
mode = "export"
path = "lab"
"""

POLICY = """\
version: 1
roles:
  - name: engineer
    match: {department: Engineering}
    grants:
      okta: ["group:Engineering"]
      lab: ["group:Engineering"]
privileged:
  okta: ["role:Super Administrator"]
"""

ALICE = person("E1", "Alice Admin")
BOB = person("E2", "Bob Idle")
CAROL = person("E3", "Carol Leaver")
CAROL_GONE = person(
    "E3", "Carol Leaver", status=EmploymentStatus.TERMINATED, end_date=date(2026, 11, 10)
)
ENGINEERING = entitlement("okta", "group", "Engineering")
SUPER = entitlement("okta", "role", "Super Administrator")


def okta(at: datetime, *, alice_super: bool) -> SystemSnapshot:
    bob = account("okta", "bob", "E2").model_copy(
        update={"last_login_at": datetime(2026, 8, 1, tzinfo=UTC)}
    )
    alice = account("okta", "alice", "E1").model_copy(update={"last_login_at": at})
    carol = account("okta", "carol", "E3").model_copy(update={"last_login_at": at})
    grants = [
        grant("okta", login, ENGINEERING.entitlement_id) for login in ("alice", "bob", "carol")
    ]
    if alice_super:
        grants.append(grant("okta", "alice", SUPER.entitlement_id))
    return directory("okta", at, [alice, bob, carol], [ENGINEERING, SUPER], grants)


def lab(at: datetime) -> SystemSnapshot:
    group = entitlement("lab", "group", "Engineering")
    alice = account("lab", "alice", "E1").model_copy(update={"last_login_at": at})
    return directory("lab", at, [alice], [group], [grant("lab", "alice", group.entitlement_id)])


@pytest.fixture
def company(store: Store, tmp_path: Path) -> Path:
    """Both collects stored and evaluated; returns the configuration file."""
    root = tmp_path / "company"
    root.mkdir()
    (root / "iam-gov.toml").write_text(CONFIG, encoding="utf-8")
    (root / "policy.yaml").write_text(POLICY, encoding="utf-8")
    config = load_config(root / "iam-gov.toml")
    policy = load_policy(config.policy.path, rules=all_rules())
    collects = [
        (FIRST, [hr(FIRST, [ALICE, BOB, CAROL]), okta(FIRST, alice_super=True)]),
        (
            SECOND,
            [hr(SECOND, [ALICE, BOB, CAROL_GONE]), okta(SECOND, alice_super=False), lab(SECOND)],
        ),
    ]
    for at, taken in collects:
        with store.writing() as conn:
            for snapshot in taken:
                save_snapshot(conn, snapshot, at + timedelta(minutes=1))
        evaluate(store, config, policy, now=at + timedelta(hours=1))
    return root / "iam-gov.toml"


def iam_gov(toml: Path, store: Store, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "iam_gov",
            "--config",
            str(toml),
            "--database-url",
            store.url,
            *args,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=180,
        check=False,
    )


def recorded(store: Store) -> dict[str, Any]:
    """Everything an evaluation records: row counts and the finding history."""
    with store.reading() as conn:
        counts = {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (evaluations, findings, evaluation_findings, account_links, audit_log)
        }
        history = sorted(
            tuple(row)
            for row in conn.execute(
                select(
                    findings.c.finding_id,
                    findings.c.first_seen,
                    findings.c.last_seen,
                    findings.c.resolved_at,
                    findings.c.last_evaluation_id,
                )
            )
        )
    return {"counts": counts, "history": history}


def subjects(found: Sequence[Finding]) -> set[tuple[str, str]]:
    return {(f.rule_id, f.subject) for f in found}


ALICE_SUPER = ("excess-access", f"okta:00u-alice:{SUPER.entitlement_id}")
BOB_DORMANT = ("dormant-account", "okta:00u-bob")


def test_the_world_is_as_described(company: Path, store: Store) -> None:
    """The two recorded evaluations say what the module docstring says (the premise of every
    test below)."""
    with store.reading() as conn:
        rows = {(r.rule_id, r.subject): r for r in conn.execute(select(findings))}
    assert rows[ALICE_SUPER].resolved_at == SECOND + timedelta(hours=1)
    assert rows[BOB_DORMANT].first_seen == SECOND + timedelta(hours=1)
    assert rows[BOB_DORMANT].resolved_at is None
    assert any(rule == "leaver-active-access" for rule, _ in rows)


def test_evaluate_as_of_uses_the_snapshots_of_then_and_records_nothing(
    company: Path, store: Store
) -> None:
    before = recorded(store)
    config = load_config(company)
    policy = load_policy(config.policy.path, rules=all_rules())

    report = evaluate(store, config, policy, as_of=BETWEEN_END)

    assert recorded(store) == before  # no evaluation, finding, link or audit record
    assert report.as_of == BETWEEN_END and report.evaluation_id == 0
    assert {name: info.collected_at for name, info in report.snapshots.items()} == {
        "hr": FIRST,
        "okta": FIRST,
    }
    found = subjects(report.findings)
    assert ALICE_SUPER in found  # the grant she held then
    assert BOB_DORMANT not in found  # 61 idle days then, not 90
    assert not any(rule == "leaver-active-access" for rule, _ in found)  # Carol worked here
    assert "lab" in report.not_evaluated
    assert any(w.startswith("lab: no snapshot collected at or before") for w in report.warnings)
    # compared with what the history had open then: exactly the same findings
    assert (report.recorded.new, report.recorded.resolved) == (0, 0)


def test_the_evaluate_command_as_of_says_what_it_used_and_that_it_recorded_nothing(
    company: Path, store: Store
) -> None:
    before = recorded(store)
    done = iam_gov(company, store, "evaluate", "--as-of", BETWEEN)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "as of 2026-10-15 (end of day, UTC): not recorded" in done.stdout
    assert "NOT EVALUATED: lab: no snapshot collected at or before 2026-10-15" in done.stdout
    okta_row = next(
        line for line in done.stdout.splitlines() if line.lstrip("│ ").startswith("okta")
    )
    assert "2026-10-01" in okta_row  # the first snapshot, not the latest
    assert "dormant-account" not in done.stdout
    assert recorded(store) == before


def test_run_as_of_neither_collects_nor_reports_nor_records(company: Path, store: Store) -> None:
    before = recorded(store)
    with store.reading() as conn:
        stored = conn.execute(select(func.count()).select_from(snapshots)).scalar_one()
    done = iam_gov(company, store, "run", "--as-of", "2026-10-15T12:00:00+02:00")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nothing collected" in done.stdout and "no drift report written" in done.stdout
    assert "as of 2026-10-15 10:00 UTC: not recorded" in done.stdout
    assert not (company.parent / "reports").exists()
    assert recorded(store) == before
    with store.reading() as conn:
        assert conn.execute(select(func.count()).select_from(snapshots)).scalar_one() == stored

    refused = iam_gov(company, store, "run", "--as-of", BETWEEN, "--system", "okta")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "error: --system: nothing is collected with --as-of; leave it out"
    ]


def test_findings_as_of_lists_those_open_then(company: Path, store: Store) -> None:
    with store.reading() as conn:
        then = findings_as_of(conn, BETWEEN_END)
        now = findings_as_of(conn, SECOND + timedelta(hours=2))
        before_any = findings_as_of(conn, FIRST)
    assert then is not None and now is not None
    assert ALICE_SUPER in subjects(then)  # resolved later: open then
    assert BOB_DORMANT not in subjects(then)  # first seen later
    assert all(f.resolved_at is None and f.last_seen <= BETWEEN_END for f in then)
    assert ALICE_SUPER not in subjects(now) and BOB_DORMANT in subjects(now)
    assert before_any is None  # nothing had been evaluated yet

    shown = iam_gov(company, store, "findings", "--as-of", BETWEEN, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    listed = {(f["rule_id"], f["subject"]) for f in json.loads(shown.stdout)}
    assert listed == subjects(then)

    alice = iam_gov(
        company, store, "findings", "--as-of", BETWEEN, "--person", "E1", "--format", "csv"
    )
    assert alice.returncode == 0, alice.stderr
    assert SUPER.entitlement_id in alice.stdout and "00u-bob" not in alice.stdout

    early = iam_gov(company, store, "findings", "--as-of", "2026-09-30")
    assert early.returncode == 2
    assert len(early.stderr.strip().splitlines()) == 1
    assert "no evaluation had been recorded by 2026-09-30" in early.stderr


def test_explain_as_of_shows_the_grant_held_then(company: Path, store: Store) -> None:
    before = recorded(store)
    then = iam_gov(company, store, "explain", "alice@example.com", "--as-of", BETWEEN)
    now = iam_gov(company, store, "explain", "alice@example.com")
    assert then.returncode == 0, then.stdout + then.stderr
    assert now.returncode == 0, now.stdout + now.stderr
    assert "Super Administrator" in then.stdout and "excess-access" in then.stdout
    assert "Super Administrator" not in now.stdout
    assert "as of 2026-10-15 (end of day, UTC): not recorded" in then.stdout
    assert recorded(store) == before


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("yesterday", "is not a date (2026-11-30) or a date and time"),
        ("2026-13-01", "is not a date"),
        ("2999-01-01", "that day has not ended yet"),
        ("2999-01-01T00:00Z", "is in the future"),
    ],
)
def test_a_bad_or_future_time_is_one_line_naming_the_option(
    company: Path, store: Store, value: str, said: str
) -> None:
    done = iam_gov(company, store, "evaluate", "--as-of", value)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: --as-of: ") and said in line


def test_no_hr_data_by_then_is_a_clear_error(company: Path, store: Store) -> None:
    done = iam_gov(company, store, "evaluate", "--as-of", "2026-09-01")
    assert done.returncode == 2
    [line] = without_progress(done.stderr).strip().splitlines()
    assert "no HR data (hr) collected at or before 2026-09-01 (end of day, UTC)" in line


# --- the parser ---------------------------------------------------------------------------

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-11-30", datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2026-11-30T17:00", datetime(2026, 11, 30, 17, 0, tzinfo=UTC)),  # naive is UTC
        ("2026-11-30 17:00:05", datetime(2026, 11, 30, 17, 0, 5, tzinfo=UTC)),
        ("2026-11-30T17:00Z", datetime(2026, 11, 30, 17, 0, tzinfo=UTC)),
        ("2026-11-30T17:00+01:00", datetime(2026, 11, 30, 16, 0, tzinfo=UTC)),
        (" 2026-12-01T12:00 ", NOW),  # now itself is not the future
    ],
)
def test_parse_as_of(text: str, moment: datetime) -> None:
    assert parse_as_of(text, now=NOW) == moment


@pytest.mark.parametrize("text", ["", "30/11/2026", "2026-12-01", "2026-12-01T12:01", "now"])
def test_parse_as_of_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_as_of(text, now=NOW)


# --- the history, resolved and reopened ---------------------------------------------------


def _finding(rule_id: str, system: str) -> Finding:
    subject = f"{system}:00u-x"
    return Finding(
        finding_id=finding_id(rule_id, subject),
        rule_id=rule_id,
        severity=Severity.MEDIUM,
        system=system,
        subject=subject,
        person_id="E9",
        message="x",
        evidence={},
    )


def test_findings_as_of_knows_a_finding_resolved_then_reopened(store: Store) -> None:
    """The findings table keeps only the latest resolution: one resolved and later seen again
    was not open in between, while one kept open (its data incomplete) was."""
    at = [datetime(2026, 10, day, tzinfo=UTC) for day in (1, 2, 3)]
    with store.writing() as conn:
        complete = save_snapshot(conn, directory("okta", at[0], [], [], []), at[0])
        partial = save_snapshot(conn, directory("lab", at[0], [], [], [], complete=False), at[0])
        people = save_snapshot(conn, hr(at[0], []), at[0])
    comes_back = _finding("dormant-account", "okta")  # resolved on day 2, back on day 3
    kept_open = _finding("dormant-account", "lab")  # not seen on day 2, its data incomplete
    ids = {"okta": complete, "lab": partial, "hr": people}
    links: list[AccountLink] = []
    for day, current in zip(
        at, ([comes_back, kept_open], [], [comes_back, kept_open]), strict=True
    ):
        with store.writing() as conn:
            record_evaluation(
                conn,
                started_at=day,
                finished_at=day,
                snapshot_ids=ids,
                policy_digest="x",
                summary={"skipped_rules": {}},
                links=links,
                current=current,
                can_resolve=lambda _rule, system: system != "lab",
            )
    with store.reading() as conn:
        on_day_2 = findings_as_of(conn, at[1] + timedelta(hours=1))
        with_resolved = findings_as_of(
            conn, at[1] + timedelta(hours=1), FindingFilter(include_resolved=True)
        )
        (current,) = [
            r for r in conn.execute(select(findings)) if r.finding_id == comes_back.finding_id
        ]
    assert current.resolved_at is None  # the table no longer says it was ever resolved
    assert on_day_2 is not None and with_resolved is not None
    assert [f.finding_id for f in on_day_2] == [kept_open.finding_id]
    resolved = {f.finding_id: f.resolved_at for f in with_resolved}
    assert resolved == {comes_back.finding_id: at[1], kept_open.finding_id: None}
