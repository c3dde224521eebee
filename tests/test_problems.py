"""`iam-gov problems`: every input problem, not only the ten the run summary shows; by system,
as JSON and CSV; exit 1 when there are problems; never creates a store."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from iam_gov.samplegen import generate
from tests.support.world import AS_OF

# The command through iam-gov's own entry point (errors, exit codes), registered here if the
# CLI does not register it yet.
RUN = """
from iam_gov import cli
from iam_gov.cli_problems import problems_command
if "problems" not in {c.name for c in cli.app.registered_commands}:
    cli.app.command("problems")(problems_command)
cli.main()
"""
BAD_ROWS = 15
FIRST_BAD_LINE = 32
"""The generated company's HR file has a header and 30 people: the bad rows start here."""
HOSTILE = "=cmd|' /C calc'!A0"


def iam_gov(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IAM_GOV_DATABASE_URL": f"sqlite:///{db}", "COLUMNS": "80"}
    env.pop("IAM_GOV_CONFIG", None)
    command = ["-c", RUN] if "problems" in args else ["-m", "iam_gov"]
    return subprocess.run(
        [sys.executable, *command, *args], capture_output=True, text=True, env=env, timeout=120
    )


def make_world(root: Path) -> tuple[Path, Path]:
    """A company whose HR file has 15 bad rows (one of them with a hostile id), run once."""
    company = root / "company"
    generate(company, people=30, seed=5, as_of=AS_OF)
    hr = company / "hr" / "workers.csv"
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\r\n")
    for i in range(BAD_ROWS):
        employee_id = HOSTILE if i == BAD_ROWS - 1 else f"E9{i:03d}"
        writer.writerow(
            [employee_id, f"Bad Row {i}", f"bad{i}@example.com", "Engineering", "Engineer"]
            + ["E1001", "Employee", "Active", "not-a-date", "", "Berlin", "CC-1"]
        )
    text = hr.read_text(encoding="utf-8")
    assert text.count("\n") == FIRST_BAD_LINE - 1 and text.endswith("\n")
    hr.write_text(text + rows.getvalue(), encoding="utf-8")
    db = root / "store" / "iam-gov.db"
    result = iam_gov("--config", str(company / "iam-gov.toml"), "run", db=db)
    assert result.returncode == 4, result.stderr  # bad HR rows: incomplete
    return company, db


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_world(tmp_path_factory.mktemp("problems"))


def problems(world: tuple[Path, Path], *args: str) -> subprocess.CompletedProcess[str]:
    company, db = world
    return iam_gov("--config", str(company / "iam-gov.toml"), "problems", *args, db=db)


def test_every_problem_is_listed_with_its_line_not_only_ten(world: tuple[Path, Path]) -> None:
    result = problems(world)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stdout.splitlines() if "workers.csv:" in line]
    assert len(lines) == BAD_ROWS
    for n in range(BAD_ROWS):
        assert any(f"workers.csv:{FIRST_BAD_LINE + n} " in line for line in lines)
    assert "hr: snapshot #" in result.stdout and "INCOMPLETE, 15 problem(s)" in result.stdout
    assert "… and" not in result.stdout


def test_one_system_only(world: tuple[Path, Path]) -> None:
    hr = json.loads(problems(world, "--system", "hr", "--format", "json").stdout)
    assert len(hr) == BAD_ROWS and {p["system"] for p in hr} == {"hr"}
    everything = json.loads(problems(world, "--format", "json").stdout)
    assert len(everything) > BAD_ROWS  # the sample's VPN notes a CRL that expires soon
    clean = problems(world, "--system", "aws")
    assert clean.returncode == 0, clean.stderr
    assert "no input problems" in clean.stdout


def test_json_has_all_of_them_in_ascii(world: tuple[Path, Path]) -> None:
    result = problems(world, "--system", "hr", "-f", "json")
    assert result.returncode == 1
    assert result.stdout.isascii()
    found = json.loads(result.stdout)
    assert [p["line"] for p in found] == list(range(FIRST_BAD_LINE, FIRST_BAD_LINE + BAD_ROWS))
    first = found[0]
    assert first["kind"] == "input" and first["complete"] is False
    assert first["source"].endswith("workers.csv") and first["record"] == "E9000"
    assert "not-a-date" in first["message"] and first["collected_at"].startswith("2026-11-27")
    assert found[-1]["record"] == HOSTILE  # JSON is data: the value as it is


def test_csv_cells_are_never_formulas(world: tuple[Path, Path]) -> None:
    result = problems(world, "--system", "hr", "--format", "csv")
    assert result.returncode == 1
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == BAD_ROWS
    assert rows[-1]["record"] == "'" + HOSTILE
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())


def test_usage_errors_exit_2(world: tuple[Path, Path]) -> None:
    unknown = problems(world, "--system", "nope")
    assert unknown.returncode == 2
    assert "'nope'" in unknown.stderr and "configured: hr, okta" in unknown.stderr
    assert problems(world, "--format", "xml").returncode == 2


def test_a_missing_store_is_refused_not_created(tmp_path: Path) -> None:
    company = tmp_path / "company"
    generate(company, people=10, seed=5, as_of=AS_OF)
    db = tmp_path / "store" / "iam-gov.db"
    result = iam_gov("--config", str(company / "iam-gov.toml"), "problems", db=db)
    assert result.returncode == 2
    assert "nothing has been collected yet" in result.stderr and "Traceback" not in result.stderr
    assert not db.exists() and not db.parent.exists()


def test_a_stale_system_s_failed_collect_is_listed(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    company, db = world
    (company / "okta" / "users.json").unlink()
    rerun = iam_gov("--config", str(company / "iam-gov.toml"), "run", db=db)
    assert rerun.returncode == 5, rerun.stderr
    result = problems(world, "--system", "okta")
    assert result.returncode == 1
    assert "okta: COLLECT FAILED" in result.stdout and "users.json" in result.stdout
    assert "stays the latest" in result.stdout
    [failure] = json.loads(problems(world, "-s", "okta", "-f", "json").stdout)
    assert failure["kind"] == "collect-failed" and failure["fatal"] is True
    assert "users.json" in failure["message"] and failure["snapshot_id"] is not None
    # The HR problems of both runs, with --all-snapshots.
    history = json.loads(problems(world, "-s", "hr", "-f", "json", "--all-snapshots").stdout)
    assert len(history) == 2 * BAD_ROWS
    assert len({p["snapshot_id"] for p in history}) == 2


def test_collect_of_an_incomplete_system_exits_4_and_a_whole_one_0(tmp_path: Path) -> None:
    company, db = make_world(tmp_path)  # its run exits 4: the HR file has bad rows
    cfg = str(company / "iam-gov.toml")
    incomplete = iam_gov("--config", cfg, "collect", "--system", "hr", db=db)
    assert incomplete.returncode == 4, incomplete.stderr
    assert "INCOMPLETE: 1 of 1 system(s) read only in part" in incomplete.stdout
    assert "orphan findings (an account nobody in HR holds) are not concluded" in incomplete.stdout

    whole = iam_gov("--config", cfg, "collect", "--system", "aws", db=db)
    assert whole.returncode == 0, whole.stdout + whole.stderr
