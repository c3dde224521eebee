"""A local Okta: the Management API calls iam-gov makes, over real HTTP, as Okta documents them.

JSON shapes as the API returns them, cursor paging with ``Link`` headers (and ``_links.next``
where Okta puts it in the body), ``X-Rate-Limit-*`` headers per endpoint with 429s past the
limit, SSWS tokens and OAuth 2.0 client credentials (private key JWT) with scopes enforced,
lifecycle and assignment changes, session revocations, admin-role targets, ``lastUpdated`` and
``lastMembershipUpdated`` kept on changes with the ``filter`` expressions that ask for them, the
System Log (``/api/v1/logs``: since/until, ascending, paged, 90 days kept) recording the changes
made through ``Org``'s methods once ``Org.start_log`` was called, and faults on
demand: a failing or missing endpoint, 429s with or without their headers, a slow answer, an
answer cut off by a connection reset or truncated whole (``body``), a next link that leads back
to the first page (``body="loop"``), a server that stops answering mid-collect (``halt``), TLS
(``tls_folder``). Every request is recorded, with the OAuth scope Okta requires for it; each
fault counts the requests it met (``Fault.hits``), and the server the most requests any rate
window of an endpoint received (``peaks``) and the list pages it served (``pages_served``).
"""

from __future__ import annotations

import bisect
import contextlib
import email.utils
import json
import math
import re
import secrets
import socket
import ssl
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TOKEN = "00Fake-SSWS-Token-For-Tests-Only_4e1f"
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
LOG_RETENTION = timedelta(days=90)
"""How far back the System Log answers."""


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


# --- the org ----------------------------------------------------------------------------------


@dataclass(slots=True)
class User:
    id: str
    login: str
    first: str
    last: str
    email: str | None
    status: str = "ACTIVE"
    employee_number: str | None = None
    created: datetime = EPOCH
    last_login: datetime | None = None
    password_changed: datetime | None = EPOCH
    provider: str = "OKTA"
    """``OKTA`` (a password in Okta), ``FEDERATION`` (signs in at another IdP) …"""
    factors: list[tuple[str, str]] = field(default_factory=list)
    """(factorType, status)."""
    roles: list[dict[str, Any]] = field(default_factory=list)
    profile_extra: dict[str, Any] = field(default_factory=dict)
    sessions_revoked: list[bool] = field(default_factory=list)
    """One entry per ``DELETE /api/v1/users/{id}/sessions`` Okta took: whether the OAuth tokens
    went too (``oauthTokens=true``). Okta itself shows no sessions a client could read back."""
    last_updated: datetime | None = None
    """None: when created. Okta moves it on a change of profile, status or credentials, not
    on a sign-in, a factor or a membership."""


@dataclass(slots=True)
class Group:
    id: str
    name: str
    type: str = "OKTA_GROUP"
    description: str | None = None
    members: set[str] = field(default_factory=set)
    roles: list[dict[str, Any]] = field(default_factory=list)
    last_updated: datetime = EPOCH
    last_membership_updated: datetime = EPOCH


@dataclass(slots=True)
class App:
    id: str
    label: str
    name: str
    status: str = "ACTIVE"
    direct: dict[str, datetime] = field(default_factory=dict)
    """User id -> when assigned directly."""
    groups: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PasswordPolicy:
    """A password policy; Okta's defaults for a new one (those of a new org's Default Policy)."""

    id: str
    name: str
    groups: list[str]
    status: str = "ACTIVE"
    system: bool = False
    provider: str = "OKTA"
    min_length: int = 8
    min_lower_case: int = 1
    min_upper_case: int = 1
    min_number: int = 1
    min_symbol: int = 0
    history_count: int = 4
    max_age_days: int = 0
    max_attempts: int = 10


