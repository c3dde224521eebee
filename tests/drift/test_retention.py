"""Retention on SQLite and PostgreSQL: old snapshots go with their rows, unless a pinned
baseline, a campaign, a deprovisioning run, a kept report or the latest evaluation refers to
them, or they are the newest of their system; old report rows and folders go (folders by their
names only); the audit log is only ever appended to."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from iam_gov import audit
from iam_gov.config import RetentionSettings
from iam_gov.drift.deliver import LATEST, folder_name
from iam_gov.drift.retention import prune
from iam_gov.model import Account, AccountStatus, Entitlement, Grant, Person, SystemSnapshot
from iam_gov.model import EmploymentStatus as Status
from iam_gov.store import Store
from iam_gov.store.schema import (
    accounts,
    audit_log,
    baselines,
    campaigns,
    deprovision_runs,
    drift_reports,
    entitlements,
    evaluations,
    grants,
    people,
    person_changes,
    snapshots,
)
from iam_gov.store.snapshots import save_snapshot

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
SETTINGS = RetentionSettings(keep_days=30, keep_runs=5)


def day(n: int, minutes: int = 60) -> datetime:
    """``n`` days before now, a little earlier still (so that day 30 is older than 30 days)."""
    return NOW - timedelta(days=n, minutes=minutes)


def okta_snapshot(n: int) -> SystemSnapshot:
    return SystemSnapshot(
        system="okta",
        connector="okta",
        source="live",
        collected_at=day(n),
        complete=True,
        accounts=tuple(
            Account(system="okta", native_id=f"u{i}", login=f"user{i}", status=AccountStatus.ACTIVE)
            for i in range(3)
        ),
        entitlements=(
            Entitlement(system="okta", entitlement_id="g1", name="admins", kind="group"),
        ),
        grants=tuple(
            Grant(system="okta", account_id=f"u{i}", entitlement_id="g1") for i in range(3)
        ),
    )


def hr_snapshot(n: int) -> SystemSnapshot:
    return SystemSnapshot(
        system="hr",
        connector="hr",
        source="export:hr.csv",
        collected_at=day(n),
        complete=True,
        people=(Person(employee_id="E1", name="Ann", status=Status.ACTIVE),),
    )


@dataclass
class World:
    okta: dict[int, int]
    """day -> snapshot id"""
    hr: dict[int, int]
    vpn: int
    reports_root: Path
    report_ids: dict[int, int]
    """day -> drift_reports id"""
    audit_before: int


def seed(store: Store, root: Path) -> World:
    okta: dict[int, int] = {}
    hr: dict[int, int] = {}
    with store.writing() as conn:
        for n in range(60):
            okta[n] = save_snapshot(conn, okta_snapshot(n), day(n))
        for n in range(0, 80, 10):
            hr[n] = save_snapshot(conn, hr_snapshot(n), day(n))
        vpn = save_snapshot(
            conn,
            SystemSnapshot(
                system="vpn",
                connector="openvpn",
                source="live",
                collected_at=day(100),
                complete=True,
            ),
            day(100),
        )
        conn.execute(
            person_changes.insert(),
            [
                {
                    "snapshot_id": hr[70],
                    "employee_id": "E1",
                    "field": "title",
                    "old_value": "a",
                    "new_value": "b",
                    "changed_at": day(70),
                }
            ],
        )
        conn.execute(
            baselines.insert().values(
                name="q1",
                pinned_at=day(45),
                pinned_by="ops",
                snapshot_ids={"okta": okta[45], "hr": hr[50]},
            )
        )
        conn.execute(
            campaigns.insert().values(
                name="old review",
                kind="periodic",
                status="closed",
                definition={},
                created_at=day(55),
                created_by="ops",
                snapshot_ids={"okta": okta[55]},
                item_count=0,
            )
        )
        conn.execute(
            campaigns.insert().values(
                name="draft",
                kind="periodic",
                status="draft",
                definition={},
                created_at=day(1),
                created_by="ops",
                item_count=0,
            )
        )
        conn.execute(
            deprovision_runs.insert().values(
                plan_id="p" * 64,
                kind="deprovision",
                trigger="hr",
                reason="leaver",
                actor="ops",
                started_at=day(58),
                status="done",
                allow_mass=False,
                plan={"basis": [{"system": "okta", "snapshot_id": okta[58], "state": "x"}]},
            )
        )
        for eval_day, ids in ((52, {"okta": okta[52]}), (0, {"okta": okta[0], "hr": hr[0]})):
            conn.execute(
                evaluations.insert().values(
                    started_at=day(eval_day),
                    finished_at=day(eval_day),
                    snapshot_ids=ids,
                    policy_digest="0" * 64,
                    summary={},
                )
            )
        for n in range(3):
            audit.append(conn, "collect", f"system:{n}", {"n": n}, actor="ops", at=day(n))

    # One report a day for 40 days, each with its folder, compared with the day before.
    root.mkdir()
    report_ids: dict[int, int] = {}
    with store.writing() as conn:
        for n in range(40):
            made = day(n, minutes=30)
            folder = root / folder_name(made)
            folder.mkdir()
            (folder / "drift.md").write_text(f"day {n}")
            if n == 5:  # a kept report whose folder's name is old
                folder = root / "2024-12-01T000000Z"
                folder.mkdir()
            report_ids[n] = conn.execute(
                drift_reports.insert()
                .values(
                    made_at=made,
                    folder=str(folder),
                    baseline={"kind": "previous", "snapshot_ids": {"okta": okta[n + 1]}},
                    snapshot_ids={"okta": okta[n], "hr": hr[n // 10 * 10]},
                    exit_code=0,
                    summary={},
                )
                .returning(drift_reports.c.id)
            ).scalar_one()
    (root / LATEST).symlink_to(folder_name(day(0, minutes=30)))
    with store.reading() as conn:
        audit_before = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
    return World(okta, hr, vpn, root, report_ids, audit_before)


def decoys(root: Path, outside: Path) -> list[Path]:
    """Things under the reports folder that are not report folders, or must not be followed."""
    made = [
        root / "notes",
        root / "2025-01-01",
        root / "2024-01-01T000000Z.bak",
        root / ".incoming-abc",
    ]
    for path in made:
        path.mkdir()
        (path / "keep.txt").write_text("mine")
    (root / "2024-01-02T000000Z").write_text("a file named like a folder")
    outside.mkdir()
    (outside / "precious.txt").write_text("not a report")
    (root / "2024-01-03T000000Z").symlink_to(outside, target_is_directory=True)
    return [*made, root / "2024-01-02T000000Z", root / "2024-01-03T000000Z"]


def snapshot_ids(store: Store) -> set[int]:
    with store.reading() as conn:
        return set(conn.execute(select(snapshots.c.id)).scalars())


def rows_of(store: Store, ids: set[int]) -> dict[str, int]:
    with store.reading() as conn:
        return {
            table.name: conn.execute(
                select(func.count()).select_from(table).where(table.c.snapshot_id.in_(ids))
            ).scalar_one()
            for table in (accounts, grants, entitlements, people, person_changes)
        }


def expected(world: World) -> tuple[set[int], set[int]]:
    """(kept, deleted) snapshot ids."""
    kept_okta = set(range(30)) | {30, 45, 55, 58}  # young; report 29's baseline; references
    kept_hr = {0, 10, 20, 30, 40, 50}  # the newest five; the pinned baseline
    kept = {world.okta[n] for n in kept_okta} | {world.hr[n] for n in kept_hr} | {world.vpn}
    every = set(world.okta.values()) | set(world.hr.values()) | {world.vpn}
    return kept, every - kept


def test_prune_keeps_exactly_what_is_referred_to(store: Store, tmp_path: Path) -> None:
    world = seed(store, tmp_path / "reports")
    left_alone = decoys(world.reports_root, tmp_path / "outside")
    kept, gone = expected(world)
    assert len(gone) == 26 + 2  # okta 31..59 but 45, 55, 58; hr 60 and 70
    before = rows_of(store, gone)
    assert before["accounts"] == 3 * 26 and before["person_changes"] == 1

    result = prune(store, SETTINGS, reports_root=world.reports_root, now=NOW, actor="scheduler")

    assert not result.dry_run and result.cutoff == NOW - timedelta(days=30)
    assert set(result.snapshots) == gone
    assert snapshot_ids(store) == kept
    assert result.by_system == {"hr": 2, "okta": 26}
    assert rows_of(store, gone) == dict.fromkeys(before, 0)
    assert result.rows["accounts"] == before["accounts"]
    assert result.rows["grants"] == before["grants"]
    assert result.rows["person_changes"] == 1
    assert rows_of(store, kept)["accounts"] == 3 * 34
    assert result.referenced == {
        world.okta[30]: [f"drift report {world.report_ids[29]} (its baseline)"],
        world.okta[45]: ["baseline q1"],
        world.okta[55]: [f"campaign {campaign_id(store, 'old review')}"],
        world.okta[58]: [f"deprovisioning run {run_id(store)}"],
        world.hr[50]: ["baseline q1"],
    }

    # Reports: rows and folders beyond 30 days and the newest five go.
    old_days = range(30, 40)
    assert sorted(result.reports) == sorted(world.report_ids[n] for n in old_days)
    with store.reading() as conn:
        left = set(conn.execute(select(drift_reports.c.id)).scalars())
        assert conn.execute(select(func.count()).select_from(evaluations)).scalar_one() == 2
    assert left == {world.report_ids[n] for n in range(30)}
    gone_folders = {world.reports_root / folder_name(day(n, minutes=30)) for n in old_days}
    assert set(result.folders) == gone_folders and result.problems == []
    assert not any(p.exists() for p in gone_folders)
    for n in range(30):
        assert (world.reports_root / folder_name(day(n, minutes=30)) / "drift.md").exists()
    assert (world.reports_root / "2024-12-01T000000Z").is_dir()  # named by kept report 5
    for path in left_alone:
        assert os.path.lexists(path)
    assert (tmp_path / "outside" / "precious.txt").exists()
    assert (world.reports_root / LATEST).resolve() == (
        world.reports_root / folder_name(day(0, minutes=30))
    )

    # The audit log: nothing removed, one record added, the chain whole.
    with store.reading() as conn:
        assert (
            conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
            == world.audit_before + 1
        )
        assert audit.verify(conn).ok
        (record,) = audit.records(conn, limit=1)
    assert (record.action, record.target, record.actor) == (
        "retention.prune",
        "retention",
        audit.attributed("scheduler"),  # the OS user, with the scheduler's claim beside it
    )
    assert record.details["snapshots"] == 28
    assert sorted(record.details["snapshot_ids"]) == sorted(gone)
    assert record.details["reports"] == 10
    assert record.details["rows"]["accounts"] == 78
    assert sorted(record.details["folders"]) == sorted(p.name for p in gone_folders)

    # Again: nothing more to do, and it says so.
    again = prune(store, SETTINGS, reports_root=world.reports_root, now=NOW)
    assert (again.snapshots, again.reports, again.folders) == ([], [], [])
    assert snapshot_ids(store) == kept
    with store.reading() as conn:
        assert audit.verify(conn).ok
        assert audit.records(conn, limit=1)[0].details["snapshots"] == 0


def campaign_id(store: Store, name: str) -> int:
    with store.reading() as conn:
        return int(
            conn.execute(select(campaigns.c.id).where(campaigns.c.name == name)).scalar_one()
        )


def run_id(store: Store) -> int:
    with store.reading() as conn:
        return int(conn.execute(select(deprovision_runs.c.id)).scalar_one())


def test_a_dry_run_deletes_nothing_and_says_the_same(store: Store, tmp_path: Path) -> None:
    world = seed(store, tmp_path / "reports")
    every = snapshot_ids(store)
    folders = set(world.reports_root.iterdir())
    _, gone = expected(world)

    dry = prune(store, SETTINGS, reports_root=world.reports_root, now=NOW, dry_run=True)

    assert dry.dry_run and set(dry.snapshots) == gone
    assert dry.rows["accounts"] == 78 and dry.rows["person_changes"] == 1
    assert len(dry.reports) == 10 and len(dry.folders) == 10
    assert snapshot_ids(store) == every
    assert set(world.reports_root.iterdir()) == folders
    with store.reading() as conn:
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == (
            world.audit_before
        )
        assert conn.execute(select(func.count()).select_from(drift_reports)).scalar_one() == 40

    real = prune(store, SETTINGS, reports_root=world.reports_root, now=NOW)
    assert (real.snapshots, real.rows, real.reports, real.folders) == (
        dry.snapshots,
        dry.rows,
        dry.reports,
        dry.folders,
    )


def test_without_a_reports_folder_no_folder_is_touched(store: Store, tmp_path: Path) -> None:
    world = seed(store, tmp_path / "reports")
    folders = set(world.reports_root.iterdir())
    result = prune(store, SETTINGS, reports_root=None, now=NOW)
    assert len(result.reports) == 10 and result.folders == []
    assert set(world.reports_root.iterdir()) == folders


def test_folders_without_rows_go_by_their_names(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "reports"
    root.mkdir()
    names = [folder_name(day(n)) for n in (0, 1, 40, 41)] + ["2020-01-01T000000Z-2"]
    for name in names:
        (root / name).mkdir()
        (root / name / "drift.json").write_text("{}")
    left_alone = decoys(root, tmp_path / "outside")
    result = prune(store, RetentionSettings(keep_days=30, keep_runs=1), reports_root=root, now=NOW)
    assert sorted(p.name for p in result.folders) == sorted(names[2:])
    assert sorted(p.name for p in root.iterdir() if p not in left_alone) == sorted(names[:2])
    assert all(os.path.lexists(p) for p in left_alone)


def test_the_newest_runs_are_kept_however_old(store: Store, tmp_path: Path) -> None:
    with store.writing() as conn:
        ids = [save_snapshot(conn, okta_snapshot(n), day(n)) for n in (400, 401, 402)]
    result = prune(store, RetentionSettings(keep_days=1, keep_runs=2), reports_root=None, now=NOW)
    assert result.snapshots == [ids[2]]
    assert snapshot_ids(store) == set(ids[:2])
    result = prune(store, RetentionSettings(keep_days=1, keep_runs=1), reports_root=None, now=NOW)
    assert snapshot_ids(store) == {ids[0]}  # the newest of its system, always


def test_an_empty_store(store: Store, tmp_path: Path) -> None:
    result = prune(store, SETTINGS, reports_root=tmp_path / "none", now=NOW)
    assert (result.snapshots, result.reports, result.folders, result.problems) == ([], [], [], [])
    with store.reading() as conn:
        assert audit.verify(conn).ok and audit.verify(conn).records == 1
