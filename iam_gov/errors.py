"""The user-facing error hierarchy: each is printed by the CLI as one clear line."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class IamGovError(Exception):
    """A problem the user can fix: bad input, bad configuration, an unreachable system.

    The CLI prints ``str(error)`` (one line per problem) and exits non-zero; the traceback is
    shown only with ``--debug``. The exit code is 2, "the command itself failed"
    (``iam_gov.exitcodes``), never 1, which means findings.
    """

    exit_code = 2


class InputError(IamGovError):
    """A file the user gave us is wrong. ``problems`` are ``file:line: message`` strings."""

    exit_code = 2

    def __init__(self, problems: str | Sequence[str]):
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        super().__init__("\n".join(self.problems))


class ConfigError(InputError):
    """The configuration file is wrong."""


class PolicyError(InputError):
    """The policy file is wrong."""


class SourceError(InputError):
    """A connector's input (an HR export, an AWS export) is unusable as a whole."""


class StoreError(IamGovError):
    """The store cannot be opened or is not at the schema this version expects."""


class ConnectorError(IamGovError):
    """A live system refused us or could not be reached."""


def location(path: object, line: int | None = None, key: str | None = None) -> str:
    """``file:line`` or ``file: key`` as used at the start of every problem."""
    where = str(path)
    if line is not None:
        where += f":{line}"
    if key:
        where += f": {key}"
    return where


def join_problems(problems: Iterable[str]) -> str:
    return "\n".join(problems)
