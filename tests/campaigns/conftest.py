"""The demo company collected and evaluated into a store (SQLite and PostgreSQL): what a
campaign is launched on."""

from __future__ import annotations

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

DEMO = Path(__file__).resolve().parent.parent.parent / "samples" / "demo"
DEMO_NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
"""A day after the demo's exports were taken."""


@dataclass(frozen=True)
class Demo:
    store: Store
    config: Config
    policy: Policy


@pytest.fixture
def demo(store: Store) -> Demo:
    config = load_config(DEMO / "iam-gov.toml")
    policy = load_policy(config.policy.path, rules=all_rules())
    collect(config, store)
    evaluate(store, config, policy, now=DEMO_NOW)
    return Demo(store, config, policy)
