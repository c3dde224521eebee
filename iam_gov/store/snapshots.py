"""Writing and reading snapshots: bulk inserts in chunks, never a statement per row."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel
from sqlalchemy import Connection, Select, Table, func, select

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
    GrantRow,
    Person,
    PolicyDocument,
    SnapshotError,
    SystemSnapshot,
)
from iam_gov.store.bulk import CHUNK, bulk_session, write_rows
from iam_gov.store.schema import (
    accounts,
    collect_failures,
    credentials,
    entitlements,
    grants,
    people,
    snapshots,
)
from iam_gov.store.schema import documents as documents_table
from iam_gov.timeutil import as_utc, utcnow


@dataclass(frozen=True)
class SnapshotInfo:
    """A stored snapshot's header, without its rows."""

    id: int
    system: str
    connector: str
    source: str
    collected_at: datetime
    stored_at: datetime
    complete: bool
    errors: tuple[SnapshotError, ...]
    counts: dict[str, int]


def counts_of(snapshot: SystemSnapshot) -> dict[str, int]:
    return {
        "people": len(snapshot.people),
        "accounts": len(snapshot.accounts),
        "credentials": len(snapshot.credentials),
        "entitlements": len(snapshot.entitlements),
        "grants": len(snapshot.grants),
        "documents": len(snapshot.documents),
    }


def save_snapshot(conn: Connection, snapshot: SystemSnapshot, stored_at: datetime) -> int:
    """Insert one snapshot with all its rows, in the caller's transaction: the header through
    SQLAlchemy, the rows in bulk (``bulk.write_rows``: COPY on PostgreSQL, the driver's
    executemany on SQLite)."""
    result = conn.execute(
        snapshots.insert()
        .values(
            system=snapshot.system,
            connector=snapshot.connector,
            source=snapshot.source,
            collected_at=snapshot.collected_at,
            stored_at=stored_at,
            complete=snapshot.complete,
            errors=[e.model_dump(mode="json") for e in snapshot.errors],
            settings=snapshot.settings,
            counts=counts_of(snapshot),
        )
        .returning(snapshots.c.id)
    )
    sid: int = result.scalar_one()
    enc = _Encoder(conn.dialect.name)
    with bulk_session(conn):
        _write_rows(conn, sid, snapshot, enc)
    return sid


def _write_rows(conn: Connection, sid: int, snapshot: SystemSnapshot, enc: _Encoder) -> None:
    write_rows(conn, people, _COLUMNS["people"], _person_rows(sid, snapshot.people, enc))
    write_rows(conn, accounts, _COLUMNS["accounts"], _account_rows(sid, snapshot.accounts, enc))
    write_rows(
        conn, credentials, _COLUMNS["credentials"], _credential_rows(sid, snapshot.credentials, enc)
    )
    write_rows(
        conn,
        entitlements,
        _COLUMNS["entitlements"],
        _entitlement_rows(sid, snapshot.entitlements, enc),
    )
    write_rows(conn, grants, _COLUMNS["grants"], _grant_rows(sid, snapshot.grants, enc))
    write_rows(
        conn, documents_table, _COLUMNS["documents"], _document_rows(sid, snapshot.documents, enc)
    )


def latest_snapshots(conn: Connection) -> dict[str, SnapshotInfo]:
    """The newest snapshot of every system (by collection time, then by id)."""
    ranked = select(
        snapshots,
        func.row_number()
        .over(
            partition_by=snapshots.c.system,
            order_by=(snapshots.c.collected_at.desc(), snapshots.c.id.desc()),
        )
        .label("rank"),
    ).subquery()
    rows = conn.execute(select(ranked).where(ranked.c.rank == 1))
    return {row.system: _info(row) for row in rows}


def snapshots_as_of(conn: Connection, at: datetime) -> dict[str, SnapshotInfo]:
    """The newest snapshot of every system collected at or before ``at`` (ordered as
    ``latest_snapshots`` orders them): what the store knew of each system at that moment.
    A system first collected after ``at`` is not in it."""
    ranked = select(
        snapshots,
        func.row_number()
        .over(
            partition_by=snapshots.c.system,
            order_by=(snapshots.c.collected_at.desc(), snapshots.c.id.desc()),
        )
        .label("rank"),
    ).where(snapshots.c.collected_at <= at)
    inner = ranked.subquery()
    rows = conn.execute(select(inner).where(inner.c.rank == 1))
    return {row.system: _info(row) for row in rows}


