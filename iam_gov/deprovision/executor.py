"""Applying a plan: each step through its system's connector, in the plan's order, each
recorded (``deprovision_steps``) and audited as it ends, so that a run cut short still says
what it did and ``--resume`` finishes only the rest.

Before any change: the plan must still describe the systems (``guards.stale_basis``), and a
mass change needs ``--allow-mass``. While running: a failing system does not stop the others;
an action that takes longer than ``action_timeout_seconds`` is reported failed; break-glass
and service accounts, and systems whose data is too old or incomplete, are skipped with the
reason. Afterwards: the systems acted on are read again (``verify``).
"""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, type_coerce, update
from sqlalchemy.types import NullType

from iam_gov import audit
from iam_gov.config import Config
from iam_gov.connectors import Connector
from iam_gov.model import ActionOutcome, ActionResult
from iam_gov.policy import Policy
from iam_gov.store import Store
from iam_gov.store.schema import audit_log, deprovision_runs, deprovision_steps
from iam_gov.textsafe import printable
from iam_gov.timeutil import utcnow

from .guards import mass_change, protected_now, stale_basis, unfit_systems
from .outcome import ConnectorFactory, StepResult
from .plan import Plan, Step
from .planner import PlanError

OUTCOME_WORD = {
    ActionOutcome.APPLIED: "done",
    ActionOutcome.NOOP: "noop",
    ActionOutcome.FAILED: "failed",
}
SETTLED = frozenset({"done", "noop"})


class Refused(PlanError):
    """The run was refused before any change; nothing was touched."""


@dataclass
class RunResult:
    run_id: int
    plan_id: str
    results: list[StepResult]
    still_present: list[str] = field(default_factory=list)
    """Access found again when the systems were re-read after the run."""
    unverified: list[str] = field(default_factory=list)
    """Systems that could not be re-read, and why."""
    status: str = "running"

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)


