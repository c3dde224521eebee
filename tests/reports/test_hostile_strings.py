"""Names from a directory or an HR file are data in every output: no control, bidi or
line-separator character is written raw (``iam_gov.textsafe``), JSON stays exact, and no CSV
cell can start a formula."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iam_gov.drift.render import render
from iam_gov.model import Finding, Severity
from iam_gov.reports.findings import findings_csv, findings_json
from iam_gov.reports.markdown import findings_markdown
from iam_gov.reports.ocsf import findings_ocsf
from iam_gov.reports.problems import Problem, ProblemList, problems_csv, problems_json
from iam_gov.samplegen import generate
from iam_gov.textsafe import csv_cell, json_text, markdown_literal, printable
from tests.drift import report_sample
from tests.support.world import AS_OF
from tests.test_cli import FIRST_RUN, _rename_leaver, config, iam_gov

BIDI = [
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u200e",
    "\u200f",
    "\u061c",
]
C0_C1 = [chr(c) for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))]
SEPARATORS = ["\u2028", "\u2029"]
UNSAFE = [*C0_C1, *BIDI, *SEPARATORS]
FORMULA_LEADS = ["=", "+", "-", "@", "\t", "\r", "\n"]

# Sets the window title, clears the screen, NUL, a right-to-left override, a line break, a
# C1 CSI and an Arabic letter mark: a name no output may pass on raw.
NAME = "Eve\x1b]0;title\x07\x1b[2J\x00Mal\u202elory\r\nZZ\u061c\x9b31m"
RAW_IN_NAME = ["\x1b", "\x07", "\x00", "\u202e", "\r", "\u061c", "\x9b"]


def _raw(text: str) -> list[str]:
    """The unsafe characters found raw in ``text`` (a layout line break excepted)."""
    return [f"U+{ord(c):04X}" for c in UNSAFE if c != "\n" and c in text]


# --- the one place: textsafe ------------------------------------------------------------


@pytest.mark.parametrize("char", UNSAFE, ids=lambda c: f"U+{ord(c):04X}")
def test_no_control_bidi_or_separator_character_survives_any_neutraliser(char: str) -> None:
    value = f"a{char}b"
    for shown in (printable(value), csv_cell(value), markdown_literal(value)):
        assert char not in shown
    as_json = json_text({"name": value})  # no layout: any line break would be raw
    assert char not in as_json
    assert json.loads(as_json) == {"name": value}  # escaped, not dropped


@pytest.mark.parametrize("lead", FORMULA_LEADS, ids=repr)
def test_a_cell_starting_with_each_formula_character_is_neutralised(lead: str) -> None:
    assert csv_cell(f"{lead}1+cmd|' /C calc'!A0").startswith("'")


def test_json_keeps_readable_text_and_its_layout() -> None:
    assert json_text({"name": "Zoë Ñúñez"}, indent=2) == '{\n  "name": "Zoë Ñúñez"\n}'


# --- every renderer ---------------------------------------------------------------------


def _finding(text: str) -> Finding:
    return Finding(
        finding_id="f1",
        rule_id="orphan-account",
        severity=Severity.HIGH,
        system=text,
        subject=text,
        person_id=text,
        message=text,
        evidence={"person_name": text},
        first_seen=datetime(2026, 1, 1, tzinfo=UTC),
    )


def _problems(text: str) -> ProblemList:
    problem = Problem(
        system=text,
        kind="input",
        snapshot_id=1,
        collected_at=None,
        complete=False,
        source=text,
        line=3,
        record=text,
        message=text,
        fatal=False,
    )
    return ProblemList(systems=(text,), snapshots=(), problems=(problem,))


@pytest.mark.parametrize("char", [*BIDI, *SEPARATORS, "\x1b", "\x00", "\x9b", "\x7f", "\r"])
def test_every_findings_and_problems_renderer_neutralises(char: str) -> None:
    text = f"x{char}y"
    at = datetime(2026, 1, 2, tzinfo=UTC)
    outputs = {
        "findings json": findings_json([_finding(text)]),
        "findings csv": findings_csv([_finding(text)]),
        "findings markdown": findings_markdown([_finding(text)], generated_at=at),
        "findings ocsf": findings_ocsf([_finding(text)], generated_at=at),
        "problems json": problems_json(_problems(text)),
        "problems csv": problems_csv(_problems(text)).replace("\r\n", "\n"),
    }
    assert {name: _raw(out) for name, out in outputs.items()} == {n: [] for n in outputs}
    assert json.loads(outputs["findings json"])[0]["message"] == text
    assert json.loads(outputs["problems json"])[0]["message"] == text


@pytest.mark.parametrize("char", [*BIDI, *SEPARATORS, "\x9b"], ids=lambda c: f"U+{ord(c):04X}")
def test_every_drift_renderer_neutralises(char: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_sample, "HOSTILE", f"{char}\x1b[2J\x00 ")
    report = report_sample.hostile_report()
    for fmt in ("markdown", "html", "json", "csv"):
        assert _raw(render(report, fmt).replace("\r\n", "\n")) == [], fmt


@pytest.mark.parametrize("lead", FORMULA_LEADS, ids=repr)
def test_every_csv_renderer_neutralises_each_formula_character(lead: str) -> None:
    text = f"{lead}HYPERLINK(1)"
    findings_row = next(csv.DictReader(io.StringIO(findings_csv([_finding(text)]))))
    problems_row = next(csv.DictReader(io.StringIO(problems_csv(_problems(text)))))
    for row in (findings_row, problems_row):
        assert row["system"].startswith("'") and row["message"].startswith("'")


# --- the command, as a user runs it -----------------------------------------------------


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A company whose leaver is named ``NAME``, evaluated once."""
    root = tmp_path_factory.mktemp("hostile")
    company, db = root / "company", root / "store" / "iam-gov.db"
    generate(company, people=30, seed=5, as_of=AS_OF)
    _rename_leaver(company, NAME)
    result = iam_gov("--config", config(company), "run", db=db)
    assert result.returncode == FIRST_RUN, result.stderr
    return company, db


def _findings(store: tuple[Path, Path], fmt: str) -> str:
    company, db = store
    result = iam_gov("--config", config(company), "findings", "--format", fmt, db=db)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("fmt", ["csv", "json", "markdown", "ocsf"])
def test_findings_output_holds_no_raw_control_or_bidi_character(
    hostile_store: tuple[Path, Path], fmt: str
) -> None:
    out = _findings(hostile_store, fmt)
    assert "Mal" in out  # the leaver's findings are there
    assert [f"U+{ord(c):04X}" for c in RAW_IN_NAME if c in out] == []
    assert "\nZZ" not in out  # the name's line break is not one in the output


def test_findings_json_decodes_back_to_the_exact_name(hostile_store: tuple[Path, Path]) -> None:
    found = json.loads(_findings(hostile_store, "json"))
    names = {f["evidence"].get("person_name") for f in found if "Mal" in f["message"]}
    assert names == {NAME}
    assert all(f["message"].startswith(NAME) for f in found if "Mal" in f["message"])


def test_findings_csv_shows_the_name_escaped_on_one_line(hostile_store: tuple[Path, Path]) -> None:
    out = _findings(hostile_store, "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(out.splitlines()) == len(rows) + 1  # one line a finding
    leaver = [r for r in rows if "Mal" in r["message"]]
    assert leaver and all(
        r["message"].startswith("Eve\\x1b]0;title\\x07\\x1b[2J\\x00Mal\\u202elory\\r\\nZZ")
        for r in leaver
    )
    for r in leaver:
        assert json.loads(r["evidence"])["person_name"] == NAME  # the evidence stays exact
