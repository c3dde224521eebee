"""Okta collection against a local Okta: the model it gives, live and from an export."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors import connector_class
from iam_gov.connectors.okta.connector import OktaConnector, OktaOptions
from iam_gov.model import Account, AccountStatus, CredentialKind, SystemSnapshot
from tests.support.okta_server import EPOCH, TOKEN, OktaServer, Org, example_org, write_export
from tests.support.world import World

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EXPORTED = datetime(2026, 2, 28, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def okta_env() -> Iterator[None]:
    """A token in the environment, and nothing from this machine's environment that would
    change what the SDK does (its own switch for plain http included: ``allow_http`` decides)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", raising=False)
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
            "allow_http": True,
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
    from iam_gov.connectors.okta.records import parse_factor_kinds

    factors = [
        {"factorType": "email", "status": "ACTIVE"},
        {"factorType": "question", "status": "ACTIVE"},
        {"factorType": "push", "status": "PENDING_ACTIVATION"},
    ]
    assert parse_factor_kinds(factors) == ()  # so mfa-missing fires for such a user
    factors.append({"factorType": "webauthn", "status": "ACTIVE"})
    assert parse_factor_kinds(factors) == ("webauthn",)
