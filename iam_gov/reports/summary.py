"""The summary printed after a run: what was collected, who was matched, what is wrong."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from iam_gov.evaluation import EvaluationReport
from iam_gov.model import Severity
from iam_gov.reports.findings import severity_text
from iam_gov.rules import all_rules
from iam_gov.store.snapshots import SnapshotInfo, StaleInfo
from iam_gov.textsafe import printable

WORST_SHOWN = 12


def snapshots_table(snapshots: Sequence[SnapshotInfo], stale: Collection[str] = ()) -> Table:
    """The snapshots used; those of ``stale`` systems (their last collect failed) say so."""
    table = Table(title="Collected", title_justify="left", expand=False)
    table.add_column("system", style="bold", no_wrap=True)
    table.add_column("data as of", no_wrap=True)
    table.add_column("contents", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for info in snapshots:
        status = (
            Text("complete", style="green")
            if info.complete
            else Text(f"INCOMPLETE ({len(info.errors)})", style="bold yellow")
        )
        if info.system in stale:
            status = Text("STALE: its last collect failed", style="bold red")
            if not info.complete:
                status.append(f", INCOMPLETE ({len(info.errors)})", style="bold yellow")
        table.add_row(
            info.system,
            info.collected_at.strftime("%Y-%m-%d"),
            _contents(info.counts),
            status,
        )
    return table


def _contents(counts: dict[str, int]) -> str:
    if counts.get("people"):
        return f"{counts['people']:,} people"
    return f"{counts.get('accounts', 0):,} accounts, {counts.get('grants', 0):,} grants"


def problems_text(snapshots: Sequence[SnapshotInfo], limit: int = 10) -> Text | None:
    lines = [f"{info.system}: {e}" for info in snapshots for e in info.errors]
    if not lines:
        return None
    text = Text("Problems in the input\n", style="bold yellow")
    for line in lines[:limit]:
        text.append(f"  {printable(line)}\n")
    if len(lines) > limit:
        text.append(f"  … and {len(lines) - limit} more\n", style="dim")
    return text


CONSEQUENCES_SHOWN = 5

INCOMPLETE_CONSEQUENCE = (
    "its findings stay open (none is resolved) and nothing is concluded from what it does not show"
)
INCOMPLETE_HR_CONSEQUENCE = (
    "people it left out are unknown: orphan findings (an account nobody in HR holds) are not "
    "concluded"
)


def incomplete_text(
    snapshots: Sequence[SnapshotInfo], *, hr_system: str | None = None
) -> Text | None:
    """The systems read only in part, loudly, each with what is not concluded because of it:
    the consequences its connector stated (``SnapshotError.consequence``), then the general
    one. None when every snapshot is complete."""
    partial = [info for info in snapshots if not info.complete]
    if not partial:
        return None
    text = Text(
        f"INCOMPLETE: {len(partial)} of {len(snapshots)} system(s) read only in part\n",
        style="bold yellow",
    )
    for info in partial:
        text.append("  ")
        text.append(printable(info.system), style="bold yellow")
        text.append(f": {len(info.errors)} problem(s) (iam-gov problems --system ")
        text.append(printable(info.system))
        text.append(")\n")
        stated = list(dict.fromkeys(e.consequence for e in info.errors if e.consequence))
        stated.append(
            INCOMPLETE_HR_CONSEQUENCE if info.system == hr_system else INCOMPLETE_CONSEQUENCE
        )
        for consequence in stated[:CONSEQUENCES_SHOWN]:
            text.append(f"    {printable(consequence)}\n")
        if len(stated) > CONSEQUENCES_SHOWN:
            text.append(f"    … and {len(stated) - CONSEQUENCES_SHOWN} more\n", style="dim")
    return text


def collect_failures_text(
    failed: Mapping[str, str],
    stale: Mapping[str, StaleInfo],
    *,
    tried: int,
    hr_system: str | None = None,
) -> Text:
    """The systems a collect could not read (system -> reason), loudly, each with the data
    used instead: what a run's report starts with."""
    text = Text(
        f"COLLECT FAILED: {len(failed)} of {tried} system(s) could not be read\n",
        style="bold red",
    )
    for system, reason in failed.items():
        text.append("  ")
        text.append(printable(system), style="bold red")
        text.append(f": {printable(reason)}\n")
        info = stale.get(system)
        text.append("    ")
        if info is None or info.snapshot is None:
            text.append(
                "no earlier snapshot: no HR data to evaluate with\n"
                if system == hr_system
                else "no earlier snapshot: it is not evaluated\n",
                style="yellow",
            )
            continue
        said = (
            f"its previous snapshot of {info.snapshot.collected_at:%Y-%m-%d %H:%M} UTC "
            f"stays the latest ({info.age_words()} old)"
        )
        if info.failures > 1:
            said += f"; failing since {info.failed_at:%Y-%m-%d %H:%M} UTC ({info.failures} tries)"
        text.append(said + "\n", style="yellow")
    return text


