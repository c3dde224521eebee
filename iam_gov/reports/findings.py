"""Findings as a terminal table, JSON or CSV; no untrusted control or bidi character is
written raw in any of them (``iam_gov.textsafe``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from iam_gov.model import Finding, Severity
from iam_gov.reports.formats import FindingsReport, findings_format
from iam_gov.textsafe import csv_cell, json_text, printable

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}

CSV_COLUMNS = (
    "finding_id",
    "severity",
    "rule_id",
    "system",
    "subject",
    "person_id",
    "message",
    "first_seen",
    "last_seen",
    "resolved_at",
    "evidence",
)


def severity_text(severity: Severity) -> Text:
    return Text(severity.value.upper(), style=SEVERITY_STYLE[severity])


@findings_format("table", "a table for the terminal (the default)")
def _table(report: FindingsReport) -> Table:
    return findings_table(report.findings, title=f"{len(report.findings)} findings")


def findings_table(findings: Sequence[Finding], *, title: str | None = None) -> Table:
    table = Table(title=title, show_lines=False, expand=True, title_justify="left")
    table.add_column("severity", no_wrap=True)
    table.add_column("rule", no_wrap=True, style="bold")
    table.add_column("finding", ratio=1)
    table.add_column("first seen", no_wrap=True, style="dim")
    for f in findings:
        table.add_row(
            severity_text(f.severity),
            Text(f.rule_id),
            Text(printable(f.message)),
            Text(f.first_seen.strftime("%Y-%m-%d") if f.first_seen else ""),
        )
    return table


def finding_dict(f: Finding) -> dict[str, Any]:
    return f.model_dump(mode="json")


@findings_format("json", "a JSON array, each finding with its evidence")
def _json(report: FindingsReport) -> str:
    return findings_json(report.findings) + "\n"


def findings_json(findings: Sequence[Finding]) -> str:
    """Exact (each string decodes back to what was stored), with every control and bidi
    character \\u-escaped."""
    return json_text([finding_dict(f) for f in findings], indent=2)


@findings_format("csv", "one row per finding, for a spreadsheet (formulas neutralised)")
def _csv(report: FindingsReport) -> str:
    return findings_csv(report.findings)


def findings_csv(findings: Sequence[Finding]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in findings:
        row = finding_dict(f)
        row["evidence"] = json_text(row["evidence"], sort_keys=True)
        writer.writerow([csv_cell(row[c]) for c in CSV_COLUMNS])
    return out.getvalue()
