"""Entra connector collection against a local Graph: signing in through MSAL, and the model
that users, groups, directory roles, app roles and MFA registration become."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from iam_gov.connectors import connector_class
from iam_gov.connectors.entra.connector import EntraConnector
from iam_gov.model import AccountKind, AccountStatus, CredentialKind, SystemSnapshot
from tests.support.graph_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    App,
    GraphServer,
    oid,
    running_server,
)
from tests.support.graph_tenant import (
    APP_ADMIN,
    DEFAULT_ACCESS,
    GLOBAL_ADMIN,
    HELPDESK_ADMIN,
    NOW,
    SALES_UNIT,
    SECRET_ENV,
    USER_ADMIN,
    demo_tenant,
    live_connector,
)

ALICE, BOB, CAROL, DAVE, FRANK = (oid(n) for n in ("alice", "bob", "carol", "dave", "frank"))
EVE = oid("eve_partner.example#EXT#")
STAFF, ENGINEERING, PLATFORM, HELPDESK, SALES = (
    f"groups/{oid(f'group: {n}')}"
    for n in ("All Staff", "Engineering", "Platform", "Helpdesk Admins", "Sales")
)
SALESFORCE, WIKI = oid("sp: salesforce"), oid("sp: wiki")
SF_ADMIN = f"servicePrincipals/{SALESFORCE}/appRoles/{oid('approle: salesforce admin')}"
SF_USER = f"servicePrincipals/{SALESFORCE}/appRoles/{oid('approle: salesforce user')}"
WIKI_DEFAULT = f"servicePrincipals/{WIKI}/appRoles/{DEFAULT_ACCESS}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphServer]:
    yield from running_server(tmp_path_factory)


@pytest.fixture
def graph(server: GraphServer, monkeypatch: pytest.MonkeyPatch) -> GraphServer:
    """The demo tenant, fresh, and the app's client secret in the environment."""
    server.reset(demo_tenant())
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    return server


@pytest.fixture(scope="module")
def snapshot(server: GraphServer) -> SystemSnapshot:
    """The demo tenant, collected once for the tests that only read it."""
    server.reset(demo_tenant())
    return live_connector(server, token_provider=server.issue_token).collect()


def _account(snapshot: SystemSnapshot, native_id: str) -> Any:
    return next(a for a in snapshot.accounts if a.native_id == native_id)


def _grants(snapshot: SystemSnapshot, account_id: str) -> set[tuple[str, str | None]]:
    return {(g.entitlement_id, g.via) for g in snapshot.grants if g.account_id == account_id}


def test_registered_under_its_type_name() -> None:
    assert connector_class("entra") is EntraConnector


def test_signs_in_through_msal_with_the_client_secret(graph: GraphServer) -> None:
    connector = live_connector(graph)

    snapshot = connector.collect()

    assert snapshot.complete, snapshot.errors
    assert snapshot.errors == ()
    assert (snapshot.source, snapshot.collected_at, snapshot.connector) == ("live", NOW, "entra")
    assert len(snapshot.accounts) == 6
    # MSAL discovered the tenant, got one token, and every Graph call carried it.
    sign_in = [r for r in graph.requests if not r.graph]
    assert [(r.method, r.path) for r in sign_in] == [
        ("GET", f"/{graph.tenant_id}/v2.0/.well-known/openid-configuration"),
        ("POST", f"/{graph.tenant_id}/oauth2/v2.0/token"),
    ]
    assert {r.client_id for r in graph.graph_requests()} == {CLIENT_ID}
    # The token is cached: a second collection signs in no more.
    connector.collect()
    assert len([r for r in graph.requests if not r.graph]) == 2
    connector.close()


