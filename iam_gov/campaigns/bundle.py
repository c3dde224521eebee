"""The evidence bundle of a closed campaign, and its verifier.

One folder an auditor can take away: every item and its decision (CSV and JSON), every
decision event (CSV and JSON), a self-contained HTML summary, the campaign (definition,
snapshots, population hash, the audit chain head at close), the remediation plan, the audit
anchor of the close (``audit-anchor.txt``: ``iam-gov audit verify --expect-head SEQ:HASH``
later proves the log up to the close unchanged), and ``manifest.json`` with the SHA-256 of
every other file. ``verify_bundle`` checks a folder
against its manifest; the manifest's own hash is recorded in the audit log when the bundle is
written, so a rewritten manifest shows too.

Untrusted strings (names, titles, group names, comments) are data in every file: CSV cells
have control and bidi characters shown as escapes and cannot start a formula; the HTML is
escaped the same way; JSON files are ASCII only (every other character ``\\u``-escaped), so
their values stay exact for programs and show no control characters to people.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, func, select

from iam_gov import audit
from iam_gov.campaigns.definition import CampaignDefinition, CampaignError, definition_from_json
from iam_gov.campaigns.plan import (
    MAX_PLAN_BYTES,
    MAX_PLAN_ENV,
    PLAN_FILE,
    RemediationPlan,
    build_plan,
)
from iam_gov.campaigns.progress import (
    NO_RESPONSE_PREFIX,
    Counts,
    ReviewerProgress,
    counts_by_campaign,
    reviewer_progress,
)
from iam_gov.campaigns.reasons import FLAG_LABELS, flags_of, reasons_of
from iam_gov.files import create_private, make_private_folders
from iam_gov.store import Store
from iam_gov.store.schema import campaign_history, campaign_items, campaigns
from iam_gov.textsafe import csv_cell, printable
from iam_gov.timeutil import utcnow
from iam_gov.yamlfile import TooLarge, read_limited, size_limit

BUNDLE_VERSION = 2
MANIFEST = "manifest.json"
AUDIT_ANCHOR = "audit-anchor.txt"
FILES = (
    AUDIT_ANCHOR,
    "campaign.json",
    "items.csv",
    "items.json",
    "history.csv",
    "history.json",
    "summary.html",
    PLAN_FILE,
)
"""Every file a bundle holds besides the manifest."""
NEW_IN_VERSION = {AUDIT_ANCHOR: 2}
"""Files a bundle has from that manifest version on: older bundles still verify."""

ITEM_FIELDS = (
    "item_id",
    "system",
    "account_id",
    "account_login",
    "account_kind",
    "account_status",
    "person_id",
    "person_name",
    "person_email",
    "department",
    "title",
    "entitlement_id",
    "entitlement_name",
    "entitlement_kind",
    "via",
    "direct",
    "privileged",
    "leaver",
    "mover",
    "in_role",
    "explanation",
    "last_used_at",
    "peers_holding",
    "peers_total",
    "finding_rules",
    "finding_severity",
    "risk",
    "recommendation",
    "reviewer",
    "reviewer_rule",
    "decision",
    "comment",
    "decided_by",
    "acting_for",
    "decided_at",
    "precertified",
)
HISTORY_FIELDS = (
    "id",
    "item_id",
    "action",
    "actor",
    "acting_for",
    "os_user",
    "at",
    "decision",
    "comment",
    "details",
)
REVOCATIONS_SHOWN = 1000
"""Revocations listed in the HTML summary; all of them are in items.csv and the plan."""


class BundleError(CampaignError):
    """An evidence bundle does not match its manifest (or has none)."""

    exit_code = 3


@dataclass(frozen=True)
class BundleResult:
    path: Path
    files: dict[str, str]
    """File name -> SHA-256, as the manifest lists them."""
    manifest_sha256: str
    plan: RemediationPlan
    plan_matches_close: bool
    """The plan written now is the one closing the campaign produced (its hash is in the
    close record); ``False`` when the data it is built from has changed since."""


# --- writing ------------------------------------------------------------------------------


def check_out_dir(out_dir: Path) -> None:
    """Refuse a folder that exists and is not empty: a bundle is never written over another."""
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise CampaignError(
            f"{out_dir}: exists and is not a folder; give a new folder for the bundle"
        )
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise CampaignError(
            f"{out_dir}: the folder is not empty; the evidence is never written over other "
            "files: give a new or empty folder"
        )


def write_bundle(
    store: Store, campaign_id: int, out_dir: Path, *, actor: str | None = None
) -> BundleResult:
    """Write the evidence of a closed campaign to ``out_dir`` (new or empty) and record the
    manifest's hash in the audit log."""
    check_out_dir(out_dir)
    at = utcnow()
    with store.reading() as conn:
        result = write_bundle_in(conn, campaign_id, out_dir, generated_at=at)
    try:
        with store.writing() as conn:
            record_bundle(conn, campaign_id, result, actor=actor, at=at)
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    return result


