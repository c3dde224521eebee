"""The append-only, hash-chained audit log and its verifier.

Each record holds the SHA-256 of the one before it, as CloudTrail digest files do: editing,
deleting or reordering any record breaks the chain at that record, and ``verify`` names it.
Appending locks the one-row ``audit_head`` table so that concurrent writers (several machines on
one PostgreSQL store) never chain onto the same record.

The chain has no key: whoever can write the store can rewrite every record and recompute every
hash. Such a full rewrite is only caught against an anchor (a record's number and hash, see
``Anchor``) kept somewhere the writer cannot reach.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Dialect, select, type_coerce, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import NullType

from iam_gov.errors import IamGovError
from iam_gov.store.schema import audit_head, audit_log
from iam_gov.timeutil import as_utc, utcnow

GENESIS = "0" * 64
ACTOR_ENV = "IAM_GOV_ACTOR"
_HASH = re.compile(r"^[0-9a-f]{64}$")


# --- who acts -----------------------------------------------------------------------------


def os_user_name() -> str:
    """The OS account of the process's real user id.

    Not ``getpass.getuser()``: it believes ``LOGNAME`` and ``USER``, which anyone can set."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a container's uid with no passwd entry
        return f"uid-{uid}"


def os_actor() -> str:
    """Who really runs this process: the OS account of the real user id, and the host."""
    return f"{os_user_name()}@{socket.gethostname()}"


def current_actor() -> str:
    """The identity this command claims: ``IAM_GOV_ACTOR`` (set by schedulers), else the OS
    account. A claim only: the audit log records it next to ``os_actor()``."""
    return os.environ.get(ACTOR_ENV) or os_actor()


def attributed(claimed: str | None) -> str:
    """The actor as recorded: who really ran the command, and the identity claimed when it
    differs (``root@host (claims cron:iam-gov)``)."""
    real = os_actor()
    if not claimed or claimed == real:
        return real
    return f"{real} (claims {claimed})"


# --- the chain ----------------------------------------------------------------------------


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
    unreadable: str | None = None
    """Why ``details`` (then empty) could not be read: the stored text is not a JSON object.
    ``verify`` names such a record as broken."""


def append(
    conn: Connection,
    action: str,
    target: str,
    details: Mapping[str, Any],
    *,
    actor: str | None = None,
    at: datetime | None = None,
) -> AuditRecord:
    """Add one record in the caller's transaction: it lands with the change it describes.

    ``actor`` (default ``current_actor()``) is who the caller says acts; the record names the
    OS account that really ran the command, with that claim beside it when it differs."""
    head = conn.execute(
        select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
    ).one()
    recorded_at = at or utcnow()
    record = AuditRecord(
        seq=head.seq + 1,
        recorded_at=recorded_at,
        actor=attributed(actor or current_actor()),
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


# --- anchors ------------------------------------------------------------------------------


class AnchorError(IamGovError):
    """An ``--expect-head`` value that is neither ``SEQ:HASH`` nor a bare hash."""


@dataclass(frozen=True)
class Anchor:
    """One record's number and hash, kept outside the store: the log up to that record can
    later be proved unchanged. ``seq`` is ``None`` for a bare hash, which must be the newest."""

    seq: int | None
    hash: str

    def __str__(self) -> str:
        return self.hash if self.seq is None else f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, value: str) -> Anchor:
        text = value.strip()
        seq_text, sep, hash_text = text.rpartition(":")
        digest = hash_text.lower()
        if not _HASH.match(digest):
            raise AnchorError(
                f"--expect-head {value!r}: give SEQ:HASH (a record's number and its 64-character "
                "SHA-256, as `run` and `audit verify` print it) or the newest record's hash"
            )
        if not sep:
            return cls(seq=None, hash=digest)
        if not seq_text.isdigit():
            raise AnchorError(
                f"--expect-head {value!r}: {seq_text!r} is not a record number (SEQ:HASH)"
            )
        return cls(seq=int(seq_text), hash=digest)


def anchor(conn: Connection) -> Anchor:
    """The newest record's number and hash, as the head table has them."""
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).one()
    return Anchor(seq=head.seq, hash=head.hash)


# --- verifying ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    ok: bool
    records: int
    head_hash: str
    problem: str | None = None
    bad_seq: int | None = None

    @property
    def anchor(self) -> Anchor:
        return Anchor(seq=self.records, hash=self.head_hash)


class _Unreadable(Exception):
    """One field of one record cannot be read as its column says."""


@dataclass(frozen=True)
class _Fields:
    recorded_at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