@pytest.mark.parametrize("with_thumbprint", [True, False])
def test_signs_in_with_a_certificate(
    graph: GraphServer, monkeypatch: pytest.MonkeyPatch, with_thumbprint: bool
) -> None:
    key_pem, cert_pem, thumbprint = _client_certificate()
    graph.apps[CLIENT_ID] = App(CLIENT_ID, certificate_pem=cert_pem)
    # Without a thumbprint, the PEM carries the certificate and MSAL signs with SHA-256.
    monkeypatch.setenv("ENTRA_KEY", key_pem if with_thumbprint else key_pem + cert_pem.decode())
    extra: dict[str, Any] = {"certificate_private_key": {"env": "ENTRA_KEY"}}
    if with_thumbprint:
        extra["certificate_thumbprint"] = thumbprint
    connector = live_connector(graph, client_secret=None, **extra)

    snapshot = connector.collect()

    assert snapshot.complete and len(snapshot.accounts) == 6
    token_requests = [r for r in graph.requests if r.path.endswith("/token")]
    assert [r.status for r in token_requests] == [200]


def test_a_key_alone_needs_its_thumbprint(
    graph: GraphServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from iam_gov.errors import ConfigError

    key_pem, _, _ = _client_certificate()
    monkeypatch.setenv("ENTRA_KEY", key_pem)
    connector = live_connector(
        graph, client_secret=None, certificate_private_key={"env": "ENTRA_KEY"}
    )

    with pytest.raises(ConfigError, match="holds only a private key: add its certificate"):
        connector.collect()
    assert graph.requests == []


def _client_certificate() -> tuple[str, bytes, str]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "iam-gov")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    return key_pem, cert_pem, certificate.fingerprint(hashes.SHA1()).hex().upper()


def test_users_become_accounts(snapshot: SystemSnapshot) -> None:
    alice = _account(snapshot, ALICE)
    assert (alice.login, alice.email, alice.employee_id, alice.display_name) == (
        "alice@contoso.com",
        "alice@contoso.com",
        "E001",
        "Alice Archer",
    )
    assert alice.status is AccountStatus.ACTIVE and alice.kind is AccountKind.HUMAN
    assert (
        alice.created_at is not None and alice.created_at.isoformat() == "2024-01-15T09:00:00+00:00"
    )
    # The last successful sign-in (here non-interactive, a day after the interactive one).
    assert alice.last_login_at is not None
    assert alice.last_login_at.isoformat() == "2026-02-28T17:45:00+00:00"
    assert alice.attributes["userType"] == "Member"
    assert alice.attributes["department"] == "Engineering"
    assert alice.attributes["lastSignInDateTime"] == "2026-02-27T08:30:00+00:00"

    # Without a successful sign-in on record, the last interactive attempt.
    bob = _account(snapshot, BOB)
    assert (
        bob.last_login_at is not None
        and bob.last_login_at.isoformat() == "2026-01-10T10:00:00+00:00"
    )
    assert _account(snapshot, FRANK).last_login_at is None  # never signed in

    carol = _account(snapshot, CAROL)
    assert carol.status is AccountStatus.DISABLED
    assert carol.attributes["accountEnabled"] == "false"

    eve = _account(snapshot, EVE)
    assert eve.attributes["userType"] == "Guest" and eve.status is AccountStatus.ACTIVE
    assert eve.attributes["creationType"] == "Invitation" and eve.email is None
    assert _account(snapshot, DAVE).attributes["onPremisesSyncEnabled"] == "true"
    assert "onPremisesSyncEnabled" not in alice.attributes  # Graph said null: not said at all


def test_mfa_factors_from_the_registration_report(snapshot: SystemSnapshot) -> None:
    # E-mail is registered too, but serves password reset only.
    assert _account(snapshot, ALICE).mfa_factors == (
        "microsoftAuthenticatorPush",
        "softwareOneTimePasscode",
    )
    assert _account(snapshot, ALICE).attributes["defaultMfaMethod"] == "microsoftAuthenticatorPush"
    assert _account(snapshot, BOB).mfa_factors == ()  # isMfaRegistered false
    assert _account(snapshot, EVE).mfa_factors == ("fido2SecurityKey",)
    # The report leaves disabled users out: unknown, not none.
    assert _account(snapshot, CAROL).mfa_factors is None