class Org:
    """The state of one Okta org; ids sort in creation order, as cursors need."""

    def __init__(self, org_id: str = "00o1example") -> None:
        self.org_id = org_id
        self.events: list[dict[str, Any]] = []
        """The System Log, oldest first."""
        self.logging = False
        """``start_log``: changes through the methods below are stamped with the time now and
        logged; before it (building the org) they are stamped EPOCH and not logged."""
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.apps: dict[str, App] = {}
        self._serial = 0
        self.app_group_links = True
        """Whether app-user rows of scope GROUP link their group, as Okta's API documents."""
        self.version = 0
        """Bumped by every change, so that the server's sorted listings are rebuilt."""
        self.role_targets: dict[str, dict[str, list[str]]] = {}
        """Role assignment id -> {"groups": group ids, "apps": app ids or catalog app names}:
        what a scoped role (USER_ADMIN, APP_ADMIN …) administers; none: the whole org."""
        self.everyone = self.add_group("Everyone", type="BUILT_IN", description="All users")
        self.password_policies: list[PasswordPolicy] = []
        self.default_password_policy = self.add_password_policy(
            "Default Policy", self.everyone, system=True
        )

    def start_log(self) -> None:
        self.logging = True

    def now(self) -> datetime:
        return datetime.now(UTC) if self.logging else EPOCH

    def log(self, event_type: str, *targets: User | Group | App, actor: User | None = None) -> None:
        """One System Log event as ``/api/v1/logs`` returns it."""
        if not self.logging:
            return
        self._serial += 1

        def ref(obj: User | Group | App) -> dict[str, Any]:
            if isinstance(obj, User):
                kind, alternate, name = "User", obj.login, f"{obj.first} {obj.last}".strip()
            elif isinstance(obj, Group):
                kind, alternate, name = "UserGroup", "unknown", obj.name
            else:
                kind, alternate, name = "AppInstance", obj.name, obj.label
            return {
                "id": obj.id,
                "type": kind,
                "alternateId": alternate,
                "displayName": name,
                "detailEntry": None,
            }

        who = (
            ref(actor)
            if actor is not None
            else {
                "id": "00uadmin0000000000",
                "type": "User",
                "alternateId": "admin@example.com",
                "displayName": "Admin",
                "detailEntry": None,
            }
        )
        self.events.append(
            {
                "uuid": f"{self._serial:08x}-0000-11ee-8000-{secrets.token_hex(6)}",
                "published": iso(datetime.now(UTC)),
                "eventType": event_type,
                "version": "0",
                "severity": "INFO",
                "legacyEventType": None,
                "displayMessage": event_type,
                "actor": who,
                "client": {"ipAddress": "192.0.2.10", "userAgent": {"rawUserAgent": "test"}},
                "outcome": {"result": "SUCCESS", "reason": None},
                "target": [ref(t) for t in targets],
                "transaction": {"type": "WEB", "id": secrets.token_hex(8), "detail": {}},
                "debugContext": {"debugData": {}},
                "authenticationContext": {},
                "securityContext": {},
            }
        )
        self.touch()

    def touch(self) -> None:
        self.version += 1

    def _id(self, prefix: str) -> str:
        self._serial += 1
        self.version += 1
        return f"{prefix}{self._serial:017d}"

    def add_user(self, login: str, *, first: str = "", last: str = "", **fields: Any) -> User:
        email = fields.pop("email", login)
        if self.logging:
            fields.setdefault("created", self.now())
        user = User(self._id("00u"), login, first, last, email, **fields)
        self.users[user.id] = user
        self.everyone.members.add(user.id)
        self.everyone.last_membership_updated = self.now()
        self.log("user.lifecycle.create", user)
        return user

    def add_group(self, name: str, **fields: Any) -> Group:
        group = Group(self._id("00g"), name, **fields)
        group.last_updated = group.last_membership_updated = self.now()
        self.groups[group.id] = group
        self.log("group.lifecycle.create", group)
        return group

    def add_app(self, label: str, name: str = "", **fields: Any) -> App:
        app = App(self._id("0oa"), label, name or label.lower().replace(" ", "_"), **fields)
        self.apps[app.id] = app
        self.log("application.lifecycle.create", app)
        return app

    def add_password_policy(self, name: str, *groups: Group, **fields: Any) -> PasswordPolicy:
        policy = PasswordPolicy(self._id("00p"), name, [g.id for g in groups], **fields)
        self.password_policies.append(policy)
        return policy

    def password_policies_by_priority(self) -> list[tuple[int, PasswordPolicy]]:
        """Okta puts a new policy above the Default Policy, which always comes last."""
        ordered = sorted(self.password_policies, key=lambda p: p.system)
        return list(enumerate(ordered, start=1))

    def role(self, role_type: str, assignment: str, **custom: str) -> dict[str, Any]:
        labels = {
            "SUPER_ADMIN": "Super Administrator",
            "ORG_ADMIN": "Organizational Administrator",
            "READ_ONLY_ADMIN": "Read Only Administrator",
            "HELP_DESK_ADMIN": "Help Desk Administrator",
            "APP_ADMIN": "Application Administrator",
            "USER_ADMIN": "Group Administrator",
            "GROUP_MEMBERSHIP_ADMIN": "Group Membership Administrator",
        }
        role: dict[str, Any] = {
            "id": self._id("ra1"),
            "label": custom.pop("label", labels.get(role_type, role_type)),
            "type": role_type,
            "status": "ACTIVE",
            "created": iso(EPOCH + timedelta(days=3)),
            "lastUpdated": iso(EPOCH + timedelta(days=3)),
            "assignmentType": assignment,
        }
        if role_type == "CUSTOM":
            role["role"] = custom["role"]
            role["resource-set"] = custom["resource_set"]
        return role

    def assign_role(
        self,
        target: User | Group,
        role_type: str,
        *,
        groups: Iterable[Group] = (),
        apps: Iterable[App | str] = (),
        **custom: str,
    ) -> dict[str, Any]:
        """``groups``, ``apps``: the role's targets (an app, or a catalog app name: every
        instance of it)."""
        assignment = "USER" if isinstance(target, User) else "GROUP"
        role = self.role(role_type, assignment, **custom)
        target.roles.append(role)
        targets = {
            "groups": [g.id for g in groups],
            "apps": [a.id if isinstance(a, App) else a for a in apps],
        }
        if targets["groups"] or targets["apps"]:
            self.role_targets[role["id"]] = targets
        if isinstance(target, User):
            self.log("user.account.privilege.grant", target)
        else:
            self.log("group.privilege.grant", target)
        self.touch()
        return role

    def add_member(self, group: Group, *users: User) -> None:
        group.members.update(user.id for user in users)
        group.last_membership_updated = self.now()
        for user in users:
            self.log("group.user_membership.add", user, group)
        self.touch()

    def remove_member(self, group: Group, *users: User) -> None:
        group.members.difference_update(user.id for user in users)
        group.last_membership_updated = self.now()
        for user in users:
            self.log("group.user_membership.remove", user, group)
        self.touch()

    def assign_app(self, app: App, *targets: User | Group, at: datetime = EPOCH) -> None:
        for target in targets:
            if isinstance(target, User):
                app.direct[target.id] = at
                self.log("application.user_membership.add", target, app)
            else:
                app.groups.append(target.id)
                self.log("group.application_assignment.add", app, target)
        self.touch()

    def unassign_app(self, app: App, target: User | Group) -> None:
        if isinstance(target, User):
            del app.direct[target.id]
            self.log("application.user_membership.remove", target, app)
        else:
            app.groups.remove(target.id)
            self.log("group.application_assignment.remove", app, target)
        self.touch()

    _LIFECYCLE = {
        "DEPROVISIONED": "user.lifecycle.deactivate",
        "SUSPENDED": "user.lifecycle.suspend",
        "ACTIVE": "user.lifecycle.activate",
    }

    def update_user(self, user: User, **fields: Any) -> None:
        """A change to the user's profile or status, as an administrator makes it."""
        before = user.status
        for name, value in fields.items():
            setattr(user, name, value)
        user.last_updated = self.now()
        if user.status != before:
            event = self._LIFECYCLE.get(user.status, "user.lifecycle.activate")
            if before == "SUSPENDED" and user.status == "ACTIVE":
                event = "user.lifecycle.unsuspend"
            elif before == "DEPROVISIONED":
                event = "user.lifecycle.reactivate"
            self.log(event, user)
        if set(fields) - {"status"}:
            self.log("user.account.update_profile", user)
        self.touch()

    def sign_in(self, user: User) -> None:
        """A sign-in: ``lastLogin`` moves, ``lastUpdated`` does not."""
        user.last_login = self.now()
        self.log("user.session.start", actor=user)

    def enroll_factor(self, user: User, kind: str) -> None:
        user.factors.append((kind, "ACTIVE"))
        self.log("user.mfa.factor.activate", user, actor=user)

    def remove_factor(self, user: User, kind: str) -> None:
        user.factors = [f for f in user.factors if f[0] != kind]
        self.log("user.mfa.factor.deactivate", user)

    def reset_factors(self, user: User) -> None:
        user.factors = []
        self.log("user.mfa.factor.reset_all", user)

    def delete_user(self, user: User) -> None:
        """Deleted for good (Okta deletes only deactivated users): gone from its groups and
        apps too."""
        del self.users[user.id]
        for group in self.groups.values():
            if user.id in group.members:
                group.members.discard(user.id)
                group.last_membership_updated = self.now()
        for app in self.apps.values():
            app.direct.pop(user.id, None)
        self.log("user.lifecycle.delete.initiated", user)
        self.touch()

    def update_group(self, group: Group, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(group, name, value)
        group.last_updated = self.now()
        self.log("group.profile.update", group)
        self.touch()

    def delete_group(self, group: Group) -> None:
        del self.groups[group.id]
        for app in self.apps.values():
            if group.id in app.groups:
                app.groups.remove(group.id)
        for targets in self.role_targets.values():
            if group.id in targets["groups"]:
                targets["groups"].remove(group.id)
        self.log("group.lifecycle.delete", group)
        self.touch()

    def delete_app(self, app: App) -> None:
        del self.apps[app.id]
        self.log("application.lifecycle.delete", app)
        self.touch()

    def user(self, login: str) -> User:
        return next(u for u in self.users.values() if u.login == login)

    def group(self, name: str) -> Group:
        return next(g for g in self.groups.values() if g.name == name)

    def app(self, label: str) -> App:
        return next(a for a in self.apps.values() if a.label == label)

    def user_roles(self, user: User) -> list[dict[str, Any]]:
        """What ``GET /api/v1/users/{id}/roles`` lists: the user's own and its groups' roles."""
        roles = list(user.roles)
        for group in self.groups.values():
            if user.id in group.members:
                for role in group.roles:
                    roles.append({**role, "assignmentType": "GROUP"})
        return roles

    def app_users(self, app: App) -> dict[str, tuple[str, datetime]]:
        """User id -> (scope, assigned): direct assignments win over group ones. A deactivated
        user has none: Okta removes their app assignments, and lists them for no app (they
        stay members of their groups)."""
        found: dict[str, tuple[str, datetime]] = {}
        for group_id in app.groups:
            for user_id in self.groups[group_id].members:
                found[user_id] = ("GROUP", EPOCH + timedelta(days=1))
        for user_id, assigned in app.direct.items():
            found[user_id] = ("USER", assigned)
        return {
            user_id: value
            for user_id, value in found.items()
            if self.users[user_id].status != "DEPROVISIONED"
        }


# --- JSON as the API returns it ------------------------------------------------------------------


class Render:
    def __init__(self, base: str, org: Org) -> None:
        self.base, self.org = base, org

    def user(self, user: User, *, credential_links: bool = True) -> dict[str, Any]:
        profile: dict[str, Any] = {
            "firstName": user.first or None,
            "lastName": user.last or None,
            "mobilePhone": None,
            "secondEmail": None,
            "login": user.login,
            "email": user.email,
        }
        if user.employee_number is not None:
            profile["employeeNumber"] = user.employee_number
        profile.update(user.profile_extra)
        credentials: dict[str, Any] = {"provider": {"type": user.provider, "name": user.provider}}
        if user.provider == "OKTA":
            credentials["password"] = {}
            credentials["emails"] = [{"value": user.email, "status": "VERIFIED", "type": "PRIMARY"}]
        links: dict[str, Any] = {"self": {"href": f"{self.base}/api/v1/users/{user.id}"}}
        if credential_links:
            for name in (
                "resetPassword",
                "resetFactors",
                "expirePassword",
                "changeRecoveryQuestion",
            ):
                links[name] = {
                    "href": f"{self.base}/api/v1/users/{user.id}/lifecycle/{name.lower()}",
                    "method": "POST",
                }
        return {
            "id": user.id,
            "status": user.status,
            "created": iso(user.created),
            "activated": iso(user.created) if user.status != "STAGED" else None,
            "statusChanged": iso(user.created),
            "lastLogin": iso(user.last_login),
            "lastUpdated": iso(user.last_updated or user.created),
            "passwordChanged": iso(user.password_changed) if user.provider == "OKTA" else None,
            "type": {"id": "oty1example"},
            "profile": profile,
            "credentials": credentials,
            "_links": links,
        }

    def group(self, group: Group) -> dict[str, Any]:
        return {
            "id": group.id,
            "created": iso(EPOCH),
            "lastUpdated": iso(group.last_updated),
            "lastMembershipUpdated": iso(group.last_membership_updated),
            "objectClass": ["okta:user_group"],
            "type": group.type,
            "profile": {"name": group.name, "description": group.description},
            "_links": {
                "logo": [
                    {"name": "medium", "href": f"{self.base}/img/logos/groups/okta-medium.png"}
                ],
                "users": {"href": f"{self.base}/api/v1/groups/{group.id}/users"},
                "apps": {"href": f"{self.base}/api/v1/groups/{group.id}/apps"},
            },
        }

    def app(self, app: App) -> dict[str, Any]:
        return {
            "id": app.id,
            "name": app.name,
            "label": app.label,
            "status": app.status,
            "lastUpdated": iso(EPOCH),
            "created": iso(EPOCH),
            "signOnMode": "SAML_2_0",
            "accessibility": {"selfService": False, "errorRedirectUrl": None},
            "visibility": {"autoSubmitToolbar": False, "hide": {"iOS": False, "web": False}},
            "features": [],
            "settings": {"app": {}},
            "_links": {
                "users": {"href": f"{self.base}/api/v1/apps/{app.id}/users"},
                "groups": {"href": f"{self.base}/api/v1/apps/{app.id}/groups"},
            },
        }

    def app_user(self, app: App, user_id: str, scope: str, assigned: datetime) -> dict[str, Any]:
        user = self.org.users[user_id]
        links: dict[str, Any] = {
            "app": {"href": f"{self.base}/api/v1/apps/{app.id}"},
            "user": {"href": f"{self.base}/api/v1/users/{user_id}"},
        }
        if scope == "GROUP" and self.org.app_group_links:
            # Okta links a group-scoped row to the group the user holds the app through: the
            # assigned group of highest priority (the lowest number) the user is in.
            group = next(
                self.org.groups[g] for g in app.groups if user_id in self.org.groups[g].members
            )
            links["group"] = {
                "name": group.name,
                "href": f"{self.base}/api/v1/groups/{group.id}",
            }
        return {
            "id": user_id,
            "externalId": None,
            "created": iso(assigned),
            "lastUpdated": iso(assigned),
            "scope": scope,
            "status": "ACTIVE",
            "statusChanged": iso(assigned),
            "passwordChanged": None,
            "syncState": "DISABLED",
            "credentials": {"userName": user.login},
            "profile": {"email": user.email},
            "_links": links,
        }

    def app_group(self, app: App, group_id: str) -> dict[str, Any]:
        return {
            "id": group_id,
            "lastUpdated": iso(EPOCH),
            "priority": app.groups.index(group_id),
            "profile": {},
            "_links": {
                "app": {"href": f"{self.base}/api/v1/apps/{app.id}"},
                "group": {"href": f"{self.base}/api/v1/groups/{group_id}"},
            },
        }

    def factor(self, user: User, index: int, kind: str, status: str) -> dict[str, Any]:
        return {
            "id": f"opf{user.id[3:]}{index:02d}",
            "factorType": kind,
            "provider": "GOOGLE" if kind == "token:software:totp" else "OKTA",
            "vendorName": "OKTA",
            "status": status,
            "created": iso(EPOCH),
            "lastUpdated": iso(EPOCH),
            "profile": {"credentialId": user.login},
            "_links": {"self": {"href": f"{self.base}/api/v1/users/{user.id}/factors"}},
        }

    def app_target(self, target: str) -> dict[str, Any]:
        """An item of ``…/roles/{roleId}/targets/catalog/apps``: the catalog app, with the
        instance's ``id`` when the role is scoped to one instance."""
        app = self.org.apps.get(target)
        name = app.name if app is not None else target
        item: dict[str, Any] = {
            "name": name,
            "displayName": app.label if app is not None else name.replace("_", " ").title(),
            "description": None,
            "status": "ACTIVE",
            "lastUpdated": iso(EPOCH),
            "category": "SOCIAL",
            "verificationStatus": "OKTA_VERIFIED",
            "signOnModes": ["SAML_2_0"],
            "features": [],
            "_links": {"logo": [{"name": "medium", "href": f"{self.base}/img/logo.png"}]},
        }
        if app is not None:
            item["id"] = app.id
        return item

    def role(self, role: dict[str, Any], assignee: str) -> dict[str, Any]:
        return {**role, "_links": {"assignee": {"href": f"{self.base}{assignee}"}}}

    def password_policy(self, policy: PasswordPolicy, priority: int) -> dict[str, Any]:
        href = f"{self.base}/api/v1/policies/{policy.id}"
        allow = ["GET", "PUT"] if policy.system else ["GET", "PUT", "DELETE"]
        return {
            "type": "PASSWORD",
            "id": policy.id,
            "status": policy.status,
            "name": policy.name,
            "description": "The default policy applies in all situations if no other policy "
            "applies."
            if policy.system
            else None,
            "priority": priority,
            "system": policy.system,
            "created": iso(EPOCH),
            "lastUpdated": iso(EPOCH),
            "conditions": {
                "people": {"groups": {"include": list(policy.groups)}},
                "authProvider": {"provider": policy.provider},
            },
            "settings": {
                "password": {
                    "complexity": {
                        "minLength": policy.min_length,
                        "minLowerCase": policy.min_lower_case,
                        "minUpperCase": policy.min_upper_case,
                        "minNumber": policy.min_number,
                        "minSymbol": policy.min_symbol,
                        "excludeUsername": True,
                        "dictionary": {"common": {"exclude": False}},
                        "excludeAttributes": [],
                    },
                    "age": {
                        "maxAgeDays": policy.max_age_days,
                        "expireWarnDays": 0,
                        "minAgeMinutes": 0,
                        "historyCount": policy.history_count,
                    },
                    "lockout": {
                        "maxAttempts": policy.max_attempts,
                        "autoUnlockMinutes": 0,
                        "userLockoutNotificationChannels": [],
                        "showLockoutFailures": False,
                    },
                },
                "recovery": {
                    "factors": {
                        "recovery_question": {
                            "status": "ACTIVE",
                            "properties": {"complexity": {"minLength": 4}},
                        },
                        "okta_email": {
                            "status": "ACTIVE",
                            "properties": {"recoveryToken": {"tokenLifetimeMinutes": 60}},
                        },
                        "okta_sms": {"status": "INACTIVE"},
                        "okta_call": {"status": "INACTIVE"},
                    }
                },
                "delegation": {"options": {"skipUnlock": False}},
            },
            "_links": {
                "self": {"href": href, "hints": {"allow": allow}},
                "rules": {"href": f"{href}/rules", "hints": {"allow": ["GET", "POST"]}},
            },
        }


# --- routes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    bucket: str
    scope: str
    handler: str


def _route(method: str, template: str, scope: str, handler: str) -> Route:
    regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[A-Za-z0-9_-]+)", template) + "$"
    return Route(method, re.compile(regex), template, scope, handler)


