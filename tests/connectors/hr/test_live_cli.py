"""`iam-gov collect -s hr` with a live HR system in the configuration file, as a user runs it
against the local HTTPS server: today's people stored, a cut report refused by the drop guard,
and no secret in anything the command prints."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import hr_server
from tests.support.hr_server import (
    BAMBOO_CUSTOM,
    BAMBOO_KEY,
    CLIENT_SECRET,
    CSV_PASSWORD,
    CSV_PATH,
    CSV_USER,
    RAAS_PATH,
    SECRETS,
    HRServer,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HRServer]:
    yield from hr_server.running_server(tmp_path_factory)


def iam_gov(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "IAM_GOV_DATABASE_URL": f"sqlite:///{config.parent / 'iam-gov.db'}",
        "COLUMNS": "200",
        "WORKDAY_CLIENT_SECRET": CLIENT_SECRET,
        "HR_CSV_PASSWORD": CSV_PASSWORD,
        "BAMBOOHR_API_KEY": BAMBOO_KEY,
    }
    env.pop("IAM_GOV_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "iam_gov", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def write_config(folder: Path, hr_table: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.yaml").write_text("roles: []\n")
    config = folder / "iam-gov.toml"
    config.write_text(f'[policy]\npath = "policy.yaml"\n\n[systems.hr]\ntype = "hr"\n{hr_table}')
    return config


def stored_sources(config: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(config.parent / "iam-gov.db") as conn:
        rows = conn.execute("SELECT source, id FROM snapshots ORDER BY id").fetchall()
    return [(str(source), int(i)) for source, i in rows]


FIRST_RUN = {
    # The "first run" examples of the HR settings guide, as written there ({server} and {ca}
    # stand for the real service's address and the private CA's file).
    "file": """path = "exports/workers.csv"
preset = "workday"
""",
    "workday-oauth": """mode = "live"
url = "{server}/ccx/service/customreport2/acme/ISU_IAM/IAM_Workers?format=json"
preset = "workday"
auth = "oauth"
token_url = "{server}/ccx/oauth2/acme/token"
client_id = "NjA5ZTc2YjQtiamgov"
client_secret = { env = "WORKDAY_CLIENT_SECRET" }
ca_file = "{ca}"
""",
    "bamboohr": """mode = "live"
bamboohr_subdomain = "acme"
bamboohr_api_key = { env = "BAMBOOHR_API_KEY" }
bamboohr_api_url = "{server}"
ca_file = "{ca}"
""",
    "csv-basic": """mode = "live"
url = "{server}/exports/people.csv"
preset = "workday"
auth = "basic"
username = "hr-reader"
password = { env = "HR_CSV_PASSWORD" }
ca_file = "{ca}"
""",
}


@pytest.mark.parametrize(
    ("example", "people", "source"),
    [
        ("file", 4, "export:workers.csv"),
        ("workday-oauth", 4, f"live:{{server}}{RAAS_PATH}"),
        ("bamboohr", 3, f"live:{{server}}{BAMBOO_CUSTOM}"),
        ("csv-basic", 4, f"live:{{server}}{CSV_PATH}"),
    ],
)
def test_first_run_examples(
    server: HRServer, tmp_path: Path, example: str, people: int, source: str
) -> None:
    server.reset()
    table = FIRST_RUN[example].replace("{server}", server.url).replace("{ca}", str(server.ca_file))
    config = write_config(tmp_path, table)
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "workers.csv").write_bytes(hr_server.raas_csv())
    done = iam_gov(config, "collect", "-s", "hr")
    assert done.returncode == 0, done.stderr
    assert not [s for s in SECRETS if s in done.stdout + done.stderr]
    [(stored, snapshot_id)] = stored_sources(config)
    assert stored == source.replace("{server}", server.url)
    with sqlite3.connect(config.parent / "iam-gov.db") as conn:
        [(count,)] = conn.execute(
            "SELECT COUNT(*) FROM people WHERE snapshot_id = ?", (snapshot_id,)
        ).fetchall()
    assert count == people


def test_a_csv_cut_at_a_line_end_is_refused_by_the_drop_guard(
    server: HRServer, tmp_path: Path
) -> None:
    server.reset()
    config = write_config(
        tmp_path / "csv",
        f"""mode = "live"
url = "{server.url}{CSV_PATH}"
preset = "workday"
auth = "basic"
username = "{CSV_USER}"
password = {{ env = "HR_CSV_PASSWORD" }}
ca_file = "{server.ca_file}"
""",
    )
    first = iam_gov(config, "collect", "-s", "hr")
    assert first.returncode == 0, first.stderr
    # No length and the connection closed after the header and one row: only the count of
    # people can tell, and the drop guard refuses it; the last snapshot stays the latest.
    server.fault(CSV_PATH, "close")
    second = iam_gov(config, "collect", "-s", "hr")
    assert second.returncode != 0
    output = second.stdout + second.stderr
    assert "the export has 1 people, 75% fewer than the 4" in " ".join(output.split())
    assert len(stored_sources(config)) == 1
    assert not [s for s in SECRETS if s in output]


def test_wrong_bamboohr_key_through_the_cli(server: HRServer, tmp_path: Path) -> None:
    server.reset()
    config = write_config(
        tmp_path / "bamboo",
        f"""mode = "live"
bamboohr_subdomain = "acme"
bamboohr_api_key = {{ env = "WRONG_KEY" }}
bamboohr_api_url = "{server.url}"
ca_file = "{server.ca_file}"
""",
    )
    os.environ["WRONG_KEY"] = "not-the-key-4242"
    try:
        done = iam_gov(config, "collect", "-s", "hr")
    finally:
        del os.environ["WRONG_KEY"]
    assert done.returncode != 0
    output = " ".join((done.stdout + done.stderr).split())
    assert (
        "HTTP 401" in output and "check bamboohr_api_key (environment variable WRONG_KEY)" in output
    )
    assert "not-the-key-4242" not in output
    assert stored_sources(config) == []
