"""The drift report as Markdown for a ticket or a chat: the failure first, then the summary,
then each section as a short table; no links, every untrusted string shown literally.

The words every format shares live here too (what the baseline and the exit code mean, why a
system's changes were not compared, which changes are shown), so that the HTML page says the
same as the Markdown."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Final, TypeVar

from iam_gov import __version__
from iam_gov.drift.model import (
    EXIT_DELIVERY,
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_STALE,
    AccountChange,
    Baseline,
    DriftReport,
    ExpiringException,
    FindingChange,
    GrantChange,
    LeaverStillActive,
    OverdueCampaign,
    SystemState,
)
from iam_gov.model import Severity
from iam_gov.textsafe import markdown_literal
from iam_gov.timeutil import as_utc

T = TypeVar("T")

MARKDOWN_ROWS: Final = 50
"""Rows per table in the Markdown report (a ticket or a chat); the HTML, JSON and CSV have all."""

# --- the words every format shares ----------------------------------------------------------


def when(value: datetime | None) -> str:
    return "—" if value is None else f"{as_utc(value):%Y-%m-%d %H:%M} UTC"


def day(value: date | None) -> str:
    return "—" if value is None else value.isoformat()


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def baseline_text(baseline: Baseline) -> str:
    """What the report compares with, in words (the name is untrusted: escape the result)."""
    at = f" (data of {when(baseline.at)})" if baseline.at is not None else ""
    if baseline.kind == "previous":
        return f"the previous run{at}"
    if baseline.kind == "date":
        return f"the latest data on or before a date{at}"
    if baseline.kind == "named":
        return f"the pinned baseline “{baseline.name or ''}”{at}"
    return "nothing: there is no earlier data, so no changes are reported"


def exit_text(report: DriftReport) -> str:
    """The exit code and what it means."""
    meaning = {
        EXIT_OK: f"nothing new at or above {report.fail_on}",
        EXIT_FINDINGS: f"new findings at or above {report.fail_on}",
        EXIT_STALE: "a system could not be collected or is stale",
        EXIT_INCOMPLETE: "a system's data is incomplete: what it would show is not concluded",
        EXIT_DELIVERY: "the report was written, but sending it on failed",
    }.get(report.exit_code, "unknown")
    return f"Exit code {report.exit_code}: {meaning}"


def why_not_compared(state: SystemState, baseline: Baseline) -> str:
    """Why a system's changes are not reported (untrusted text inside: escape the result):
    the reason the report gives, else what its state shows."""
    if state.not_compared_reason:
        return state.not_compared_reason
    reasons = []
    if state.stale:
        failed = "its last collect failed"
        if state.stale_reason:
            failed += f" ({state.stale_reason})"
        if state.collected_at is not None:
            failed += f", so its data is the snapshot of {when(state.collected_at)}"
        reasons.append(failed)
    if state.snapshot_id is None:
        reasons.append("it has no snapshot yet")
    elif not state.complete:
        reasons.append("its snapshot is incomplete")
    if baseline.kind == "none" or (
        baseline.snapshot_ids and state.system not in baseline.snapshot_ids
    ):
        reasons.append("the baseline has no data for it")
    return "; ".join(reasons) or "no reason was recorded"


def not_compared_sentence(state: SystemState, baseline: Baseline) -> str:
    return (
        f"changes not compared: {why_not_compared(state, baseline)}. "
        "Nothing it did not show is reported as removed."
    )


def stale_text(state: SystemState) -> str:
    """One line on a stale system (untrusted text inside: escape the result)."""
    text = f"{state.system}: the last collect failed"
    if state.stale_since is not None:
        text += f" (failing since {when(state.stale_since)})"
    if state.stale_reason:
        text += f": {state.stale_reason}"
    if state.collected_at is not None:
        text += f". The data shown is from {when(state.collected_at)}"
        if state.age_hours is not None:
            text += f" ({state.age_hours:.0f} h old)"
    return text + "."


def not_compared_systems(report: DriftReport) -> frozenset[str]:
    return frozenset(s.system for s in report.systems if not s.compared)


def shown_accounts(report: DriftReport) -> list[AccountChange]:
    """The account changes to show: never a removal in a system whose changes were not
    compared (what it did not show is not called removed)."""
    hidden = not_compared_systems(report)
    return [a for a in report.accounts if a.change != "removed" or a.system not in hidden]


def shown_grants(report: DriftReport) -> list[GrantChange]:
    """The grant changes to show, on the same terms as ``shown_accounts``."""
    hidden = not_compared_systems(report)
    return [g for g in report.grants if g.change != "removed" or g.system not in hidden]


def not_compared_note(report: DriftReport) -> str | None:
    """Under the changes: which systems' changes are missing (names untrusted: escape)."""
    names = sorted(not_compared_systems(report))
    if not names:
        return None
    return (
        f"Not compared: {', '.join(names)} (see Systems). Their removals are not listed: "
        "what a system did not show is not called removed."
    )


