"""The evidence bundle: every item and decision, a summary an auditor can read offline, a
manifest, and a verifier that notices any change — with hostile names everywhere."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from iam_gov.campaigns.bundle import (
    FILES,
    MANIFEST,
    BundleError,
    manifest_sha256,
    verify_bundle,
    write_bundle,
)
from iam_gov.campaigns.close import close_campaign
from iam_gov.campaigns.decisions import decide, sign_off
from iam_gov.campaigns.definition import (
    CampaignDefinition,
    CampaignError,
    NoResponse,
    Precertify,
)
from iam_gov.campaigns.reviewer import Reviewer
from iam_gov.store import Store
from iam_gov.store.schema import audit_log
from tests.campaigns.seed import REVIEWER, seed_campaign

CLOSE_AT = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)
DECIDE_AT = datetime(2025, 1, 9, 15, 30, tzinfo=UTC)
ADMIN = "ada.admin@example.com"

HOSTILE_NAME = (
    '=HYPERLINK("http://evil.example/x","click")\x1b[31m\u202eevil<script>alert(1)</script>'
)
HOSTILE_COMMENT = "+cmd|' /C calc'!A0\r\nsecond line\x07\u2066"
HOSTILE_GROUP = "-2+3,@SUM(A1)"
HOSTILE_GROUP_ID = "-2+3\n@SUM(A1)"
UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def rita(actor: str = REVIEWER) -> Reviewer:
    return Reviewer(email=REVIEWER, actor=actor, os_user="rita", admin=actor != REVIEWER)


def closed_campaign(store: Store, tmp_path: Path) -> tuple[int, Path]:
    """A campaign with decisions of every kind, hostile strings, closed with its evidence."""
    cid = seed_campaign(
        store,
        [
            {"person_name": HOSTILE_NAME, "title": "@SUM(1)", "department": "\tTAB"},
            {
                "comment": HOSTILE_COMMENT,
                "via": HOSTILE_GROUP,
                "via_ids": HOSTILE_GROUP_ID,
                "direct": False,
            },
            {
                "recommendation": "revoke",
                "leaver": True,
                "privileged": True,
                "person_name": HOSTILE_NAME,
                "via": HOSTILE_GROUP,
                "via_ids": HOSTILE_GROUP_ID,
            },
            {
                "decision": "approve",
                "decided_by": "precertifier",
                "decided_at": datetime(2025, 1, 6, 9, tzinfo=UTC),
                "precertified": "role-explained: role Engineer",
            },
            {},
        ],
        CampaignDefinition(
            name="Q1 <review> \u202e",
            no_response=NoResponse.REVOKE,
            precertify=Precertify.ROLE_EXPLAINED,
        ),
    )
    decide(store, cid, [1], "approve", rita(), now=DECIDE_AT)
    decide(store, cid, [3], "revoke", rita(ADMIN), comment="=1+2 left in December", now=DECIDE_AT)
    decide(store, cid, [2], "abstain", rita(), now=DECIDE_AT)
    out = tmp_path / "evidence"
    close_campaign(store, cid, actor="carol@example.com", now=CLOSE_AT, out_dir=out)
    return cid, out


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def test_a_closed_campaigns_bundle_has_every_file_and_verifies(
    store: Store, tmp_path: Path
) -> None:
    cid, out = closed_campaign(store, tmp_path)
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, MANIFEST])
    assert verify_bundle(out) == []
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["campaign_id"] == cid and manifest["algorithm"] == "sha256"
    assert set(manifest["files"]) == set(FILES)
    # The manifest's own hash is in the audit log, so a rewritten manifest shows too.
    with store.reading() as conn:
        evidence = conn.execute(
            select(audit_log.c.details).where(audit_log.c.action == "campaign.evidence")
        ).scalar_one()
    assert evidence["manifest_sha256"] == manifest_sha256(out)
    assert evidence["files"] == manifest["files"]
    # No temporary folder left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evidence"]


def test_items_and_decisions_in_csv_and_json(store: Store, tmp_path: Path) -> None:
    _, out = closed_campaign(store, tmp_path)
    rows = {int(r["item_id"]): r for r in read_csv(out / "items.csv")}
    assert sorted(rows) == [1, 2, 3, 4, 5]
    assert (rows[1]["decision"], rows[1]["decided_by"], rows[1]["reviewer"]) == (
        "approve",
        REVIEWER,
        REVIEWER,
    )
    assert rows[1]["decided_at"] == DECIDE_AT.isoformat()
    assert (rows[3]["decision"], rows[3]["decided_by"], rows[3]["acting_for"]) == (
        "revoke",
        ADMIN,
        REVIEWER,
    )
    assert rows[3]["comment"] == "'=1+2 left in December"  # not a formula
    assert rows[3]["recommendation"] == "revoke"
    assert "LEAVER" in rows[3]["flags"] and "the person has left (HR)" in rows[3]["reasons"]
    assert rows[4]["precertified"] == "role-explained: role Engineer"
    assert (rows[5]["decision"], rows[5]["decided_by"]) == ("revoke", "no-response (revoke)")
    assert rows[2]["decision"] == "abstain"

    items = json.loads((out / "items.json").read_text())
    assert [i["item_id"] for i in items] == [1, 2, 3, 4, 5]
    # JSON keeps values exact (escaped in the file, not in the data).
    assert items[0]["person_name"] == HOSTILE_NAME
    assert items[1]["comment"] == HOSTILE_COMMENT
    assert items[2]["acting_for"] == REVIEWER and items[2]["leaver"] is True
    assert "why it exists: direct grant" in items[0]["reasons"]

    events = read_csv(out / "history.csv")
    decided = [(e["item_id"], e["action"], e["decision"], e["actor"]) for e in events]
    assert ("1", "decide", "approve", REVIEWER) in decided
    assert ("3", "decide", "revoke", ADMIN) in decided
    assert ("5", "no-response", "revoke", "carol@example.com") in decided
    assert decided[-1][1] == "close"
    history = json.loads((out / "history.json").read_text())
    assert len(history) == len(events)
    assert next(h for h in history if h["item_id"] == 3)["acting_for"] == REVIEWER


def test_hostile_strings_are_data_in_every_file(store: Store, tmp_path: Path) -> None:
    _, out = closed_campaign(store, tmp_path)
    for name in FILES + (MANIFEST,):
        text = (out / name).read_text(encoding="utf-8")
        assert not UNSAFE.search(text), name
        if name.endswith(".json"):
            assert text.isascii(), name
    for name in ("items.csv", "history.csv"):
        for row in csv.reader(io.StringIO((out / name).read_text(), newline="")):
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)
    rows = {int(r["item_id"]): r for r in read_csv(out / "items.csv")}
    assert rows[1]["person_name"].startswith("'=HYPERLINK(")
    assert "\\x1b[31m\\u202eevil<script>" in rows[1]["person_name"]
    # a leading tab is a formula lead too: neutralised, then escaped
    assert rows[1]["title"] == "'@SUM(1)" and rows[1]["department"] == "'\\tTAB"
    assert rows[2]["comment"] == "'+cmd|' /C calc'!A0\\r\\nsecond line\\x07\\u2066"

    page = (out / "summary.html").read_text()
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Q1 &lt;review&gt; \\u202e" in page
    assert not re.search(r"\b(src|href)\s*=", page)  # nothing to fetch
    assert "Held through group" not in page and "&#x27;-2+3&#x27;" in page  # the note
    assert "default-src 'none'" in page


def test_the_summary_says_what_an_auditor_asks(store: Store, tmp_path: Path) -> None:
    cid, out = closed_campaign(store, tmp_path)
    page = (out / "summary.html").read_text()
    campaign = json.loads((out / "campaign.json").read_text())
    head = campaign["audit_head_at_close"]
    assert head["hash"] in page and f"record #{head['seq']}" in page
    assert campaign["population_hash"] in page
    assert campaign["definition"]["no_response"] == "revoke"
    assert campaign["snapshot_ids"] == {}
    assert campaign["campaign"]["closed_by"] == "carol@example.com"
    assert campaign["counts"] == {
        "total": 5,
        "decided": 5,
        "approved": 2,
        "revoked": 2,
        "abstained": 1,
        "precertified": 1,
        "no_response": 1,
    }
    assert "Time to complete" in page and "26 d 3 h" in page  # 2025-01-06 09:00 → 02-01 12:00
    assert "Last reviewer decision" in page and "2025-01-09 15:30 UTC" in page
    assert 'Pre-certified</td><td class="n">1 (rule: role-explained)' in page
    assert 'Decided by the no-response rule</td><td class="n">1 (rule: revoke)' in page
    assert f"{REVIEWER}</td>" in page  # decisions by reviewer
    assert "Revocations (2)" in page and "left in December" in page
    # Who recorded decisions for whom.
    assert f"<td>{ADMIN}</td><td>{REVIEWER}</td>" in page


def test_any_change_to_the_bundle_is_named(store: Store, tmp_path: Path) -> None:
    _, out = closed_campaign(store, tmp_path)
    with (out / "items.csv").open("a") as handle:
        handle.write("6,okta,forged\r\n")
    (out / "history.json").unlink()
    (out / "notes.txt").write_text("added later")
    (out / "sub").mkdir()
    problems = verify_bundle(out)
    assert len(problems) == 4, problems
    assert problems[0].startswith("history.json: missing")
    assert re.match(r"items\.csv: modified \(SHA-256 [0-9a-f]{64}, the manifest says", problems[1])
    assert problems[2] == "notes.txt: extra file, not in the manifest"
    assert problems[3] == "sub: extra file, not in the manifest"


def test_a_manifest_that_is_missing_unreadable_or_cut_down(store: Store, tmp_path: Path) -> None:
    _, out = closed_campaign(store, tmp_path)
    manifest = json.loads((out / MANIFEST).read_text())
    del manifest["files"]["items.json"]
    (out / "items.json").unlink()
    (out / MANIFEST).write_text(json.dumps(manifest))
    assert verify_bundle(out) == ["items.json: not in the manifest (a bundle always has it)"]

    manifest["files"]["../outside"] = "0" * 64
    (out / MANIFEST).write_text(json.dumps(manifest))
    assert "../outside: the manifest names a file outside the bundle" in verify_bundle(out)

    (out / MANIFEST).write_text("{not json")
    [problem] = verify_bundle(out)
    assert problem.startswith(f"{out}/manifest.json: unreadable")
    (out / MANIFEST).write_text('{"files": []}')
    assert verify_bundle(out) == [
        f"{out}/manifest.json: unreadable (not a manifest of SHA-256 hashes)"
    ]
    (out / MANIFEST).write_text("[" * 100_000)  # nested too deep for json
    [problem] = verify_bundle(out)
    assert problem.startswith(f"{out}/manifest.json: unreadable")
    with (out / MANIFEST).open("wb") as sparse:  # over the limit: refused, not read
        sparse.truncate(65_000_000)
    assert verify_bundle(out) == [
        f"{out}/manifest.json: is 65 MB, over the size limit of 64 MB "
        "(set IAM_GOV_MAX_PLAN_MB to raise it)"
    ]
    (out / MANIFEST).unlink()
    assert verify_bundle(out) == [
        f"{out}: manifest.json is missing: nothing to check the files against"
    ]
    assert verify_bundle(tmp_path / "nowhere") == [f"{tmp_path / 'nowhere'}: not a folder"]


def test_export_writes_the_same_evidence_again(store: Store, tmp_path: Path) -> None:
    cid, out = closed_campaign(store, tmp_path)
    again = write_bundle(store, cid, tmp_path / "again", actor="auditor@example.com")
    assert again.plan_matches_close
    first = json.loads((out / MANIFEST).read_text())["files"]
    assert again.files == first  # every file but the manifest (its time) is byte for byte equal
    assert verify_bundle(tmp_path / "again") == []
    with pytest.raises(CampaignError, match="not empty"):
        write_bundle(store, cid, out)
    (tmp_path / "empty").mkdir()
    write_bundle(store, cid, tmp_path / "empty")
    assert verify_bundle(tmp_path / "empty") == []


def test_only_a_closed_campaign_has_evidence(store: Store, tmp_path: Path) -> None:
    cid = seed_campaign(store, [{}])
    with pytest.raises(CampaignError, match=f"campaign {cid} is open.*close {cid} --out DIR"):
        write_bundle(store, cid, tmp_path / "ev")
    assert not (tmp_path / "ev").exists()
    assert list(tmp_path.iterdir()) == []


def test_signed_off_reviewers_show_in_the_summary(store: Store, tmp_path: Path) -> None:
    cid = seed_campaign(store, [{}, {}])
    decide(store, cid, [1, 2], "approve", rita(), now=DECIDE_AT)
    sign_off(store, cid, rita(), now=datetime(2025, 1, 10, 8, tzinfo=UTC))
    close_campaign(store, cid, actor="carol@example.com", now=CLOSE_AT, out_dir=tmp_path / "ev")
    page = (tmp_path / "ev" / "summary.html").read_text()
    assert "2025-01-10 08:00 UTC</td></tr>" in page


# --- the command ----------------------------------------------------------------------------


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iam_gov", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=120,
    )


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """The commands are the same on either store: SQLite is enough for them."""
    with Store.open(f"sqlite:///{tmp_path}/iam-gov.db") as opened:
        yield opened


def test_verify_bundle_command(sqlite_store: Store, tmp_path: Path) -> None:
    store = sqlite_store
    _, out = closed_campaign(store, tmp_path)
    ok = run("campaign", "verify-bundle", str(out))
    assert ok.returncode == 0, ok.stderr
    assert "bundle OK" in ok.stdout and manifest_sha256(out) in ok.stdout
    (out / "summary.html").write_text("<p>all approved</p>")
    (out / "extra.csv").write_text("x")
    bad = run("campaign", "verify-bundle", str(out))
    assert bad.returncode == BundleError.exit_code == 3
    assert "does NOT match its manifest" in bad.stderr
    assert "summary.html: modified" in bad.stderr and "extra.csv: extra file" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_close_and_export_commands(sqlite_store: Store, tmp_path: Path) -> None:
    store = sqlite_store
    cid = seed_campaign(
        store,
        [{}, {"recommendation": "revoke"}],
        CampaignDefinition(name="CLI", due=date(2099, 1, 1)),
    )
    config = tmp_path / "iam-gov.toml"
    config.write_text(
        '[policy]\npath = "policy.yaml"\n\n[systems.hr]\ntype = "hr"\npath = "hr.csv"\n'
    )
    env = {"IAM_GOV_DATABASE_URL": store.url, "IAM_GOV_CONFIG": str(config)}
    early = run("campaign", "close", str(cid), env=env)
    assert early.returncode == 2 and "--force-before-due" in early.stderr
    closed = run(
        "campaign", "close", str(cid), "--out", str(tmp_path / "ev"), "--force-before-due", env=env
    )
    assert closed.returncode == 0, closed.stderr
    assert (
        f"campaign {cid} closed" in closed.stdout
        and "no response (keep): 2 approved" in closed.stdout
    )
    assert verify_bundle(tmp_path / "ev") == []
    exported = run("campaign", "export", str(cid), "--out", str(tmp_path / "ev2"), env=env)
    assert exported.returncode == 0, exported.stderr
    assert verify_bundle(tmp_path / "ev2") == []
    listed = run("campaign", "list", env=env)
    assert listed.returncode == 0 and "CLI" in listed.stdout and "closed" in listed.stdout
    status = run("campaign", "status", str(cid), env=env)
    assert status.returncode == 0, status.stderr
    assert "2 items: 2 decided (100%)" in status.stdout and REVIEWER in status.stdout
