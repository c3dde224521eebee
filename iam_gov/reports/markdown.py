"""Findings as a Markdown report to paste into a ticket or keep in an audit folder."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from iam_gov import __version__
from iam_gov.model import Finding, Severity
from iam_gov.reports.formats import FindingsReport, findings_format
from iam_gov.rules import all_rules
from iam_gov.textsafe import markdown_literal
from iam_gov.timeutil import as_utc

md = markdown_literal
"""Untrusted text as literal Markdown (``iam_gov.textsafe.markdown_literal``)."""


def _when(value: datetime | None) -> str:
    return "—" if value is None else f"{as_utc(value):%Y-%m-%d %H:%M} UTC"


@findings_format("markdown", "a report to paste into a ticket or keep for an auditor")
def _markdown(report: FindingsReport) -> str:
    return findings_markdown(report.findings, generated_at=report.generated_at, scope=report.scope)


def findings_markdown(
    findings: Sequence[Finding], *, generated_at: datetime, scope: str = "open findings"
) -> str:
    """The report: title and date, counts by severity and by rule, then every finding by
    severity, worst first. ``scope`` says what was selected (filters, resolved or not)."""
    rules = all_rules()
    ordered = sorted(findings, key=lambda f: (-f.severity.rank, f.rule_id, f.subject))
    lines = [
        f"# iam-gov findings, {as_utc(generated_at):%Y-%m-%d}",
        "",
        f"Generated {_when(generated_at)} by iam-gov {__version__}: {len(ordered)} {md(scope)}.",
        "",
        "## Summary",
        "",
    ]
    if not ordered:
        return "\n".join([*lines, "No findings.", ""])
    by_severity = Counter(f.severity for f in ordered)
    lines += ["| Severity | Findings |", "|---|---:|"]
    for severity in sorted(by_severity, key=lambda s: -s.rank):
        lines.append(f"| {severity.value.capitalize()} | {by_severity[severity]} |")
    lines += [f"| **Total** | **{len(ordered)}** |", ""]

    by_rule = Counter(f.rule_id for f in ordered)
    worst: dict[str, Severity] = {}
    for f in ordered:
        worst.setdefault(f.rule_id, f.severity)  # ordered worst first
    lines += ["| Rule | What it checks | Findings | Worst |", "|---|---|---:|---|"]
    for rule_id in sorted(by_rule, key=lambda r: (-worst[r].rank, r)):
        rule = rules.get(rule_id)
        title = md(rule.title) if rule else ""
        label = worst[rule_id].value.capitalize()
        lines.append(f"| {md(rule_id)} | {title} | {by_rule[rule_id]} | {label} |")

    for severity in sorted(by_severity, key=lambda s: -s.rank):
        lines += ["", f"## {severity.value.capitalize()} ({by_severity[severity]})", ""]
        for f in (f for f in ordered if f.severity is severity):
            rule = rules.get(f.rule_id)
            lines.append(f"- **{md(f.message)}**")
            lines.append(f"  - Rule: {md(f.rule_id)}" + (f" ({md(rule.title)})" if rule else ""))
            lines.append(f"  - System: {md(f.system) if f.system else '—'}")
            lines.append(f"  - Subject: {md(f.subject)}")
            if f.person_id:
                lines.append(f"  - Person: {md(f.person_id)}")
            lines.append(f"  - First seen: {_when(f.first_seen)}; last seen: {_when(f.last_seen)}")
            if f.resolved_at is not None:
                lines.append(f"  - Resolved: {_when(f.resolved_at)}")
            lines.append(f"  - Finding id: {md(f.finding_id)}")
    return "\n".join([*lines, ""])
