"""The store's safety: files only their owner can read however they are named, read-only
commands that never create a store, and storage failures told in one line without the rows."""

from __future__ import annotations

import csv
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from iam_gov import audit
from iam_gov.errors import StoreError
from iam_gov.samplegen import generate
from iam_gov.store import Store
from iam_gov.store.database import create_store_engine
from tests.support.progress_log import without_progress
from tests.support.world import AS_OF
from tests.test_cli import iam_gov


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- private files ----------------------------------------------------------------------------


def test_a_store_through_a_dangling_symlink_is_refused_and_nothing_is_created(
    tmp_path: Path, umask_022: None
) -> None:
    # Chosen behaviour: refuse. Following the link would let SQLite create the target with the
    # umask's permissions (0644), in a place the link's owner chose.
    target = tmp_path / "elsewhere" / "iam-gov.db"
    target.parent.mkdir()
    link = tmp_path / "iam-gov.db"
    link.symlink_to(target)
    with pytest.raises(StoreError, match="symbolic link to a missing file"):
        Store.open(f"sqlite:///{link}")
    assert not target.exists()
    assert sorted(p.name for p in target.parent.iterdir()) == []


def test_a_store_through_a_link_to_an_existing_store_opens_it(tmp_path: Path) -> None:
    target = tmp_path / "disk" / "iam-gov.db"
    Store.open(f"sqlite:///{target}").close()
    link = tmp_path / "iam-gov.db"
    link.symlink_to(target)
    with Store.open(f"sqlite:///{link}") as store, store.writing() as conn:
        audit.append(conn, "test", "via-link", {})
    with Store.open(f"sqlite:///{target}") as store, store.reading() as conn:
        assert audit.verify(conn).records == 1


