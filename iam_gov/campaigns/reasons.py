"""Why an item is recommended for approval or revocation, in words, from the facts the launch
froze with it (the same words in the TUI, the CLI and the evidence bundle)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

FLAG_LABELS = {
    "leaver": "LEAVER",
    "mover": "MOVER",
    "privileged": "PRIV",
    "not_in_role": "NOT-IN-ROLE",
    "unused": "UNUSED",
    "findings": "FINDING",
}
"""Text labels for the flags, so that nothing depends on colour alone."""


def flags_of(item: Mapping[str, Any], as_of: datetime, unused_after_days: int) -> list[str]:
    """The item's flags, most serious first (keys of ``FLAG_LABELS``)."""
    flags = []
    if item["leaver"]:
        flags.append("leaver")
    if item["mover"]:
        flags.append("mover")
    if item["privileged"]:
        flags.append("privileged")
    if not item["in_role"]:
        flags.append("not_in_role")
    if _unused_days(item, as_of, unused_after_days) is not None:
        flags.append("unused")
    if item["finding_rules"]:
        flags.append("findings")
    return flags


def _unused_days(item: Mapping[str, Any], as_of: datetime, after: int) -> int | None:
    last = item["last_used_at"]
    if last is None:
        return None
    days = (as_of - last).days
    return days if days >= after else None


def reasons_of(item: Mapping[str, Any], as_of: datetime, unused_after_days: int) -> list[str]:
    """One sentence per fact that bears on the decision, most serious first."""
    out = []
    if item["leaver"]:
        out.append("the person has left (HR)")
    if item["mover"]:
        out.append("the person changed role recently (HR): check it is still needed")
    if item["privileged"]:
        out.append("privileged access")
    if not item["in_role"]:
        out.append("not explained by the person's role")
    last = item["last_used_at"]
    if last is None:
        out.append("never used, or the system does not record use")
    else:
        days = (as_of - last).days
        stale = " — unused" if days >= unused_after_days else ""
        out.append(f"last used {last.date().isoformat()} ({days} days ago){stale}")
    if item["finding_rules"]:
        severity = item["finding_severity"] or "info"
        out.append(f"open findings ({severity}): {item['finding_rules'].replace(',', ', ')}")
    total = item["peers_total"]
    if total:
        out.append(f"held by {item['peers_holding']} of {total} people with the same roles")
    out.append(f"why it exists: {item['explanation']}")
    return out
