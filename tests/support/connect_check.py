"""`iam-gov config check --connect` run as a user runs it, on a generated company whose one
system is made live against a local test server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from iam_gov.samplegen import generate
from tests.support.world import AS_OF


def company_with_live(tmp_path: Path, system: str, live_table: str) -> Path:
    """A generated company's configuration with ``[systems.<system>]`` replaced by
    ``live_table`` (which ends with a blank line); its path."""
    company = tmp_path / "company"
    generate(company, people=10, seed=5, as_of=AS_OF)
    config = company / "iam-gov.toml"
    text, replaced = re.subn(
        rf"\[systems\.{re.escape(system)}\]\n(?:[^\[\n].*\n)*\n",
        live_table,
        config.read_text(encoding="utf-8"),
    )
    assert replaced == 1
    config.write_text(text, encoding="utf-8")
    return config


def connect_check(
    config: Path, system: str, tmp_path: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``iam-gov config check --connect --system SYSTEM`` in a subprocess."""
    environment = {
        **os.environ,
        **(env or {}),
        "IAM_GOV_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "COLUMNS": "250",
    }
    environment.pop("IAM_GOV_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "iam_gov", "--config", str(config), "config", "check"]
        + ["--connect", "--system", system],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


def table_rows(stdout: str, system: str) -> dict[str, str]:
    """Permission -> result, from the rows of ``system`` in the printed table."""
    rows = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) == 4 and cells[0] == system:
            rows[cells[1]] = cells[2]
    return rows
