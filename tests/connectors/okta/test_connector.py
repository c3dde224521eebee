"""Okta collection against a local Okta: the model it gives, live and from an export."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors import connector_class
from iam_gov.connectors.okta.connector import OktaConnector, OktaOptions
from iam_gov.errors import SourceError
from iam_gov.model import Account, AccountStatus, CredentialKind, SystemSnapshot
from tests.support.okta_server import EPOCH, TOKEN, OktaServer, Org, example_org, write_export
from tests.support.world import World

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EXPORTED = datetime(2026, 2, 28, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def okta_env() -> Iterator[None]:
    """The SDK's switch for plain-http test servers, a token in the environment, and nothing
    from this machine's environment that would change what the SDK does."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", "true")
        patch.setenv("OKTA_API_TOKEN", TOKEN)
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            patch.delenv(name, raising=False)
        yield


def live_options(server: OktaServer, **extra: Any) -> OktaOptions:
    return OktaOptions.model_validate(
        {
            "type": "okta",
            "mode": "live",
            "org_url": server.url,
            "api_token": {"env": "OKTA_API_TOKEN"},
            **extra,
        }
    )


def live(server: OktaServer, **extra: Any) -> OktaConnector:
    return OktaConnector("okta", live_options(server, **extra), clock=lambda: NOW)


def export(folder: Path, **extra: Any) -> OktaConnector:
    options = OktaOptions.model_validate(
        {
            "type": "okta",
            "mode": "export",
            "path": folder,
            "exported_at": EXPORTED,
            "password_policies": folder / "policies-password.json",
            **extra,
        }
    )
    return OktaConnector("okta", options)


@pytest.fixture(scope="module")
def org() -> Org:
    return example_org()


@pytest.fixture(scope="module")
def server(org: Org, okta_env: None) -> Iterator[OktaServer]:
    """A server the tests of this module only read from."""
    with OktaServer(org) as running:
        yield running


@pytest.fixture(scope="module")
def snapshot(server: OktaServer) -> SystemSnapshot:
    return live(server).collect()


def account(snapshot: SystemSnapshot, org: Org, login: str) -> Account:
    user_id = org.user(f"{login}@example.com").id
    return next(a for a in snapshot.accounts if a.native_id == user_id)


def grants(snapshot: SystemSnapshot, org: Org, login: str) -> set[tuple[str, str | None]]:
    """(entitlement ref, name of the group it comes through) of one user's grants."""
    user_id = org.user(f"{login}@example.com").id
    by_id = {e.entitlement_id: e for e in snapshot.entitlements}
    return {
        (by_id[g.entitlement_id].ref, by_id[g.via].name if g.via else None)
        for g in snapshot.grants
        if g.account_id == user_id
    }


def test_registered_under_its_type_name() -> None:
    assert connector_class("okta") is OktaConnector


def test_export_gives_the_same_model_as_live(
    server: OktaServer, snapshot: SystemSnapshot, tmp_path: Path
) -> None:
    write_export(server.url, tmp_path)

    exported = export(tmp_path).collect()

    assert snapshot.complete and exported.complete, (snapshot.errors, exported.errors)
    assert snapshot.errors == () and exported.errors == ()
    assert exported.model_dump(exclude={"source", "collected_at"}) == snapshot.model_dump(
        exclude={"source", "collected_at"}
    )
    assert (snapshot.source, snapshot.collected_at) == ("live", NOW)
    assert (exported.source, exported.collected_at) == (f"export:{tmp_path.name}", EXPORTED)
    assert len(snapshot.accounts) == 10


def test_users_become_accounts(snapshot: SystemSnapshot, org: Org) -> None:
    alice = account(snapshot, org, "alice")
    assert (alice.login, alice.email, alice.display_name, alice.employee_id) == (
        "alice@example.com",
        "alice@example.com",
        "Alice Archer",
        "E001",
    )
    assert alice.status is AccountStatus.ACTIVE
    assert alice.created_at == EPOCH
    assert alice.last_login_at == EPOCH + timedelta(days=30)
    assert alice.attributes == {
        "okta_status": "ACTIVE",
        "credential_provider": "OKTA",
        "credential_provider_name": "OKTA",
    }
    assert alice.person_id is None
    # A display name is data, whatever it looks like.
    assert account(snapshot, org, "fed").display_name == "Fede [bold]Ration[/bold]"
    assert account(snapshot, org, "ivan").employee_id is None


