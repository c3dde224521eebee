"""The drift report as one self-contained HTML page: inline CSS, charts as inline SVG, no
script and nothing fetched (its Content-Security-Policy forbids it), readable offline and as
an e-mail attachment. The failure first, then the summary, the charts, and every section.

Every untrusted string is shown literally: control and bidi characters as escapes
(``textsafe.printable``), then HTML-escaped. The same report gives the same bytes."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Final, TypeVar

from iam_gov import __version__
from iam_gov.drift import svg
from iam_gov.drift.model import (
    EXIT_FINDINGS,
    EXIT_OK,
    AccountChange,
    DriftReport,
    FindingChange,
    GrantChange,
    Point,
    SystemState,
)
from iam_gov.drift.render_markdown import (
    CAMPAIGN_HEADER,
    EXCEPTION_HEADER,
    LEAVER_HEADER,
    baseline_text,
    campaign_cells,
    changes_title,
    counted,
    exception_cells,
    exit_text,
    leaver_cells,
    not_compared_note,
    not_compared_sentence,
    ordered_findings,
    person_of,
    plural,
    severity_rank,
    shown_accounts,
    shown_grants,
    stale_text,
    summary_rows,
    title_of,
    when,
)
from iam_gov.textsafe import printable

T = TypeVar("T")

HTML_ROWS: Final = 2000
"""Rows per table in the page; the JSON (and the CSV for grants) have all of them."""
FIGURE_ROWS: Final = 60
"""The most recent points listed in the table under a chart."""

_STYLE = """
:root { color-scheme: light; }
body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 1.5em 2em 3em;
  color: #1a1a1a; max-width: 80em; line-height: 1.4; }
