"""`iam-gov config check`: the configuration, the files it names and the policy — then every
system read for real (its export parsed, or the live system asked), reporting what each
missing or unreadable part costs in the words `collect` and `run` use. Nothing is stored."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from iam_gov.cli_common import options, out
from iam_gov.errors import ConfigError, InputError
from iam_gov.exitcodes import EXIT_OK, data_code

if TYPE_CHECKING:
    from iam_gov.collect import Read
    from iam_gov.config import Config
    from iam_gov.policy import Policy
    from iam_gov.store.snapshots import SnapshotInfo

PROBLEMS_SHOWN = 10
"""Problems shown per system; `iam-gov problems` lists them all once collected."""


def config_check_command(
    system: Annotated[
        list[str] | None,
        typer.Option("--system", "-s", help="Only read this system (repeatable)."),
    ] = None,
    read: Annotated[
        bool,
        typer.Option(
            "--read/--no-read",
            help="Read every system for real (parse each export, connect to each live "
            "system); --no-read checks the files and settings only.",
        ),
    ] = True,
    connect: Annotated[
        bool,
        typer.Option(
            "--connect",
            help="Instead of a full read: sign in to each live system and try one small read "
            "per permission its connector declares, saying which the credential lacks.",
        ),
    ] = False,
) -> None:
    """Check the configuration, the files it names and the policy, then read every system.

    Each export is parsed (each live system is asked, read-only) exactly as `collect` would,
    but nothing is stored. What is missing or unreadable is reported with its consequence.
    Exit codes: 0 everything readable and complete; 2 the configuration, a file it names or
    the policy is wrong; 4 a system reads only in part (with --connect: a permission is
    missing); 5 a system cannot be read (with --connect: cannot be reached or refuses the
    sign-in)."""
    config, policy = _static_check()
    out.print(Text.assemble(("configuration OK", "bold green"), f": {config.path}"))
    out.print(f"  systems: {', '.join(f'{n} ({o.type})' for n, o in config.systems.items())}")
    out.print(f"  policy:  {config.policy.path} ({len(policy.roles)} roles)")
    from iam_gov.config import database_url
    from iam_gov.store.database import safe_url

    out.print(f"  store:   {safe_url(database_url(config, options.database_url))}")
    if connect:
        code = _connect_check(config, system)
        if code != EXIT_OK:
            sys.exit(code)
        return
    if not read:
        out.print(Text("systems not read (--no-read)", style="dim"))
        return
    code = _read_check(config, policy, system)
    if code != EXIT_OK:
        sys.exit(code)


def _static_check() -> tuple[Config, Policy]:
    from iam_gov.config import check_files, find_config, load_config
    from iam_gov.configtypes import SecretRef
    from iam_gov.policy import load_policy
    from iam_gov.rules import all_rules

    path = find_config(options.config)
    config = load_config(path)
    problems = check_files(config)
    policy = None
    if config.policy.path.exists():
        try:
            policy = load_policy(config.policy.path, rules=all_rules())
        except InputError as exc:
            problems.extend(exc.problems)
    if policy is not None:
        for name in sorted(policy.systems() - set(config.systems)):
            problems.append(
                f"{policy.sources[0]}: the policy names system {name!r}, "
                f"which is not configured in {config.path}"
            )
    for name, opts in config.systems.items():
        for key in type(opts).model_fields:
            value = getattr(opts, key)
            if isinstance(value, SecretRef):
                try:
                    value.resolve(f"systems.{name}.{key}")
                except ConfigError as exc:
                    problems.append(f"{config.path}: {exc}")
    if problems or policy is None:
        raise ConfigError(problems)
    return config, policy


def _read_check(config: Config, policy: Policy, only: list[str] | None) -> int:
    from iam_gov.collect import read_each
    from iam_gov.policy.match import unfilled_match_fields
    from iam_gov.reports.summary import incomplete_text
    from iam_gov.textsafe import printable

    found = read_each(config, only)
    infos = [_info(r) for r in found if r.snapshot is not None]
    out.print(_table(found))
    for info in infos:
        if info.errors:
            out.print(_problems_of(info), soft_wrap=True)
    partial = incomplete_text(infos, hr_system=config.hr_system_or_none)
    if partial is not None:
        out.print(partial, soft_wrap=True)
    failed = [r for r in found if r.snapshot is None]
    if failed:
        text = Text(f"CANNOT BE READ: {len(failed)} of {len(found)} system(s)\n", style="bold red")
        for read in failed:
            text.append("  ")
            text.append(printable(read.system), style="bold red")
            text.append(f": {printable('; '.join(read.problems))}\n")
            text.append(
                "    a collect would keep its previous snapshot (stale) and exit 5\n",
                style="yellow",
            )
        out.print(text, soft_wrap=True)
    hr_name = config.hr_system_or_none
    hr = next((r.snapshot for r in found if r.system == hr_name and r.snapshot), None)
    if hr is not None:
        mapped = hr.settings.get("mapped_fields")
        unfilled = unfilled_match_fields(
            [(r.where, name, r.item.match) for name, r in policy.roles.items()],
            hr.people,
            mapped if isinstance(mapped, list) else None,
        )
        if unfilled:  # what `run` would refuse: say it here with file:line
            raise ConfigError(unfilled)
    return data_code(
        incomplete=[i.system for i in infos if not i.complete],
        failed=[r.system for r in failed],
    )


def _connect_check(config: Config, only: list[str] | None) -> int:
    """``--connect``: each live system signed in to, each declared permission tried."""
    from iam_gov.collect import build_connector, select_systems
    from iam_gov.errors import ConnectorError
    from iam_gov.exitcodes import EXIT_INCOMPLETE, EXIT_STALE
    from iam_gov.textsafe import printable

    table = Table(title="Permissions (config check --connect)", title_justify="left")
    table.add_column("system", style="bold", no_wrap=True)
    table.add_column("permission", overflow="fold")
    table.add_column("result", no_wrap=True)
    table.add_column("what was tried", overflow="fold")
    missing = unreachable = 0
    for name in select_systems(config, only):
        connector = build_connector(name, config.systems[name])
        try:
            checks = connector.check_access()
        except (ConnectorError, ConfigError) as exc:
            unreachable += 1
            table.add_row(
                printable(name), "", Text("CANNOT CONNECT", style="bold red"), printable(str(exc))
            )
            continue
        if not checks:
            table.add_row(printable(name), "", Text("export", style="dim"), "nothing to connect to")
        for check in checks:
            if check.ok is False:
                missing += 1
            result = (
                Text("granted", style="green")
                if check.ok
                else Text("MISSING", style="bold red")
                if check.ok is False
                else Text("not checked", style="yellow")
            )
            table.add_row(
                printable(name), printable(check.permission), result, printable(check.detail)
            )
    out.print(table)
    if unreachable:
        return EXIT_STALE
    return EXIT_INCOMPLETE if missing else EXIT_OK


def _info(read: Read) -> SnapshotInfo:
    from iam_gov.store.snapshots import SnapshotInfo, counts_of

    snapshot = read.snapshot
    assert snapshot is not None
    return SnapshotInfo(
        id=0,
        system=read.system,
        connector=snapshot.connector,
        source=snapshot.source,
        collected_at=snapshot.collected_at,
        stored_at=datetime.now(UTC),
        complete=snapshot.complete,
        errors=snapshot.errors,
        counts=counts_of(snapshot),
    )


def _table(found: list[Read]) -> Table:
    from iam_gov.store.snapshots import counts_of
    from iam_gov.textsafe import printable

    table = Table(title="Read (nothing stored)", title_justify="left", expand=False)
    table.add_column("system", style="bold", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("contents", no_wrap=True)
    table.add_column("source", overflow="fold")
    for read in found:
        snapshot = read.snapshot
        if snapshot is None:
            table.add_row(printable(read.system), Text("CANNOT BE READ", style="bold red"), "", "")
            continue
        counts = counts_of(snapshot)
        contents = (
            f"{counts['people']:,} people"
            if counts.get("people")
            else f"{counts.get('accounts', 0):,} accounts, {counts.get('grants', 0):,} grants"
        )
        status = (
            Text("complete", style="green")
            if snapshot.complete
            else Text(f"INCOMPLETE ({len(snapshot.errors)})", style="bold yellow")
        )
        table.add_row(printable(read.system), status, contents, printable(snapshot.source))
    return table


def _problems_of(info: SnapshotInfo) -> Text:
    from iam_gov.textsafe import printable

    text = Text(f"{info.system}: {len(info.errors)} problem(s) in the input\n", style="yellow")
    for error in info.errors[:PROBLEMS_SHOWN]:
        text.append(f"  {printable(str(error))}\n")
    if len(info.errors) > PROBLEMS_SHOWN:
        text.append(
            f"  … and {len(info.errors) - PROBLEMS_SHOWN} more "
            "(all of them: `iam-gov problems` after a collect)\n",
            style="dim",
        )
    return text
