"""The rule catalogue, and the README that prints it."""

from __future__ import annotations

from pathlib import Path

from iam_gov.reports.catalogue import catalogue_markdown, rule_details
from iam_gov.rules import all_rules

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN, END = "<!-- rules:begin -->\n", "<!-- rules:end -->"


def test_the_catalogue_lists_every_rule_once_worst_first() -> None:
    rows = [line for line in catalogue_markdown(all_rules().values()).splitlines()[2:]]
    ids = [row.split("`")[1] for row in rows]
    assert sorted(ids) == sorted(all_rules())
    severities = [row.split(" | ")[1] for row in rows]
    order = ["critical", "high", "medium", "low", "info"]
    assert severities == sorted(severities, key=order.index)


def test_the_readme_shows_the_catalogue_as_the_code_has_it() -> None:
    text = README.read_text()
    shown = text[text.index(BEGIN) + len(BEGIN) : text.index(END)]
    assert shown == catalogue_markdown(all_rules().values()), (
        "README's rule catalogue is out of date: run `make docs`"
    )


def test_one_rule_in_full_says_what_each_setting_does() -> None:
    text = rule_details(all_rules()["dormant-account"])

    assert (
        "Settings:    days: 90\n"
        "               No sign-in or credential use for this many days.\n"
        "             days_by_system: {}\n"
        "               Per-system thresholds, e.g. ``{aws: 45}``.\n"
    ) in text