ROUTES = [
    _route("GET", "/api/v1/users", "okta.users.read", "list_users"),
    _route("GET", "/api/v1/users/{user}", "okta.users.read", "get_user"),
    _route("GET", "/api/v1/users/{user}/factors", "okta.users.read", "factors"),
    _route("GET", "/api/v1/users/{user}/groups", "okta.users.read", "user_groups"),
    _route("GET", "/api/v1/users/{user}/roles", "okta.roles.read", "user_roles"),
    _route(
        "GET",
        "/api/v1/users/{user}/roles/{role}/targets/groups",
        "okta.roles.read",
        "user_group_targets",
    ),
    _route(
        "GET",
        "/api/v1/users/{user}/roles/{role}/targets/catalog/apps",
        "okta.roles.read",
        "user_app_targets",
    ),
    _route("POST", "/api/v1/users/{user}/lifecycle/{op}", "okta.users.manage", "lifecycle"),
    _route("DELETE", "/api/v1/users/{user}/sessions", "okta.users.manage", "revoke_sessions"),
    _route("GET", "/api/v1/groups", "okta.groups.read", "list_groups"),
    _route("GET", "/api/v1/groups/{group}", "okta.groups.read", "get_group"),
    _route("GET", "/api/v1/groups/{group}/users", "okta.groups.read", "members"),
    _route("GET", "/api/v1/groups/{group}/roles", "okta.roles.read", "group_roles"),
    _route(
        "GET",
        "/api/v1/groups/{group}/roles/{role}/targets/groups",
        "okta.roles.read",
        "group_group_targets",
    ),
    _route(
        "GET",
        "/api/v1/groups/{group}/roles/{role}/targets/catalog/apps",
        "okta.roles.read",
        "group_app_targets",
    ),
    _route("DELETE", "/api/v1/groups/{group}/users/{user}", "okta.groups.manage", "leave"),
    _route("GET", "/api/v1/apps", "okta.apps.read", "list_apps"),
    _route("GET", "/api/v1/apps/{app}", "okta.apps.read", "get_app"),
    _route("GET", "/api/v1/apps/{app}/users", "okta.apps.read", "app_users"),
    _route("GET", "/api/v1/apps/{app}/users/{user}", "okta.apps.read", "app_user"),
    _route("DELETE", "/api/v1/apps/{app}/users/{user}", "okta.apps.manage", "unassign"),
    _route("GET", "/api/v1/apps/{app}/groups", "okta.apps.read", "app_groups"),
    _route("GET", "/api/v1/iam/assignees/users", "okta.roles.read", "assignees"),
    _route("GET", "/api/v1/policies", "okta.policies.read", "list_policies"),
    _route("GET", "/api/v1/logs", "okta.logs.read", "logs"),
]
_MAX_LIMIT = {
    "/api/v1/groups/{group}/users": 1000,
    "/api/v1/apps/{app}/users": 500,
    "/api/v1/groups": 10000,
    "/api/v1/logs": 1000,
}


