"""Random tampering with a stored audit log: every edit, deletion, reordering and truncation is
caught, naming the first bad record; an untouched log never raises a false alarm.

Shared by ``tests/test_audit_tampering.py`` (a few hundred cases in ``make test``) and
``benchmarks/audit_tampering.py`` (thousands, counts printed, in ``make bench``)."""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text, update

from iam_gov import audit
from iam_gov.store import Store
from iam_gov.store.schema import audit_head, audit_log

RECORDS = 20
FIELDS = ("actor", "action", "target", "details", "recorded_at", "hash", "prev_hash")
KINDS = ("edit", "delete", "swap", "truncate", "truncate-and-head")


def pristine_store(folder: Path) -> Path:
    """A SQLite store with ``RECORDS`` chained records; its file."""
    path = folder / "pristine.db"
    with Store.open(f"sqlite:///{path}") as store, store.writing() as conn:
        for i in range(1, RECORDS + 1):
            audit.append(conn, "collect", f"system-{i}", {"snapshot_id": i, "name": "Zoë"})
    return path


@dataclass(frozen=True)
class Tamper:
    kind: str
    seq: int
    field: str = ""
    other: int = 0

    def first_bad(self) -> int:
        """The record a verifier must name: for a cut whose head was rewritten to match, the
        anchored record (the newest before the cut), which is no longer there."""
        if self.kind == "swap":
            return min(self.seq, self.other)
        return RECORDS if self.kind == "truncate-and-head" else self.seq


def random_tamper(rng: random.Random) -> Tamper:
    kind = rng.choice(KINDS)
    seq = rng.randint(1, RECORDS)
    if kind == "swap":
        other = rng.choice([s for s in range(1, RECORDS + 1) if s != seq])
        return Tamper(kind, seq, other=other)
    if kind == "edit":
        return Tamper(kind, seq, field=rng.choice(FIELDS))
    if kind == "truncate-and-head":
        seq = max(seq, 2)  # the head is rewritten to the record before the cut
    return Tamper(kind, seq)


def apply(store: Store, tamper: Tamper) -> None:
    seq = tamper.seq
    with store.writing() as conn:
        if tamper.kind == "edit":
            row = conn.execute(audit_log.select().where(audit_log.c.seq == seq)).one()
            value = getattr(row, tamper.field)
            if tamper.field == "details":
                changed: object = {**value, "snapshot_id": -1}
            elif tamper.field == "recorded_at":
                changed = value + timedelta(seconds=1)
            elif tamper.field in ("hash", "prev_hash"):
                changed = ("0" if value[0] != "0" else "1") + value[1:]
            else:
                changed = value + "x"
            conn.execute(
                update(audit_log).where(audit_log.c.seq == seq).values({tamper.field: changed})
            )
        elif tamper.kind == "delete":
            conn.execute(audit_log.delete().where(audit_log.c.seq == seq))
        elif tamper.kind == "swap":
            other = tamper.other
            conn.execute(update(audit_log).where(audit_log.c.seq == seq).values(seq=-1))
            conn.execute(update(audit_log).where(audit_log.c.seq == other).values(seq=seq))
            conn.execute(update(audit_log).where(audit_log.c.seq == -1).values(seq=other))
        else:  # truncate: the newest records from seq on are gone
            conn.execute(audit_log.delete().where(audit_log.c.seq >= seq))
            if tamper.kind == "truncate-and-head":
                kept = conn.execute(
                    text("SELECT hash FROM audit_log WHERE seq = :seq"), {"seq": seq - 1}
                ).scalar_one()
                conn.execute(update(audit_head).values(seq=seq - 1, hash=kept))


def miss_of(folder: Path, pristine: Path, tamper: Tamper, anchor: audit.Anchor) -> str | None:
    """None when the tampering is caught as it must be; else what went wrong."""
    path = folder / "tampered.db"
    shutil.copyfile(pristine, path)
    path.chmod(0o600)
    with Store.open(f"sqlite:///{path}", create=False) as store:
        apply(store, tamper)
        with store.reading() as conn:
            # A cut with the head rewritten to match is only caught against an anchor kept
            # elsewhere (as the README says): the newest anchor taken before is given.
            expect = anchor if tamper.kind == "truncate-and-head" else None
            result = audit.verify(conn, expect_head=expect)
    path.unlink()
    if result.ok:
        return f"{tamper}: not caught"
    if result.bad_seq != tamper.first_bad():
        return f"{tamper}: named record #{result.bad_seq}, not #{tamper.first_bad()}"
    return None


def run(folder: Path, cases: int, seed: int) -> tuple[int, list[str]]:
    """``cases`` random tamperings of one pristine log: how many were caught, and the misses.
    An untouched log must verify first (no false alarm)."""
    pristine = pristine_store(folder)
    with Store.open(f"sqlite:///{pristine}", create=False) as store, store.reading() as conn:
        clean = audit.verify(conn)
    assert clean.ok, clean.problem
    rng = random.Random(seed)
    misses = []
    for _ in range(cases):
        miss = miss_of(folder, pristine, random_tamper(rng), clean.anchor)
        if miss is not None:
            misses.append(miss)
    return cases - len(misses), misses
