"""`iam-gov campaign …` and `iam-gov review`: access-review campaigns from the command line.

Every command is a thin layer over ``iam_gov.campaigns``; imports sit inside the commands to
keep start-up fast, as in ``iam_gov.cli``.
"""

from __future__ import annotations

from typing import Annotated

import typer

campaign_app = typer.Typer(
    help="Access-review campaigns: create, launch, remind, close, export, verify.",
    no_args_is_help=True,
)


def review(
    campaign: Annotated[
        int | None, typer.Argument(help="Open this campaign directly (its number).")
    ] = None,
    as_reviewer: Annotated[
        str | None,
        typer.Option("--as", help="Review for this reviewer (e-mail); needs an admin role."),
    ] = None,
) -> None:
    """Open the reviewer's terminal UI: your open campaigns, then their items."""
    raise typer.Exit(0)
