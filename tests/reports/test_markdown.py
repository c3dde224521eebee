"""The Markdown report: summary tables, findings by severity, untrusted text kept literal."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token
from typer.testing import CliRunner

from iam_gov.cli import app
from iam_gov.evaluation import finding_id
from iam_gov.model import Finding, Severity
from iam_gov.reports.markdown import findings_markdown, md
from iam_gov.samplegen import generate
from tests.support.world import AS_OF

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
NASTY = "Jane | Doe [x](http://evil) `rm -rf` <img src=x onerror=alert(1)> **bold** ~~s~~ &amp;"


def finding(
    rule_id: str,
    severity: Severity,
    subject: str,
    message: str = "Something is wrong.",
    **extra: object,
) -> Finding:
    values: dict[str, object] = {
        "finding_id": finding_id(rule_id, subject),
        "rule_id": rule_id,
        "severity": severity,
        "system": "aws",
        "subject": subject,
        "message": message,
        "first_seen": datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        "last_seen": datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
        **extra,
    }
    return Finding.model_validate(values)


def parse(text: str) -> list[Token]:
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


def test_title_summary_and_sections_worst_first() -> None:
    report = findings_markdown(
        [
            finding("dormant-account", Severity.MEDIUM, "aws:b"),
            finding("leaver-active-access", Severity.CRITICAL, "aws:a", "Jane left."),
            finding("dormant-account", Severity.HIGH, "aws:c", person_id="E7"),
            finding("dormant-account", Severity.MEDIUM, "aws:d"),
        ],
        generated_at=NOW,
    )

    lines = report.splitlines()
    assert lines[0] == "# iam-gov findings, 2026-11-27"
    assert "Generated 2026-11-27 09:30 UTC by iam-gov" in lines[2]
    assert lines[2].endswith(": 4 open findings.")
    assert "| Critical | 1 |\n| High | 1 |\n| Medium | 2 |\n| **Total** | **4** |" in report
    assert "| leaver-active-access | Leaver still has active access | 1 | Critical |" in report
    assert "| dormant-account | Dormant account | 3 | High |" in report
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == ["## Summary", "## Critical (1)", "## High (1)", "## Medium (2)"]
    critical = report[report.index("## Critical") : report.index("## High")]
    assert "- **Jane left\\.**" not in critical  # a full stop needs no escape
    assert "- **Jane left.**" in critical
    assert "  - Rule: leaver-active-access (Leaver still has active access)" in critical
    assert "  - System: aws\n  - Subject: aws:a\n" in critical
    assert "  - First seen: 2026-11-20 09:00 UTC; last seen: 2026-11-27 09:00 UTC" in critical
    assert "  - Person: E7" in report[report.index("## High") :]

    tokens = parse(report)
    assert [t.tag for t in tokens if t.type == "heading_open"] == ["h1", "h2", "h2", "h2", "h2"]
    assert sum(1 for t in tokens if t.type == "table_open") == 2


def test_no_findings_says_so() -> None:
    report = findings_markdown([], generated_at=NOW, scope="findings of rule x")

    assert ": 0 findings of rule x." in report
    assert report.endswith("## Summary\n\nNo findings.\n")


def test_resolved_findings_say_when() -> None:
    resolved = finding("dormant-account", Severity.LOW, "aws:x", resolved_at=NOW)

    report = findings_markdown([resolved], generated_at=NOW, scope="findings, resolved included")

    assert "  - Resolved: 2026-11-27 09:30 UTC" in report


def test_untrusted_text_cannot_add_links_html_markup_or_break_tables() -> None:
    nasty = [
        # A rule id from an old store (or a tampered one) lands in the summary table.
        finding(NASTY, Severity.HIGH, f"aws:{NASTY}", f"# {NASTY}\n- item\n1. one"),
        finding("orphan-account", Severity.HIGH, "www.evil.example/login", "see http://evil.com/x"),
    ]

    report = findings_markdown(nasty, generated_at=NOW)
    tokens = flat(parse(report))

    types = {t.type for t in tokens}
    assert not types & {"link_open", "image", "html_inline", "html_block", "code_inline"}
    # The only bold is ours (the total, twice, and each message); nothing is struck out.
    assert sum(1 for t in tokens if t.type == "strong_open") == 2 + len(nasty)
    assert not types & {"s_open", "em_open"}
    # Every row of the rule table still has its four cells.
    rows = [t for t in tokens if t.type == "tr_open"]
    cells_per_row = []
    for row in rows:
        start = tokens.index(row)
        end = next(i for i in range(start, len(tokens)) if tokens[i].type == "tr_close")
        cells_per_row.append(sum(1 for t in tokens[start:end] if t.type in ("th_open", "td_open")))
    assert cells_per_row == [2, 2, 2] + [4, 4, 4]
    # One finding is one list item, whatever its message holds (no heading, no new item).
    assert [t.tag for t in tokens if t.type == "heading_open"] == ["h1", "h2", "h2"]
    top_items = [t for t in tokens if t.type == "list_item_open" and t.level == 1]
    assert len(top_items) == 2
    # And what a reader sees is the text as it was.
    text = "".join(t.content for t in tokens if t.type == "text")
    assert NASTY in text
    assert "http://evil.com/x" in text and "www.evil.example/login" in text
    assert "# " + NASTY + "\\n- item\\n1. one" in text  # line breaks shown, not obeyed


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("jane.doe", "jane.doe"),
        ("a|b", "a\\|b"),
        ("#1", "\\#1"),
        ("- x", "\\- x"),
        ("1. x", "1\\. x"),
        ("> quote", "\\> quote"),
        ("x\ny", "x\\\\ny"),
        ("\x1b[31m", "\\\\x1b\\[31m"),
        ("https://evil.com", "https\\:\\/\\/evil\\.com"),
    ],
)
def test_md_escapes(value: str, escaped: str) -> None:
    assert md(value) == escaped


def test_the_findings_command_writes_the_report(tmp_path: Path) -> None:
    company = tmp_path / "company"
    generate(company, people=30, seed=5, as_of=AS_OF)
    env = {"IAM_GOV_DATABASE_URL": f"sqlite:///{tmp_path / 'iam-gov.db'}"}
    config = ["--config", str(company / "iam-gov.toml")]
    # a first run: no baseline, so every open high finding is new (exit 1)
    assert CliRunner().invoke(app, [*config, "run"], env=env).exit_code == 1

    result = CliRunner().invoke(app, [*config, "findings", "--format", "markdown"], env=env)

    assert result.exit_code == 0, result.output
    assert result.output.startswith("# iam-gov findings, ")
    assert "| leaver-active-access | Leaver still has active access |" in result.output
    assert "## Critical (" in result.output
