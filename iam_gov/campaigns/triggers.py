"""Event-triggered reviews: a new privileged grant, a mover, or an exception about to expire
opens one small review of exactly the access concerned, once.

The triggers are a YAML file (``iam-gov campaign triggers --file triggers.yaml``)::

    triggers:
      - kind: new-privileged-grant
        reviewers: {rule: owner, fallback: security@example.com}
        due_in_days: 5
      - kind: mover
        reviewers: {rule: manager}
      - kind: exception-expiring
        days_before: 14
        reviewers: {rule: named, named: iam-team@example.com}
        comment_required: [always]

``review_triggers`` remembers each event a review was opened for, so that running the
triggers again (cron runs them after every collect and evaluation) never opens it twice; it
also remembers, per system, the snapshot whose changes were last looked at, so that a missed
run does not lose an event.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from iam_gov import audit
from iam_gov.campaigns.definition import (
    CampaignDefinition,
    CommentWhen,
    DefinitionError,
    GrantRef,
    Reviewers,
    Scope,
)
from iam_gov.campaigns.launch import create_campaign, launch_campaign
from iam_gov.config import Config
from iam_gov.engine import load_state
from iam_gov.engine.state import EvaluationState
from iam_gov.errors import IamGovError
from iam_gov.model import AccountStatus, Entitlement
from iam_gov.policy import Policy
from iam_gov.policy.match import entitlement_matches
from iam_gov.store import Store
from iam_gov.store.schema import (
    accounts,
    campaigns,
    entitlements,
    grants,
    people,
    person_changes,
    review_triggers,
    snapshots,
)
from iam_gov.textsafe import printable
from iam_gov.timeutil import utcnow
from iam_gov.yamlfile import load_yaml

MOVE_FIELDS = ("department", "title", "manager_id", "employment_type")
"""HR fields whose change makes someone a mover (and every HR attribute, which roles may
match on); a new name or e-mail address does not."""
STALE_CLAIM = timedelta(hours=1)
"""A claim on an event with no campaign yet, older than this, was left by a run that died:
another run may take it over."""
MAX_KEY = 1024
CHECKED = "checked"
"""``review_triggers`` keys that record the snapshot a system's changes were looked at up to."""


class TriggerKind(enum.StrEnum):
    NEW_PRIVILEGED_GRANT = "new-privileged-grant"
    """A privileged grant in a system's latest snapshot that the snapshot before it lacked."""
    MOVER = "mover"
    """HR changed someone's department, title, manager, type or an attribute: all their
    access is reviewed."""
    EXCEPTION_EXPIRING = "exception-expiring"
    """An exception in the policy ends within ``days_before``: the grants it approves are
    reviewed (renew it, or let the access go)."""


LABELS = {
    TriggerKind.NEW_PRIVILEGED_GRANT: "New privileged access",
    TriggerKind.MOVER: "Mover",
    TriggerKind.EXCEPTION_EXPIRING: "Exception ending",
}


class Trigger(BaseModel):
    """One kind of event and how the reviews it opens are run."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    kind: TriggerKind
    reviewers: Reviewers = Field(default_factory=Reviewers)
    """Who reviews: ``manager``, ``owner`` or ``named``, with a ``fallback``."""
    due_in_days: int = Field(7, ge=1, le=366)
    comment_required: tuple[CommentWhen, ...] = (CommentWhen.APPROVE_FLAGGED,)
    days_before: int = Field(14, ge=0, le=366)
    """``exception-expiring`` only: how many days before an exception ends it is reviewed."""
    systems: tuple[str, ...] = ()
    """Only events in these systems (default: every system)."""

    @model_validator(mode="after")
    def _days_before_is_for_exceptions(self) -> Trigger:
        if "days_before" in self.model_fields_set and self.kind != "exception-expiring":
            raise ValueError("days_before is for kind: exception-expiring only")
        return self


class TriggerFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    triggers: tuple[Trigger, ...]

    @model_validator(mode="after")
    def _one_per_kind(self) -> TriggerFile:
        if not self.triggers:
            raise ValueError("triggers: list at least one (kind: new-privileged-grant …)")
        kinds = [t.kind for t in self.triggers]
        twice = sorted({k.value for k in kinds if kinds.count(k) > 1})
        if twice:
            raise ValueError(f"one trigger per kind: {', '.join(twice)} is listed twice")
        return self


def load_triggers(path: Path) -> tuple[Trigger, ...]:
    """The triggers of a YAML file; every problem reported as ``file:line: key: what``."""
    document = load_yaml(path, DefinitionError)
    if not isinstance(document.data, dict):
        raise DefinitionError(f"{path}: a triggers file is a mapping (triggers: [...])")
    try:
        return TriggerFile.model_validate(document.data).triggers
    except ValidationError as exc:
        raise DefinitionError(document.problems(exc)) from None


@dataclass(frozen=True)
class Event:
    """Something that happened and the access it puts up for review."""

    kind: TriggerKind
    key: str
    """What makes it this event and no other (``review_triggers.event_key``)."""
    title: str
    """Who and where, for the review's name (``jane.doe in aws``)."""
    summary: str
    """What happened, in a sentence (the review's description)."""
    scope: Scope