@pytest.mark.parametrize(
    ("login", "status"),
    [
        ("alice", AccountStatus.ACTIVE),
        # A lockout that expires, a password to change, a reset under way, an activation not
        # yet finished: each can sign in now or soon, without an administrator.
        ("erin", AccountStatus.ACTIVE),
        ("frank", AccountStatus.ACTIVE),
        ("grace", AccountStatus.ACTIVE),
        ("heidi", AccountStatus.ACTIVE),
        ("carol", AccountStatus.SUSPENDED),
        ("dave", AccountStatus.DISABLED),
        ("ivan", AccountStatus.DISABLED),
    ],
)
def test_status_says_whether_the_user_can_sign_in(
    snapshot: SystemSnapshot, org: Org, login: str, status: AccountStatus
) -> None:
    found = account(snapshot, org, login)
    assert found.status is status
    assert found.attributes["okta_status"] == org.user(f"{login}@example.com").status


def test_a_password_is_a_credential_used_at_the_last_login(
    snapshot: SystemSnapshot, org: Org
) -> None:
    credentials = {c.account_id: c for c in snapshot.credentials}
    alice = org.user("alice@example.com")
    password = credentials[alice.id]
    assert password.credential_id == f"{alice.id}#password"
    assert password.kind is CredentialKind.PASSWORD and password.active
    assert password.last_used_at == EPOCH + timedelta(days=30)
    assert password.created_at == EPOCH
    assert not credentials[org.user("carol@example.com").id].active  # suspended
    # A federated user signs in at another IdP: no Okta password.
    assert org.user("fed@example.com").id not in credentials


def test_mfa_factors_are_the_active_ones(snapshot: SystemSnapshot, org: Org) -> None:
    assert account(snapshot, org, "alice").mfa_factors == ("push", "token:software:totp")
    assert account(snapshot, org, "bob").mfa_factors == ()
    assert account(snapshot, org, "erin").mfa_factors == ("webauthn",)
    assert account(snapshot, org, "fed").mfa_factors == ()  # an inactive factor is none
    # Users who cannot sign in are not asked: unknown, not none.
    assert account(snapshot, org, "carol").mfa_factors is None
    assert account(snapshot, org, "dave").mfa_factors is None


def test_factors_are_asked_only_of_users_who_can_sign_in(
    server: OktaServer, snapshot: SystemSnapshot, org: Org
) -> None:
    asked = {p.split("/")[4] for p in server.paths("/api/v1/users/{user}/factors")}
    can = {"alice", "bob", "erin", "frank", "grace", "heidi", "fed"}
    assert asked == {org.user(f"{login}@example.com").id for login in can}


def test_entitlements(snapshot: SystemSnapshot, org: Org) -> None:
    by_ref = {e.ref: e for e in snapshot.entitlements}
    assert set(by_ref) == {
        "group:Everyone",
        "group:Engineering",
        "group:Okta Admins",
        "group:Helpdesk",
        "group:Sales",
        "app:GitHub",
        "app:Salesforce",
        "app:Slack",
        "app:Legacy CRM",
        "admin-role:SUPER_ADMIN",
        "admin-role:ORG_ADMIN",
        "admin-role:READ_ONLY_ADMIN",
        "admin-role:Password resetter",
    }
    assert by_ref["group:Engineering"].entitlement_id == org.group("Engineering").id
    assert by_ref["group:Engineering"].description == "Builds the product"
    assert by_ref["app:GitHub"].entitlement_id == org.app("GitHub").id
    assert by_ref["app:Legacy CRM"].description == "legacy_crm (inactive)"
    assert by_ref["admin-role:SUPER_ADMIN"].entitlement_id == "role:SUPER_ADMIN"
    assert by_ref["admin-role:SUPER_ADMIN"].description == "Super Administrator"
    assert by_ref["admin-role:Password resetter"].entitlement_id == "role:cr0resetter:iamstaff"
    privileged = {ref for ref, e in by_ref.items() if e.privileged}
    # Every admin role, and the groups that confer one.
    assert privileged == {
        "admin-role:SUPER_ADMIN",
        "admin-role:ORG_ADMIN",
        "admin-role:READ_ONLY_ADMIN",
        "admin-role:Password resetter",
        "group:Okta Admins",
        "group:Helpdesk",
    }


