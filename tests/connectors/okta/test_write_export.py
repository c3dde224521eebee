"""`iam-gov export` for Okta: the live org read through the SDK and written in the layout the
export mode reads, which gives the same snapshot; and group-scoped app assignments read live
from the app users' own rows."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.okta.connector import OktaConnector, OktaOptions
from iam_gov.connectors.okta.records import UNKNOWN_APP_GROUPS, UNKNOWN_MEMBERS
from iam_gov.connectors.shared.protocol import ExportNotSupported
from iam_gov.model import SystemSnapshot
from tests.support.okta_server import OktaServer, Org, example_org

from .test_connector import NOW, export, grants, live, okta_env

__all__ = ["okta_env"]


@pytest.fixture(scope="module")
def org() -> Org:
    return example_org()


@pytest.fixture(scope="module")
def server(org: Org, okta_env: None) -> Iterator[OktaServer]:
    with OktaServer(org) as running:
        yield running


@pytest.fixture(scope="module")
def snapshot(server: OktaServer) -> SystemSnapshot:
    return live(server).collect()


def read_back(folder: Path, table: dict[str, Any]) -> SystemSnapshot:
    """The options table of an export, its paths taken relative to the folder."""
    options = OktaOptions.model_validate(table, context={"base_dir": folder})
    return OktaConnector("okta", options).collect()


def test_the_export_reads_back_as_the_live_snapshot(
    server: OktaServer, snapshot: SystemSnapshot, org: Org, tmp_path: Path
) -> None:
    written = live(server).write_export(tmp_path)

    assert written.problems == ()
    on_disk = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    assert set(written.files) == on_disk
    alice, engineering = org.user("alice@example.com").id, org.group("Engineering").id
    assert {
        Path("users.json"),
        Path("users-deprovisioned.json"),
        Path(f"factors/{alice}.json"),
        Path(f"group-members/{engineering}.json"),
        Path("role-assignees.json"),
        Path("policies-password.json"),
    } <= on_disk
    assert dict(written.options) == {
        "type": "okta",
        "mode": "export",
        "path": ".",
        "exported_at": NOW,
        "employee_id_attribute": "employeeNumber",
        "collect_factors": True,
        "password_policies": "policies-password.json",
    }
    read = read_back(tmp_path, dict(written.options))

    assert read.errors == ()
    assert read.model_dump(exclude={"source"}) == snapshot.model_dump(exclude={"source"})
    assert read.source == f"export:{tmp_path.name}"


def test_what_could_not_be_read_is_missing_and_said(
    org: Org, okta_env: None, tmp_path: Path
) -> None:
    sales = org.group("Sales").id
    with OktaServer(org) as server:
        server.fail("GET", rf"^/api/v1/groups/{sales}/users", status=500, times=None)
        connector = live(server, max_retries=0)
        written = connector.write_export(tmp_path)
        from_live = live(server, max_retries=0).collect()

    assert not (tmp_path / "group-members" / f"{sales}.json").exists()
    assert not list(tmp_path.rglob("*.part"))
    (problem,) = written.problems
    assert "group members unknown" in problem and UNKNOWN_MEMBERS in problem
    read = read_back(tmp_path, dict(written.options))
    # Read back, the export is as incomplete as the live read was, for the same reason.
    assert not read.complete and not from_live.complete
    (error,) = read.errors
    assert (error.record, error.consequence) == (sales, UNKNOWN_MEMBERS)
    assert read.grants == from_live.grants


def test_an_export_is_not_exported_again(tmp_path: Path) -> None:
    with pytest.raises(ExportNotSupported, match="already read an export"):
        export(tmp_path).write_export(tmp_path / "out")


def test_the_options_never_hold_the_token(server: OktaServer, tmp_path: Path) -> None:
    written = live(server).write_export(tmp_path)

    assert not {"api_token", "org_url", "client_id", "private_key"} & set(written.options)
    assert not any(
        os.environ["OKTA_API_TOKEN"] in p.read_text() for p in tmp_path.rglob("*") if p.is_file()
    )


# --- group-scoped app assignments, live -------------------------------------------------------


def test_refused_app_groups_are_told_by_the_app_users(
    org: Org, snapshot: SystemSnapshot, okta_env: None
) -> None:
    with OktaServer(org) as server:
        server.fail("GET", r"^/api/v1/apps/[^/]+/groups", status=403, times=None)
        read = live(server).collect()

    assert read.complete, read.errors
    assert read.grants == snapshot.grants
    (note,) = read.errors
    assert note.source == "/api/v1/apps/{id}/groups" and note.message.startswith("refused")
    assert "come from the app users instead" in note.message


def test_without_group_links_refused_app_groups_leave_them_unknown(okta_env: None) -> None:
    org = example_org()
    org.app_group_links = False
    with OktaServer(org) as server:
        server.fail("GET", r"^/api/v1/apps/[^/]+/groups", status=403, times=None)
        read = live(server).collect()

    assert not read.complete
    (problem,) = read.errors
    assert problem.consequence == UNKNOWN_APP_GROUPS
    assert ("app:Slack", "Everyone") not in grants(read, org, "bob")
    assert ("app:Legacy CRM", None) in grants(read, org, "bob")  # direct ones stay known


# --- the command ------------------------------------------------------------------------------


def test_iam_gov_export_command(
    server: OktaServer, snapshot: SystemSnapshot, tmp_path: Path
) -> None:
    config = tmp_path / "iam-gov.toml"
    config.write_text(
        '[policy]\npath = "policy.yaml"\n\n[systems.hr]\ntype = "hr"\npath = "hr.csv"\n\n'
        f'[systems.okta]\ntype = "okta"\nmode = "live"\norg_url = "{server.url}"\n'
        "allow_http = true\n"
        'api_token = { env = "OKTA_API_TOKEN" }\n'
    )
    out = tmp_path / "okta-export"
    env = {**os.environ, "IAM_GOV_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    env.pop("IAM_GOV_CONFIG", None)

    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "iam_gov",
            "--config",
            str(config),
            "export",
            "okta",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )

    assert ran.returncode == 0, ran.stderr
    assert "okta: wrote" in ran.stdout and "iam-gov-export.toml" in ran.stdout
    table = tomllib.loads((out / "iam-gov-export.toml").read_text())["systems"]["okta"]
    assert table["path"] == "." and "api_token" not in table
    read = read_back(out, table)
    assert read.model_dump(exclude={"source", "collected_at"}) == snapshot.model_dump(
        exclude={"source", "collected_at"}
    )


@pytest.mark.parametrize("folder_existed", [False, True])
def test_a_failed_export_leaves_no_part_of_itself(
    server: OktaServer, tmp_path: Path, folder_existed: bool
) -> None:
    """An export that fails (here the token is refused) leaves its folder as it found it:
    gone when the command made it, empty when it was given empty — never a part of an export
    that could be read back as the whole."""
    config = tmp_path / "iam-gov.toml"
    config.write_text(
        '[policy]\npath = "policy.yaml"\n\n[systems.hr]\ntype = "hr"\npath = "hr.csv"\n\n'
        f'[systems.okta]\ntype = "okta"\nmode = "live"\norg_url = "{server.url}"\n'
        "allow_http = true\n"
        'api_token = { env = "OKTA_API_TOKEN" }\n'
    )
    out = tmp_path / "okta-export"
    if folder_existed:
        out.mkdir()
    env = {
        **os.environ,
        "IAM_GOV_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "OKTA_API_TOKEN": "not-the-token",
    }
    env.pop("IAM_GOV_CONFIG", None)

    ran = subprocess.run(
        [sys.executable, "-m", "iam_gov", "--config", str(config), "export", "okta"]
        + ["--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )

    assert ran.returncode == 2, ran.stderr
    assert "Traceback" not in ran.stderr
    if folder_existed:
        assert list(out.iterdir()) == []
    else:
        assert not out.exists()
