"""mover-access with the moves the HR export itself reports (previous department, title,
manager and the effective date): found from a single export, reported in the run that first
sees them, still found by comparing snapshots, and one finding when both sources see a move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from iam_gov.connectors.hr.connector import HRConnector, HROptions
from iam_gov.model import Finding, Person, SystemSnapshot
from iam_gov.store import Store
from iam_gov.store.people import latest_moves, record_changes
from iam_gov.store.schema import person_changes
from iam_gov.store.snapshots import save_snapshot
from tests.support.world import AS_OF, World, account, days_ago, grant, group, moved, person

RULE = "mover-access"
POLICY = """\
version: 1
roles:
  - name: engineer
    match: {department: Engineering}
    grants: {aws: ["group:Developers"]}
  - name: sales
    match: {department: Sales}
    grants: {aws: ["group:CRM"]}
"""
HR_HEADER = (
    "Employee ID,Legal Name,Email - Primary Work,Supervisory Organization,Business Title,"
    "Worker Status,Previous Supervisory Organization,Previous Business Title,"
    "Job Change Effective Date\n"
)


def workday_export(tmp_path: Path, name: str, row: str, at: datetime) -> SystemSnapshot:
    """A Workday-style export with Jane's row, read by the HR connector as taken at ``at``."""
    path = tmp_path / name
    path.write_text(HR_HEADER + row, encoding="utf-8")
    options = HROptions.model_validate(
        {"type": "hr", "path": str(path), "preset": "workday", "exported_at": at}
    )
    return HRConnector("hr", options).collect()


def stored(store: Store, snapshot: SystemSnapshot) -> None:
    """What collecting does with an HR snapshot: store it, then record what changed."""
    with store.writing() as conn:
        sid = save_snapshot(conn, snapshot, snapshot.collected_at)
        record_changes(conn, sid, snapshot)


def findings(store: Store, people: tuple[Person, ...], *held: str) -> list[Finding]:
    """The rule's findings with the moves recorded in the store, on a day after AS_OF."""
    with store.reading() as conn:
        moves = latest_moves(conn, "hr")
    jane = account("jane.doe", employee_id="E1")
    groups = {name: group(name) for name in ("Developers", "CRM")}
    world = World(
        policy_yaml=POLICY,
        people=list(people),
        accounts=[jane],
        entitlements=list(groups.values()),
        grants=[grant(jane, groups[name]) for name in held],
        moves=moves,
    )
    return world.findings(RULE)


def iso(days: float) -> str:
    return days_ago(days).date().isoformat()


JANE_MOVED = "E1,Jane Doe,jane@example.com,Sales,Account Executive,Active,Engineering,Engineer,{}\n"
JANE_IN_ENGINEERING = "E1,Jane Doe,jane@example.com,Engineering,Engineer,Active,,,\n"


def test_a_workday_export_gives_movers_with_no_earlier_snapshot(
    tmp_path: Path, store: Store
) -> None:
    snapshot = workday_export(tmp_path, "hr.csv", JANE_MOVED.format(iso(45)), AS_OF)
    stored(store, snapshot)
    # The people without their reported move: it must come from what collect recorded.
    bare = tuple(p.model_copy(update={"moved_at": None}) for p in snapshot.people)
    [finding] = findings(store, bare, "Developers", "CRM")
    assert finding.person_id == "E1"
    assert finding.evidence["days_since_change"] == 45  # from HR's effective date
    assert finding.evidence["entitlement"] == "group:Developers"
    assert finding.evidence["changes"] == {
        "department": ["Engineering", "Sales"],
        "title": ["Engineer", "Account Executive"],
    }
    assert "changed role on " + iso(45) in finding.message


def test_a_bamboohr_job_history_gives_movers_from_one_export(tmp_path: Path) -> None:
    (tmp_path / "employees.csv").write_text(
        "Employee #,First Name,Last Name,Work Email,Department,Job Title,Status\n"
        "E1,Jane,Doe,jane@example.com,Sales,Account Executive,Active\n",
        encoding="utf-8",
    )
    (tmp_path / "job-info.csv").write_text(
        "Employee #,Date,Location,Department,Job Title,Reports To\n"
        f"E1,{days_ago(400):%m/%d/%Y},Berlin,Engineering,Engineer,\n"
        f"E1,{days_ago(60):%m/%d/%Y},Berlin,Sales,Account Executive,\n",
        encoding="utf-8",
    )
    options = HROptions.model_validate(
        {
            "type": "hr",
            "path": str(tmp_path / "employees.csv"),
            "preset": "bamboohr",
            "job_history": str(tmp_path / "job-info.csv"),
            "exported_at": AS_OF,
        }
    )
    snapshot = HRConnector("hr", options).collect()
    jane = account("jane.doe", employee_id="E1")
    developers = group("Developers")
    # No moves from the store at all: the state takes the move from the people themselves.
    world = World(
        policy_yaml=POLICY,
        people=list(snapshot.people),
        accounts=[jane],
        entitlements=[developers],
        grants=[grant(jane, developers)],
    )
    [finding] = world.findings(RULE)
    assert finding.evidence["days_since_change"] == 60
    assert finding.evidence["previous_roles"] == ["engineer"]


