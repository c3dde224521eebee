"""The drift report in its four formats: every section with the right rows, the failure first,
untrusted text neutralised, no removal from a system that was not compared, an empty report,
the same bytes for the same report, and the published JSON Schema."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from iam_gov.drift import svg
from iam_gov.drift.model import DriftReport, Point, SystemState, json_schema
from iam_gov.drift.render import FORMATS, SUFFIXES, UnknownFormat, render
from iam_gov.drift.render_csv import CSV_COLUMNS
from iam_gov.drift.render_markdown import MARKDOWN_ROWS, md
from tests.drift.report_sample import (
    ACCOUNT_SERIES,
    EVALUATIONS,
    HIDDEN_LOGINS,
    HOSTILE,
    MADE_AT,
    SEVERITY_SERIES,
    SHOWN_ACCOUNTS,
    SHOWN_FINDINGS,
    SHOWN_OTHER,
    SHOWN_PRIVILEGED,
    SLA_BARS,
    SYSTEM_SERIES,
    empty_report,
    hostile_report,
    sample_report,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "docs" / "drift-report.schema.json"
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Control and bidi characters (newline and tab aside): none may reach any output raw."""

SECTIONS = (
    "lead",
    "summary",
    "charts",
    "systems",
    "accounts",
    "privileged",
    "grants",
    "findings",
    "leavers",
    "exceptions",
    "campaigns",
)
"""The HTML page's sections in order: the failure first, then the summary."""


def total(counts: dict[str, int]) -> int:
    return sum(counts.values())


# --- parsing what the renderers write ------------------------------------------------------


def parse_markdown(text: str) -> list[Token]:
    """As GitHub-flavoured renderers read it: tables, strikethrough, and bare URLs linked."""
    parser = MarkdownIt("commonmark", {"linkify": True}).enable(
        ["table", "strikethrough", "linkify"]
    )
    return parser.parse(text)


def flat(tokens: list[Token]) -> list[Token]:
    out = []
    for token in tokens:
        out.append(token)
        out.extend(flat(token.children or []))
    return out


def markdown_sections(text: str) -> dict[str, str]:
    """Each ``## `` section's body by its title (without the count after ``(`` or ``:``)."""
    out = {}
    for chunk in text.split("\n## ")[1:]:
        title, _, body = chunk.partition("\n")
        out[re.split(r"[(:]", title)[0].strip()] = body
    return out


def markdown_rows(body: str) -> list[list[str]]:
    """The table rows of a section (header and separator left out)."""
    lines = [line for line in body.splitlines() if line.startswith("| ")]
    return [re.split(r"(?<!\\)\|", line)[1:-1] for line in lines[1:]]


class Page(HTMLParser):
    """What an HTML page holds: its tags and attributes, each section's title and body rows,
    and its text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.order: list[str] = []
        self.titles: dict[str, str] = {}
        self.rows: dict[str, int] = {}
        self.text: list[str] = []
        self._section: str | None = None
        self._in_h2 = False
        self._depth = 0  # <table> nesting inside <details> (chart figures) is skipped
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)
        values = dict(attrs)
        if tag == "section" and values.get("id"):
            self._section = values["id"]
            self.order.append(self._section)
            self.titles[self._section] = ""
            self.rows[self._section] = 0
        elif tag == "h2" and self._section:
            self._in_h2 = True
        elif tag == "details":
            self._depth += 1
        elif tag == "tr" and self._section and not self._depth:
            self.rows[self._section] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2 = False
        elif tag == "details":
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_h2 and self._section:
            self.titles[self._section] += data


def data_rows(page: Page, section: str) -> int:
    """Rows of the section's table, its header row left out (0 when it has no table)."""
    return max(page.rows[section] - 1, 0)


# --- every section, in each format ---------------------------------------------------------


