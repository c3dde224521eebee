"""The store on SQLite and PostgreSQL: round trips, atomic collects, migrations, file safety."""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from datetime import date
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError

from iam_gov import audit
from iam_gov.errors import StoreError
from iam_gov.model import (
    Account,
    AccountKind,
    AccountStatus,
    Credential,
    CredentialKind,
    EmploymentStatus,
    EmploymentType,
    Entitlement,
    Grant,
    Person,
    PolicyDocument,
    SnapshotError,
    SystemSnapshot,
)
from iam_gov.store import Store
from iam_gov.store.schema import audit_log, metadata, snapshots
from iam_gov.store.snapshots import latest_snapshots, load_snapshot, save_snapshot
from tests.support.world import AS_OF, days_ago


def _aws_snapshot(when=AS_OF, *, complete: bool = True) -> SystemSnapshot:
    user = "arn:aws:iam::1:user/zoë"
    admins = "arn:aws:iam::1:group/Admins"
    admin_policy = "arn:aws:iam::aws:policy/AdministratorAccess"
    return SystemSnapshot(
        system="aws",
        connector="aws",
        source="export:authorization-details.json",
        collected_at=when,
        complete=complete,
        errors=() if complete else (SnapshotError(source="report.csv", message="bad", line=3),),
        accounts=(
            Account(
                system="aws",
                native_id=user,
                login="zoë",
                email="zoe@example.com",
                display_name="Zoë \x1b[31m Doe",
                employee_id="E1",
                status=AccountStatus.ACTIVE,
                kind=AccountKind.HUMAN,
                created_at=days_ago(300),
                last_login_at=days_ago(1),
                mfa_factors=(),
                attributes={"path": "/"},
            ),
            Account(
                system="aws",
                native_id="arn:aws:iam::1:role/r",
                login="r",
                status=AccountStatus.ACTIVE,
                kind=AccountKind.SERVICE,
                mfa_factors=None,
            ),
        ),
        credentials=(
            Credential(
                system="aws",
                account_id=user,
                credential_id=f"{user}#access_key_1",
                kind=CredentialKind.ACCESS_KEY,
                active=True,
                created_at=days_ago(100),
                last_used_at=None,
                attributes={"last_used_service": "s3"},
            ),
        ),
        entitlements=(
            Entitlement(
                system="aws",
                entitlement_id=admin_policy,
                name="AdministratorAccess",
                kind="policy",
                privileged=True,
            ),
            Entitlement(
                system="aws",
                entitlement_id=admins,
                name="Admins",
                kind="group",
                privileged=True,
                owner="it@example.com",
                description="admins",
            ),
        ),
        grants=(
            Grant(system="aws", account_id=user, entitlement_id=admin_policy, via=admins),
            Grant(system="aws", account_id=user, entitlement_id=admins),
        ),
        documents=(
            PolicyDocument(
                system="aws",
                document_id=admin_policy,
                name="AdministratorAccess",
                kind="managed-policy",
                document={"Statement": [{"Effect": "Allow", "Action": "*"}]},
            ),
        ),
        settings={"password_policy": {"MinimumPasswordLength": 14}, "account_id": "1"},
    )


def _hr_snapshot() -> SystemSnapshot:
    return SystemSnapshot(
        system="hr",
        connector="hr",
        source="export:workers.csv",
        collected_at=AS_OF,
        complete=True,
        people=(
            Person(
                employee_id="E1",
                email="zoe@example.com",
                name="Zoë Doe",
                department="Eng",
                title="SRE",
                manager_id="E2",
                employment_type=EmploymentType.CONTRACTOR,
                status=EmploymentStatus.TERMINATED,
                start_date=date(2020, 1, 2),
                end_date=date(2026, 10, 1),
                attributes={"Location": "Berlin"},
            ),
            Person(employee_id="E2", name="Boss", status=EmploymentStatus.ACTIVE),
        ),
    )


def _canonical(snapshot: SystemSnapshot) -> dict[str, object]:
    dumped = snapshot.model_dump(mode="json")
    for key, value in dumped.items():
        if isinstance(value, list):
            dumped[key] = sorted(value, key=repr)
    return dumped


@pytest.mark.parametrize("build", [_aws_snapshot, _hr_snapshot])
def test_a_snapshot_reads_back_exactly_as_written(store: Store, build) -> None:
    original = build()
    with store.writing() as conn:
        sid = save_snapshot(conn, original, AS_OF)
    with store.reading() as conn:
        loaded = load_snapshot(conn, sid)
    assert _canonical(loaded) == _canonical(original)


