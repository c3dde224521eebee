"""Closing a campaign: the no-response rule for what nobody decided, the remediation plan,
and (when asked) the evidence bundle — all in one write transaction.

A failure anywhere leaves the campaign open, every item as it was, and no bundle folder.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, literal, select, update

from iam_gov import audit
from iam_gov.campaigns.bundle import BundleResult, check_out_dir, record_bundle, write_bundle_in
from iam_gov.campaigns.definition import CampaignError, NoResponse, definition_from_json
from iam_gov.campaigns.plan import RemediationPlan, build_plan
from iam_gov.campaigns.progress import NO_RESPONSE_PREFIX, Counts, counts_by_campaign
from iam_gov.store import Store
from iam_gov.store.schema import campaign_history, campaign_items, campaigns
from iam_gov.timeutil import utcnow


@dataclass(frozen=True)
class CloseResult:
    campaign_id: int
    closed_at: datetime
    rule: str
    """The no-response rule applied: ``keep``, ``revoke`` or ``recommendation``."""
    no_response_approved: int
    no_response_revoked: int
    counts: Counts
    plan: RemediationPlan
    forced_before_due: bool
    audit_seq: int
    audit_hash: str
    """The ``campaign.close`` audit record: the chain head at close."""
    bundle: BundleResult | None


def no_response_by(rule: NoResponse) -> str:
    """``decided_by`` of the items the rule decides: ``no-response (keep)``."""
    return f"{NO_RESPONSE_PREFIX} ({rule.value})"


def close_campaign(
    store: Store,
    campaign_id: int,
    *,
    actor: str,
    now: datetime | None = None,
    out_dir: Path | None = None,
    force_before_due: bool = False,
) -> CloseResult:
    """Close an open campaign on or after its due date (before it only with
    ``force_before_due``): decide the undecided items by the definition's no-response rule,
    mark it closed, build the remediation plan, and write the evidence to ``out_dir``."""
    at = now or utcnow()
    if out_dir is not None:
        check_out_dir(out_dir)  # refuse before anything changes
    written: Path | None = None
    try:
        with store.writing() as conn:
            row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).one_or_none()
            if row is None:
                raise CampaignError(f"there is no campaign {campaign_id} (iam-gov campaign list)")
            if row.status == "draft":
                raise CampaignError(
                    f"campaign {campaign_id} was never launched: there is nothing to close "
                    f"(iam-gov campaign launch {campaign_id})"
                )
            if row.status == "closed":
                when = row.closed_at.strftime("%Y-%m-%d %H:%M UTC") if row.closed_at else "?"
                raise CampaignError(
                    f"campaign {campaign_id} was already closed on {when} by {row.closed_by}; "
                    f"its evidence: iam-gov campaign export {campaign_id} --out DIR"
                )
            early = row.due_on is not None and at.date() < row.due_on
            if early and not force_before_due:
                raise CampaignError(
                    f"campaign {campaign_id} is due on {row.due_on.isoformat()}: closing it "
                    "now would apply the no-response rule to items reviewers can still decide; "
                    "use --force-before-due to close it anyway"
                )
            definition = definition_from_json(row.definition)
            rule = definition.no_response
            applied = _apply_no_response(conn, campaign_id, rule, actor=actor, at=at)
            conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id)
                .values(status="closed", closed_at=at, closed_by=actor)
            )
            plan = build_plan(conn, campaign_id, generated_at=at)
            plan_sha = hashlib.sha256(plan.to_json().encode()).hexdigest()
            counts = counts_by_campaign(conn, [campaign_id])[campaign_id]
            summary: dict[str, Any] = {
                "counts": counts.as_document(),
                "no_response": applied,
                "remediation": {
                    "actions": len(plan.actions),
                    "notes": len(plan.notes),
                    "sha256": plan_sha,
                },
                "forced_before_due": early,
                "population_hash": row.population_hash,
            }
            record = audit.append(
                conn,
                "campaign.close",
                f"campaign:{campaign_id}",
                {"campaign_id": campaign_id, "name": row.name, **summary},
                actor=actor,
                at=at,
            )
            summary["audit"] = {"seq": record.seq, "hash": record.hash}
            conn.execute(
                update(campaigns).where(campaigns.c.id == campaign_id).values(close_summary=summary)
            )
            conn.execute(
                campaign_history.insert().values(
                    campaign_id=campaign_id,
                    item_id=None,
                    action="close",
                    actor=actor,
                    at=at,
                    details={
                        "no_response": applied,
                        "actions": len(plan.actions),
                        "forced_before_due": early,
                        "audit_seq": record.seq,
                    },
                )
            )
            bundle = None
            if out_dir is not None:
                bundle = write_bundle_in(conn, campaign_id, out_dir, generated_at=at)
                written = out_dir
                record_bundle(conn, campaign_id, bundle, actor=actor, at=at)
    except BaseException:
        # The transaction rolled back (or failed to commit): the campaign is still open, so
        # evidence of a close that did not happen must not stay behind.
        if written is not None:
            shutil.rmtree(written, ignore_errors=True)
        raise
    return CloseResult(
        campaign_id=campaign_id,
        closed_at=at,
        rule=rule.value,
        no_response_approved=applied["approved"],
        no_response_revoked=applied["revoked"],
        counts=counts,
        plan=plan,
        forced_before_due=early,
        audit_seq=record.seq,
        audit_hash=record.hash,
        bundle=bundle,
    )


def _apply_no_response(
    conn: Connection, campaign_id: int, rule: NoResponse, *, actor: str, at: datetime
) -> dict[str, Any]:
    """Decide every undecided item by the rule, set-based: one history row per item, one
    audit record naming the rule, the counts, and a hash of exactly which items it decided."""
    c = campaign_items.c
    undecided = (c.campaign_id == campaign_id, c.decision.is_(None))
    decision: Any
    if rule is NoResponse.KEEP:
        decision = literal("approve")
    elif rule is NoResponse.REVOKE:
        decision = literal("revoke")
    else:
        decision = c.recommendation
    digest = hashlib.sha256()
    approved = revoked = 0
    rows = conn.execute(
        select(c.item_id, decision.label("decision"))
        .where(*undecided)
        .order_by(c.item_id)
        .execution_options(yield_per=10_000)
    )
    for item_id, decided in rows:
        digest.update(f"{item_id}\t{decided}\n".encode())
        if decided == "revoke":
            revoked += 1
        else:
            approved += 1
    applied = {
        "rule": rule.value,
        "approved": approved,
        "revoked": revoked,
        "items_sha256": digest.hexdigest(),
    }
    if approved + revoked == 0:
        return applied
    by = no_response_by(rule)
    h = campaign_history.c
    conn.execute(
        campaign_history.insert().from_select(
            [h.campaign_id, h.item_id, h.action, h.actor, h.at, h.decision, h.details],
            select(
                c.campaign_id,
                c.item_id,
                literal("no-response"),
                literal(actor),
                literal(at, type_=h.at.type),
                decision,
                literal({"rule": rule.value, "decided_by": by}, type_=h.details.type),
            ).where(*undecided),
        )
    )
    conn.execute(
        update(campaign_items)
        .where(*undecided)
        .values(decision=decision, decided_by=by, decided_at=at, version=c.version + 1)
    )
    audit.append(
        conn,
        "campaign.no-response",
        f"campaign:{campaign_id}",
        {"campaign_id": campaign_id, **applied},
        actor=actor,
        at=at,
    )
    return applied