def test_markdown_has_every_section_in_order_the_failure_first() -> None:
    text = render(sample_report(), "markdown")

    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [
        "# iam-gov drift report, 2026-11-27: Example Corp",
        "## The run did not read everything",
        "## Summary",
        "## Systems (4): 1 stale",
        "## Accounts: 2 created, 1 removed",
        "## Privileged grants: 1 added, 1 removed",
        "## Other grant changes: 2 added, 1 removed",
        "## Findings: 3 new, 1 resolved",
        "## Leavers still active (2)",
        "## Exceptions expiring soon (1)",
        "## Campaigns overdue (1)",
    ]
    assert "**Exit code 5: a system could not be collected or is stale.**" in text
    sections = markdown_sections(text)
    lead = sections["The run did not read everything"]
    assert "- **Failed:** okta: the collect failed: HTTP 503 Service Unavailable" in lead
    assert "- **Stale:** okta: the last collect failed (failing since 2026-11-27 05:58 UTC)" in lead
    assert "| Stale systems | 1 |" in sections["Summary"]
    assert "| Open findings | 21 |" in sections["Summary"]
    assert "| New findings at or above high | 2 |" in sections["Summary"]

    rows = {title: markdown_rows(body) for title, body in sections.items()}
    assert len(rows["Systems"]) == 4
    assert len(rows["Accounts"]) == total(SHOWN_ACCOUNTS)
    assert len(rows["Privileged grants"]) == total(SHOWN_PRIVILEGED)
    assert len(rows["Other grant changes"]) == total(SHOWN_OTHER)
    assert len(rows["Findings"]) == total(SHOWN_FINDINGS)
    assert len(rows["Leavers still active"]) == 2
    assert len(rows["Exceptions expiring soon"]) == 1
    assert len(rows["Campaigns overdue"]) == 1

    # worst first, new before resolved
    assert [r[1].strip() for r in rows["Findings"]] == ["critical", "high", "medium", "low"]
    assert [r[0].strip() for r in rows["Findings"]] == ["new", "new", "new", "resolved"]
    assert (
        "| added | aws | jane.doe | Jane Doe (E100) | AdministratorAccess | group admins |"
        in (sections["Privileged grants"])
    )
    assert "| Erik Reyes | E7 | 2026-09-29 | 59 days |" in sections["Leavers still active"]
    assert "| Lena Park | E9 | — | unknown (HR gives no date) | ad:lpark |" in text
    assert "| 2026-12-10 | 13 days | aws | AdministratorAccess | E42 |" in text
    assert "| Q3 privileged access (#3) | 2026-11-01 | 26 days | 17 |" in text

    tokens = parse_markdown(text)
    assert sum(1 for t in tokens if t.type == "table_open") == 9
    assert not {t.type for t in flat(tokens)} & {"link_open", "image", "html_inline"}


def test_html_has_every_section_in_order_the_failure_first() -> None:
    page = Page(render(sample_report(), "html"))

    assert page.order == list(SECTIONS)
    assert page.titles["lead"].strip() == "⚠ The run did not read everything"
    assert page.titles["systems"] == "Systems (4): 1 stale"
    assert page.titles["accounts"] == "Accounts: 2 created, 1 removed"
    assert page.titles["privileged"] == "Privileged grants: 1 added, 1 removed"
    assert page.titles["grants"] == "Other grant changes: 2 added, 1 removed"
    assert page.titles["findings"] == "Findings: 3 new, 1 resolved"
    assert page.titles["leavers"] == "Leavers still active (2)"
    assert page.titles["exceptions"] == "Exceptions expiring soon (1)"
    assert page.titles["campaigns"] == "Campaigns overdue (1)"
    assert data_rows(page, "systems") == 4
    assert data_rows(page, "accounts") == total(SHOWN_ACCOUNTS)
    assert data_rows(page, "privileged") == total(SHOWN_PRIVILEGED)
    assert data_rows(page, "grants") == total(SHOWN_OTHER)
    assert data_rows(page, "findings") == total(SHOWN_FINDINGS)
    assert data_rows(page, "leavers") == 2
    assert data_rows(page, "exceptions") == 1
    assert data_rows(page, "campaigns") == 1

    text = " ".join(" ".join(page.text).split())
    assert "Failed: okta: the collect failed: HTTP 503 Service Unavailable" in text
    assert "Exit code 5: a system could not be collected or is stale." in text
    assert "21 Open findings" in text  # the summary's tiles
    assert "Erik Reyes E7 2026-09-29 59 days aws:erik.reyes okta:erik.reyes@example.com" in text
    assert not page.tags & {"script", "img", "iframe", "object", "link", "a", "base"}
    assert not page.attributes & {"src", "href"}  # nothing to fetch, nowhere to go


