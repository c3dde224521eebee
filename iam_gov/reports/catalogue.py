"""The rule catalogue: what each rule checks, the promise it enforces, and its controls."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from rich.table import Table

from iam_gov.model import Severity
from iam_gov.rules.registry import Rule, setting_descriptions

_ORDER = list(Severity)


def _sorted(rules: Iterable[Rule]) -> list[Rule]:
    return sorted(rules, key=lambda r: (-_ORDER.index(r.severity), r.id))


def _controls(rule: Rule) -> str:
    soc2 = ", ".join(rule.soc2)
    iso = ", ".join(rule.iso27001)
    return f"SOC 2 {soc2}; ISO 27001 {iso}"


def catalogue_table(rules: Iterable[Rule]) -> Table:
    table = Table(title="Rules (`iam-gov rules RULE` for one in full)", title_justify="left")
    table.add_column("rule", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("what it finds")
    table.add_column("SOC 2 · ISO 27001")
    for rule in _sorted(rules):
        controls = f"{' '.join(rule.soc2)} · {' '.join(rule.iso27001)}"
        table.add_row(rule.id, rule.severity.value, rule.title, controls)
    return table


def catalogue_markdown(rules: Iterable[Rule]) -> str:
    """A Markdown table; the README's catalogue is this output (a test keeps them equal)."""
    lines = [
        "| rule | severity | what it finds | the promise | SOC 2 | ISO 27001:2022 |",
        "|---|---|---|---|---|---|",
    ]
    for rule in _sorted(rules):
        lines.append(
            f"| `{rule.id}` | {rule.severity.value} | {rule.title} | {rule.control} "
            f"| {', '.join(rule.soc2)} | {', '.join(rule.iso27001)} |"
        )
    return "\n".join(lines) + "\n"


def _unwrap(doc: str) -> str:
    """Docstring paragraphs on one line each (the terminal wraps them), code blocks kept."""
    paragraphs: list[str] = []
    for block in doc.split("\n\n"):
        lines = block.splitlines()
        fenced = any(line.startswith(("```", "    ")) for line in lines)
        paragraphs.append(block if fenced else " ".join(line.strip() for line in lines))
    return "\n\n".join(paragraphs)


def rule_details(rule: Rule) -> str:
    """Everything about one rule, as plain text: for `iam-gov rules RULE-ID`."""
    lines = [
        f"{rule.id} — {rule.title} ({rule.severity.value})",
        "",
        _unwrap(rule.doc),
        "",
        f"Promise:     {rule.control}",
        f"Controls:    {_controls(rule)}",
        f"Remediation: {rule.remediation}",
    ]
    settings = _settings(rule)
    if settings:
        lines.append(f"Settings:    {settings[0]}")
        lines.extend(f"             {line}" for line in settings[1:])
        lines.append(f"             Set them in the policy: rules: {{{rule.id}: {{…}}}}")
    return "\n".join(lines)


def _settings(rule: Rule) -> list[str]:
    """``name: default``, then what it does on lines of its own, from the settings model."""
    lines: list[str] = []
    descriptions = setting_descriptions(rule.params_model)
    for name, field in rule.params_model.model_fields.items():
        if field.is_required():
            continue
        lines.append(f"{name}: {field.get_default(call_default_factory=True)!r}")
        if name in descriptions:
            lines.extend(f"  {line}" for line in textwrap.wrap(descriptions[name], 62))
    return lines
