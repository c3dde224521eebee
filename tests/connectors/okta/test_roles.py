"""Okta admin roles against a local Okta: without the assignee list, and scoped to targets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from iam_gov.connectors.okta.records import UNKNOWN_ROLE_TARGETS, UNKNOWN_ROLES
from iam_gov.model import SystemSnapshot
from tests.support.okta_server import OktaServer, Org, example_org, write_export

from .test_connector import export, grants, live, okta_env

__all__ = ["okta_env"]

USER_ROLES = "/api/v1/users/{user}/roles"


def with_contractor(org: Org) -> Org:
    """The example org, and a contractor who holds SUPER_ADMIN directly."""
    contractor = org.add_user("contractor@example.com", first="Con", last="Tractor")
    org.assign_role(contractor, "SUPER_ADMIN")
    return org


@pytest.fixture
def org() -> Org:
    return with_contractor(example_org())


@pytest.fixture
def server(org: Org, okta_env: None) -> Iterator[OktaServer]:
    with OktaServer(org) as running:
        yield running


# --- without /api/v1/iam/assignees/users ---------------------------------------------------


def test_without_the_assignee_list_every_user_is_asked(server: OktaServer, org: Org) -> None:
    with_list = live(server).collect()
    server.assignees_available = False
    server.seen.clear()

    without = live(server).collect()

    assert without.complete, without.errors
    # The contractor's super admin role is found, and nothing differs from the usual path.
    assert ("admin-role:SUPER_ADMIN", None) in grants(without, org, "contractor")
    assert without.grants == with_list.grants
    assert without.entitlements == with_list.entitlements
    (note,) = without.errors
    assert note.source == "/api/v1/iam/assignees/users" and note.consequence is None
    assert note.message.startswith("not available (HTTP 404 E0000007 Not found")
    assert "read for each of the 10 users who are not deactivated" in note.message
    # Every user but the deactivated one (dave), suspended and staged included.
    asked = {path.split("/")[4] for path in server.paths(USER_ROLES)}
    dave = org.user("dave@example.com").id
    assert asked == set(org.users) - {dave}


def test_without_either_the_admin_roles_are_unknown(server: OktaServer, org: Org) -> None:
    server.assignees_available = False
    server.fail("GET", r"^/api/v1/users/\w+/roles$", status=404, times=None)

    snapshot = live(server, concurrency=1).collect()

    assert not snapshot.complete
    problems = [e for e in snapshot.errors if e.consequence is not None]
    (problem,) = problems
    assert problem.source == "/api/v1/users/{id}/roles" and problem.record is None
    assert problem.consequence == UNKNOWN_ROLES
    assert problem.consequence == (
        "admin roles unknown: privileged-access findings for okta roles are not concluded"
    )
    assert problem.message.startswith("not available (HTTP 404")
    # Said once: the endpoint is not asked for every user once known missing.
    assert len(server.paths(USER_ROLES)) == 1
    # Roles held through groups are still known.
    assert ("admin-role:ORG_ADMIN", "Okta Admins") in grants(snapshot, org, "bob")


def test_a_refused_assignee_list_is_unknown_not_worked_around(server: OktaServer) -> None:
    server.fail("GET", r"^/api/v1/iam/assignees/users", status=403, times=None)

    snapshot = live(server).collect()

    assert not snapshot.complete
    (problem,) = snapshot.errors
    assert problem.source == "/api/v1/iam/assignees/users"
    assert problem.consequence == UNKNOWN_ROLES
    assert server.paths(USER_ROLES) == []


# --- targets ---------------------------------------------------------------------------------


def scoped_org() -> Org:
    """Administrators of some groups or apps only, and one of the whole org."""
    org = example_org()
    engineering, sales = org.group("Engineering"), org.group("Sales")
    github = org.app("GitHub")
    gina = org.add_user("gina@example.com", first="Gina", last="Group")
    org.assign_role(gina, "USER_ADMIN", groups=[engineering])
    abe = org.add_user("abe@example.com", first="Abe", last="Apps")
    org.assign_role(abe, "APP_ADMIN", apps=[github, "box"])
    uma = org.add_user("uma@example.com", first="Uma", last="Unscoped")
    org.assign_role(uma, "USER_ADMIN")
    support = org.add_group("Support")
    hank = org.add_user("hank@example.com", first="Hank", last="Help")
    org.add_member(support, hank)
    org.assign_role(support, "HELP_DESK_ADMIN", groups=[sales, engineering])
    return org


def test_a_scoped_role_is_an_entitlement_per_target(okta_env: None) -> None:
    org = scoped_org()
    with OktaServer(org) as server:
        snapshot = live(server).collect()

    assert snapshot.complete, snapshot.errors
    assert grants(snapshot, org, "gina") >= {("admin-role:USER_ADMIN@group:Engineering", None)}
    assert not any(ref == "admin-role:USER_ADMIN" for ref, _ in grants(snapshot, org, "gina"))
    assert {ref for ref, _ in grants(snapshot, org, "abe") if ref.startswith("admin")} == {
        "admin-role:APP_ADMIN@app:GitHub",
        "admin-role:APP_ADMIN@catalog-app:box",
    }
    # No targets: the whole org.
    assert ("admin-role:USER_ADMIN", None) in grants(snapshot, org, "uma")
    # Held through a group, scoped by the group's assignment.
    assert {g for g in grants(snapshot, org, "hank") if g[0].startswith("admin")} == {
        ("admin-role:HELP_DESK_ADMIN@group:Sales", "Support"),
        ("admin-role:HELP_DESK_ADMIN@group:Engineering", "Support"),
    }
    by_ref = {e.ref: e for e in snapshot.entitlements}
    scoped = by_ref["admin-role:USER_ADMIN@group:Engineering"]
    assert scoped.entitlement_id == f"role:USER_ADMIN@group:{org.group('Engineering').id}"
    assert scoped.description == "Group Administrator, for group Engineering"
    assert scoped.privileged
    # A policy can name them all with a wildcard (admin-role:USER_ADMIN*), or one exactly.
    assert "admin-role:SUPER_ADMIN" in by_ref


def test_unreadable_targets_leave_the_role_org_wide_and_said(okta_env: None) -> None:
    org = scoped_org()
    with OktaServer(org) as server:
        server.fail("GET", r"/roles/\w+/targets/groups", status=500, times=None)
        snapshot = live(server, max_retries=0).collect()

    assert not snapshot.complete
    problems = sorted(e.message for e in snapshot.errors if e.consequence == UNKNOWN_ROLE_TARGETS)
    assert len(problems) == 3  # gina's USER_ADMIN, uma's USER_ADMIN, Support's HELP_DESK_ADMIN
    assert all("the targets of admin role" in m and "HTTP 500" in m for m in problems)
    # Taken as org-wide, the most it can be: never as less than it is.
    assert ("admin-role:USER_ADMIN", None) in grants(snapshot, org, "gina")
    assert ("admin-role:HELP_DESK_ADMIN", "Support") in grants(snapshot, org, "hank")
    # The app targets were read.
    assert ("admin-role:APP_ADMIN@app:GitHub", None) in grants(snapshot, org, "abe")


def test_an_export_holds_no_targets_and_says_so(okta_env: None, tmp_path: Path) -> None:
    org = scoped_org()
    with OktaServer(org) as server:
        write_export(server.url, tmp_path)
    snapshot: SystemSnapshot = export(tmp_path).collect()

    assert not snapshot.complete
    unread = [e for e in snapshot.errors if e.consequence == UNKNOWN_ROLE_TARGETS]
    assert len(unread) == 4  # gina, abe, uma, and the Support group's role
    assert any("of user gina@example.com were not read" in e.message for e in unread)
    assert ("admin-role:USER_ADMIN", None) in grants(snapshot, org, "gina")


def test_iam_gov_export_says_the_targets_are_left_out(okta_env: None, tmp_path: Path) -> None:
    with OktaServer(scoped_org()) as server:
        written = live(server).write_export(tmp_path)

    assert any("targets of scoped admin roles are not in the export" in p for p in written.problems)
