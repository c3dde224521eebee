"""`iam-gov hr-webhook`: the HTTP receiver for HR systems that push events, in the foreground
until SIGINT or SIGTERM (run it under systemd or a container runtime).

A thin layer over ``iam_gov.deprovision.webhook``, which documents the signature HR must
send; imports sit inside the command to keep start-up fast, as in ``iam_gov.cli``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from iam_gov.cli_common import config_from_options, open_store, out, policy_of

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def hr_webhook_command(
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            help="The address to listen on, instead of [hr_webhook] listen (127.0.0.1).",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=0,
            max=65535,
            help="The port, instead of [hr_webhook] port (8787); 0: any free port.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Receive HR events over HTTP: each signed termination is deprovisioned at once or held
    for a person, as [hr_webhook] mode says; each event id is acted on once."""
    import logging

    from rich.text import Text

    from iam_gov.deprovision import webhook

    config = config_from_options()
    settings = webhook.settings_of(config)  # before anything else: say what to add
    policy = policy_of(config)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    with open_store(config) as store:
        server = webhook.make_server(store, config, policy, listen=listen, port=port)
        held = f", held plans in {settings.held_folder}" if settings.mode == "hold" else ""
        out.print(
            Text(
                f"hr-webhook: listening on {server.url}, mode {settings.mode}{held} "
                "(Ctrl-C or SIGTERM stops it)"
            ),
            soft_wrap=True,
        )
        webhook.serve(server)