def test_html_draws_four_charts_with_every_series() -> None:
    html = render(sample_report(), "html")

    for chart in ("findings-by-severity", "findings-by-system", "accounts-per-system"):
        assert html.count(f'data-chart="{chart}" data-points="{EVALUATIONS}"') == 1
    assert html.count('data-chart="leaver-sla" data-points="4" data-kind="bars"') == 1
    for key in SEVERITY_SERIES:
        assert html.count(f'<path class="area" data-series="{key}"') == 1
    lines = re.findall(r'<path class="line" data-series="([^"]+)"', html)
    assert lines == [*SYSTEM_SERIES, *ACCOUNT_SERIES]
    assert html.count('<rect class="bar"') == SLA_BARS
    assert html.count('<circle class="point"') == EVALUATIONS * (
        len(SEVERITY_SERIES) + len(SYSTEM_SERIES) + len(ACCOUNT_SERIES)
    )
    assert 'fill="url(#leaver-sla-hatch-cross)"' in html
    assert '<title id="leaver-sla-title">Leavers by month of termination and SLA</title>' in html
    # the legend says each figure in words
    assert ">Critical: 1</text>" in html and ">High: 8</text>" in html
    assert ">within the SLA: 15</text>" in html and ">still active: 3</text>" in html
    assert ">aws: 135</text>" in html
    assert "data-empty" not in html


def test_csv_lists_the_changed_grants() -> None:
    rows = list(csv.reader(io.StringIO(render(sample_report(), "csv"))))

    assert (
        tuple(rows[0])
        == CSV_COLUMNS
        == (
            "system",
            "login",
            "person",
            "entitlement",
            "privileged",
            "change",
            "via",
        )
    )
    assert rows[1:] == [
        [
            "aws",
            "jane.doe",
            "Jane Doe (E100)",
            "AdministratorAccess",
            "yes",
            "added",
            "group admins",
        ],
        ["aws", "ops.lead", "", "PowerUserAccess", "yes", "removed", ""],
        ["aws", "jane.doe", "Jane Doe (E100)", "ReadOnlyAccess", "no", "added", ""],
        ["ad", "new.hire", "", "Sales", "no", "added", ""],
        ["aws", "intern", "", "ViewOnlyAccess", "no", "removed", "group interns"],
    ]


