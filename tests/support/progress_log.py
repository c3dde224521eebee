"""The CLI's standard error without its progress log: the timestamped lines that `collect`,
`run` and `evaluate` write there when it is not a terminal (``iam_gov.progress.LineLog``)."""

from __future__ import annotations

import re

PROGRESS_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")


def without_progress(stderr: str) -> str:
    """``stderr`` with every progress line left out: the errors and warnings alone."""
    return "".join(
        line for line in stderr.splitlines(keepends=True) if not PROGRESS_LINE.match(line)
    )