_SERVER_ERROR = ("E0000009", "Internal Server Error")
_FAULT_ERRORS = {
    403: ("E0000006", "You do not have permission to perform the requested action"),
    404: ("E0000007", "Not found: Resource not found"),
}


class HttpError(Exception):
    def __init__(self, status: int, code: str, summary: str) -> None:
        super().__init__(summary)
        self.status, self.code, self.summary = status, code, summary


def _not_found(what: str) -> HttpError:
    return HttpError(404, "E0000007", f"Not found: Resource not found: {what} (User)")


@dataclass
class Seen:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    route: str | None
    scope: str | None
    status: int
    at: float
    """time.time() when it arrived."""
    reset: int | None = None
    """X-Rate-Limit-Reset sent with a 429."""


@dataclass
class _Window:
    ends: float = 0.0
    used: int = 0
    blocked_until: float = 0.0


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int | None
    """None: answer normally (after the delay)."""
    times: int | None
    """None: every time."""
    delay: float = 0.0
    after: bool = False
    """Fail only after doing what was asked (a gateway that times out on a slow backend)."""
    rate_headers: bool = True
    """With a 429: send the ``X-Rate-Limit-*`` headers (a proxy may strip them)."""
    body: str | None = None
    """With no status: ``reset`` (half the body, then the connection reset), ``truncate`` (half
    the body, its length announced as such: whole HTTP, broken JSON), ``loop`` (the next link
    points back to the listing's first page)."""
    hits: int = 0
    """Requests this fault met."""


@dataclass
class OAuthClient:
    public_key_pem: bytes
    scopes: set[str]


