"""What every `iam-gov` command shares: the global options, the consoles, opening the
configuration, the store and the policy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from rich.console import Console

from iam_gov.errors import IamGovError
from iam_gov.plugins import COMMANDS_GROUP, Registry, module_of

if TYPE_CHECKING:
    from iam_gov.config import Config
    from iam_gov.policy import Policy
    from iam_gov.store import Store

F = TypeVar("F", bound=Callable[..., Any])

COMMANDS: Registry[Callable[..., Any]] = Registry("command", group=COMMANDS_GROUP, package=None)
"""Commands that other packages add to `iam-gov` through the ``iam_gov.commands`` entry
point: the reviewer TUI adds `iam-gov review`, so that the core never imports it."""


def cli_command(name: str) -> Callable[[F], F]:
    """Register a Typer command function as `iam-gov NAME` (in a module an entry point of
    ``iam_gov.commands`` names)."""

    def register(function: F) -> F:
        COMMANDS.add(name, function, module_of(function))
        return function

    return register


out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@dataclass
class Options:
    config: Path | None = None
    database_url: str | None = None
    debug: bool = False
    store_url: str | None = None
    """The store the running command opened, to name it when a storage error escapes."""
    read_only: bool = False
    """The running command reads records: it never creates a store (``reads_records``)."""


options = Options()


def config_from_options() -> Config:
    from iam_gov.config import find_config, load_config

    return load_config(find_config(options.config))


def open_store(config: Config | None, *, read_only: bool | None = None) -> Store:
    """The configured store. ``read_only`` (by default: whether the running command was
    registered with ``reads_records``) refuses a missing or empty store, never creating one:
    a command that reads records must not answer "nothing" for a mistyped path."""
    from iam_gov.config import database_url
    from iam_gov.store import Store

    url = database_url(config, options.database_url)
    options.store_url = url
    create = not (options.read_only if read_only is None else read_only)
    return Store.open(url, create=create)


def reads_records(command: F) -> F:
    """Wrap, where it is registered, a command that reads records (a report): every
    ``open_store`` it makes is ``read_only``. A command can instead pass ``read_only=True``
    to ``open_store`` itself."""
    import functools

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        options.read_only = True
        try:
            return command(*args, **kwargs)
        finally:
            options.read_only = False

    return cast(F, run)


def store_failure(exc: BaseException) -> IamGovError | None:
    """A storage error that escaped (SQLAlchemy's, the driver's) as one line naming the
    store, or None when ``exc`` is not one: see ``iam_gov.store.storage_error``."""
    import sys

    kinds: list[type[BaseException]] = []
    if "sqlalchemy" in sys.modules:
        from sqlalchemy.exc import SQLAlchemyError

        kinds.append(SQLAlchemyError)
    if "sqlite3" in sys.modules:
        import sqlite3

        kinds.append(sqlite3.Error)
    if "psycopg" in sys.modules:
        import psycopg

        kinds.append(psycopg.Error)
    if not kinds or not isinstance(exc, tuple(kinds)) or options.store_url is None:
        return None
    from iam_gov.store import storage_error

    return storage_error(exc, options.store_url)


def store_exists(config: Config) -> bool:
    """Whether the store has been created: opening a SQLite store creates its file, so a
    read-only command asks first. A server database (PostgreSQL) is taken to exist."""
    from iam_gov.config import database_url
    from iam_gov.store.database import parse_url, sqlite_path

    url = parse_url(database_url(config, options.database_url))
    if url.get_backend_name() != "sqlite":
        return True
    path = sqlite_path(url)
    return path is None or path.exists()


def policy_of(config: Config) -> Policy:
    """The configuration's policy, refused when it names a system that is not configured:
    what it says of that system would be checked against nothing, silently."""
    from iam_gov.policy import load_policy
    from iam_gov.rules import all_rules

    policy = load_policy(config.policy.path, rules=all_rules())
    refuse_unconfigured_systems(policy, config)
    return policy


def refuse_unconfigured_systems(policy: Policy, config: Config) -> None:
    """A ``PolicyError`` when the policy names a system the configuration does not have."""
    from iam_gov.errors import PolicyError

    unknown = sorted(policy.systems() - set(config.systems))
    if unknown:
        raise PolicyError(
            [
                f"{policy.sources[0]}: the policy names system {name!r}, which is not "
                f"configured in {config.path} (configured: {', '.join(config.systems)})"
                for name in unknown
            ]
        )
