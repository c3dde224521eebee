"""Snapshots written in bulk (SQLite executemany, PostgreSQL COPY): stored exactly as
SQLAlchemy's column types would store them, hostile text round-trips, chunk boundaries hold,
and a save that fails half-way leaves nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Table, func, select
from sqlalchemy.exc import DataError, IntegrityError

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
    SystemSnapshot,
)
from iam_gov.store import Store
from iam_gov.store.bulk import BULK_CACHE_KIB, CHUNK, bulk_insert, write_rows
from iam_gov.store.schema import (
    JSONType,
    accounts,
    credentials,
    documents,
    entitlements,
    grants,
    people,
    snapshots,
)
from iam_gov.store.snapshots import counts_of, load_snapshot, save_snapshot

PRAGMAS = ("cache_size", "journal_mode", "synchronous")
ROW_TABLES = (people, accounts, credentials, entitlements, grants, documents)

HOSTILE = [
    "tab\there",
    "new\nline",
    "carriage\rreturn\r\n",
    "back\\slash",
    "\\N",  # COPY's NULL marker, as text
    "\\.",  # COPY's end-of-data marker
    "trailing\\",
    "\\\\t\\n",
    "'single' \"double\" `back`",
    "Zoë 日本語 🙂 \u202eevil\u202c \u200b",
    "\x1b[31mred\x1b[0m",
    "",
    " ",
    '{"json": [1, 2]}',
    "\u2028\u2029\x7f\x85",
]
T0 = datetime(2026, 1, 2, 3, 4, 5, 600700, tzinfo=UTC)


def _snapshot(texts: list[str], *, grants_n: int = 0, accounts_n: int = 0) -> SystemSnapshot:
    """Every text column and JSON value holds each of ``texts``; ``accounts_n`` and
    ``grants_n`` add plain rows (for chunk boundaries)."""
    people_rows = [
        Person(
            employee_id=f"E{i}:{t}",
            email=t or None,
            name=t,
            department=t,
            title=t,
            manager_id=t,
            employment_type=EmploymentType.CONTRACTOR,
            status=EmploymentStatus.TERMINATED if i % 2 else EmploymentStatus.ACTIVE,
            start_date=date(1999, 12, 31),
            end_date=date(2026, 2, 28) if i % 2 else None,
            attributes={t: t, f"k{i}": t},
            previous_department=t,
            previous_title=t,
            previous_manager_id=t,
            moved_at=date(999, 7, 1),  # a year of three digits: stored zero-padded
        )
        for i, t in enumerate(texts)
    ]
    accounts_rows = [
        Account(
            system="s",
            native_id=f"a{i}:{t}",
            login=t,
            email=t,
            display_name=t,
            employee_id=t,
            status=AccountStatus.SUSPENDED,
            kind=AccountKind.SERVICE,
            # aware in another zone and naive: both stored as UTC
            created_at=T0.astimezone(timezone(timedelta(hours=-5))),
            last_login_at=datetime(2026, 3, 1, 12, 0),
            mfa_factors=(t, "totp") if i % 2 else None,
            attributes={"text": t, f"{t}:key": t},
        )
        for i, t in enumerate(texts)
    ]
    accounts_rows += [
        Account(
            system="s",
            native_id=f"bulk{i:06d}",
            login=f"user{i}",
            status=AccountStatus.ACTIVE,
            kind=AccountKind.HUMAN,
            mfa_factors=(),
        )
        for i in range(accounts_n)
    ]
    return SystemSnapshot(
        system="s",
        connector="okta",
        source="export:\t\\hostile\n",
        collected_at=T0,
        complete=True,
        people=tuple(people_rows),
        accounts=tuple(accounts_rows),
        credentials=tuple(
            Credential(
                system="s",
                account_id=f"a{i}:{t}",
                credential_id=f"c{i}:{t}",
                kind=CredentialKind.SSH_KEY,
                active=bool(i % 2),
                created_at=T0,
                last_used_at=None,
                expires_at=T0 + timedelta(microseconds=1),
                attributes={"note": t},
            )
            for i, t in enumerate(texts)
        ),
        entitlements=tuple(
            Entitlement(
                system="s",
                entitlement_id=f"g{i}:{t}",
                name=t,
                kind=f"group{t[:8]}",
                privileged=bool(i % 2),
                owner=t or None,
                description=t,
            )
            for i, t in enumerate(texts)
        ),
        grants=tuple(
            Grant(
                system="s",
                account_id=f"a{i}:{t}",
                entitlement_id=f"g{i}:{t}",
                via=f"g{i}:{t}" if i % 2 else None,
                granted_at=T0 if i % 3 else None,
                last_used_at=T0 - timedelta(days=i),
            )
            for i, t in enumerate(texts)
        )
        + tuple(
            Grant(
                system="s",
                account_id=f"bulk{i % max(accounts_n, 1):06d}",
                entitlement_id=f"e{i:06d}",
                granted_at=T0 - timedelta(seconds=i),
            )
            for i in range(grants_n)
        ),
        documents=tuple(
            PolicyDocument(
                system="s",
                document_id=f"d{i}:{t}",
                name=t,
                kind="inline",
                document={"Statement": [{"Sid": t, "Action": [t, 1, 1.5, True, None]}], t: {t: t}},
            )
            for i, t in enumerate(texts)
        ),
        settings={"note": "\t\\"},
    )


def _canonical(snapshot: SystemSnapshot) -> dict[str, Any]:
    dumped = snapshot.model_dump(mode="json")
    for key, value in dumped.items():
        if isinstance(value, list):
            dumped[key] = sorted(value, key=repr)
    return dumped


def _round_trip(store: Store, snapshot: SystemSnapshot) -> SystemSnapshot:
    with store.writing() as conn:
        sid = save_snapshot(conn, snapshot, T0)
    with store.reading() as conn:
        return load_snapshot(conn, sid)


def _stored_rows(conn: Connection, table: Table, sid: int) -> list[tuple[Any, ...]]:
    """A snapshot's rows as the driver returns them (no SQLAlchemy type processing), JSON as
    its value (SQLite's text parsed, PostgreSQL's JSONB as its canonical text), marked apart
    from SQL NULL."""
    pg = conn.dialect.name == "postgresql"
    json_at = [i for i, c in enumerate(_data_columns(table)) if isinstance(c.type, JSONType)]
    columns = ", ".join(
        f"{c.name}::text" if pg and isinstance(c.type, JSONType) else c.name
        for c in _data_columns(table)
    )
    keys = ", ".join(c.name for c in table.primary_key.columns)
    cursor = conn.connection.cursor()
    try:
        mark = "%s" if pg else "?"
        cursor.execute(
            f"SELECT {columns} FROM {table.name} WHERE snapshot_id = {mark} ORDER BY {keys}",
            (sid,),
        )
        rows = [list(row) for row in cursor.fetchall()]
    finally:
        cursor.close()
    for row in rows:
        for i in json_at:
            if row[i] is not None:
                row[i] = ("json", row[i] if pg else json.loads(row[i]))
    return [tuple(row) for row in rows]


def _data_columns(table: Table) -> list[Any]:
    return [c for c in table.columns if c.name != "snapshot_id"]


def _row_counts(conn: Connection) -> dict[str, int]:
    return {
        t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
        for t in (snapshots, *ROW_TABLES)
    }


# What SQLAlchemy Core's executemany with dict rows bound before the bulk path: the reference
# the bulk path must store identically.
def _core_rows(sid: int, s: SystemSnapshot) -> dict[Table, Iterable[dict[str, Any]]]:
    return {
        people: (
            {
                "snapshot_id": sid,
                **p.model_dump(exclude=set()),
                "employment_type": p.employment_type.value,
                "status": p.status.value,
            }
            for p in s.people
        ),
        accounts: (
            {
                "snapshot_id": sid,
                **a.model_dump(exclude={"system", "person_id"}),
                "status": a.status.value,
                "kind": a.kind.value,
                "mfa_factors": None if a.mfa_factors is None else list(a.mfa_factors),
            }
            for a in s.accounts
        ),
        credentials: (
            {"snapshot_id": sid, **c.model_dump(exclude={"system"}), "kind": c.kind.value}
            for c in s.credentials
        ),
        entitlements: (
            {"snapshot_id": sid, **e.model_dump(exclude={"system"})} for e in s.entitlements
        ),
        grants: (
            {"snapshot_id": sid, **g.model_dump(exclude={"system"}), "via": g.via or ""}
            for g in s.grants
        ),
        documents: ({"snapshot_id": sid, **d.model_dump(exclude={"system"})} for d in s.documents),
    }


def test_rows_are_stored_exactly_as_sqlalchemys_types_store_them(store: Store) -> None:
    """The bulk path (raw executemany / COPY) stores the very values SQLAlchemy Core stored
    before it (timestamps' text and zone, dates, JSON values, JSON null apart from SQL NULL,
    booleans), compared as the driver reads them back: old and new snapshots stay
    comparable, in SQL too."""
    snapshot = _snapshot(HOSTILE, accounts_n=3, grants_n=5)
    with store.writing() as conn:
        bulk = save_snapshot(conn, snapshot, T0)
        reference = conn.execute(
            snapshots.insert()
            .values(
                system="s",
                connector="okta",
                source="x",
                collected_at=T0,
                stored_at=T0,
                complete=True,
                errors=[],
                settings={},
                counts=counts_of(snapshot),
            )
            .returning(snapshots.c.id)
        ).scalar_one()
        for table, rows in _core_rows(reference, snapshot).items():
            bulk_insert(conn, table, rows)
    with store.reading() as conn:
        for table in ROW_TABLES:
            written = _stored_rows(conn, table, bulk)
            assert written, table.name
            assert written == _stored_rows(conn, table, reference), table.name


def test_hostile_text_round_trips_exactly(store: Store) -> None:
    """Tabs, newlines, CR, backslashes, COPY's own markers (\\N, \\.), quotes, escapes,
    bidi controls and other unicode, empty strings, in every text column, JSON key and
    value: read back exactly as written."""
    snapshot = _snapshot(HOSTILE)
    assert _canonical(_round_trip(store, snapshot)) == _canonical(snapshot)


@settings(
    max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(
    texts=st.lists(
        st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12),
        min_size=1,
        max_size=4,
        unique=True,
    )
)
def test_any_text_without_nul_round_trips(store: Store, texts: list[str]) -> None:
    """Any text (no NUL: PostgreSQL cannot hold it) round-trips through the bulk path."""
    snapshot = _snapshot(texts)
    assert _canonical(_round_trip(store, snapshot)) == _canonical(snapshot)


def test_nul_is_kept_on_sqlite_and_refused_on_postgresql_as_before(store: Store) -> None:
    """A NUL in text is what it was before the bulk path: SQLite keeps it; PostgreSQL cannot
    hold one and the save fails as a ``DataError`` (from text or from JSON), storing nothing."""
    for texts in (["a\x00b"], ["plain"]):
        snapshot = _snapshot(texts)
        if texts == ["plain"]:  # NUL only inside JSON
            snapshot = snapshot.model_copy(
                update={
                    "accounts": (
                        snapshot.accounts[0].model_copy(update={"attributes": {"k": "\x00"}}),
                    )
                }
            )
        if store.dialect == "sqlite":
            assert _canonical(_round_trip(store, snapshot)) == _canonical(snapshot)
            continue
        with pytest.raises(DataError):
            _round_trip(store, snapshot)
        with store.reading() as conn:
            assert set(_row_counts(conn).values()) == {0}


def test_counts_across_chunk_boundaries(store: Store) -> None:
    """More rows than two chunks (accounts and grants), a chunk and one more: every row is
    stored once and read back in key order."""
    snapshot = _snapshot(["x"], accounts_n=CHUNK + 1, grants_n=2 * CHUNK + 1)
    loaded = _round_trip(store, snapshot)
    assert len(loaded.accounts) == CHUNK + 2
    assert len(loaded.grants) == 2 * CHUNK + 2
    assert _canonical(loaded) == _canonical(snapshot)
    with store.reading() as conn:
        counts = _row_counts(conn)
    assert counts["grants"] == 2 * CHUNK + 2 and counts["accounts"] == CHUNK + 2


def test_a_save_failing_half_way_leaves_nothing(store: Store) -> None:
    """A grant repeated in the third chunk fails the save after the header, people, accounts
    and two chunks of grants were sent: the error is SQLAlchemy's ``IntegrityError`` and the
    transaction leaves no row in any table; the store still takes the next save."""
    good = _snapshot(HOSTILE, accounts_n=10, grants_n=2 * CHUNK + 10)
    broken = SystemSnapshot.model_construct(
        **{**dict(good), "grants": (*good.grants, good.grants[-1])}
    )
    with pytest.raises(IntegrityError):
        _round_trip(store, broken)
    with store.reading() as conn:
        assert set(_row_counts(conn).values()) == {0}
    assert _canonical(_round_trip(store, good)) == _canonical(good)


def test_sqlite_page_cache_is_restored_after_a_save(tmp_path: Path) -> None:
    """The larger page cache of a bulk write lasts only for the save: the connection goes
    back to the pool with the cache it had, also when the save fails; the durability
    settings (``synchronous``, the WAL journal) are the store's throughout."""
    with Store.open(f"sqlite:///{tmp_path}/iam-gov.db") as store:

        def pragmas(conn: Connection) -> list[Any]:
            return [conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in PRAGMAS]

        with store.reading() as conn:
            before = pragmas(conn)
        assert before[0] != -BULK_CACHE_KIB and before[1:] == ["wal", 1]
        good = _snapshot(["x"])
        with store.writing() as conn:
            save_snapshot(conn, good, T0)
            assert pragmas(conn) == before
        broken = SystemSnapshot.model_construct(**{**dict(good), "grants": good.grants * 2})
        with pytest.raises(IntegrityError), store.writing() as conn:
            save_snapshot(conn, broken, T0)
        with store.reading() as conn:
            assert pragmas(conn) == before


