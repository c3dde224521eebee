"""Incremental Okta collects against the local Okta: the baseline plus the changes (lastUpdated
filters and the System Log) give the snapshot a full read gives, with far fewer requests, and
fall back to a full read, saying why, whenever the change feed or the baseline cannot be
trusted."""

from __future__ import annotations

import json
import random
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.okta.connector import OktaConnector, OktaOptions
from iam_gov.model import SystemSnapshot
from iam_gov.timeutil import utcnow
from tests.support.okta_server import (
    TOKEN,
    OktaServer,
    Org,
    User,
    example_org,
    generate,
)


@pytest.fixture(autouse=True)
def okta_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", raising=False)
    monkeypatch.setenv("OKTA_API_TOKEN", TOKEN)
    monkeypatch.setenv("IAM_GOV_STATE_DIR", str(tmp_path / "state"))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


def connector(
    server: OktaServer, clock: Callable[[], datetime] = utcnow, **extra: Any
) -> OktaConnector:
    options = OktaOptions.model_validate(
        {
            "type": "okta",
            "mode": "live",
            "org_url": server.url,
            "allow_http": True,
            "api_token": {"env": "OKTA_API_TOKEN"},
            "incremental": True,
            **extra,
        }
    )
    return OktaConnector("okta", options, clock=clock)


def comparable(snapshot: SystemSnapshot) -> dict[str, Any]:
    dump = snapshot.model_dump(mode="json")
    dump.pop("collected_at")
    dump["settings"].pop("collect", None)
    return dump


def scoped_org() -> Org:
    """The example org, with a scoped admin role (its targets live beside the layout)."""
    org = example_org()
    org.assign_role(org.user("bob@example.com"), "USER_ADMIN", groups=[org.group("Sales")])
    return org


@pytest.fixture
def org() -> Org:
    return scoped_org()


@pytest.fixture
def server(org: Org) -> Iterator[OktaServer]:
    with OktaServer(org) as running:
        yield running


# --- mutations, as an administrator (and users signing in) make them ---------------------------


def _some(rng: random.Random, org: Org, *, status: str | None = None) -> User | None:
    users = [u for u in org.users.values() if status is None or u.status == status]
    return rng.choice(sorted(users, key=lambda u: u.id)) if users else None


def mutate(org: Org, rng: random.Random, steps: int) -> list[str]:
    """``steps`` changes drawn from everything an incremental read must see; their names."""
    done = []
    for n in range(steps):
        kind = rng.choice(
            [
                "add_user",
                "rename_user",
                "suspend",
                "deactivate",
                "reactivate",
                "delete_user",
                "join",
                "leave",
                "rename_group",
                "add_group",
                "delete_group",
                "enroll",
                "reset_factors",
                "sign_in",
                "assign_app",
                "unassign_app",
                "assign_app_group",
                "grant_role",
                "grant_group_role",
                "add_app",
            ]
        )
        user = _some(rng, org)
        groups = sorted(
            (g for g in org.groups.values() if g.type == "OKTA_GROUP"), key=lambda g: g.id
        )
        apps = sorted(org.apps.values(), key=lambda a: a.id)
        if kind == "add_user":
            new = org.add_user(f"new{n}-{rng.randrange(10**6)}@example.com", first="New")
            org.add_member(rng.choice(groups), new)
        elif kind == "rename_user" and user:
            org.update_user(user, login=f"renamed{n}.{user.login}", first="Renamed")
        elif kind == "suspend" and (user := _some(rng, org, status="ACTIVE")):
            org.update_user(user, status="SUSPENDED")
        elif kind == "deactivate" and user and user.status != "DEPROVISIONED":
            org.update_user(user, status="DEPROVISIONED")
        elif kind == "reactivate" and (user := _some(rng, org, status="DEPROVISIONED")):
            org.update_user(user, status="ACTIVE")
        elif kind == "delete_user" and (user := _some(rng, org, status="DEPROVISIONED")):
            org.delete_user(user)
        elif kind == "join" and user:
            org.add_member(rng.choice(groups), user)
        elif kind == "leave" and groups:
            group = rng.choice(groups)
            if group.members:
                org.remove_member(group, org.users[rng.choice(sorted(group.members))])
        elif kind == "rename_group" and groups:
            org.update_group(rng.choice(groups), name=f"Renamed group {n}")
        elif kind == "add_group":
            group = org.add_group(f"Group {n}")
            if user:
                org.add_member(group, user)
        elif kind == "delete_group" and groups:
            org.delete_group(rng.choice(groups))
        elif kind == "enroll" and user:
            org.enroll_factor(user, rng.choice(["push", "webauthn", "token:software:totp"]))
        elif kind == "reset_factors" and user:
            org.reset_factors(user)
        elif kind == "sign_in" and user:
            org.sign_in(user)
        elif kind == "assign_app" and user and apps:
            org.assign_app(rng.choice(apps), user, at=org.now())
        elif kind == "unassign_app":
            held = [(a, u) for a in apps for u in sorted(a.direct) if u in org.users]
            if held:
                app, user_id = rng.choice(held)
                org.unassign_app(app, org.users[user_id])
        elif kind == "assign_app_group" and apps and groups:
            app, group = rng.choice(apps), rng.choice(groups)
            if group.id not in app.groups:
                org.assign_app(app, group)
        elif kind == "grant_role" and user:
            org.assign_role(user, "READ_ONLY_ADMIN")
        elif kind == "grant_group_role" and groups:
            org.assign_role(rng.choice(groups), "HELP_DESK_ADMIN", groups=groups[:1])
        elif kind == "add_app":
            app = org.add_app(f"App {n}")
            if user:
                org.assign_app(app, user, at=org.now())
        else:
            continue
        done.append(kind)
    return done


