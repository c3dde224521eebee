"""Findings as a Markdown report to paste into a ticket or keep in an audit folder."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from iam_gov import __version__
from iam_gov.model import Finding, Severity
from iam_gov.reports.formats import FindingsReport, findings_format
from iam_gov.rules import all_rules
from iam_gov.textsafe import printable
from iam_gov.timeutil import as_utc

# Characters that start emphasis, code, links, images, HTML, tables or entity references
# anywhere in a line. Backslash escapes work for every ASCII punctuation (CommonMark 2.4).
_INLINE = re.compile(r"([\\`*_\[\]<>|~&#!])")
# What starts a block (heading, quote, list, setext underline) at the start of a line.
_BLOCK_START = re.compile(r"^([-+=>])|^(\d+)([.)])")
# A URL or www. host: renderers with autolinking (GFM, linkify) would make a link of it.
_URL = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.)\S*")


def md(value: object) -> str:
    """Untrusted text as literal Markdown: on one line, no markup, no link, no HTML, and
    safe in a table cell. Control characters are shown as escapes first."""
    text = _INLINE.sub(r"\\\1", printable(value))
    text = _BLOCK_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text)
    # Escaping the punctuation of a URL splits it for the autolinkers, which look at the
    # raw text (cmark-gfm) or at single text tokens (markdown-it's linkify).
    return _URL.sub(lambda m: re.sub(r"([:/.])", r"\\\1", m[0]), text)


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
