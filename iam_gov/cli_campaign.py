"""`iam-gov campaign …`: access-review campaigns from the command line (`iam-gov review`, the
TUI, comes from ``iam_gov.tui.command``).

Every command is a thin layer over ``iam_gov.campaigns``; imports sit inside the commands to
keep start-up fast, as in ``iam_gov.cli``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from iam_gov.cli_common import config_from_options, err, open_store, out
from iam_gov.errors import IamGovError

if TYPE_CHECKING:
    from iam_gov.campaigns.bundle import BundleResult
    from iam_gov.campaigns.close import CloseResult
    from iam_gov.campaigns.reviewer import Reviewer
    from iam_gov.campaigns.triggers import Opened
    from iam_gov.config import Config
    from iam_gov.store import Store

campaign_app = typer.Typer(
    help="Access-review campaigns: create, launch, remind, close, export, verify.",
    no_args_is_help=True,
)


# --- create and launch (iam_gov.campaigns.launch) -------------------------------------------


@campaign_app.command("create")
def create_command(
    definition_file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="A campaign definition in YAML (see the README)."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="The campaign's name.")] = None,
    system: Annotated[
        list[str] | None, typer.Option("--system", help="Only this system (repeatable).")
    ] = None,
    entitlement: Annotated[
        list[str] | None,
        typer.Option("--entitlement", help="Only entitlements matching (repeatable)."),
    ] = None,
    department: Annotated[
        list[str] | None, typer.Option("--department", help="Only this department (repeatable).")
    ] = None,
    privileged_only: Annotated[
        bool, typer.Option("--privileged-only", help="Only privileged access.")
    ] = False,
    findings_only: Annotated[
        bool, typer.Option("--findings-only", help="Only access with an open finding.")
    ] = False,
    reviewer_rule: Annotated[
        str, typer.Option("--reviewers", help="manager, owner or named.")
    ] = "manager",
    named: Annotated[
        str | None, typer.Option("--reviewer", help="The reviewer, for --reviewers named.")
    ] = None,
    fallback: Annotated[
        str | None, typer.Option("--fallback", help="Reviews what nobody else can.")
    ] = None,
    due_in_days: Annotated[int, typer.Option("--due-in-days", min=1)] = 14,
    no_response: Annotated[
        str, typer.Option("--no-response", help="keep, revoke or recommendation.")
    ] = "keep",
    precertify: Annotated[
        bool,
        typer.Option("--precertify", help="Approve at launch what a role fully explains."),
    ] = False,
    launch: Annotated[
        bool, typer.Option("--launch", help="Launch it at once (freeze the population).")
    ] = False,
) -> None:
    """Create a campaign from a definition file or from options; a draft until launched."""
    from pydantic import ValidationError
    from rich.text import Text

    from iam_gov.audit import current_actor
    from iam_gov.campaigns.definition import (
        CampaignDefinition,
        DefinitionError,
        load_definition,
    )
    from iam_gov.campaigns.launch import create_campaign
    from iam_gov.config import format_validation_errors

    if definition_file is not None:
        definition = load_definition(definition_file)
    else:
        if not name:
            raise DefinitionError("give --file DEFINITION.yaml, or at least --name")
        raw = {
            "name": name,
            "scope": {
                "systems": system or [],
                "entitlements": entitlement or [],
                "departments": department or [],
                "privileged_only": privileged_only,
                "findings_only": findings_only,
            },
            "reviewers": {"rule": reviewer_rule, "named": named, "fallback": fallback},
            "due_in_days": due_in_days,
            "no_response": no_response,
            "precertify": "role-explained" if precertify else "none",
        }
        try:
            definition = CampaignDefinition.model_validate(raw)
        except ValidationError as exc:
            raise DefinitionError(
                [f"campaign options: {p}" for p in format_validation_errors(exc)]
            ) from None
    config = config_from_options()
    with open_store(config) as store:
        campaign_id = create_campaign(store, definition, actor=current_actor())
        out.print(Text(f"created campaign #{campaign_id}: {definition.name}"))
        if launch:
            try:
                _launch(store, config, campaign_id)
            except IamGovError:
                err.print(
                    f"campaign #{campaign_id} stays a draft: once fixed, launch it with "
                    f"`iam-gov campaign launch {campaign_id}`",
                    soft_wrap=True,
                )
                raise
        else:
            out.print(f"launch it with: iam-gov campaign launch {campaign_id}")


@campaign_app.command("launch")
def launch_command(
    campaign: Annotated[int, typer.Argument(help="The campaign's number.")],
) -> None:
    """Freeze a draft's population from the latest complete snapshots; open it to reviewers."""
    config = config_from_options()
    with open_store(config) as store:
        _launch(store, config, campaign)


