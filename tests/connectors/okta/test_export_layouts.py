"""Okta exports as scripts write them: other file and folder namings, found by content and by
the id in the path; what two disagreeing files, unknown files and missing parts mean."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.okta.records import (
    UNKNOWN_APP_GROUPS,
    UNKNOWN_FACTORS,
    UNKNOWN_MEMBERS,
    UNKNOWN_ROLES,
)
from iam_gov.model import SystemSnapshot
from tests.support.okta_server import OktaServer, Org, example_org, write_export

from .test_connector import account, export, grants, live, okta_env

__all__ = ["okta_env"]

Rename = Callable[[str, str], str]
"""(kind in the standard layout, object id) -> the path another script would use."""


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


@pytest.fixture(scope="module")
def exported(server: OktaServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("okta-export")
    write_export(server.url, folder)
    return folder


def relayout(standard: Path, out: Path, top: dict[str, str], per_object: Rename) -> Path:
    """The standard export's files, byte for byte, under another script's names."""
    for path in standard.rglob("*.json"):
        relative = path.relative_to(standard)
        if len(relative.parts) == 1:
            target = out / top.get(relative.name, relative.name)
        else:
            target = out / per_object(relative.parts[0], relative.stem)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return out


NESTED = {
    "group-members": "groups/{id}/members.json",
    "group-roles": "groups/{id}/roles.json",
    "app-users": "apps/{id}/users.json",
    "app-groups": "apps/{id}/groups.json",
    "factors": "users/{id}/factors.json",
    "roles": "users/{id}/roles.json",
}
FLAT = {
    "group-members": "group_{id}_users.json",
    "group-roles": "group_{id}_roles.json",
    "app-users": "app_{id}_users.json",
    "app-groups": "app_{id}_groups.json",
    "factors": "factors_{id}.json",
    "roles": "roles-{id}.json",
}
DOTTED = {
    "group-members": "okta/members-{id}.json",
    "group-roles": "okta/{id}.roles.json",
    "app-users": "okta/{id}.users.json",
    "app-groups": "okta/{id}.groups.json",
    "factors": "okta/{id}.factors.json",
    "roles": "okta/{id}.roles.json",
}
SCRIPT_TOP = {
    "users.json": "okta_users.json",
    "users-deprovisioned.json": "okta_users_deactivated.json",
    "groups.json": "okta_groups.json",
    "apps.json": "okta_apps.json",
    "role-assignees.json": "admins.json",
}


@pytest.mark.parametrize(
    ("naming", "top"),
    [(NESTED, SCRIPT_TOP), (FLAT, {}), (DOTTED, SCRIPT_TOP)],
    ids=["nested-folders", "flat-names", "ids-before-the-kind"],
)
def test_other_namings_give_the_live_model(
    exported: Path,
    snapshot: SystemSnapshot,
    tmp_path: Path,
    naming: dict[str, str],
    top: dict[str, str],
) -> None:
    folder = relayout(exported, tmp_path / "x", top, lambda k, i: naming[k].format(id=i))
    assert not (folder / "group-members").exists()

    read = export(folder, password_policies=folder / "policies-password.json").collect()

    assert read.errors == (), read.errors
    assert read.model_dump(exclude={"source", "collected_at"}) == snapshot.model_dump(
        exclude={"source", "collected_at"}
    )


def test_user_list_in_pages_of_separate_files(
    exported: Path, snapshot: SystemSnapshot, tmp_path: Path, org: Org
) -> None:
    folder = Path(shutil.copytree(exported, tmp_path / "x"))
    users = json.loads((folder / "users.json").read_text())
    (folder / "users.json").unlink()
    (folder / "users_page1.json").write_text(json.dumps(users[:4]))
    (folder / "users_page2.json").write_text(json.dumps(users[4:]))
    # A group's members, saved page by page too.
    everyone = org.everyone.id
    members = json.loads((folder / "group-members" / f"{everyone}.json").read_text())
    (folder / "group-members" / f"{everyone}.json").unlink()
    (folder / "group-members" / f"{everyone}-page-1.json").write_text(json.dumps(members[:3]))
    (folder / "group-members" / f"{everyone}-page-2.json").write_text(json.dumps(members[3:]))

    read = export(folder).collect()

    assert read.errors == (), read.errors
    assert read.model_dump(exclude={"source", "collected_at"}) == snapshot.model_dump(
        exclude={"source", "collected_at"}
    )


def test_two_files_that_disagree_leave_the_part_unknown(
    exported: Path, tmp_path: Path, org: Org
) -> None:
    folder = Path(shutil.copytree(exported, tmp_path / "x"))
    engineering = org.group("Engineering").id
    standard = folder / "group-members" / f"{engineering}.json"
    members = json.loads(standard.read_text())
    other = folder / "groups" / engineering / "users.json"
    other.parent.mkdir(parents=True)
    other.write_text(json.dumps(members[:1]))  # an older copy, say

    read = export(folder).collect()

    assert not read.complete
    (problem,) = read.errors
    assert problem.record == engineering
    assert str(standard) in problem.message and str(other) in problem.message
    assert "differ: neither is taken" in problem.message
    assert problem.consequence == UNKNOWN_MEMBERS
    # Neither is picked: no member of Engineering is concluded to be one.
    assert ("group:Engineering", None) not in grants(read, org, "alice")
    assert ("group:Engineering", None) not in grants(read, org, "bob")


def test_the_same_content_twice_is_no_conflict(
    exported: Path, snapshot: SystemSnapshot, tmp_path: Path, org: Org
) -> None:
    folder = Path(shutil.copytree(exported, tmp_path / "x"))
    alice = org.user("alice@example.com").id
    (folder / "backup").mkdir()
    shutil.copyfile(
        folder / "factors" / f"{alice}.json", folder / "backup" / f"{alice}.factors.json"
    )

    read = export(folder).collect()

    assert read.errors == ()
    assert account(read, org, "alice").mfa_factors == ("push", "token:software:totp")


def test_files_not_read_are_listed(exported: Path, tmp_path: Path, org: Org) -> None:
    folder = Path(shutil.copytree(exported, tmp_path / "x"))
    (folder / "notes.json").write_text('{"exported by": "a script"}')
    (folder / "factors" / "00u99999999999999999.json").write_text("[]")
    (folder / "broken.json").write_text("{oops")

    read = export(folder).collect()

    assert read.complete  # none of them holds what iam-gov reads
    notes = {Path(e.source).name: e.message for e in read.errors}
    assert notes == {
        "notes.json": "not read: not recognised as what an Okta API call iam-gov reads returns",
        "00u99999999999999999.json": "not read: it names 00u99999999999999999, which is not "
        "in the user, group or app lists (deleted since?)",
        "broken.json": "not read: not valid JSON (Expecting property name enclosed in double "
        "quotes), and the path names no object iam-gov reads",
    }


def test_a_broken_file_about_one_object_is_that_objects_problem(
    exported: Path, tmp_path: Path, org: Org
) -> None:
    folder = relayout(exported, tmp_path / "x", {}, lambda k, i: FLAT[k].format(id=i))
    alice = org.user("alice@example.com").id
    (folder / f"factors_{alice}.json").write_text("[{")

    read = export(folder).collect()

    assert not read.complete
    (problem,) = read.errors
    assert (problem.source, problem.record) == (str(folder / f"factors_{alice}.json"), alice)
    assert problem.consequence == UNKNOWN_FACTORS
    assert account(read, org, "alice").mfa_factors is None


def test_every_missing_part_says_what_is_not_concluded(
    exported: Path, tmp_path: Path, org: Org
) -> None:
    folder = Path(shutil.copytree(exported, tmp_path / "x"))
    (folder / "group-members" / f"{org.group('Sales').id}.json").unlink()
    (folder / "factors" / f"{org.user('bob@example.com').id}.json").unlink()
    (folder / "role-assignees.json").unlink()

    read = export(folder).collect()

    assert not read.complete
    assert {e.message: e.consequence for e in read.errors} == {
        "not in the export: the members of group Sales are unknown": UNKNOWN_MEMBERS,
        "not in the export: the MFA factors of bob@example.com are unknown": UNKNOWN_FACTORS,
        "not in the export: the users' own admin roles are unknown": UNKNOWN_ROLES,
    }
    assert UNKNOWN_FACTORS == "MFA factors unknown: mfa-missing is not concluded for these users"


# --- group-scoped app assignments from the app users' own rows ---------------------------------


def test_without_app_groups_the_app_users_rows_name_the_groups(
    exported: Path, snapshot: SystemSnapshot, tmp_path: Path, org: Org
) -> None:
    folder = Path(shutil.copytree(exported, tmp_path / "x"))
    shutil.rmtree(folder / "app-groups")

    read = export(folder).collect()

    assert read.complete, read.errors
    assert read.grants == snapshot.grants
    assert ("app:Slack", "Everyone") in grants(read, org, "bob")
    # alice holds GitHub directly, and through Engineering, which bob's row names.
    assert ("app:GitHub", "Engineering") in grants(read, org, "alice")
    (note,) = read.errors
    assert note.source == str(folder / "app-groups")
    assert note.message.startswith("not in the export: the groups assigned to apps are unknown")
    assert note.consequence is not None and "is not seen" in note.consequence


def test_without_app_groups_or_group_links_the_assignments_are_unknown(
    okta_env: None, tmp_path: Path
) -> None:
    org = example_org()
    org.app_group_links = False  # rows as some API versions or proxies give them
    with OktaServer(org) as server:
        write_export(server.url, tmp_path)
    (tmp_path / "app-groups" / f"{org.app('Slack').id}.json").unlink()

    read = export(tmp_path).collect()

    assert not read.complete
    (problem,) = read.errors
    assert problem.record == org.app("Slack").id
    assert problem.message == "not in the export: the groups assigned to app Slack are unknown"
    assert problem.consequence == UNKNOWN_APP_GROUPS
    assert problem.consequence == (
        "group-scoped app assignments unknown: excess and leaver findings for okta apps are "
        "not concluded"
    )
    assert ("app:Slack", "Everyone") not in grants(read, org, "bob")
    assert ("app:GitHub", "Engineering") in grants(read, org, "bob")  # its groups are known


def _rows(path: Path) -> list[Any]:
    return [row for line in path.read_text().splitlines() for row in json.loads(line)]


def test_a_group_link_is_enough_without_the_members(
    exported: Path, tmp_path: Path, org: Org
) -> None:
    folder = Path(shutil.copytree(exported, tmp_path / "x"))
    salesforce = org.app("Salesforce").id
    sales = org.group("Sales").id
    rows = _rows(folder / "app-users" / f"{salesforce}.json")
    assert {r["_links"]["group"]["href"].rsplit("/", 1)[1] for r in rows} == {sales}
    (folder / "group-members" / f"{sales}.json").unlink()
    shutil.rmtree(folder / "app-groups")

    read = export(folder).collect()

    assert not read.complete  # Sales' members are unknown …
    assert ("app:Salesforce", "Sales") in grants(read, org, "erin")  # … but not erin's app
