"""YAML alias bombs ("billion laughs") are refused at the alias, quickly and in little memory,
by every loader of a YAML file; aliases that stand for little still load."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iam_gov.campaigns.definition import load_definition
from iam_gov.correlate import load_overrides
from iam_gov.errors import InputError
from iam_gov.policy import load_policy
from iam_gov.rules import all_rules

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "demo"


def _bomb() -> str:
    """A few hundred bytes that expand to 9**10 strings: each level is nine of the one before."""
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * 9) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


LOADERS: dict[str, Callable[[Path], Any]] = {
    "policy": lambda path: load_policy(path, rules=all_rules()),
    "overrides": load_overrides,
    "campaign definition": load_definition,
}


@pytest.mark.parametrize("what", LOADERS)
def test_alias_bomb_is_refused_fast_in_little_memory(tmp_path: Path, what: str) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb())
    all_rules()  # imported before the clock starts: the first call imports every rule
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(InputError) as caught:
            LOADERS[what](path)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 2
    assert peak < 50_000_000
    message = str(caught.value)
    assert "\n" not in message
    # The file and the line of the alias that goes over the budget.
    assert message.startswith(f"{path}:6: alias *a4 ")
    assert "100,000 nodes" in message


def test_an_alias_inside_what_it_names_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "overrides.yaml"
    path.write_text("links: &l\n  - *l\n")
    with pytest.raises(InputError) as caught:
        load_overrides(path)
    assert str(caught.value) == f"{path}:2: alias *l is inside the node it names"


def test_deep_nesting_is_refused_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("[" * 300 + "]" * 300)
    with pytest.raises(InputError) as caught:
        load_policy(path, rules=all_rules())
    assert str(caught.value) == f"{path}:1: collections nest more than 200 levels deep"


def test_a_policy_with_harmless_aliases_still_loads(tmp_path: Path) -> None:
    text = (SAMPLES / "policy.yaml").read_text(encoding="utf-8")
    # The first role's grants, anchored, reused by a new role through an alias and a merge key.
    text = text.replace("    grants:\n", "    grants: &birthright\n", 1)
    assert "&birthright" in text
    text = text.replace(
        "  - name: leadership-department\n",
        "  - name: alias-copy\n"
        "    match: {department: Alias}\n"
        "    grants: *birthright\n"
        "  - name: merge-copy\n"
        "    match: {department: Merge}\n"
        "    grants:\n"
        "      <<: *birthright\n"
        '      aws: ["policy:ReadOnlyAccess"]\n'
        "  - name: leadership-department\n",
        1,
    )
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    policy = load_policy(path, rules=all_rules())
    roles = {name: located.item for name, located in policy.roles.items()}
    everyone = roles["everyone"].grants
    assert roles["alias-copy"].grants == everyone
    assert {k: v for k, v in roles["merge-copy"].grants.items() if k != "aws"} == everyone
    assert "aws" in roles["merge-copy"].grants