def test_one_password_per_user_active_only_where_entra_checks_it(snapshot: SystemSnapshot) -> None:
    passwords = {c.account_id: c for c in snapshot.credentials}
    assert set(passwords) == {a.native_id for a in snapshot.accounts}
    alice = passwords[ALICE]
    assert alice.credential_id == f"{ALICE}#password" and alice.kind is CredentialKind.PASSWORD
    assert alice.active and alice.attributes == {"checked_by": "entra"}
    assert (
        alice.created_at is not None and alice.created_at.isoformat() == "2025-11-02T10:00:00+00:00"
    )
    assert alice.last_used_at == _account(snapshot, ALICE).last_login_at
    assert not passwords[CAROL].active  # disabled
    assert (passwords[DAVE].active, passwords[DAVE].attributes["checked_by"]) == (
        False,
        "federation",
    )
    assert (passwords[EVE].active, passwords[EVE].attributes["checked_by"]) == (
        False,
        "home-tenant",
    )
    assert passwords[FRANK].active and passwords[FRANK].created_at is None


def test_nested_groups_are_held_through_the_direct_group(snapshot: SystemSnapshot) -> None:
    # Platform is in Engineering, which is in All Staff; Frank is in Platform only.
    assert _grants(snapshot, FRANK) == {
        (PLATFORM, None),
        (ENGINEERING, PLATFORM),
        (STAFF, PLATFORM),
    }
    assert {g for g in _grants(snapshot, ALICE) if g[0].startswith("groups/")} == {
        (ENGINEERING, None),
        (STAFF, ENGINEERING),
    }
    assert _grants(snapshot, CAROL) == {(STAFF, None)}  # disabled users keep their grants
    entitlements = {e.entitlement_id: e for e in snapshot.entitlements}
    assert (entitlements[ENGINEERING].kind, entitlements[ENGINEERING].name) == (
        "group",
        "Engineering",
    )
    assert entitlements[ENGINEERING].ref == "group:Engineering"
    assert entitlements[ENGINEERING].description == "Engineering group"
    # A device in All Staff is no account and holds nothing here.
    assert all(g.account_id in {a.native_id for a in snapshot.accounts} for g in snapshot.grants)


def test_directory_roles_are_privileged(snapshot: SystemSnapshot) -> None:
    entitlements = {e.entitlement_id: e for e in snapshot.entitlements}
    global_admin = entitlements[f"roleDefinitions/{GLOBAL_ADMIN}"]
    assert (global_admin.kind, global_admin.name, global_admin.privileged) == (
        "directory-role",
        "Global Administrator",
        True,
    )
    assert (f"roleDefinitions/{GLOBAL_ADMIN}", None) in _grants(snapshot, ALICE)
    # Through a role-assignable group, which is privileged for it.
    assert (f"roleDefinitions/{HELPDESK_ADMIN}", HELPDESK) in _grants(snapshot, BOB)
    assert entitlements[HELPDESK].privileged and not entitlements[ENGINEERING].privileged
    # Scoped to an administrative unit: another entitlement, named with its scope.
    scoped = f"roleDefinitions/{USER_ADMIN}@/administrativeUnits/{SALES_UNIT}"
    assert entitlements[scoped].name == f"User Administrator (/administrativeUnits/{SALES_UNIT})"
    assert (scoped, None) in _grants(snapshot, DAVE)
    # Held by an application only: no account, no entitlement.
    assert f"roleDefinitions/{APP_ADMIN}" not in entitlements


def test_app_roles_are_named_by_application_and_role(snapshot: SystemSnapshot) -> None:
    entitlements = {e.entitlement_id: e for e in snapshot.entitlements}
    assert entitlements[SF_ADMIN].ref == "app-role:Salesforce/Admin"
    assert entitlements[SF_ADMIN].description == "Admin of Salesforce"
    assert entitlements[WIKI_DEFAULT].ref == "app-role:Wiki/default"
    assert not any(e.privileged for e in entitlements.values() if e.kind == "app-role")
    grants = {(g.account_id, g.entitlement_id, g.via): g for g in snapshot.grants}
    direct = grants[(ALICE, SF_ADMIN, None)]
    assert (
        direct.granted_at is not None
        and direct.granted_at.isoformat() == "2025-03-01T09:00:00+00:00"
    )
    # Assigned to Engineering: its direct members hold it through it, nested members do not.
    assert grants[(BOB, SF_USER, ENGINEERING)].granted_at is None
    assert (ALICE, SF_USER, ENGINEERING) in grants
    assert not any(g.account_id == FRANK and g.entitlement_id == SF_USER for g in snapshot.grants)
    assert (EVE, WIKI_DEFAULT, None) in grants
    # An application permission held by another application is not a user's access.
    assert not any("Microsoft Graph" in e.name for e in snapshot.entitlements)


