"""Output formats for findings, by name: iam-gov's own (table, json, csv, markdown, ocsf) and
those of installed packages (entry point ``iam_gov.reports``), one registry for both."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from rich.console import ConsoleRenderable

from iam_gov.model import Finding
from iam_gov.plugins import REPORTS_GROUP, Registry


@dataclass(frozen=True)
class FindingsReport:
    """What a format is given: the findings, and what they are."""

    findings: Sequence[Finding]
    generated_at: datetime
    scope: str
    """What the findings are, in words: "open findings", "findings, resolved included"."""


Render = Callable[[FindingsReport], "str | ConsoleRenderable"]
"""Text written to standard output as it is, or a Rich renderable for the terminal. Every
string from a directory or an HR file must be neutralised (``iam_gov.textsafe``)."""


@dataclass(frozen=True)
class FindingsFormat:
    name: str
    description: str
    """A few words for ``--help``: what it is and who reads it."""
    render: Render


FORMATS: Registry[FindingsFormat] = Registry(
    "findings format",
    group=REPORTS_GROUP,
    package="iam_gov.reports",
    skip=lambda name: name.startswith("_") or name == "formats",
)


def findings_format(name: str, description: str) -> Callable[[Render], Render]:
    """Register a function from a ``FindingsReport`` to its output as the format ``name``."""

    def register(render: Render) -> Render:
        FORMATS.add(name, FindingsFormat(name, description, render), render.__module__)
        return render

    return register
