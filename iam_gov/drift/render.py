"""The drift report's formats by name: ``render(report, "html")``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from iam_gov.drift.model import DriftReport
from iam_gov.drift.render_csv import render_csv
from iam_gov.drift.render_html import render_html
from iam_gov.drift.render_json import render_json
from iam_gov.drift.render_markdown import render_markdown
from iam_gov.errors import IamGovError

Render = Callable[[DriftReport], str]

FORMATS: Final[dict[str, Render]] = {
    "markdown": render_markdown,
    "html": render_html,
    "json": render_json,
    "csv": render_csv,
}
"""Each format's renderer: Markdown for a ticket or chat, a self-contained HTML page with
charts, JSON for pipelines (``docs/drift-report.schema.json``), CSV of the changed grants."""

SUFFIXES: Final[dict[str, str]] = {"markdown": "md", "html": "html", "json": "json", "csv": "csv"}
"""The file name extension of each format."""


class UnknownFormat(IamGovError):
    """A drift report format that does not exist."""

    exit_code = 2


def render(report: DriftReport, fmt: str) -> str:
    """The report in the format ``fmt`` (one of ``FORMATS``), as text ending with a newline."""
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        known = ", ".join(FORMATS)
        raise UnknownFormat(f"unknown drift report format {fmt!r}: use one of {known}") from None
    return renderer(report)