def record_bundle(
    conn: Connection,
    campaign_id: int,
    result: BundleResult,
    *,
    actor: str | None,
    at: datetime,
) -> None:
    audit.append(
        conn,
        "campaign.evidence",
        f"campaign:{campaign_id}",
        {
            "campaign_id": campaign_id,
            "manifest_sha256": result.manifest_sha256,
            "files": result.files,
            "plan_matches_close": result.plan_matches_close,
        },
        actor=actor,
        at=at,
    )


def write_bundle_in(
    conn: Connection, campaign_id: int, out_dir: Path, *, generated_at: datetime
) -> BundleResult:
    """Write the bundle from the caller's connection (inside ``close``'s transaction, it sees
    the close itself): into a temporary folder next to ``out_dir``, renamed into place only
    when every file is written."""
    check_out_dir(out_dir)
    row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).one_or_none()
    if row is None:
        raise CampaignError(f"there is no campaign {campaign_id} (iam-gov campaign list)")
    if row.status != "closed":
        raise CampaignError(
            f"campaign {campaign_id} is {row.status}: its evidence is written when it is "
            f"closed (iam-gov campaign close {campaign_id} --out DIR)"
        )
    definition = definition_from_json(row.definition)
    close_summary: dict[str, Any] = row.close_summary or {}
    plan = build_plan(conn, campaign_id, generated_at=row.closed_at)
    plan_text = plan.to_json()
    plan_sha = _sha(plan_text.encode())
    expected_plan = (close_summary.get("remediation") or {}).get("sha256")
    counts = counts_by_campaign(conn, [campaign_id])[campaign_id]
    reviewers = reviewer_progress(conn, campaign_id)

    make_private_folders(out_dir.parent)
    temporary = Path(
        tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent)
    )
    try:
        files: dict[str, str] = {}
        as_of = row.launched_at or row.created_at
        files["items.csv"], files["items.json"] = _write_items(
            conn, campaign_id, temporary, as_of, definition.unused_after_days
        )
        files["history.csv"], files["history.json"] = _write_history(conn, campaign_id, temporary)
        files["campaign.json"] = _write_text(
            temporary / "campaign.json",
            _json_text(_campaign_document(row, counts, plan_sha)),
        )
        files[PLAN_FILE] = _write_text(temporary / PLAN_FILE, plan_text)
        files[AUDIT_ANCHOR] = _write_text(
            temporary / AUDIT_ANCHOR, _anchor_text(conn, close_summary)
        )
        files["summary.html"] = _write_text(
            temporary / "summary.html",
            _summary_html(conn, row, definition, counts, reviewers, plan, expected_plan, plan_sha),
        )
        manifest = {
            "version": BUNDLE_VERSION,
            "campaign_id": campaign_id,
            "generated_at": generated_at.isoformat(),
            "algorithm": "sha256",
            "files": dict(sorted(files.items())),
        }
        manifest_sha = _write_text(temporary / MANIFEST, _json_text(manifest))
        _fsync_dir(temporary)
        os.rename(temporary, out_dir)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return BundleResult(
        path=out_dir,
        files=dict(sorted(files.items())),
        manifest_sha256=manifest_sha,
        plan=plan,
        plan_matches_close=expected_plan is None or expected_plan == plan_sha,
    )


