"""HR events in: each event id is acted on once (``hr_events``), a termination becomes a plan,
applied at once or held for a human, as configured. Shared by ``deprovision --event`` and
``hr-webhook``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from iam_gov import audit
from iam_gov.config import Config
from iam_gov.files import make_private_folders
from iam_gov.policy import Policy
from iam_gov.store import Store
from iam_gov.store.schema import hr_events
from iam_gov.timeutil import utcnow

from .events import HrEvent
from .executor import Executor, Refused, RunResult
from .plan import Plan, save_plan
from .planner import Request, make_plan

Status = Literal[
    "applied", "partial", "held", "planned", "ignored", "refused", "duplicate", "later"
]


@dataclass
class EventOutcome:
    event: HrEvent
    status: Status
    message: str
    plan: Plan | None = None
    run: RunResult | None = None
    held_at: Path | None = None


def handle_event(
    store: Store,
    config: Config,
    policy: Policy,
    event: HrEvent,
    body: bytes,
    *,
    source: str,
    actor: str,
    mode: Literal["apply", "hold", "plan"],
    held_folder: Path | None = None,
    now: datetime | None = None,
) -> EventOutcome:
    """Record the event (once: a second delivery of the same id is a ``duplicate`` and changes
    nothing), then plan, and apply or hold as ``mode`` says."""
    at = now or utcnow()
    digest = hashlib.sha256(body).hexdigest()
    try:
        with store.writing() as conn:
            conn.execute(
                insert(hr_events).values(
                    event_id=event.event_id,
                    source=source,
                    received_at=at,
                    kind=event.kind,
                    employee=event.employee,
                    effective_at=event.effective_at,
                    status="received",
                    body_sha256=digest,
                )
            )
            audit.append(
                conn,
                "hr-event.received",
                f"hr-event:{event.event_id}",
                {
                    "source": source,
                    "type": event.type,
                    "employee": event.employee,
                    "effective_at": event.effective_at.isoformat() if event.effective_at else None,
                    "body_sha256": digest,
                },
                actor=actor,
                at=at,
            )
    except IntegrityError:
        with store.reading() as conn:
            earlier = conn.execute(
                select(hr_events.c.status, hr_events.c.received_at).where(
                    hr_events.c.event_id == event.event_id
                )
            ).one()
        return EventOutcome(
            event,
            "duplicate",
            f"{event.describe()} was received before ({earlier.received_at:%Y-%m-%d %H:%M} "
            f"UTC, {earlier.status}): nothing done again",
        )
    try:
        outcome = _act(
            store, config, policy, event, actor=actor, mode=mode, folder=held_folder, at=at
        )
    except Exception:
        # recorded as failed (not left "received"): a retry of the same id stays a duplicate,
        # and whoever looks sees that this event was not acted on
        with store.writing() as conn:
            conn.execute(
                update(hr_events)
                .where(hr_events.c.event_id == event.event_id)
                .values(status="failed")
            )
        raise
    with store.writing() as conn:
        conn.execute(
            update(hr_events)
            .where(hr_events.c.event_id == event.event_id)
            .values(status=outcome.status, run_id=outcome.run.run_id if outcome.run else None)
        )
    return outcome


def _act(
    store: Store,
    config: Config,
    policy: Policy,
    event: HrEvent,
    *,
    actor: str,
    mode: Literal["apply", "hold", "plan"],
    folder: Path | None,
    at: datetime,
) -> EventOutcome:
    if event.kind != "termination":
        return EventOutcome(
            event, "ignored", f"{event.describe()}: not a termination; recorded, nothing to do"
        )
    if event.effective_at is not None and event.effective_at > at:
        return EventOutcome(
            event,
            "later",
            f"{event.describe()}: takes effect later; recorded. `iam-gov deprovision --from-hr` "
            "(or a new event) acts on it from that day",
        )
    reason = f"HR event {event.event_id}" + (f": {event.reason}" if event.reason else "")
    request = Request(who=[event.employee], reason=reason, trigger="hr-event", actor=actor)
    plan = make_plan(store, config, policy, request, now=at)
    if mode in ("plan", "hold"):
        from .executor import record_plan

        record_plan(store, plan, actor)
    if mode == "plan":
        return EventOutcome(event, "planned", "planned (dry run): nothing changed", plan=plan)
    if mode == "hold":
        held = None
        if folder is not None:
            make_private_folders(folder)
            held = folder / f"{at:%Y%m%dT%H%M%SZ}-{plan.plan_id[:12]}.json"
            save_plan(plan, held)
        return EventOutcome(
            event,
            "held",
            f"{event.describe()}: plan of {len(plan.active_steps())} action(s) held for a human"
            + (f": iam-gov deprovision --apply --plan {held}" if held else ""),
            plan=plan,
            held_at=held,
        )
    try:
        run = Executor(store, config, actor=actor).apply(plan)
    except Refused as exc:
        return EventOutcome(event, "refused", str(exc), plan=plan)
    status: Status = "applied" if run.status == "done" else "partial"
    return EventOutcome(
        event, status, f"{event.describe()}: run #{run.run_id} {run.status}", plan=plan, run=run
    )
