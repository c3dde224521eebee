"""Entra connector reading a Graph dump as an operator's own script saves it: ``$expand``ed
relations, ``@odata.nextLink`` pages under the usual file names, and what a missing page,
a capped expansion or a duplicate file means."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.entra.connector import EntraConnector, EntraOptions
from iam_gov.model import SnapshotError, SystemSnapshot
from tests.support.graph_server import GraphServer, oid, running_server
from tests.support.graph_tenant import demo_tenant, live_connector, script_dump

EXPORTED_AT = "2026-02-28T09:00:00Z"
BIG = oid("group: Everyone Big")


def _tenant() -> Any:
    """The demo tenant, and a group with more members than Graph expands (25)."""
    tenant = demo_tenant()
    tenant.groups[BIG] = dict(tenant.groups[oid("group: Engineering")], id=BIG,
                              displayName="Everyone Big")  # fmt: skip
    extra = {}
    for number in range(22):
        user = dict(next(iter(tenant.users.values())))
        user.update(id=oid(f"filler {number}"), userPrincipalName=f"filler{number}@contoso.com",
                    displayName=f"Filler {number}", employeeId=f"F{number:03}")  # fmt: skip
        extra[user["id"]] = user
    tenant.users.update(extra)
    tenant.members[BIG] = [*extra, oid("alice"), oid("bob"), oid("group: Platform")]
    return tenant


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphServer]:
    yield from running_server(tmp_path_factory)


@pytest.fixture(scope="module")
def live(server: GraphServer) -> SystemSnapshot:
    server.reset(_tenant())
    return live_connector(server, token_provider=server.issue_token).collect()


@pytest.fixture(scope="module")
def dumped(server: GraphServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    server.reset(_tenant())
    server.page_size = 10  # users and groups on several pages
    folder = tmp_path_factory.mktemp("script-dump")
    return folder, script_dump(server, folder)


@pytest.fixture
def dump(dumped: tuple[Path, Any], tmp_path: Path) -> Path:
    copy = tmp_path / "dump"
    shutil.copytree(dumped[0], copy)
    return copy


def _collect(folder: Path) -> SystemSnapshot:
    options = EntraOptions.model_validate(
        {"type": "entra", "mode": "export", "path": folder, "exported_at": EXPORTED_AT}
    )
    return EntraConnector("entra-prod", options).collect()


def _comparable(snapshot: SystemSnapshot) -> dict[str, Any]:
    return snapshot.model_dump(exclude={"source", "collected_at", "errors"})


def _problems(snapshot: SystemSnapshot) -> list[SnapshotError]:
    return [e for e in snapshot.errors if e.consequence is not None]


def test_the_dump_is_what_a_script_writes(dumped: tuple[Path, Any]) -> None:
    folder, written = dumped
    assert written["users"] == ["users.json", "users_2.json", "users_3.json"]
    assert written["groups"] == ["groups/page-001.json"]
    assert written["members"] == [f"{BIG}_members.json"]
    assert not (folder / "role-definitions.json").exists()
    text = (folder / "roleManagement_directory_roleAssignments.json").read_text()
    assignment = json.loads(text.splitlines()[0])
    assert assignment["@odata.context"].endswith(
        "$metadata#roleManagement/directory/roleAssignments(roleDefinition(),principal())"
    )
    assert assignment["value"][0]["roleDefinition"]["displayName"] == "Global Administrator"
    big = next(
        g
        for g in json.loads((folder / "groups/page-001.json").read_text())["value"]
        if g["id"] == BIG
    )
    assert len(big["members"]) == 20  # Graph's cap: the rest are in the members file


def test_a_script_dump_gives_the_same_model_as_live(live: SystemSnapshot, dump: Path) -> None:
    exported = _collect(dump)

    assert live.complete, live.errors
    assert exported.complete, exported.errors
    assert exported.errors == ()  # every file recognised, nothing noted
    assert _comparable(exported) == _comparable(live)
    # The role's name came from the expanded roleDefinition, not from a definitions file.
    names = {e.name for e in exported.entitlements if e.kind == "directory-role"}
    assert "Global Administrator" in names
    # Members beyond the 20 expanded came from the members file.
    big = {g.account_id for g in exported.grants if g.entitlement_id == f"groups/{BIG}"}
    assert len(big) == 22 + 2 + 1  # fillers, alice, bob, and frank through Platform


def test_a_missing_last_page_is_incomplete_with_its_consequence(dump: Path) -> None:
    (dump / "users_3.json").unlink()

    snapshot = _collect(dump)

    assert not snapshot.complete
    [problem] = [e for e in _problems(snapshot) if e.source.endswith("users_2.json")]
    assert "page 2 says more pages follow (@odata.nextLink)" in problem.message
    assert problem.consequence is not None
    assert problem.consequence.startswith("users after page 2 unknown: their accounts are not")


def test_a_missing_middle_page_is_incomplete(dump: Path) -> None:
    (dump / "users_2.json").unlink()

    snapshot = _collect(dump)

    assert not snapshot.complete
    gap = next(e for e in snapshot.errors if e.source == str(dump / "users_3.json"))
    assert gap.message == "page 2 of the users missing: no saved file holds it"
    assert gap.consequence is not None and gap.consequence.startswith("users on page 2 unknown")


def test_pages_under_other_usual_names(live: SystemSnapshot, dump: Path) -> None:
    # users/page-001.json … and the users' pages as one JSON array of bodies elsewhere.
    (dump / "users").mkdir()
    for number, name in enumerate(("users.json", "users_2.json", "users_3.json"), start=1):
        (dump / name).rename(dump / "users" / f"page-{number:03}.json")
    (dump / "groups" / "page-001.json").rename(dump / "groups.page1.json")
    (dump / "groups").rmdir()
    registrations = dump / "reports_authenticationMethods_userRegistrationDetails.json"
    registrations.rename(dump / "userRegistrationDetails.json")

    snapshot = _collect(dump)

    assert snapshot.complete and snapshot.errors == (), snapshot.errors
    assert _comparable(snapshot) == _comparable(live)


def test_files_are_recognised_by_their_context_whatever_their_name(
    live: SystemSnapshot, dump: Path
) -> None:
    for number, name in enumerate(("users.json", "users_2.json", "users_3.json"), start=1):
        (dump / name).rename(dump / f"export-{number}.json")
    (dump / "domains.json").rename(dump / "tenant-domains-today.json")

    snapshot = _collect(dump)

    assert snapshot.complete and snapshot.errors == (), snapshot.errors
    assert _comparable(snapshot) == _comparable(live)


def test_a_capped_expansion_without_its_members_file_is_incomplete(dump: Path) -> None:
    (dump / f"{BIG}_members.json").unlink()

    snapshot = _collect(dump)

    assert not snapshot.complete
    [problem] = _problems(snapshot)
    assert problem.record == BIG
    assert "$expand=members, which gives at most 20" in problem.message
    assert problem.consequence == (
        "members of group Everyone Big beyond the first 20 unknown: access held through "
        "group Everyone Big is not concluded"
    )
    # Nothing is concluded from the 20 that were saved either.
    assert not any(g.entitlement_id == f"groups/{BIG}" for g in snapshot.grants)


def test_role_assignments_without_names_are_incomplete(dump: Path) -> None:
    path = dump / "roleManagement_directory_roleAssignments.json"
    bodies = [json.loads(line) for line in path.read_text().splitlines()]
    for body in bodies:
        for assignment in body["value"]:
            del assignment["roleDefinition"]
        body["@odata.context"] = body["@odata.context"].split("(")[0]
    path.write_text(json.dumps(bodies))  # now a JSON array of bodies

    snapshot = _collect(dump)

    assert not snapshot.complete
    [problem] = _problems(snapshot)
    assert problem.source == str(dump / "role-definitions.json")
    assert problem.message.startswith(
        "no such file, and the role assignments were saved without $expand=roleDefinition: "
        "3 directory roles held by users or groups are named by their ids"
    )
    assert problem.consequence is not None
    assert problem.consequence.startswith("directory role names unknown: privileged-access")


def test_the_same_list_twice_is_loud_when_they_differ(dump: Path) -> None:
    original = dump / "roleManagement_directory_roleAssignments.json"
    bodies = [json.loads(line) for line in original.read_text().splitlines()]
    (dump / "roleAssignments.json").write_text(json.dumps(bodies))  # an identical copy

    same = _collect(dump)
    assert same.complete
    assert [e.message for e in same.errors] == [f"the same records as {original}: read once"] or [
        e.message for e in same.errors
    ] == [f"the same records as {dump / 'roleAssignments.json'}: read once"]

    bodies[-1]["value"].pop()
    (dump / "roleAssignments.json").write_text(json.dumps(bodies))

    differ = _collect(dump)
    assert not differ.complete
    [problem] = _problems(differ)
    assert str(original) in problem.message and str(dump / "roleAssignments.json") in (
        problem.message
    )
    assert "both hold the directory role holders and differ" in problem.message
    assert problem.consequence is not None
    assert problem.consequence.startswith("which of them is current is unknown")


def test_unrecognised_json_is_noted_and_a_bad_file_is_a_problem(dump: Path) -> None:
    (dump / "notes.json").write_text(json.dumps({"exportedBy": "ops"}))
    (dump / "conditional-access.json").write_text(json.dumps([{"id": "x", "state": "on"}]))
    (dump / "servicePrincipals.json").write_text('[{"value": [')

    snapshot = _collect(dump)

    assert not snapshot.complete
    bad = next(e for e in snapshot.errors if e.source.endswith("servicePrincipals.json"))
    assert bad.message.startswith("not JSON") and bad.line == 1
    assert bad.consequence is not None and bad.consequence.startswith("the applications are")
    noted = {e.source: e.message for e in snapshot.errors if e.consequence is None}
    assert noted[str(dump / "conditional-access.json")].startswith(
        "not a Graph list the Entra export reads"
    )
    # A single object is no list at all: named, not read, and not taken for anything else.
    assert noted[str(dump / "notes.json")].startswith("expected Graph records")
    assert noted[str(dump / "notes.json")].endswith(": not read")
    # The app role holders were expanded inside the unreadable file: unknown too.
    assert [e.source for e in _problems(snapshot)] == [
        bad.source,
        str(dump / "app-role-assignments"),
    ]


def test_memberships_from_users_and_groups_expanded_with_member_of(
    server: GraphServer, live: SystemSnapshot, dump: Path
) -> None:
    import httpx

    server.reset(_tenant())
    token = server.issue_token()

    def body(path: str, params: dict[str, str]) -> dict[str, Any]:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
            answer = client.get(f"{server.url}/v1.0{path}", params=params)
            return dict(answer.raise_for_status().json())

    # GET /users?$expand=memberOf and GET /groups?$expand=memberOf: no member lists at all.
    users = json.loads((dump / "users.json").read_text())
    for name in ("users_2.json", "users_3.json", f"{BIG}_members.json"):
        (dump / name).unlink()
    shutil.rmtree(dump / "groups")
    expanded_users = body("/users", {"$select": "id", "$expand": "memberOf", "$top": "999"})
    by_id = {u["id"]: u["memberOf"] for u in expanded_users["value"]}
    users["value"] = [
        dict(u, memberOf=by_id[u["id"]]) for u in [*_all_users(server, body)] if u["id"] in by_id
    ]
    users.pop("@odata.nextLink")
    (dump / "users.json").write_text(json.dumps(users))
    groups = body("/groups", {"$expand": "memberOf", "$top": "999"})
    (dump / "groups.json").write_text(json.dumps(groups))

    snapshot = _collect(dump)

    assert snapshot.complete, snapshot.errors
    assert _comparable(snapshot)["grants"] == _comparable(live)["grants"]


def _all_users(server: GraphServer, body: Any) -> list[dict[str, Any]]:
    from iam_gov.connectors.entra import live

    select = ",".join((*live.USER_FIELDS, "signInActivity"))
    return list(body("/users", {"$select": select, "$top": "500"})["value"])