def _launch(store: Store, config: Config, campaign_id: int) -> None:
    from iam_gov.audit import current_actor
    from iam_gov.campaigns.launch import launch_campaign
    from iam_gov.cli_common import policy_of

    result = launch_campaign(store, config, policy_of(config), campaign_id, actor=current_actor())
    out.print(
        f"launched campaign #{campaign_id}: {result.items:,} items for {result.reviewers:,} "
        f"reviewer(s), {result.precertified:,} pre-certified ({result.seconds:.1f} s)"
    )
    out.print(f"population sha256: {result.population_hash}", soft_wrap=True)


# --- decisions (iam_gov.campaigns.decisions) ------------------------------------------------

AsOption = Annotated[
    str | None,
    typer.Option("--as", help="Act for this reviewer (e-mail); needs an admin role."),
]
ItemsArgument = Annotated[
    list[str], typer.Argument(help="Item numbers or ranges: 3 7 10-25.", show_default=False)
]


@campaign_app.command("decide")
def decide_command(
    campaign: Annotated[int, typer.Argument(help="The campaign's number.")],
    items: ItemsArgument,
    approve: Annotated[bool, typer.Option("--approve", help="Keep the access.")] = False,
    revoke: Annotated[bool, typer.Option("--revoke", help="Take the access away.")] = False,
    abstain: Annotated[
        bool, typer.Option("--abstain", help="Decline to decide (counts as decided).")
    ] = False,
    comment: Annotated[str | None, typer.Option("--comment", help="Why.")] = None,
    as_reviewer: AsOption = None,
) -> None:
    """Approve, revoke or abstain on items of your review (changeable until you sign off)."""
    from iam_gov.campaigns.decisions import decide
    from iam_gov.campaigns.definition import CampaignError, Decision

    flags: dict[Decision, bool] = {"approve": approve, "revoke": revoke, "abstain": abstain}
    chosen = [decision for decision, on in flags.items() if on]
    if len(chosen) != 1:
        raise CampaignError("give exactly one of --approve, --revoke, --abstain")
    config = config_from_options()
    reviewer = reviewer_of(config, as_reviewer)
    with open_store(config) as store:
        count = decide(store, campaign, _item_ids(items), chosen[0], reviewer, comment=comment)
    done = {"approve": "approved", "revoke": "revoked", "abstain": "abstained on"}[chosen[0]]
    _tell(f"campaign #{campaign}: {_count(count)} {done}", reviewer)


@campaign_app.command("delegate")
def delegate_command(
    campaign: Annotated[int, typer.Argument(help="The campaign's number.")],
    items: ItemsArgument,
    to: Annotated[str, typer.Option("--to", help="The new reviewer's e-mail.")],
    comment: Annotated[str | None, typer.Option("--comment", help="Why.")] = None,
    as_reviewer: AsOption = None,
) -> None:
    """Hand items of your review over to another reviewer (they decide them)."""
    from iam_gov.campaigns.decisions import delegate

    config = config_from_options()
    reviewer = reviewer_of(config, as_reviewer)
    with open_store(config) as store:
        count = delegate(store, campaign, _item_ids(items), to, reviewer, comment=comment)
    _tell(f"campaign #{campaign}: {_count(count)} delegated to {to.strip()}", reviewer)


@campaign_app.command("sign-off")
def sign_off_command(
    campaign: Annotated[int, typer.Argument(help="The campaign's number.")],
    as_reviewer: AsOption = None,
) -> None:
    """Declare your review done: every item decided; your decisions are final from now."""
    from iam_gov.campaigns.decisions import sign_off

    config = config_from_options()
    reviewer = reviewer_of(config, as_reviewer)
    with open_store(config) as store:
        sign_off(store, campaign, reviewer)
    _tell(f"campaign #{campaign}: signed off", reviewer)


def reviewer_of(config: Config, as_email: str | None) -> Reviewer:
    from iam_gov.campaigns.reviewer import resolve_reviewer

    return resolve_reviewer(config, as_email=as_email)


MAX_RANGE = 2_000_000