def snapshot_history(conn: Connection, system: str | None = None) -> list[SnapshotInfo]:
    query = select(snapshots).order_by(snapshots.c.collected_at.desc(), snapshots.c.id.desc())
    if system is not None:
        query = query.where(snapshots.c.system == system)
    return [_info(row) for row in conn.execute(query)]


def _info(row: Any) -> SnapshotInfo:
    return SnapshotInfo(
        id=row.id,
        system=row.system,
        connector=row.connector,
        source=row.source,
        collected_at=row.collected_at,
        stored_at=row.stored_at,
        complete=row.complete,
        errors=tuple(SnapshotError.model_validate(e) for e in row.errors),
        counts=dict(row.counts),
    )


def load_snapshot(
    conn: Connection, snapshot_id: int, *, documents: bool = True, with_grants: bool = True
) -> SystemSnapshot:
    """Read a stored snapshot back. Rows were validated on the way in, so they are not
    validated again: this path carries millions of rows. Evaluation does not read policy
    documents (``documents=False``) and reads grants as plain rows (``with_grants=False``,
    then ``load_grants``)."""
    head = conn.execute(select(snapshots).where(snapshots.c.id == snapshot_id)).one()
    system = head.system
    decode = _Decoder()

    def rows(table: Table) -> Iterator[Any]:
        return _rows(conn, table, snapshot_id)

    return SystemSnapshot.model_construct(
        system=system,
        connector=head.connector,
        source=head.source,
        collected_at=head.collected_at,
        complete=head.complete,
        errors=tuple(SnapshotError.model_validate(e) for e in head.errors),
        settings=dict(head.settings),
        people=tuple(_people(rows(people), decode)),
        accounts=tuple(_accounts(system, rows(accounts), decode)),
        credentials=tuple(_credentials(system, rows(credentials), decode)),
        entitlements=tuple(_entitlements(system, rows(entitlements))),
        grants=tuple(
            _construct(Grant, row._asdict()) for row in _grants(system, rows(grants), decode)
        )
        if with_grants
        else (),
        documents=tuple(_documents(system, rows(documents_table), decode)) if documents else (),
    )


def load_grants(conn: Connection, snapshot_id: int, system: str) -> Iterator[GrantRow]:
    """A stored snapshot's grants as plain rows, in key order (grouped by account)."""
    return _grants(system, _rows(conn, grants, snapshot_id), _Decoder())


def load_entitlements(conn: Connection, snapshot_id: int, system: str) -> list[Entitlement]:
    """A stored snapshot's entitlements (without its accounts, grants or documents)."""
    return list(_entitlements(system, _rows(conn, entitlements, snapshot_id)))


def seen_history(
    conn: Connection, system: str, *, collected_by: datetime | None = None
) -> tuple[dict[str, datetime], datetime | None]:
    """For a system whose sign-in data is sampled (a VPN status file shows who is connected
    now): the latest time each account was seen in any stored snapshot, and since when the
    stored snapshots have been watching (their earliest ``observation.observed_since``).
    ``collected_by``: only the snapshots collected at or before it (an evaluation as of then).
    """
    scope = [snapshots.c.system == system]
    if collected_by is not None:
        scope.append(snapshots.c.collected_at <= collected_by)
    latest_seen = {
        row.native_id: row.seen
        for row in conn.execute(
            select(accounts.c.native_id, func.max(accounts.c.last_login_at).label("seen"))
            .join(snapshots, snapshots.c.id == accounts.c.snapshot_id)
            .where(*scope, accounts.c.last_login_at.is_not(None))
            .group_by(accounts.c.native_id)
        )
        if row.seen is not None
    }
    since: datetime | None = None
    for row in conn.execute(select(snapshots.c.collected_at, snapshots.c.settings).where(*scope)):
        observation = (row.settings or {}).get("observation") or {}
        start = observation.get("observed_since")
        moment = as_utc(datetime.fromisoformat(start)) if start else row.collected_at
        since = moment if since is None else min(since, moment)
    return latest_seen, since


