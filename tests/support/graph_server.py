"""A Microsoft Graph and Entra token endpoint on 127.0.0.1 over HTTPS, for the Entra
connector's tests.

It speaks the wire protocol the real services speak, as far as the connector and MSAL use it:
OpenID discovery and the client-credentials token endpoint (client secret or a signed
certificate assertion), Graph v1.0 with ``$select`` checked against each type's properties,
``$top`` limits, ``@odata.nextLink`` paging, Graph's error bodies, and the application
permissions each call needs according to Graph's documentation (``required_permissions``),
PIM's eligibility lists (Entra ID P2). Faults (throttling, outages, slow answers, answers cut
by a reset or truncated, a nextLink back to the first page) are injected per route, each
counting the requests it met; ``die_at`` stops the whole server mid-collect. Its certificate
is issued by a private CA (``ca_file``), as a TLS-inspecting proxy's or a test server's would
be.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import re
import secrets
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.support.private_ca import serve_https

TENANT_ID = "7b3c9d2e-1f4a-4c8b-9e6d-5a2f1b0c3d4e"
CLIENT_ID = "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c"
CLIENT_SECRET = "Zq8~not-a-real-secret.but-shaped-like-one_x"
_NAMESPACE = uuid.UUID("5d1f8a2e-6b3c-4e7a-9f0d-1c2b3a4d5e6f")


def oid(name: str) -> str:
    """A stable directory object id for a name, so that tests can say ``oid("alice")``."""
    return str(uuid.uuid5(_NAMESPACE, name))


# --- what each call needs (Graph's documentation, application permissions) -----------------

_READ_USERS = (frozenset({"User.Read.All"}), frozenset({"User.ReadWrite.All"}),
               frozenset({"Directory.Read.All"}))  # fmt: skip
_READ_GROUPS = (
    frozenset({"GroupMember.Read.All"}),
    frozenset({"Group.Read.All"}),
    frozenset({"Directory.Read.All"}),
    frozenset({"GroupMember.ReadWrite.All"}),
    frozenset({"Group.ReadWrite.All"}),
)
_READ_APPS = (frozenset({"Application.Read.All"}), frozenset({"Application.ReadWrite.All"}),
              frozenset({"Directory.Read.All"}))  # fmt: skip
_READ_ROLES = (
    frozenset({"RoleManagement.Read.Directory"}),
    frozenset({"RoleManagement.Read.All"}),
    frozenset({"Directory.Read.All"}),
    frozenset({"RoleManagement.ReadWrite.Directory"}),
)
_READ_ROLE_ELIGIBILITY = (
    frozenset({"RoleEligibilitySchedule.Read.Directory"}),
    frozenset({"RoleManagement.Read.Directory"}),
    frozenset({"RoleManagement.Read.All"}),
    frozenset({"RoleEligibilitySchedule.ReadWrite.Directory"}),
    frozenset({"RoleManagement.ReadWrite.Directory"}),
)
_READ_GROUP_ELIGIBILITY = (
    frozenset({"PrivilegedEligibilitySchedule.Read.AzureADGroup"}),
    frozenset({"PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup"}),
)
_ID = r"[^/]+"
ROUTES: tuple[tuple[str, re.Pattern[str], tuple[frozenset[str], ...]], ...] = tuple(
    (method, re.compile(pattern), alternatives)
    for method, pattern, alternatives in (
        ("GET", r"/users", _READ_USERS),
        ("GET", rf"/users/{_ID}", _READ_USERS),
        (
            "PATCH",
            rf"/users/{_ID}",
            # accountEnabled: "User.EnableDisableAccount.All + User.Read.All is the least
            # privileged combination".
            (
                frozenset({"User.EnableDisableAccount.All", "User.Read.All"}),
                frozenset({"User.ReadWrite.All"}),
                frozenset({"Directory.ReadWrite.All"}),
            ),
        ),
        (
            "POST",
            rf"/users/{_ID}/revokeSignInSessions",
            (
                frozenset({"User.RevokeSessions.All"}),
                frozenset({"User.ReadWrite.All"}),
                frozenset({"Directory.ReadWrite.All"}),
            ),
        ),
        (
            "GET",
            rf"/users/{_ID}/appRoleAssignments",
            (frozenset({"Directory.Read.All"}), frozenset({"AppRoleAssignment.ReadWrite.All"})),
        ),
        ("GET", r"/groups", _READ_GROUPS),
        ("GET", rf"/groups/{_ID}", _READ_GROUPS),
        ("GET", rf"/groups/{_ID}/members", _READ_GROUPS),
        (
            "DELETE",
            rf"/groups/{_ID}/members/{_ID}/\$ref",
            (
                frozenset({"GroupMember.ReadWrite.All"}),
                frozenset({"Group.ReadWrite.All"}),
                frozenset({"Directory.ReadWrite.All"}),
            ),
        ),
        ("GET", r"/roleManagement/directory/roleDefinitions", _READ_ROLES),
        ("GET", r"/roleManagement/directory/roleAssignments", _READ_ROLES),
        (
            "GET",
            r"/roleManagement/directory/roleEligibilityScheduleInstances",
            _READ_ROLE_ELIGIBILITY,
        ),
        (
            "GET",
            r"/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances",
            _READ_GROUP_ELIGIBILITY,
        ),
        ("GET", r"/servicePrincipals", _READ_APPS),
        ("GET", rf"/servicePrincipals/{_ID}/appRoleAssignedTo", _READ_APPS),
        (
            "DELETE",
            rf"/servicePrincipals/{_ID}/appRoleAssignedTo/{_ID}",
            (frozenset({"AppRoleAssignment.ReadWrite.All"}),),
        ),
        (
            "GET",
            r"/reports/authenticationMethods/userRegistrationDetails",
            (frozenset({"AuditLog.Read.All"}),),
        ),
        (
            "GET",
            r"/domains",
            (
                frozenset({"Domain.Read.All"}),
                frozenset({"Domain.ReadWrite.All"}),
                frozenset({"Directory.Read.All"}),
            ),
        ),
    )
)


def required_permissions(
    method: str, path: str, query: dict[str, str]
) -> tuple[frozenset[str], ...]:
    """The alternatives (least privileged first) that allow ``method path``; () if unknown."""
    for route_method, pattern, alternatives in ROUTES:
        if route_method == method and pattern.fullmatch(path):
            if path == "/users" and "signInActivity" in query.get("$select", ""):
                # "To read signInActivity: AuditLog.Read.All and User.Read.All".
                return tuple(a | {"AuditLog.Read.All"} for a in alternatives)
            return alternatives
    return ()


# --- the tenant -----------------------------------------------------------------------------

USER_PROPERTIES = frozenset(
    {
        "id", "userPrincipalName", "mail", "displayName", "givenName", "surname",
        "accountEnabled", "userType", "employeeId", "department", "jobTitle", "createdDateTime",
        "onPremisesSyncEnabled", "lastPasswordChangeDateTime", "creationType",
        "externalUserState", "passwordPolicies", "signInActivity",
        "signInSessionsValidFromDateTime", "businessPhones", "mobilePhone", "officeLocation",
        "preferredLanguage", "companyName", "employeeType",
    }
)  # fmt: skip
GROUP_PROPERTIES = frozenset(
    {
        "id", "displayName", "description", "groupTypes", "securityEnabled", "mailEnabled",
        "isAssignableToRole", "onPremisesSyncEnabled", "membershipRule", "mail",
        "mailNickname", "createdDateTime", "visibility",
    }
)  # fmt: skip
MEMBER_PROPERTIES = USER_PROPERTIES | GROUP_PROPERTIES
ROLE_DEFINITION_PROPERTIES = frozenset(
    {"id", "displayName", "description", "isBuiltIn", "isEnabled", "templateId", "version",
     "rolePermissions"}
)  # fmt: skip
ROLE_ASSIGNMENT_PROPERTIES = frozenset(
    {"id", "principalId", "roleDefinitionId", "directoryScopeId", "appScopeId"}
)
SERVICE_PRINCIPAL_PROPERTIES = frozenset(
    {"id", "appId", "displayName", "appRoles", "servicePrincipalType", "accountEnabled",
     "appRoleAssignmentRequired", "tags", "appOwnerOrganizationId"}
)  # fmt: skip
APP_ROLE_ASSIGNMENT_PROPERTIES = frozenset(
    {"id", "principalId", "principalType", "principalDisplayName", "resourceId",
     "resourceDisplayName", "appRoleId", "createdDateTime", "deletedDateTime"}
)  # fmt: skip
DOMAIN_PROPERTIES = frozenset({"id", "authenticationType", "isVerified", "isDefault"})
ROLE_ELIGIBILITY_PROPERTIES = frozenset(
    {"id", "principalId", "roleDefinitionId", "directoryScopeId", "appScopeId", "startDateTime",
     "endDateTime", "memberType", "roleEligibilityScheduleId"}
)  # fmt: skip
GROUP_ELIGIBILITY_PROPERTIES = frozenset(
    {"id", "accessId", "groupId", "principalId", "memberType", "startDateTime", "endDateTime",
     "eligibilityScheduleId"}
)  # fmt: skip


@dataclass
class Tenant:
    """The directory, as Graph would return each object (camelCase, ISO times)."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)
    devices: set[str] = field(default_factory=set)
    role_definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    role_assignments: list[dict[str, Any]] = field(default_factory=list)
    service_principals: dict[str, dict[str, Any]] = field(default_factory=dict)
    app_role_assignments: dict[str, dict[str, Any]] = field(default_factory=dict)
    registrations: dict[str, dict[str, Any]] = field(default_factory=dict)
    domains: list[dict[str, Any]] = field(default_factory=list)
    premium: bool = True
    """Entra ID P1: without it, sign-in activity and the registration report are refused."""
    role_eligibilities: list[dict[str, Any]] = field(default_factory=list)
    """PIM: eligible directory role assignments (roleEligibilityScheduleInstance)."""
    group_eligibilities: list[dict[str, Any]] = field(default_factory=list)
    """PIM for Groups: eligible memberships and ownerships of groups."""
    governance: bool = True
    """Entra ID P2 (or ID Governance): without it, PIM's lists are refused."""

    def type_of(self, object_id: str) -> str:
        if object_id in self.users:
            return "#microsoft.graph.user"
        if object_id in self.groups:
            return "#microsoft.graph.group"
        if object_id in self.service_principals:
            return "#microsoft.graph.servicePrincipal"
        return "#microsoft.graph.device"