def identities_text(report: EvaluationReport) -> Text:
    matched, unlinked = report.matched, report.unlinked
    total = sum(matched.values()) + sum(unlinked.values())
    text = Text("Identities: ", style="bold")
    text.append(f"{sum(matched.values())} of {total} accounts belong to people")
    how = sorted(matched.items(), key=lambda kv: (-kv[1], kv[0]))
    if how:
        text.append(
            f" (matched by {', '.join(f'{k.replace(chr(95), chr(32))}: {v}' for k, v in how)})"
        )
    if unlinked:
        kinds = {"service": "service", "break-glass": "break-glass", "human": "no owner"}
        parts = [f"{unlinked[k]} {label}" for k, label in kinds.items() if unlinked.get(k)]
        text.append(f"; {sum(unlinked.values())} are no one's: {', '.join(parts)}")
    return text


def findings_overview(report: EvaluationReport) -> RenderableType:
    counts = report.by_severity()
    headline = Text("Findings: ", style="bold")
    headline.append(f"{len(report.findings)} open")
    rec = report.recorded
    headline.append(f" ({rec.new} new, {rec.resolved} resolved since the last run)", style="dim")
    headline.append("   ")
    for severity in sorted(Severity, key=lambda s: -s.rank):
        if counts.get(severity):
            headline.append_text(severity_text(severity))
            headline.append(f" {counts[severity]}   ")
    rules = all_rules()
    by_rule = Counter(f.rule_id for f in report.findings)
    table = Table(expand=False, title="By rule", title_justify="left")
    table.add_column("rule", style="bold")
    table.add_column("what it checks")
    table.add_column("open", justify="right")
    table.add_column("worst")
    for rule_id, count in sorted(
        by_rule.items(), key=lambda kv: (-_worst(report, kv[0]).rank, kv[0])
    ):
        rule = rules.get(rule_id)
        table.add_row(
            rule_id,
            rule.title if rule else "",
            str(count),
            severity_text(_worst(report, rule_id)),
        )
    expected = expected_text(report)
    return Group(headline, table) if expected is None else Group(headline, table, expected)


def expected_text(report: EvaluationReport) -> Text | None:
    """``Expected by policy: N``: what the rules would report but the policy declares
    expected (a break-glass account admin by design), by rule; not findings."""
    if not report.expected:
        return None
    by_rule = Counter(e.rule_id for e in report.expected)
    text = Text("Expected by policy: ", style="bold")
    text.append(f"{len(report.expected)} (not findings: ")
    text.append(", ".join(f"{rule} {count}" for rule, count in sorted(by_rule.items())))
    text.append("; `iam-gov explain` shows each)")
    return text


def worst_findings(report: EvaluationReport, limit: int = WORST_SHOWN) -> Table | None:
    worst = [f for f in report.findings if f.severity.rank >= Severity.HIGH.rank]
    if not worst:
        return None
    table = Table(
        title=f"Worst first ({min(limit, len(worst))} of {len(worst)} critical and high)",
        title_justify="left",
        expand=True,
        show_lines=True,
    )
    table.add_column("severity", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("finding", ratio=1)
    for f in worst[:limit]:
        table.add_row(severity_text(f.severity), f.rule_id, Text(printable(f.message)))
    return table


def notes_text(report: EvaluationReport) -> Text | None:
    if not report.warnings and not report.skipped:
        return None
    text = Text()
    for warning in report.warnings:
        text.append("warning: ", style="bold yellow")
        text.append(printable(warning) + "\n")
    for rule_id, why in report.skipped.items():
        text.append("skipped: ", style="bold yellow")
        text.append(f"{rule_id}: {why}\n")
    return text


def run_summary(report: EvaluationReport, stale: Collection[str] = ()) -> Group:
    """The summary of an evaluation; ``stale`` names the systems whose last collect failed."""
    parts: list[RenderableType] = [snapshots_table(list(report.snapshots.values()), stale)]
    problems = problems_text(list(report.snapshots.values()))
    if problems is not None:
        parts.append(problems)
    hr_system = report.state.hr.system if report.state is not None else None
    partial = incomplete_text(list(report.snapshots.values()), hr_system=hr_system)
    if partial is not None:
        parts.append(partial)
    parts.append(identities_text(report))
    parts.append(Text())
    parts.append(findings_overview(report))
    worst = worst_findings(report)
    if worst is not None:
        parts.append(worst)
    notes = notes_text(report)
    if notes is not None:
        parts.append(notes)
    return Group(*parts)


def _worst(report: EvaluationReport, rule_id: str) -> Severity:
    return max((f.severity for f in report.findings if f.rule_id == rule_id), key=lambda s: s.rank)
