"""Entra connector reading saved Graph JSON: the same model as live, the shapes `az rest` and
Graph Explorer save, and what a partial export means."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.entra.connector import EntraConnector, EntraOptions
from iam_gov.connectors.entra.to_model import is_eligible
from iam_gov.errors import SourceError
from iam_gov.model import SystemSnapshot
from tests.support.graph_server import (
    GraphServer,
    oid,
    running_server,
)
from tests.support.graph_tenant import (
    GLOBAL_ADMIN,
    HELPDESK_ADMIN,
    demo_tenant,
    export_tenant,
    live_connector,
)

EXPORTED_AT = "2026-02-28T09:00:00Z"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphServer]:
    yield from running_server(tmp_path_factory)


@pytest.fixture(scope="module")
def live(server: GraphServer) -> SystemSnapshot:
    server.reset(demo_tenant())
    return live_connector(server, token_provider=server.issue_token).collect()


@pytest.fixture(scope="module")
def saved(server: GraphServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo tenant as saved by an operator (the module's tests copy it before editing)."""
    server.reset(demo_tenant())
    server.page_size = 2  # several pages per list, saved in each of the accepted shapes
    folder = tmp_path_factory.mktemp("entra-export")
    export_tenant(server, folder)
    return folder


@pytest.fixture
def folder(saved: Path, tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "contoso"
    shutil.copytree(saved, copy)
    return copy


def _export(folder: Path, **extra: Any) -> EntraConnector:
    options = EntraOptions.model_validate(
        {"type": "entra", "mode": "export", "path": folder, "exported_at": EXPORTED_AT, **extra}
    )
    return EntraConnector("entra-prod", options)


def _comparable(snapshot: SystemSnapshot) -> dict[str, Any]:
    return snapshot.model_dump(exclude={"source", "collected_at"})


def _write(path: Path, content: Any) -> None:
    path.write_text(json.dumps(content))


def test_export_gives_the_same_model_as_live(live: SystemSnapshot, folder: Path) -> None:
    exported = _export(folder).collect()

    assert live.complete and exported.complete, exported.errors
    assert _comparable(exported) == _comparable(live)
    assert exported.source == "export:contoso"
    assert exported.collected_at.isoformat() == "2026-02-28T09:00:00+00:00"
    assert len(exported.accounts) == 6 and exported.errors == ()


def test_the_saved_shapes_are_all_read(saved: Path) -> None:
    # What export_tenant wrote: a plain list, one page, a list of pages.
    assert isinstance(json.loads((saved / "users.json").read_text()), list)
    assert "value" in json.loads((saved / "groups.json").read_text())
    pages = json.loads((saved / "role-assignments.json").read_text())
    assert isinstance(pages, list) and len(pages) == 2 and "@odata.nextLink" in pages[0]


def test_directory_roles_from_the_older_api(live: SystemSnapshot, folder: Path) -> None:
    (folder / "role-assignments.json").unlink()
    (folder / "role-definitions.json").unlink()
    # GET /directoryRoles and GET /directoryRoles/{id}/members: activated roles, whole tenant.
    roles = [
        {"id": oid("directoryRole: ga"), "displayName": "Global Administrator",
         "description": "Can do what a Global Administrator does.", "roleTemplateId": GLOBAL_ADMIN},
        {"id": oid("directoryRole: hd"), "displayName": "Helpdesk Administrator",
         "description": "Can do what a Helpdesk Administrator does.",
         "roleTemplateId": HELPDESK_ADMIN},
    ]  # fmt: skip
    _write(folder / "directory-roles.json", {"value": roles})
    (folder / "directory-role-members").mkdir()
    _write(
        folder / "directory-role-members" / f"{roles[0]['id']}.json",
        {"value": [{"@odata.type": "#microsoft.graph.user", "id": oid("alice")}]},
    )
    _write(
        folder / "directory-role-members" / f"{roles[1]['id']}.json",
        [{"@odata.type": "#microsoft.graph.group", "id": oid("group: Helpdesk Admins")}],
    )

    exported = _export(folder).collect()

    assert exported.complete, exported.errors

    def roles_of(snapshot: SystemSnapshot) -> set[tuple[str, str, str | None]]:
        return {
            (g.account_id, g.entitlement_id, g.via)
            for g in snapshot.grants
            if g.entitlement_id.startswith("roleDefinitions/")
            and "@" not in g.entitlement_id
            and not is_eligible(g.via)  # PIM's eligible roles are read from their own file
        }

    assert roles_of(exported) == roles_of(live) and len(roles_of(live)) == 2
    scoped = [e for e in live.entitlements if "@" in e.entitlement_id]
    assert [e for e in exported.entitlements if e.kind == "directory-role"] == [
        e for e in live.entitlements if e.kind == "directory-role" and e not in scoped
    ]


def test_a_page_that_says_more_follow_is_an_incomplete_export(folder: Path) -> None:
    page = json.loads((folder / "groups.json").read_text())
    page["@odata.nextLink"] = "https://graph.microsoft.com/v1.0/groups?$skiptoken=X"
    _write(folder / "groups.json", page)

    snapshot = _export(folder).collect()

    assert not snapshot.complete
    [error] = snapshot.errors
    assert error.source == str(folder / "groups.json")
    assert "more pages follow (@odata.nextLink)" in error.message


def test_missing_files_that_hold_access_make_it_incomplete(folder: Path) -> None:
    engineering = oid("group: Engineering")
    (folder / "group-members" / f"{engineering}.json").unlink()
    for name in ("user-registration-details.json", "domains.json"):
        (folder / name).unlink()

    snapshot = _export(folder).collect()

    assert not snapshot.complete
    problems = {str(e) for e in snapshot.errors}
    assert problems == {
        f"{folder}/group-members/{engineering}.json: no such file: the members of group "
        "Engineering are unknown (access held through group Engineering is not concluded)",
        f"{folder}/user-registration-details.json: no such file: MFA registration is unknown, "
        "so no account is taken to lack MFA",
        f"{folder}/domains.json: no such file: users of federated domains are taken to have a "
        "password in Entra",
    }
    assert all(a.mfa_factors is None for a in snapshot.accounts)
    dave = next(c for c in snapshot.credentials if c.account_id == oid("dave"))
    assert dave.active  # federation unknown: taken to be a password Entra checks


def test_only_account_details_missing_is_still_complete(folder: Path) -> None:
    (folder / "user-registration-details.json").unlink()
    users = json.loads((folder / "users.json").read_text())
    for user in users:
        del user["signInActivity"]  # a tenant without P1
    _write(folder / "users.json", users)

    snapshot = _export(folder).collect()

    assert snapshot.complete
    assert [e.source for e in snapshot.errors] == [
        str(folder / "users.json"),
        str(folder / "user-registration-details.json"),
    ]
    assert "last sign-in is unknown for every user" in snapshot.errors[0].message
    assert all(a.last_login_at is None for a in snapshot.accounts)


def test_exported_at_defaults_to_the_newest_file(folder: Path) -> None:
    for number, path in enumerate(sorted(folder.rglob("*.json"))):
        os.utime(path, (1_770_000_000 + number, 1_770_000_000 + number))
    newest = 1_770_000_000 + len(list(folder.rglob("*.json"))) - 1

    snapshot = EntraConnector(
        "entra-prod",
        EntraOptions.model_validate({"type": "entra", "mode": "export", "path": folder}),
    ).collect()

    assert snapshot.collected_at.timestamp() == newest
    assert snapshot.complete
    assert snapshot.errors[-1].message.startswith("exported_at not given: taken to be the newest")


def test_a_bad_record_is_reported_and_the_others_read(folder: Path) -> None:
    users = json.loads((folder / "users.json").read_text())
    users[1]["accountEnabled"] = "perhaps"
    users.append(dict(users[0]))  # a page saved twice
    _write(folder / "users.json", users)

    snapshot = _export(folder).collect()

    assert not snapshot.complete
    assert len(snapshot.accounts) == 5
    bad, twice = snapshot.errors[0], snapshot.errors[1]
    assert (bad.source, bad.record) == (str(folder / "users.json"), users[1]["id"])
    assert "accountEnabled" in bad.message
    assert (twice.record, twice.message) == (users[0]["id"], "listed twice; read once")


def test_an_id_that_is_no_object_id_is_not_used_as_a_file_name(folder: Path) -> None:
    page = json.loads((folder / "groups.json").read_text())
    page["value"].append(dict(page["value"][0], id="../../users", displayName="Sneaky"))
    _write(folder / "groups.json", page)

    snapshot = _export(folder).collect()

    assert not snapshot.complete
    assert [(e.record, e.message) for e in snapshot.errors] == [
        ("../../users", "not a directory object id")
    ]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"value": [', "users.json:1: not JSON"),
        ('{"users": []}', "users.json: expected Graph records"),
        ("[1, 2]", "users.json: item 1 is not a JSON object"),
    ],
)
def test_unusable_users_file_is_an_error(folder: Path, content: str, problem: str) -> None:
    (folder / "users.json").write_text(content)

    with pytest.raises(SourceError, match=problem):
        _export(folder).collect()


def test_the_export_needs_the_users(folder: Path, tmp_path: Path) -> None:
    (folder / "users.json").unlink()
    with pytest.raises(SourceError, match=r"users\.json: no such file; the export needs"):
        _export(folder).collect()
    with pytest.raises(SourceError, match="no such folder"):
        _export(tmp_path / "nowhere").collect()
