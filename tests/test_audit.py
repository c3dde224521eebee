"""The hash-chained audit log: intact chains verify; any edit, deletion or reordering is named."""

from __future__ import annotations

import pytest
from sqlalchemy import text, update

from iam_gov import audit
from iam_gov.store import Store
from iam_gov.store.schema import audit_head, audit_log


@pytest.fixture
def five(store: Store) -> Store:
    with store.writing() as conn:
        for i in range(1, 6):
            audit.append(conn, "collect", f"system-{i}", {"snapshot_id": i, "name": "Zoë"})
    return store


def verify(store: Store, **kwargs: str) -> audit.Verification:
    with store.reading() as conn:
        return audit.verify(conn, **kwargs)


def test_a_fresh_store_verifies(store: Store) -> None:
    result = verify(store)
    assert result.ok and result.records == 0 and result.head_hash == audit.GENESIS


def test_an_intact_chain_verifies_and_reports_its_head(five: Store) -> None:
    result = verify(five)
    assert result.ok, result.problem
    assert result.records == 5
    with five.reading() as conn:
        newest, before = audit.records(conn, limit=2)
    assert (newest.seq, newest.hash) == (5, result.head_hash)
    assert newest.prev_hash == before.hash


@pytest.mark.parametrize(
    "column, value",
    [("details", {"snapshot_id": 99, "name": "Zoë"}), ("actor", "mallory@host"), ("target", "x")],
)
def test_an_edited_record_is_named(five: Store, column: str, value: object) -> None:
    with five.writing() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values({column: value}))
    result = verify(five)
    assert not result.ok
    assert result.bad_seq == 3
    assert "record #3" in (result.problem or "") and "changed" in (result.problem or "")


def test_a_deleted_record_is_named(five: Store) -> None:
    with five.writing() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq == 3))
    result = verify(five)
    assert not result.ok
    assert result.bad_seq == 3
    assert "record #3 is missing" in (result.problem or "")


def test_deleting_and_renumbering_is_still_caught(five: Store) -> None:
    with five.writing() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq == 3))
        for seq in (4, 5):
            conn.execute(update(audit_log).where(audit_log.c.seq == seq).values(seq=seq - 1))
        conn.execute(update(audit_head).values(seq=4))
    result = verify(five)
    assert not result.ok
    assert result.bad_seq == 3
    assert "does not follow record #2" in (result.problem or "")


def test_reordered_records_are_named(five: Store) -> None:
    with five.writing() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(seq=-2))
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(seq=2))
        conn.execute(update(audit_log).where(audit_log.c.seq == -2).values(seq=3))
    result = verify(five)
    assert not result.ok
    assert result.bad_seq == 2
    assert "record #2" in (result.problem or "") and "does not follow" in (result.problem or "")


def test_removing_the_newest_record_is_caught_by_the_head(five: Store) -> None:
    with five.writing() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq == 5))
    result = verify(five)
    assert not result.ok
    assert result.bad_seq == 5
    assert "record #5 is missing" in (result.problem or "")


def test_a_rewritten_tail_is_caught_by_the_expected_head(five: Store) -> None:
    head = verify(five).head_hash
    with five.writing() as conn:
        previous = conn.execute(text("SELECT hash FROM audit_log WHERE seq = 4")).scalar_one()
        conn.execute(audit_log.delete().where(audit_log.c.seq == 5))
        conn.execute(update(audit_head).values(seq=4, hash=previous))
    assert verify(five).ok  # the chain alone cannot see a clean truncation …
    result = verify(five, expect_head=head)  # … the head recorded elsewhere can
    assert not result.ok
    assert "not the one expected" in (result.problem or "")


def test_records_appended_behind_iam_gov_s_back_are_caught(five: Store) -> None:
    with five.reading() as conn:
        newest = audit.records(conn, limit=1)[0]
    with five.writing() as conn:
        conn.execute(
            audit_log.insert().values(
                seq=6,
                recorded_at=newest.recorded_at,
                actor="mallory",
                action="collect",
                target="x",
                details={},
                prev_hash=newest.hash,
                hash=audit.record_hash(
                    newest.hash, newest.recorded_at, "mallory", "collect", "x", {}
                ),
            )
        )
    result = verify(five)
    assert not result.ok
    assert "not written by iam-gov" in (result.problem or "")