def test_what_orjson_refuses_is_stored_as_before(store: Store) -> None:
    """A lone surrogate in an attribute (a JSON export may decode to one) is refused by
    orjson: the bulk path falls back to ``json.dumps`` and ends as SQLAlchemy Core's path
    did: SQLite keeps it and reads it back; PostgreSQL refuses the JSON, storing nothing."""
    lone = "bad\ud800half"
    snapshot = _snapshot(["x"])
    snapshot = snapshot.model_copy(
        update={"accounts": (snapshot.accounts[0].model_copy(update={"attributes": {"k": lone}}),)}
    )
    if store.dialect == "sqlite":
        loaded = _round_trip(store, snapshot)
        assert loaded.accounts[0].attributes == {"k": lone}
        return
    with pytest.raises(DataError):
        _round_trip(store, snapshot)
    with pytest.raises(DataError), store.writing() as conn:  # and so did the Core path
        bulk_insert(conn, accounts, _core_rows(1, snapshot)[accounts])
    with store.reading() as conn:
        assert set(_row_counts(conn).values()) == {0}


@pytest.mark.postgres
def test_a_connection_lost_during_copy_is_one_line_naming_the_store(
    postgres_database: Callable[[], str],
) -> None:
    """The server gone in the middle of a save (its backend terminated after the header was
    written, before the rows' COPY): a one-line ``StoreError`` naming the store, without rows
    or SQL; nothing is stored, and the store works again on a fresh connection."""
    url = postgres_database()
    snapshot = _snapshot(HOSTILE, grants_n=10)
    with Store.open(url) as store:
        with pytest.raises(StoreError) as raised, store.writing() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with store.engine.connect() as other:
                # with a timeout, it waits until the backend is gone (PostgreSQL 14+)
                ended = f"SELECT pg_terminate_backend({int(pid)}, 10000)"
                assert other.exec_driver_sql(ended).scalar_one() is True
            write_rows(
                conn, grants, [c.name for c in grants.columns], [(1, "a", "e", "", None, None)]
            )
        message = str(raised.value)
        assert message.startswith(f"the store at {store.display_url} failed: ")
        assert "terminating connection" in message  # the COPY's own error, not the rollback's
        assert "\n" not in message and "[SQL" not in message and "COPY" not in message
        assert _canonical(_round_trip(store, snapshot)) == _canonical(snapshot)
        with store.reading() as conn:
            assert _row_counts(conn)["snapshots"] == 1
