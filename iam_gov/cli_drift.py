"""`iam-gov drift` and `iam-gov baseline …`: what changed since a baseline, and what is out of
policy now; named baselines to compare with."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from iam_gov.cli_common import config_from_options, err, open_store, out, policy_of
from iam_gov.files import write_atomically
from iam_gov.textsafe import printable

if TYPE_CHECKING:
    from iam_gov.drift.publish import Published

baseline_app = typer.Typer(
    help="Named baselines a drift report can compare with.", no_args_is_help=True
)

EXIT_CODES = """Exit codes: 0 nothing new at or above --fail-on; 1 new findings at or above
it; 2 the run failed or a system is stale (its missing data is not called removed);
3 the report was written but a delivery (webhook, e-mail) failed."""


def drift_command(
    baseline: Annotated[
        str,
        typer.Option(
            "--baseline",
            "-b",
            help="previous (the run before), a day YYYY-MM-DD, or a name pinned with "
            "`iam-gov baseline pin`.",
        ),
    ] = "previous",
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help="markdown, html, json or csv (the changed grants)."),
    ] = "markdown",
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file, not the terminal.")
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            help="Exit 1 for a new finding at or above this severity [default: [drift] fail_on].",
            show_default=False,
        ),
    ] = None,
    deliver: Annotated[
        bool,
        typer.Option(
            "--deliver",
            help="Write the report folder (every format) and send it as [drift] configures, "
            "as `iam-gov run` does.",
        ),
    ] = False,
    charts: Annotated[
        bool, typer.Option("--charts/--no-charts", help="Chart series (the slow part at scale).")
    ] = True,
) -> None:
    """What changed in who-has-what since a baseline, and what is out of policy now."""
    from iam_gov import audit
    from iam_gov.drift.baseline import parse_baseline
    from iam_gov.drift.compute import compute_drift
    from iam_gov.drift.publish import publish
    from iam_gov.drift.render import FORMATS, UnknownFormat, render

    if fmt not in FORMATS:  # before the work, not after
        raise UnknownFormat(f"unknown drift report format {fmt!r}: use one of {', '.join(FORMATS)}")
    config = config_from_options()
    policy = policy_of(config)
    spec = parse_baseline(baseline)
    with open_store(config) as store:
        report = compute_drift(
            store, config, policy, baseline=spec, fail_on=fail_on, with_charts=charts
        )
        if deliver:
            published = publish(store, config, report, actor=audit.current_actor())
            print_published(published)
            sys.exit(published.exit_code)
    text = render(report, fmt)
    if out_file is not None:
        write_atomically(out_file, text, "drift report")
        err.print(Text(f"drift report written to {out_file} (exit code {report.exit_code})"))
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    sys.exit(report.exit_code)


drift_command.__doc__ = f"{drift_command.__doc__}\n\n{EXIT_CODES}"


def print_published(published: Published) -> None:
    """Where the report went, what it says in one line, and every delivery that failed."""
    from iam_gov.drift.deliver import headline

    report = published.report
    style = "bold green" if report.exit_code == 0 else "bold red"
    out.print(Text(printable(headline(report)), style=style), soft_wrap=True)
    if published.folder:
        out.print(Text(f"Drift report: {published.folder}/drift.html"), soft_wrap=True)
    for delivery in published.deliveries:
        if delivery.channel != "folder" or not delivery.ok:
            mark = "sent" if delivery.ok else "NOT SENT"
            out.print(
                Text(
                    f"  {mark}: {printable(delivery.target)}: {printable(delivery.detail)}",
                    style="" if delivery.ok else "bold red",
                ),
                soft_wrap=True,
            )
    pruned = published.pruned
    if pruned is not None and (pruned.snapshots or pruned.folders):
        out.print(
            Text(
                f"Retention: {len(pruned.snapshots)} old snapshot(s) and "
                f"{len(pruned.folders)} report folder(s) removed",
                style="dim",
            )
        )
    for problem in published.problems:
        err.print(Text(f"warning: {printable(problem)}", style="yellow"))


@baseline_app.command("pin")
def pin_command(
    name: Annotated[str, typer.Argument(help="The baseline's name, e.g. 2026-q4-audit.")],
    note: Annotated[str | None, typer.Option("--note", help="Why it was pinned.")] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Move an existing name to today's data.")
    ] = False,
) -> None:
    """Pin today's latest snapshots under a name: drift reports can compare with it and
    retention keeps them."""
    from iam_gov import audit
    from iam_gov.drift.baseline import pin

    config = config_from_options()
    with open_store(config) as store:
        pinned = pin(store, name, audit.current_actor(), note, replace=replace)
    systems = ", ".join(f"{s} #{i}" for s, i in sorted(pinned.snapshot_ids.items()))
    out.print(Text(f"pinned baseline {printable(pinned.name)}: {systems}"), soft_wrap=True)


@baseline_app.command("list")
def list_command() -> None:
    """The pinned baselines, newest first."""
    from iam_gov.drift.baseline import list_baselines

    config = config_from_options()
    with open_store(config) as store:
        pinned = list_baselines(store)
    if not pinned:
        out.print(Text("no baseline is pinned (iam-gov baseline pin NAME)"))
    for item in pinned:
        note = f" — {printable(item.note)}" if item.note else ""
        out.print(
            Text(
                f"{printable(item.name)}  pinned {item.pinned_at:%Y-%m-%d %H:%M} UTC by "
                f"{printable(item.pinned_by)}, {len(item.snapshot_ids)} system(s){note}"
            ),
            soft_wrap=True,
        )


@baseline_app.command("unpin")
def unpin_command(name: Annotated[str, typer.Argument(help="The baseline's name.")]) -> None:
    """Forget a pinned baseline (retention may then prune its snapshots)."""
    from iam_gov import audit
    from iam_gov.drift.baseline import unpin

    config = config_from_options()
    with open_store(config) as store:
        unpin(store, name, audit.current_actor())
    out.print(Text(f"unpinned baseline {printable(name)}"))
