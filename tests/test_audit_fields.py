"""A record the verifier cannot read is a broken log naming that record, never a crash; and
every field the hash covers is covered: changing any of them is caught."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text, update

from iam_gov import audit
from iam_gov.store import Store
from iam_gov.store.schema import audit_log

AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def fill(store: Store) -> None:
    with store.writing() as conn:
        for i in range(1, 6):
            audit.append(conn, "collect", f"system-{i}", {"snapshot_id": i}, at=AT)


def verify(store: Store) -> audit.Verification:
    with store.reading() as conn:
        return audit.verify(conn)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Store:
    """SQLite keeps any text in any column: the store an attacker can garble the most."""
    with Store.open(f"sqlite:///{tmp_path}/iam-gov.db") as opened:
        fill(opened)
        return opened


@pytest.mark.parametrize(
    "value, what",
    [
        ("not json {", "details"),
        ("[1, 2]", "not a JSON object"),
        ("42", "details"),
    ],
)
def test_garbled_details_name_the_record(sqlite_store: Store, value: str, what: str) -> None:
    with sqlite_store.writing() as conn:
        conn.execute(text("UPDATE audit_log SET details = :v WHERE seq = 3"), {"v": value})
    result = verify(sqlite_store)
    assert not result.ok and result.bad_seq == 3
    assert (result.problem or "").startswith("record #3: ") and what in (result.problem or "")
    assert result.records == 2


@pytest.mark.parametrize("value", ["yesterday", "2025-13-45 99:00:00", "12"])
def test_a_garbled_timestamp_names_the_record(sqlite_store: Store, value: str) -> None:
    with sqlite_store.writing() as conn:
        conn.execute(text("UPDATE audit_log SET recorded_at = :v WHERE seq = 3"), {"v": value})
    result = verify(sqlite_store)
    assert not result.ok and result.bad_seq == 3
    assert (result.problem or "").startswith("record #3: its recorded_at ")


def _drop_not_null(store: Store) -> None:
    """What someone with the database can do: the same table without its constraints."""
    with store.writing() as conn:
        conn.execute(text("CREATE TABLE audit_copy AS SELECT * FROM audit_log"))
        conn.execute(text("DROP TABLE audit_log"))
        conn.execute(text("ALTER TABLE audit_copy RENAME TO audit_log"))


@pytest.mark.parametrize(
    "column", ["recorded_at", "details", "actor", "action", "target", "prev_hash", "hash"]
)
def test_a_null_where_a_value_is_required_names_the_record(store: Store, column: str) -> None:
    fill(store)
    _drop_not_null(store)
    with store.writing() as conn:
        conn.execute(text(f"UPDATE audit_log SET {column} = NULL WHERE seq = 3"))
    result = verify(store)
    assert not result.ok and result.bad_seq == 3
    assert result.problem == f"record #3: its {column} is empty (NULL)"


def test_the_command_exits_3_naming_the_record_not_an_internal_error(
    sqlite_store: Store, tmp_path: Path
) -> None:
    with sqlite_store.writing() as conn:
        conn.execute(text("UPDATE audit_log SET details = 'garbled' WHERE seq = 2"))
        conn.execute(text("UPDATE audit_log SET recorded_at = 'garbled' WHERE seq = 4"))
    env = {**os.environ, "IAM_GOV_DATABASE_URL": f"sqlite:///{tmp_path}/iam-gov.db"}
    env.pop("IAM_GOV_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-m", "iam_gov", "audit", "verify"],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200"},
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 3, result.stderr
    assert "internal error" not in result.stderr
    assert "audit log BROKEN: record #2: its details" in result.stderr


# --- every hashed field is covered --------------------------------------------------------


@pytest.mark.parametrize(
    "column, value",
    [
        ("recorded_at", datetime(2025, 3, 1, 12, 0, 1, tzinfo=UTC)),
        ("actor", "mallory@host"),
        ("action", "evaluate"),
        ("target", "system-9"),
        ("details", {"snapshot_id": 99}),
        ("prev_hash", "f" * 64),
    ],
)
def test_changing_any_hashed_field_is_caught(store: Store, column: str, value: object) -> None:
    """A hash that left out any one of these would let this edit through."""
    fill(store)
    with store.writing() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values({column: value}))
    result = verify(store)
    assert not result.ok and result.bad_seq == 3
    assert "record #3" in (result.problem or "") and "changed" in (result.problem or "")


def test_changing_a_records_stored_hash_is_caught(store: Store) -> None:
    fill(store)
    with store.writing() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(hash="e" * 64))
    result = verify(store)
    assert not result.ok and result.bad_seq == 3
