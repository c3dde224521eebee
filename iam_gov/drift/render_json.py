"""The drift report as JSON for pipelines: the model itself, ASCII only (every other character
``\\u``-escaped, so values stay exact for programs and show no control characters to people),
valid against the published schema ``docs/drift-report.schema.json``."""

from __future__ import annotations

import json

from iam_gov.drift.model import DriftReport


def render_json(report: DriftReport) -> str:
    """The report as indented ASCII JSON, ending with a newline."""
    return json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=True) + "\n"
