"""`iam-gov review`: the reviewer's terminal UI, added to the command through the
``iam_gov.commands`` entry point (the core never imports the TUI). Textual is imported only
when the command runs."""

from __future__ import annotations

from typing import Annotated

import typer

from iam_gov.cli_campaign import reviewer_of
from iam_gov.cli_common import cli_command, config_from_options, open_store


@cli_command("review")
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
    from iam_gov.campaigns.definition import CampaignError
    from iam_gov.campaigns.items import get_campaign

    config = config_from_options()
    reviewer = reviewer_of(config, as_reviewer)
    with open_store(config) as store:
        if campaign is not None:
            with store.reading() as conn:
                info = get_campaign(conn, campaign)
            if info is None:
                raise CampaignError(f"there is no campaign #{campaign} (iam-gov campaign list)")
        from iam_gov.tui.app import ReviewApp

        ReviewApp(store, reviewer, campaign_id=campaign).run()
