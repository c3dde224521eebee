"""Plans: who leaves, which of their accounts in which system, which action, in what order,
and why. Worked out from the latest snapshots and the engine's correlation (the same links
``explain`` shows), so that a plan covers every account the evaluation knows of."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from iam_gov.config import Config
from iam_gov.connectors import connector_class
from iam_gov.engine.load import load_state
from iam_gov.engine.state import AccountEntry, EvaluationState, SystemView
from iam_gov.errors import IamGovError, InputError, SourceError
from iam_gov.model import (
    Account,
    AccountKind,
    AccountStatus,
    Action,
    ActionKind,
    CredentialKind,
    Person,
    SystemSnapshot,
)
from iam_gov.policy import Policy
from iam_gov.store import Store
from iam_gov.textsafe import printable
from iam_gov.timeutil import utcnow

from .plan import PHASES, Plan, PlanBasis, PlanPerson, Step, phase_of, step_id

MEMBERSHIP_KINDS = frozenset({"group"})
"""Entitlement kinds removed as memberships (``remove_memberships``): groups held directly."""
BUILT_IN_GROUPS = {("okta", "Everyone")}
"""Groups a system keeps every user in, which nobody can be removed from."""


class PlanError(IamGovError):
    """A plan cannot be made (or applied) as asked; the message says why and what to do."""

    exit_code = 2


@dataclass(frozen=True)
class Request:
    """Who to deprovision and why."""

    who: Sequence[str]
    """Employee ids or e-mail addresses."""
    reason: str
    trigger: str
    """``cli``, ``hr-file``, ``hr-event``, ``webhook``, ``campaign``."""
    actor: str
    only_leavers: bool = False
    """Plan only people HR shows gone (``--from-hr``, events); others are noted, not planned."""
    only_with_access: bool = False
    """Leave out people none of whose accounts is active any more (``--from-hr``)."""


def make_plan(
    store: Store,
    config: Config,
    policy: Policy,
    request: Request,
    *,
    now: datetime | None = None,
    hr_people: dict[str, Person] | None = None,
) -> Plan:
    """The plan for ``request``: nothing is changed anywhere. ``hr_people``: what a newer HR
    file says of people (``--from-hr``), which decides who has left."""
    at = now or utcnow()
    state = load_state(store, config, policy, now=at).state
    problems: list[str] = []
    people = _resolve(state, request.who)
    planned: list[tuple[Person, bool]] = []
    for person in people:
        record = (hr_people or {}).get(person.employee_id, person)
        left = _left(record, at, config.deprovision.grace_days)
        if request.only_leavers and not left:
            problems.append(
                f"{_who(person)}: HR does not show them gone yet (status {record.status.value}"
                + (f", last day {record.end_date}" if record.end_date else "")
                + "): not planned"
                + (" (--even-if-active plans them anyway)" if request.trigger == "cli" else "")
            )
            continue
        planned.append((person, left))
    builder = _Builder(state, config, at)
    builder.sessions_ended = _sessions_ended(store)
    for person, _ in planned:
        entries = state.entries_of(person)
        if request.only_with_access and not any(_has_access(e) for e in entries):
            continue
        builder.add_person(person, entries, request.reason)
    people_out = [
        PlanPerson(
            employee_id=p.employee_id,
            name=p.name,
            email=p.email,
            status=p.status.value,
            end_date=p.end_date,
            left=left,
        )
        for p, left in planned
        if p.employee_id in builder.people
    ]
    return Plan(
        kind="deprovision",
        made_at=at,
        made_by=request.actor,
        trigger=request.trigger,
        reason=request.reason,
        people=people_out,
        basis=builder.basis(),
        steps=builder.ordered_steps(),
        problems=problems + builder.problems,
    )


def plan_from_actions(
    store: Store,
    config: Config,
    policy: Policy,
    actions: Iterable[Action],
    *,
    reason: str,
    actor: str,
    campaign_id: int | None,
    now: datetime | None = None,
) -> Plan:
    """A plan carrying out given actions (a closed review's revocations), with the same
    guards as a leaver's: protected accounts skipped, stale or incomplete systems refused."""
    at = now or utcnow()
    state = load_state(store, config, policy, now=at).state
    builder = _Builder(state, config, at)
    for action in actions:
        view = state.systems.get(action.system)
        account = view.accounts.get(action.account_id) if view else None
        link = state.links.get((action.system, action.account_id))
        person = state.person_of(link) if link else None
        if view is None or account is None:
            builder.problems.append(
                f"{action.system}: {printable(action.account_id)} is not in the latest "
                "snapshot: nothing to do there (gone already?)"
            )
            continue
        entry = AccountEntry(view, account, link, person, False) if link else None
        builder.add_action(entry, view, account, _as_the_system_can(config, view, action))
    return Plan(
        kind="remediation",
        made_at=at,
        made_by=actor,
        trigger="campaign",
        reason=reason,
        campaign_id=campaign_id,
        basis=builder.basis(),
        steps=builder.ordered_steps(),
        problems=builder.problems,
    )


def _as_the_system_can(config: Config, view: SystemView, action: Action) -> Action:
    """A revoked VPN grant where the VPN is the whole account (a WireGuard peer, an OpenVPN
    certificate holder) is carried out by disabling the account: there is nothing else."""
    caps = connector_class(config.systems[view.name].type).capabilities
    entitlement = view.entitlements.get(action.entitlement_id or "")
    if (
        action.kind is ActionKind.REMOVE_GRANT
        and ActionKind.REMOVE_GRANT not in caps
        and ActionKind.DISABLE_ACCOUNT in caps
        and entitlement is not None
        and entitlement.kind == "vpn"
    ):
        return action.model_copy(
            update={
                "kind": ActionKind.DISABLE_ACCOUNT,
                "entitlement_id": None,
                "reason": f"{action.reason} (the VPN is all this account gives: it is removed)",
            }
        )
    return action


def leavers_of_file(config: Config, path: Path, now: datetime | None = None) -> dict[str, Person]:
    """The people of an HR export read as the configured HR system reads its own: all of
    them (the caller picks the leavers). An export that is empty, header-only, truncated or
    has records it could not read is refused as a whole: it deprovisions nobody."""
    from iam_gov.collect import build_connector, integrity_problems

    hr = config.hr_system
    options = config.systems[hr].model_copy(update={"path": path.resolve()})
    try:
        snapshot = build_connector(hr, options).collect()
    except SourceError as exc:
        raise InputError([f"{path}: {p}" for p in exc.problems] + [NOBODY]) from None
    problems = integrity_problems(snapshot)
    if not snapshot.complete or problems:
        listed = [f"{path}: {e.message}" for e in snapshot.errors[:10]] + problems
        raise InputError(
            [
                f"{path}: the HR export could not be read whole "
                f"({len(snapshot.errors)} problem(s))",
                *listed,
                NOBODY,
            ]
        )
    if not snapshot.people:
        raise InputError([f"{path}: the HR export holds nobody", NOBODY])
    return {p.employee_id: p for p in snapshot.people}


NOBODY = (
    "nobody was deprovisioned: a leaver list from a partial HR export could disable the "
    "wrong people"
)


def terminated(people: dict[str, Person], at: datetime, grace_days: int) -> list[str]:
    """Employee ids of the people gone by ``at`` (termination date plus the grace period)."""
    return sorted(pid for pid, p in people.items() if _left(p, at, grace_days))


def _left(person: Person, at: datetime, grace_days: int) -> bool:
    """Gone (as the engine judges it) by ``at`` less the grace period."""
    return EvaluationState.has_left(person, at.date() - timedelta(days=grace_days))


def _sessions_ended(store: Store) -> set[tuple[str, str]]:
    """(system, account) whose sessions a deprovisioning run ended."""
    from sqlalchemy import select

    from iam_gov.store.schema import deprovision_steps as steps

    with store.reading() as conn:
        rows = conn.execute(
            select(steps.c.system, steps.c.account_id)
            .where(steps.c.kind == ActionKind.REVOKE_SESSIONS.value)
            .where(steps.c.outcome == "done")
            .distinct()
        ).all()
    return {(r.system, r.account_id) for r in rows}


def _resolve(state: EvaluationState, who: Sequence[str]) -> list[Person]:
    by_email = {p.email.lower(): p for p in state.people.values() if p.email}
    by_id = {pid.lower(): p for pid, p in state.people.items()}
    found: dict[str, Person] = {}
    unknown = []
    for raw in who:
        key = raw.strip().lower()
        person = by_id.get(key) or by_email.get(key)
        if person is None:
            unknown.append(printable(raw))
        else:
            found[person.employee_id] = person
    if unknown:
        raise PlanError(
            f"HR (the store's latest HR snapshot) does not know {', '.join(unknown)}: give an "
            "employee id or e-mail address as HR has it (collect HR again if they are new)"
        )
    return list(found.values())


def _who(person: Person) -> str:
    return f"{printable(person.name)} ({printable(person.employee_id)})"


def _has_access(entry: AccountEntry) -> bool:
    if entry.account.status is AccountStatus.ACTIVE:
        return True
    return any(c.active for c in entry.view.credentials.get(entry.account.native_id, ()))


class _Builder:
    def __init__(self, state: EvaluationState, config: Config, at: datetime):
        self.state = state
        self.config = config
        self.at = at
        self.steps: dict[str, Step] = {}
        self.problems: list[str] = []
        self.people: set[str] = set()
        self.touched: dict[str, set[str]] = {}
        self.sessions_ended: set[tuple[str, str]] = set()
        self._refused: dict[str, str | None] = {}

    # --- what may be touched ---------------------------------------------------------

    def refusal(self, view: SystemView) -> str | None:
        """Why nothing may be done on this system now (its data), or None."""
        name = view.name
        if name not in self._refused:
            why = None
            info = view.info
            age = self.at - info.collected_at
            limit = self.config.deprovision.max_snapshot_age_hours
            if not info.complete:
                why = (
                    f"{name}: the latest snapshot ({info.collected_at:%Y-%m-%d %H:%M} UTC) is "
                    "incomplete: no action on data that may be missing accounts (collect it again)"
                )
            elif age > timedelta(hours=limit):
                why = (
                    f"{name}: the latest snapshot is {age.total_seconds() / 3600:.0f} hours old "
                    f"(more than {limit:g}): collect it again first"
                )
            type_name = self.config.systems[name].type
            read_only = self.config.systems[name].why_read_only()
            if why is None and read_only is not None:
                where = name if name == type_name else f"{name} ({type_name})"
                why = f"{name}: {read_only}: do it by hand in {where}"
            self._refused[name] = why
            if why is not None:
                self.problems.append(why)
        return self._refused[name]

    @staticmethod
    def protection(entry: AccountEntry | None) -> str | None:
        if entry is None:
            return None
        kind = entry.link.kind
        if kind is AccountKind.BREAK_GLASS or entry.account.kind is AccountKind.BREAK_GLASS:
            return "protected: a break-glass account is never touched by deprovisioning"
        if kind is AccountKind.SERVICE or entry.account.kind is AccountKind.SERVICE:
            return (
                "protected: a service account linked to the person; hand it to a new owner "
                "rather than disable it (production may depend on it)"
            )
        return None

    # --- adding steps ----------------------------------------------------------------

    def add_person(self, person: Person, entries: list[AccountEntry], reason: str) -> None:
        self.people.add(person.employee_id)
        if not entries:
            self.problems.append(f"{_who(person)}: no account in any system is linked to them")
        for entry in entries:
            for action in self._actions(entry, person, reason):
                self.add_action(entry, entry.view, entry.account, action)
        # Their account may be on the part of an incomplete system that was not read: said,
        # so that no step there never reads as "no access there".
        for view in self.state.systems.values():
            options = self.config.systems.get(view.name)
            if (
                not view.info.complete
                and options is not None
                and connector_class(options.type).capabilities
            ):
                self.refusal(view)

    def _actions(self, entry: AccountEntry, person: Person, reason: str) -> list[Action]:
        view, account = entry.view, entry.account
        system = view.name
        type_name = self.config.systems[system].type
        caps = connector_class(type_name).capabilities
        why = f"{_who(person)} leaves: {reason}"
        base = {"system": system, "account_id": account.native_id, "reason": why}
        out: list[Action] = []
        if self.config.deprovision.suspend_where_possible and ActionKind.SUSPEND_ACCOUNT in caps:
            out.append(Action(kind=ActionKind.SUSPEND_ACCOUNT, **base))
        elif ActionKind.DISABLE_ACCOUNT in caps:
            out.append(Action(kind=ActionKind.DISABLE_ACCOUNT, **base))
        # an account already off whose sessions an earlier run ended has none to end (a
        # system cannot say whether there are any: asking again would "apply" every time)
        ended = (system, account.native_id) in self.sessions_ended
        if ActionKind.REVOKE_SESSIONS in caps and (
            account.status is AccountStatus.ACTIVE or not ended
        ):
            out.append(Action(kind=ActionKind.REVOKE_SESSIONS, **base))
        if ActionKind.DEACTIVATE_CREDENTIAL in caps and type_name == "aws":
            for credential in view.credentials.get(account.native_id, ()):
                if credential.active and credential.kind in {
                    CredentialKind.ACCESS_KEY,
                    CredentialKind.PASSWORD,
                }:
                    out.append(
                        Action(
                            kind=ActionKind.DEACTIVATE_CREDENTIAL,
                            credential_id=credential.credential_id,
                            **base,
                        )
                    )
        if self.config.deprovision.remove_memberships and ActionKind.REMOVE_GRANT in caps:
            for grant in view.grants.get(account.native_id, ()):
                entitlement = view.entitlements.get(grant.entitlement_id)
                if (
                    grant.via is None
                    and entitlement is not None
                    and entitlement.kind in MEMBERSHIP_KINDS
                    and (type_name, entitlement.name) not in BUILT_IN_GROUPS
                ):
                    out.append(
                        Action(
                            kind=ActionKind.REMOVE_GRANT,
                            entitlement_id=grant.entitlement_id,
                            **{
                                **base,
                                "reason": f"{why}; membership of {printable(entitlement.name)}",
                            },
                        )
                    )
        return out

    def add_action(
        self,
        entry: AccountEntry | None,
        view: SystemView,
        account: Account,
        action: Action,
    ) -> None:
        sid = step_id(action)
        if sid in self.steps:
            return
        type_name = self.config.systems[view.name].type
        caps = connector_class(type_name).capabilities
        skip = self.protection(entry) or self.refusal(view)
        if skip is None and action.kind not in caps:
            skip = f"the {type_name} connector cannot {action.kind.value}: do it by hand"
            self.problems.append(f"{view.name}: {printable(account.login)}: {skip}")
        entitlement = view.entitlements.get(action.entitlement_id or "")
        self.steps[sid] = Step(
            entitlement_name=entitlement.name if entitlement else None,
            step_id=sid,
            seq=0,
            phase=phase_of(action.kind, type_name),
            person_id=entry.person.employee_id if entry and entry.person else None,
            account_login=account.login,
            action=action,
            skip=skip,
        )
        self.touched.setdefault(view.name, set()).add(account.native_id)

    # --- the plan --------------------------------------------------------------------

    def ordered_steps(self) -> list[Step]:
        order = {phase: n for n, phase in enumerate(PHASES)}
        # each named credential first, then the account as a whole (which catches any
        # credential made since the snapshot), then its sessions, then its memberships
        kinds = {
            ActionKind.DEACTIVATE_CREDENTIAL: 0,
            ActionKind.DISABLE_ACCOUNT: 1,
            ActionKind.SUSPEND_ACCOUNT: 1,
            ActionKind.REVOKE_SESSIONS: 2,
            ActionKind.REMOVE_GRANT: 3,
        }
        systems = list(self.config.systems)
        ranked = sorted(
            self.steps.values(),
            key=lambda s: (
                order[s.phase],
                systems.index(s.action.system),
                s.person_id or "",
                s.action.account_id,
                kinds[s.action.kind],
                s.action.credential_id or "",
                s.action.entitlement_id or "",
            ),
        )
        return [s.model_copy(update={"seq": n}) for n, s in enumerate(ranked, start=1)]

    def basis(self) -> list[PlanBasis]:
        out = []
        for name, ids in self.touched.items():
            view = self.state.systems[name]
            out.append(
                PlanBasis(
                    system=name,
                    snapshot_id=view.info.id,
                    collected_at=view.info.collected_at,
                    complete=view.info.complete,
                    state=state_digest(view, ids),
                )
            )
        return sorted(out, key=lambda b: b.system)


def state_digest(view: SystemView, account_ids: Iterable[str]) -> str:
    """SHA-256 of what a plan relies on of these accounts: whether each exists and its status,
    its active credentials, its direct grants. Equal digests: the plan still fits."""
    return _digest(
        account_ids,
        view.accounts,
        lambda a: [c.credential_id for c in view.credentials.get(a, ()) if c.active],
        lambda a: [g.entitlement_id for g in view.grants.get(a, ()) if g.via is None],
    )


def digest_of_snapshot(snapshot: SystemSnapshot, account_ids: Iterable[str]) -> str:
    """``state_digest`` of a stored snapshot (a newer one than the plan's)."""
    wanted = set(account_ids)
    credentials: dict[str, list[str]] = {}
    for c in snapshot.credentials:
        if c.account_id in wanted and c.active:
            credentials.setdefault(c.account_id, []).append(c.credential_id)
    grants: dict[str, list[str]] = {}
    for g in snapshot.grants:
        if g.account_id in wanted and g.via is None:
            grants.setdefault(g.account_id, []).append(g.entitlement_id)
    return _digest(
        wanted,
        {a.native_id: a for a in snapshot.accounts if a.native_id in wanted},
        lambda a: credentials.get(a, []),
        lambda a: grants.get(a, []),
    )


def _digest(
    account_ids: Iterable[str],
    accounts: Mapping[str, Account],
    credentials: Callable[[str], list[str]],
    grants: Callable[[str], list[str]],
) -> str:
    records: list[Any] = []
    for account_id in sorted(set(account_ids)):
        account = accounts.get(account_id)
        if account is None:
            records.append([account_id, None])
            continue
        records.append(
            [
                account_id,
                account.status.value,
                sorted(credentials(account_id)),
                sorted(grants(account_id)),
            ]
        )
    return hashlib.sha256(json.dumps(records, ensure_ascii=True).encode("ascii")).hexdigest()
