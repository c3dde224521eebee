"""`iam-gov problems`: every input problem of the latest snapshots (the run summary shows the
first ten), and every system whose last collect failed. Read-only: it never creates a store."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from iam_gov.cli_common import config_from_options, open_store, options, out
from iam_gov.errors import IamGovError

if TYPE_CHECKING:
    from iam_gov.config import Config

DETAILS = """Rows left out (the snapshot is then incomplete) and notes, of the latest snapshot
of each system (every stored one with --all-snapshots); and each system whose last collect
failed as a whole (its previous snapshot stays the latest).

Exit codes: 0 no problem; 1 at least one problem (a row left out, a note, a
collect that failed); 2 a usage error (an unknown system, nothing collected yet)."""


class UsageError(IamGovError):
    """What was asked for cannot be listed: exit 2, never taken for "there are problems"."""

    exit_code = 2


FORMATS = ("table", "json", "csv")


def problems_command(
    system: Annotated[
        list[str] | None,
        typer.Option(
            "--system", "-s", help="Only this system (repeatable). Default: all configured."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or csv.")] = "table",
    all_snapshots: Annotated[
        bool,
        typer.Option(
            "--all-snapshots", help="The problems of every stored snapshot, not only the latest."
        ),
    ] = False,
) -> None:
    """Every problem met reading the inputs, and every collect that failed."""
    from iam_gov.reports.problems import list_problems, problems_csv, problems_json, problems_text

    if fmt not in FORMATS:
        raise UsageError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    config = config_from_options()
    configured = list(config.systems)
    unknown = [name for name in system or () if name not in configured]
    if unknown:
        raise UsageError(
            f"--system: no system {', '.join(repr(n) for n in unknown)} is configured "
            f"(configured: {', '.join(configured)})"
        )
    _refuse_a_missing_store(config)
    with open_store(config) as store, store.reading() as conn:
        found = list_problems(conn, set(system or configured), all_snapshots=all_snapshots)
    if not found.snapshots and not found.problems:
        which = f"of {', '.join(sorted(system))} " if system else ""
        raise UsageError(f"nothing {which}has been collected yet: run `iam-gov run` first")
    if fmt == "json":
        sys.stdout.write(problems_json(found))
    elif fmt == "csv":
        sys.stdout.write(problems_csv(found))
    else:
        out.print(problems_text(found), soft_wrap=True, end="")
    sys.stdout.flush()
    sys.exit(1 if found.problems else 0)


problems_command.__doc__ = f"{problems_command.__doc__}\n\n{DETAILS}"


def _refuse_a_missing_store(config: Config) -> None:
    """Opening a SQLite store creates its file: a read-only command refuses first."""
    from iam_gov.cli_common import store_exists

    if not store_exists(config):
        from iam_gov.config import database_url

        database = database_url(config, options.database_url).removeprefix("sqlite:///")
        raise UsageError(
            f"no store at {database}: nothing has been collected yet: run `iam-gov run` first"
        )
