"""What every `iam-gov` command shares: the global options, the consoles, opening the
configuration, the store and the policy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console

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


options = Options()


def config_from_options() -> Config:
    from iam_gov.config import find_config, load_config

    return load_config(find_config(options.config))


def open_store(config: Config | None) -> Store:
    from iam_gov.config import database_url
    from iam_gov.store import Store

    return Store.open(database_url(config, options.database_url))


def store_exists(config: Config) -> bool:
    """Whether the store has been created: opening a SQLite store creates its file, so a
    read-only command asks first. A server database (PostgreSQL) is taken to exist."""
    from iam_gov.config import database_url
    from iam_gov.store.database import parse_url

    url = parse_url(database_url(config, options.database_url))
    if url.get_backend_name() != "sqlite":
        return True
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return True
    return Path(database).exists()


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
