"""`samples generate --out DIR` never overwrites what a user has without --force, and never
writes through a symbolic link, with or without it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

IAM_GOV = [sys.executable, "-m", "iam_gov"]


def samples_generate(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "IAM_GOV_CONFIG"}
    return subprocess.run(
        [*IAM_GOV, "samples", "generate", "--out", str(out), "--people", "5", *extra],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200"},
        timeout=120,
    )


def tree(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: a file's bytes, a link's target (never followed)."""
    out: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            out[key] = f"-> {os.readlink(path)}"
        elif path.is_file():
            out[key] = path.read_bytes()
    return out


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_new_folder_is_written(tmp_path: Path) -> None:
    result = samples_generate(tmp_path / "new")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "new" / "policy.yaml").is_file()
    assert (tmp_path / "new" / "hr" / "workers.csv").is_file()


def test_a_folder_that_is_not_empty_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "company"
    out.mkdir()
    (out / "policy.yaml").write_text("my own policy\n")
    (out / "iam-gov.toml").write_text("# my own config\n")
    before = tree(out)

    error = one_line_error(samples_generate(out))

    assert "not empty" in error and "--force" in error
    assert tree(out) == before


def test_force_replaces_the_files_of_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    out = tmp_path / "company"
    out.mkdir()
    (out / "policy.yaml").write_text("my own policy\n")
    result = samples_generate(out, "--force")
    assert result.returncode == 0, result.stderr
    assert (out / "policy.yaml").read_text().startswith("# What access is expected")


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
def test_a_folder_that_is_a_symbolic_link_is_refused(tmp_path: Path, force: bool) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir()
    link = tmp_path / "company"
    link.symlink_to(real, target_is_directory=True)

    error = one_line_error(samples_generate(link, *(["--force"] if force else [])))

    assert "symbolic link" in error
    assert list(real.iterdir()) == []


@pytest.mark.parametrize(
    "inside", ["policy.yaml", "iam-gov.toml", "hr/workers.csv", "hr"], ids=lambda p: p
)
def test_a_symbolic_link_inside_is_refused_even_with_force(tmp_path: Path, inside: str) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("do not touch\n")
    out = tmp_path / "company"
    (out / "hr").mkdir(parents=True)
    (out / inside).parent.mkdir(parents=True, exist_ok=True)
    if inside == "hr":
        (out / "hr").rmdir()
        (out / "hr").symlink_to(victim, target_is_directory=True)
    else:
        (out / inside).symlink_to(victim / "precious.txt")
    before, victim_before = tree(out), tree(victim)

    error = one_line_error(samples_generate(out, "--force"))

    assert "symbolic link" in error
    assert tree(victim) == victim_before  # the link's target untouched
    assert tree(out) == before  # and nothing written beside it


def test_a_link_planted_while_writing_is_replaced_not_followed(tmp_path: Path) -> None:
    """The check before writing is not the only defence: each file is unlinked and created
    anew without following a link (O_EXCL | O_NOFOLLOW), each folder opened the same way."""
    from iam_gov.samplegen import _write_files

    victim = tmp_path / "precious.txt"
    victim.write_text("do not touch\n")
    out = tmp_path / "company"
    out.mkdir()
    (out / "policy.yaml").symlink_to(victim)

    written = _write_files(out, [("policy.yaml", "new policy\n")])

    assert written == [out / "policy.yaml"]
    assert victim.read_text() == "do not touch\n"
    assert not (out / "policy.yaml").is_symlink()
    assert (out / "policy.yaml").read_text() == "new policy\n"


def test_a_folder_link_planted_while_writing_is_not_followed(tmp_path: Path) -> None:
    from iam_gov.errors import IamGovError
    from iam_gov.samplegen import _write_files

    victim = tmp_path / "victim"
    victim.mkdir()
    out = tmp_path / "company"
    out.mkdir()
    (out / "hr").symlink_to(victim, target_is_directory=True)

    with pytest.raises(IamGovError, match="without following a link"):
        _write_files(out, [("hr/workers.csv", "x\n")])
    assert list(victim.iterdir()) == []