def severity_rank(severity: str) -> int:
    """Worst first sorts by ``-severity_rank``; a severity iam-gov does not know ranks last."""
    try:
        return Severity(severity).rank
    except ValueError:
        return -1


def ordered_findings(findings: Iterable[FindingChange]) -> list[FindingChange]:
    """New before resolved, worst first, then by rule and subject."""
    return sorted(
        findings,
        key=lambda f: (f.change != "new", -severity_rank(f.severity), f.rule_id, f.subject),
    )


def person_of(name: str | None, person_id: str | None) -> str:
    if name and person_id:
        return f"{name} ({person_id})"
    return name or person_id or ""


def summary_rows(report: DriftReport) -> list[tuple[str, int]]:
    """The summary's counts, in the order the sections come."""
    s = report.summary
    return [
        ("Stale systems", s.stale_systems),
        ("Accounts created", s.accounts_created),
        ("Accounts removed", s.accounts_removed),
        ("Privileged grants added", s.privileged_added),
        ("Privileged grants removed", s.privileged_removed),
        ("Grants added (all)", s.grants_added),
        ("Grants removed (all)", s.grants_removed),
        ("New findings", s.findings_new),
        (f"New findings at or above {report.fail_on}", s.new_at_or_above_threshold),
        ("Resolved findings", s.findings_resolved),
        ("Open findings", s.findings_open),
        ("Leavers still active", s.leavers_still_active),
        ("Exceptions expiring soon", s.exceptions_expiring),
        ("Campaigns overdue", s.campaigns_overdue),
    ]


def title_of(report: DriftReport) -> str:
    """The report's title (the company is untrusted: escape the result)."""
    title = f"iam-gov drift report, {as_utc(report.made_at):%Y-%m-%d}"
    return f"{title}: {report.company}" if report.company else title


# --- Markdown ------------------------------------------------------------------------------

md = markdown_literal


# --- the tables both Markdown and HTML show, with their escaping and line break given -------

LEAVER_HEADER = ("Person", "Employee id", "Last day", "Still active for", "Accounts")
EXCEPTION_HEADER = (
    "Expires",
    "In",
    "System",
    "Entitlement",
    "Person or account",
    "Approved by",
    "Where",
)
CAMPAIGN_HEADER = ("Campaign", "Due", "Overdue by", "Pending items", "Pending reviewers")


def leaver_cells(v: LeaverStillActive, esc: Callable[[object], str], sep: str) -> list[str]:
    return [
        esc(v.name),
        esc(v.employee_id),
        day(v.end_date),
        "unknown (HR gives no date)" if v.days_since is None else plural(v.days_since, "day"),
        sep.join(esc(a) for a in v.accounts) or "—",
    ]


def exception_cells(x: ExpiringException, esc: Callable[[object], str]) -> list[str]:
    return [
        day(x.expires),
        plural(x.days_left, "day"),
        esc(x.system),
        esc(x.entitlement),
        esc(x.person or x.account or "anyone"),
        esc(x.approver),
        esc(x.where),
    ]


def campaign_cells(c: OverdueCampaign, esc: Callable[[object], str], sep: str) -> list[str]:
    return [
        f"{esc(c.name)} (#{c.campaign_id})",
        day(c.due_on),
        plural(c.days_overdue, "day"),
        f"{c.pending_items:,}",
        sep.join(esc(r) for r in c.pending_reviewers) or "—",
    ]


"""Untrusted text as literal Markdown (``iam_gov.textsafe.markdown_literal``)."""


def _table(
    header: Sequence[str],
    rows: Sequence[T],
    cells: Callable[[T], Sequence[str]],
    *,
    numeric: Iterable[int] = (),
    more: str = "the JSON report has them all",
) -> list[str]:
    """A Markdown table of the first ``MARKDOWN_ROWS`` rows (cells already escaped), or a
    line saying there are none."""
    if not rows:
        return ["None."]
    right = set(numeric)
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(cells(row)) + " |" for row in rows[:MARKDOWN_ROWS]]
    if len(rows) > MARKDOWN_ROWS:
        lines += ["", f"… and {len(rows) - MARKDOWN_ROWS} more: {more}."]
    return lines


def _section(title: str, body: list[str], note: str | None = None) -> list[str]:
    """A section; ``note`` (untrusted text inside) is a line under its table."""
    return ["", f"## {md(title)}", "", *body, *(["", md(note)] if note else [])]


def _lead(report: DriftReport) -> list[str]:
    stale = [s for s in report.systems if s.stale]
    if not report.failures and not stale:
        return []
    lines = ["", "## The run did not read everything", ""]
    lines += [f"- **Failed:** {md(failure)}" for failure in report.failures]
    lines += [f"- **Stale:** {md(stale_text(s))}" for s in stale]
    lines += ["", "What a failed or stale system did not show is not reported as removed."]
    return lines