# --- incremental = full ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_incremental_equals_full_after_random_changes(
    org: Org, server: OktaServer, tmp_path: Path, seed: int
) -> None:
    """Full read (baseline) → a seeded series of changes of every kind → incremental read; a
    fresh full read of the same server state gives the same snapshot."""
    first = connector(server).collect()
    assert first.settings["collect"]["mode"] == "full"
    org.start_log()
    done = mutate(org, random.Random(seed), 20)
    assert len(done) >= 12
    incremental = connector(server).collect()
    assert incremental.settings["collect"]["mode"] == "incremental", done
    fresh = connector(server, state_folder=tmp_path / "elsewhere").collect()
    assert fresh.settings["collect"]["mode"] == "full"
    assert comparable(incremental) == comparable(fresh), done
    assert comparable(incremental) != comparable(first)
    assert incremental.complete


def test_each_kind_of_change_is_seen(org: Org, server: OktaServer) -> None:
    """Changes with no timestamp on the object (a sign-in, a factor enrolment, a deletion, an
    app assignment) reach the incremental snapshot through the System Log."""
    connector(server).collect()
    org.start_log()
    bob, alice, dave = (org.user(f"{n}@example.com") for n in ("bob", "alice", "dave"))
    org.sign_in(bob)
    org.enroll_factor(bob, "webauthn")
    org.delete_user(dave)
    org.assign_app(org.app("Salesforce"), alice, at=org.now())
    org.delete_group(org.group("Helpdesk"))
    org.delete_group(org.group("Sales"))  # assigned to Salesforce: erin and fed lose it
    snapshot = connector(server).collect()
    collect = snapshot.settings["collect"]
    assert collect["mode"] == "incremental"
    assert collect["changes"]["log events"] == 6
    accounts = {a.native_id: a for a in snapshot.accounts}
    assert dave.id not in accounts
    signed_in = accounts[bob.id].last_login_at
    assert signed_in is not None and signed_in >= utcnow() - timedelta(minutes=5)
    assert "webauthn" in (accounts[bob.id].mfa_factors or ())
    names = {e.name for e in snapshot.entitlements}
    assert "Helpdesk" not in names
    salesforce = next(e.entitlement_id for e in snapshot.entitlements if e.name == "Salesforce")
    holders = {g.account_id for g in snapshot.grants if g.entitlement_id == salesforce}
    assert alice.id in holders
    assert org.user("erin@example.com").id not in holders


