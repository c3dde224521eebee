"""Writing and reading snapshots: bulk inserts in chunks, never a statement per row."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import JSON, Column, Connection, MetaData, String, Table, func, select

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
from iam_gov.store.bulk import CHUNK, bulk_insert
from iam_gov.store.schema import (
    UTCDateTime,
    accounts,
    credentials,
    entitlements,
    grants,
    people,
    snapshots,
)
from iam_gov.store.schema import documents as documents_table
from iam_gov.timeutil import as_utc


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
    """Insert one snapshot with all its rows, in the caller's transaction."""
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
    bulk_insert(conn, people, (_person_row(sid, p) for p in snapshot.people))
    bulk_insert(conn, accounts, (_account_row(sid, a) for a in snapshot.accounts))
    bulk_insert(conn, credentials, (_credential_row(sid, c) for c in snapshot.credentials))
    bulk_insert(conn, entitlements, (_entitlement_row(sid, e) for e in snapshot.entitlements))
    bulk_insert(conn, grants, (_grant_row(sid, g) for g in snapshot.grants))
    bulk_insert(conn, documents_table, (_document_row(sid, d) for d in snapshot.documents))
    return sid


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


def load_snapshot(conn: Connection, snapshot_id: int, *, documents: bool = True) -> SystemSnapshot:
    """Read a stored snapshot back. Rows were validated on the way in, so they are not
    validated again (``model_construct``): this path carries millions of rows. Evaluation
    does not read policy documents (``documents=False``)."""
    head = conn.execute(select(snapshots).where(snapshots.c.id == snapshot_id)).one()
    system = head.system

    def rows(table: Table) -> Iterator[Any]:
        raw = _RAW[table.name]
        yield from conn.execute(
            select(raw)
            .where(raw.c.snapshot_id == snapshot_id)
            .order_by(*raw.primary_key.columns)
            .execution_options(yield_per=CHUNK)
        )

    return SystemSnapshot.model_construct(
        system=system,
        connector=head.connector,
        source=head.source,
        collected_at=head.collected_at,
        complete=head.complete,
        errors=tuple(SnapshotError.model_validate(e) for e in head.errors),
        settings=dict(head.settings),
        people=tuple(_person(r) for r in rows(people)),
        accounts=tuple(_account(system, r) for r in rows(accounts)),
        credentials=tuple(_credential(system, r) for r in rows(credentials)),
        entitlements=tuple(_entitlement(system, r) for r in rows(entitlements)),
        grants=tuple(_grant(system, r) for r in rows(grants)),
        documents=tuple(_document(system, r) for r in rows(documents_table)) if documents else (),
    )


def seen_history(conn: Connection, system: str) -> tuple[dict[str, datetime], datetime | None]:
    """For a system whose sign-in data is sampled (a VPN status file shows who is connected
    now): the latest time each account was seen in any stored snapshot, and since when the
    stored snapshots have been watching (their earliest ``observation.observed_since``)."""
    latest_seen = {
        row.native_id: row.seen
        for row in conn.execute(
            select(accounts.c.native_id, func.max(accounts.c.last_login_at).label("seen"))
            .join(snapshots, snapshots.c.id == accounts.c.snapshot_id)
            .where(snapshots.c.system == system, accounts.c.last_login_at.is_not(None))
            .group_by(accounts.c.native_id)
        )
        if row.seen is not None
    }
    since: datetime | None = None
    for row in conn.execute(
        select(snapshots.c.collected_at, snapshots.c.settings).where(snapshots.c.system == system)
    ):
        observation = (row.settings or {}).get("observation") or {}
        start = observation.get("observed_since")
        moment = as_utc(datetime.fromisoformat(start)) if start else row.collected_at
        since = moment if since is None else min(since, moment)
    return latest_seen, since


def snapshots_by_id(conn: Connection, ids: Sequence[int]) -> list[SnapshotInfo]:
    return [_info(r) for r in conn.execute(select(snapshots).where(snapshots.c.id.in_(ids)))]


# --- rows <-> models ----------------------------------------------------------------------

# The row tables again, read with plain column types: SQLAlchemy's per-value processing of
# timestamps and JSON is most of the cost of loading millions of rows, and the drivers
# already hand PostgreSQL's values over as datetimes and dicts. ``_time`` and ``_json``
# finish the job for SQLite's text.
_raw_metadata = MetaData()
_RAW = {
    table.name: Table(
        table.name,
        _raw_metadata,
        *(
            Column(
                c.name,
                String if isinstance(c.type, UTCDateTime | JSON) else c.type,
                primary_key=c.primary_key,
            )
            for c in table.columns
        ),
    )
    for table in (people, accounts, credentials, entitlements, grants, documents_table)
}


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return as_utc(value)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _tuple_or_none(value: Any) -> tuple[str, ...] | None:
    # Written as JSON null (SQLAlchemy's JSON type), not as SQL NULL.
    return None if value is None else tuple(value)


