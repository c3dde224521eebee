"""The append-only, hash-chained audit log and its verifier.

Each record holds the SHA-256 of the one before it, as CloudTrail digest files do: editing,
deleting or reordering any record breaks the chain at that record, and ``verify`` names it.
Appending locks the one-row ``audit_head`` table so that concurrent writers (several machines on
one PostgreSQL store) never chain onto the same record.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from iam_gov.store.schema import audit_head, audit_log
from iam_gov.timeutil import utcnow

GENESIS = "0" * 64
ACTOR_ENV = "IAM_GOV_ACTOR"


def current_actor() -> str:
    """Who is acting: ``IAM_GOV_ACTOR`` (set by schedulers), else ``user@host``."""
    explicit = os.environ.get(ACTOR_ENV)
    if explicit:
        return explicit
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid-{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(
    prev_hash: str,
    recorded_at: datetime,
    actor: str,
    action: str,
    target: str,
    details: Mapping[str, Any],
) -> str:
    payload = canonical_json(
        {
            "prev": prev_hash,
            "at": recorded_at.isoformat(),
            "actor": actor,
            "action": action,
            "target": target,
            "details": details,
        }
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    recorded_at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


def append(
    conn: Connection,
    action: str,
    target: str,
    details: Mapping[str, Any],
    *,
    actor: str | None = None,
    at: datetime | None = None,
) -> AuditRecord:
    """Add one record in the caller's transaction: it lands with the change it describes."""
    head = conn.execute(
        select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
    ).one()
    recorded_at = at or utcnow()
    record = AuditRecord(
        seq=head.seq + 1,
        recorded_at=recorded_at,
        actor=actor or current_actor(),
        action=action,
        target=target,
        details=dict(details),
        prev_hash=head.hash,
        hash="",
    )
    digest = record_hash(
        record.prev_hash, record.recorded_at, record.actor, action, target, record.details
    )
    conn.execute(
        audit_log.insert().values(
            seq=record.seq,
            recorded_at=record.recorded_at,
            actor=record.actor,
            action=action,
            target=target,
            details=record.details,
            prev_hash=record.prev_hash,
            hash=digest,
        )
    )
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=record.seq, hash=digest))
    return AuditRecord(**{**record.__dict__, "hash": digest})


@dataclass(frozen=True)
class Verification:
    ok: bool
    records: int
    head_hash: str
    problem: str | None = None
    bad_seq: int | None = None


def verify(conn: Connection, *, expect_head: str | None = None) -> Verification:
    """Walk the chain from the first record; stop at and name the first broken one."""
    expected_seq = 1
    prev = GENESIS
    rows = conn.execute(
        select(audit_log).order_by(audit_log.c.seq).execution_options(yield_per=5000)
    )
    for row in rows:
        if row.seq != expected_seq:
            return _broken(
                expected_seq - 1,
                prev,
                expected_seq,
                f"record #{expected_seq} is missing: the log jumps from "
                f"#{expected_seq - 1} to #{row.seq}",
            )
        recomputed = record_hash(
            row.prev_hash, row.recorded_at, row.actor, row.action, row.target, row.details
        )
        if recomputed != row.hash:
            return _broken(
                row.seq - 1,
                prev,
                row.seq,
                f"record #{row.seq} ({row.action} {row.target}) was changed after it was "
                "written: its contents no longer match its hash",
            )
        if row.prev_hash != prev:
            return _broken(
                row.seq - 1,
                prev,
                row.seq,
                f"record #{row.seq} ({row.action} {row.target}) does not follow record "
                f"#{row.seq - 1}: records were reordered, or the one before it was replaced",
            )
        prev = row.hash
        expected_seq += 1
    last = expected_seq - 1
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).one_or_none()
    if head is None:
        return _broken(last, prev, None, "the audit head record is missing")
    if head.seq > last:
        return _broken(
            last,
            prev,
            last + 1,
            f"record #{last + 1} is missing: the log ends at #{last} but {head.seq} records "
            "were written",
        )
    if head.seq != last or head.hash != prev:
        return _broken(
            last, prev, head.seq + 1, f"records after #{head.seq} were not written by iam-gov"
        )
    if expect_head is not None and expect_head != prev:
        return _broken(
            last,
            prev,
            None,
            f"the newest record (#{last}) is not the one expected: its hash is {prev}, "
            f"expected {expect_head} (records were removed from the end, or the log was replaced)",
        )
    return Verification(ok=True, records=last, head_hash=prev)


def _broken(records: int, head: str, seq: int | None, problem: str) -> Verification:
    return Verification(ok=False, records=records, head_hash=head, problem=problem, bad_seq=seq)


def records(conn: Connection, *, limit: int | None = None) -> list[AuditRecord]:
    query = select(audit_log).order_by(audit_log.c.seq.desc())
    if limit is not None:
        query = query.limit(limit)
    return [
        AuditRecord(
            seq=row.seq,
            recorded_at=row.recorded_at,
            actor=row.actor,
            action=row.action,
            target=row.target,
            details=row.details,
            prev_hash=row.prev_hash,
            hash=row.hash,
        )
        for row in conn.execute(query)
    ]