def test_grants_direct_and_through_groups(snapshot: SystemSnapshot, org: Org) -> None:
    assert grants(snapshot, org, "alice") == {
        ("group:Everyone", None),
        ("group:Engineering", None),
        ("app:Slack", "Everyone"),
        ("app:GitHub", "Engineering"),
        ("app:GitHub", None),  # also assigned directly
        ("admin-role:SUPER_ADMIN", None),
    }
    assert grants(snapshot, org, "bob") == {
        ("group:Everyone", None),
        ("group:Engineering", None),
        ("group:Okta Admins", None),
        ("app:Slack", "Everyone"),
        ("app:GitHub", "Engineering"),
        ("app:Legacy CRM", None),
        ("admin-role:ORG_ADMIN", "Okta Admins"),
    }
    assert ("admin-role:Password resetter", "Helpdesk") in grants(snapshot, org, "grace")
    assert ("app:Salesforce", "Sales") in grants(snapshot, org, "erin")
    # A deactivated user stays in its groups, and is an account that cannot sign in.
    assert ("group:Engineering", None) in grants(snapshot, org, "dave")
    direct_app = next(
        g
        for g in snapshot.grants
        if g.account_id == org.user("bob@example.com").id
        and g.entitlement_id == org.app("Legacy CRM").id
    )
    assert direct_app.granted_at == EPOCH + timedelta(days=30)


def test_snapshot_is_sorted_and_repeatable(server: OktaServer, snapshot: SystemSnapshot) -> None:
    again = live(server).collect()

    assert again == snapshot
    assert [a.native_id for a in snapshot.accounts] == sorted(a.native_id for a in again.accounts)
    ids = [e.entitlement_id for e in snapshot.entitlements]
    assert ids == sorted(ids)
    keys = [(g.account_id, g.entitlement_id, g.via or "") for g in snapshot.grants]
    assert keys == sorted(keys)


def test_every_page_is_read(org: Org, okta_env: None, tmp_path: Path) -> None:
    with OktaServer(org, max_page=2) as small_pages:
        snapshot = live(small_pages).collect()
        seen = list(small_pages.seen)
        write_export(small_pages.url, tmp_path)  # files of several pages, one after the other
    exported = export(tmp_path).collect()

    assert snapshot.complete, snapshot.errors
    assert len(snapshot.accounts) == 10
    by_route: dict[str, list[dict[str, str]]] = {}
    for request in seen:
        by_route.setdefault(request.route or "", []).append(request.query)
    # Each list was followed through its next links (Link headers; a body link for assignees).
    users = [q for q in by_route["/api/v1/users"] if "filter" not in q]
    assert len(users) == 5 and all(q.get("limit") == "200" for q in users[:1])
    assert sum("after" in q for q in users) == 4
    assert len(by_route["/api/v1/groups"]) == 3
    assert len(by_route["/api/v1/iam/assignees/users"]) == 2
    # Okta does not document this list's page sizes: none is asked for, the links followed.
    policies = by_route["/api/v1/policies"]
    assert policies == [
        {"type": "PASSWORD"},
        {"type": "PASSWORD", "after": policies[1]["after"], "limit": "2"},
    ]
    everyone = org.everyone.id
    assert sum(1 for r in seen if r.path == f"/api/v1/groups/{everyone}/users") == 5
    assert len((tmp_path / "users.json").read_text().splitlines()) == 5
    assert exported.model_dump(exclude={"source", "collected_at"}) == snapshot.model_dump(
        exclude={"source", "collected_at"}
    )


def test_employee_id_from_another_attribute(server: OktaServer, org: Org) -> None:
    snapshot = live(server, employee_id_attribute="email").collect()

    assert account(snapshot, org, "bob").employee_id == "bob@example.com"


def test_without_factors_mfa_is_unknown(server: OktaServer, org: Org) -> None:
    snapshot = live(server, collect_factors=False).collect()

    assert snapshot.complete
    assert {a.mfa_factors for a in snapshot.accounts} == {None}


# --- password policies ------------------------------------------------------------------------


def test_active_password_policies_are_kept_by_priority(snapshot: SystemSnapshot, org: Org) -> None:
    sales = next(p for p in org.password_policies if p.name == "Sales")

    # Retired is inactive: it applies to no one. Okta's null and 0 both mean "not required".
    assert snapshot.settings["password_policies"] == [
        {
            "source": "okta",
            "id": sales.id,
            "name": "Sales",
            "priority": 1,
            "default": False,
            "groups": ["Sales"],
            "min_length": 8,
            "history": 0,
            "lockout_threshold": 10,
            "complexity": None,
            "classes": {"uppercase": True, "lowercase": False, "numbers": True, "symbols": False},
            "max_age_days": None,  # maxAgeDays 0: never expire
        },
        {
            "source": "okta",
            "id": org.default_password_policy.id,
            "name": "Default Policy",
            "priority": 3,
            "default": True,
            "groups": ["Everyone"],
            "min_length": 14,
            "history": 24,
            "lockout_threshold": 5,
            "complexity": None,
            "classes": dict.fromkeys(("uppercase", "lowercase", "numbers", "symbols"), True),
            "max_age_days": None,
        },
    ]


