"""`iam-gov deprovision`: one leaver (or everyone HR marks gone, or one HR event, or a closed
review's revocations), every system, plan then apply."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from iam_gov.cli_common import err, out
from iam_gov.errors import IamGovError, InputError
from iam_gov.textsafe import printable

if TYPE_CHECKING:
    from iam_gov.config import Config
    from iam_gov.deprovision.executor import RunResult
    from iam_gov.deprovision.outcome import StepResult
    from iam_gov.deprovision.plan import Plan, Step
    from iam_gov.policy import Policy
    from iam_gov.store import Store


class UsageProblem(IamGovError):
    exit_code = 2


def deprovision_command(
    who: Annotated[
        list[str] | None,
        typer.Argument(
            help="Employee ids or e-mail addresses, as HR has them.", show_default=False
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="Why: recorded with every action and in the audit log."),
    ] = None,
    from_hr: Annotated[
        Path | None,
        typer.Option(
            "--from-hr",
            help="Everyone this HR export marks terminated (date reached, plus the grace "
            "period) who still has active access.",
        ),
    ] = None,
    event: Annotated[
        str | None,
        typer.Option("--event", help="One HR event in JSON, from a file or - (standard input)."),
    ] = None,
    campaign: Annotated[
        int | None,
        typer.Option("--campaign", help="The revocations of this closed review campaign."),
    ] = None,
    plan_file: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            help="A plan saved with --plan-out (or a campaign's remediation-plan.json).",
        ),
    ] = None,
    plan_out: Annotated[
        Path | None, typer.Option("--plan-out", help="Save the plan to this file.")
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Carry the plan out. Without it nothing changes.")
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Finish the latest run that did not finish (of --plan's plan, if given): "
            "only what is left.",
        ),
    ] = False,
    allow_mass: Annotated[
        bool,
        typer.Option(
            "--allow-mass", help="Go ahead with a change larger than the mass guard (audited)."
        ),
    ] = False,
    even_if_active: Annotated[
        bool,
        typer.Option(
            "--even-if-active",
            help="Deprovision PERSON even though HR does not (yet) show them gone, e.g. an "
            "immediate dismissal. Without it, such a person is left out of the plan.",
        ),
    ] = False,
) -> None:
    """Deprovision leavers: plan, then apply. Without --apply, prints the plan and changes
    nothing."""
    from iam_gov import audit
    from iam_gov.cli_common import config_from_options, open_store, policy_of

    sources = [bool(who), from_hr is not None, event is not None, campaign is not None]
    sources.append(plan_file is not None or (resume and not any(sources)))
    if sum(sources) != 1:
        raise UsageProblem(
            "say whom to deprovision in exactly one way: PERSON…, --from-hr FILE, --event "
            "FILE, --campaign ID, or --plan FILE (--resume alone finishes the last run)"
        )
    if resume and not apply:
        raise UsageProblem("--resume carries out what is left: add --apply")
    actor = audit.current_actor()
    config = config_from_options()
    policy = policy_of(config)
    with open_store(config) as store:
        if event is not None and apply:
            sys.exit(_apply_event(store, config, policy, event, actor))
        if resume:
            plan = _last_unfinished(store, plan_file)
        else:
            plan = _make(
                store,
                config,
                policy,
                who,
                reason,
                from_hr,
                event,
                campaign,
                plan_file,
                actor,
                even_if_active=even_if_active,
            )
        if plan_out is not None:
            from iam_gov.deprovision.plan import save_plan

            save_plan(plan, plan_out)
        if not apply:
            from iam_gov.deprovision.executor import record_plan

            record_plan(store, plan, actor, held_at=str(plan_out) if plan_out else None)
            print_plan(plan, config)
            if plan_out is not None:
                out.print(Text(f"plan saved to {plan_out}"))
            _how_to_apply(plan, who, reason, from_hr, event, campaign, plan_file, plan_out)
            sys.exit(1 if plan.problems else 0)
        sys.exit(_apply(store, config, plan, actor, allow_mass=allow_mass, resume=resume))


def _make(
    store: Store,
    config: Config,
    policy: Policy,
    who: list[str] | None,
    reason: str | None,
    from_hr: Path | None,
    event: str | None,
    campaign: int | None,
    plan_file: Path | None,
    actor: str,
    *,
    even_if_active: bool = False,
) -> Plan:
    from iam_gov.deprovision.planner import (
        Request,
        leavers_of_file,
        make_plan,
        terminated,
    )

    if who:
        if not reason or not reason.strip():
            raise UsageProblem(
                "give --reason: it is recorded with every action (e.g. --reason "
                '"left on 2026-12-04, ticket HR-1234")'
            )
        # a mistyped employee id must not take an active colleague's access away
        request = Request(who, reason.strip(), "cli", actor, only_leavers=not even_if_active)
        return make_plan(store, config, policy, request)
    if from_hr is not None:
        from iam_gov.timeutil import utcnow

        people = leavers_of_file(config, from_hr)
        gone = terminated(people, utcnow(), config.deprovision.grace_days)
        why = reason or f"terminated in HR ({from_hr.name})"
        if not gone:
            return make_plan(store, config, policy, Request([], why, "hr-file", actor))
        request = Request(gone, why, "hr-file", actor, only_leavers=True, only_with_access=True)
        return make_plan(store, config, policy, request, hr_people=people)
    if event is not None:
        from iam_gov.deprovision.events import parse_event

        body, source = _read_event(event)
        parsed = parse_event(body, source)
        if parsed.kind != "termination":
            raise UsageProblem(f"{parsed.describe()}: not a termination; nothing to plan")
        why = f"HR event {parsed.event_id}" + (f": {parsed.reason}" if parsed.reason else "")
        return make_plan(store, config, policy, Request([parsed.employee], why, "hr-event", actor))
    if campaign is not None:
        return _campaign_plan(store, config, policy, campaign, actor)
    assert plan_file is not None
    return _plan_file(store, config, policy, plan_file, actor)


def _campaign_plan(
    store: Store, config: Config, policy: Policy, campaign_id: int, actor: str
) -> Plan:
    from sqlalchemy import select

    from iam_gov.campaigns.plan import build_plan
    from iam_gov.deprovision.planner import plan_from_actions
    from iam_gov.store.schema import campaigns
    from iam_gov.timeutil import utcnow

    with store.reading() as conn:
        status = conn.execute(
            select(campaigns.c.status).where(campaigns.c.id == campaign_id)
        ).scalar_one_or_none()
        if status is None:
            raise UsageProblem(f"there is no campaign {campaign_id} (iam-gov campaign list)")
        if status != "closed":
            raise UsageProblem(
                f"campaign {campaign_id} is {status}: its revocations are carried out once it "
                f"is closed (iam-gov campaign close {campaign_id})"
            )
        remediation = build_plan(conn, campaign_id, generated_at=utcnow())
    plan = plan_from_actions(
        store,
        config,
        policy,
        remediation.actions,
        reason=f"revoked in review campaign {campaign_id} ({remediation.campaign.name})",
        actor=actor,
        campaign_id=campaign_id,
    )
    return plan.model_copy(update={"problems": [*remediation.notes, *plan.problems]})


def _plan_file(store: Store, config: Config, policy: Policy, path: Path, actor: str) -> Plan:
    import json

    from iam_gov.campaigns.plan import load_plan, read_plan_bytes
    from iam_gov.deprovision.plan import load_plan_file
    from iam_gov.deprovision.planner import plan_from_actions

    data = read_plan_bytes(path, "the plan")  # the size limit, before anything is parsed
    try:
        head = json.loads(data)
    except ValueError:
        head = None
    if isinstance(head, dict) and "campaign" in head and "steps" not in head:
        remediation = load_plan(path, data)
        return plan_from_actions(
            store,
            config,
            policy,
            remediation.actions,
            reason=f"revoked in review campaign {remediation.campaign.id} "
            f"({remediation.campaign.name})",
            actor=actor,
            campaign_id=remediation.campaign.id,
        )
    return load_plan_file(path, data)


def _read_event(event: str) -> tuple[bytes, str]:
    from iam_gov.deprovision.events import MAX_EVENT_BYTES

    if event == "-":
        return sys.stdin.buffer.read(MAX_EVENT_BYTES + 1), "standard input"
    path = Path(event)
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_EVENT_BYTES + 1), str(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the event: {exc.strerror}") from None


def _apply_event(store: Store, config: Config, policy: Policy, event: str, actor: str) -> int:
    from iam_gov.deprovision.events import parse_event
    from iam_gov.deprovision.service import handle_event

    body, source = _read_event(event)
    parsed = parse_event(body, source)
    outcome = handle_event(
        store, config, policy, parsed, body, source="cli", actor=actor, mode="apply"
    )
    if outcome.plan is not None:
        print_plan(outcome.plan, config, title="applied")
    if outcome.run is not None:
        print_run(outcome.run, config)
    out.print(Text(printable(outcome.message)))
    return 0 if outcome.status in {"applied", "ignored", "later"} else 1


def _last_unfinished(store: Store, plan_file: Path | None) -> Plan:
    from sqlalchemy import select

    from iam_gov.deprovision.plan import Plan, load_plan_file
    from iam_gov.store.schema import deprovision_runs

    runs = deprovision_runs.c
    query = select(runs.id, runs.plan_id, runs.status, runs.plan).order_by(runs.id.desc())
    if plan_file is not None:
        query = query.where(runs.plan_id == load_plan_file(plan_file).plan_id)
    seen: set[str] = set()
    with store.reading() as conn:
        for row in conn.execute(query):
            # the newest run of a plan says whether it is finished
            if row.plan_id in seen:
                continue
            seen.add(row.plan_id)
            if row.status in {"partial", "running"}:
                return Plan.model_validate(row.plan)
    raise UsageProblem(
        "no unfinished deprovisioning run to resume: the last run of each plan ended done"
    )


def _apply(
    store: Store, config: Config, plan: Plan, actor: str, *, allow_mass: bool, resume: bool
) -> int:
    from iam_gov import audit
    from iam_gov.deprovision.executor import Executor

    if not plan.active_steps():
        print_plan(plan, config, title="nothing to carry out; nothing was changed")
        return 1 if plan.problems else 0
    os_user = audit.os_user_name()  # the real uid's account, not $USER
    progress = _print_step if err.is_terminal else None
    executor = Executor(store, config, actor=actor, os_user=os_user, progress=progress)
    err.print(
        Text(
            f"applying plan {plan.plan_id[:12]}: {len(plan.active_steps())} action(s) "
            f"on {len({s.action.system for s in plan.active_steps()})} system(s)"
        )
    )
    run = executor.apply(plan, allow_mass=allow_mass, resume=resume)
    print_run(run, config)
    return 0 if run.status == "done" else 1


# --- printing ---------------------------------------------------------------------------

OUTCOME_STYLE = {"done": "green", "noop": "dim", "failed": "bold red", "skipped": "yellow"}


def describe(step: Step, config: Config) -> str:
    """The action in the system's own words."""
    from iam_gov.model import ActionKind

    action = step.action
    options = config.systems.get(action.system)
    type_name = options.type if options is not None else "?"
    kind = action.kind
    if kind is ActionKind.REMOVE_GRANT:
        name = step.entitlement_name or action.entitlement_id
        return f"remove from {printable(name)}"
    if kind is ActionKind.DEACTIVATE_CREDENTIAL:
        suffix = (action.credential_id or "").rpartition("#")[2]
        if suffix == "password":
            return "delete the console password (login profile)"
        if suffix.startswith("access_key_"):
            return f"deactivate access key {suffix.removeprefix('access_key_')}"
        return f"deactivate credential {printable(action.credential_id)}"
    words = {
        ("okta", ActionKind.DISABLE_ACCOUNT): "deactivate the user",
        ("okta", ActionKind.SUSPEND_ACCOUNT): "suspend the user",
        ("okta", ActionKind.REVOKE_SESSIONS): "end its sessions, revoke its OAuth tokens",
        ("entra", ActionKind.DISABLE_ACCOUNT): "block sign-in (accountEnabled false)",
        ("entra", ActionKind.REVOKE_SESSIONS): "revoke sign-in sessions and refresh tokens",
        ("openvpn", ActionKind.DISABLE_ACCOUNT): (
            "revoke its certificates, regenerate and install the CRL, drop the live session"
        ),
        ("wireguard", ActionKind.DISABLE_ACCOUNT): "remove the peer (file and interface)",
        ("aws", ActionKind.DISABLE_ACCOUNT): (
            "delete the console password, deactivate every access key"
        ),
    }
    if type_name == "ldap" and kind is ActionKind.DISABLE_ACCOUNT:
        flavor = getattr(options, "flavor", "")
        return "disable the account" if flavor == "ad" else "lock the account"
    return words.get((type_name, kind), kind.value)


