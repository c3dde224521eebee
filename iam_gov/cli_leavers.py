"""`iam-gov leavers …`: how fast leavers' access ended, against the SLA.

A thin layer over ``iam_gov.deprovision.leavers``; imports sit inside the commands to keep
start-up fast, as in ``iam_gov.cli``. `leavers report` exits 1 when any leaver is over the
SLA or still active, so that a scheduler can alert on it without reading the output.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from iam_gov.cli_common import config_from_options, err, open_store, out
from iam_gov.files import write_atomically

if TYPE_CHECKING:
    from rich.table import Table

    from iam_gov.deprovision.leavers import LeaversReport

leavers_app = typer.Typer(
    help="Leavers: when HR said they left, when each account went off, against the SLA.",
    no_args_is_help=True,
)

FORMATS = ("table", "csv", "json")


@leavers_app.command("report")
def report_command(
    since: Annotated[
        str,
        typer.Option(
            "--since",
            help="First day of the period (YYYY-MM-DD): terminations from that day on.",
            show_default=False,
        ),
    ],
    until: Annotated[
        str | None,
        typer.Option("--until", help="Last day of the period (YYYY-MM-DD). Default: today."),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="table (the terminal; plain text with --out), csv (one row per account) or json.",
        ),
    ] = "table",
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the report to this file instead.", dir_okay=False),
    ] = None,
) -> None:
    """Every termination in the period: the HR termination time, when each account went off,
    the time to the last one, flagged when over the SLA (deprovision.sla_hours in the
    configuration). Exit code 1 when any leaver is over the SLA or still active."""
    from rich.text import Text

    from iam_gov.cli_common import policy_of
    from iam_gov.deprovision.leavers import leavers_csv, leavers_json, leavers_report, leavers_text

    if fmt not in FORMATS:
        raise typer.BadParameter(f"{fmt!r}: give {', '.join(FORMATS)}", param_hint="--format")
    first = _day(since, "--since")
    last = _day(until, "--until") if until is not None else None
    config = config_from_options()
    policy = policy_of(config)
    with open_store(config, read_only=True) as store:
        report = leavers_report(store, config, policy, since=first, until=last)
    if out_file is not None:
        rendered = {"table": leavers_text, "csv": leavers_csv, "json": leavers_json}[fmt]
        write_atomically(out_file, rendered(report), "leavers report")
        out.print(Text(f"wrote {len(report.leavers)} leaver(s) to {out_file}"), soft_wrap=True)
    elif fmt == "table":
        _print_table(report)
    else:
        sys.stdout.write(leavers_csv(report) if fmt == "csv" else leavers_json(report))
    alerts = report.alerts
    if alerts:
        err.print(
            f"{len(alerts)} of {len(report.leavers)} leaver(s) over the SLA of "
            f"{report.sla_hours:g} h, still active or not shown to be off",
            style="bold red",
            soft_wrap=True,
        )
        raise typer.Exit(1)


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date: give it as YYYY-MM-DD (2026-09-01)", param_hint=option
        ) from None


def _print_table(report: LeaversReport) -> None:
    from rich.text import Text

    from iam_gov.deprovision.leavers import footnotes

    out.print(_table(report))
    for line in footnotes(report):
        out.print(Text(line, style="dim"))


def _table(report: LeaversReport) -> Table:
    from rich.table import Table
    from rich.text import Text

    from iam_gov.deprovision.leavers import TABLE_COLUMNS, table_rows, title

    table = Table(title=title(report), title_justify="left", expand=True)
    widest = {"leaver": 20, "time to last off": 14, "account": 28}
    for name in TABLE_COLUMNS:
        if name == "terminated (UTC)":  # an ISO time reads only whole
            table.add_column(name, no_wrap=True)
        else:  # the evidence gets the room left; long logins fold rather than crowd it
            table.add_column(name, overflow="fold", max_width=widest.get(name))
    verdict, first_of_account, evidence = (
        TABLE_COLUMNS.index(name) for name in ("time to last off", "account", TABLE_COLUMNS[-1])
    )
    for row in table_rows(report):
        cells = [Text(cell) for cell in row.cells]  # printable already; Text: no markup
        if row.first and not row.leaver.within_sla:
            cells[verdict].stylize("bold red")
        account = row.account
        if account is not None and not account.counted:
            for cell in cells[first_of_account:]:
                cell.stylize("dim")
        elif account is not None and account.state in ("active", "unknown"):  # its first line
            cells[evidence].stylize("bold red", 0, len(row.cells[evidence].split("\n")[0]))
        accounts = row.leaver.accounts
        # a line under each leaver's last account, so that leavers read apart
        table.add_row(*cells, end_section=not accounts or accounts[-1] is account)
    if not report.leavers:
        table.add_row("(no terminations in the period)", *[""] * (len(TABLE_COLUMNS) - 1))
    return table