h1 { font-size: 1.55em; margin: 0 0 .2em; } h2 { font-size: 1.2em; margin-top: 1.8em;
  border-bottom: 2px solid #ddd; padding-bottom: .2em; } h3 { font-size: 1em; margin: 0 0 .4em; }
.meta { color: #555; margin: 0 0 1em; }
.lead { border: 2px solid; border-left-width: .6em; padding: .6em 1em; margin: 1em 0;
  border-radius: 4px; }
.lead h2 { margin: 0 0 .3em; border: 0; font-size: 1.15em; }
.lead ul { margin: .3em 0; padding-left: 1.2em; }
.lead.failed { border-color: #b3261e; background: #fdecea; }
.lead.findings { border-color: #b45309; background: #fff4e5; }
.lead.ok { border-color: #1b7a4a; background: #e9f6ef; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(11.5em, 1fr));
  gap: .6em; margin: .6em 0; }
.tile { border: 1px solid #ccc; border-radius: 4px; padding: .45em .7em; background: #fafafa; }
.tile .n { display: block; font-size: 1.6em; font-weight: 600;
  font-variant-numeric: tabular-nums; }
.tile.attention { border-color: #b45309; border-left: .35em solid #b45309; background: #fff8ee; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(36em, 1fr)); gap: 1em; }
figure { margin: 0; border: 1px solid #ddd; border-radius: 4px; padding: .8em; }
figcaption { margin: .3em 0; color: #444; font-size: .9em; }
svg.chart { display: block; width: 100%; height: auto; max-width: 720px; }
details { margin-top: .4em; font-size: .9em; }
table { border-collapse: collapse; margin: .5em 0; font-size: .92em; }
th, td { border: 1px solid #c8c8c8; padding: .25em .55em; text-align: left;
  vertical-align: top; }
th { background: #eee; } tbody tr:nth-child(even) { background: #f8f8f8; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td { overflow-wrap: anywhere; }
.tag { display: inline-block; padding: 0 .4em; border-radius: 3px; font-size: .85em;
  font-weight: 600; border: 1px solid; white-space: nowrap; }
.tag.added, .tag.created, .tag.new { color: #0b5394; border-color: #0b5394; }
.tag.removed, .tag.resolved { color: #555; border-color: #888; }
.tag.bad { color: #fff; background: #b3261e; border-color: #b3261e; }
.sev { display: inline-block; padding: 0 .4em; border-radius: 3px; font-size: .85em;
  font-weight: 600; color: #fff; background: #666; }
.sev.critical { background: #882255; } .sev.high { background: #b34700; }
.sev.medium { background: #8a5a00; } .sev.low { background: #1f6f99; }
.sev.info { background: #666; }
.none { color: #555; font-style: italic; }
.more { color: #555; }
footer { margin-top: 2.5em; color: #555; font-size: .88em; border-top: 1px solid #ddd;
  padding-top: .6em; }
@media print { figure, .lead, table { break-inside: avoid; } body { padding: 0; } }
"""

_ATTENTION = frozenset(
    {
        "Stale systems",
        "Privileged grants added",
        "Leavers still active",
        "Campaigns overdue",
    }
)


def _e(value: object) -> str:
    """Shown literally: control and bidi characters as escapes, then HTML-escaped."""
    return html.escape(printable("" if value is None else value), quote=True)


def _tag(change: str) -> str:
    sign = {"added": "+ ", "created": "+ ", "new": "+ ", "removed": "− ", "resolved": "✓ "}
    return f'<span class="tag {_e(change)}">{sign.get(change, "")}{_e(change)}</span>'


def _severity(severity: str) -> str:
    known = severity_rank(severity) >= 0
    css = f"sev {_e(severity)}" if known else "sev"
    return f'<span class="{css}">{_e(severity)}</span>'


def _table(
    header: Sequence[str],
    rows: Sequence[T],
    cells: Callable[[T], Sequence[str]],
    *,
    numeric: Iterable[int] = (),
    more: str = "the JSON report has them all",
) -> str:
    """A table of the rows (cells already escaped), or a line saying there are none."""
    if not rows:
        return '<p class="none">None.</p>\n'
    right = set(numeric)
    head = "".join(
        f'<th class="n">{h}</th>' if i in right else f"<th>{h}</th>" for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{c}</td>' if i in right else f"<td>{c}</td>"
            for i, c in enumerate(cells(row))
        )
        + "</tr>\n"
        for row in rows[:HTML_ROWS]
    )
    out = f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"
    if len(rows) > HTML_ROWS:
        out += f'<p class="more">… and {len(rows) - HTML_ROWS} more: {more}.</p>\n'
    return out


def _section(section_id: str, title: str, body: str, note: str | None = None) -> str:
    """A section; ``note`` (untrusted text inside) is a paragraph under its table."""
    after = f'<p class="more">{_e(note)}</p>\n' if note else ""
    return f'<section id="{section_id}">\n<h2>{_e(title)}</h2>\n{body}{after}</section>\n'


def _lead(report: DriftReport) -> str:
    stale = [s for s in report.systems if s.stale]
    if report.failures or stale:
        items = [f"<li><strong>Failed:</strong> {_e(f)}</li>" for f in report.failures]
        items += [f"<li><strong>Stale:</strong> {_e(stale_text(s))}</li>" for s in stale]
        return (
            '<section class="lead failed" id="lead" role="alert">\n'
            "<h2>⚠ The run did not read everything</h2>\n"
            f"<ul>\n{''.join(i + chr(10) for i in items)}</ul>\n"
            "<p>What a failed or stale system did not show is not reported as removed. "
            f"{_e(exit_text(report))}.</p>\n</section>\n"
        )
    if report.exit_code == EXIT_FINDINGS:
        n = report.summary.new_at_or_above_threshold
        return (
            '<section class="lead findings" id="lead" role="alert">\n'
            f"<h2>⚠ {_e(plural(n, 'new finding'))} at or above {_e(report.fail_on)}</h2>\n"
            f"<p>{_e(exit_text(report))}.</p>\n</section>\n"
        )
    css = "ok" if report.exit_code == EXIT_OK else "findings"
    mark = "✓" if report.exit_code == EXIT_OK else "⚠"
    return (
        f'<section class="lead {css}" id="lead">\n'
        f"<h2>{mark} {_e(exit_text(report))}</h2>\n</section>\n"
    )


def _summary(report: DriftReport) -> str:
    tiles = []
    for label, count in summary_rows(report):
        css = "tile attention" if count and label in _ATTENTION else "tile"
        tiles.append(f'<div class="{css}"><span class="n">{count:,}</span>{_e(label)}</div>')
    return _section("summary", "Summary", f'<div class="tiles">\n{chr(10).join(tiles)}\n</div>\n')


_CHARTS: Final = (
    (
        "findings-by-severity",
        "findings_by_severity",
        svg.findings_by_severity,
        "Open findings by severity",
        "Open findings at each evaluation, stacked by severity (the worst at the bottom).",
    ),
    (
        "findings-by-system",
        "findings_by_system",
        svg.findings_by_system,
        "Open findings by system",
        "Open findings at each evaluation, one line per system.",
    ),
    (
        "accounts-per-system",
        "accounts_per_system",
        svg.accounts_per_system,
        "Accounts per system",
        "Accounts in each system's snapshot at each evaluation, one line per system (a gap "
        "where there was no snapshot of it).",
    ),
    (
        "leaver-sla",
        "leaver_sla",
        svg.leaver_sla,
        "Leavers and the SLA",
        "Leavers by month of termination: every account off within the SLA, over it (hatched), "
        "or still active today (cross-hatched).",
    ),
)
"""Each chart: its id, the ``Charts`` field it draws, how, its heading and its caption."""


def _figures_table(chart_id: str, points: Sequence[Point]) -> str:
    keys = svg.keys_of(chart_id, points)
    rows = svg.figures(points, keys)
    shown = rows[-FIGURE_ROWS:]
    at: Callable[[datetime], str] = (
        (lambda d: f"{d:%Y-%m}") if chart_id == "leaver-sla" else (lambda d: when(d))
    )
    table = _table(
        ["when", *(_e(k) for k in keys)],
        shown,
        lambda row: [at(row[0]), *("—" if v is None else f"{v:,}" for v in row[1])],
        numeric=range(1, len(keys) + 1),
    )
    note = (
        f'<p class="more">The latest {len(shown)} of {len(rows)}.</p>\n'
        if len(rows) > len(shown)
        else ""
    )
    return f"<details><summary>The figures</summary>\n{note}{table}</details>\n"


def _charts(report: DriftReport) -> str:
    figures = []
    for chart_id, field, draw, heading, caption in _CHARTS:
        points: list[Point] = getattr(report.charts, field)
        table = _figures_table(chart_id, points) if points else ""
        figures.append(
            f'<figure id="chart-{chart_id}">\n<h3>{heading}</h3>\n{draw(points)}\n'
            f"<figcaption>{caption}</figcaption>\n{table}</figure>\n"
        )
    return _section("charts", "Over time", f'<div class="charts">\n{"".join(figures)}</div>\n')


def _systems(report: DriftReport) -> str:
    def cells(s: SystemState) -> list[str]:
        if s.stale:
            data = '<span class="tag bad">stale</span>'
        elif s.snapshot_id is None:
            data = "no snapshot"
        else:
            data = "complete" if s.complete else '<span class="tag bad">incomplete</span>'
        changes = "compared" if s.compared else _e(not_compared_sentence(s, report.baseline))
        age = "" if s.age_hours is None else f" ({s.age_hours:.0f} h old)"
        return [
            _e(s.system),
            when(s.collected_at) + age,
            "—" if s.snapshot_id is None else str(s.snapshot_id),
            data,
            changes,
        ]

    stale = sum(1 for s in report.systems if s.stale)
    return _section(
        "systems",
        counted(f"Systems ({len(report.systems)})", [(stale, "stale")]),
        _table(
            ("System", "Data of", "Snapshot", "Data", "Changes"),
            report.systems,
            cells,
            numeric={2},
        ),
    )


def _accounts(accounts: Sequence[AccountChange], note: str | None) -> str:
    return _section(
        "accounts",
        changes_title("Accounts", accounts),
        _table(
            ("Change", "System", "Login", "Person", "Status", "Kind"),
            accounts,
            lambda a: [
                _tag(a.change),
                _e(a.system),
                _e(a.login),
                _e(person_of(a.person_name, a.person_id)) or "—",
                _e(a.status),
                _e(a.kind),
            ],
        ),
        note,
    )


def _grants(section_id: str, title: str, grants: Sequence[GrantChange], note: str | None) -> str:
    return _section(
        section_id,
        changes_title(title, grants),
        _table(
            ("Change", "System", "Login", "Person", "Entitlement", "Through"),
            grants,
            lambda g: [
                _tag(g.change),
                _e(g.system),
                _e(g.login),
                _e(person_of(g.person_name, g.person_id)) or "—",
                _e(g.entitlement_name),
                _e(g.via) if g.via else "direct",
            ],
            more="the CSV of changed grants has them all",
        ),
        note,
    )


def _findings(findings: Sequence[FindingChange]) -> str:
    return _section(
        "findings",
        changes_title("Findings", findings),
        _table(
            ("Change", "Severity", "Rule", "System", "Subject", "Finding", "Since"),
            findings,
            lambda f: [
                _tag(f.change),
                _severity(f.severity),
                _e(f.rule_id),
                _e(f.system) if f.system else "—",
                _e(f.subject),
                _e(f.message),
                when(f.resolved_at) if f.change == "resolved" else when(f.first_seen),
            ],
        ),
    )


def _rest(report: DriftReport) -> list[str]:
    leavers = _section(
        "leavers",
        f"Leavers still active ({len(report.leavers_still_active)})",
        _table(LEAVER_HEADER, report.leavers_still_active, lambda v: leaver_cells(v, _e, "<br>")),
    )
    exceptions = _section(
        "exceptions",
        f"Exceptions expiring soon ({len(report.exceptions_expiring)})",
        _table(EXCEPTION_HEADER, report.exceptions_expiring, lambda x: exception_cells(x, _e)),
    )
    campaigns = _section(
        "campaigns",
        f"Campaigns overdue ({len(report.campaigns_overdue)})",
        _table(
            CAMPAIGN_HEADER,
            report.campaigns_overdue,
            lambda c: campaign_cells(c, _e, "<br>"),
            numeric={3},
        ),
    )
    return [leavers, exceptions, campaigns]


def _footer(report: DriftReport) -> str:
    snapshots = ", ".join(f"{k}: {v}" for k, v in report.snapshot_ids.items()) or "—"
    baseline = ", ".join(f"{k}: {v}" for k, v in report.baseline.snapshot_ids.items()) or "—"
    return (
        f"<footer>\n<p>Report version {report.version}, made {when(report.made_at)} by iam-gov "
        f"{_e(__version__)}. Snapshots described: {_e(snapshots)}. Baseline snapshots: "
        f"{_e(baseline)}.</p>\n"
        "<p>The same report as JSON (with its published JSON Schema) and the changed grants as "
        "CSV are written beside this page.</p>\n</footer>\n"
    )


def render_html(report: DriftReport) -> str:
    """The whole page, ending with a newline."""
    grants = shown_grants(report)
    note = not_compared_note(report)
    title = _e(title_of(report))
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
        f"<title>{title}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n",
        f"<header>\n<h1>{title}</h1>\n",
        f'<p class="meta">Made {when(report.made_at)}; compared with '
        f"{_e(baseline_text(report.baseline))}.</p>\n</header>\n",
        _lead(report),
        _summary(report),
        _charts(report),
        _systems(report),
        _accounts(shown_accounts(report), note),
        _grants("privileged", "Privileged grants", [g for g in grants if g.privileged], note),
        _grants("grants", "Other grant changes", [g for g in grants if not g.privileged], note),
        _findings(ordered_findings(report.findings)),
        *_rest(report),
        _footer(report),
        "</body>\n</html>\n",
    ]
    return "".join(parts)