def test_a_move_first_seen_in_the_newest_snapshot_is_reported_in_that_run(
    tmp_path: Path, store: Store
) -> None:
    before = workday_export(tmp_path, "old.csv", JANE_IN_ENGINEERING, days_ago(90))
    stored(store, before)
    # The next export, 90 days later, is the first to show the move, which took effect 45
    # days ago: the snapshots alone would date it today and wait out the grace period.
    newest = workday_export(tmp_path, "new.csv", JANE_MOVED.format(iso(45)), AS_OF)
    stored(store, newest)
    with store.reading() as conn:
        move = latest_moves(conn, "hr")["E1"]
        rows = conn.execute(select(func.count()).select_from(person_changes)).scalar_one()
    assert move.changed_at == datetime.combine(days_ago(45).date(), datetime.min.time(), UTC)
    assert move.changes["department"] == ("Engineering", "Sales")
    assert rows == 2  # department and title, once: one move, not a diff and a report
    assert len(findings(store, newest.people, "Developers")) == 1


def test_snapshot_comparison_still_finds_movers(tmp_path: Path, store: Store) -> None:
    plain = "E1,Jane Doe,jane@example.com,{},Engineer,Active,,,\n"
    stored(store, workday_export(tmp_path, "old.csv", plain.format("Engineering"), days_ago(90)))
    newest = workday_export(tmp_path, "new.csv", plain.format("Sales"), days_ago(40))
    stored(store, newest)
    [finding] = findings(store, newest.people, "Developers")
    assert finding.evidence["days_since_change"] == 40  # dated by the snapshot that showed it
    assert finding.evidence["changes"] == {"department": ["Engineering", "Sales"]}


def test_one_move_seen_both_ways_and_exported_again_is_one_finding(
    tmp_path: Path, store: Store
) -> None:
    stored(store, workday_export(tmp_path, "a.csv", JANE_IN_ENGINEERING, days_ago(90)))
    stored(store, workday_export(tmp_path, "b.csv", JANE_MOVED.format(iso(45)), days_ago(30)))
    # The next export still reports the same move: nothing new is recorded.
    newest = workday_export(tmp_path, "c.csv", JANE_MOVED.format(iso(45)), AS_OF)
    stored(store, newest)
    with store.reading() as conn:
        assert conn.execute(select(func.count()).select_from(person_changes)).scalar_one() == 2
    found = findings(store, newest.people, "Developers", "CRM")
    assert [f.evidence["entitlement"] for f in found] == ["group:Developers"]


def test_a_reported_move_within_the_grace_period_waits() -> None:
    jane = person(
        "E1",
        department="Sales",
        title="Account Executive",
        previous_department="Engineering",
        moved_at=(AS_OF - timedelta(days=10)).date(),
    )
    acct = account("jane.doe", employee_id="E1")
    developers = group("Developers")
    world = World(
        policy_yaml=POLICY,
        people=[jane],
        accounts=[acct],
        entitlements=[developers],
        grants=[grant(acct, developers)],
    )
    assert world.findings(RULE) == []
    world.policy_yaml = POLICY + "rules:\n  mover-access: {grace_days: 7}\n"
    [finding] = world.findings(RULE)
    assert finding.evidence["days_since_change"] == 10


def test_a_newer_recorded_move_wins_over_an_older_reported_one() -> None:
    jane = person(
        "E1",
        department="Sales",
        previous_department="Support",
        moved_at=(AS_OF - timedelta(days=200)).date(),
    )
    world = World(
        policy_yaml=POLICY,
        people=[jane],
        moves=moved("E1", 40, department=("Engineering", "Sales")),
    )
    assert world.state().moves["E1"].changes == {"department": ("Engineering", "Sales")}
