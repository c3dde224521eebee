"""`iam-gov config check` reads every system for real (nothing stored) and reports what each
missing or unreadable part costs, with the exit codes of `collect`."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from iam_gov.samplegen import generate
from tests.support.world import AS_OF
from tests.test_cli import iam_gov


@pytest.fixture
def company(tmp_path: Path) -> Path:
    out = tmp_path / "company"
    generate(out, people=30, seed=5, as_of=AS_OF)
    return out


def check(company: Path, *args: str) -> tuple[int, str, str, Path]:
    db = company.parent / "store.db"
    done = iam_gov("--config", str(company / "iam-gov.toml"), "config", "check", *args, db=db)
    return done.returncode, done.stdout, done.stderr, db


def test_every_system_is_read_and_nothing_is_stored(company: Path) -> None:
    code, stdout, stderr, db = check(company)
    assert code == 0, stdout + stderr
    assert "Read (nothing stored)" in stdout
    for system in ("hr", "okta", "aws"):
        assert f"│ {system} " in stdout
    assert "INCOMPLETE" not in stdout and "CANNOT BE READ" not in stdout
    assert not db.exists()


def test_a_missing_part_is_incomplete_with_its_consequence_and_exit_4(company: Path) -> None:
    for folder in ("factors", "group-roles"):
        for path in sorted((company / "okta" / folder).iterdir()):
            path.unlink()
        (company / "okta" / folder).rmdir()
    code, stdout, stderr, _ = check(company)
    assert code == 4, stdout + stderr
    assert "INCOMPLETE: 1 of" in stdout
    assert "MFA factors unknown: mfa-missing is not concluded for these users" in stdout
    assert "privileged-access findings for okta roles are not concluded" in stdout


def test_a_system_that_cannot_be_read_exits_5_naming_it(company: Path) -> None:
    (company / "okta" / "users.json").unlink()
    code, stdout, stderr, _ = check(company)
    assert code == 5, stdout + stderr
    assert "CANNOT BE READ: 1 of" in stdout
    assert "okta: " in stdout and "users.json" in stdout


def test_no_read_checks_only_the_files(company: Path) -> None:
    (company / "okta" / "users.json").unlink()
    code, stdout, _, _ = check(company, "--no-read")
    assert code == 0
    assert "systems not read (--no-read)" in stdout


def test_a_role_on_an_employment_type_no_column_fills_is_an_error_with_file_and_line(
    company: Path,
) -> None:
    workers = company / "hr" / "workers.csv"
    rows = list(csv.reader(io.StringIO(workers.read_text(encoding="utf-8"))))
    drop = rows[0].index("Worker_Type")
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(
        [cell for i, cell in enumerate(row) if i != drop] for row in rows
    )
    workers.write_text(text.getvalue(), encoding="utf-8")
    policy = company / "policy.yaml"
    lines = policy.read_text(encoding="utf-8").splitlines()
    at = lines.index("roles:") + 1
    lines[at:at] = [
        "  - name: contractors",
        "    match: {employment_type: contractor}",
        "    grants:",
        '      okta: ["group:Contractors"]',
    ]
    policy.write_text("\n".join(lines) + "\n", encoding="utf-8")

    code, stdout, stderr, _ = check(company)

    assert code == 2, stdout + stderr
    assert f"{policy}:{at + 1}: roles.contractors.match.employment_type: the HR export has no " in (
        stderr.replace("\n", "")
    )
    assert "columns.employment_type" in stderr