# --- the point of it: requests --------------------------------------------------------------


def test_the_incremental_read_makes_far_fewer_requests() -> None:
    """On a 600-user org, a handful of changes costs a few dozen requests, not one per user."""
    org = generate(600, groups=12, apps=4)
    with OktaServer(org) as server:
        full = connector(server)
        full.collect()
        full_requests = server.requests
        org.start_log()
        org.sign_in(org.users[sorted(org.users)[5]])
        org.add_member(org.group("Department 03"), org.users[sorted(org.users)[7]])
        before = server.requests
        incremental = connector(server)
        snapshot = incremental.collect()
        used = server.requests - before
    assert snapshot.settings["collect"]["mode"] == "incremental"
    assert full_requests > 500
    assert used == incremental.requests_made
    assert used * 10 < full_requests, (used, full_requests)


# --- falling back to a full read ----------------------------------------------------------------


def _why(snapshot: SystemSnapshot) -> str:
    collect = snapshot.settings["collect"]
    assert collect["mode"] == "full"
    return str(collect["why"])


def test_no_baseline_reads_everything(server: OktaServer) -> None:
    """The first collect is a full one, and says so."""
    assert "no baseline" in _why(connector(server).collect())


def test_other_options_read_everything(server: OktaServer) -> None:
    """A baseline written for other options (the employee id attribute) is not used."""
    connector(server).collect()
    snapshot = connector(server, employee_id_attribute="costCenter").collect()
    assert "other options" in _why(snapshot)


def test_an_edited_baseline_reads_everything(server: OktaServer, tmp_path: Path) -> None:
    """A baseline file changed on disk fails its digest: full read."""
    connector(server).collect()
    users = tmp_path / "state" / "okta" / "current" / "records" / "users.json"
    users.write_text(users.read_text().replace("alice", "mallory"))
    assert "users.json does not match" in _why(connector(server).collect())


def test_full_every_days_elapsed_reads_everything(server: OktaServer) -> None:
    """Past full_every_days since the last full read, the read is full again."""
    connector(server).collect()
    later = utcnow() + timedelta(days=3)
    snapshot = connector(server, clock=lambda: later, full_every_days=2).collect()
    assert "3 day(s) ago (full_every_days = 2)" in _why(snapshot)


def test_a_log_window_exceeded_reads_everything(server: OktaServer) -> None:
    """Okta's own answer that the cursor is past the System Log's retention: full read."""
    connector(server).collect()
    server.log_retention = timedelta(seconds=0)
    why = _why(connector(server).collect())
    assert "change feed cannot be trusted" in why
    assert "within the last 90 days" in why


def test_a_refused_log_reads_everything(server: OktaServer) -> None:
    """A credential without okta.logs.read: full read, naming the refusal."""
    connector(server).collect()
    server.refused_scopes = {"okta.logs.read"}
    why = _why(connector(server).collect())
    assert "System Log could not be read" in why


def test_the_clients_own_retention_check(server: OktaServer, tmp_path: Path) -> None:
    """A cursor older than 90 days is not even sent: full read."""
    connector(server).collect()
    manifest = tmp_path / "state" / "okta" / "current" / "baseline.json"
    data = json.loads(manifest.read_text())
    data["cursor"]["since"] = "2020-01-01T00:00:00.000Z"
    manifest.write_text(json.dumps(data))
    why = _why(connector(server).collect())
    assert "System Log keeps 90 days" in why
    assert not [s for s in server.seen if s.path == "/api/v1/logs"]


# --- incomplete reads, and incremental off ------------------------------------------------------


