"""Test companies with fewer systems than their policy names: the policy trimmed to match,
since a policy naming an unconfigured system is refused."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml


def drop_systems_from_policy(policy: Path, systems: Iterable[str]) -> None:
    """Everything the policy says of ``systems`` removed: role grants, privileged patterns,
    separation-of-duties sides, declared accounts, exceptions, owners. (The file is written
    again from its data: comments go.)"""
    names = set(systems)
    if not names:
        return
    data: dict[str, Any] = yaml.safe_load(policy.read_text(encoding="utf-8"))
    for role in data.get("roles") or []:
        for key in ("grants", "requestable"):
            if isinstance(role.get(key), dict):
                role[key] = {s: v for s, v in role[key].items() if s not in names}
    for key in ("privileged", "owners"):
        if isinstance(data.get(key), dict):
            data[key] = {s: v for s, v in data[key].items() if s not in names}
    for key in ("accounts", "exceptions"):
        if isinstance(data.get(key), list):
            data[key] = [item for item in data[key] if item.get("system") not in names]
    kept_sod = []
    for sod in data.get("separation_of_duties") or []:
        sides = [{s: v for s, v in side.items() if s not in names} for side in sod["sides"]]
        if all(sides):
            kept_sod.append({**sod, "sides": sides})
    if "separation_of_duties" in data:
        data["separation_of_duties"] = kept_sod
    policy.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