def _anchor_text(conn: Connection, close_summary: Mapping[str, Any]) -> str:
    """The close's audit record (the same in every export of this campaign's evidence), else
    the newest record now."""
    closed = close_summary.get("audit") or {}
    seq, digest = closed.get("seq"), closed.get("hash")
    if isinstance(seq, int) and isinstance(digest, str):
        anchor, which = audit.Anchor(seq=seq, hash=digest), "the campaign's close record"
    else:
        anchor, which = audit.anchor(conn), "the newest record when this bundle was written"
    return (
        f"{anchor}\n"
        "\n"
        f"Audit anchor: {which} (#{anchor.seq}) and its SHA-256. Kept here, outside the store,\n"
        "it proves the audit log up to that record unchanged, even after newer records:\n"
        f"  iam-gov audit verify --expect-head {anchor}\n"
    )


class _HashingFile:
    """A text sink that writes UTF-8 to a file and hashes what it writes."""

    def __init__(self, handle: IO[bytes]):
        self.handle = handle
        self.digest = hashlib.sha256()

    def write(self, text: str) -> int:
        data = text.encode("utf-8")
        self.digest.update(data)
        self.handle.write(data)
        return len(text)


def _open_hashing(path: Path) -> tuple[IO[bytes], _HashingFile]:
    handle = os.fdopen(create_private(path), "wb")
    return handle, _HashingFile(handle)


def _finish(handle: IO[bytes], sink: _HashingFile) -> str:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    return sink.digest.hexdigest()


def _write_text(path: Path, text: str) -> str:
    handle, sink = _open_hashing(path)
    sink.write(text)
    return _finish(handle, sink)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _json_text(document: Any) -> str:
    return json.dumps(document, ensure_ascii=True, indent=2, default=_json_value) + "\n"