def verify(conn: Connection, *, expect_head: str | Anchor | None = None) -> Verification:
    """Walk the chain from the first record; stop at and name the first broken one.

    ``expect_head``: ``SEQ:HASH`` (that record must have that hash in the chain recomputed
    now), or a bare hash (the newest record must have it). Every problem with a record, also
    one that cannot be read (a garbled timestamp, details that are not JSON, a NULL), is a
    broken log naming the record, never an exception."""
    expected = Anchor.parse(expect_head) if isinstance(expect_head, str) else expect_head
    read = _field_readers(conn.dialect)
    expected_seq = 1
    prev = GENESIS
    rows = conn.execute(
        select(*(type_coerce(c, NullType()).label(c.name) for c in audit_log.columns))
        .order_by(audit_log.c.seq)
        .execution_options(yield_per=5000)
    )
    try:
        for row in rows:
            seq = row.seq
            if not isinstance(seq, int) or isinstance(seq, bool):
                return _broken(
                    expected_seq - 1,
                    prev,
                    expected_seq,
                    f"record #{expected_seq}: the record after #{expected_seq - 1} has the "
                    f"number {seq!r}, not an integer",
                )
            if seq != expected_seq:
                return _broken(
                    expected_seq - 1,
                    prev,
                    expected_seq,
                    f"record #{expected_seq} is missing: the log jumps from "
                    f"#{expected_seq - 1} to #{seq}",
                )
            try:
                fields = read(row)
                recomputed = record_hash(
                    fields.prev_hash,
                    fields.recorded_at,
                    fields.actor,
                    fields.action,
                    fields.target,
                    fields.details,
                )
            except (_Unreadable, ValueError, TypeError) as exc:
                return _broken(seq - 1, prev, seq, f"record #{seq}: {exc}")
            label = f"record #{seq} ({fields.action} {fields.target})"
            if recomputed != fields.hash:
                return _broken(
                    seq - 1,
                    prev,
                    seq,
                    f"{label} was changed after it was written: its contents no longer match "
                    "its hash",
                )
            if fields.prev_hash != prev:
                return _broken(
                    seq - 1,
                    prev,
                    seq,
                    f"{label} does not follow record #{seq - 1}: records were reordered, or "
                    "the one before it was replaced",
                )
            if expected is not None and expected.seq == seq and expected.hash != recomputed:
                return _broken(
                    seq,
                    recomputed,
                    seq,
                    f"{label} is not the one anchored: its hash is {recomputed}, the anchor "
                    f"{expected} says {expected.hash} (the log was rewritten up to this record)",
                )
            prev = recomputed
            expected_seq += 1
    except DBAPIError as exc:  # a value the database driver itself cannot decode
        return _broken(
            expected_seq - 1,
            prev,
            expected_seq,
            f"record #{expected_seq}: cannot be read ({type(exc.orig).__name__}: {exc.orig})",
        )
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
    if expected is not None and expected.seq is not None and expected.seq > last:
        return _broken(
            last,
            prev,
            expected.seq,
            f"record #{expected.seq} (the anchor {expected}) is missing: the log ends at "
            f"#{last} (records were removed from the end, or the log was replaced)",
        )
    if expected is not None and expected.seq == 0 and expected.hash != GENESIS:
        return _broken(
            last, prev, None, f"the anchor {expected} is not a record: record #0 has no hash"
        )
    if expected is not None and expected.seq is None and expected.hash != prev:
        return _broken(
            last,
            prev,
            None,
            f"the newest record (#{last}) is not the one expected: its hash is {prev}, "
            f"expected {expected.hash} (records were removed from the end, or the log was "
            "replaced)",
        )
    return Verification(ok=True, records=last, head_hash=prev)


def _field_readers(dialect: Dialect) -> Callable[[Any], _Fields]:
    """Reads one raw row's fields the way the columns' own types would, naming what fails."""

    def converter(column: Column[Any]) -> Callable[[Any], Any]:
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)

        def convert(value: Any) -> Any:
            if value is None:
                raise _Unreadable(f"its {column.name} is empty (NULL)")
            try:
                return process(value) if process is not None else value
            except (ValueError, TypeError) as exc:
                raise _Unreadable(
                    f"its {column.name} {_shown(value)} cannot be read ({exc})"
                ) from None

        return convert

    at, details = converter(audit_log.c.recorded_at), converter(audit_log.c.details)

    def text(row: Any, name: str) -> str:
        value = getattr(row, name)
        if value is None:
            raise _Unreadable(f"its {name} is empty (NULL)")
        if not isinstance(value, str):
            raise _Unreadable(f"its {name} {_shown(value)} is not text")
        return value

    def read(row: Any) -> _Fields:
        recorded_at = at(row.recorded_at)
        if not isinstance(recorded_at, datetime):
            raise _Unreadable(f"its recorded_at {_shown(row.recorded_at)} is not a timestamp")
        parsed = details(row.details)
        if not isinstance(parsed, dict):
            raise _Unreadable(f"its details {_shown(row.details)} are not a JSON object")
        return _Fields(
            recorded_at=as_utc(recorded_at),
            actor=text(row, "actor"),
            action=text(row, "action"),
            target=text(row, "target"),
            details=parsed,
            prev_hash=text(row, "prev_hash"),
            hash=text(row, "hash"),
        )

    return read


def _shown(value: Any, limit: int = 60) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else f"{shown[: limit - 1]}…"


def _broken(records: int, head: str, seq: int | None, problem: str) -> Verification:
    return Verification(ok=False, records=records, head_hash=head, problem=problem, bad_seq=seq)


def records(conn: Connection, *, limit: int | None = None) -> list[AuditRecord]:
    """The newest records first; a record whose details cannot be read is still listed, with
    empty details and ``unreadable`` saying why."""
    raw = type_coerce(audit_log.c.details, NullType()).label("details")
    columns = [raw if c.name == "details" else c for c in audit_log.columns]
    query = select(*columns).order_by(audit_log.c.seq.desc())
    if limit is not None:
        query = query.limit(limit)
    process = audit_log.c.details.type.dialect_impl(conn.dialect).result_processor(
        conn.dialect, None
    )
    found = []
    for row in conn.execute(query):
        try:
            details = process(row.details) if process is not None else row.details
        except (ValueError, TypeError):
            details = None
        found.append(
            AuditRecord(
                seq=row.seq,
                recorded_at=row.recorded_at,
                actor=row.actor,
                action=row.action,
                target=row.target,
                details=details if isinstance(details, dict) else {},
                prev_hash=row.prev_hash,
                hash=row.hash,
                unreadable=None if isinstance(details, dict) else _shown(row.details),
            )
        )
    return found