def test_a_failed_page_keeps_the_old_baseline(org: Org, server: OktaServer, tmp_path: Path) -> None:
    """A listing failing during an incremental read: the snapshot is incomplete, saying so,
    the baseline is not replaced, and the next read starts from the same cursor."""
    connector(server).collect()
    manifest = tmp_path / "state" / "okta" / "current" / "baseline.json"
    before = json.loads(manifest.read_text())
    org.start_log()
    org.add_member(org.group("Helpdesk"), org.user("bob@example.com"))
    server.fail("GET", r"^/api/v1/groups\?.*lastMembershipUpdated", status=403, times=1)
    broken = connector(server, max_retries=0).collect()
    assert broken.settings["collect"]["mode"] == "incremental"
    assert not broken.complete
    assert any("/api/v1/groups" in e.source for e in broken.errors)
    assert json.loads(manifest.read_text()) == before
    mended = connector(server).collect()
    assert mended.complete
    fresh = connector(server, state_folder=tmp_path / "fresh").collect()
    assert comparable(mended) == comparable(fresh)


def test_incremental_off_writes_no_state(server: OktaServer, tmp_path: Path) -> None:
    """The default reads everything and keeps nothing on disk."""
    snapshot = connector(server, incremental=False).collect()
    assert "collect" not in snapshot.settings
    assert not (tmp_path / "state").exists()


def test_the_baseline_is_private(server: OktaServer, tmp_path: Path) -> None:
    """The baseline folder is 0700 and its files 0600."""
    connector(server).collect()
    root = tmp_path / "state" / "okta"
    assert root.stat().st_mode & 0o777 == 0o700
    files = [p for p in (root / "current").rglob("*") if p.is_file()]
    assert files and all(p.stat().st_mode & 0o777 == 0o600 for p in files)


def test_export_mode_rejects_incremental(tmp_path: Path) -> None:
    """incremental is a live-only option."""
    with pytest.raises(ValueError, match="incremental"):
        OktaOptions.model_validate(
            {"type": "okta", "mode": "export", "path": tmp_path, "incremental": True}
        )


# --- the local server's part --------------------------------------------------------------------


def _get(server: OktaServer, path: str, **query: str) -> tuple[Any, list[str]]:
    url = f"{server.url}{path}?{urllib.parse.urlencode(query)}"
    request = urllib.request.Request(url, headers={"Authorization": f"SSWS {TOKEN}"})
    with urllib.request.urlopen(request) as response:  # noqa: S310 (a local test server)
        return json.load(response), response.headers.get_all("Link") or []


def test_the_server_filters_and_pages_its_log(org: Org, server: OktaServer) -> None:
    """lastUpdated / lastMembershipUpdated filters list what changed (deactivated users too);
    the System Log pages in order, bounded requests end, polling ones always link on."""
    start = utcnow() - timedelta(seconds=1)
    org.start_log()
    bob = org.user("bob@example.com")
    org.update_user(bob, status="DEPROVISIONED")
    org.add_member(org.group("Helpdesk"), bob)
    org.sign_in(org.user("alice@example.com"))
    stamp = start.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    users, _ = _get(server, "/api/v1/users", filter=f'lastUpdated gt "{stamp}"')
    assert [u["id"] for u in users] == [bob.id]
    expression = f'lastUpdated gt "{stamp}" or lastMembershipUpdated gt "{stamp}"'
    groups, _ = _get(server, "/api/v1/groups", filter=expression)
    assert [g["profile"]["name"] for g in groups] == ["Helpdesk"]
    until = (utcnow() + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    page, links = _get(server, "/api/v1/logs", since=stamp, until=until, limit="2")
    assert [e["eventType"] for e in page] == [
        "user.lifecycle.deactivate",
        "group.user_membership.add",
    ]
    assert page[0]["target"][0] == {**page[0]["target"][0], "id": bob.id, "type": "User"}
    after = urllib.parse.urlsplit(links[-1].split(";")[0].strip("<>"))
    rest, links = _get(server, after.path, **dict(urllib.parse.parse_qsl(after.query)))
    assert [e["eventType"] for e in rest] == ["user.session.start"]
    assert not any('rel="next"' in link for link in links)
    _, polling = _get(server, "/api/v1/logs", since=stamp, limit="10")
    assert any('rel="next"' in link for link in polling)
