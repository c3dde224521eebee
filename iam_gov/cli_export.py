"""`iam-gov export SYSTEM --out DIR`: read a live system and write what was read in the offline
layout its connector reads back, so that an admin can hand an auditor a folder that gives the
identical snapshot (``Connector.write_export``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from iam_gov.cli_common import config_from_options, err, out
from iam_gov.errors import ConfigError


def export_command(
    system: Annotated[str, typer.Argument(help="The configured system to export.")],
    out_dir: Annotated[
        Path,
        typer.Option("--out", "-o", help="An empty or new folder to write the export into."),
    ],
) -> None:
    """Read a live system and write its data as the offline export iam-gov reads back.

    The folder gets the system's own files (API responses, LDIF, CSV …) and an
    ``iam-gov-export.toml`` with the ``[systems.NAME]`` table that reads them. Secrets are
    never written. Exit codes: 0 written; 1 written, but some part could not be read (listed);
    2 a usage or configuration error (an unknown system, a folder that is not empty, options
    that already read an export)."""
    from iam_gov.collect import build_connector
    from iam_gov.connectors.shared.export_folder import prepare_out, write_options

    config = config_from_options()
    if system not in config.systems:
        raise ConfigError(
            f"export: no system {system!r} is configured (configured: {', '.join(config.systems)})"
        )
    existed = out_dir.exists()
    folder = prepare_out(out_dir)
    try:
        connector = build_connector(system, config.systems[system])
        written = connector.write_export(folder)
        options_file = write_options(folder, system, written.options)
    except BaseException:
        # no half export left to be read back as if whole: the folder is as it was (new or
        # empty, as prepare_out made sure)
        _empty(folder, remove=not existed)
        raise
    out.print(
        Text(
            f"{system}: wrote {len(written.files)} files to {folder}; "
            f"read it back with the table in {options_file.name}"
        )
    )
    for problem in written.problems:
        err.print(Text.assemble(("warning: ", "bold yellow"), f"{system}: {problem}"))
    if written.problems:
        raise typer.Exit(1)


def _empty(folder: Path, *, remove: bool) -> None:
    import shutil

    if remove:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
