"""Test companies with fewer systems than their policy names: the policy trimmed to match,
since a policy naming an unconfigured system is refused."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML


def drop_systems_from_policy(policy: Path, systems: Iterable[str]) -> None:
    """Everything the policy says of ``systems`` removed: role grants, privileged patterns,
    separation-of-duties sides, declared accounts, exceptions, owners (ruamel's round trip:
    the rest of the file, comments included, stays as it was)."""
    names = set(systems)
    if not names:
        return
    parser = YAML()
    data: dict[str, Any] = parser.load(policy.read_text(encoding="utf-8"))
    for role in data.get("roles") or []:
        for key in ("grants", "requestable"):
            if isinstance(role.get(key), dict):
                for system in [s for s in role[key] if s in names]:
                    del role[key][system]
    for key in ("privileged", "owners"):
        if isinstance(data.get(key), dict):
            for system in [s for s in data[key] if s in names]:
                del data[key][system]
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
    with policy.open("w", encoding="utf-8") as out:
        parser.dump(data, out)