def _item_ids(values: list[str]) -> list[int]:
    """``3 7 10-25`` as item numbers."""
    from iam_gov.campaigns.definition import CampaignError

    ids: list[int] = []
    for value in values:
        match = re.fullmatch(r"(\d{1,9})(?:-(\d{1,9}))?", value.strip(), re.ASCII)
        first, last = (int(match[1]), int(match[2] or match[1])) if match else (0, -1)
        if not match or last < first or last - first >= MAX_RANGE:
            raise CampaignError(f"{value!r} is not an item number or a range like 10-25")
        ids.extend(range(first, last + 1))
    return ids


def _count(count: int) -> str:
    return f"{count} item{'' if count == 1 else 's'}"


def _tell(message: str, reviewer: Reviewer) -> None:
    from rich.text import Text

    acting = f" (by {reviewer.actor} for {reviewer.acting_for})" if reviewer.acting_for else ""
    out.print(Text(f"{message} as {reviewer.email}{acting}"))


# --- list, status, remind, close, export, verify-bundle (progress, remind, close, bundle) ---

_STATUSES = ("draft", "open", "closed")


@campaign_app.command("list")
def list_command(
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only campaigns in this state: draft, open or closed."),
    ] = None,
) -> None:
    """Every campaign, newest first: due date, items, how many are decided and how."""
    from rich.table import Table
    from rich.text import Text

    from iam_gov.campaigns.progress import list_campaigns
    from iam_gov.cli_common import config_from_options, open_store, out
    from iam_gov.textsafe import printable
    from iam_gov.timeutil import utcnow

    if status is not None and status not in _STATUSES:
        raise typer.BadParameter(f"{status!r}: give draft, open or closed", param_hint="--status")
    config = config_from_options()
    with open_store(config, read_only=True) as store, store.reading() as conn:
        found = list_campaigns(conn, statuses=None if status is None else [status])
    if not found:
        out.print("no campaigns yet (iam-gov campaign create --file DEFINITION.yaml)")
        return
    today = utcnow().date()
    table = Table(title="Campaigns (newest first)", title_justify="left")
    # Few columns, so that it reads in 80: `campaign status N` has the rest.
    table.add_column("#", justify="right")
    table.add_column("name", ratio=1, min_width=10)
    table.add_column("status", min_width=6)
    table.add_column("due", min_width=10)
    for column in ("items", "decided", "revoked"):
        table.add_column(column, justify="right")
    for c in found:
        due = c.due_on.isoformat() if c.due_on else "—"
        kind = f"event: {c.trigger}" if c.trigger else c.kind
        table.add_row(
            str(c.id),
            Text(printable(c.name)),
            f"{c.status} ({kind})",
            Text.assemble(due, (" OVERDUE", "bold red") if c.overdue(today) else ""),
            f"{c.counts.total:,}",
            f"{c.counts.decided:,} ({c.counts.percent}%)",
            f"{c.counts.revoked:,}",
        )
    out.print(table)


@campaign_app.command("status")
def status_command(
    campaign: Annotated[int, typer.Argument(help="The campaign's number.")],
) -> None:
    """One campaign: its progress and each reviewer's pending items and sign-off."""
    from rich.table import Table
    from rich.text import Text

    from iam_gov.campaigns.progress import campaign_status
    from iam_gov.cli_common import config_from_options, open_store, out
    from iam_gov.textsafe import printable
    from iam_gov.timeutil import utcnow

    config = config_from_options()
    with open_store(config, read_only=True) as store, store.reading() as conn:
        found = campaign_status(conn, campaign)
    c, counts, today = found.campaign, found.campaign.counts, utcnow().date()
    out.print(Text.assemble(("Campaign ", "bold"), (f"{c.id}: ", "bold"), printable(c.name)))
    due = c.due_on.isoformat() if c.due_on else "none"
    out.print(
        Text.assemble(
            f"  {c.status}, {c.kind}; due {due}",
            (" — OVERDUE", "bold red") if c.overdue(today) else "",
        )
    )
    if c.closed_at is not None:
        out.print(Text(f"  closed {c.closed_at:%Y-%m-%d %H:%M} UTC by {printable(c.closed_by)}"))
    out.print(
        f"  {counts.total} items: {counts.decided} decided ({counts.percent}%), "
        f"{counts.pending} pending; {counts.approved} approved, {counts.revoked} revoked, "
        f"{counts.abstained} abstained; {counts.precertified} pre-certified"
        + (f"; {counts.no_response} by the no-response rule" if counts.no_response else "")
    )
    if not found.reviewers:
        return
    table = Table(title="Reviewers (most pending first)", title_justify="left")
    for column in ("reviewer", "items", "decided", "pending", "signed off"):
        table.add_column(
            column, justify="left" if column in ("reviewer", "signed off") else "right"
        )
    for r in found.reviewers:
        table.add_row(
            Text(printable(r.reviewer)),
            str(r.counts.total),
            str(r.counts.decided),
            Text(str(r.pending), style="bold red" if c.overdue(today) and r.pending else ""),
            f"{r.signed_off_at:%Y-%m-%d %H:%M}" if r.signed_off_at else "no",
        )
    out.print(table)


