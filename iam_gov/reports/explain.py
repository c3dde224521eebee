"""A person's access, explained, for the terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from iam_gov.explain import AccountLine, GrantLine, PersonExplanation, shared_cause
from iam_gov.model import Finding
from iam_gov.reports.findings import severity_text
from iam_gov.textsafe import printable

MARKS = {
    "role": ("✓", "green"),
    "exception": ("✓", "cyan"),
    "decision": ("✓", "cyan"),
    "declared": ("✓", "green"),
    "group": ("·", "dim"),
    "previous-role": ("✗", "yellow"),
    "none": ("✗", "red"),
}


def _finding(f: Finding) -> Text:
    text = Text("  ")
    text.append_text(severity_text(f.severity))
    text.append(f" {f.rule_id}", style="bold")
    shared = shared_cause(f)
    if shared is not None:  # said first: the message after it can be long
        text.append(f" ({printable(shared)})", style="dim")
    text.append(": ", style="bold")
    text.append(printable(f.message))
    return text


def _grant(line: GrantLine) -> Text:
    mark, style = MARKS[line.explanation.kind]
    text = Text(f"{mark} ", style=style)
    text.append(printable(line.entitlement), style="bold" if line.via is None else "")
    if line.privileged:
        text.append(" (privileged)", style="magenta")
    if line.via is not None:
        text.append(f" — through {printable(line.via)}", style="dim")
    else:
        text.append(f" — {printable(line.explanation.detail)}")
    return text


def _account(line: AccountLine, incomplete: bool = False) -> Tree:
    account, link = line.account, line.link
    head = Text(f"{line.system}", style="bold")
    if incomplete:
        head.append(" (INCOMPLETE DATA)", style="bold yellow")
    head.append(" · ")
    head.append(printable(account.login))
    facts = [account.status.value]
    if account.kind.value != "human":
        facts.append(account.kind.value)
    how = (
        "linked by hand"
        if link.method == "override"
        else f"matched by {link.method.replace('_', ' ')}"
    )
    facts.append(f"{how}, {link.confidence.value} confidence")
    aws_account = account.attributes.get("aws_account_id")
    if aws_account:
        name = account.attributes.get("aws_account_name") or aws_account
        facts.append(f"AWS account {printable(name)} ({printable(aws_account)})")
    if line.last_activity:
        facts.append(f"last used {line.last_activity:%Y-%m-%d}")
    if account.mfa_factors is not None:
        facts.append(f"MFA: {', '.join(account.mfa_factors) or 'none'}")
    head.append(f"  ({'; '.join(facts)})", style="dim")
    tree = Tree(head)
    for grant in line.grants:
        node = tree.add(_grant(grant))
        if grant.aws_access is not None:
            access = grant.aws_access
            node.add(
                Text(
                    f"→ {printable(access.sentence)}",
                    style="bold magenta" if access.admin else "",
                )
            )
        for f in grant.findings:
            node.add(_finding(f))
    for f in line.findings:
        tree.add(_finding(f))
    if not line.grants:
        tree.add(Text("no grants", style="dim"))
    return tree


def expected_view(items: Sequence[Mapping[str, Any]], title: str) -> RenderableType:
    """What the policy expects (not findings): rule, system, why, and the rule's words."""
    if not items:
        return Text(f"{title}: none.", style="dim")
    table = Table(title=f"{title} ({len(items)}, not findings)", title_justify="left")
    table.add_column("rule", style="bold", no_wrap=True)
    table.add_column("system", no_wrap=True)
    table.add_column("why expected")
    table.add_column("what the rule would say")
    for item in items:
        table.add_row(
            printable(str(item.get("rule_id", ""))),
            printable(str(item.get("system") or "")),
            printable(str(item.get("why", ""))),
            printable(str(item.get("message", ""))),
        )
    return table


def explanation_view(x: PersonExplanation) -> RenderableType:
    p = x.person
    title = Text(printable(p.name), style="bold")
    title.append(f" ({p.employee_id})")
    details = [v for v in (p.department, p.title, p.employment_type.value, p.status.value) if v]
    title.append(" — " + ", ".join(printable(v) for v in details))
    if p.end_date:
        title.append(f"; last day {p.end_date}", style="bold red")
    parts: list[RenderableType] = [title]
    if x.incomplete:
        warning = Text(
            f"INCOMPLETE DATA: {', '.join(printable(s) for s in x.incomplete)} — access "
            "missing below may exist; what is unknown:\n",
            style="bold yellow",
        )
        for system, unknown in x.incomplete.items():
            for what in unknown:
                warning.append(f"  {printable(system)}: {printable(what)}\n", style="yellow")
        parts.append(warning)
    roles = Text("Roles: ", style="bold")
    roles.append(", ".join(f"{name} ({where})" for name, where in x.roles) or "none")
    parts.append(roles)
    if x.move is not None:
        moved = Text(f"Changed in HR on {x.move.changed_at:%Y-%m-%d}: ", style="bold yellow")
        moved.append(
            ", ".join(
                f"{k.removeprefix('attributes.')} {printable(old or '—')} → {printable(new or '—')}"
                for k, (old, new) in sorted(x.move.changes.items())
            )
        )
        if x.previous_roles:
            moved.append(f" (left role {', '.join(x.previous_roles)})")
        parts.append(moved)
    if not x.accounts:
        parts.append(Text("No accounts in any collected system.", style="dim"))
    parts.extend(_account(line, line.system in x.incomplete) for line in x.accounts)
    if x.other_findings:
        parts.append(Text("About the person:", style="bold"))
        parts.extend(_finding(f) for f in x.other_findings)
    legend = Text(
        "✓ explained by a role, an approved exception or a declaration   "
        "✗ nothing explains it   · comes with a group",
        style="dim",
    )
    parts.append(legend)
    return Group(*parts)