class OktaServer:
    """The API over HTTP on 127.0.0.1, in a thread. ``rate_limit`` requests per ``window``
    seconds per endpoint; ``max_page`` caps every page (as Okta caps ``limit``)."""

    def __init__(
        self,
        org: Org,
        *,
        token: str = TOKEN,
        rate_limit: int = 10_000,
        window: float = 60.0,
        max_page: int | None = None,
        record: bool = True,
        tls_folder: Path | None = None,
    ) -> None:
        self.org = org
        self.token = token
        self.rate_limit = rate_limit
        self.window = window
        self.max_page = max_page
        self.record = record
        self.seen: list[Seen] = []
        self.faults: list[Fault] = []
        self.oauth_clients: dict[str, OAuthClient] = {}
        self.access_tokens: dict[str, set[str]] = {}
        self.lock = threading.RLock()
        self._windows: dict[str, _Window] = {}
        self._listings: dict[Any, tuple[int, list[str], list[Any]]] = {}
        self.requests = 0
        self.throttled = 0
        """Requests answered 429."""
        self.peaks: dict[str, int] = {}
        """Endpoint (bucket) -> the most requests one of its rate windows received, those
        answered 429 included: at most ``rate_limit`` for a client that keeps to the limit."""
        self.pages_served = 0
        """Pages of listings answered (200)."""
        self.refused_scopes: set[str] = set()
        """Scopes the SSWS token's administrator lacks (a custom admin role without that
        permission): calls that need one answer 403 E0000006, as Okta does."""
        self.log_retention = LOG_RETENTION
        """How far back ``since`` may reach in ``/api/v1/logs``."""
        self.assignees_available = True
        """False: ``/api/v1/iam/assignees/users`` answers 404, as in older orgs, some tiers,
        and behind proxies that do not pass it."""
        self.halted = False
        """True: the server stopped (``halt``): every connection is closed unanswered."""
        self.tls_folder = tls_folder
        """When given: HTTPS with a self-signed certificate for 127.0.0.1 written there
        (``ca_file``), which clients must be told to trust (``SSL_CERT_FILE``)."""
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- running ----------------------------------------------------------------------------

    def start(self) -> OktaServer:
        server = self

        class Handler(_Handler):
            okta = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if self.tls_folder is not None:
            cert_file, key_file = _self_signed(self.tls_folder)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_file, key_file)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def halt(self) -> None:
        """The server goes away mid-collect: no new connection is accepted, and requests on
        connections already open are dropped unanswered (a crashed server, a cut network)."""
        self.halted = True
        self.stop()

    @property
    def ca_file(self) -> Path:
        assert self.tls_folder is not None
        return self.tls_folder / "okta-cert.pem"

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        scheme = "https" if self.tls_folder is not None else "http"
        return f"{scheme}://{host}:{port}"

    def __enter__(self) -> OktaServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- test controls ----------------------------------------------------------------------

    def fail(
        self,
        method: str,
        path: str,
        status: int | None = 500,
        times: int | None = 1,
        delay: float = 0.0,
        after: bool = False,
        rate_headers: bool = True,
        body: str | None = None,
    ) -> Fault:
        """Answer requests whose path and query match the regex ``path`` with ``status`` (after
        ``delay`` seconds), ``times`` times; a 429 without its ``X-Rate-Limit-*`` headers when
        not ``rate_headers``; with ``status=None``, a normal answer, spoilt as ``body`` says."""
        fault = Fault(method, re.compile(path), status, times, delay, after, rate_headers, body)
        with self.lock:
            self.faults.append(fault)
        return fault

    def exhaust(self, bucket: str, reset_in: float) -> int:
        """Another client uses up ``bucket``'s limit: 429 until the returned reset second."""
        with self.lock:
            window = self._windows.setdefault(bucket, _Window())
            reset = math.ceil(time.time() + reset_in)
            window.blocked_until = reset
            return reset

    def add_oauth_client(
        self, client_id: str, public_key_pem: bytes, scopes: Iterable[str]
    ) -> None:
        self.oauth_clients[client_id] = OAuthClient(public_key_pem, set(scopes))

    def paths(self, route: str | None = None, method: str = "GET") -> list[str]:
        return [
            s.path for s in self.seen if s.method == method and (route is None or s.route == route)
        ]

    # --- serving -----------------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], list[tuple[str, str]], bytes]:
        """(status, headers, extra repeated headers, body) for one request."""
        return self._handle(method, target, headers, body)[:4]

    def _handle(
        self, method: str, target: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], list[tuple[str, str]], bytes, str | None]:
        """``handle``, and how the answer is to be spoilt on the wire (``Fault.body``)."""
        now = time.time()
        spoil: str | None = None
        parts = urllib.parse.urlsplit(target)
        path = parts.path
        query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        if method == "POST" and path == "/oauth2/v1/token":
            status, payload = self._token(body)
            return status, {}, [], json.dumps(payload).encode(), None
        route, params = self._match(method, path)
        seen = Seen(
            method,
            path,
            query,
            route.bucket if route else None,
            route.scope if route else None,
            0,
            now,
        )
        with self.lock:
            self.requests += 1
            if self.record:
                self.seen.append(seen)
        extra: list[tuple[str, str]] = []
        out: dict[str, str] = {}
        try:
            if route is None:
                raise _not_found(path)
            self._authenticate(headers.get("Authorization", ""), route)
            limit_headers, limited = self._rate(route.bucket, now)
            out.update(limit_headers)
            if limited is not None:
                seen.reset = limited
                raise HttpError(
                    429, "E0000047", "API call exceeded rate limit due to too many requests."
                )
            fault = self._fault(method, target)
            if fault is not None and fault.delay:
                time.sleep(fault.delay)
            if fault is not None and fault.status == 429:
                if fault.rate_headers:
                    seen.reset = int(out["X-Rate-Limit-Reset"])
                    out.update(self._limit_headers(0, seen.reset))
                else:
                    out.clear()
                raise HttpError(429, "E0000047", "API call exceeded rate limit.")
            if fault is not None and fault.status is not None and not fault.after:
                raise HttpError(fault.status, *_FAULT_ERRORS.get(fault.status, _SERVER_ERROR))
            with self.lock:
                status, payload, next_url = getattr(self, "_" + route.handler)(
                    params, query, headers
                )
            if fault is not None and fault.status is not None:
                raise HttpError(fault.status, "E0000009", "Gateway Timeout")
            if fault is not None and fault.body == "loop" and next_url is not None:
                first = {k: v for k, v in query.items() if k != "after"}
                encoded = urllib.parse.urlencode(first, quote_via=urllib.parse.quote)
                next_url = f"{self.url}{path}?{encoded}"
            elif fault is not None:
                spoil = fault.body
            if next_url is not None:
                extra.append(("Link", f'<{self.url}{target}>; rel="self"'))
                extra.append(("Link", f'<{next_url}>; rel="next"'))
            data = b"" if payload is None else json.dumps(payload).encode()
        except HttpError as exc:
            status = exc.status
            data = json.dumps(
                {
                    "errorCode": exc.code,
                    "errorSummary": exc.summary,
                    "errorLink": exc.code,
                    "errorId": "oae" + secrets.token_hex(8),
                    "errorCauses": [],
                }
            ).encode()
        seen.status = status
        if status == 429:
            with self.lock:
                self.throttled += 1
        return status, out, extra, data, spoil

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in ROUTES:
            if route.method == method:
                match = route.pattern.match(path)
                if match:
                    return route, match.groupdict()
        return None, {}

    def _authenticate(self, header: str, route: Route) -> None:
        scheme, _, credential = header.partition(" ")
        if scheme == "SSWS" and secrets.compare_digest(credential, self.token):
            if route.scope in self.refused_scopes:
                raise HttpError(
                    403, "E0000006", "You do not have permission to perform the requested action"
                )
            return
        if scheme == "Bearer" and credential in self.access_tokens:
            if route.scope not in self.access_tokens[credential]:
                raise HttpError(
                    403,
                    "E0000006",
                    "You do not have permission to perform the requested action "
                    f"(the access token lacks {route.scope})",
                )
            return
        raise HttpError(401, "E0000011", "Invalid token provided")

    def _rate(self, bucket: str, now: float) -> tuple[dict[str, str], int | None]:
        """The X-Rate-Limit headers, and the reset second when the request is refused."""
        with self.lock:
            window = self._windows.setdefault(bucket, _Window())
            if now >= window.ends:
                # Windows start on a whole second, as the whole-second reset header says.
                window.ends, window.used = math.floor(now) + self.window, 0
            reset = math.ceil(window.ends)
            if now < window.blocked_until:
                reset = int(window.blocked_until)
                return self._limit_headers(0, reset), reset
            window.used += 1
            if window.used > self.peaks.get(bucket, 0):
                self.peaks[bucket] = window.used
            remaining = self.rate_limit - window.used
            if remaining < 0:
                return self._limit_headers(0, reset), reset
            return self._limit_headers(remaining, reset), None

    def _limit_headers(self, remaining: int, reset: int) -> dict[str, str]:
        return {
            "X-Rate-Limit-Limit": str(self.rate_limit),
            "X-Rate-Limit-Remaining": str(remaining),
            "X-Rate-Limit-Reset": str(reset),
        }

    def _fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and fault.path.search(path) and fault.times != 0:
                    if fault.times is not None:
                        fault.times -= 1
                    fault.hits += 1
                    return fault
        return None

    def _token(self, body: bytes) -> tuple[int, dict[str, Any]]:
        import jwt

        form = dict(urllib.parse.parse_qsl(body.decode()))
        assertion = form.get("client_assertion", "")
        try:
            client_id = jwt.decode(assertion, options={"verify_signature": False})["iss"]
            client = self.oauth_clients[client_id]
            jwt.decode(
                assertion,
                client.public_key_pem,
                algorithms=["RS256"],
                audience=f"{self.url}/oauth2/v1/token",
                issuer=client_id,
            )
        except (jwt.PyJWTError, KeyError):
            return 401, {
                "error": "invalid_client",
                "error_description": "The client assertion is invalid.",
            }
        wanted = set(form.get("scope", "").split())
        if not wanted or not wanted <= client.scopes:
            missing = ", ".join(sorted(wanted - client.scopes))
            return 400, {
                "error": "invalid_scope",
                "error_description": f"The following scopes are not granted: {missing}",
            }
        token = "eyFakeAccessToken" + secrets.token_hex(16)
        self.access_tokens[token] = wanted
        return 200, {
            "token_type": "Bearer",
            "expires_in": 3600,
            "access_token": token,
            "scope": " ".join(sorted(wanted)),
        }

    # --- paging ------------------------------------------------------------------------------

    def _cached(
        self, key: Any, build: Callable[[], list[tuple[str, Any]]]
    ) -> tuple[list[str], list[Any]]:
        """A listing sorted by cursor key, rebuilt only when the org changed."""
        hit = self._listings.get(key)
        if hit is None or hit[0] != self.org.version:
            pairs = sorted(build(), key=lambda pair: pair[0])
            hit = (self.org.version, [k for k, _ in pairs], [v for _, v in pairs])
            self._listings[key] = hit
        return hit[1], hit[2]

    def _page(
        self, path: str, query: dict[str, str], listing: tuple[list[str], list[Any]], bucket: str
    ) -> tuple[list[Any], str | None]:
        """One page of a sorted listing, after the cursor ``query['after']`` (an item's key)."""
        keys, values = listing
        try:
            limit = int(query.get("limit", "200"))
        except ValueError:
            raise HttpError(400, "E0000001", "Api validation failed: limit") from None
        limit = max(1, min(limit, _MAX_LIMIT.get(bucket, 200)))
        if self.max_page is not None:
            limit = min(limit, self.max_page)
        after = query.get("after")
        start = bisect.bisect_right(keys, after) if after else 0
        page = values[start : start + limit]
        self.pages_served += 1
        next_url = None
        if start + limit < len(keys):
            next_query = {**query, "after": keys[start + limit - 1], "limit": str(limit)}
            encoded = urllib.parse.urlencode(next_query, quote_via=urllib.parse.quote)
            next_url = f"{self.url}{path}?{encoded}"
        return page, next_url

    def _render(self) -> Render:
        return Render(self.url, self.org)

    # --- handlers ----------------------------------------------------------------------------

    def _user(self, params: dict[str, str]) -> User:
        user = self.org.users.get(params["user"])
        if user is None:
            raise _not_found(params["user"])
        return user

    def _group(self, params: dict[str, str]) -> Group:
        group = self.org.groups.get(params["group"])
        if group is None:
            raise _not_found(params["group"])
        return group

    def _app(self, params: dict[str, str]) -> App:
        app = self.org.apps.get(params["app"])
        if app is None:
            raise _not_found(params["app"])
        return app

    def _list_users(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        expression = query.get("filter")
        test = _filter(expression, _USER_FIELDS) if expression else None

        def build() -> list[tuple[str, Any]]:
            # Without a filter, Okta leaves deactivated users out.
            return [
                (u.id, u)
                for u in self.org.users.values()
                if (test(u) if test is not None else u.status != "DEPROVISIONED")
            ]

        listing = self._cached(("users", expression), build)
        page, next_url = self._page("/api/v1/users", query, listing, "/api/v1/users")
        links = "omitCredentialsLinks" not in headers.get("Content-Type", "")
        render = self._render()
        return 200, [render.user(u, credential_links=links) for u in page], next_url

    def _get_user(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        return 200, self._render().user(self._user(params)), None

    def _factors(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        user = self._user(params)
        render = self._render()
        factors = [
            render.factor(user, i, kind, state) for i, (kind, state) in enumerate(user.factors)
        ]
        return 200, factors, None

    def _user_groups(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        user = self._user(params)
        groups = [(g.id, g) for g in self.org.groups.values() if user.id in g.members]
        listing = self._cached(("user-groups", user.id), lambda: groups)
        path = f"/api/v1/users/{user.id}/groups"
        page, next_url = self._page(path, query, listing, "/api/v1/users/{user}/groups")
        render = self._render()
        return 200, [render.group(g) for g in page], next_url

    def _user_roles(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        user = self._user(params)
        render = self._render()
        roles = []
        for role in self.org.user_roles(user):
            assignee = f"/api/v1/users/{user.id}"
            if role["assignmentType"] == "GROUP":
                group = next(g for g in self.org.groups.values() if role["id"] in _ids(g.roles))
                assignee = f"/api/v1/groups/{group.id}"
            roles.append(render.role(role, assignee))
        return 200, roles, None

    def _lifecycle(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        user = self._user(params)
        op = params["op"]
        if op == "suspend":
            if user.status != "ACTIVE":
                raise HttpError(
                    400,
                    "E0000001",
                    "Api validation failed: Cannot suspend a user that is not active",
                )
            self.org.update_user(user, status="SUSPENDED")
        elif op == "deactivate":
            if user.status == "DEPROVISIONED":
                raise HttpError(400, "E0000001", "Api validation failed: the user is deactivated")
            self.org.update_user(user, status="DEPROVISIONED")
        elif op == "unsuspend":
            if user.status != "SUSPENDED":
                raise HttpError(400, "E0000001", "Api validation failed: the user is not suspended")
            self.org.update_user(user, status="ACTIVE")
        else:
            raise _not_found(op)
        self.org.touch()
        return 200, {}, None

    def _revoke_sessions(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        user = self._user(params)
        oauth_tokens = query.get("oauthTokens", "false").lower()  # false unless asked
        if oauth_tokens not in ("true", "false"):
            raise HttpError(400, "E0000001", "Api validation failed: oauthTokens")
        user.sessions_revoked.append(oauth_tokens == "true")
        return 204, None, None

    def _list_groups(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        expression = query.get("filter")
        test = _filter(expression, _GROUP_FIELDS) if expression else None
        listing = self._cached(
            ("groups", expression),
            lambda: [(g.id, g) for g in self.org.groups.values() if test is None or test(g)],
        )
        page, next_url = self._page("/api/v1/groups", query, listing, "/api/v1/groups")
        render = self._render()
        return 200, [render.group(g) for g in page], next_url

    def _get_group(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        return 200, self._render().group(self._group(params)), None

    def _members(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        group = self._group(params)
        listing = self._cached(
            ("members", group.id), lambda: [(uid, self.org.users[uid]) for uid in group.members]
        )
        path = f"/api/v1/groups/{group.id}/users"
        page, next_url = self._page(path, query, listing, "/api/v1/groups/{group}/users")
        render = self._render()
        return 200, [render.user(u) for u in page], next_url

    def _group_roles(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        group = self._group(params)
        render = self._render()
        return 200, [render.role(r, f"/api/v1/groups/{group.id}") for r in group.roles], None

    def _leave(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        group, user = self._group(params), self._user(params)
        if group.type != "OKTA_GROUP":
            raise HttpError(
                400, "E0000001", f"Api validation failed: cannot change a {group.type} group"
            )
        self.org.remove_member(group, user)
        return 204, None, None

    def _list_apps(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        listing = self._cached("apps", lambda: [(a.id, a) for a in self.org.apps.values()])
        page, next_url = self._page("/api/v1/apps", query, listing, "/api/v1/apps")
        render = self._render()
        return 200, [render.app(a) for a in page], next_url

    def _get_app(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        return 200, self._render().app(self._app(params)), None

    def _app_users(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        app = self._app(params)
        listing = self._cached(
            ("app-users", app.id),
            lambda: [(uid, (uid, *value)) for uid, value in self.org.app_users(app).items()],
        )
        path = f"/api/v1/apps/{app.id}/users"
        page, next_url = self._page(path, query, listing, "/api/v1/apps/{app}/users")
        render = self._render()
        return 200, [render.app_user(app, *item) for item in page], next_url

    def _app_user(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        app, user = self._app(params), self._user(params)
        assigned = self.org.app_users(app).get(user.id)
        if assigned is None:
            raise _not_found(f"{app.id}/{user.id}")
        return 200, self._render().app_user(app, user.id, *assigned), None

    def _unassign(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        app, user = self._app(params), self._user(params)
        if user.id not in app.direct:
            if user.id in self.org.app_users(app):
                raise HttpError(403, "E0000006", "Cannot remove a user assigned through a group")
            raise _not_found(f"{app.id}/{user.id}")
        self.org.unassign_app(app, user)
        return 204, None, None

    def _app_groups(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        app = self._app(params)
        listing = self._cached(("app-groups", app.id), lambda: [(g, g) for g in app.groups])
        path = f"/api/v1/apps/{app.id}/groups"
        page, next_url = self._page(path, query, listing, "/api/v1/apps/{app}/groups")
        render = self._render()
        return 200, [render.app_group(app, gid) for gid in page], next_url

    def _targets(
        self, owner: User | Group, params: dict[str, str], query: dict[str, str], kind: str
    ) -> Any:
        """A role's group or app targets; an unscoped role has none."""
        role = next((r for r in owner.roles if r["id"] == params["role"]), None)
        if role is None:
            raise _not_found(params["role"])
        supported = {
            "groups": {"USER_ADMIN", "HELP_DESK_ADMIN", "GROUP_MEMBERSHIP_ADMIN"},
            "apps": {"APP_ADMIN"},
        }[kind]
        if role["type"] not in supported:
            raise HttpError(
                400, "E0000001", f"Api validation failed: a {role['type']} role has no {kind}"
            )
        targets = self.org.role_targets.get(role["id"], {}).get(kind, [])
        owner_path = "users" if isinstance(owner, User) else "groups"
        path = f"/api/v1/{owner_path}/{owner.id}/roles/{role['id']}/targets/" + (
            "groups" if kind == "groups" else "catalog/apps"
        )
        listing = self._cached(("targets", role["id"], kind), lambda: [(t, t) for t in targets])
        page, next_url = self._page(path, query, listing, path)
        render = self._render()
        if kind == "groups":
            return 200, [render.group(self.org.groups[g]) for g in page], next_url
        return 200, [render.app_target(a) for a in page], next_url

    def _user_group_targets(self, params: dict[str, str], query: dict[str, str], h: Any) -> Any:
        return self._targets(self._user(params), params, query, "groups")

    def _user_app_targets(self, params: dict[str, str], query: dict[str, str], h: Any) -> Any:
        return self._targets(self._user(params), params, query, "apps")

    def _group_group_targets(self, params: dict[str, str], query: dict[str, str], h: Any) -> Any:
        return self._targets(self._group(params), params, query, "groups")

    def _group_app_targets(self, params: dict[str, str], query: dict[str, str], h: Any) -> Any:
        return self._targets(self._group(params), params, query, "apps")

    def _assignees(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        if not self.assignees_available:
            raise _not_found("/api/v1/iam/assignees/users")

        def build() -> list[tuple[str, Any]]:
            holders = {uid for uid, user in self.org.users.items() if user.roles}
            for group in self.org.groups.values():
                if group.roles:
                    holders |= group.members
            return [(uid, uid) for uid in holders]

        listing = self._cached("assignees", build)
        path = "/api/v1/iam/assignees/users"
        page, next_url = self._page(path, query, listing, path)
        value = [
            {
                "id": uid,
                "orn": f"orn:okta:directory:{self.org.org_id}:users:{uid}",
                "_links": {"self": {"href": f"{self.url}/api/v1/users/{uid}"}},
            }
            for uid in page
        ]
        body: dict[str, Any] = {"value": value, "_links": {}}
        if next_url is not None:
            # This endpoint pages in the body, not with a Link header.
            body["_links"]["next"] = {"href": next_url}
        return 200, body, None

    def _list_policies(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        kind = query.get("type")
        if not kind:
            raise HttpError(400, "E0000001", "Api validation failed: type")
        if kind != "PASSWORD":
            return 200, [], None  # only password policies are modelled
        # In priority order; the cursor is opaque to clients.
        listing = self._cached(
            "password-policies",
            lambda: [
                (f"{priority:05d}{policy.id}", (priority, policy))
                for priority, policy in self.org.password_policies_by_priority()
            ],
        )
        page, next_url = self._page("/api/v1/policies", query, listing, "/api/v1/policies")
        render = self._render()
        return 200, [render.password_policy(p, priority) for priority, p in page], next_url

    def _logs(self, params: dict[str, str], query: dict[str, str], headers: Any) -> Any:
        """The System Log: events published from ``since`` (default 7 days back) to before
        ``until``. Bounded (``until`` given): a next link while more remain; polling (no
        ``until``): always a next link, as Okta does, the client stopping on an empty page."""
        now = datetime.now(UTC)
        until = _when(query, "until") or now
        since = _when(query, "since") or until - timedelta(days=7)
        if since < now - self.log_retention:
            raise HttpError(
                400,
                "E0000001",
                "Api validation failed: since: The date must be within the last 90 days "
                "(the System Log keeps 90 days of events)",
            )
        order = query.get("sortOrder", "ASCENDING")
        if order not in ("ASCENDING", "DESCENDING"):
            raise HttpError(400, "E0000001", "Api validation failed: sortOrder")

        def build() -> list[tuple[str, Any]]:
            kept = []
            for number, event in enumerate(self.org.events):
                published = datetime.fromisoformat(event["published"])
                if since <= published < until:
                    key = f"{number:010d}"
                    kept.append((key if order == "ASCENDING" else f"{-number:011d}", event))
            return kept

        listing = self._cached(("logs", since, until, order), build)
        page, next_url = self._page("/api/v1/logs", query, listing, "/api/v1/logs")
        if next_url is None and "until" not in query:
            keys, after = listing[0], query.get("after")
            first = bisect.bisect_right(keys, after) if after else 0
            cursor = keys[first + len(page) - 1] if page else after
            follow = {**query, **({"after": cursor} if cursor else {})}
            encoded = urllib.parse.urlencode(follow, quote_via=urllib.parse.quote)
            next_url = f"{self.url}/api/v1/logs?{encoded}"
        return 200, page, next_url


def _when(query: dict[str, str], name: str) -> datetime | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        raise HttpError(400, "E0000001", f"Api validation failed: {name}") from None


_USER_FIELDS: dict[str, Callable[[Any], Any]] = {
    "status": lambda u: u.status,
    "id": lambda u: u.id,
    "lastUpdated": lambda u: u.last_updated or u.created,
    "profile.login": lambda u: u.login,
    "profile.email": lambda u: u.email,
    "profile.firstName": lambda u: u.first,
    "profile.lastName": lambda u: u.last,
}
_GROUP_FIELDS: dict[str, Callable[[Any], Any]] = {
    "id": lambda g: g.id,
    "type": lambda g: g.type,
    "lastUpdated": lambda g: g.last_updated,
    "lastMembershipUpdated": lambda g: g.last_membership_updated,
}
_TERM = re.compile(r'^\s*([\w.]+)\s+(eq|gt|ge|lt|le)\s+"([^"]*)"\s*$')


def _filter(expression: str, fields: dict[str, Callable[[Any], Any]]) -> Callable[[Any], bool]:
    """An Okta ``filter`` expression (terms ``attr op "value"`` joined by ``and``, binding
    first, and ``or``; no parentheses) as a test; what it cannot read answers 400 E0000031."""
    alternatives = []
    for part in re.split(r"\s+or\s+", expression.strip()):
        terms = []
        for text in re.split(r"\s+and\s+", part):
            match = _TERM.match(text)
            if match is None or match.group(1) not in fields:
                raise HttpError(400, "E0000031", "Invalid search criteria.")
            name, op, raw = match.groups()
            value: Any = raw
            if name in ("lastUpdated", "lastMembershipUpdated"):
                try:
                    value = datetime.fromisoformat(raw).astimezone(UTC)
                except ValueError:
                    raise HttpError(400, "E0000031", "Invalid search criteria.") from None
            terms.append((fields[name], op, value))
        alternatives.append(terms)
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "eq": lambda a, b: bool(a == b),
        "gt": lambda a, b: a is not None and bool(a > b),
        "ge": lambda a, b: a is not None and bool(a >= b),
        "lt": lambda a, b: a is not None and bool(a < b),
        "le": lambda a, b: a is not None and bool(a <= b),
    }

    def test(obj: Any) -> bool:
        return any(
            all(compare[op](get(obj), value) for get, op, value in terms) for terms in alternatives
        )

    return test


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost that is its own CA, and its key."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "iam-gov test Okta")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "okta-cert.pem", folder / "okta-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _ids(items: Iterable[dict[str, Any]]) -> set[str]:
    return {item["id"] for item in items}


class _Handler(BaseHTTPRequestHandler):
    okta: OktaServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle and delayed ACKs add 40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _serve(self) -> None:
        if self.okta.halted:
            self.close_connection = True  # dropped unanswered
            return
        # The client may have given up waiting (a timeout test).
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, extra, data, spoil = self.okta._handle(
            self.command, self.path, self.headers, body
        )
        announced = len(data)
        if spoil in ("reset", "truncate"):
            data = data[: len(data) // 2]
            if spoil == "truncate":
                announced = len(data)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(announced))
        self.send_header("Date", email.utils.formatdate(usegmt=True))
        for name, value in headers.items():
            self.send_header(name, value)
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        if spoil == "reset":
            reset_connection(self)

    do_GET = do_POST = do_DELETE = do_PUT = _serve


def reset_connection(handler: BaseHTTPRequestHandler) -> None:
    """Cut the connection with a TCP reset (no FIN): what a crashed proxy or a middlebox does
    in the middle of an answer."""
    with contextlib.suppress(OSError):
        handler.wfile.flush()
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()
    handler.close_connection = True


# --- an export, as curl would write it ---------------------------------------------------------


def fetch(base: str, path: str, token: str = TOKEN) -> Iterator[Any]:
    """Every page of ``path`` (response bodies, verbatim), following the next links."""
    import urllib.request

    url: str | None = f"{base}{path}"
    while url:
        request = urllib.request.Request(
            url, headers={"Authorization": f"SSWS {token}", "Accept": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
            links = response.headers.get_all("Link") or []
        body = json.loads(text)
        yield text
        url = None
        for link in links:
            target, _, rel = link.partition(";")
            if 'rel="next"' in rel:
                url = target.strip().strip("<>")
        if url is None and isinstance(body, dict):
            url = body.get("_links", {}).get("next", {}).get("href")


def write_export(base: str, folder: Any, *, token: str = TOKEN) -> None:
    """The export folder, built the way a shell loop of curl calls would build it."""
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def save(name: str, path: str) -> list[Any]:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        items: list[Any] = []
        with target.open("w") as out:
            for text in fetch(base, path, token):
                out.write(text + "\n")
                page = json.loads(text)
                items.extend(page if isinstance(page, list) else page.get("value", []))
        return items

    users = save("users.json", "/api/v1/users?limit=200")
    users += save(
        "users-deprovisioned.json",
        "/api/v1/users?limit=200&filter=" + urllib.parse.quote('status eq "DEPROVISIONED"'),
    )
    for group in save("groups.json", "/api/v1/groups?limit=200"):
        save(f"group-members/{group['id']}.json", f"/api/v1/groups/{group['id']}/users?limit=200")
        save(f"group-roles/{group['id']}.json", f"/api/v1/groups/{group['id']}/roles")
    for app in save("apps.json", "/api/v1/apps?limit=200"):
        save(f"app-users/{app['id']}.json", f"/api/v1/apps/{app['id']}/users?limit=200")
        save(f"app-groups/{app['id']}.json", f"/api/v1/apps/{app['id']}/groups?limit=200")
    sign_in = {"ACTIVE", "RECOVERY", "PASSWORD_EXPIRED", "LOCKED_OUT", "PROVISIONED"}
    for user in users:
        if user["status"] in sign_in:
            save(f"factors/{user['id']}.json", f"/api/v1/users/{user['id']}/factors")
    for assignee in save("role-assignees.json", "/api/v1/iam/assignees/users?limit=200"):
        save(f"roles/{assignee['id']}.json", f"/api/v1/users/{assignee['id']}/roles")
    save("policies-password.json", "/api/v1/policies?type=PASSWORD")


# --- a large org, for the benchmark -----------------------------------------------------------


def generate(users: int, *, groups: int = 50, apps: int = 8, seed: int = 1) -> Org:
    """``users`` users in ``groups`` department groups, each app assigned to a few groups and
    to some users directly, most users with factors, a handful of administrators."""
    import random

    rng = random.Random(seed)
    org = Org()
    department = [org.add_group(f"Department {n:02d}") for n in range(groups)]
    admins = org.add_group("Okta Admins")
    org.assign_role(admins, "ORG_ADMIN")
    kinds = ["push", "token:software:totp", "webauthn", "sms"]
    for n in range(users):
        status = rng.choices(
            ["ACTIVE", "SUSPENDED", "DEPROVISIONED", "STAGED", "LOCKED_OUT"], [90, 3, 4, 2, 1]
        )[0]
        user = org.add_user(
            f"user{n:06d}@example.com",
            first=f"First{n}",
            last=f"Last{n}",
            status=status,
            employee_number=f"E{n:06d}",
            last_login=EPOCH + timedelta(minutes=n),
            factors=[(kind, "ACTIVE") for kind in rng.sample(kinds, rng.choice([0, 1, 1, 2]))],
        )
        department[n % groups].members.add(user.id)
        if n % 1000 == 0:
            admins.members.add(user.id)
        if n % 5000 == 1:
            org.assign_role(user, "HELP_DESK_ADMIN")
    for a in range(apps):
        app = org.add_app(f"App {a}")
        app.groups = [g.id for g in rng.sample(department, 3)]
        for user_id in rng.sample(sorted(org.users), min(users, 200)):
            app.direct[user_id] = EPOCH + timedelta(days=2)
    return org


# --- a small company, for the tests -------------------------------------------------------------


def example_org() -> Org:
    """Users in every status, password and federated sign-in, factors in several states,
    plain, imported and built-in groups, apps held directly and through groups (one app
    inactive), admin roles held directly, through a group, and a custom one, and password
    policies: a strong default, a weak one for Sales and an inactive one."""
    org = Org()
    at = EPOCH + timedelta(days=30)

    def user(login: str, first: str, last: str, **fields: Any) -> User:
        return org.add_user(f"{login}@example.com", first=first, last=last, **fields)

    alice = user(
        "alice",
        "Alice",
        "Archer",
        employee_number="E001",
        last_login=at,
        factors=[
            ("push", "ACTIVE"),
            ("token:software:totp", "ACTIVE"),
            ("sms", "PENDING_ACTIVATION"),
        ],
    )
    bob = user("bob", "Bob", "Baker", employee_number="E002", last_login=at + timedelta(days=1))
    carol = user(
        "carol",
        "Carol",
        "Cole",
        employee_number="E003",
        status="SUSPENDED",
        factors=[("push", "ACTIVE")],
    )
    dave = user("dave", "Dave", "Dunn", employee_number="E004", status="DEPROVISIONED")
    erin = user(
        "erin",
        "Erin",
        "Eve",
        employee_number="E005",
        status="LOCKED_OUT",
        factors=[("webauthn", "ACTIVE")],
    )
    frank = user("frank", "Frank", "Fox", employee_number="E006", status="PASSWORD_EXPIRED")
    grace = user(
        "grace",
        "Grace",
        "Gray",
        employee_number="E007",
        status="RECOVERY",
        factors=[("email", "ACTIVE")],
    )
    heidi = user(
        "heidi",
        "Heidi",
        "Hill",
        employee_number="E008",
        status="PROVISIONED",
        password_changed=None,
    )
    ivan = user("ivan", "Ivan", "Ivy", status="STAGED", password_changed=None)
    fed = user(
        "fed",
        "Fede",
        "Ration",
        employee_number="E010",
        provider="FEDERATION",
        password_changed=None,
        factors=[("push", "INACTIVE")],
        profile_extra={"displayName": "Fede [bold]Ration[/bold]"},
    )
    del heidi, ivan, frank
    engineering = org.add_group("Engineering", description="Builds the product")
    admins = org.add_group("Okta Admins")
    helpdesk = org.add_group("Helpdesk")
    sales = org.add_group("Sales", type="APP_GROUP", description="Imported from Active Directory")
    org.add_member(engineering, alice, bob, dave)
    org.add_member(admins, bob)
    org.add_member(helpdesk, grace)
    org.add_member(sales, erin, fed)
    org.assign_role(alice, "SUPER_ADMIN")
    org.assign_role(admins, "ORG_ADMIN")
    org.assign_role(
        helpdesk, "CUSTOM", label="Password resetter", role="cr0resetter", resource_set="iamstaff"
    )
    org.assign_role(carol, "READ_ONLY_ADMIN")
    github = org.add_app("GitHub", "github")
    salesforce = org.add_app("Salesforce", "salesforce")
    slack = org.add_app("Slack", "slack")
    legacy = org.add_app("Legacy CRM", "legacy_crm", status="INACTIVE")
    org.assign_app(github, engineering)
    org.assign_app(github, alice, at=at)
    org.assign_app(salesforce, sales)
    org.assign_app(slack, org.everyone)
    org.assign_app(legacy, bob, at=at)
    strong = {"min_length": 14, "min_symbol": 1, "history_count": 24, "max_attempts": 5}
    for name, value in strong.items():
        setattr(org.default_password_policy, name, value)
    org.add_password_policy("Sales", sales, min_lower_case=0, min_symbol=0, history_count=0)
    org.add_password_policy("Retired", engineering, status="INACTIVE", min_length=4)
    return org