@campaign_app.command("remind")
def remind_command(
    campaign: Annotated[
        int | None, typer.Argument(help="Only this campaign (default: every open one).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show who would be reminded; send nothing.")
    ] = False,
) -> None:
    """E-mail each reviewer with pending items (count, due date, how to open the review)."""
    from rich.text import Text

    from iam_gov.campaigns.definition import CampaignError
    from iam_gov.campaigns.remind import remind
    from iam_gov.cli_common import config_from_options, err, open_store, out
    from iam_gov.textsafe import printable

    config = config_from_options()
    with open_store(config) as store:
        result = remind(store, config, campaign, dry_run=dry_run)
    verb = "would remind" if dry_run else "reminded"
    done = set(result.sent)
    for r in result.reminders:
        if not dry_run and r.reviewer not in done:
            continue
        due = f", due {r.due_on.isoformat()}" if r.due_on else ""
        out.print(
            Text.assemble(
                f"{verb} ",
                printable(r.reviewer),
                f": {r.pending} item(s) in {len(r.campaigns)} campaign(s){due}",
                (" OVERDUE", "bold red") if r.overdue else "",
            )
        )
    if not result.reminders and not result.skipped:
        out.print("nobody has pending items in open campaigns")
    elif not dry_run:
        out.print(Text(f"{len(result.sent)} reminder(s) through {printable(result.transport)}"))
    if result.skipped:
        for reviewer, why in sorted(result.skipped.items()):
            err.print(Text(f"not reminded: {printable(reviewer)}: {why}"))
        raise CampaignError(f"{len(result.skipped)} reviewer(s) could not be reminded")


@campaign_app.command("close")
def close_command(
    campaign: Annotated[int, typer.Argument(help="The campaign's number.")],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Write the evidence bundle to this new (or empty) folder."),
    ] = None,
    force_before_due: Annotated[
        bool,
        typer.Option(
            "--force-before-due",
            help="Close before the due date: undecided items get the no-response rule now.",
        ),
    ] = False,
) -> None:
    """Close a campaign: the no-response rule, the remediation plan, the evidence bundle."""
    from iam_gov import audit
    from iam_gov.campaigns.close import close_campaign
    from iam_gov.cli_common import config_from_options, open_store

    config = config_from_options()
    with open_store(config) as store:
        result = close_campaign(
            store,
            campaign,
            actor=audit.current_actor(),
            out_dir=out_dir,
            force_before_due=force_before_due,
        )
    _print_close(result)


def _print_close(result: CloseResult) -> None:
    from rich.text import Text

    from iam_gov.cli_common import out

    counts = result.counts
    early = " (before its due date, forced)" if result.forced_before_due else ""
    out.print(Text.assemble((f"campaign {result.campaign_id} closed", "bold green"), early))
    out.print(
        f"  {counts.total} items: {counts.approved} approved, {counts.revoked} revoked, "
        f"{counts.abstained} abstained; {counts.precertified} pre-certified"
    )
    out.print(
        f"  no response ({result.rule}): {result.no_response_approved} approved, "
        f"{result.no_response_revoked} revoked"
    )
    out.print(
        f"  remediation plan: {len(result.plan.actions)} action(s)"
        + (f", {len(result.plan.notes)} to do by hand" if result.plan.notes else "")
    )
    out.print(f"  audit record #{result.audit_seq}: {result.audit_hash}")
    if result.bundle is not None:
        _print_bundle(result.bundle)
    else:
        out.print(
            f"  evidence: iam-gov campaign export {result.campaign_id} --out DIR "
            "(remediation-plan.json is in it)"
        )


def _print_bundle(bundle: BundleResult) -> None:
    from rich.text import Text

    from iam_gov.cli_common import err, out

    out.print(Text(f"  evidence: {bundle.path} ({len(bundle.files) + 1} files)"))
    out.print(f"  manifest SHA-256 (in the audit log): {bundle.manifest_sha256}")
    if not bundle.plan_matches_close:
        err.print(
            "warning: the remediation plan differs from the one produced at close: the "
            "snapshots it is built from have changed since"
        )