def event_key(*parts: object) -> str:
    """The parts, tab-separated; hashed when too long for ``review_triggers.event_key``."""
    key = "\t".join(str(p) for p in parts)
    if len(key) <= MAX_KEY:
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"{key[: MAX_KEY - len(digest) - 1]}\t{digest}"


def definition_for(trigger: Trigger, event: Event, at: datetime) -> CampaignDefinition:
    """The small campaign an event opens: exactly its access, the trigger's reviewers."""
    name = printable(f"{LABELS[event.kind]}: {event.title} ({at:%Y-%m-%d})")
    if len(name) > 200:
        name = name[:199] + "…"
    return CampaignDefinition(
        name=name,
        description=printable(event.summary),
        scope=event.scope,
        reviewers=trigger.reviewers,
        due_in_days=trigger.due_in_days,
        comment_required=trigger.comment_required,
    )


# --- opening a review once --------------------------------------------------------------

OpenStatus = Literal["opened", "already-opened", "failed", "busy", "would-open"]


@dataclass(frozen=True)
class Opened:
    """What became of one event (or one scheduled run)."""

    trigger: str
    key: str
    name: str
    status: OpenStatus
    campaign_id: int | None = None
    items: int = 0
    message: str = ""


def open_once(
    store: Store,
    config: Config,
    policy: Policy,
    definition: CampaignDefinition,
    *,
    trigger: str,
    key: str,
    actor: str,
    now: datetime,
    kind: str = "event",
    audit_action: str = "campaign.trigger",
) -> Opened:
    """Create and launch the campaign for ``(trigger, key)`` unless one was opened for it.

    The claim on ``(trigger, key)`` is written before the campaign exists, in its own
    transaction, so that two runs at once open it once. A launch that fails (an incomplete
    snapshot, data not evaluated yet) leaves the draft with the claim: the next run launches
    that draft rather than a second campaign.
    """
    name = definition.name
    with store.writing() as conn:
        claim = conn.execute(
            select(review_triggers.c.campaign_id, review_triggers.c.opened_at, campaigns.c.status)
            .outerjoin(campaigns, campaigns.c.id == review_triggers.c.campaign_id)
            .where(review_triggers.c.trigger == trigger, review_triggers.c.event_key == key)
        ).first()
        campaign_id: int | None = None
        if claim is None:
            conn.execute(
                insert(review_triggers).values(
                    trigger=trigger, event_key=key, campaign_id=None, opened_at=now
                )
            )
        elif claim.campaign_id is None:
            if claim.opened_at > now - STALE_CLAIM:
                return Opened(trigger, key, name, "busy", message="another run is opening it")
            conn.execute(_claim(trigger, key).values(opened_at=now))
        elif claim.status != "draft":
            return Opened(trigger, key, name, "already-opened", claim.campaign_id)
        else:
            campaign_id = claim.campaign_id
    if campaign_id is None:
        try:
            campaign_id = create_campaign(
                store,
                definition,
                actor=actor,
                kind=kind,
                trigger=_trigger_column(kind, trigger),
                now=now,
            )
        except BaseException:
            with store.writing() as conn:
                conn.execute(
                    delete(review_triggers).where(
                        review_triggers.c.trigger == trigger,
                        review_triggers.c.event_key == key,
                        review_triggers.c.campaign_id.is_(None),
                    )
                )
            raise
        with store.writing() as conn:
            conn.execute(_claim(trigger, key).values(campaign_id=campaign_id))
    try:
        result = launch_campaign(store, config, policy, campaign_id, actor=actor, now=now)
    except IamGovError as exc:
        return Opened(trigger, key, name, "failed", campaign_id, message=_one_line(exc))
    with store.writing() as conn:
        audit.append(
            conn,
            audit_action,
            f"campaign:{campaign_id}",
            {"trigger": trigger, "event": key, "name": name, "items": result.items},
            actor=actor,
            at=now,
        )
    return Opened(trigger, key, name, "opened", campaign_id, result.items)