M = TypeVar("M", bound=BaseModel)
_FIELDS_SET: dict[type[BaseModel], set[str]] = {}


def _construct(cls: type[M], **values: Any) -> M:
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


def _person_row(sid: int, p: Person) -> dict[str, Any]:
    return {
        "snapshot_id": sid,
        "employee_id": p.employee_id,
        "email": p.email,
        "name": p.name,
        "department": p.department,
        "title": p.title,
        "manager_id": p.manager_id,
        "employment_type": p.employment_type.value,
        "status": p.status.value,
        "start_date": p.start_date,
        "end_date": p.end_date,
        "attributes": p.attributes,
    }


def _person(r: Any) -> Person:
    return _construct(
        Person,
        employee_id=r.employee_id,
        email=r.email,
        name=r.name,
        department=r.department,
        title=r.title,
        manager_id=r.manager_id,
        employment_type=EmploymentType(r.employment_type),
        status=EmploymentStatus(r.status),
        start_date=r.start_date,
        end_date=r.end_date,
        attributes=_json(r.attributes),
    )


def _account_row(sid: int, a: Account) -> dict[str, Any]:
    return {
        "snapshot_id": sid,
        "native_id": a.native_id,
        "login": a.login,
        "email": a.email,
        "display_name": a.display_name,
        "employee_id": a.employee_id,
        "status": a.status.value,
        "kind": a.kind.value,
        "created_at": a.created_at,
        "last_login_at": a.last_login_at,
        "mfa_factors": None if a.mfa_factors is None else list(a.mfa_factors),
        "attributes": a.attributes,
    }


def _account(system: str, r: Any) -> Account:
    return _construct(
        Account,
        system=system,
        native_id=r.native_id,
        login=r.login,
        email=r.email,
        display_name=r.display_name,
        employee_id=r.employee_id,
        status=AccountStatus(r.status),
        kind=AccountKind(r.kind),
        created_at=_time(r.created_at),
        last_login_at=_time(r.last_login_at),
        mfa_factors=_tuple_or_none(_json(r.mfa_factors)),
        person_id=None,
        attributes=_json(r.attributes),
    )


def _credential_row(sid: int, c: Credential) -> dict[str, Any]:
    return {
        "snapshot_id": sid,
        "credential_id": c.credential_id,
        "account_id": c.account_id,
        "kind": c.kind.value,
        "active": c.active,
        "created_at": c.created_at,
        "last_used_at": c.last_used_at,
        "expires_at": c.expires_at,
        "attributes": c.attributes,
    }


def _credential(system: str, r: Any) -> Credential:
    return _construct(
        Credential,
        system=system,
        account_id=r.account_id,
        credential_id=r.credential_id,
        kind=CredentialKind(r.kind),
        active=r.active,
        created_at=_time(r.created_at),
        last_used_at=_time(r.last_used_at),
        expires_at=_time(r.expires_at),
        attributes=_json(r.attributes),
    )


def _entitlement_row(sid: int, e: Entitlement) -> dict[str, Any]:
    return {
        "snapshot_id": sid,
        "entitlement_id": e.entitlement_id,
        "name": e.name,
        "kind": e.kind,
        "privileged": e.privileged,
        "owner": e.owner,
        "description": e.description,
    }


def _entitlement(system: str, r: Any) -> Entitlement:
    return _construct(
        Entitlement,
        system=system,
        entitlement_id=r.entitlement_id,
        name=r.name,
        kind=r.kind,
        privileged=r.privileged,
        owner=r.owner,
        description=r.description,
    )


def _grant_row(sid: int, g: Grant) -> dict[str, Any]:
    return {
        "snapshot_id": sid,
        "account_id": g.account_id,
        "entitlement_id": g.entitlement_id,
        "via": g.via or "",
        "granted_at": g.granted_at,
        "last_used_at": g.last_used_at,
    }


def _grant(system: str, r: Any) -> Grant:
    return _construct(
        Grant,
        system=system,
        account_id=r.account_id,
        entitlement_id=r.entitlement_id,
        via=r.via or None,
        granted_at=_time(r.granted_at),
        last_used_at=_time(r.last_used_at),
    )


def _document_row(sid: int, d: PolicyDocument) -> dict[str, Any]:
    return {
        "snapshot_id": sid,
        "document_id": d.document_id,
        "name": d.name,
        "kind": d.kind,
        "document": d.document,
    }


def _document(system: str, r: Any) -> PolicyDocument:
    return _construct(
        PolicyDocument,
        system=system,
        document_id=r.document_id,
        name=r.name,
        kind=r.kind,
        document=_json(r.document),
    )