def test_the_rule_reads_what_is_collected(snapshot: SystemSnapshot, org: Org) -> None:
    sales = next(p for p in org.password_policies if p.name == "Sales")

    [finding] = World(settings={"okta": snapshot.settings}).findings("weak-password-policy")

    assert finding.subject == f"okta:password-policy:{sales.id}"
    assert finding.evidence["shortfalls"] == [
        "passwords may be 8 characters long (at least 14 required)",
        "lowercase and symbols are not required",
        "0 previous passwords are remembered (12 required)",
    ]


def test_policies_for_directory_users_are_left_to_the_directory(okta_env: None) -> None:
    org = Org()
    ad = org.add_password_policy(
        "Active Directory Policy", org.everyone, provider="ACTIVE_DIRECTORY"
    )
    org.default_password_policy.max_age_days = 90

    with OktaServer(org) as server:
        snapshot = live(server).collect()

    assert snapshot.complete
    [default] = snapshot.settings["password_policies"]
    assert default["name"] == "Default Policy" and default["max_age_days"] == 90
    (note,) = snapshot.errors
    assert (note.source, note.record) == ("/api/v1/policies?type=PASSWORD", ad.id)
    assert note.message == (
        "password policy Active Directory Policy governs ACTIVE_DIRECTORY users, whose "
        "directory enforces its own password policy: not judged here"
    )


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


@pytest.fixture(scope="module")
def exported(server: OktaServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("okta-export")
    write_export(server.url, folder)
    return folder


@pytest.fixture
def copy(exported: Path, tmp_path: Path) -> Path:
    """A copy of the export that a test may break."""
    return Path(shutil.copytree(exported, tmp_path / "export"))


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
    import os

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


# --- options ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"mode": "live"}, "needs org_url"),
        ({"mode": "live", "org_url": "https://x.okta.com"}, "give either api_token"),
        (
            {"mode": "live", "org_url": "http://x.okta.com", "api_token": {"env": "T"}},
            "must start with https://",
        ),
        (
            {"mode": "live", "org_url": "https://x.okta.com/admin", "api_token": {"env": "T"}},
            "the org's address only",
        ),
        (
            {
                "mode": "live",
                "org_url": "https://x.okta.com",
                "api_token": {"env": "T"},
                "client_id": "0oa1",
            },
            "give either api_token",
        ),
        (
            {"mode": "live", "org_url": "https://x.okta.com", "client_id": "0oa1"},
            "needs both client_id and private_key",
        ),
        ({"mode": "export"}, "needs path"),
        ({"mode": "export", "path": "x", "org_url": "https://x.okta.com"}, "only apply to"),
        (
            {
                "mode": "live",
                "org_url": "https://x.okta.com",
                "api_token": {"env": "T"},
                "password_policies": "p.json",
            },
            'password_policies only apply to mode = "export"',
        ),
        (
            {"mode": "live", "org_url": "https://x.okta.com", "api_token": "00abc"},
            "Input should be",
        ),
    ],
)
def test_options_say_what_is_wrong(extra: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        OktaOptions.model_validate({"type": "okta", **extra})


def test_options_keep_the_org_address_only() -> None:
    options = OktaOptions.model_validate(
        {
            "type": "okta",
            "mode": "live",
            "org_url": "https://example.okta.com/",
            "api_token": {"env": "T"},
        }
    )
    assert options.org_url == "https://example.okta.com"
    assert options.request_timeout == 30 and options.concurrency == 8


def test_email_and_security_questions_are_not_second_factors() -> None:
    from iam_gov.connectors.okta.export import parse_factor_kinds

    factors = [
        {"factorType": "email", "status": "ACTIVE"},
        {"factorType": "question", "status": "ACTIVE"},
        {"factorType": "push", "status": "PENDING_ACTIVATION"},
    ]
    assert parse_factor_kinds(factors) == ()  # so mfa-missing fires for such a user
    factors.append({"factorType": "webauthn", "status": "ACTIVE"})
    assert parse_factor_kinds(factors) == ("webauthn",)