@dataclass
class App:
    """An app registration that can get tokens: a secret or a certificate, and the
    application permissions an administrator consented to (None: anything)."""

    client_id: str
    secret: str | None = None
    certificate_pem: bytes | None = None
    permissions: frozenset[str] | None = None


@dataclass
class Fault:
    """Answer ``times`` matching requests (-1: all) with ``status``, after letting ``skip``
    of them through. ``path`` is matched in full against the path after ``/v1.0``."""

    method: str
    path: str
    status: int
    times: int = 1
    skip: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    code: str = "TooManyRequests"
    message: str = "Too many requests"
    query: str = ""
    """Only requests whose raw query contains this."""
    delay: float = 0.0
    """Seconds to wait before answering (longer than the client's timeout: a timeout)."""
    body: str | None = None
    """Instead of the error ``status``, the normal answer spoilt: ``reset`` (half of it, then
    the connection reset), ``truncate`` (half of it, its length announced as such), ``loop``
    (its ``@odata.nextLink`` points back to the list's first page); ``None`` with a status
    below 400: the normal answer (after ``delay``)."""
    hits: int = 0
    """Requests this fault met."""


@dataclass(frozen=True)
class Change:
    """One change a delta query reports: a user or group created, updated (``detail``: the
    properties) or removed (``present`` false), or a member (``detail``) added to or removed
    from a group."""

    sequence: int
    kind: str
    object_id: str
    detail: str = ""
    present: bool = True
    odata_type: str = ""
    """A member's type (``#microsoft.graph.user``), as it was when the change was made."""


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    """After ``/v1.0`` for Graph; in full for sign-in."""
    query: dict[str, str]
    headers: dict[str, str]
    client_id: str | None
    status: int
    graph: bool