def snapshots_by_id(conn: Connection, ids: Sequence[int]) -> list[SnapshotInfo]:
    return [_info(r) for r in conn.execute(select(snapshots).where(snapshots.c.id.in_(ids)))]


def latest_snapshot(conn: Connection, system: str) -> SnapshotInfo | None:
    """The newest snapshot of one system (as ``latest_snapshots`` orders them), or None."""
    row = conn.execute(
        select(snapshots)
        .where(snapshots.c.system == system)
        .order_by(snapshots.c.collected_at.desc(), snapshots.c.id.desc())
        .limit(1)
    ).one_or_none()
    return None if row is None else _info(row)


def record_collect_failure(conn: Connection, system: str, failed_at: datetime, reason: str) -> int:
    """Note that a system could not be collected, in the caller's transaction: its latest
    snapshot stays the latest, stale from now on (``stale_systems``)."""
    result = conn.execute(
        collect_failures.insert()
        .values(system=system, failed_at=failed_at, reason=reason)
        .returning(collect_failures.c.id)
    )
    failure_id: int = result.scalar_one()
    return failure_id


@dataclass(frozen=True)
class StaleInfo:
    """A system whose last collect failed: what is used instead, since when and why."""

    system: str
    reason: str
    """Why the newest failed collect failed (printable, one line)."""
    failed_at: datetime
    """The first failure since the system's last stored snapshot."""
    last_failed_at: datetime
    failures: int
    """How many collects have failed since the last stored snapshot."""
    snapshot: SnapshotInfo | None
    """The latest snapshot, still the one used; None when the system was never collected."""
    age: timedelta | None
    """How old the data of that snapshot is (now - its ``collected_at``)."""

    @property
    def collected_at(self) -> datetime | None:
        return None if self.snapshot is None else self.snapshot.collected_at

    def age_words(self) -> str:
        """``"5 hours"``, ``"12 days"``: the age of the data used (empty if there is none)."""
        return "" if self.age is None else age_words(self.age)