@dataclass
class Executor:
    store: Store
    config: Config
    actor: str
    os_user: str | None = None
    factory: ConnectorFactory | None = None
    now: Callable[[], datetime] = utcnow
    progress: Callable[[StepResult], None] | None = None
    policy: Policy | None = None
    """The policy whose break-glass and service accounts are protected (default: the
    configuration's)."""
    _connectors: dict[str, Connector[Any]] = field(default_factory=dict)

    def apply(
        self,
        plan: Plan,
        *,
        allow_mass: bool = False,
        resume: bool = False,
        verify: bool | None = None,
    ) -> RunResult:
        """Carry out ``plan``. ``Refused`` (nothing changed) when the plan no longer fits the
        systems or is a mass change without ``allow_mass``."""
        started = self.now()
        plan_id = plan.plan_id
        with self.store.writing() as conn:
            acted_on = self._acted_on_before(conn, plan_id) if resume else set()
            settled = self._settled_before(conn, plan_id) if resume else {}
            cut_short = self._cut_short_before(conn, plan_id) if resume else {}
            refusal = self._refusal(conn, plan, allow_mass, started, acted_on, settled)
            if refusal is not None:  # recorded (this transaction commits), then raised
                audit.append(
                    conn,
                    "deprovision.refused",
                    f"plan:{plan_id[:16]}",
                    {"why": refusal[0], "problems": refusal[1][:20], "trigger": plan.trigger},
                    actor=self.actor,
                )
        if refusal is not None:
            raise Refused("\n".join([f"refused: {refusal[0]}; nothing was changed", *refusal[1]]))
        with self.store.writing() as conn:
            unfit = unfit_systems(conn, self.config, plan, started)
            given = plan  # recorded as given: a resumption finds its runs by its id
            plan = _with_protection(plan, protected_now(conn, self._policy(), plan))
            mass = mass_change(conn, self.config, _to_do(plan, unfit, settled))
            run_id = conn.execute(
                insert(deprovision_runs)
                .values(
                    plan_id=plan_id,
                    kind=plan.kind,
                    trigger=plan.trigger,
                    reason=plan.reason,
                    actor=self.actor,
                    os_user=self.os_user,
                    started_at=started,
                    status="running",
                    allow_mass=allow_mass and mass is not None,
                    resumes=max((r for r, _ in settled.values()), default=None),
                    plan=given.model_dump(mode="json"),
                )
                .returning(deprovision_runs.c.id)
            ).scalar_one()
            details: dict[str, Any] = {
                "run_id": run_id,
                "plan_id": plan_id,
                "trigger": plan.trigger,
                "reason": plan.reason,
                "steps": len(plan.steps),
                "people": [p.employee_id for p in plan.people],
                "resume": resume,
            }
            if mass is not None and allow_mass:
                details["allow_mass"] = mass
            audit.append(
                conn, "deprovision.start", f"plan:{plan_id[:16]}", details, actor=self.actor
            )
        result = RunResult(run_id=int(run_id), plan_id=plan_id, results=[])
        for step in plan.steps:
            result.results.append(self._step(int(run_id), step, unfit, settled, cut_short))
        if verify if verify is not None else self.config.deprovision.verify:
            from .verify import verify_run

            result.still_present, result.unverified = verify_run(
                self.store, self.config, plan, result.results, self._factory()
            )
        result.status = (
            "done"
            if all(r.outcome in SETTLED or r.details.get("protected") for r in result.results)
            and not result.still_present
            and not result.unverified
            else "partial"
        )
        with self.store.writing() as conn:
            conn.execute(
                update(deprovision_runs)
                .where(deprovision_runs.c.id == run_id)
                .values(status=result.status, finished_at=self.now())
            )
            audit.append(
                conn,
                "deprovision.finish",
                f"plan:{plan_id[:16]}",
                {
                    "run_id": run_id,
                    "status": result.status,
                    **{o: result.count(o) for o in ("done", "noop", "failed", "skipped")},
                    "still_present": result.still_present[:50],
                    "unverified": result.unverified,
                },
                actor=self.actor,
            )
        return result

    # --- one step ----------------------------------------------------------------------

    def _step(
        self,
        run_id: int,
        step: Step,
        unfit: dict[str, str],
        settled: dict[str, tuple[int, str]],
        cut_short: dict[str, int],
    ) -> StepResult:
        action = step.action
        details: dict[str, Any] = {}
        if step.skip is not None:
            outcome, message = "skipped", step.skip
            # a protected account left alone is what the plan means, not work left to do
            details["protected"] = step.skip.startswith("protected")
        elif action.system in unfit:
            outcome, message = "skipped", unfit[action.system]
        elif step.step_id in settled:
            earlier, what = settled[step.step_id]
            outcome, message = "noop", f"{what} in run #{earlier} (resumed)"
            details["settled_in_run"] = earlier
        else:
            self._intend(run_id, step)
            answer = self._apply(step)
            outcome = OUTCOME_WORD[answer.outcome]
            message, details = answer.message, dict(answer.details)
            if step.step_id in cut_short:
                # announced, then the run stopped (killed, power cut) before its outcome was
                # recorded: the system may have had it then, and now again
                earlier = cut_short[step.step_id]
                details["cut_short_in_run"] = earlier
                message += (
                    f" (taken again: run #{earlier} announced it and stopped before its "
                    f"outcome was recorded, so {action.system} may have had it twice)"
                )
        done = StepResult(step, outcome, printable(message), self.now(), details)
        with self.store.writing() as conn:
            conn.execute(
                insert(deprovision_steps).values(
                    run_id=run_id,
                    step_id=step.step_id,
                    seq=step.seq,
                    person_id=step.person_id,
                    system=action.system,
                    account_id=action.account_id,
                    account_login=step.account_login,
                    kind=action.kind.value,
                    entitlement_id=action.entitlement_id,
                    credential_id=action.credential_id,
                    outcome=outcome,
                    message=done.message,
                    details=details,
                    at=done.at,
                )
            )
            audit.append(
                conn,
                "deprovision.action",
                f"{action.system}:{action.account_id}",
                {
                    "run_id": run_id,
                    "step": step.step_id,
                    "action": action.kind.value,
                    "entitlement_id": action.entitlement_id,
                    "credential_id": action.credential_id,
                    "person_id": step.person_id,
                    "reason": action.reason,
                    "outcome": outcome,
                    "message": done.message,
                },
                actor=self.actor,
                at=done.at,
            )
        if self.progress is not None:
            self.progress(done)
        return done

    def _intend(self, run_id: int, step: Step) -> None:
        """The audit record that an action is about to be taken, committed before it is: fail
        closed — when the audit log cannot be written (read-only, disk full), the storage
        error stops the run here and the system is not touched."""
        action = step.action
        with self.store.writing() as conn:
            audit.append(
                conn,
                "deprovision.intent",
                f"{action.system}:{action.account_id}",
                {"run_id": run_id, "step": step.step_id, "action": action.kind.value},
                actor=self.actor,
            )

    def _apply(self, step: Step) -> ActionResult:
        """The connector's answer; an exception or a timeout is a failed result saying so."""
        action = step.action
        timeout = self.config.deprovision.action_timeout_seconds
        try:
            connector = self._connector(action.system)
        except Exception as exc:  # a connector that cannot even be built: this system fails
            return _failed(step, f"the {action.system} connector cannot start: {_says(exc)}")
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="action")
        try:
            future = pool.submit(connector.apply, action)
            try:
                return future.result(timeout=timeout)
            except concurrent.futures.TimeoutError:
                return _failed(
                    step,
                    f"no answer from {action.system} within {timeout:g} s: the action may still "
                    "take effect; run again with --resume to check and finish it",
                )
            except Exception as exc:  # a connector's bug must not stop the other systems
                return _failed(step, f"{action.system}: {_says(exc)}")
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _connector(self, system: str) -> Connector[Any]:
        connector = self._connectors.get(system)
        if connector is None:
            connector = self._factory()(system, self.config.systems[system])
            self._connectors[system] = connector
        return connector

    def _policy(self) -> Policy:
        if self.policy is None:
            from iam_gov.policy import load_policy
            from iam_gov.rules import all_rules

            self.policy = load_policy(self.config.policy.path, rules=all_rules())
        return self.policy

    def _factory(self) -> ConnectorFactory:
        if self.factory is not None:
            return self.factory
        from iam_gov.collect import build_connector

        return build_connector

    # --- refusals and resumption ----------------------------------------------------------

    def _refusal(
        self,
        conn: Any,
        plan: Plan,
        allow_mass: bool,
        now: datetime,
        acted_on: set[str],
        settled: dict[str, tuple[int, str]],
    ) -> tuple[str, list[str]] | None:
        """Why the plan may not run at all (what, and the details), or None.

        Resuming, the systems an earlier run of this plan acted on have changed since it was
        made — by that run (and its verification's collect): they are not held against it.
        Each action reads the state first, so what is done is a noop."""
        stale = stale_basis(conn, plan, skip=acted_on)
        if stale:
            return "the systems changed since the plan was made", [
                *stale,
                "make a new plan (without --plan) and check it",
            ]
        unfit = unfit_systems(conn, self.config, plan, now)
        mass = mass_change(conn, self.config, _to_do(plan, unfit, settled))
        if mass and not allow_mass:
            return "a mass change", [mass, "check the plan, then add --allow-mass to go ahead"]
        return None

    @staticmethod
    def _acted_on_before(conn: Any, plan_id: str) -> set[str]:
        """The systems on which an earlier run of this plan took (or tried) an action."""
        rows = conn.execute(
            select(deprovision_steps.c.system)
            .join(deprovision_runs, deprovision_runs.c.id == deprovision_steps.c.run_id)
            .where(deprovision_runs.c.plan_id == plan_id)
            .where(deprovision_steps.c.outcome.in_(("done", "noop", "failed")))
            .distinct()
        ).scalars()
        return set(rows)

    @staticmethod
    def _cut_short_before(conn: Any, plan_id: str) -> dict[str, int]:
        """Step id -> the earlier run of this plan that audited the step as intended but
        recorded no outcome for it (it stopped in between)."""
        runs = set(
            conn.execute(
                select(deprovision_runs.c.id).where(deprovision_runs.c.plan_id == plan_id)
            ).scalars()
        )
        if not runs:
            return {}
        ended = {
            (int(r.run_id), str(r.step_id))
            for r in conn.execute(
                select(deprovision_steps.c.run_id, deprovision_steps.c.step_id).where(
                    deprovision_steps.c.run_id.in_(runs)
                )
            )
        }
        raw = type_coerce(audit_log.c.details, NullType())  # a garbled record is skipped here
        intents = conn.execute(
            select(raw).where(audit_log.c.action == "deprovision.intent").order_by(audit_log.c.seq)
        ).scalars()
        cut: dict[str, int] = {}
        for value in intents:
            details = _json_object(value)
            run, step = details.get("run_id"), details.get("step")
            cut_here = isinstance(run, int) and run in runs and (run, step) not in ended
            if cut_here and isinstance(step, str):
                cut.setdefault(step, int(str(run)))
        return cut

    @staticmethod
    def _settled_before(conn: Any, plan_id: str) -> dict[str, tuple[int, str]]:
        """Step id -> (run, outcome) of the steps earlier runs of this plan settled."""
        rows = conn.execute(
            select(
                deprovision_steps.c.step_id, deprovision_steps.c.run_id, deprovision_steps.c.outcome
            )
            .join(deprovision_runs, deprovision_runs.c.id == deprovision_steps.c.run_id)
            .where(deprovision_runs.c.plan_id == plan_id)
            .where(deprovision_steps.c.outcome.in_(SETTLED))
            .order_by(deprovision_steps.c.run_id)
        ).all()
        settled: dict[str, tuple[int, str]] = {}
        for row in rows:
            settled.setdefault(row.step_id, (int(row.run_id), str(row.outcome)))
        return settled


