"""An older copy of the store restored over a newer one: the older log is whole on its own,
so `iam-gov audit verify` alone passes, but against the anchor a later `run` printed (or an
evidence bundle carries) it fails with the tamper exit code, naming the record that is missing
or not the one anchored."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from iam_gov import audit
from iam_gov.campaigns.bundle import AUDIT_ANCHOR, verify_bundle
from iam_gov.campaigns.close import close_campaign
from iam_gov.collect import collect_each
from iam_gov.config import load_config
from iam_gov.samplegen import generate
from iam_gov.store import Store
from tests.campaigns.seed import seed_campaign
from tests.support.crash import child_env, copy_store, iam_gov_argv
from tests.support.world import AS_OF

ANCHOR = re.compile(r"^audit anchor: (\d+):([0-9a-f]{64}) ", re.MULTILINE)
TAMPERED = 3
"""The exit code of a broken audit chain (``AuditBroken``)."""


def iam_gov(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        iam_gov_argv(*args),
        env=child_env({"IAM_GOV_DATABASE_URL": f"sqlite:///{db}"}),
        cwd=db.parent.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_anchor(db: Path, config: Path) -> audit.Anchor:
    """`iam-gov run`, and the anchor its last line prints."""
    done = iam_gov(db, "--config", str(config), "run")
    assert done.returncode in (0, 1), done.stderr
    match = ANCHOR.search(done.stdout)
    assert match, done.stdout[-500:]
    return audit.Anchor(seq=int(match[1]), hash=match[2])


def verified(db: Path, anchor: audit.Anchor | None = None) -> audit.Verification:
    """What `iam-gov audit verify` checks, in this process."""
    with Store.open(f"sqlite:///{db}", create=False) as store, store.reading() as conn:
        return audit.verify(conn, expect_head=anchor)


def head_of(db: Path) -> audit.Anchor:
    with Store.open(f"sqlite:///{db}", create=False) as store, store.reading() as conn:
        return audit.anchor(conn)


def test_an_older_store_restored_over_a_newer_one_fails_against_the_run_anchor(
    tmp_path: Path,
) -> None:
    """The store of a first collect restored over the one a later `run` left: whole on its
    own, caught by that run's anchor (record missing); and when new records are written over the
    restored store up to and past that number, still caught (not the one anchored)."""
    company = tmp_path / "company"
    generate(company, people=20, seed=7, as_of=AS_OF)
    config = company / "iam-gov.toml"
    db = tmp_path / "store" / "iam-gov.db"
    with Store.open(f"sqlite:///{db}") as store:  # the older store: a first collect
        collect_each(load_config(config), store)
    first = head_of(db)
    older = tmp_path / "backup" / "iam-gov.db"
    copy_store(db, older)
    later = run_anchor(db, config)
    assert later.seq is not None and first.seq is not None and later.seq > first.seq
    assert verified(db, later).ok

    copy_store(older, db)  # restored over the newer store

    assert verified(db).ok  # the older log is whole on its own: only an anchor tells
    caught = iam_gov(db, "audit", "verify", "--expect-head", str(later))
    assert caught.returncode == TAMPERED, caught.stdout + caught.stderr
    assert (
        f"record #{later.seq} (the anchor {later}) is missing: the log ends at #{first.seq}"
        in caught.stderr
    )

    # new records written over the restored store, until its log is as long as the anchor's
    with Store.open(f"sqlite:///{db}", create=False) as store:
        while head_of(db).seq is not None and (head_of(db).seq or 0) < later.seq:
            collect_each(load_config(config), store, ["hr"])
    assert (head_of(db).seq or 0) >= later.seq
    relogged = iam_gov(db, "audit", "verify", "--expect-head", str(later))
    assert relogged.returncode == TAMPERED, relogged.stdout + relogged.stderr
    assert f"record #{later.seq} (" in relogged.stderr
    assert "is not the one anchored" in relogged.stderr
    assert verified(db).ok  # whole on its own again
    assert verified(db, first).ok  # and the log up to the first run's anchor is the same


def test_an_older_store_restored_after_a_close_fails_against_the_bundle_anchor(
    tmp_path: Path,
) -> None:
    """A campaign closed with its evidence bundle; the store from before the close restored:
    the bundle still verifies on its own, and its anchor names the close record missing."""
    db = tmp_path / "store" / "iam-gov.db"
    with Store.open(f"sqlite:///{db}") as store:
        campaign = seed_campaign(store, [{}, {}, {}])
    before_close = tmp_path / "backup" / "iam-gov.db"
    copy_store(db, before_close)
    out = tmp_path / "evidence"
    with Store.open(f"sqlite:///{db}", create=False) as store:
        closed = close_campaign(
            store,
            campaign,
            actor="carol@example.com",
            now=datetime(2025, 2, 1, tzinfo=UTC),
            out_dir=out,
        )
    assert closed is not None
    anchor = audit.Anchor.parse((out / AUDIT_ANCHOR).read_text().splitlines()[0])
    assert verified(db, anchor).ok

    copy_store(before_close, db)

    assert verify_bundle(out) == []  # the bundle is untouched: the store went back
    caught = iam_gov(db, "audit", "verify", "--expect-head", str(anchor))
    assert caught.returncode == TAMPERED, caught.stdout + caught.stderr
    assert f"record #{anchor.seq} (the anchor {anchor}) is missing" in caught.stderr