@campaign_app.command("export")
def export_command(
    campaign: Annotated[int, typer.Argument(help="The campaign's number.")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="A new (or empty) folder for the evidence bundle.")
    ],
) -> None:
    """Write the evidence bundle of a closed campaign (again)."""
    from iam_gov import audit
    from iam_gov.campaigns.bundle import write_bundle
    from iam_gov.cli_common import config_from_options, open_store

    config = config_from_options()
    with open_store(config) as store:
        bundle = write_bundle(store, campaign, out_dir, actor=audit.current_actor())
    _print_bundle(bundle)


@campaign_app.command("verify-bundle")
def verify_bundle_command(
    directory: Annotated[Path, typer.Argument(help="The bundle's folder.")],
) -> None:
    """Check an evidence bundle against its manifest: every file there, unchanged, no others."""
    from rich.text import Text

    from iam_gov.campaigns.bundle import BundleError, manifest_sha256, verify_bundle
    from iam_gov.cli_common import out
    from iam_gov.textsafe import printable

    problems = verify_bundle(directory)
    if problems:
        raise BundleError(
            "\n".join(
                [f"evidence bundle {printable(directory)} does NOT match its manifest:", *problems]
            )
        )
    out.print(
        Text.assemble(
            ("bundle OK", "bold green"),
            f": {printable(directory)}: every file matches manifest.json; its SHA-256 "
            f"{manifest_sha256(directory)} (compare with the campaign.evidence audit record)",
        )
    )


# --- event-triggered reviews and recurrence (iam_gov.campaigns.triggers, schedule) ----------


@campaign_app.command("triggers")
def triggers_command(
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            help="The triggers (YAML): new-privileged-grant, mover, exception-expiring.",
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the reviews that would open; open none.")
    ] = False,
) -> None:
    """Open one small review per new privileged grant, mover or exception about to end."""
    from rich.text import Text

    from iam_gov import audit
    from iam_gov.campaigns.triggers import load_triggers, run_triggers
    from iam_gov.cli_common import config_from_options, err, open_store, out, policy_of
    from iam_gov.textsafe import printable

    triggers = load_triggers(file)
    config = config_from_options()
    policy = policy_of(config)
    with open_store(config) as store:
        run = run_triggers(
            store, config, policy, triggers, actor=audit.current_actor(), dry_run=dry_run
        )
    for note in run.notes:
        err.print(Text(f"note: {printable(note)}"))
    if not run.results:
        out.print("no new events: no review to open")
    _print_opened(run.results)


@campaign_app.command("schedule")
def schedule_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what is due; launch nothing.")
    ] = False,
) -> None:
    """Launch each recurring campaign whose next run is due (for cron; runs each once)."""
    from rich.text import Text

    from iam_gov import audit
    from iam_gov.campaigns.schedule import run_schedule
    from iam_gov.cli_common import config_from_options, open_store, out, policy_of
    from iam_gov.textsafe import printable

    config = config_from_options()
    policy = policy_of(config)
    with open_store(config) as store:
        run = run_schedule(store, config, policy, actor=audit.current_actor(), dry_run=dry_run)
    for upcoming in run.upcoming:
        out.print(
            Text(
                f"not due: '{printable(upcoming.name)}' (last launched as "
                f"#{upcoming.previous_id}): next run {upcoming.next_run:%Y-%m-%d %H:%M} UTC"
            )
        )
    if not run.results and not run.upcoming:
        out.print("no recurring campaigns (give a definition `recurrence: quarterly` …)")
    _print_opened(run.results)


def _print_opened(results: list[Opened]) -> None:
    """One line per review opened (or not, and why); fails when a launch failed."""
    from rich.text import Text

    from iam_gov.campaigns.definition import CampaignError
    from iam_gov.cli_common import err, out
    from iam_gov.textsafe import printable

    failed = 0
    for r in results:
        name = f"'{printable(r.name)}'"
        number = f"#{r.campaign_id} " if r.campaign_id else ""
        if r.status == "opened":
            out.print(Text(f"opened {number}{name}: {_count(r.items)} to review"))
        elif r.status == "already-opened":
            out.print(Text(f"already opened: {number}{name}"))
        elif r.status == "would-open":
            out.print(Text(f"would open {name}: {printable(r.message)}"))
        elif r.status == "busy":
            out.print(Text(f"skipped {name}: {printable(r.message)}"))
        else:
            failed += 1
            err.print(Text(f"not launched: {number}{name}: {printable(r.message)}"))
    if failed:
        raise CampaignError(
            f"{failed} review(s) could not be launched; the next run launches them from the "
            "same draft"
        )
