"""`iam-gov campaign create` and `launch` on the demo company, as a user runs them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.campaigns.conftest import DEMO


@pytest.fixture
def demo_store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'iam-gov.db'}"
    ran = iam_gov(url, "run")
    assert ran.returncode == 1, ran.stderr  # a first run: every open high finding is new
    return url


def iam_gov(url: str, *args: str, columns: int = 200) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IAM_GOV_DATABASE_URL": url, "COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-m", "iam_gov", "--config", str(DEMO / "iam-gov.toml"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )


def test_the_demo_definition_creates_and_launches_a_campaign(demo_store: str) -> None:
    created = iam_gov(
        demo_store, "campaign", "create", "--file", str(DEMO / "campaign-q4.yaml"), "--launch"
    )
    assert created.returncode == 0, created.stderr
    assert "created campaign #1: Q4 access review" in created.stdout
    assert "launched campaign #1: 626 items for 9 reviewer(s), 524 pre-certified" in created.stdout
    assert "population sha256: " in created.stdout
    listed = iam_gov(demo_store, "campaign", "list", columns=80)
    assert listed.returncode == 0, listed.stderr
    # in an 80-column terminal the due date and the counts are whole
    assert re.search(r"│ 1 │ .*│ 20\d\d-\d\d-\d\d │ +626 │ 524 \(83%\) │ +0 │", listed.stdout)


def test_a_campaign_from_options_is_a_draft_until_launched(demo_store: str) -> None:
    created = iam_gov(demo_store, "campaign", "create", "--name", "privileged", "--privileged-only")
    assert created.returncode == 0, created.stderr
    assert "launch it with: iam-gov campaign launch 1" in created.stdout
    launched = iam_gov(demo_store, "campaign", "launch", "1")
    assert launched.returncode == 0, launched.stderr
    assert "launched campaign #1:" in launched.stdout
    again = iam_gov(demo_store, "campaign", "launch", "1")
    assert again.returncode == 2
    assert "campaign 1 (privileged) is already open" in again.stderr
    assert "Traceback" not in again.stderr


def test_a_wrong_definition_names_the_file_line_and_key(demo_store: str, tmp_path: Path) -> None:
    wrong = tmp_path / "q1.yaml"
    wrong.write_text("name: Q1\nreviewers:\n  rule: everybody\nno_response: maybe\n")
    created = iam_gov(demo_store, "campaign", "create", "--file", str(wrong))
    assert created.returncode == 2
    assert f"{wrong}:3: reviewers.rule:" in created.stderr
    assert f"{wrong}:4: no_response:" in created.stderr
    assert "Traceback" not in created.stderr
    bad_option = iam_gov(demo_store, "campaign", "create", "--name", "x", "--no-response", "no")
    assert bad_option.returncode == 2 and "no_response" in bad_option.stderr


def test_a_launch_that_cannot_happen_leaves_a_draft_and_says_so(tmp_path: Path) -> None:
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    created = iam_gov(empty, "campaign", "create", "--name", "q4", "--launch")
    assert created.returncode == 2
    assert "hr: never collected (run `iam-gov collect`)" in created.stderr
    assert "campaign #1 stays a draft" in created.stderr
    assert "Traceback" not in created.stderr
