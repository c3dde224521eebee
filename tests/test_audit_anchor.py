"""Anchors: a record's number and hash kept elsewhere prove the log up to that record, even
after newer records; `run` prints one and the evidence bundle carries one."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from iam_gov import audit
from iam_gov.campaigns.bundle import AUDIT_ANCHOR, MANIFEST, verify_bundle
from iam_gov.campaigns.close import close_campaign
from iam_gov.samplegen import generate
from iam_gov.store import Store
from iam_gov.store.schema import audit_head, audit_log
from tests.campaigns.seed import seed_campaign
from tests.support.world import AS_OF

ANCHOR_LINE = re.compile(
    r"^audit anchor: (\d+):([0-9a-f]{64}) — keep it outside this machine to prove the log "
    r"later$",
    re.MULTILINE,
)


def append(store: Store, first: int, last: int) -> None:
    with store.writing() as conn:
        for i in range(first, last + 1):
            audit.append(conn, "collect", f"system-{i}", {"snapshot_id": i})


def verify(store: Store, expect_head: str | None = None) -> audit.Verification:
    with store.reading() as conn:
        return audit.verify(conn, expect_head=expect_head)


def rewrite_from(store: Store, seq: int) -> None:
    """A full rewrite from record ``seq`` on: every hash recomputed, the head too, so that the
    chain alone verifies: what someone who can write the store can do."""
    with store.writing() as conn:
        rows = conn.execute(audit_log.select().order_by(audit_log.c.seq)).all()
        prev = audit.GENESIS
        for row in rows:
            details = {**row.details, "rewritten": True} if row.seq == seq else row.details
            if row.seq >= seq:
                digest = audit.record_hash(
                    prev, row.recorded_at, row.actor, row.action, row.target, details
                )
                conn.execute(
                    update(audit_log)
                    .where(audit_log.c.seq == row.seq)
                    .values(details=details, prev_hash=prev, hash=digest)
                )
                prev = digest
            else:
                prev = row.hash
        conn.execute(update(audit_head).values(hash=prev))


def test_an_earlier_anchor_still_proves_the_log_after_new_records(store: Store) -> None:
    append(store, 1, 3)
    taken = verify(store).anchor
    assert str(taken) == f"3:{verify(store).head_hash}"
    append(store, 4, 6)
    result = verify(store, str(taken))
    assert result.ok, result.problem
    assert result.records == 6
    # a bare hash is still the newest record's: the old one no longer is
    assert not verify(store, taken.hash).ok
    assert verify(store, verify(store).head_hash).ok


def test_a_rewritten_log_verifies_alone_but_not_against_the_anchor(store: Store) -> None:
    append(store, 1, 5)
    with store.reading() as conn:
        kept = audit.anchor(conn)
        fourth = audit.records(conn, limit=2)[1]
    assert kept.seq == 5 and fourth.seq == 4
    older = f"4:{fourth.hash}"
    rewrite_from(store, 2)
    assert verify(store).ok  # the unkeyed chain cannot see a full rewrite …
    for anchor, seq in ((str(kept), 5), (older, 4)):  # … an anchor kept elsewhere can
        result = verify(store, anchor)
        assert not result.ok and result.bad_seq == seq
        assert f"record #{seq} (collect system-{seq}) is not the one anchored" in (
            result.problem or ""
        )


def test_an_anchor_beyond_the_end_of_the_log_is_missing(store: Store) -> None:
    append(store, 1, 3)
    result = verify(store, f"7:{'a' * 64}")
    assert not result.ok and result.bad_seq == 7
    assert "record #7 (the anchor 7:" in (result.problem or "") and "missing" in (
        result.problem or ""
    )


@pytest.mark.parametrize("value", ["3:xyz", "abc", "three:" + "a" * 64, ":" + "a" * 64, ""])
def test_a_malformed_anchor_is_a_usage_error(value: str) -> None:
    with pytest.raises(audit.AnchorError, match="--expect-head"):
        audit.Anchor.parse(value)


# --- the command --------------------------------------------------------------------------


def iam_gov(*args: str, db: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IAM_GOV_DATABASE_URL": f"sqlite:///{db}", "COLUMNS": "80"}
    env.pop("IAM_GOV_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "iam_gov", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=180,
    )


def test_run_ends_with_the_anchor_and_verify_takes_it_back(tmp_path: Path) -> None:
    company = tmp_path / "company"
    generate(company, people=30, seed=5, as_of=AS_OF)
    db = tmp_path / "store" / "iam-gov.db"
    config = str(company / "iam-gov.toml")
    first = iam_gov("--config", config, "run", db=db, cwd=tmp_path)
    assert first.returncode in (0, 1), first.stderr
    assert first.stdout.rstrip().splitlines()[-1].startswith("audit anchor: ")  # one line, last
    match = ANCHOR_LINE.search(first.stdout)
    assert match, first.stdout[-400:]
    seq, digest = int(match[1]), match[2]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT seq, hash FROM audit_head").fetchone() == (seq, digest)

    second = iam_gov("--config", config, "run", db=db, cwd=tmp_path)
    assert second.returncode in (0, 1), second.stderr
    later = ANCHOR_LINE.search(second.stdout)
    assert later and int(later[1]) > seq
    ok = iam_gov("audit", "verify", "--expect-head", f"{seq}:{digest}", db=db, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert f"matches anchor {seq}:{digest}" in ok.stdout

    wrong = iam_gov("audit", "verify", "--expect-head", f"{seq}:{'0' * 64}", db=db, cwd=tmp_path)
    assert wrong.returncode == 3
    assert f"record #{seq} (" in wrong.stderr and "is not the one anchored" in wrong.stderr
    malformed = iam_gov("audit", "verify", "--expect-head", f"{seq}:nothex", db=db, cwd=tmp_path)
    assert malformed.returncode == 2 and "SEQ:HASH" in malformed.stderr


# --- the evidence bundle ------------------------------------------------------------------


def test_the_evidence_bundle_carries_the_anchor_of_the_close(store: Store, tmp_path: Path) -> None:
    cid = seed_campaign(store, [{}, {}])
    out = tmp_path / "evidence"
    closed = close_campaign(
        store, cid, actor="carol@example.com", now=datetime(2025, 2, 1, tzinfo=UTC), out_dir=out
    )
    assert closed is not None
    with store.reading() as conn:
        close = next(r for r in audit.records(conn) if r.action == "campaign.close")
    anchor = f"{close.seq}:{close.hash}"
    assert (out / AUDIT_ANCHOR).read_text().splitlines()[0] == anchor
    assert AUDIT_ANCHOR in json.loads((out / MANIFEST).read_text())["files"]
    assert verify_bundle(out) == []
    append(store, 1, 2)  # the log grows; the bundle's anchor still proves it up to the close
    assert verify(store, anchor).ok
    (out / AUDIT_ANCHOR).write_text(f"{close.seq}:{'0' * 64}\n")
    assert [p for p in verify_bundle(out) if p.startswith(f"{AUDIT_ANCHOR}: modified")]


def test_a_bundle_written_before_anchors_still_verifies(store: Store, tmp_path: Path) -> None:
    cid = seed_campaign(store, [{}])
    out = tmp_path / "evidence"
    close_campaign(store, cid, actor="carol", now=datetime(2025, 2, 1, tzinfo=UTC), out_dir=out)
    manifest = json.loads((out / MANIFEST).read_text())
    (out / AUDIT_ANCHOR).unlink()
    del manifest["files"][AUDIT_ANCHOR]
    (out / MANIFEST).write_text(json.dumps({**manifest, "version": 1}))
    assert verify_bundle(out) == []
    (out / MANIFEST).write_text(json.dumps({**manifest, "version": 2}))
    assert verify_bundle(out) == [f"{AUDIT_ANCHOR}: not in the manifest (a bundle always has it)"]