def print_plan(plan: Plan, config: Config, *, title: str = "dry run: nothing was changed") -> None:
    active = plan.active_steps()
    out.print(
        Text.assemble(
            (f"deprovisioning plan {plan.plan_id[:12]}", "bold"),
            f" ({plan.kind}, trigger {plan.trigger}) — {title}",
        )
    )
    out.print(Text(f"  why: {printable(plan.reason)}"))
    for person in plan.people:
        state = person.status + (f", last day {person.end_date}" if person.end_date else "")
        out.print(
            Text(f"  who: {printable(person.name)} ({printable(person.employee_id)}), {state}")
        )
    current = None
    said = None
    for step in plan.steps:
        where = (step.action.system, step.action.account_id)
        if where != current:
            current, said = where, None
            out.print(Text(f"\n  {step.action.system} · {printable(step.account_login)}"))
        line = Text(f"   {step.seq:>3}  {describe(step, config)}")
        if step.skip and step.skip != said:
            line.append(f"\n        skipped: {printable(step.skip)}", style="yellow")
        elif step.skip:
            line.append("  (skipped, as above)", style="yellow")
        said = step.skip
        out.print(line)
    skipped = len(plan.steps) - len(active)
    out.print(
        Text(
            f"\n{len(plan.steps)} action(s): {len(active)} to carry out, {skipped} skipped",
            style="bold",
        )
    )
    if plan.problems:
        out.print(Text("problems:", style="bold red"))
        for problem in plan.problems:
            out.print(Text(f"  ! {printable(problem)}"))