def _systems(report: DriftReport) -> list[str]:
    def cells(s: SystemState) -> list[str]:
        if s.stale:
            data = "**stale**"
        elif s.snapshot_id is None:
            data = "no snapshot"
        else:
            data = "complete" if s.complete else "**incomplete**"
        changes = "compared" if s.compared else md(not_compared_sentence(s, report.baseline))
        snapshot = "—" if s.snapshot_id is None else str(s.snapshot_id)
        return [md(s.system), when(s.collected_at), snapshot, data, changes]

    return _table(
        ("System", "Data of", "Snapshot", "Data", "Changes"), report.systems, cells, numeric={2}
    )


def _accounts(accounts: Sequence[AccountChange]) -> list[str]:
    return _table(
        ("Change", "System", "Login", "Person", "Status", "Kind"),
        accounts,
        lambda a: [
            a.change,
            md(a.system),
            md(a.login),
            md(person_of(a.person_name, a.person_id)) or "—",
            md(a.status),
            md(a.kind),
        ],
    )


def _grants(grants: Sequence[GrantChange]) -> list[str]:
    return _table(
        ("Change", "System", "Login", "Person", "Entitlement", "Through"),
        grants,
        lambda g: [
            g.change,
            md(g.system),
            md(g.login),
            md(person_of(g.person_name, g.person_id)) or "—",
            md(g.entitlement_name),
            md(g.via) if g.via else "direct",
        ],
        more="the CSV of changed grants has them all",
    )


def _findings(findings: Sequence[FindingChange]) -> list[str]:
    return _table(
        ("Change", "Severity", "Rule", "System", "Subject", "Finding"),
        findings,
        lambda f: [
            f.change,
            md(f.severity),
            md(f.rule_id),
            md(f.system) if f.system else "—",
            md(f.subject),
            md(f.message),
        ],
    )


def changes_title(
    title: str, rows: Sequence[AccountChange] | Sequence[GrantChange] | Sequence[FindingChange]
) -> str:
    """``Accounts: 2 created, 1 removed``: the section's title with its count of each change."""
    kinds = {"Accounts": ("created", "removed"), "Findings": ("new", "resolved")}
    first, second = kinds.get(title, ("added", "removed"))
    return counted(
        title,
        [
            (sum(1 for r in rows if r.change == first), first),
            (sum(1 for r in rows if r.change == second), second),
        ],
    )


def counted(title: str, counts: Sequence[tuple[int, str]]) -> str:
    """``Accounts: 2 created, 1 removed`` (``title`` alone when every count is 0)."""
    shown = [f"{n} {what}" for n, what in counts if n]
    return f"{title}: {', '.join(shown)}" if shown else title


def render_markdown(report: DriftReport) -> str:
    """The whole report as Markdown, ending with a newline."""
    accounts = shown_accounts(report)
    grants = shown_grants(report)
    privileged = [g for g in grants if g.privileged]
    other = [g for g in grants if not g.privileged]
    findings = ordered_findings(report.findings)

    lines = [
        f"# {md(title_of(report))}",
        "",
        f"Made {when(report.made_at)} by iam-gov {__version__}; compared with "
        f"{md(baseline_text(report.baseline))}. **{md(exit_text(report))}.**",
    ]
    lines += _lead(report)
    lines += _section(
        "Summary",
        _table(("", "Count"), summary_rows(report), lambda r: [r[0], str(r[1])], numeric={1}),
    )
    stale = sum(1 for s in report.systems if s.stale)
    lines += _section(
        counted(f"Systems ({len(report.systems)})", [(stale, "stale")]), _systems(report)
    )
    note = not_compared_note(report)
    lines += _section(changes_title("Accounts", accounts), _accounts(accounts), note)
    lines += _section(changes_title("Privileged grants", privileged), _grants(privileged), note)
    lines += _section(changes_title("Other grant changes", other), _grants(other), note)
    lines += _section(changes_title("Findings", findings), _findings(findings))
    lines += _section(
        f"Leavers still active ({len(report.leavers_still_active)})",
        _table(LEAVER_HEADER, report.leavers_still_active, lambda v: leaver_cells(v, md, ", ")),
    )
    lines += _section(
        f"Exceptions expiring soon ({len(report.exceptions_expiring)})",
        _table(EXCEPTION_HEADER, report.exceptions_expiring, lambda x: exception_cells(x, md)),
    )
    lines += _section(
        f"Campaigns overdue ({len(report.campaigns_overdue)})",
        _table(
            CAMPAIGN_HEADER,
            report.campaigns_overdue,
            lambda c: campaign_cells(c, md, ", "),
            numeric={3},
        ),
    )
    return "\n".join([*lines, ""])