def test_domains_are_kept_in_settings(snapshot: SystemSnapshot) -> None:
    assert snapshot.settings == {
        "domains": {
            "contoso.com": "Managed",
            "contoso.onmicrosoft.com": "Managed",
            "corp.example.com": "Federated",
        }
    }


def test_asks_only_for_what_it_uses(graph: GraphServer) -> None:
    live_connector(graph, token_provider=graph.issue_token).collect()

    requests = graph.graph_requests()
    assert all(r.method == "GET" for r in requests)
    report = "/reports/authenticationMethods/userRegistrationDetails"
    domains_and_roles = {
        "/domains",
        "/roleManagement/directory/roleAssignments",
        "/roleManagement/directory/roleDefinitions",
        "/roleManagement/directory/roleEligibilityScheduleInstances",
        "/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances",
    }
    for request in requests:
        if request.path != report:
            assert request.query.get("$select"), request.path
        if request.path not in domains_and_roles | {report}:
            assert request.query.get("$top") in {"999", "500"}, request.path
        # ConsistencyLevel is for advanced queries; collection makes none.
        assert "consistencylevel" not in request.headers
    users = next(r for r in requests if r.path == "/users")
    assert users.query["$top"] == "500" and "signInActivity" in users.query["$select"]


def test_without_p1_sign_in_activity_and_mfa_are_unknown_not_missing(graph: GraphServer) -> None:
    graph.tenant.premium = False

    snapshot = live_connector(graph, token_provider=graph.issue_token).collect()

    # Nothing that grants access is missing: the snapshot is complete, with notes.
    assert snapshot.complete
    assert len(snapshot.accounts) == 6 and len(snapshot.grants) > 0
    assert all(a.last_login_at is None and a.mfa_factors is None for a in snapshot.accounts)
    notes = [str(e) for e in snapshot.errors]
    assert len(notes) == 2 and not any(e.fatal for e in snapshot.errors)
    assert "Authentication_RequestFromNonPremiumTenantOrB2CTenant" in notes[0]
    assert "last sign-in is unknown for every user" in notes[0]
    assert "no account is taken to lack MFA" in notes[1]
    # It asked once with sign-in activity, then without.
    users = [r for r in graph.graph_requests() if r.path == "/users"]
    assert [("signInActivity" in r.query["$select"], r.status) for r in users] == [
        (True, 403),
        (False, 200),
    ]


def test_snapshot_is_sorted_and_repeatable(graph: GraphServer) -> None:
    first = live_connector(graph, token_provider=graph.issue_token).collect()
    second = live_connector(graph, token_provider=graph.issue_token).collect()

    assert first == second
    assert [a.native_id for a in first.accounts] == sorted(a.native_id for a in first.accounts)
    assert [e.entitlement_id for e in first.entitlements] == sorted(
        e.entitlement_id for e in first.entitlements
    )
    assert list(first.grants) == sorted(
        first.grants, key=lambda g: (g.account_id, g.entitlement_id, g.via or "")
    )


def test_duplicate_group_names_are_noted(graph: GraphServer) -> None:
    copy = dict(graph.tenant.groups[oid("group: Platform")], id=oid("group: Platform 2"))
    graph.tenant.groups[copy["id"]] = copy

    snapshot = live_connector(graph, token_provider=graph.issue_token).collect()

    assert snapshot.complete
    assert [str(e) for e in snapshot.errors] == [
        "/groups: 2 groups are named 'Platform': a policy's group:Platform means all of them"
    ]
