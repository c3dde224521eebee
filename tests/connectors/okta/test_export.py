"""Okta collection from an export folder: what a missing, broken or foreign file means."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iam_gov.connectors.okta.connector import OktaConnector, OktaOptions
from iam_gov.errors import SourceError
from iam_gov.model import AccountStatus
from tests.support.okta_server import OktaServer, Org, example_org, write_export

from .test_connector import account, export, grants, okta_env

__all__ = ["okta_env"]  # the fixture, shared with test_connector


@pytest.fixture(scope="module")
def org() -> Org:
    return example_org()


@pytest.fixture(scope="module")
def server(org: Org, okta_env: None) -> Iterator[OktaServer]:
    """A server the tests of this module only export from."""
    with OktaServer(org) as running:
        yield running


@pytest.fixture(scope="module")
def exported(server: OktaServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("okta-export")
    write_export(server.url, folder)
    return folder


@pytest.fixture
def copy(exported: Path, tmp_path: Path) -> Path:
    """A copy of the export that a test may break."""
    return Path(shutil.copytree(exported, tmp_path / "export"))


# --- password policies ------------------------------------------------------------------------


def test_export_without_the_policy_file_leaves_them_unknown(copy: Path) -> None:
    snapshot = export(copy, password_policies=None).collect()

    assert snapshot.complete
    assert "password_policies" not in snapshot.settings
    (note,) = snapshot.errors
    assert note.message == "no file given: the org's password policies are unknown and not judged"


def test_export_policy_that_cannot_be_read_is_left_out(copy: Path) -> None:
    path = copy / "policies-password.json"
    policies = json.loads(path.read_text())
    policies[0]["settings"]["password"]["complexity"]["minLength"] = "eight"
    path.write_text(json.dumps(policies))

    snapshot = export(copy).collect()

    assert snapshot.complete  # no access is concluded from a password policy
    assert [p["name"] for p in snapshot.settings["password_policies"]] == ["Default Policy"]
    (note,) = snapshot.errors
    assert (note.record, note.message) == (
        policies[0]["id"],
        "minLength is not a number of 0 or more: 'eight': the record is left out",
    )


def test_export_policy_file_named_but_not_there(copy: Path) -> None:
    with pytest.raises(SourceError, match="policies.json: file not found"):
        export(copy, password_policies=copy / "policies.json").collect()


# --- export problems ------------------------------------------------------------------------


def test_export_with_a_missing_file_is_incomplete_not_empty(copy: Path, org: Org) -> None:
    engineering = org.group("Engineering").id
    alice = org.user("alice@example.com").id
    (copy / "group-members" / f"{engineering}.json").unlink()
    (copy / "factors" / f"{alice}.json").unlink()

    snapshot = export(copy).collect()

    assert not snapshot.complete
    assert {(e.record, e.message) for e in snapshot.errors} == {
        (engineering, "not in the export: the members of group Engineering are unknown"),
        (alice, "not in the export: the MFA factors of alice@example.com are unknown"),
    }
    assert account(snapshot, org, "alice").mfa_factors is None
    assert ("group:Engineering", None) not in grants(snapshot, org, "alice")


def test_export_without_a_folder_says_so_once(copy: Path, org: Org) -> None:
    shutil.rmtree(copy / "factors")

    snapshot = export(copy).collect()

    assert not snapshot.complete
    (error,) = snapshot.errors
    assert error.source == str(copy / "factors")
    assert error.message == "not in the export: the MFA factors of every user are unknown"
    assert str(error).startswith(str(copy / "factors"))


def test_export_without_deactivated_users_is_complete(copy: Path, org: Org) -> None:
    (copy / "users-deprovisioned.json").unlink()

    snapshot = export(copy).collect()

    assert snapshot.complete
    (note,) = snapshot.errors
    assert "deactivated users are left out" in note.message and not note.fatal
    # dave is still a member of Engineering, so he is known from the member list.
    assert account(snapshot, org, "dave").status is AccountStatus.DISABLED


def test_export_pages_may_come_merged(copy: Path, org: Org) -> None:
    pages = [json.loads(line) for line in (copy / "users.json").read_text().splitlines()]
    (copy / "users.json").write_text(json.dumps(pages))  # as `jq -s` writes them

    assert export(copy).collect().complete


def test_export_with_broken_json_names_file_and_line(copy: Path) -> None:
    (copy / "groups.json").write_text('[\n  {"id": "00g1", \n  oops\n]')

    with pytest.raises(SourceError) as raised:
        export(copy).collect()

    assert str(raised.value).startswith(f"{copy / 'groups.json'}:3: not valid JSON")


def test_export_that_is_not_okta_output(copy: Path) -> None:
    (copy / "apps.json").write_text('{"value": []}')

    with pytest.raises(SourceError, match=r"apps.json: page 1 is not a JSON array"):
        export(copy).collect()


def test_export_folder_must_exist(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a folder"):
        export(tmp_path / "nowhere").collect()


def test_export_ids_never_become_paths(copy: Path) -> None:
    groups = json.loads((copy / "groups.json").read_text().splitlines()[0])
    groups[0]["id"] = "../../../etc/passwd"
    (copy / "groups.json").write_text(json.dumps(groups))

    snapshot = export(copy).collect()

    assert not snapshot.complete
    error = next(e for e in snapshot.errors if e.source.endswith("groups.json"))
    assert error.record == "item 1"
    assert error.message == (
        "the group has an id that is not an Okta id: '../../../etc/passwd': the record is left out"
    )
    assert all(".." not in e.entitlement_id for e in snapshot.entitlements)


def test_export_time_defaults_to_the_file_time(copy: Path) -> None:
    stamp = 1_767_225_600  # 2026-01-01 00:00 UTC
    os.utime(copy / "users.json", (stamp, stamp))
    options = OktaOptions.model_validate(
        {
            "type": "okta",
            "mode": "export",
            "path": copy,
            "password_policies": copy / "policies-password.json",
        }
    )

    snapshot = OktaConnector("okta", options).collect()

    assert snapshot.collected_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert snapshot.complete
    (note,) = snapshot.errors
    assert "exported_at not given" in note.message and "2026-01-01 00:00" in note.message