def age_words(age: timedelta) -> str:
    """An age in hours (under two days) or days, never negative."""
    hours = max(0, int(age.total_seconds() // 3600))
    if hours < 48:
        return "1 hour" if hours == 1 else f"{hours} hours"
    return f"{hours // 24} days"


def stale_systems(conn: Connection, now: datetime | None = None) -> dict[str, StaleInfo]:
    """Every system whose newest failed collect (``collect_failures``) is newer than its last
    stored snapshot: it keeps that snapshot as its latest. A later successful collect clears
    it. A system that failed and was never collected is listed with ``snapshot=None``."""
    moment = now or utcnow()
    last_stored = (
        select(
            snapshots.c.system.label("system"),
            func.max(snapshots.c.stored_at).label("stored_at"),
        )
        .group_by(snapshots.c.system)
        .subquery()
    )
    rows = conn.execute(
        select(collect_failures.c.system, collect_failures.c.failed_at, collect_failures.c.reason)
        .select_from(
            collect_failures.outerjoin(
                last_stored, last_stored.c.system == collect_failures.c.system
            )
        )
        .where(
            (last_stored.c.stored_at.is_(None))
            | (collect_failures.c.failed_at > last_stored.c.stored_at)
        )
        .order_by(collect_failures.c.system, collect_failures.c.failed_at, collect_failures.c.id)
    ).all()
    if not rows:
        return {}
    latest = latest_snapshots(conn)
    stale: dict[str, StaleInfo] = {}
    for row in rows:
        failed_at = as_utc(row.failed_at)
        known = stale.get(row.system)
        snapshot = latest.get(row.system)
        stale[row.system] = StaleInfo(
            system=row.system,
            reason=row.reason,
            failed_at=failed_at if known is None else known.failed_at,
            last_failed_at=failed_at,
            failures=1 if known is None else known.failures + 1,
            snapshot=snapshot,
            age=None if snapshot is None else moment - snapshot.collected_at,
        )
    return stale


# --- rows <-> models ----------------------------------------------------------------------


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return as_utc(value)


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _rows(conn: Connection, table: Table, snapshot_id: int) -> Iterator[tuple[Any, ...]]:
    """One snapshot's rows of a row table, in key order, as tuples of its columns (in table
    order, without ``snapshot_id``) as the driver gives them: SQLite's dates, timestamps and
    JSON as text, its booleans as 0 and 1."""
    return driver_rows(
        conn,
        select(*(c for c in table.columns if c.name != "snapshot_id"))
        .where(table.c.snapshot_id == snapshot_id)
        .order_by(*table.primary_key.columns),
    )


def driver_rows(conn: Connection, query: Select[Any]) -> Iterator[tuple[Any, ...]]:
    """A query's rows as the database driver returns them: SQLAlchemy's per-row and
    per-value work (timestamps, JSON) costs more than the rows themselves when there are
    millions. ``_Decoder`` finishes the job for SQLite's text."""
    compiled = query.compile(dialect=conn.dialect)
    params = compiled.construct_params()
    arguments: Any = params
    if compiled.positional and compiled.positiontup is not None:
        arguments = tuple(params[name] for name in compiled.positiontup)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(compiled.string, arguments)
        while batch := cursor.fetchmany(CHUNK):
            yield from batch
    finally:
        cursor.close()


class _Decoder:
    """Stored text back to values, once per distinct text: rows share few distinct
    timestamps, attribute sets and entitlement ids, and decoding (or holding) each again is
    most of the time and memory of loading millions of rows. Decoded values are shared
    between the models that hold them, which are read-only."""

    def __init__(self) -> None:
        self._times: dict[Any, datetime | None] = {}
        self._json: dict[str, Any] = {}
        self._documents: dict[str, Any] = {}
        self._text: dict[str, str] = {}

    def time(self, value: Any) -> datetime | None:
        found = self._times.get(value)
        if found is None and value is not None:
            found = self._times[value] = _time(value)
        return found

    def json(self, value: Any) -> Any:
        """JSON that holds only text (attributes, factor lists), read by orjson."""
        if not isinstance(value, str):
            return value  # PostgreSQL's driver has decoded it already
        found = self._json.get(value, _MISSING)
        if found is _MISSING:
            found = self._json[value] = _loads(value)
        return found

    def document(self, value: Any) -> Any:
        """Any JSON (a policy document: numbers too), read by ``json`` as it was written."""
        if not isinstance(value, str):
            return value
        found = self._documents.get(value, _MISSING)
        if found is _MISSING:
            found = self._documents[value] = json.loads(value)
        return found

    def text(self, value: str) -> str:
        return self._text.setdefault(value, value)


_MISSING: Any = object()


def _loads(text: str) -> Any:
    """Stored JSON of text values back to values: orjson reads it several times faster
    (numbers it reads differently: integers beyond 64 bits become floats, so it is not for
    documents); what it refuses and ``json`` reads is read by ``json``."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


M = TypeVar("M", bound=BaseModel)
_FIELDS_SET: dict[type[BaseModel], set[str]] = {}


def _construct(cls: type[M], values: dict[str, Any]) -> M:
    """A model instance from values that were validated when they were stored.

    This is what ``model_construct`` does, without its per-call bookkeeping, which is most of
    the time spent loading millions of rows. Every field is given, so there are no defaults
    to fill in; the fields-set is shared (frozen models never change it).
    """
    obj = cls.__new__(cls)
    fields_set = _FIELDS_SET.get(cls)
    if fields_set is None:
        fields_set = _FIELDS_SET[cls] = set(cls.model_fields)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", fields_set)
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


# Stored values back to enums by a dict lookup: calling the enum class is several times
# slower, and HR snapshots have hundreds of thousands of rows.
_EMPLOYMENT_TYPES = {e.value: e for e in EmploymentType}
_EMPLOYMENT_STATUSES = {e.value: e for e in EmploymentStatus}


def _people(rows: Iterator[Any], decode: _Decoder) -> Iterator[Person]:
    for (
        employee_id,
        email,
        name,
        department,
        title,
        manager_id,
        employment_type,
        status,
        start_date,
        end_date,
        attributes,
        previous_department,
        previous_title,
        previous_manager_id,
        moved_at,
    ) in rows:
        yield _construct(
            Person,
            {
                "employee_id": employee_id,
                "email": email,
                "name": name,
                "department": department,
                "title": title,
                "manager_id": manager_id,
                "employment_type": _EMPLOYMENT_TYPES[employment_type],
                "status": _EMPLOYMENT_STATUSES[status],
                "start_date": _date(start_date),
                "end_date": _date(end_date),
                "previous_department": previous_department,
                "previous_title": previous_title,
                "previous_manager_id": previous_manager_id,
                "moved_at": _date(moved_at),
                "attributes": decode.json(attributes),
            },
        )


def _accounts(system: str, rows: Iterator[Any], decode: _Decoder) -> Iterator[Account]:
    for (
        native_id,
        login,
        email,
        display_name,
        employee_id,
        status,
        kind,
        created_at,
        last_login_at,
        mfa_factors,
        attributes,
    ) in rows:
        factors = decode.json(mfa_factors)
        yield _construct(
            Account,
            {
                "system": system,
                "native_id": native_id,
                "login": login,
                "email": email,
                "display_name": display_name,
                "employee_id": employee_id,
                "status": _ACCOUNT_STATUS[status],
                "kind": _ACCOUNT_KIND[kind],
                "created_at": decode.time(created_at),
                "last_login_at": decode.time(last_login_at),
                # Written as JSON null (SQLAlchemy's JSON type), not as SQL NULL.
                "mfa_factors": None if factors is None else tuple(factors),
                "person_id": None,
                "attributes": decode.json(attributes),
            },
        )


def _credentials(system: str, rows: Iterator[Any], decode: _Decoder) -> Iterator[Credential]:
    for (
        credential_id,
        account_id,
        kind,
        active,
        created_at,
        last_used_at,
        expires_at,
        attributes,
    ) in rows:
        yield _construct(
            Credential,
            {
                "system": system,
                "account_id": account_id,
                "credential_id": credential_id,
                "kind": _CREDENTIAL_KIND[kind],
                "active": bool(active),
                "created_at": decode.time(created_at),
                "last_used_at": decode.time(last_used_at),
                "expires_at": decode.time(expires_at),
                "attributes": decode.json(attributes),
            },
        )


def _entitlements(system: str, rows: Iterator[Any]) -> Iterator[Entitlement]:
    for entitlement_id, name, kind, privileged, owner, description in rows:
        yield _construct(
            Entitlement,
            {
                "system": system,
                "entitlement_id": entitlement_id,
                "name": name,
                "kind": kind,
                "privileged": bool(privileged),
                "owner": owner,
                "description": description,
            },
        )


def _grants(system: str, rows: Iterator[tuple[Any, ...]], decode: _Decoder) -> Iterator[GrantRow]:
    text, time = decode.text, decode.time
    make = tuple.__new__  # GrantRow(...) is a Python-level call per row; this is not
    account = ""
    for account_id, entitlement_id, via, granted_at, last_used_at in rows:
        if account_id != account:
            account = account_id  # rows come by account: one string for all of its grants
        yield make(
            GrantRow,
            (
                system,
                account,
                text(entitlement_id),
                text(via) if via else None,  # '' for a direct grant: see the table
                None if granted_at is None else time(granted_at),
                None if last_used_at is None else time(last_used_at),
            ),
        )


def _documents(system: str, rows: Iterator[Any], decode: _Decoder) -> Iterator[PolicyDocument]:
    for document_id, name, kind, document in rows:
        yield _construct(
            PolicyDocument,
            {
                "system": system,
                "document_id": document_id,
                "name": name,
                "kind": kind,
                "document": decode.document(document),
            },
        )


_ACCOUNT_STATUS = {s.value: s for s in AccountStatus}
_ACCOUNT_KIND = {k.value: k for k in AccountKind}
_CREDENTIAL_KIND = {k.value: k for k in CredentialKind}


# --- models -> rows ----------------------------------------------------------------------
#
# Each table's rows as tuples in the order of ``_COLUMNS``, holding the values SQLAlchemy's
# column types would have bound (``tests/store/test_bulk_snapshots.py`` compares the two): on
# SQLite timestamps as UTC text with microseconds, dates as ISO text, JSON as text (``None``
# as JSON ``null``, not SQL NULL), booleans as 0 and 1; on PostgreSQL aware UTC datetimes,
# dates and booleans, and JSON as text that the server parses into JSONB.

_COLUMNS = {
    table.name: [c.name for c in table.columns]
    for table in (people, accounts, credentials, entitlements, grants, documents_table)
}

_SQLITE_TIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"
"""SQLAlchemy's storage format for a SQLite DATETIME (``sqlalchemy.dialects.sqlite.DATETIME``)."""


class _Encoder:
    """Values as the driver takes them, converted once per distinct value: a snapshot's rows
    share few distinct timestamps."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"
        self._times: dict[datetime, Any] = {}

    def time(self, value: datetime | None) -> Any:
        if value is None:
            return None
        found = self._times.get(value)
        if found is None:
            utc = as_utc(value)
            found = self._times[value] = (
                _SQLITE_TIME
                % (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond)
                if self.sqlite
                else utc
            )
        return found

    def date(self, value: date | None) -> Any:
        if value is None or not self.sqlite:
            return value
        return value.isoformat()

    def flag(self, value: bool) -> Any:
        return int(value) if self.sqlite else value


_dumps = json.dumps  # what SQLAlchemy's JSON type uses


def _dumps_text(value: Any) -> str:
    """JSON text of what holds only text (attributes, factor lists), by orjson: several
    times faster than ``json.dumps``, most of the time of a snapshot's rows. Its text is
    compact and UTF-8 rather than ``json.dumps``'s, and reads back the same. What orjson
    refuses (a lone surrogate, a key that is not text) is written as ``json.dumps`` writes
    it. Documents (any JSON, floats included: orjson would write NaN as null) keep
    ``json.dumps``."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return _dumps(value)


def _person_rows(sid: int, items: Sequence[Person], enc: _Encoder) -> Iterator[tuple[Any, ...]]:
    day = enc.date
    for p in items:
        yield (
            sid,
            p.employee_id,
            p.email,
            p.name,
            p.department,
            p.title,
            p.manager_id,
            p.employment_type.value,
            p.status.value,
            day(p.start_date),
            day(p.end_date),
            _dumps_text(p.attributes),
            p.previous_department,
            p.previous_title,
            p.previous_manager_id,
            day(p.moved_at),
        )


def _account_rows(sid: int, items: Sequence[Account], enc: _Encoder) -> Iterator[tuple[Any, ...]]:
    time = enc.time
    for a in items:
        factors = a.mfa_factors
        yield (
            sid,
            a.native_id,
            a.login,
            a.email,
            a.display_name,
            a.employee_id,
            a.status.value,
            a.kind.value,
            time(a.created_at),
            time(a.last_login_at),
            "null" if factors is None else _dumps_text(list(factors)),
            _dumps_text(a.attributes),
        )


def _credential_rows(
    sid: int, items: Sequence[Credential], enc: _Encoder
) -> Iterator[tuple[Any, ...]]:
    time, flag = enc.time, enc.flag
    for c in items:
        yield (
            sid,
            c.credential_id,
            c.account_id,
            c.kind.value,
            flag(c.active),
            time(c.created_at),
            time(c.last_used_at),
            time(c.expires_at),
            _dumps_text(c.attributes),
        )


def _entitlement_rows(
    sid: int, items: Sequence[Entitlement], enc: _Encoder
) -> Iterator[tuple[Any, ...]]:
    flag = enc.flag
    for e in items:
        yield (sid, e.entitlement_id, e.name, e.kind, flag(e.privileged), e.owner, e.description)


def _grant_rows(sid: int, items: Sequence[Grant], enc: _Encoder) -> Iterator[tuple[Any, ...]]:
    time = enc.time
    for g in items:
        granted, used = g.granted_at, g.last_used_at
        yield (
            sid,
            g.account_id,
            g.entitlement_id,
            g.via or "",
            None if granted is None else time(granted),
            None if used is None else time(used),
        )


def _document_rows(
    sid: int, items: Sequence[PolicyDocument], _enc: _Encoder
) -> Iterator[tuple[Any, ...]]:
    for d in items:
        yield (sid, d.document_id, d.name, d.kind, _dumps(d.document))


def snapshot_settings(conn: Connection, snapshot_id: int) -> dict[str, Any]:
    """One stored snapshot's settings (the HR snapshot's ``mapped_fields`` …), without its
    rows; empty when there is no such snapshot."""
    value = conn.execute(
        select(snapshots.c.settings).where(snapshots.c.id == snapshot_id)
    ).scalar_one_or_none()
    return dict(value) if isinstance(value, dict) else {}