# --- the server -------------------------------------------------------------------------------


class GraphServer:
    """Start with ``start()``; ``url`` is both the authority host and the Graph URL."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.tenant = Tenant()
        self.tenant_id = TENANT_ID
        self.apps: dict[str, App] = {CLIENT_ID: App(CLIENT_ID, secret=CLIENT_SECRET)}
        self.tokens: dict[str, str] = {}
        self.requests: list[Seen] = []
        self.faults: list[Fault] = []
        self.page_size = 100
        self.link_base: str | None = None
        """Where nextLinks point, when not at this server (a test of where tokens go)."""
        self.echo_secret = False
        """Quote a wrong client secret back in the token error (a careless server)."""
        self.lock = threading.RLock()
        self.ca_file = folder / "graph-ca.pem"
        """The private CA that issued the server's certificate."""
        self.die_at: Callable[[str, str], bool] | None = None
        """(method, Graph path) -> True: the server dies as that request arrives, leaving it
        unanswered and refusing every connection after (a crashed or unplugged server)."""
        self.dead = False
        self.changes: list[Change] = []
        """Every change the delta queries report, in order (``sequence`` is the last one's)."""
        self.token_generation = 0
        """Delta tokens of an older generation are expired (410 syncStateNotFound)."""
        self._connections: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None

    # control

    def start(self) -> None:
        self._httpd = serve_https(self.folder, self.ca_file, "graph", _handler(self))

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        self._drop_connections()

    def die(self) -> None:
        """Stop at once, from any thread: the listening socket closed (new connections are
        refused) and every open connection cut, kept-alive ones included."""
        self.dead = True
        if self._httpd is not None:
            threading.Thread(target=self.stop, daemon=True).start()
        self._drop_connections()

    def _drop_connections(self) -> None:
        with self.lock:
            connections, self._connections = set(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"https://127.0.0.1:{self._httpd.server_address[1]}"

    def reset(self, tenant: Tenant) -> None:
        with self.lock:
            self.tenant = tenant
            self.apps = {CLIENT_ID: App(CLIENT_ID, secret=CLIENT_SECRET)}
            self.tokens.clear()
            self.requests.clear()
            self.faults.clear()
            self.page_size = 100
            self.link_base = None
            self.echo_secret = False
            self.die_at = None
            self.changes = []
            self.token_generation = 0

    def issue_token(self, client_id: str = CLIENT_ID) -> str:
        """A token as if the app had signed in (for tests that do not test signing in): shaped
        as Entra's, a JWT whose ``roles`` claim lists the application permissions consented
        (none when the app may do anything), signed by nobody."""
        app = self.apps.get(client_id)
        claims: dict[str, Any] = {"aud": self.url, "appid": client_id, "tid": self.tenant_id}
        if app is not None and app.permissions is not None:
            claims["roles"] = sorted(app.permissions)
        header = _b64(json.dumps({"typ": "JWT", "alg": "RS256"}).encode())
        token = f"{header}.{_b64(json.dumps(claims).encode())}.{secrets.token_urlsafe(24)}"
        with self.lock:
            self.tokens[token] = client_id
        return token

    # --- changes, as the tests make them (each recorded for the delta queries) ----------------

    @property
    def sequence(self) -> int:
        return len(self.changes)

    def _changed(
        self,
        kind: str,
        object_id: str,
        detail: str = "",
        present: bool = True,
        odata_type: str = "",
    ) -> None:
        with self.lock:
            change = Change(len(self.changes) + 1, kind, object_id, detail, present, odata_type)
            self.changes.append(change)

    def add_user(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.tenant.users[record["id"]] = record
            self._changed("user", record["id"], ",".join(record))

    def update_user(self, user_id: str, **properties: Any) -> None:
        with self.lock:
            self.tenant.users[user_id].update(properties)
            self._changed("user", user_id, ",".join(properties))

    def delete_user(self, user_id: str) -> None:
        """Deleted (soft: ``@removed`` reason ``changed``); its memberships go with it."""
        with self.lock:
            del self.tenant.users[user_id]
            self.tenant.registrations.pop(user_id, None)
            self._changed("user", user_id, present=False)
            for group_id, members in self.tenant.members.items():
                if user_id in members:
                    members.remove(user_id)
                    self._changed("member", group_id, user_id, False, "#microsoft.graph.user")

    def sign_in(self, user_id: str, when: str) -> None:
        """A sign-in: signInActivity changes, which no delta query reports."""
        with self.lock:
            activity = dict(self.tenant.users[user_id].get("signInActivity") or {})
            activity.update(lastSignInDateTime=when, lastSuccessfulSignInDateTime=when)
            self.tenant.users[user_id]["signInActivity"] = activity

    def add_group(self, record: dict[str, Any], members: tuple[str, ...] = ()) -> None:
        with self.lock:
            self.tenant.groups[record["id"]] = record
            self.tenant.members[record["id"]] = list(members)
            self._changed("group", record["id"], ",".join(record))

    def update_group(self, group_id: str, **properties: Any) -> None:
        with self.lock:
            self.tenant.groups[group_id].update(properties)
            self._changed("group", group_id, ",".join(properties))

    def delete_group(self, group_id: str) -> None:
        with self.lock:
            del self.tenant.groups[group_id]
            self.tenant.members.pop(group_id, None)
            self._changed("group", group_id, present=False)
            for parent, members in self.tenant.members.items():
                if group_id in members:
                    members.remove(group_id)
                    self._changed("member", parent, group_id, False, "#microsoft.graph.group")

    def add_member(self, group_id: str, member_id: str) -> None:
        with self.lock:
            self.tenant.members.setdefault(group_id, []).append(member_id)
            self._changed("member", group_id, member_id, True, self.tenant.type_of(member_id))

    def remove_member(self, group_id: str, member_id: str) -> None:
        with self.lock:
            kind = self.tenant.type_of(member_id)
            self.tenant.members[group_id].remove(member_id)
            self._changed("member", group_id, member_id, False, kind)

    def expire_delta_tokens(self) -> None:
        """Every delta token given so far is too old (Graph keeps them 7 days)."""
        with self.lock:
            self.token_generation += 1

    def graph_requests(self, method: str | None = None) -> list[Seen]:
        return [r for r in self.requests if r.graph and method in (None, r.method)]


class _Answer(Exception):
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        self.status, self.body, self.headers = status, body, headers or {}


def _graph_error(status: int, code: str, message: str) -> _Answer:
    return _Answer(
        status,
        {
            "error": {
                "code": code,
                "message": message,
                "innerError": {"date": _now(), "request-id": str(uuid.uuid4())},
            }
        },
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _handler(server: GraphServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10
        # Headers and body are two writes: without this, each answer waits for a delayed ACK.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def setup(self) -> None:
            super().setup()
            with server.lock:
                server._connections.add(self.connection)

        def finish(self) -> None:
            with server.lock:
                server._connections.discard(self.connection)
            with contextlib.suppress(OSError):  # cut by die()
                super().finish()

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def _serve(self, method: str) -> None:
            split = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = (
                split.path.removeprefix("/v1.0") if split.path.startswith("/v1.0/") else split.path
            )
            client_id: str | None = None
            graph = split.path.startswith("/v1.0/")
            if server.dead or (graph and server.die_at is not None and server.die_at(method, path)):
                server.die()  # no answer: the client sees the connection cut
                self.close_connection = True
                return
            spoil: str | None = None
            try:
                if not graph:
                    answer = _auth(server, method, split.path, body)
                else:
                    client_id = _caller(server, self.headers.get("Authorization", ""))
                    spoil = _fault(server, method, path, split.query)
                    _authorize(server, client_id, method, path, query)
                    answer = _graph(server, method, path, query, dict(self.headers), body)
            except _Answer as raised:
                answer = raised
            if (
                spoil == "loop"
                and isinstance(answer.body, dict)
                and "@odata.nextLink" in answer.body
            ):
                first = {k: v for k, v in query.items() if k != "$skiptoken"}
                answer.body["@odata.nextLink"] = f"{server.url}/v1.0{path}?{urlencode(first)}"
            with server.lock:
                server.requests.append(
                    Seen(
                        method,
                        path,
                        query,
                        {k.lower(): v for k, v in self.headers.items()},
                        client_id,
                        answer.status,
                        graph,
                    )
                )
            payload = b"" if answer.body is None else json.dumps(answer.body).encode()
            announced = len(payload)
            if spoil in ("reset", "truncate"):
                payload = payload[: len(payload) // 2]
                if spoil == "truncate":
                    announced = len(payload)
            self.send_response(answer.status)
            if answer.body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("request-id", str(uuid.uuid4()))
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(announced))
            self.end_headers()
            self.wfile.write(payload)
            if spoil == "reset":
                with contextlib.suppress(OSError):
                    self.wfile.flush()
                    # SO_LINGER 0: the close is a TCP reset, not an orderly end.
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                self.close_connection = True

    return Handler


# --- sign-in ----------------------------------------------------------------------------------


def _auth(server: GraphServer, method: str, path: str, body: bytes) -> _Answer:
    base = f"/{server.tenant_id}"
    parts = path.strip("/").split("/")
    if method == "GET" and path.endswith("/v2.0/.well-known/openid-configuration"):
        if parts[0] != server.tenant_id:
            return _Answer(
                400,
                {
                    "error": "invalid_tenant",
                    "error_description": f"AADSTS90002: Tenant '{parts[0]}' not found. Check to "
                    "make sure you have the correct tenant ID and are signing into the correct "
                    "cloud. Trace ID: 1 Correlation ID: 2 Timestamp: 2026-03-01 12:00:00Z",
                    "error_codes": [90002],
                },
            )
        root = server.url + base
        return _Answer(
            200,
            {
                "token_endpoint": f"{root}/oauth2/v2.0/token",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
                "issuer": f"{root}/v2.0",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            },
        )
    if method == "POST" and path == f"{base}/oauth2/v2.0/token":
        return _token(server, {k: v[0] for k, v in parse_qs(body.decode()).items()})
    return _Answer(404, {"error": "not_found", "error_description": f"no {method} {path}"})


def _aad(status: int, error: str, code: int, sentence: str) -> _Answer:
    return _Answer(
        status,
        {
            "error": error,
            "error_description": f"AADSTS{code}: {sentence} Trace ID: 3f1c Correlation ID: 9a2b "
            "Timestamp: 2026-03-01 12:00:00Z",
            "error_codes": [code],
            "timestamp": "2026-03-01 12:00:00Z",
        },
    )


def _token(server: GraphServer, form: dict[str, str]) -> _Answer:
    client_id = form.get("client_id", "")
    app = server.apps.get(client_id)
    if form.get("grant_type") != "client_credentials":
        return _aad(
            400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
        )
    if app is None:
        return _aad(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{server.tenant_id}'.",
        )
    if "client_secret" in form:
        if app.secret is None or form["client_secret"] != app.secret:
            return _aad(
                401,
                "invalid_client",
                7000215,
                (
                    f"Invalid client secret {form['client_secret']} provided. "
                    if server.echo_secret
                    else "Invalid client secret provided. "
                )
                + "Ensure the secret being sent in the request is the client secret value, not "
                f"the client secret ID, for a secret added to app '{client_id}'.",
            )
    elif "client_assertion" in form:
        problem = _assertion_problem(server, app, form["client_assertion"])
        if problem:
            return _aad(401, "invalid_client", 700027, problem)
    else:
        return _aad(401, "invalid_client", 7000218, "The request body must contain the "
                    "following parameter: 'client_assertion' or 'client_secret'.")  # fmt: skip
    token = server.issue_token(client_id)
    return _Answer(
        200,
        {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token},
    )


def _assertion_problem(server: GraphServer, app: App, assertion: str) -> str | None:
    """Why a signed client assertion is refused, as Entra checks it: the certificate the
    header names by thumbprint, its signature, the audience and the issuer."""
    import jwt
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    if app.certificate_pem is None:
        return "The app has no certificate credential."
    certificate = x509.load_pem_x509_certificate(app.certificate_pem)
    header = jwt.get_unverified_header(assertion)
    expected = {
        "x5t": _b64(certificate.fingerprint(hashes.SHA1())),
        "x5t#S256": _b64(certificate.fingerprint(hashes.SHA256())),
    }
    named = [key for key in expected if key in header]
    # MSAL pads its x5t; Entra takes either form.
    if not named or any(str(header[key]).rstrip("=") != expected[key] for key in named):
        return "Client assertion failed signature validation: no key with that thumbprint."
    try:
        claims = jwt.decode(
            assertion,
            certificate.public_key(),  # type: ignore[arg-type]
            algorithms=["RS256", "PS256"],
            audience=f"{server.url}/{server.tenant_id}/oauth2/v2.0/token",
        )
    except jwt.PyJWTError as exc:
        return f"Client assertion failed signature validation ({type(exc).__name__})."
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        return "Client assertion issuer and subject must be the client id."
    return None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _caller(server: GraphServer, authorization: str) -> str:
    token = authorization.removeprefix("Bearer ").strip()
    with server.lock:
        client_id = server.tokens.get(token)
    if not token or client_id is None:
        raise _graph_error(401, "InvalidAuthenticationToken", "Access token validation failure.")
    return client_id


def _fault(server: GraphServer, method: str, path: str, raw_query: str) -> str | None:
    """Raises the error of the first fault that matches; or returns how to spoil the answer."""
    matched: Fault | None = None
    with server.lock:
        for fault in server.faults:
            if fault.method != method or not re.fullmatch(fault.path, path):
                continue
            if fault.query and fault.query not in raw_query:
                continue
            if fault.skip > 0:
                fault.skip -= 1
                continue
            if fault.times == 0:
                continue
            if fault.times > 0:
                fault.times -= 1
            fault.hits += 1
            matched = fault
            break
    if matched is None:
        return None
    if matched.delay:
        time.sleep(matched.delay)  # outside the lock: other requests go on
    if matched.body is None and matched.status >= 400:
        answer = _graph_error(matched.status, matched.code, matched.message)
        answer.headers.update(matched.headers)
        raise answer
    return matched.body


def _authorize(
    server: GraphServer, client_id: str, method: str, path: str, query: dict[str, str]
) -> None:
    app = server.apps.get(client_id)
    if app is None or app.permissions is None:
        return
    alternatives = required_permissions(method, path, query)
    if not any(alternative <= app.permissions for alternative in alternatives):
        raise _graph_error(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )


# --- Graph ------------------------------------------------------------------------------------


def _graph(
    server: GraphServer,
    method: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
) -> _Answer:
    tenant = server.tenant
    with server.lock:
        route = path.strip("/").split("/")
        if method == "GET":
            return _get(server, tenant, route, path, query, headers)
        if method == "PATCH" and len(route) == 2 and route[0] == "users":
            return _update_user(server, tenant, route[1], json.loads(body or b"{}"))
        if (
            method == "POST"
            and len(route) == 3
            and route[0] == "users"
            and route[2] == "revokeSignInSessions"
        ):
            user = _user(tenant, route[1])
            user["signInSessionsValidFromDateTime"] = _now()
            return _Answer(
                200, {"@odata.context": "https://graph/v1.0/$metadata#Edm.Boolean", "value": True}
            )
        if method == "DELETE" and len(route) == 5 and route[0] == "groups" and route[4] == "$ref":
            return _remove_member(server, tenant, route[1], route[3])
        if method == "DELETE" and len(route) == 4 and route[0] == "servicePrincipals":
            assignment = tenant.app_role_assignments.get(route[3])
            if assignment is None or assignment["resourceId"] != route[1]:
                raise _not_found(route[3])
            del tenant.app_role_assignments[route[3]]
            return _Answer(204)
    raise _graph_error(400, "BadRequest", f"Resource not found for the segment '{route[0]}'.")


def _not_found(object_id: str) -> _Answer:
    return _graph_error(
        404,
        "Request_ResourceNotFound",
        f"Resource '{object_id}' does not exist or one of its queried reference-property objects "
        "are not present.",
    )


def _user(tenant: Tenant, user_id: str) -> dict[str, Any]:
    user = tenant.users.get(user_id)
    if user is None:
        raise _not_found(user_id)
    return user


def _update_user(
    server: GraphServer, tenant: Tenant, user_id: str, changes: dict[str, Any]
) -> _Answer:
    user = _user(tenant, user_id)
    if user.get("onPremisesSyncEnabled") and "accountEnabled" in changes:
        raise _graph_error(
            400,
            "Request_BadRequest",
            "Unable to update the specified properties for on-premises mastered Directory Sync "
            "objects or objects currently undergoing migration.",
        )
    user.update(changes)
    server._changed("user", user_id, ",".join(changes))
    return _Answer(204)


def _remove_member(server: GraphServer, tenant: Tenant, group_id: str, member_id: str) -> _Answer:
    group = tenant.groups.get(group_id)
    if group is None:
        raise _not_found(group_id)
    if "DynamicMembership" in group.get("groupTypes", []):
        raise _graph_error(
            400, "Request_BadRequest", "Insufficient privileges to complete the operation."
        )
    members = tenant.members.setdefault(group_id, [])
    if member_id not in members:
        raise _not_found(member_id)
    kind = tenant.type_of(member_id)
    members.remove(member_id)
    server._changed("member", group_id, member_id, False, kind)
    return _Answer(204)


def _get(
    server: GraphServer,
    tenant: Tenant,
    route: list[str],
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
) -> _Answer:
    head = route[0]
    if route in (["users", "delta"], ["groups", "delta"]):
        return _delta(server, tenant, route[0], path, query)
    if route == ["users"]:
        if not tenant.premium and "signInActivity" in query.get("$select", ""):
            raise _non_premium()
        return _list(server, path, query, list(tenant.users.values()), USER_PROPERTIES, "user",
                     999, expand=_expander(tenant, "memberOf"))  # fmt: skip
    if head == "users" and len(route) == 2:
        return _Answer(200, _project(_user(tenant, route[1]), query, USER_PROPERTIES, "user"))
    if head == "users" and len(route) == 3 and route[2] == "appRoleAssignments":
        _user(tenant, route[1])
        if (
            "$count" in query
            and headers.get("ConsistencyLevel", headers.get("consistencylevel")) != "eventual"
        ):
            raise _graph_error(400, "Request_BadRequest", "$count is not currently supported.")
        # The user's own assignments and those of the groups it is a direct member of.
        holders = {route[1]} | {g for g, m in tenant.members.items() if route[1] in m}
        items = [a for a in tenant.app_role_assignments.values() if a["principalId"] in holders]
        return _list(
            server, path, query, items, APP_ROLE_ASSIGNMENT_PROPERTIES, "appRoleAssignment", 999
        )
    if route == ["groups"]:
        return _list(server, path, query, list(tenant.groups.values()), GROUP_PROPERTIES, "group",
                     999, expand=_expander(tenant, "members", "memberOf"))  # fmt: skip
    if head == "groups" and len(route) == 2:
        group = tenant.groups.get(route[1])
        if group is None:
            raise _not_found(route[1])
        return _Answer(200, _project(group, query, GROUP_PROPERTIES, "group"))
    if head == "groups" and len(route) == 3 and route[2] == "members":
        if route[1] not in tenant.groups:
            raise _not_found(route[1])
        members = []
        for member_id in tenant.members.get(route[1], []):
            kind = tenant.type_of(member_id)
            source = (
                tenant.users.get(member_id) or tenant.groups.get(member_id) or {"id": member_id}
            )
            members.append({"@odata.type": kind, **source})
        return _list(server, path, query, members, MEMBER_PROPERTIES, "directoryObject", 999)
    if route == ["roleManagement", "directory", "roleDefinitions"]:
        _refuse(query, "$top")
        return _list(server, path, query, list(tenant.role_definitions.values()),
                     ROLE_DEFINITION_PROPERTIES, "unifiedRoleDefinition", None)  # fmt: skip
    if route == ["roleManagement", "directory", "roleAssignments"]:
        _refuse(query, "$top")
        return _list(server, path, query, tenant.role_assignments, ROLE_ASSIGNMENT_PROPERTIES,
                     "unifiedRoleAssignment", None,
                     expand=_expander(tenant, "roleDefinition", "principal"))  # fmt: skip
    if route == ["roleManagement", "directory", "roleEligibilityScheduleInstances"]:
        if not tenant.governance:
            raise _non_governance()
        items = _filtered(tenant.role_eligibilities, query, {"principalId", "roleDefinitionId"})
        return _list(server, path, query, items, ROLE_ELIGIBILITY_PROPERTIES,
                     "unifiedRoleEligibilityScheduleInstance", None,
                     expand=_expander(tenant, "roleDefinition", "principal"))  # fmt: skip
    if route == ["identityGovernance", "privilegedAccess", "group", "eligibilityScheduleInstances"]:
        if not tenant.governance:
            raise _non_governance()
        if not re.fullmatch(r"(groupId|principalId) eq '[^']+'", query.get("$filter", "")):
            # "This method requires the $filter (eq) query parameter to scope the request to a
            # principalId or a groupId."
            raise _graph_error(
                400,
                "BadRequest",
                "The request requires a filter on groupId or principalId.",
            )
        items = _filtered(tenant.group_eligibilities, query, {"groupId", "principalId"})
        return _list(server, path, query, items, GROUP_ELIGIBILITY_PROPERTIES,
                     "privilegedAccessGroupEligibilityScheduleInstance", 999,
                     expand=_expander(tenant, "principal", "group"))  # fmt: skip
    if route == ["servicePrincipals"]:
        return _list(server, path, query, list(tenant.service_principals.values()),
                     SERVICE_PRINCIPAL_PROPERTIES, "servicePrincipal", 999,
                     expand=_expander(tenant, "appRoleAssignedTo"))  # fmt: skip
    if head == "servicePrincipals" and len(route) == 3 and route[2] == "appRoleAssignedTo":
        if route[1] not in tenant.service_principals:
            raise _not_found(route[1])
        items = [a for a in tenant.app_role_assignments.values() if a["resourceId"] == route[1]]
        return _list(
            server, path, query, items, APP_ROLE_ASSIGNMENT_PROPERTIES, "appRoleAssignment", 999
        )
    if route == ["reports", "authenticationMethods", "userRegistrationDetails"]:
        _refuse(query, "$select", "$top")
        if not tenant.premium:
            raise _non_premium()
        enabled = {u for u, user in tenant.users.items() if user.get("accountEnabled") is not False}
        items = [r for u, r in tenant.registrations.items() if u in enabled]  # no disabled user
        return _list(server, path, query, items, frozenset(), "userRegistrationDetails", None)
    if route == ["domains"]:
        _refuse(query, "$top")
        return _list(server, path, query, tenant.domains, DOMAIN_PROPERTIES, "domain", None)
    raise _graph_error(400, "BadRequest", f"Resource not found for the segment '{head}'.")


# --- delta queries ---------------------------------------------------------------------------

DELTA_PROPERTIES = {
    # signInActivity is not tracked by delta ("not supported" in $select).
    "users": USER_PROPERTIES - {"signInActivity"},
    "groups": GROUP_PROPERTIES | {"members"},
}


def _state_token(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _delta(
    server: GraphServer, tenant: Tenant, kind: str, path: str, query: dict[str, str]
) -> _Answer:
    """``GET /users/delta`` and ``/groups/delta``: the first round every object as it is now,
    later rounds (from a ``$deltatoken``) what changed since, each round paged with
    ``$skiptoken`` next links and ended by a ``@odata.deltaLink``; ``$deltatoken=latest``
    only the link ("sync from now"). The query is fixed by the first request: the links
    carry it inside their tokens."""
    _refuse(query, "$top", "$expand", "$orderby")
    context = f"{server.url}/v1.0/$metadata#{kind}"
    token = query.get("$skiptoken") or query.get("$deltatoken")
    if token is None:
        selected = query.get("$select", "")
        state: dict[str, Any] = {"from": None, "to": server.sequence, "at": 0, "select": selected}
        state["gen"] = server.token_generation
    elif token == "latest" and "$deltatoken" in query:
        latest = {"from": server.sequence, "select": query.get("$select", "")}
        latest["gen"] = server.token_generation
        link = f"{server.link_base or server.url}/v1.0{path}?$deltatoken={_state_token(latest)}"
        return _Answer(200, {"@odata.context": context, "value": [], "@odata.deltaLink": link})
    else:
        try:
            state = json.loads(base64.urlsafe_b64decode(token.encode()))
            assert isinstance(state, dict)
        except (ValueError, AssertionError):
            raise _graph_error(400, "BadRequest", "The delta token is not valid.") from None
        if "$deltatoken" in query:  # a new round, from where the last one ended
            state = {**state, "to": server.sequence, "at": 0}
    if state.get("gen") != server.token_generation:
        raise _graph_error(
            410,
            "syncStateNotFound",
            "The sync state generation is not found. The delta token is expired and data must "
            "be synchronized again.",
        )
    selected = [p for p in str(state["select"]).split(",") if p]
    for name in selected:
        if name not in DELTA_PROPERTIES[kind]:
            raise _graph_error(
                400,
                "Request_BadRequest",
                f"Could not find a property named '{name}' on type 'microsoft.graph.{kind[:-1]}'.",
            )
    items = _delta_items(server, tenant, kind, state["from"], state["to"], selected)
    at, size = int(state["at"]), server.page_size
    body: dict[str, Any] = {"@odata.context": context, "value": items[at : at + size]}
    base = f"{server.link_base or server.url}/v1.0{path}"
    if at + size < len(items):
        following = _state_token({**state, "at": at + size})
        body["@odata.nextLink"] = f"{base}?$skiptoken={following}"
    else:
        ended = {"from": state["to"], "select": state["select"], "gen": state["gen"]}
        body["@odata.deltaLink"] = f"{base}?$deltatoken={_state_token(ended)}"
    return _Answer(200, body)


def _delta_items(
    server: GraphServer,
    tenant: Tenant,
    kind: str,
    since: int | None,
    until: int,
    selected: list[str],
) -> list[dict[str, Any]]:
    objects = tenant.users if kind == "users" else tenant.groups
    odata_type = f"#microsoft.graph.{kind[:-1]}"
    members = "members" in selected
    plain = [p for p in selected if p != "members"] or ["id"]

    def whole(object_id: str) -> dict[str, Any]:
        shown = _project(
            objects[object_id], {"$select": ",".join(plain)}, DELTA_PROPERTIES[kind], kind[:-1]
        )
        record = {"@odata.type": odata_type, **shown}
        if members:
            record["members@delta"] = [
                {"@odata.type": tenant.type_of(m), "id": m}
                for m in tenant.members.get(object_id, [])
            ]
        return record

    if since is None:
        return [whole(object_id) for object_id in objects]
    changed: dict[str, set[str]] = {}
    created: set[str] = set()
    moved: dict[str, dict[str, str]] = {}
    for change in server.changes[since:until]:
        if change.kind == "member" and kind == "groups":
            changed.setdefault(change.object_id, set())
            moved.setdefault(change.object_id, {})[change.detail] = change.odata_type
        elif change.kind == kind[:-1]:
            properties = set(change.detail.split(",")) if change.detail else set()
            changed.setdefault(change.object_id, set()).update(properties)
            if "id" in properties:
                created.add(change.object_id)
    items = []
    for object_id, properties in changed.items():
        if object_id not in objects:
            items.append(
                {"@odata.type": odata_type, "id": object_id, "@removed": {"reason": "changed"}}
            )
            continue
        if object_id in created:
            items.append(whole(object_id))
            continue
        record: dict[str, Any] = {"@odata.type": odata_type, "id": object_id}
        record.update((p, objects[object_id].get(p)) for p in plain if p in properties)
        if members and object_id in moved:
            now = tenant.members.get(object_id, [])
            record["members@delta"] = [
                {"@odata.type": member_type, "id": member}
                if member in now
                else {"@odata.type": member_type, "id": member, "@removed": {"reason": "deleted"}}
                for member, member_type in moved[object_id].items()
            ]
        items.append(record)
    return items


def _non_governance() -> _Answer:
    return _graph_error(
        400,
        "AadPremiumLicenseRequired",
        "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license.",
    )


def _filtered(
    items: list[dict[str, Any]], query: dict[str, str], properties: set[str]
) -> list[dict[str, Any]]:
    """``$filter=property eq 'value'`` (the only form these lists are asked with)."""
    text = query.get("$filter")
    if not text:
        return items
    found = re.fullmatch(r"(\w+) eq '([^']*)'", text.strip())
    if found is None or found.group(1) not in properties:
        raise _graph_error(400, "BadRequest", f"Invalid filter clause: {text}")
    return [item for item in items if item.get(found.group(1)) == found.group(2)]


def _non_premium() -> _Answer:
    return _graph_error(
        403,
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
        "Neither tenant is B2C or tenant doesn't have premium license",
    )


def _refuse(query: dict[str, str], *options: str) -> None:
    for option in options:
        if option in query:
            raise _graph_error(400, "BadRequest", f"Query option '{option}' is not allowed.")


def _project(
    item: dict[str, Any], query: dict[str, str], properties: frozenset[str], kind: str
) -> dict[str, Any]:
    if "$select" not in query:
        return dict(item)
    selected = [p for p in query["$select"].split(",") if p]
    for name in selected:
        if name not in properties:
            raise _graph_error(
                400,
                "Request_BadRequest",
                f"Could not find a property named '{name}' on type 'microsoft.graph.{kind}'.",
            )
    projected = {name: item.get(name) for name in selected}
    if "@odata.type" in item:
        projected["@odata.type"] = item["@odata.type"]
    return projected


EXPAND_LIMIT = 20
"""Graph returns at most 20 objects of an expanded relation, and says nothing of the rest."""


def _typed(tenant: Tenant, object_id: str) -> dict[str, Any]:
    source = (
        tenant.users.get(object_id)
        or tenant.groups.get(object_id)
        or tenant.service_principals.get(object_id)
        or {"id": object_id}
    )
    return {"@odata.type": tenant.type_of(object_id), **source}


def _expander(tenant: Tenant, *allowed: str) -> Callable[[dict[str, Any], str], Any]:
    return lambda item, name: _expanded(tenant, item, name, allowed)


def _expanded(tenant: Tenant, item: dict[str, Any], name: str, allowed: tuple[str, ...]) -> Any:
    """The relation ``name`` of ``item``, as ``$expand`` gives it."""
    if name not in allowed:
        raise _graph_error(
            400, "BadRequest", f"Could not find a navigation property named '{name}'."
        )
    if name == "roleDefinition":
        return tenant.role_definitions.get(item["roleDefinitionId"])
    if name == "principal":
        return _typed(tenant, item["principalId"])
    if name == "group":
        return _typed(tenant, item["groupId"])
    if name == "members":
        objects = [_typed(tenant, m) for m in tenant.members.get(item["id"], [])]
    elif name == "memberOf":
        objects = [_typed(tenant, g) for g, m in tenant.members.items() if item["id"] in m]
    else:  # appRoleAssignedTo
        objects = [
            dict(a) for a in tenant.app_role_assignments.values() if a["resourceId"] == item["id"]
        ]
    return objects[:EXPAND_LIMIT]


def _list(
    server: GraphServer,
    path: str,
    query: dict[str, str],
    items: list[dict[str, Any]],
    properties: frozenset[str],
    kind: str,
    max_top: int | None,
    *,
    expand: Any = None,
) -> _Answer:
    top = 100
    if "$top" in query:
        top = int(query["$top"])
        if max_top is not None and not 1 <= top <= max_top:
            raise _graph_error(
                400,
                "Request_BadRequest",
                f"Invalid page size specified: '{top}'. Must be between 1 and {max_top} inclusive.",
            )
    size = min(top, server.page_size)
    offset = int(base64.b64decode(query["$skiptoken"]).decode()) if "$skiptoken" in query else 0
    page = [_project(item, query, properties, kind) for item in items[offset : offset + size]]
    context = f"{server.url}/v1.0/$metadata#{path.strip('/')}"
    if query.get("$expand"):
        if expand is None:
            raise _graph_error(400, "BadRequest", "Query option '$expand' is not allowed.")
        names = [n.split("(")[0].strip() for n in query["$expand"].split(",") if n.strip()]
        for projected, item in zip(page, items[offset : offset + size], strict=True):
            for name in names:
                projected[name] = expand(item, name)
        context += "(" + ",".join(f"{n}()" for n in names) + ")"
    body: dict[str, Any] = {"@odata.context": context, "value": page}
    if offset + size < len(items):
        rest = {k: v for k, v in query.items() if k != "$skiptoken"}
        rest["$skiptoken"] = base64.b64encode(str(offset + size).encode()).decode()
        body["@odata.nextLink"] = f"{server.link_base or server.url}/v1.0{path}?{urlencode(rest)}"
    return _Answer(200, body)


# --- for fixtures ------------------------------------------------------------------------


def running_server(
    tmp_path_factory: pytest.TempPathFactory, *, ca_in_environment: bool = True
) -> Iterator[GraphServer]:
    """A running server, in an environment whose proxy settings point at it and whose CA
    bundle trusts its private CA (``ca_in_environment``; else the bundle is certifi's only,
    and only a client given ``server.ca_file`` trusts it): the body of a test module's
    fixture (its tests share the server and ``reset`` it)."""
    import certifi

    server = GraphServer(tmp_path_factory.mktemp("graph"))
    server.start()
    bundle = str(server.ca_file) if ca_in_environment else certifi.where()
    with pytest.MonkeyPatch.context() as patch:
        # On these machines a CA bundle in the environment overrides what a client is told;
        # httpx reads SSL_CERT_FILE (then SSL_CERT_DIR), requests REQUESTS_CA_BUNDLE.
        for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            patch.setenv(name, bundle)
        patch.delenv("SSL_CERT_DIR", raising=False)
        for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                     "all_proxy", "MSAL_FORCE_REGION"):  # fmt: skip
            patch.delenv(name, raising=False)
        patch.setenv("NO_PROXY", "127.0.0.1,localhost")
        try:
            yield server
        finally:
            server.stop()
