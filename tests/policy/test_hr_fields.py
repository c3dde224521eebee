"""A role that matches on an HR field nobody has (a misspelt key, a field the HR mapping never
fills) would match nobody, silently, and make its members' access all "excess": evaluation
refuses it, naming the policy's file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam_gov.collect import collect
from iam_gov.config import load_config
from iam_gov.errors import PolicyError
from iam_gov.evaluation import evaluate
from iam_gov.policy import load_policy
from iam_gov.rules import all_rules
from iam_gov.store import Store
from tests.deprovision.conftest import DEMO_NOW, copy_demo


def test_a_misspelt_match_key_is_an_error_with_its_location(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    config = load_config(copy_demo(root))
    policy_file = root / "policy.yaml"
    text = policy_file.read_text(encoding="utf-8")
    assert "department:" in text
    policy_file.write_text(text.replace("department:", "departmnet:", 1), encoding="utf-8")
    policy = load_policy(policy_file, rules=all_rules())
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as store:
        collect(config, store)
        with pytest.raises(PolicyError) as caught:
            evaluate(store, config, policy, now=DEMO_NOW)
    [problem] = caught.value.problems
    assert problem.startswith(f"{policy_file}:")
    assert ".match.departmnet: no person in the HR data has a 'departmnet'" in problem
    assert "department" in problem.split("fields the HR data fills:")[1]


def test_fields_the_hr_data_fills_pass(tmp_path: Path) -> None:
    config = load_config(copy_demo(tmp_path / "demo"))
    policy = load_policy(config.policy.path, rules=all_rules())
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as store:
        collect(config, store)
        assert evaluate(store, config, policy, now=DEMO_NOW).findings
