"""The demo company, copied, collected and evaluated into a store (SQLite and PostgreSQL),
with its WireGuard server read from its own configuration file (not a saved dump), so that
deprovisioning can act on it: removing a peer rewrites the copy's wg0.conf."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iam_gov.collect import collect
from iam_gov.config import Config, load_config
from iam_gov.evaluation import evaluate
from iam_gov.policy import Policy, load_policy
from iam_gov.rules import all_rules
from iam_gov.store import Store
from tests.support.policy_edit import drop_systems_from_policy

DEMO = Path(__file__).resolve().parent.parent.parent / "samples" / "demo"
DEMO_NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
LEAVER = "E1019"
"""Erik Reyes: left on 2026-09-29; Okta, Entra, AWS (console and a key) and a WireGuard peer
still on."""


@dataclass(frozen=True)
class Company:
    root: Path
    config: Config
    policy: Policy
    store: Store

    @property
    def wg_conf(self) -> Path:
        return self.root / "wireguard" / "wg0.conf"


def copy_demo(root: Path, extra: str = "", without: tuple[str, ...] = ()) -> Path:
    """The demo's files under ``root``, WireGuard read from its file, ``extra`` TOML added
    (``[deprovision]`` settings: the demo's exports are of a fixed day, so any age goes), the
    systems named in ``without`` left out."""
    shutil.copytree(DEMO, root)
    toml = root / "iam-gov.toml"
    text = toml.read_text(encoding="utf-8")
    # reports beside the copy, not beside the repository's demo store
    text = text.replace('reports_folder = "../../.demo/reports"', 'reports_folder = "reports"')
    start = text.index("[deprovision]")  # the demo's own, replaced by the test's
    end = text.index("\n[", start) + 1
    text = text[:start] + text[end:]
    for name in without:
        start = text.index(f"[systems.{name}]")
        end = text.find("[systems.", start + 1)
        text = text[:start] + (text[end:] if end >= 0 else "")
    drop_systems_from_policy(root / "policy.yaml", without)
    wireguard = text.index("[systems.wireguard]")
    end = text.index("[systems.", wireguard + 1)
    section = "\n".join(
        line
        for line in text[wireguard:end].splitlines()
        if not line.startswith(("dump_file", "exported_at", "interface_up_since"))
    )
    text = text[:wireguard] + section + "\n\n" + text[end:]
    if "[deprovision]" not in extra:
        extra = "[deprovision]\nmax_snapshot_age_hours = 1000000\n" + extra
    toml.write_text(text + "\n" + extra, encoding="utf-8")
    return toml


def company_in(root: Path, store: Store, extra: str = "") -> Company:
    config = load_config(copy_demo(root, extra))
    policy = load_policy(config.policy.path, rules=all_rules())
    collect(config, store)
    evaluate(store, config, policy, now=DEMO_NOW)
    return Company(root, config, policy, store)


@pytest.fixture
def company(store: Store, tmp_path: Path) -> Company:
    return company_in(tmp_path / "demo", store)


def break_glass_tunnel(root: Path, store: Store) -> Company:
    """The demo under ``root`` with the leaver's WireGuard peer declared break-glass in the
    policy (the on-call laptop's tunnel) and linked to him by hand in the overrides, collected
    and evaluated: a protected account a leaver's plan finds."""
    config = load_config(copy_demo(root))
    policy_file = root / "policy.yaml"
    policy_file.write_text(
        policy_file.read_text(encoding="utf-8").replace(
            "accounts:\n",
            "accounts:\n  - system: wireguard\n    login: erik.reyes\n    kind: break-glass\n"
            "    owner: security@example.com\n    reason: The on-call laptop's tunnel.\n",
            1,
        ),
        encoding="utf-8",
    )
    overrides = root / "overrides.yaml"
    overrides.write_text(
        overrides.read_text(encoding="utf-8")
        + f'  - system: wireguard\n    account: "erik.reyes"\n    person: {LEAVER}\n'
        '    reason: "His on-call tunnel"\n',
        encoding="utf-8",
    )
    policy = load_policy(policy_file, rules=all_rules())
    collect(config, store)
    evaluate(store, config, policy, now=DEMO_NOW)
    return Company(root, config, policy, store)
