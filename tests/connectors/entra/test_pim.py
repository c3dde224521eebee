"""PIM: eligible directory roles and eligible group memberships are access (an eligible
Global Administrator is an administrator), held with ``via`` saying "eligible"; refused or
unlicensed, they are unknown and the snapshot says so, never a silent none."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from iam_gov.connectors.entra.connector import EntraConnector, EntraOptions
from iam_gov.connectors.entra.to_model import ELIGIBLE, eligible_through, is_eligible
from iam_gov.model import SystemSnapshot
from tests.support.graph_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    App,
    GraphServer,
    oid,
    running_server,
)
from tests.support.graph_tenant import (
    GLOBAL_ADMIN,
    HELPDESK_ADMIN,
    NOW,
    SECRET_ENV,
    demo_tenant,
    export_tenant,
    live_connector,
)

ALICE, BOB, DAVE = oid("alice"), oid("bob"), oid("dave")
HELPDESK_ID, ENGINEERING_ID = oid("group: Helpdesk Admins"), oid("group: Engineering")
HELPDESK, ENGINEERING = f"groups/{HELPDESK_ID}", f"groups/{ENGINEERING_ID}"
SALES_ID = oid("group: Sales")
GA, HD = f"roleDefinitions/{GLOBAL_ADMIN}", f"roleDefinitions/{HELPDESK_ADMIN}"
ROLE_PATH = "/roleManagement/directory/roleEligibilityScheduleInstances"
GROUP_PATH = "/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphServer]:
    yield from running_server(tmp_path_factory)


@pytest.fixture
def graph(server: GraphServer, monkeypatch: pytest.MonkeyPatch) -> GraphServer:
    server.reset(demo_tenant())
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    return server


def _collect(graph: GraphServer) -> SystemSnapshot:
    return live_connector(graph, token_provider=graph.issue_token).collect()


def _eligible(snapshot: SystemSnapshot) -> set[tuple[str, str, str | None]]:
    return {(g.account_id, g.entitlement_id, g.via) for g in snapshot.grants if is_eligible(g.via)}


def test_eligible_roles_and_memberships_are_held_as_eligible(graph: GraphServer) -> None:
    snapshot = _collect(graph)

    assert snapshot.complete, snapshot.errors
    assert _eligible(snapshot) == {
        (BOB, GA, ELIGIBLE),  # an eligible Global Administrator
        (DAVE, HELPDESK, ELIGIBLE),  # an eligible member of a role-assignable group ...
        (DAVE, HD, eligible_through(HELPDESK_ID)),  # ... and so of its role
    }
    # Eligible is not active: Bob's active Global Administrator is Alice's alone.
    assert {g.account_id for g in snapshot.grants if g.entitlement_id == GA and not g.via} == {
        ALICE
    }
    eligible = next(g for g in snapshot.grants if (g.account_id, g.via) == (BOB, ELIGIBLE))
    assert eligible.granted_at is not None and eligible.granted_at.isoformat().startswith(
        "2025-09-01"
    )
    entitlements = {e.entitlement_id: e for e in snapshot.entitlements}
    assert entitlements[GA].privileged and entitlements[HELPDESK].privileged
    # Alice may activate ownership of Engineering: ownership is not access here.
    assert not any(g.account_id == ALICE and is_eligible(g.via) for g in snapshot.grants)


def test_graph_is_asked_as_it_allows(graph: GraphServer) -> None:
    _collect(graph)

    [roles] = [r for r in graph.graph_requests() if r.path == ROLE_PATH]
    assert roles.query["$expand"] == "roleDefinition,principal" and roles.status == 200
    groups = [r for r in graph.graph_requests() if r.path == GROUP_PATH]
    # One call per group, filtered on it (Graph requires the filter); never the dynamic
    # group, which PIM cannot govern.
    asked = {r.query["$filter"] for r in groups}
    assert f"groupId eq '{HELPDESK_ID}'" in asked
    assert f"groupId eq '{SALES_ID}'" not in asked
    assert len(groups) == len(graph.tenant.groups) - 1


def test_a_role_eligible_group_makes_its_members_eligible(graph: GraphServer) -> None:
    graph.tenant.role_eligibilities.append(
        {
            "id": "elig-eng",
            "principalId": ENGINEERING_ID,
            "roleDefinitionId": GLOBAL_ADMIN,
            "directoryScopeId": "/",
            "roleEligibilityScheduleId": oid("schedule: engineering"),
        }
    )

    snapshot = _collect(graph)

    via = eligible_through(ENGINEERING_ID)
    assert {(ALICE, GA, via), (BOB, GA, via)} <= _eligible(snapshot)
    # Direct members only, as Entra does for roles held by a group.
    assert not any(g.via == via and g.account_id == oid("frank") for g in snapshot.grants)
    assert next(e for e in snapshot.entitlements if e.entitlement_id == ENGINEERING).privileged


def test_without_p2_eligibility_is_unknown_and_said_once(graph: GraphServer) -> None:
    graph.tenant.governance = False

    snapshot = _collect(graph)

    assert not snapshot.complete
    problems = {e.source: e for e in snapshot.errors}
    role, group = problems[ROLE_PATH], problems[GROUP_PATH]
    assert "400 AadPremiumLicenseRequired" in role.message and "P2" in role.message
    assert (role.consequence or "").startswith("eligible role assignments unknown: ")
    assert "an eligible administrator is an administrator" in (role.consequence or "")
    assert (group.consequence or "").startswith("eligible group memberships unknown: ")
    assert len(snapshot.errors) == 2
    # Asked once for the groups: the refusal is the same for every one.
    assert len([r for r in graph.graph_requests() if r.path == GROUP_PATH]) == 1
    assert _eligible(snapshot) == set()


def test_pim_false_reads_no_eligibility_and_says_so_without_making_it_incomplete(
    graph: GraphServer,
) -> None:
    graph.tenant.governance = False  # a tenant without P2: Graph refuses PIM

    snapshot = live_connector(graph, token_provider=graph.issue_token, pim=False).collect()

    assert snapshot.complete
    [note] = snapshot.errors
    assert note.source == "pim" and "pim = false" in note.message
    assert "an eligible Global Administrator would not be reported" in note.message
    assert not any(r.path in (ROLE_PATH, GROUP_PATH) for r in graph.graph_requests())
    assert _eligible(snapshot) == set()


def test_without_the_permission_eligible_memberships_are_unknown(graph: GraphServer) -> None:
    from iam_gov.connectors.entra.connector import COLLECT_PERMISSIONS

    held = frozenset(COLLECT_PERMISSIONS) - {"PrivilegedEligibilitySchedule.Read.AzureADGroup"}
    graph.apps[CLIENT_ID] = App(CLIENT_ID, secret=CLIENT_SECRET, permissions=held)

    snapshot = live_connector(graph).collect()

    assert not snapshot.complete
    [problem] = snapshot.errors
    assert problem.source == GROUP_PATH
    assert "403 Authorization_RequestDenied" in problem.message
    assert "PrivilegedEligibilitySchedule.Read.AzureADGroup" in problem.message
    assert (problem.consequence or "").startswith("eligible group memberships unknown: ")
    # Eligible roles are read with RoleManagement.Read.Directory, which roles need anyway.
    assert _eligible(snapshot) == {(BOB, GA, ELIGIBLE)}


# --- export --------------------------------------------------------------------------------


@pytest.fixture
def folder(graph: GraphServer, tmp_path: Path) -> Path:
    export_tenant(graph, tmp_path)
    return tmp_path


def _export(folder: Path) -> SystemSnapshot:
    options = EntraOptions.model_validate(
        {"type": "entra", "mode": "export", "path": str(folder), "exported_at": NOW}
    )
    return EntraConnector("entra-prod", options).collect()


def test_an_export_gives_the_same_eligibility_as_live(graph: GraphServer, folder: Path) -> None:
    exported = _export(folder)

    assert exported.complete, exported.errors
    assert _eligible(exported) == _eligible(_collect(graph))


def test_an_export_without_eligibility_files_is_incomplete(folder: Path) -> None:
    (folder / "role-eligibilities.json").unlink()
    shutil.rmtree(folder / "group-eligibilities")

    exported = _export(folder)

    assert not exported.complete
    consequences = [e.consequence or "" for e in exported.errors]
    assert len(consequences) == 2  # one for the roles, one for every group: not one per group
    assert consequences[0].startswith("eligible role assignments unknown: ")
    assert consequences[1].startswith("eligible group memberships unknown: ")
    assert _eligible(exported) == set()


def test_one_group_missing_its_eligibility_file_is_named(folder: Path) -> None:
    (folder / "group-eligibilities" / f"{HELPDESK_ID}.json").unlink()

    exported = _export(folder)

    assert not exported.complete
    [problem] = exported.errors
    assert problem.source.endswith(f"group-eligibilities/{HELPDESK_ID}.json")
    assert "eligible members of group Helpdesk Admins unknown" in (problem.consequence or "")


def test_an_eligibility_list_saved_without_context_or_name_is_never_active(
    folder: Path,
) -> None:
    # A plain list of records under a name no rule knows: the records say what it is.
    records = json.loads((folder / "role-eligibilities.json").read_text())["value"]
    (folder / "role-eligibilities.json").unlink()
    (folder / "pim-dump.json").write_text(json.dumps(records))

    exported = _export(folder)

    assert exported.complete, exported.errors
    assert (BOB, GA, ELIGIBLE) in _eligible(exported)
    assert not any(g.account_id == BOB and g.entitlement_id == GA and not g.via
                   for g in exported.grants)  # fmt: skip