def test_a_failed_collect_leaves_nothing_behind(store: Store) -> None:
    good = _aws_snapshot()
    broken = good.model_copy(update={"accounts": good.accounts + good.accounts[:1]})
    with pytest.raises(IntegrityError), store.writing() as conn:
        save_snapshot(conn, _hr_snapshot(), AS_OF)
        audit.append(conn, "collect", "hr", {})
        save_snapshot(conn, broken, AS_OF)  # duplicate account: fails half-way
    with store.reading() as conn:
        assert conn.execute(select(func.count()).select_from(snapshots)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == 0
        assert audit.verify(conn).ok


def test_history_is_kept_and_the_newest_snapshot_of_each_system_wins(store: Store) -> None:
    with store.writing() as conn:
        old = save_snapshot(conn, _aws_snapshot(days_ago(2)), AS_OF)
        new = save_snapshot(conn, _aws_snapshot(days_ago(1), complete=False), AS_OF)
        hr = save_snapshot(conn, _hr_snapshot(), AS_OF)
    with store.reading() as conn:
        latest = latest_snapshots(conn)
        assert {name: info.id for name, info in latest.items()} == {"aws": new, "hr": hr}
        assert not latest["aws"].complete
        assert latest["aws"].errors[0].line == 3
        assert latest["aws"].counts["grants"] == 2
        assert load_snapshot(conn, old).complete  # history is still there


def test_migrations_build_exactly_the_schema_the_code_uses(store: Store) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_a_store_from_a_newer_iam_gov_is_refused(store_url: str) -> None:
    Store.open(store_url).close()
    with Store.open(store_url) as store, store.writing() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    with pytest.raises(StoreError, match="newer than this iam-gov"):
        Store.open(store_url)


def test_the_sqlite_file_is_private_even_under_umask_022(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        path = tmp_path / "fresh" / "iam-gov.db"
        with Store.open(f"sqlite:///{path}") as store:
            with store.writing() as conn:
                audit.append(conn, "test", "x", {})
            with store.reading() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                # While connections are open the WAL and shared-memory files exist too.
                files = sorted(p.name for p in path.parent.iterdir())
                assert files == ["iam-gov.db", "iam-gov.db-shm", "iam-gov.db-wal"]
                for name in files:
                    assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o600, name
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        os.umask(previous)


def test_concurrent_writers_never_fork_the_audit_chain(store_url: str) -> None:
    Store.open(store_url).close()
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            with Store.open(store_url) as store:
                for i in range(15):
                    with store.writing() as conn:
                        audit.append(conn, "test", f"{name}-{i}", {"i": i})
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store.open(store_url) as store, store.reading() as conn:
        result = audit.verify(conn)
    assert result.ok, result.problem
    assert result.records == 45


def test_unsupported_or_unreachable_stores_are_one_clear_error_without_the_password() -> None:
    with pytest.raises(StoreError, match="not a supported store"):
        Store.open("mysql://root@localhost/iam")
    with pytest.raises(StoreError) as caught:
        Store.open("postgresql+psycopg://iam:hunter2@127.0.0.1:1/iam?connect_timeout=2")
    assert "hunter2" not in str(caught.value)
    assert "cannot open the store at postgresql+psycopg://iam:***@127.0.0.1:1/iam" in str(
        caught.value
    )


def test_concurrent_evaluations_of_one_store_both_land(store_url: str, tmp_path: Path) -> None:
    from iam_gov.collect import collect
    from iam_gov.config import load_config
    from iam_gov.evaluation import evaluate
    from iam_gov.policy import load_policy
    from iam_gov.rules import all_rules
    from iam_gov.samplegen import generate

    generate(tmp_path / "co", people=60, seed=2, as_of=AS_OF)
    config = load_config(tmp_path / "co" / "iam-gov.toml")
    policy = load_policy(config.policy.path, rules=all_rules())
    with Store.open(store_url) as store:
        collect(config, store)
    results: list[object] = []
    # Make the evaluations reach their first write together, as they would on a busy shared
    # store. With writers serialised, the barrier just times out; without, they collide.
    barrier = threading.Barrier(3, timeout=1)

    def meet(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith("INSERT INTO evaluations"):
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()

    def evaluator() -> None:
        try:
            with Store.open(store_url) as own:
                event.listen(own.engine, "before_cursor_execute", meet)
                results.append(evaluate(own, config, policy))
        except BaseException as exc:  # surfaced below
            results.append(exc)

    threads = [threading.Thread(target=evaluator) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not [r for r in results if isinstance(r, BaseException)], results
    new = sorted(r.recorded.new for r in results)  # type: ignore[attr-defined]
    assert new[0] == new[1] == 0 and new[2] > 0  # exactly one saw the findings first
    with Store.open(store_url) as store, store.reading() as conn:
        assert audit.verify(conn).records == len(config.systems) + 3  # collects + evaluations


def test_sampled_sign_ins_add_up_over_the_stored_snapshots(store: Store) -> None:
    from iam_gov.store.snapshots import seen_history

    def vpn(when, connected: dict[str, object], since=None) -> SystemSnapshot:
        return SystemSnapshot(
            system="vpn",
            connector="openvpn",
            source="status",
            collected_at=when,
            complete=True,
            accounts=tuple(
                Account(
                    system="vpn",
                    native_id=cn,
                    login=cn,
                    status=AccountStatus.ACTIVE,
                    last_login_at=seen,
                )
                for cn, seen in connected.items()
            ),
            settings={"observation": {"observed_since": (since or when).isoformat()}},
        )

    with store.writing() as conn:
        save_snapshot(
            conn, vpn(days_ago(40), {"alice": days_ago(41), "bob": None}, days_ago(60)), AS_OF
        )
        save_snapshot(conn, vpn(days_ago(20), {"alice": None, "bob": days_ago(21)}), AS_OF)
        save_snapshot(conn, vpn(days_ago(1), {"alice": None, "bob": None, "carol": None}), AS_OF)
    with store.reading() as conn:
        seen, since = seen_history(conn, "vpn")
    assert seen == {"alice": days_ago(41), "bob": days_ago(21)}
    assert since == days_ago(60)