def _claim(trigger: str, key: str) -> Any:
    return update(review_triggers).where(
        review_triggers.c.trigger == trigger, review_triggers.c.event_key == key
    )


def _trigger_column(kind: str, trigger: str) -> str | None:
    return trigger if kind == "event" else None


def _one_line(exc: Exception) -> str:
    first = exc.args[0] if exc.args else exc
    parts = first if isinstance(first, list | tuple) else str(exc).splitlines()
    return " ".join(str(p).strip() for p in parts if str(p).strip())


def claimed(conn: Connection, trigger: str, key: str) -> int | None:
    """The campaign opened for an event, if one was (``0``: claimed, not created yet)."""
    row = conn.execute(
        select(review_triggers.c.campaign_id).where(
            review_triggers.c.trigger == trigger, review_triggers.c.event_key == key
        )
    ).first()
    if row is None:
        return None
    return row.campaign_id or 0


def retry_drafts(
    store: Store,
    config: Config,
    policy: Policy,
    triggers: Iterable[str],
    *,
    actor: str,
    now: datetime,
    audit_action: str = "campaign.trigger",
) -> list[Opened]:
    """Launch again the drafts whose launch failed in an earlier run."""
    with store.reading() as conn:
        rows = conn.execute(
            select(
                review_triggers.c.trigger,
                review_triggers.c.event_key,
                campaigns.c.definition,
                campaigns.c.kind,
            )
            .join(campaigns, campaigns.c.id == review_triggers.c.campaign_id)
            .where(review_triggers.c.trigger.in_(list(triggers)), campaigns.c.status == "draft")
            .order_by(campaigns.c.id)
        ).all()
    return [
        open_once(
            store,
            config,
            policy,
            CampaignDefinition.model_validate(row.definition),
            trigger=row.trigger,
            key=row.event_key,
            actor=actor,
            now=now,
            kind=row.kind,
            audit_action=audit_action,
        )
        for row in rows
    ]


# --- where each system's changes were looked at up to -----------------------------------


@dataclass(frozen=True)
class _Snap:
    id: int
    collected_at: datetime
    complete: bool


def _history(conn: Connection, system: str) -> list[_Snap]:
    """A system's snapshots, newest first."""
    return [
        _Snap(row.id, row.collected_at, row.complete)
        for row in conn.execute(
            select(snapshots.c.id, snapshots.c.collected_at, snapshots.c.complete)
            .where(snapshots.c.system == system)
            .order_by(snapshots.c.collected_at.desc(), snapshots.c.id.desc())
        )
    ]


def _checked_key(system: str, snapshot_id: int) -> str:
    return f"{CHECKED}\t{system}\t{snapshot_id}"


def _checked_up_to(
    conn: Connection, trigger: TriggerKind, system: str, history: Sequence[_Snap]
) -> _Snap | None:
    """The newest snapshot of ``system`` whose changes this trigger has looked at."""
    prefix = f"{CHECKED}\t{system}\t"
    ids = {
        int(key.removeprefix(prefix))
        for key in conn.execute(
            select(review_triggers.c.event_key).where(review_triggers.c.trigger == trigger.value)
        ).scalars()
        if key.startswith(prefix) and key.removeprefix(prefix).isdigit()
    }
    return next((snap for snap in history if snap.id in ids), None)


