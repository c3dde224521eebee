"""The generated Entra tenant, as an operator's Graph script saves it (the demo's) and in
iam-gov's own layout: files as the real tool writes them, read whole, the same accounts and
access either way."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from iam_gov.connectors.entra.connector import EntraConnector, EntraOptions
from iam_gov.model import SystemSnapshot
from iam_gov.samplegen import EntraStyle, generate
from iam_gov.samplegen.directories import ALL_STAFF, Directories, DirectoryUser
from iam_gov.samplegen.directory_files import entra_group_id
from iam_gov.samplegen.graph_dump import graph_dump_files

DEMO = Path(__file__).resolve().parent.parent / "samples" / "demo"
AS_OF = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
GRAPH = "https://graph.microsoft.com/v1.0/"


def _collect(folder: Path) -> SystemSnapshot:
    options = EntraOptions.model_validate(
        {"type": "entra", "mode": "export", "path": folder, "exported_at": AS_OF}
    )
    return EntraConnector("entra", options).collect()


def _bodies(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        p.relative_to(folder).as_posix(): json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(folder.rglob("*.json"))
    }


def _chain(bodies: dict[str, dict[str, Any]], first: str, then: str) -> list[str]:
    """The files of one list in page order, following each page's @odata.nextLink to the file
    the script saved the next page in (``then`` numbered from 2)."""
    files, body = [first], bodies[first]
    while "@odata.nextLink" in body:
        files.append(then.format(n=len(files) + 1))
        body = bodies[files[-1]]
    return files


def test_the_demo_tenant_is_a_scripts_graph_dump() -> None:
    """Every file is a Graph answer as Graph sends it, saved under a script's names."""
    folder = DEMO / "entra"
    bodies = _bodies(folder)

    for name, body in bodies.items():
        assert body["@odata.context"].startswith(f"{GRAPH}$metadata#"), name
        assert list(body)[-1] == "value", name  # annotations first, as Graph writes them
        assert "\n" not in (folder / name).read_text(encoding="utf-8"), name  # compact
    # Paged: each page links to the next with the query repeated and a skip token.
    assert _chain(bodies, "users.json", "users_{n}.json") == [
        "users.json",
        "users_2.json",
        "users_3.json",
    ]
    link = urlsplit(bodies["users.json"]["@odata.nextLink"])
    query = parse_qs(link.query)
    assert link.path == "/v1.0/users"
    assert query["$top"] == ["25"] and "signInActivity" in query["$select"][0]
    assert query["$skiptoken"][0].startswith("RFNwdAIAAQAAA")
    assert [len(bodies[f]["value"]) for f in ("users.json", "users_2.json", "users_3.json")] == [
        25,
        25,
        2,
    ]
    # Relations with $expand: no role definitions file, at most 20 members expanded and the
    # large group's own member list saved beside it.
    assert not (folder / "role-definitions.json").exists()
    [assignment, *_] = bodies["roleManagement_directory_roleAssignments.json"]["value"]
    assert assignment["roleDefinition"]["displayName"] == "Global Administrator"
    assert assignment["principal"]["@odata.type"] == "#microsoft.graph.user"
    staff = entra_group_id(ALL_STAFF)
    [groups] = [b for n, b in bodies.items() if n.startswith("groups/")]
    assert groups["@odata.context"].endswith(",members(id))")
    [expanded] = [g["members"] for g in groups["value"] if g["id"] == staff]
    assert len(expanded) == 20
    members = _chain(bodies, f"{staff}_members.json", f"{staff}_members_{{n}}.json")
    assert sum(len(bodies[f]["value"]) for f in members) == 50


def test_the_demo_tenant_is_read_whole() -> None:
    snapshot = _collect(DEMO / "entra")

    assert snapshot.complete
    assert snapshot.errors == ()  # every file recognised, nothing noted
    assert {e.name for e in snapshot.entitlements if e.kind == "directory-role"} == {
        "Global Administrator"
    }


def _access(snapshot: SystemSnapshot) -> dict[str, Any]:
    return {
        "accounts": sorted(
            # MFA registered or not (the script's report names methods as Graph does)
            (a.native_id, a.login, a.status, a.last_login_at, bool(a.mfa_factors))
            for a in snapshot.accounts
        ),
        "entitlements": sorted((e.entitlement_id, e.kind, e.name) for e in snapshot.entitlements),
        "grants": sorted((g.account_id, g.entitlement_id) for g in snapshot.grants),
    }


def test_both_styles_give_the_same_accounts_and_access(tmp_path: Path) -> None:
    """The script's dump and iam-gov's own layout of one company: the same snapshot, each
    read without a problem (the canonical layout stays covered by the generator)."""
    snapshots: dict[EntraStyle, SystemSnapshot] = {}
    for style in ("graph-script", "iam-gov"):
        generate(tmp_path / style, people=30, seed=5, as_of=AS_OF, entra_style=style)
        snapshots[style] = _collect(tmp_path / style / "entra")

    assert (tmp_path / "iam-gov" / "entra" / "role-definitions.json").exists()
    for snapshot in snapshots.values():
        assert snapshot.complete and snapshot.errors == ()
    assert _access(snapshots["graph-script"]) == _access(snapshots["iam-gov"])


def _user(n: int) -> DirectoryUser:
    return DirectoryUser(
        login=f"user{n}@example.com",
        email=f"user{n}@example.com",
        first="User",
        last=str(n),
        employee_id=f"E{n}",
        enabled=True,
        created=AS_OF,
        last_login=AS_OF,
        groups=[ALL_STAFF],
        factors=["push"],
    )


def test_a_large_tenant_is_saved_in_graphs_largest_pages(tmp_path: Path) -> None:
    """So that a benchmark company is a few hundred files, not thousands: users 500 a page
    (Graph's limit with signInActivity), members 999."""
    directories = Directories(
        okta=[],
        ad=[],
        entra=[_user(n) for n in range(1200)],
        okta_groups=[],
        ad_groups={},
        entra_groups=[ALL_STAFF],
        okta_apps={},
    )
    files = dict(graph_dump_files(directories))
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")

    user_files = [n for n in files if n.startswith("users")]
    assert user_files == ["users.json", "users_2.json", "users_3.json"]
    first = json.loads(files["users.json"])
    assert parse_qs(urlsplit(first["@odata.nextLink"]).query)["$top"] == ["500"]
    staff = entra_group_id(ALL_STAFF)
    assert [n for n in files if n.startswith(staff)] == [
        f"{staff}_members.json",
        f"{staff}_members_2.json",
    ]
    snapshot = _collect(tmp_path)
    assert snapshot.complete and snapshot.errors == ()
    assert len(snapshot.accounts) == 1200
