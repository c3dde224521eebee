"""Incremental Entra collects against the local Graph's delta queries: the same snapshot as a
full read of the same tenant, the fall-backs to a full read (each saying why), an incomplete
read that keeps the old baseline, and the requests saved."""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iam_gov.model import SystemSnapshot
from tests.support.graph_server import CLIENT_SECRET, Fault, GraphServer, oid, running_server
from tests.support.graph_tenant import NOW, SECRET_ENV, demo_tenant, live_connector

ALICE, BOB, CAROL, FRANK = (oid(n) for n in ("alice", "bob", "carol", "frank"))
STAFF, ENGINEERING, PLATFORM, HELPDESK = (
    oid(f"group: {n}") for n in ("All Staff", "Engineering", "Platform", "Helpdesk Admins")
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphServer]:
    yield from running_server(tmp_path_factory)


@pytest.fixture
def graph(server: GraphServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> GraphServer:
    """The demo tenant, fresh; baselines kept under this test's own folder."""
    server.reset(demo_tenant())
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    monkeypatch.setenv("IAM_GOV_STATE_DIR", str(tmp_path / "state"))
    return server


def collect(server: GraphServer, *, later: dt.timedelta | None = None, **extra: Any) -> Any:
    connector = live_connector(server, token_provider=server.issue_token, **extra)
    if later is not None:
        connector.clock = lambda: NOW + later
    try:
        return connector.collect()
    finally:
        connector.close()


def incremental(server: GraphServer, **extra: Any) -> SystemSnapshot:
    snapshot: SystemSnapshot = collect(server, incremental=True, **extra)
    return snapshot


def comparable(snapshot: SystemSnapshot) -> dict[str, Any]:
    dumped = snapshot.model_dump(mode="json")
    dumped.pop("collected_at")
    dumped["settings"].pop("collect", None)
    return dumped


def assert_same_as_full(server: GraphServer, snapshot: SystemSnapshot) -> None:
    full = collect(server)  # incremental off: the plain full read, no state
    assert "collect" not in full.settings
    assert comparable(snapshot) == comparable(full)


TEMPLATE = demo_tenant().users[FRANK]


def _new_user(name: str) -> dict[str, Any]:
    record = copy.deepcopy(TEMPLATE)
    record.update(
        id=oid(name),
        userPrincipalName=f"{name}@contoso.com",
        mail=f"{name}@contoso.com",
        displayName=name.title(),
        givenName=name.title(),
        employeeId=f"N-{name}",
    )
    return record


def _new_group(name: str) -> dict[str, Any]:
    return {
        "id": oid(f"group: {name}"),
        "displayName": name,
        "description": None,
        "groupTypes": [],
        "securityEnabled": True,
        "mailEnabled": False,
        "isAssignableToRole": False,
        "onPremisesSyncEnabled": None,
        "membershipRule": None,
    }


def mutate(server: GraphServer, rng: random.Random, steps: int) -> list[str]:
    """``steps`` random changes of the kinds a directory sees, each made the way Graph records
    it; what was done, for a failing test's message."""
    done: list[str] = []
    tenant = server.tenant
    for step in range(steps):
        users = sorted(tenant.users)
        groups = sorted(g for g in tenant.groups if "DynamicMembership" not in
                        tenant.groups[g]["groupTypes"])  # fmt: skip
        action = rng.choice(
            ["add_user", "delete_user", "rename", "disable", "sign_in", "add_member",
             "remove_member", "add_group", "delete_group", "rename_group", "mfa", "department"]
        )  # fmt: skip
        user = rng.choice(users) if users else None
        group = rng.choice(groups) if groups else None
        if action == "add_user" or user is None:
            name = f"user{step}x{rng.randrange(10**6)}"
            server.add_user(_new_user(name))
            if group is not None and rng.random() < 0.7:
                server.add_member(group, oid(name))
        elif action == "delete_user":
            server.delete_user(user)
        elif action == "rename":
            server.update_user(user, displayName=f"Renamed {step}")
        elif action == "disable":
            server.update_user(user, accountEnabled=not tenant.users[user]["accountEnabled"])
        elif action == "department":
            server.update_user(user, department=rng.choice(["Sales", "Finance", None]))
        elif action == "sign_in":
            server.sign_in(user, f"2026-02-{rng.randrange(1, 28):02d}T09:00:00Z")
        elif action == "mfa":
            tenant.registrations[user] = {
                "id": user,
                "isMfaRegistered": rng.random() < 0.5,
                "methodsRegistered": rng.choice([[], ["microsoftAuthenticatorPush"]]),
                "defaultMfaMethod": None,
            }
        elif group is None or action == "add_group":
            name = f"group{step}x{rng.randrange(10**6)}"
            server.add_group(_new_group(name), members=tuple(rng.sample(users, min(2, len(users)))))
        elif action == "add_member":
            candidates = [u for u in users if u not in tenant.members.get(group, [])]
            if candidates:
                server.add_member(group, rng.choice(candidates))
        elif action == "remove_member":
            if tenant.members.get(group):
                server.remove_member(group, rng.choice(tenant.members[group]))
        elif action == "delete_group":
            server.delete_group(group)
        else:
            server.update_group(group, displayName=f"Group renamed {step}")
        done.append(f"{action} {user} {group}")
    return done


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_incremental_equals_full_on_the_same_tenant(graph: GraphServer, seed: int) -> None:
    """Full collect (baseline written), random changes, incremental collect: the snapshot is
    the one a fresh full read of the same tenant gives; twice in a row (the baseline the
    incremental read left is right too)."""
    rng = random.Random(seed)
    first = incremental(graph)
    assert first.settings["collect"]["mode"] == "full"
    for _ in range(2):
        done = mutate(graph, rng, 8)
        snapshot = incremental(graph)
        assert snapshot.settings["collect"]["mode"] == "incremental", done
        assert snapshot.complete, snapshot.errors
        assert_same_as_full(graph, snapshot)


def test_the_named_changes_each_reach_the_snapshot(graph: GraphServer) -> None:
    """A rename, a disabled user, a deleted user, membership added and removed, a deleted
    group, a new sign-in and MFA: each read incrementally, and counted."""
    incremental(graph)
    graph.update_user(ALICE, displayName="Alice Renamed")
    graph.update_user(BOB, accountEnabled=False)
    graph.delete_user(FRANK)
    graph.add_member(HELPDESK, CAROL)
    graph.remove_member(ENGINEERING, BOB)
    graph.delete_group(PLATFORM)
    graph.sign_in(ALICE, "2026-02-28T23:00:00Z")
    graph.tenant.registrations[ALICE]["methodsRegistered"] = []
    graph.tenant.registrations[ALICE]["isMfaRegistered"] = False
    snapshot = incremental(graph)
    collect_settings = snapshot.settings["collect"]
    assert collect_settings["mode"] == "incremental"
    # Engineering (Bob and Platform out), Helpdesk (Carol in), Platform (deleted).
    assert collect_settings["changes"] == {"groups": 3, "memberships": 3, "users": 3}
    accounts = {a.native_id: a for a in snapshot.accounts}
    assert accounts[ALICE].display_name == "Alice Renamed"
    assert FRANK not in accounts
    assert f"groups/{PLATFORM}" not in {e.entitlement_id for e in snapshot.entitlements}
    assert_same_as_full(graph, snapshot)


def test_no_baseline_reads_everything_and_says_so(graph: GraphServer) -> None:
    snapshot = incremental(graph)
    assert snapshot.settings["collect"]["mode"] == "full"
    assert snapshot.settings["collect"]["why"].startswith("no baseline yet")
    assert_same_as_full(graph, snapshot)


def test_other_options_read_everything(graph: GraphServer) -> None:
    """A baseline written with PIM read is not used by a collect without it."""
    incremental(graph)
    snapshot = incremental(graph, pim=False)
    assert snapshot.settings["collect"]["mode"] == "full"
    assert "other options" in snapshot.settings["collect"]["why"]


def test_an_edited_baseline_file_is_not_trusted(graph: GraphServer, tmp_path: Path) -> None:
    incremental(graph)
    users = tmp_path / "state" / "entra-prod" / "current" / "records" / "users.json"
    body = json.loads(users.read_text(encoding="utf-8"))
    body["value"] = body["value"][1:]  # someone removed a user from the baseline
    users.write_text(json.dumps(body), encoding="utf-8")
    snapshot = incremental(graph)
    assert snapshot.settings["collect"]["mode"] == "full"
    assert "users.json does not match its recorded digest" in snapshot.settings["collect"]["why"]
    assert_same_as_full(graph, snapshot)


def test_a_full_read_when_the_last_is_older_than_full_every_days(graph: GraphServer) -> None:
    incremental(graph, full_every_days=7)
    assert incremental(graph, full_every_days=7).settings["collect"]["mode"] == "incremental"
    late = collect(graph, incremental=True, full_every_days=7, later=dt.timedelta(days=7))
    assert late.settings["collect"]["mode"] == "full"
    assert "7 day(s) ago (full_every_days = 7)" in late.settings["collect"]["why"]


def test_an_expired_delta_token_is_a_full_read(graph: GraphServer) -> None:
    """Graph's 410 syncStateNotFound for a token it no longer keeps: everything is read again
    (no change lost), and the snapshot says why."""
    incremental(graph)
    graph.update_user(ALICE, displayName="Changed While Nobody Looked")
    graph.expire_delta_tokens()
    snapshot = incremental(graph)
    collect_settings = snapshot.settings["collect"]
    assert collect_settings["mode"] == "full"
    assert "no longer knows the delta token (410 syncStateNotFound" in collect_settings["why"]
    assert_same_as_full(graph, snapshot)
    # The new baseline's tokens are of the new generation: incremental again.
    assert incremental(graph).settings["collect"]["mode"] == "incremental"


def test_a_failed_page_leaves_the_baseline_and_an_incomplete_snapshot(
    graph: GraphServer, tmp_path: Path
) -> None:
    """The second page of the groups' changes fails: the snapshot is incomplete and says so,
    the baseline is the old one, and the next collect reads the same changes again."""
    incremental(graph)
    manifest = tmp_path / "state" / "entra-prod" / "current" / "baseline.json"
    before = manifest.read_bytes()
    graph.page_size = 2
    for name in ("one", "two", "three"):
        graph.add_group(_new_group(name), members=(ALICE,))
    graph.faults.append(Fault("GET", "/groups/delta", 500, skip=1, code="UnknownError"))
    broken = incremental(graph)
    assert broken.settings["collect"]["mode"] == "incremental"
    assert not broken.complete
    assert any("/groups/delta" in e.source and "500 UnknownError" in e.message
               for e in broken.errors)  # fmt: skip
    assert manifest.read_bytes() == before
    mended = incremental(graph)
    assert mended.complete and mended.settings["collect"]["changes"]["groups"] == 3
    assert_same_as_full(graph, mended)


def test_incremental_reads_far_fewer_requests(graph: GraphServer, tmp_path: Path) -> None:
    """On a tenant with many groups, the incremental collect makes no per-group member
    request: counted in the server's own request log."""
    users = sorted(graph.tenant.users)
    for number in range(40):
        graph.tenant.groups[oid(f"group: bulk {number}")] = _new_group(f"bulk {number}")
        graph.tenant.members[oid(f"group: bulk {number}")] = users[: number % 5]
    counts = {}
    for pim in (True, False):
        graph.requests.clear()
        incremental(graph, pim=pim, state_folder=str(tmp_path / f"state-{pim}"))
        full = len(graph.graph_requests())
        graph.add_member(oid("group: bulk 1"), BOB)
        graph.requests.clear()
        snapshot = incremental(graph, pim=pim, state_folder=str(tmp_path / f"state-{pim}"))
        assert snapshot.settings["collect"]["mode"] == "incremental"
        seen = graph.graph_requests()
        assert not [r for r in seen if r.path.endswith("/members")]
        counts[pim] = (full, len(seen))
    # With PIM, Graph answers PIM for Groups one group at a time: read again each time.
    assert counts[True][1] <= counts[True][0] - 40
    assert counts[False][1] * 4 <= counts[False][0], counts


def test_incremental_off_writes_no_state(graph: GraphServer, tmp_path: Path) -> None:
    snapshot = collect(graph)
    assert "collect" not in snapshot.settings
    assert not (tmp_path / "state").exists()


def test_export_mode_refuses_the_incremental_options(tmp_path: Path) -> None:
    from iam_gov.connectors.entra.connector import EntraOptions

    with pytest.raises(ValueError, match='incremental only apply to mode = "live"'):
        EntraOptions.model_validate(
            {"type": "entra", "mode": "export", "path": str(tmp_path), "incremental": True}
        )