def _how_to_apply(
    plan: Plan,
    who: list[str] | None,
    reason: str | None,
    from_hr: Path | None,
    event: str | None,
    campaign: int | None,
    plan_file: Path | None,
    plan_out: Path | None,
) -> None:
    if not plan.active_steps():
        return
    if plan_out is not None or plan_file is not None:
        again = f"iam-gov deprovision --apply --plan {plan_out or plan_file}"
    elif who:
        quoted = (reason or "").replace('"', '\\"')
        again = f'iam-gov deprovision {" ".join(who)} --reason "{quoted}" --apply'
    elif from_hr is not None:
        again = f"iam-gov deprovision --from-hr {from_hr} --apply"
    elif event is not None:
        again = f"iam-gov deprovision --event {event} --apply"
    else:
        again = f"iam-gov deprovision --campaign {campaign} --apply"
    out.print(Text(f"to carry it out: {printable(again)}"))


def _print_step(result: StepResult) -> None:
    step = result.step
    err.print(
        Text.assemble(
            f"  {step.seq:>3} {step.action.system} {printable(step.account_login)} "
            f"{step.action.kind.value}: ",
            (result.outcome, OUTCOME_STYLE.get(result.outcome, "")),
        )
    )


def print_run(run: RunResult, config: Config) -> None:
    """One line per action and its outcome; what a system said, once per account."""
    out.print(Text(f"deprovisioning run #{run.run_id}", style="bold"))
    said = None
    for result in run.results:
        step = result.step
        line = Text.assemble(
            f"  {step.seq:>3} {step.action.system} · {printable(step.account_login)}: "
            f"{describe(step, config)}: ",
            (result.outcome, OUTCOME_STYLE.get(result.outcome, "")),
        )
        where = (step.action.system, step.action.account_id, result.outcome, result.message)
        if result.message and (result.outcome != "skipped" or where != said):
            line.append(f"\n        {printable(result.message)}")
        said = where
        out.print(line)
    counts = ", ".join(
        f"{run.count(o)} {o}" for o in ("done", "noop", "failed", "skipped") if run.count(o)
    )
    style = "bold green" if run.status == "done" else "bold red"
    out.print(Text.assemble((f"run #{run.run_id} {run.status}", style), f": {counts}"))
    for present in run.still_present:
        out.print(Text(f"  still present: {printable(present)}", style="bold red"))
    for unverified in run.unverified:
        out.print(Text(f"  not verified: {printable(unverified)}", style="yellow"))
    if run.status != "done":
        out.print(
            Text(
                "what failed or was skipped is listed above; fix the cause, then "
                "`iam-gov deprovision --apply --resume` finishes what is left"
            )
        )