def _csv_value(value: Any) -> str:
    if type(value) is str:  # most cells: checked first
        return csv_cell(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return csv_cell(value)


def _write_rows(
    directory: Path,
    stem: str,
    header: Iterable[str],
    rows: Iterator[dict[str, Any]],
    csv_row: Callable[[dict[str, Any]], list[str]],
) -> tuple[str, str]:
    """``stem.csv`` and ``stem.json`` (an array) from the same rows, streamed."""
    csv_handle, csv_sink = _open_hashing(directory / f"{stem}.csv")
    json_handle, json_sink = _open_hashing(directory / f"{stem}.json")
    try:
        writer = csv.writer(csv_sink, lineterminator="\r\n")
        writer.writerow(list(header))
        encode = json.JSONEncoder(ensure_ascii=True, default=_json_value).encode
        json_sink.write("[")
        first = True
        for row in rows:
            writer.writerow(csv_row(row))
            json_sink.write(("\n  " if first else ",\n  ") + encode(row))
            first = False
        json_sink.write("\n]\n" if not first else "]\n")
    except BaseException:
        csv_handle.close()
        json_handle.close()
        raise
    return _finish(csv_handle, csv_sink), _finish(json_handle, json_sink)


def _write_items(
    conn: Connection, campaign_id: int, directory: Path, as_of: datetime, unused_after_days: int
) -> tuple[str, str]:
    c = campaign_items.c
    query = (
        select(*[c[name] for name in ITEM_FIELDS])
        .where(c.campaign_id == campaign_id)
        .order_by(c.item_id)
        .execution_options(yield_per=5000)
    )

    def rows() -> Iterator[dict[str, Any]]:
        for row in conn.execute(query):
            item = dict(zip(ITEM_FIELDS, row, strict=True))
            item["flags"] = [FLAG_LABELS[f] for f in flags_of(item, as_of, unused_after_days)]
            item["reasons"] = reasons_of(item, as_of, unused_after_days)
            yield item

    def csv_row(item: dict[str, Any]) -> list[str]:
        return [_csv_value(item[name]) for name in ITEM_FIELDS] + [
            csv_cell(" ".join(item["flags"])),
            csv_cell("; ".join(item["reasons"])),
        ]

    return _write_rows(directory, "items", (*ITEM_FIELDS, "flags", "reasons"), rows(), csv_row)


def _write_history(conn: Connection, campaign_id: int, directory: Path) -> tuple[str, str]:
    h = campaign_history.c
    query = (
        select(*[h[name] for name in HISTORY_FIELDS])
        .where(h.campaign_id == campaign_id)
        .order_by(h.id)
        .execution_options(yield_per=5000)
    )

    def rows() -> Iterator[dict[str, Any]]:
        for row in conn.execute(query):
            yield dict(zip(HISTORY_FIELDS, row, strict=True))

    def csv_row(event: dict[str, Any]) -> list[str]:
        cells = [_csv_value(event[name]) for name in HISTORY_FIELDS[:-1]]
        details = json.dumps(event["details"], ensure_ascii=True, sort_keys=True)
        return [*cells, csv_cell(details)]

    return _write_rows(directory, "history", HISTORY_FIELDS, rows(), csv_row)


def _campaign_document(row: Any, counts: Counts, plan_sha: str) -> dict[str, Any]:
    close_summary = row.close_summary or {}
    return {
        "version": BUNDLE_VERSION,
        "campaign": {
            "id": row.id,
            "name": row.name,
            "kind": row.kind,
            "trigger": row.trigger,
            "status": row.status,
            "created_at": row.created_at,
            "created_by": row.created_by,
            "launched_at": row.launched_at,
            "due_on": row.due_on,
            "closed_at": row.closed_at,
            "closed_by": row.closed_by,
            "item_count": row.item_count,
            "evaluation_id": row.evaluation_id,
        },
        "definition": row.definition,
        "snapshot_ids": row.snapshot_ids,
        "population_hash": row.population_hash,
        "audit_head_at_close": close_summary.get("audit"),
        "counts": counts.as_document(),
        "close_summary": close_summary,
        "remediation_plan_sha256": plan_sha,
    }


# --- the HTML summary ---------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #1a1a1a; max-width: 75em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #bbb; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #eee; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: .9em; word-break: break-all; }
.warn { color: #8a1c00; font-weight: bold; }
"""


def _e(value: object) -> str:
    """Shown literally: control and bidi characters as escapes, then HTML-escaped."""
    return html.escape(printable("" if value is None else value), quote=True)


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _duration(delta: timedelta) -> str:
    days, seconds = delta.days, delta.seconds
    hours, minutes = seconds // 3600, seconds % 3600 // 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min"


def _table(header: Iterable[str], rows: Iterable[Iterable[str]], numeric: set[int]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(cells)
        )
        + "</tr>\n"
        for cells in rows
    )
    return f"<table>\n<tr>{head}</tr>\n{body}</table>\n"


def _summary_html(
    conn: Connection,
    row: Any,
    definition: CampaignDefinition,
    counts: Counts,
    reviewers: list[ReviewerProgress],
    plan: RemediationPlan,
    expected_plan: str | None,
    plan_sha: str,
) -> str:
    c = campaign_items.c
    close_summary: Mapping[str, Any] = row.close_summary or {}
    audit_head = close_summary.get("audit") or {}
    last_decision = conn.execute(
        select(func.max(c.decided_at)).where(
            c.campaign_id == row.id,
            c.decision.is_not(None),
            c.precertified.is_(None),
            c.decided_by.not_like(f"{NO_RESPONSE_PREFIX}%"),
        )
    ).scalar_one_or_none()
    deciders = conn.execute(
        select(c.decided_by, c.acting_for, func.count().label("n"))
        .where(c.campaign_id == row.id, c.decision.is_not(None))
        .group_by(c.decided_by, c.acting_for)
        .order_by(func.count().desc(), c.decided_by)
    ).all()
    precert_rules = conn.execute(
        select(c.precertified, func.count().label("n"))
        .where(c.campaign_id == row.id, c.precertified.is_not(None))
        .group_by(c.precertified)
        .order_by(func.count().desc())
    ).all()
    revocations = conn.execute(
        select(
            c.item_id,
            c.person_name,
            c.account_login,
            c.system,
            c.entitlement_name,
            c.via,
            c.reviewer,
            c.decided_by,
            c.acting_for,
            c.decided_at,
            c.comment,
        )
        .where(c.campaign_id == row.id, c.decision == "revoke")
        .order_by(c.item_id)
        .limit(REVOCATIONS_SHOWN)
    ).all()

    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
        f"<title>Access review evidence: {_e(row.name)}</title>\n",
        f"<style>{_STYLE}</style>\n</head>\n<body>\n",
        f"<h1>Access review evidence: {_e(row.name)} (campaign {row.id})</h1>\n",
    ]
    timing = [
        ("Status", _e(row.status)),
        ("Kind", _e(row.kind + (f" ({row.trigger})" if row.trigger else ""))),
        ("Created", f"{_when(row.created_at)} by {_e(row.created_by)}"),
        ("Launched", _when(row.launched_at)),
        ("Due", "—" if row.due_on is None else row.due_on.isoformat()),
        ("Closed", f"{_when(row.closed_at)} by {_e(row.closed_by)}"),
        ("Last reviewer decision", _when(last_decision)),
    ]
    if row.launched_at and row.closed_at:
        timing.append(("Time to complete", _duration(row.closed_at - row.launched_at)))
    if close_summary.get("forced_before_due"):
        timing.append(("Note", '<span class="warn">closed before its due date (forced)</span>'))
    parts.append("<h2>Campaign</h2>\n")
    parts.append(_table(("", ""), timing, set()))

    parts.append("<h2>Progress</h2>\n")
    rule = definition.no_response.value
    progress_rows = [
        ("Items", str(counts.total)),
        ("Decided", f"{counts.decided} ({counts.percent}%)"),
        ("Approved", str(counts.approved)),
        ("Revoked", str(counts.revoked)),
        ("Abstained", str(counts.abstained)),
        ("Pre-certified", f"{counts.precertified} (rule: {_e(definition.precertify.value)})"),
        ("Decided by the no-response rule", f"{counts.no_response} (rule: {_e(rule)})"),
        ("Still undecided", str(counts.pending)),
    ]
    parts.append(_table(("", "count"), progress_rows, {1}))
    if precert_rules:
        parts.append("<p>Pre-certified by:</p>\n")
        parts.append(
            _table(("rule", "items"), ((_e(r.precertified), str(r.n)) for r in precert_rules), {1})
        )

    parts.append("<h2>Decisions by reviewer</h2>\n")
    parts.append(
        _table(
            (
                "reviewer",
                "items",
                "approved",
                "revoked",
                "abstained",
                "pre-certified",
                "no response",
                "signed off",
            ),
            (
                (
                    _e(r.reviewer),
                    str(r.counts.total),
                    str(r.counts.approved),
                    str(r.counts.revoked),
                    str(r.counts.abstained),
                    str(r.counts.precertified),
                    str(r.counts.no_response),
                    _when(r.signed_off_at) if r.signed_off_at else "no",
                )
                for r in sorted(reviewers, key=lambda r: r.reviewer)
            ),
            {1, 2, 3, 4, 5, 6},
        )
    )
    parts.append("<p>Who recorded the decisions:</p>\n")
    parts.append(
        _table(
            ("decided by", "acting for", "items"),
            ((_e(d.decided_by), _e(d.acting_for), str(d.n)) for d in deciders),
            {2},
        )
    )

    parts.append(f"<h2>Revocations ({counts.revoked})</h2>\n")
    if counts.revoked > len(revocations):
        parts.append(
            f"<p>The first {len(revocations)} are listed; all of them are in items.csv.</p>\n"
        )
    parts.append(
        _table(
            (
                "item",
                "person or account",
                "system",
                "entitlement",
                "through groups",
                "reviewer",
                "decided by",
                "when",
                "comment",
            ),
            (
                (
                    str(r.item_id),
                    _e(r.person_name or r.account_login),
                    _e(r.system),
                    _e(r.entitlement_name),
                    _e(r.via),
                    _e(r.reviewer),
                    _e(r.decided_by) + (f" for {_e(r.acting_for)}" if r.acting_for else ""),
                    _when(r.decided_at),
                    _e(r.comment),
                )
                for r in revocations
            ),
            {0},
        )
    )
    parts.append(
        f"<p>Remediation plan ({PLAN_FILE}): {len(plan.actions)} action(s), "
        f"{len(plan.notes)} to do by hand; SHA-256 <code>{plan_sha}</code>.</p>\n"
    )
    if expected_plan is not None and expected_plan != plan_sha:
        parts.append(
            '<p class="warn">This plan differs from the one produced at close (SHA-256 '
            f"<code>{_e(expected_plan)}</code>): the snapshots it is built from have changed."
            "</p>\n"
        )
    if plan.notes:
        parts.append("<ul>\n")
        parts.extend(f"<li>{_e(note)}</li>\n" for note in plan.notes[:REVOCATIONS_SHOWN])
        parts.append("</ul>\n")

    parts.append("<h2>Integrity</h2>\n")
    snapshots = row.snapshot_ids or {}
    integrity = [
        ("Population hash (SHA-256)", f"<code>{_e(row.population_hash)}</code>"),
        (
            "Snapshots",
            _e(", ".join(f"{k}: {v}" for k, v in sorted(snapshots.items())) or "—"),
        ),
        (
            "Audit chain head at close",
            (
                f"record #{_e(audit_head.get('seq'))}, "
                f"hash <code>{_e(audit_head.get('hash'))}</code>"
                if audit_head
                else "not recorded"
            ),
        ),
        ("Definition", f"<code>{_e(json.dumps(row.definition, sort_keys=True))}</code>"),
    ]
    parts.append(_table(("", ""), integrity, set()))
    parts.append(
        "<p>Check this folder with <code>iam-gov campaign verify-bundle DIR</code> and the audit "
        "log with <code>iam-gov audit verify</code>: the close record above and the "
        "manifest's hash (record <code>campaign.evidence</code>) are in it.</p>\n"
    )
    parts.append("</body>\n</html>\n")
    return "".join(parts)


# --- verifying ----------------------------------------------------------------------------


def _manifest_limit() -> int:
    return size_limit(MAX_PLAN_ENV, MAX_PLAN_BYTES)


def verify_bundle(directory: Path) -> list[str]:
    """Problems with a bundle folder: files modified, missing or extra, a manifest that cannot
    be read. Empty when the folder is exactly what its manifest lists."""
    where = printable(directory)
    if not directory.is_dir():
        return [f"{where}: not a folder"]
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file() or manifest_path.is_symlink():
        return [f"{where}: {MANIFEST} is missing: nothing to check the files against"]
    try:
        manifest = json.loads(read_limited(manifest_path, _manifest_limit(), MAX_PLAN_ENV))
    except TooLarge as exc:
        return [f"{where}/{MANIFEST}: {exc}"]
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return [f"{where}/{MANIFEST}: unreadable ({printable(exc)})"]
    listed = manifest.get("files") if isinstance(manifest, dict) else None
    if (
        not isinstance(manifest, dict)
        or manifest.get("algorithm") != "sha256"
        or not isinstance(listed, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in listed.items())
    ):
        return [f"{where}/{MANIFEST}: unreadable (not a manifest of SHA-256 hashes)"]
    problems = []
    version = manifest.get("version")
    for name in FILES:
        if isinstance(version, int) and version < NEW_IN_VERSION.get(name, 0):
            continue
        if name not in listed:
            problems.append(f"{printable(name)}: not in the manifest (a bundle always has it)")
    for name, expected in sorted(listed.items()):
        shown = printable(name)
        if name == MANIFEST:
            problems.append(f"{shown}: the manifest lists itself (it cannot vouch for itself)")
            continue
        if name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
            problems.append(f"{shown}: the manifest names a file outside the bundle")
            continue
        path = directory / name
        if path.is_symlink() or (path.exists() and not path.is_file()):
            problems.append(f"{shown}: not a regular file")
            continue
        if not path.exists():
            problems.append(f"{shown}: missing")
            continue
        actual = _file_sha(path)
        if actual != expected.lower():
            problems.append(
                f"{shown}: modified (SHA-256 {actual}, the manifest says {printable(expected)})"
            )
    for entry in sorted(directory.iterdir(), key=lambda p: p.name):
        if entry.name != MANIFEST and entry.name not in listed:
            problems.append(f"{printable(entry.name)}: extra file, not in the manifest")
    return problems


def manifest_sha256(directory: Path) -> str:
    """The SHA-256 of a bundle's manifest, to compare with its ``campaign.evidence`` audit
    record."""
    return _file_sha(directory / MANIFEST)


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
