"""``iam-gov findings --system``: only the findings of the named systems, on every path the
command takes (the latest evaluation, a person's findings, and --as-of)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from iam_gov.samplegen import generate
from tests.support.world import AS_OF

FIRST_RUN = 1  # every open high finding is new on a first run


class Company:
    def __init__(self, folder: Path) -> None:
        self.config = str(folder / "company" / "iam-gov.toml")
        self.db = folder / "store" / "iam-gov.db"

    def iam_gov(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "IAM_GOV_DATABASE_URL": f"sqlite:///{self.db}", "COLUMNS": "200"}
        env.pop("IAM_GOV_CONFIG", None)
        return subprocess.run(
            [sys.executable, "-m", "iam_gov", "--config", self.config, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    def findings(self, *args: str) -> list[dict[str, Any]]:
        done = self.iam_gov("findings", "--format", "json", *args)
        assert done.returncode == 0, done.stderr
        found: list[dict[str, Any]] = json.loads(done.stdout)
        return found


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Company:
    folder = tmp_path_factory.mktemp("findings-filters")
    generate(folder / "company", people=30, seed=5, as_of=AS_OF)
    made = Company(folder)
    ran = made.iam_gov("run")
    assert ran.returncode == FIRST_RUN, ran.stderr
    return made


@pytest.fixture(scope="module")
def every(company: Company) -> list[dict[str, Any]]:
    found = company.findings()
    # The filter is only tested if there is something to filter out.
    assert len(Counter(f["system"] for f in found)) >= 3, Counter(f["system"] for f in found)
    return found


def _ids(found: Iterable[dict[str, Any]]) -> set[str]:
    return {f["finding_id"] for f in found}


def test_one_system(company: Company, every: list[dict[str, Any]]) -> None:
    only = company.findings("--system", "aws")

    assert only and {f["system"] for f in only} == {"aws"}
    assert _ids(only) == _ids(f for f in every if f["system"] == "aws")


def test_several_systems(company: Company, every: list[dict[str, Any]]) -> None:
    systems = sorted({f["system"] for f in every} - {None})[:2]

    both = company.findings("-s", systems[0], "-s", systems[1])

    assert {f["system"] for f in both} == set(systems)
    assert _ids(both) == _ids(f for f in every if f["system"] in systems)


def test_a_system_without_findings_gives_none(company: Company) -> None:
    assert company.findings("--system", "no-such-system") == []


def test_with_a_person(company: Company, every: list[dict[str, Any]]) -> None:
    # Someone with findings in aws and elsewhere: --person alone gives both.
    by_person = Counter((f["person_id"], f["system"]) for f in every if f["person_id"] is not None)
    person = next(
        p for p, s in by_person if s == "aws" and any(q == p and t != "aws" for q, t in by_person)
    )
    assert {f["system"] for f in company.findings("--person", person)} > {"aws"}

    theirs = company.findings("--person", person, "--system", "aws")

    assert theirs and {f["system"] for f in theirs} == {"aws"}


def test_as_of(company: Company, every: list[dict[str, Any]]) -> None:
    # The run was recorded a moment ago: its findings are open now.
    now = datetime.now(UTC).isoformat(timespec="seconds")
    assert _ids(company.findings("--as-of", now)) == _ids(every)

    only = company.findings("--as-of", now, "--system", "aws")

    assert only and {f["system"] for f in only} == {"aws"}