def _mark_checked(
    conn: Connection, marks: Iterable[tuple[TriggerKind, str, int]], at: datetime
) -> None:
    for trigger, system, snapshot_id in marks:
        key = _checked_key(system, snapshot_id)
        if claimed(conn, trigger.value, key) is None:
            conn.execute(
                insert(review_triggers).values(
                    trigger=trigger.value, event_key=key, campaign_id=None, opened_at=at
                )
            )


# --- detection --------------------------------------------------------------------------


@dataclass
class Detection:
    """The events found, what could not be looked at and why, and the snapshots whose changes
    have been looked at (recorded once the events are opened)."""

    events: list[tuple[Trigger, Event]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: list[tuple[TriggerKind, str, int]] = field(default_factory=list)


def new_privileged_grants(
    conn: Connection, policy: Policy, systems: Sequence[str], detection: Detection, trigger: Trigger
) -> None:
    """Per system: the privileged grants of the latest snapshot that the snapshot looked at
    last (or, the first time, the newest complete one before it) did not have, one event per
    account. The latest snapshot must be complete; what came before it, too: a grant missing
    from an incomplete snapshot is not known to be new."""
    kind = TriggerKind.NEW_PRIVILEGED_GRANT
    for system in systems:
        history = _history(conn, system)
        if not history:
            continue
        latest = history[0]
        if not latest.complete:
            detection.notes.append(
                f"{system}: the latest snapshot is incomplete; its new privileged grants are "
                "looked for once a complete one is collected"
            )
            continue
        base = _checked_up_to(conn, kind, system, history)
        if base is not None and base.id == latest.id:
            continue
        if base is None:
            base = next((s for s in history[1:] if s.complete), None)
        detection.checked.append((kind, system, latest.id))
        if base is None:
            continue  # the first complete snapshot: nothing to compare it with
        privileged = _privileged_ids(conn, policy, system, latest.id)
        if not privileged:
            continue
        before = grants.alias("before")
        rows = conn.execute(
            select(grants.c.account_id, grants.c.entitlement_id, accounts.c.login)
            .distinct()
            .join(
                accounts,
                and_(
                    accounts.c.snapshot_id == grants.c.snapshot_id,
                    accounts.c.native_id == grants.c.account_id,
                ),
            )
            .where(
                grants.c.snapshot_id == latest.id,
                accounts.c.status == AccountStatus.ACTIVE.value,
                ~select(before.c.account_id)
                .where(
                    before.c.snapshot_id == base.id,
                    before.c.account_id == grants.c.account_id,
                    before.c.entitlement_id == grants.c.entitlement_id,
                )
                .exists(),
            )
            .order_by(grants.c.account_id, grants.c.entitlement_id)
        )
        by_account: dict[str, tuple[str, list[str]]] = {}
        for account_id, entitlement_id, login in rows:
            if entitlement_id in privileged:
                by_account.setdefault(account_id, (login, []))[1].append(entitlement_id)
        for account_id, (login, held) in by_account.items():
            refs = ", ".join(privileged[e] for e in held)
            detection.events.append(
                (
                    trigger,
                    Event(
                        kind=kind,
                        key=event_key("grant", system, account_id, latest.id),
                        title=f"{login} in {system}",
                        summary=(
                            f"{system} account {login} holds privileged access it did not hold "
                            f"on {base.collected_at:%Y-%m-%d}: {refs} (seen on "
                            f"{latest.collected_at:%Y-%m-%d})."
                        ),
                        scope=Scope(
                            systems=(system,),
                            grants=tuple(
                                GrantRef(system=system, account_id=account_id, entitlement_id=e)
                                for e in held
                            ),
                        ),
                    ),
                )
            )


def _privileged_ids(
    conn: Connection, policy: Policy, system: str, snapshot_id: int
) -> dict[str, str]:
    """Entitlement id -> ``kind:name`` of the snapshot's privileged entitlements: marked so by
    the system, or named by the policy's ``privileged`` patterns."""
    patterns = [p.entitlement for p in policy.privileged.get(system, ())]
    found = {}
    for row in conn.execute(
        select(
            entitlements.c.entitlement_id,
            entitlements.c.name,
            entitlements.c.kind,
            entitlements.c.privileged,
        ).where(entitlements.c.snapshot_id == snapshot_id)
    ):
        entitlement = Entitlement(
            system=system,
            entitlement_id=row.entitlement_id,
            name=row.name,
            kind=row.kind,
            privileged=bool(row.privileged),
        )
        if entitlement.privileged or any(entitlement_matches(p, entitlement) for p in patterns):
            found[row.entitlement_id] = entitlement.ref
    return found


def movers(conn: Connection, hr_system: str, detection: Detection, trigger: Trigger) -> None:
    """People whose department, title, manager, type or an attribute HR changed in the HR
    snapshots not looked at yet (the first time: the latest one), one event per person. Those
    who have left are the leaver process's, not a review's."""
    kind = TriggerKind.MOVER
    history = _history(conn, hr_system)
    if not history:
        return
    latest = history[0]
    base = _checked_up_to(conn, kind, hr_system, history)
    if base is not None and base.id == latest.id:
        return
    detection.checked.append((kind, hr_system, latest.id))
    if base is None:
        new = [latest.id]
    else:
        new = [s.id for s in history if (s.collected_at, s.id) > (base.collected_at, base.id)]
    rows = conn.execute(
        select(
            person_changes.c.employee_id,
            person_changes.c.snapshot_id,
            person_changes.c.field,
            person_changes.c.old_value,
            person_changes.c.new_value,
            person_changes.c.changed_at,
            people.c.name,
            people.c.status,
        )
        .join(
            people,
            and_(
                people.c.snapshot_id == latest.id,
                people.c.employee_id == person_changes.c.employee_id,
            ),
        )
        .where(
            person_changes.c.snapshot_id.in_(new),
            or_(
                person_changes.c.field.in_(MOVE_FIELDS),
                person_changes.c.field.startswith("attributes."),
            ),
            people.c.status != "terminated",
        )
        .order_by(person_changes.c.employee_id, person_changes.c.changed_at, person_changes.c.id)
    )
    moved: dict[str, dict[str, Any]] = {}
    for row in rows:
        person = moved.setdefault(
            row.employee_id,
            {"name": row.name, "snapshot_id": row.snapshot_id, "at": row.changed_at, "changes": {}},
        )
        if (row.changed_at, row.snapshot_id) >= (person["at"], person["snapshot_id"]):
            person["at"], person["snapshot_id"] = row.changed_at, row.snapshot_id
        old = person["changes"].get(row.field, (row.old_value, None))[0]
        person["changes"][row.field] = (old, row.new_value)
    for employee_id, person in moved.items():
        changes = ", ".join(
            f"{name.removeprefix('attributes.')} {old or '—'} → {new or '—'}"
            for name, (old, new) in sorted(person["changes"].items())
        )
        detection.events.append(
            (
                trigger,
                Event(
                    kind=kind,
                    key=event_key("person", employee_id, person["snapshot_id"]),
                    title=f"{person['name']} ({employee_id})",
                    summary=(
                        f"{person['name']} ({employee_id}) changed in HR on "
                        f"{person['at']:%Y-%m-%d}: {changes}. Review all their access."
                    ),
                    scope=Scope(
                        systems=trigger.systems,
                        people=(employee_id,),
                    ),
                ),
            )
        )


def expiring_exceptions(
    state: EvaluationState, today: date, detection: Detection, trigger: Trigger
) -> None:
    """Exceptions that end between today and ``days_before`` from now, with the grants they
    approve that active accounts of people still employed hold: one event per exception.
    (Expired ones are the expired-exception finding's.)"""
    kind = TriggerKind.EXCEPTION_EXPIRING
    last = today + timedelta(days=trigger.days_before)
    ending = {
        id(located): located
        for located in state.policy.exceptions
        if today <= located.item.expires <= last
        and (not trigger.systems or located.item.system in trigger.systems)
    }
    if not ending:
        return
    held: dict[int, dict[tuple[str, str], GrantRef]] = {}
    holder: dict[int, str] = {}
    for view, account, _link, person, left in state.entries():
        if left or account.status is not AccountStatus.ACTIVE:
            continue
        for located in state.policy.exceptions_for(view.name, person, account):
            if id(located) not in ending:
                continue
            exc = located.item
            for grant in view.grants.get(account.native_id, ()):
                entitlement = view.entitlements.get(grant.entitlement_id)
                if entitlement is None or not state.matches(
                    view.name, exc.entitlement, entitlement
                ):
                    continue
                refs = held.setdefault(id(located), {})
                refs.setdefault(
                    (account.native_id, grant.entitlement_id),
                    GrantRef(
                        system=view.name,
                        account_id=account.native_id,
                        entitlement_id=grant.entitlement_id,
                    ),
                )
                if id(located) not in holder:
                    holder[id(located)] = person.name if person is not None else account.login
    for located_id, refs in held.items():
        located = ending[located_id]
        exc = located.item
        who = exc.person or exc.account or ""
        detection.events.append(
            (
                trigger,
                Event(
                    kind=kind,
                    key=event_key("exception", exc.system, who, exc.entitlement, exc.expires),
                    title=f"{holder[located_id]} in {exc.system}",
                    summary=(
                        f"The exception approved by {exc.approver} for {who} to hold "
                        f"{exc.entitlement} in {exc.system} ends on {exc.expires} "
                        f"({located.where}): renew it or let the access go "
                        f"({len(refs)} grant(s))."
                    ),
                    scope=Scope(systems=(exc.system,), grants=tuple(refs.values())),
                ),
            )
        )


def detect(
    store: Store,
    config: Config,
    policy: Policy,
    triggers: Sequence[Trigger],
    *,
    now: datetime,
    state: EvaluationState | None = None,
) -> Detection:
    """Every event the triggers see. The evaluated state (for exceptions) is loaded only
    when some exception ends within a trigger's window."""
    detection = Detection()
    hr = config.hr_system
    for trigger in triggers:
        if trigger.kind is TriggerKind.NEW_PRIVILEGED_GRANT:
            systems = [
                s
                for s in config.systems
                if s != hr and (not trigger.systems or s in trigger.systems)
            ]
            with store.reading() as conn:
                new_privileged_grants(conn, policy, systems, detection, trigger)
        elif trigger.kind is TriggerKind.MOVER:
            with store.reading() as conn:
                movers(conn, hr, detection, trigger)
        else:
            today = now.date()
            last = today + timedelta(days=trigger.days_before)
            if any(today <= e.item.expires <= last for e in policy.exceptions):
                if state is None:
                    state = load_state(store, config, policy, now=now).state
                expiring_exceptions(state, today, detection, trigger)
    return detection


# --- running the triggers ----------------------------------------------------------------


@dataclass(frozen=True)
class TriggerRun:
    results: list[Opened]
    notes: list[str]


def run_triggers(
    store: Store,
    config: Config,
    policy: Policy,
    triggers: Sequence[Trigger],
    *,
    actor: str,
    now: datetime | None = None,
    dry_run: bool = False,
) -> TriggerRun:
    """Open a review for every event not reviewed yet; launch again what failed to launch
    before. ``dry_run``: say what would be opened, change nothing."""
    at = now or utcnow()
    kinds = [t.kind.value for t in triggers]
    results = [] if dry_run else retry_drafts(store, config, policy, kinds, actor=actor, now=at)
    detection = detect(store, config, policy, triggers, now=at)
    for trigger, event in detection.events:
        definition = definition_for(trigger, event, at)
        if dry_run:
            with store.reading() as conn:
                campaign_id = claimed(conn, event.kind.value, event.key)
            status: OpenStatus = "would-open" if campaign_id is None else "already-opened"
            results.append(
                Opened(
                    event.kind.value,
                    event.key,
                    definition.name,
                    status,
                    campaign_id or None,
                    message=printable(event.summary),
                )
            )
            continue
        results.append(
            open_once(
                store,
                config,
                policy,
                definition,
                trigger=event.kind.value,
                key=event.key,
                actor=actor,
                now=at,
            )
        )
    if not dry_run and detection.checked:
        with store.writing() as conn:
            _mark_checked(conn, detection.checked, at)
    return TriggerRun(results=results, notes=detection.notes)