def record_plan(store: Store, plan: Plan, actor: str, *, held_at: str | None = None) -> None:
    """A plan made (a dry run, a saved or held plan) goes to the audit log with its steps:
    what would have been done, for whom, why, by whom asked."""
    with store.writing() as conn:
        audit.append(
            conn,
            "deprovision.plan",
            f"plan:{plan.plan_id[:16]}",
            {
                "plan_id": plan.plan_id,
                "kind": plan.kind,
                "trigger": plan.trigger,
                "reason": plan.reason,
                "people": [p.employee_id for p in plan.people],
                "campaign_id": plan.campaign_id,
                "held_at": held_at,
                "steps": [
                    {
                        "seq": s.seq,
                        "system": s.action.system,
                        "account_id": s.action.account_id,
                        "action": s.action.kind.value,
                        "entitlement_id": s.action.entitlement_id,
                        "credential_id": s.action.credential_id,
                        "skip": s.skip,
                    }
                    for s in plan.steps[:500]
                ],
                "problems": plan.problems[:50],
            },
            actor=actor,
        )


def _with_protection(plan: Plan, protected: dict[str, str]) -> Plan:
    if not protected:
        return plan
    steps = [
        s.model_copy(update={"skip": protected[s.step_id]}) if s.step_id in protected else s
        for s in plan.steps
    ]
    return plan.model_copy(update={"steps": steps})


def _to_do(plan: Plan, unfit: dict[str, str], settled: dict[str, tuple[int, str]]) -> list[Step]:
    """The steps this run will carry out: not skipped, on a fit system, not settled before."""
    return [
        s
        for s in plan.steps
        if s.skip is None and s.action.system not in unfit and s.step_id not in settled
    ]


def _failed(step: Step, message: str) -> ActionResult:
    return ActionResult(action=step.action, outcome=ActionOutcome.FAILED, message=message)


def _says(exc: BaseException) -> str:
    """An unexpected exception in one line: its type and first line, printable (connectors'
    own errors never carry secrets; an unknown one is cut short)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {printable(first[:300])}" if first else type(exc).__name__


def _json_object(value: Any) -> dict[str, Any]:
    """An audit record's details as stored (text on SQLite, decoded on PostgreSQL); empty when
    they cannot be read (``audit verify`` names such a record)."""
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}