def test_json_is_the_report_and_valid_against_the_published_schema() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    for report in (sample_report(), hostile_report(), empty_report()):
        text = render(report, "json")
        assert text.isascii() and text.endswith("}\n")
        validator.validate(json.loads(text))
        assert DriftReport.model_validate_json(text) == report

    broken = json.loads(render(sample_report(), "json"))
    broken["systems"][0]["compared"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_the_published_schema_is_up_to_date() -> None:
    assert SCHEMA.read_text(encoding="utf-8") == json_schema(), (
        "docs/drift-report.schema.json is out of date: write iam_gov.drift.model.json_schema() "
        "to it"
    )


# --- the failure first, and nothing called removed that was not compared -------------------


def test_a_system_not_compared_shows_no_removals_and_says_why() -> None:
    report = sample_report()
    for fmt in ("markdown", "html", "csv"):
        text = render(report, fmt)
        for login in HIDDEN_LOGINS:
            assert login not in text, (fmt, login)
    assert "old-robot" in render(report, "markdown")  # a compared system's removal is shown

    markdown = markdown_sections(render(report, "markdown"))
    systems = markdown["Systems"]
    assert (
        "| ad | 2026-11-27 05:55 UTC | 52 | **incomplete** | changes not compared: its snapshot "
        "is incomplete. Nothing it did not show is reported as removed. |" in systems
    )
    assert (
        "| okta | 2026-11-26 06:00 UTC | 41 | **stale** | changes not compared: its last "
        "collect failed (HTTP 503 Service Unavailable), so its data is the snapshot of "
        "2026-11-26 06:00 UTC." in systems
    )
    note = "Not compared: ad, okta (see Systems). Their removals are not listed"
    for title in ("Accounts", "Privileged grants", "Other grant changes"):
        assert note in markdown[title]
    html = " ".join(" ".join(Page(render(report, "html")).text).split())
    assert "changes not compared: its snapshot is incomplete." in html
    assert html.count(note) == 3


def test_the_reason_the_report_gives_is_the_one_shown() -> None:
    report = sample_report()
    systems = [
        s.model_copy(update={"not_compared_reason": "the baseline's snapshot of it is incomplete"})
        if s.system == "ad"
        else s
        for s in report.systems
    ]
    report = report.model_copy(update={"systems": systems})

    for fmt in ("markdown", "html"):
        assert "changes not compared: the baseline's snapshot of it is incomplete." in (
            render(report, fmt).replace("&#x27;", "'")
        )


def test_a_run_without_failures_leads_with_its_outcome() -> None:
    report = sample_report().model_copy(
        update={
            "failures": [],
            "systems": [s.model_copy(update={"stale": False}) for s in sample_report().systems],
            "exit_code": 1,
        }
    )

    markdown = render(report, "markdown")
    assert "## The run did not read everything" not in markdown
    assert "**Exit code 1: new findings at or above high.**" in markdown
    page = Page(render(report, "html"))
    assert page.order[:2] == ["lead", "summary"]
    assert page.titles["lead"].strip() == "⚠ 2 new findings at or above high"


# --- untrusted text ------------------------------------------------------------------------


def test_hostile_text_is_literal_in_markdown() -> None:
    sample, hostile = render(sample_report(), "markdown"), render(hostile_report(), "markdown")

    assert not UNSAFE.search(hostile)
    assert "\\x1b\\[2J" in hostile and "\\u202egnp.exe" in hostile  # shown, as escapes
    tokens = flat(parse_markdown(hostile))
    types = {t.type for t in tokens}
    assert not types & {"link_open", "image", "html_inline", "html_block", "code_inline", "em_open"}
    assert not types & {"strong_open"} - {t.type for t in flat(parse_markdown(sample))}
    # the same headings, lists and tables, each row with as many cells as its header
    shape = [(t.type, t.tag) for t in parse_markdown(sample) if t.nesting == 1]
    assert [(t.type, t.tag) for t in parse_markdown(hostile) if t.nesting == 1] == shape
    sections = markdown_sections(hostile)
    assert len(markdown_rows(sections["Accounts"])) == total(SHOWN_ACCOUNTS)
    for title, body in markdown_sections(sample).items():
        assert [len(row) for row in markdown_rows(sections[title])] == [
            len(row) for row in markdown_rows(body)
        ], title


def test_hostile_text_is_literal_in_html() -> None:
    html = render(hostile_report(), "html")

    assert not UNSAFE.search(html)
    assert "<script" not in html.lower()
    page = Page(html)
    assert not page.tags & {"script", "img", "iframe", "object", "link", "a", "base"}
    assert not {name for name in page.attributes if name.startswith("on")}
    assert page.order == list(SECTIONS)
    assert data_rows(page, "accounts") == total(SHOWN_ACCOUNTS)
    assert data_rows(page, "privileged") == total(SHOWN_PRIVILEGED)
    text = "".join(page.text)
    assert "<script>alert(1)</script><img src=x onerror=alert(2)>" in text  # as text
    assert "\\x1b[2J\\x07 \\u202egnp.exe\\u202c\\r\\n# injected heading" in text
    # the system names in the charts are escaped too
    assert html.count('<path class="line" data-series="=cmd|&#x27; /C calc&#x27;!A0 &lt;') == 7


def test_hostile_text_cannot_run_in_a_spreadsheet() -> None:
    text = render(hostile_report(), "csv")

    assert not UNSAFE.search(text.replace("\n", ""))
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 1 + total(SHOWN_PRIVILEGED) + total(SHOWN_OTHER)
    for row in rows[1:]:
        assert len(row) == len(CSV_COLUMNS)
        for cell in row:
            assert not cell or cell[0] not in "=+-@\t\r\n", cell
    assert rows[1][0].startswith("'=cmd|")


def test_hostile_text_in_json_is_escaped_and_exact() -> None:
    text = render(hostile_report(), "json")

    assert text.isascii() and not UNSAFE.search(text)
    assert "\\u001b[2J" in text and "\\u202e" in text
    assert json.loads(text)["accounts"][0]["login"] == f"{HOSTILE}jane.doe"


# --- empty, single point, determinism ------------------------------------------------------


def test_an_empty_report_renders_in_every_format() -> None:
    report = empty_report()

    markdown = render(report, "markdown")
    assert "compared with nothing: there is no earlier data, so no changes are reported" in (
        markdown
    )
    assert "## The run did not read everything" not in markdown
    assert markdown.count("\nNone.\n") == 8  # every section but the summary
    page = Page(render(report, "html"))
    assert page.order == list(SECTIONS)
    html = render(report, "html")
    assert html.count('data-empty="true"') == 4
    assert html.count("No data yet") == 4
    assert render(report, "csv") == ",".join(CSV_COLUMNS) + "\n"
    assert json.loads(render(report, "json"))["accounts"] == []


def test_same_report_same_bytes() -> None:
    for fmt in FORMATS:
        first = render(sample_report(), fmt)
        again = render(DriftReport.model_validate_json(render(sample_report(), "json")), fmt)
        assert first == again, fmt
        assert render(hostile_report(), fmt) == render(hostile_report(), fmt)


def test_registry() -> None:
    assert list(FORMATS) == ["markdown", "html", "json", "csv"]
    assert set(SUFFIXES) == set(FORMATS)
    with pytest.raises(UnknownFormat, match="use one of markdown, html, json, csv"):
        render(sample_report(), "pdf")


def test_markdown_tables_stay_short() -> None:
    report = sample_report()
    many = [report.grants[2].model_copy(update={"login": f"user{i:03}"}) for i in range(120)]
    text = render(report.model_copy(update={"grants": many}), "markdown")

    rows = markdown_rows(markdown_sections(text)["Other grant changes"])
    assert len(rows) == MARKDOWN_ROWS
    assert "… and 70 more: the CSV of changed grants has them all." in text
    assert (
        len(
            list(csv.reader(io.StringIO(render(report.model_copy(update={"grants": many}), "csv"))))
        )
        == 121
    )


def points(values: list[dict[str, int]], step_days: int = 1) -> list[Point]:
    return [
        Point(at=MADE_AT - timedelta(days=step_days * (len(values) - 1 - i)), values=v)
        for i, v in enumerate(values)
    ]


def test_charts_of_a_single_point() -> None:
    one = points([{"high": 2, "low": 1}])
    drawn = svg.findings_by_severity(one)
    assert 'data-points="1"' in drawn
    assert drawn.count('<rect class="bar"') == 2  # a stacked bar: an area needs two points
    assert "<path" not in drawn

    drawn = svg.accounts_per_system(points([{"aws": 3, "okta": 5}]))
    assert drawn.count('<circle class="point"') == 2
    assert '<path class="line"' not in drawn
    assert "Accounts per system on 2026-11-27: aws 3; okta 5." in drawn


def test_a_line_has_a_gap_where_a_point_has_no_figure() -> None:
    drawn = svg.accounts_per_system(
        points([{"aws": 3, "okta": 5}, {"aws": 4}, {"aws": 4, "okta": 6}])
    )

    okta = re.search(r'<path class="line" data-series="okta" d="([^"]+)"', drawn)
    assert okta is None  # two lone points, no line between them
    assert drawn.count('<circle class="point" data-series="okta"') == 2
    aws = re.search(r'<path class="line" data-series="aws" d="([^"]+)"', drawn)
    assert aws is not None and aws[1].count("L") == 2
    assert ">okta: 6</text>" in drawn


def test_many_systems_are_drawn_as_the_largest_and_the_rest() -> None:
    many = points([{f"sys{i:02}": i for i in range(12)}, {f"sys{i:02}": i + 1 for i in range(12)}])
    drawn = svg.findings_by_system(many)

    lines = re.findall(r'<path class="line" data-series="([^"]+)"', drawn)
    assert lines == [f"sys{i:02}" for i in range(5, 12)] + ["other"]
    assert ">other (5 systems): 15</text>" in drawn  # 1 + 2 + 3 + 4 + 5


def test_nice_scale() -> None:
    assert svg.nice_scale(0) == (1, 1)
    assert svg.nice_scale(4) == (4, 1)
    assert svg.nice_scale(17) == (20, 5)
    assert svg.nice_scale(415) == (500, 100)
    assert svg.nice_scale(1000) == (1000, 200)
    assert svg.nice_scale(1001) == (1500, 500)


def test_md_escapes_what_markdown_would_read() -> None:
    assert md("# x") == "\\# x"
    assert md("a|b") == "a\\|b"
    assert md("`x`") == "\\`x\\`"
    assert md("[a](b)") == "\\[a\\](b)"
    assert md("<b>") == "\\<b\\>"
    assert md("\x1b[2J") == "\\\\x1b\\[2J"
    assert md("- item") == "\\- item"


def test_stale_system_without_snapshot() -> None:
    state = SystemState(
        system="vpn",
        snapshot_id=None,
        collected_at=None,
        complete=False,
        stale=True,
        stale_reason="never collected",
        compared=False,
    )
    report = empty_report().model_copy(update={"systems": [state], "exit_code": 5})

    markdown = render(report, "markdown")
    assert "- **Stale:** vpn: the last collect failed: never collected." in markdown
    assert "| vpn | — | — | **stale** | changes not compared: its last collect failed (never " in (
        markdown
    )