def test_a_store_named_by_a_file_uri_is_created_private(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "uri" / "iam-gov.db"
    with Store.open(f"sqlite:///file:{path}?mode=rwc&uri=true") as store:
        with store.writing() as conn:
            audit.append(conn, "test", "x", {})
        with store.reading() as conn:
            names = sorted(p.name for p in path.parent.iterdir())
            assert names == ["iam-gov.db", "iam-gov.db-shm", "iam-gov.db-wal"]
            for name in names:
                assert mode(path.parent / name) == 0o600, name
    assert mode(path.parent) == 0o700


def test_wal_and_shm_files_exist_0600_before_sqlite_opens_the_store(
    tmp_path: Path, umask_022: None
) -> None:
    path = tmp_path / "iam-gov.db"
    engine = create_store_engine(f"sqlite:///{path}")
    try:
        # No connection yet: what exists was made by iam-gov, owner-only, not by SQLite.
        for name in ("iam-gov.db", "iam-gov.db-wal", "iam-gov.db-shm"):
            assert mode(tmp_path / name) == 0o600, name
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            conn.exec_driver_sql("CREATE TABLE t (x)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            for name in ("iam-gov.db", "iam-gov.db-wal", "iam-gov.db-shm"):
                assert mode(tmp_path / name) == 0o600, name
    finally:
        engine.dispose()


def test_a_stale_wal_beside_a_missing_store_is_refused(tmp_path: Path) -> None:
    (tmp_path / "iam-gov.db-wal").write_bytes(b"old pages")
    with pytest.raises(StoreError, match="left beside a missing store"):
        Store.open(f"sqlite:///{tmp_path / 'iam-gov.db'}")
    assert not (tmp_path / "iam-gov.db").exists()


def test_an_existing_store_others_can_read_is_opened_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "iam-gov.db"
    Store.open(f"sqlite:///{path}").close()
    assert capsys.readouterr().err == ""  # a store iam-gov created draws no warning
    path.chmod(0o644)
    Store.open(f"sqlite:///{path}").close()
    warning = capsys.readouterr().err
    assert warning.count("\n") == 1
    assert warning.startswith(f"warning: the store {path} can be read by others (mode 0644)")


# --- read-only opening ------------------------------------------------------------------------


def test_a_read_only_open_never_creates_a_store(store_url: str) -> None:
    # SQLite: the file is missing; PostgreSQL: the database exists but is empty (a typo'd name
    # on a shared server looks like this). Both are refused, and nothing is created.
    with pytest.raises(StoreError, match=r"no store at|is empty: no evaluation yet"):
        Store.open(store_url, create=False)
    if store_url.startswith("sqlite"):
        assert not Path(store_url.removeprefix("sqlite:///")).exists()
    else:
        engine = create_store_engine(store_url)
        try:
            assert inspect(engine).get_table_names() == []
        finally:
            engine.dispose()


def test_a_read_only_open_refuses_an_empty_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "iam-gov.db"
    path.touch(mode=0o600)
    with pytest.raises(StoreError, match="is empty"):
        Store.open(f"sqlite:///{path}", create=False)


def test_a_read_only_open_of_an_existing_store_works(store_url: str) -> None:
    with Store.open(store_url) as store, store.writing() as conn:
        audit.append(conn, "test", "x", {})
    with Store.open(store_url, create=False) as store, store.reading() as conn:
        assert audit.verify(conn).records == 1


# --- storage errors -----------------------------------------------------------------------------


def test_statement_parameters_never_appear_in_an_error(store_url: str) -> None:
    with Store.open(store_url) as store:
        with store.writing() as conn:
            conn.execute(text("CREATE TABLE t (x VARCHAR(50) PRIMARY KEY)"))
            conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": "zoe@example.com"})
        with pytest.raises(IntegrityError) as raised, store.writing() as conn:
            conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": "zoe@example.com"})
    assert "parameters hidden" in str(raised.value)
    # PostgreSQL's own DETAIL line quotes the key; the parameters SQLAlchemy adds never do.
    assert "'zoe@example.com'" not in str(raised.value)


def test_a_full_disk_is_one_line_naming_the_store_without_the_rows(tmp_path: Path) -> None:
    path = tmp_path / "iam-gov.db"
    with Store.open(f"sqlite:///{path}") as store:
        with store.reading() as conn:
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
            assert isinstance(pages, int)
        with pytest.raises(StoreError) as raised, store.writing() as conn:
            conn.exec_driver_sql(f"PRAGMA max_page_count = {pages}")
            audit.append(conn, "test", "Zoë Doe <zoe@example.com>", {"x": "y" * 20_000})
    message = str(raised.value)
    assert message == f"the store at sqlite:///{path} failed: database or disk is full"


@pytest.mark.postgres
def test_a_lost_postgresql_connection_is_one_line_naming_the_store(
    postgres_database: Callable[[], str],
) -> None:
    url = postgres_database()
    with Store.open(url) as store, pytest.raises(StoreError) as raised, store.writing() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
    message = str(raised.value)
    assert message.startswith(f"the store at {store.display_url} failed: ")
    assert "terminating connection" in message
    assert "\n" not in message and "[SQL" not in message


FULL_DISK = """
import sys
from sqlalchemy import Engine, event

@event.listens_for(Engine, "connect")
def _small_disk(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    pages = cursor.execute("PRAGMA page_count").fetchone()[0]
    cursor.execute(f"PRAGMA max_page_count = {pages + 2}")
    cursor.close()

from iam_gov.cli import main
sys.argv[0] = "iam-gov"
main()
"""


@pytest.fixture
def company(tmp_path: Path) -> Path:
    out = tmp_path / "company"
    generate(out, people=30, seed=5, as_of=AS_OF)
    return out


def _names_and_emails(company: Path) -> set[str]:
    found = set()
    for path in company.rglob("*.csv"):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                for key, value in row.items():
                    named = key and ("mail" in key.lower() or "name" in key.lower())
                    if named and value and len(value) > 4:
                        found.add(value)
    return found


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_the_cli_on_a_full_disk_prints_one_line_and_exits_2(
    company: Path, tmp_path: Path, debug: bool
) -> None:
    db = tmp_path / "store" / "iam-gov.db"
    Store.open(f"sqlite:///{db}").close()  # the schema fits; the people will not
    env = {**os.environ, "IAM_GOV_DATABASE_URL": f"sqlite:///{db}", "COLUMNS": "200"}
    env.pop("IAM_GOV_CONFIG", None)
    args = ["--debug"] if debug else []
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, *args, "--config", str(company / "iam-gov.toml")]
        + ["collect"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = without_progress(done.stderr).strip().splitlines()
    if not debug:
        assert lines == [f"error: the store at sqlite:///{db} failed: database or disk is full"]
    else:
        assert lines[-1] == f"error: the store at sqlite:///{db} failed: database or disk is full"
        assert "parameters hidden" in done.stderr  # the traceback, still without the rows
    assert "[parameters:" not in done.stderr
    people = _names_and_emails(company)
    assert len(people) > 20
    leaked = sorted(p for p in people if p in done.stderr or p in done.stdout)
    assert leaked == []
    if not debug:
        assert "INSERT" not in done.stderr and "[SQL" not in done.stderr


def test_a_store_that_refuses_writes_is_one_line_and_exit_2(company: Path, tmp_path: Path) -> None:
    # SQLite's read-only mode refuses writes even to root, unlike a file's permissions.
    db = tmp_path / "store" / "iam-gov.db"
    Store.open(f"sqlite:///{db}").close()
    url = f"sqlite:///file:{db}?mode=ro&uri=true"
    env = {**os.environ, "IAM_GOV_DATABASE_URL": url, "COLUMNS": "200"}
    env.pop("IAM_GOV_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "iam_gov", "--config", str(company / "iam-gov.toml"), "collect"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = without_progress(done.stderr).strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: the store at sqlite:///file")  # SQLAlchemy quotes the :
    assert lines[0].endswith(f"{db}?mode=ro&uri=true failed: attempt to write a readonly database")


# --- read-only commands -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["audit", "verify"],
        ["audit", "log"],
        ["findings"],
        ["explain", "E0001"],
        ["explain", "--expected"],
        ["problems"],
        ["drift"],
    ],
    ids=lambda c: " ".join(c),
)
def test_a_read_only_command_on_a_missing_store_fails_and_creates_nothing(
    company: Path, tmp_path: Path, command: list[str]
) -> None:
    db = tmp_path / "typo" / "iam-gov.db"
    done = iam_gov("--config", str(company / "iam-gov.toml"), *command, db=db)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(db) in lines[0]
    assert not db.exists()
    assert not db.parent.exists()


def test_audit_verify_on_an_empty_store_fails(tmp_path: Path) -> None:
    db = tmp_path / "iam-gov.db"
    Store.open(f"sqlite:///{db}").close()  # a schema, and not one record
    done = iam_gov("audit", "verify", db=db)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip() == (
        f"error: the audit log of sqlite:///{db} is empty: nothing to verify"
    )
