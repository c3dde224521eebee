"""Writing the company's directories in their own export formats: an Active Directory LDIF
(as ``ldifde`` writes it), Microsoft Graph JSON in iam-gov's own layout (as ``iam-gov export``
writes it; ``graph_dump`` writes it as an operator's script does) and Okta API JSON."""

from __future__ import annotations

import base64
import json
import struct
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iam_gov.samplegen.company import DOMAIN
from iam_gov.samplegen.directories import (
    ALL_STAFF,
    TENANT_DOMAIN,
    Directories,
    DirectoryUser,
)

BASE_DN = "DC=example,DC=com"
DOMAIN_SID = (1_004_336_348, 1_177_238_915, 682_003_330)
NAMESPACE = uuid.UUID("6f1d3c8e-9c2a-4b7e-9a51-3f0c2d4e5a61")

# Well-known AD groups: name -> (DN container, SID).
AD_BUILTIN = {
    "Domain Admins": ("CN=Users", ("domain", 512)),
    "Backup Operators": ("CN=Builtin", ("builtin", 551)),
}


def stable_uuid(*parts: str) -> uuid.UUID:
    """The same id for the same name on every run, so that generated exports are repeatable."""
    return uuid.uuid5(NAMESPACE, "/".join(parts))


# --- Active Directory (LDIF) ----------------------------------------------------------------


# The domain object carries the domain's password policy: 8 characters, no lockout (both
# weaker than the policy asks: planted).
DOMAIN_ENTRY = (
    f"dn: {BASE_DN}",
    "objectClass: top",
    "objectClass: domain",
    "objectClass: domainDNS",
    "dc: example",
    "minPwdLength: 8",
    "pwdHistoryLength: 24",
    "maxPwdAge: -36288000000000",
    "lockoutThreshold: 0",
    "pwdProperties: 1",
)


def _filetime(value: datetime | None) -> str:
    if value is None:
        return "0"
    return str(int((value.timestamp() + 11_644_473_600) * 10_000_000))


def _generalized(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%d%H%M%S.0Z")


def _sid(authority: str, rid: int) -> bytes:
    if authority == "builtin":
        subs: tuple[int, ...] = (32, rid)
    else:
        subs = (21, *DOMAIN_SID, rid)
    return (
        struct.pack("<BB", 1, len(subs))
        + (5).to_bytes(6, "big")
        + struct.pack(f"<{len(subs)}I", *subs)
    )


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _ldif_line(name: str, value: str) -> str:
    # RFC 2849: values that are not plain ASCII (or start awkwardly) are base64 with `::`.
    safe = value.isascii() and value == value.strip() and not value.startswith((":", "<"))
    return f"{name}: {value}" if safe else f"{name}:: {_b64(value.encode('utf-8'))}"


def _ad_group_dn(name: str) -> str:
    container = AD_BUILTIN.get(name, ("OU=Groups",))[0]
    return f"CN={name},{container},{BASE_DN}"


def _ad_user_dn(user: DirectoryUser) -> str:
    # The login makes the CN unique: two people may share a name, but not a DN.
    cn = f"{user.display_name} ({user.login})" if user.display_name else user.login
    ou = "OU=Service Accounts" if user.employee_id is None else "OU=People"
    escaped = cn.replace(",", "\\,")  # RFC 4514
    return f"CN={escaped},{ou},{BASE_DN}"


def ad_ldif(directories: Directories) -> str:
    lines = ["version: 1", "", *DOMAIN_ENTRY, ""]
    members: dict[str, list[str]] = {name: [] for name in directories.ad_groups}
    for group, nested in directories.ad_groups.items():
        members[group].extend(_ad_group_dn(n) for n in nested)
    for rid, user in enumerate(directories.ad, start=1101):
        dn = _ad_user_dn(user)
        for group in user.groups:
            if group != ALL_STAFF:  # everyone is in All Staff through their department group
                members.setdefault(group, []).append(dn)
        control = 512 | (0 if user.enabled else 2)
        if user.employee_id is None:
            control |= 0x10000  # service accounts: password never expires
        entry = [
            _ldif_line("dn", dn),
            "objectClass: top",
            "objectClass: person",
            "objectClass: organizationalPerson",
            "objectClass: user",
            _ldif_line("cn", user.display_name or user.login),
            f"objectGUID:: {_b64(stable_uuid('ad', user.login).bytes_le)}",
            f"objectSid:: {_b64(_sid('domain', rid))}",
            _ldif_line("sAMAccountName", user.login),
            _ldif_line("userPrincipalName", f"{user.login}@{DOMAIN}"),
            f"userAccountControl: {control}",
            f"whenCreated: {_generalized(user.created)}",
            f"pwdLastSet: {_filetime(user.created)}",
            f"lastLogonTimestamp: {_filetime(user.last_login)}",
            "primaryGroupID: 513",
        ]
        if user.display_name:
            entry.append(_ldif_line("displayName", user.display_name))
        if user.email:
            entry.append(_ldif_line("mail", user.email))
        if user.employee_id:
            entry.append(_ldif_line("employeeID", user.employee_id))
        lines += [*entry, ""]
    for name in sorted(members):
        container, sid = AD_BUILTIN.get(name, ("OU=Groups", ("domain", 0)))
        rid = sid[1] or 2000 + sorted(members).index(name)
        entry = [
            _ldif_line("dn", _ad_group_dn(name)),
            "objectClass: top",
            "objectClass: group",
            _ldif_line("cn", name),
            _ldif_line("sAMAccountName", name),
            f"objectGUID:: {_b64(stable_uuid('ad-group', name).bytes_le)}",
            f"objectSid:: {_b64(_sid(sid[0], rid))}",
            "groupType: -2147483646",
            f"whenCreated: {_generalized(datetime(2019, 3, 1, tzinfo=UTC))}",
        ]
        entry += [_ldif_line("member", m) for m in sorted(members[name])]
        lines += [*entry, ""]
    return "\n".join(lines)


# --- Microsoft Graph (Entra ID) -------------------------------------------------------------

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"  # the built-in role's template id


def entra_user_id(user: DirectoryUser) -> str:
    return str(stable_uuid("entra-user", user.login))


def entra_group_id(name: str) -> str:
    return str(stable_uuid("entra-group", name))


def iso_time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def entra_user_record(user: DirectoryUser) -> dict[str, Any]:
    """The user as ``GET /users`` gives it, with the properties the Entra export asks for."""
    return {
        "id": entra_user_id(user),
        "userPrincipalName": user.login,
        "mail": user.email,
        "displayName": user.display_name,
        "givenName": user.first,
        "surname": user.last or None,
        "accountEnabled": user.enabled,
        "userType": "Guest" if user.guest else "Member",
        "employeeId": user.employee_id,
        "createdDateTime": iso_time(user.created),
        "creationType": "Invitation" if user.guest else None,
        "externalUserState": "Accepted" if user.guest else None,
        "onPremisesSyncEnabled": None,
        "lastPasswordChangeDateTime": iso_time(user.created),
        "passwordPolicies": None,
        "signInActivity": {
            "lastSignInDateTime": iso_time(user.last_login),
            "lastSuccessfulSignInDateTime": iso_time(user.last_login),
            "lastNonInteractiveSignInDateTime": None,
        },
    }


def entra_registration(user: DirectoryUser) -> dict[str, Any]:
    """The user's line of the MFA registration report (enabled members only)."""
    return {
        "id": entra_user_id(user),
        "userPrincipalName": user.login,
        "isMfaRegistered": bool(user.factors),
        "methodsRegistered": [
            {"push": "microsoftAuthenticatorPush", "webauthn": "fido2"}.get(f, f)
            for f in user.factors
            if not f.startswith("token:")
        ]
        or (["softwareOneTimePasscode"] if user.factors else []),
    }


def entra_files(directories: Directories) -> Iterator[tuple[str, Any]]:
    """The tenant in iam-gov's own layout: one file per list, members per group."""
    users = []
    registrations = []
    members: dict[str, list[dict[str, str]]] = {g: [] for g in directories.entra_groups}
    assignments = []
    for user in directories.entra:
        uid = entra_user_id(user)
        users.append(entra_user_record(user))
        for group in user.groups:
            members.setdefault(group, []).append(
                {"@odata.type": "#microsoft.graph.user", "id": uid}
            )
        for role in user.admin_roles:
            assert role == "Global Administrator"
            assignments.append(
                {
                    "id": str(stable_uuid("entra-role", user.login, role)),
                    "principalId": uid,
                    "roleDefinitionId": GLOBAL_ADMIN,
                    "directoryScopeId": "/",
                }
            )
        if user.enabled and not user.guest:
            registrations.append(entra_registration(user))
    yield "users.json", {"value": users}
    yield (
        "groups.json",
        [
            {
                "id": entra_group_id(g),
                "displayName": g,
                "groupTypes": [],
                "securityEnabled": True,
                "mailEnabled": False,
            }
            for g in sorted(members)
        ],
    )
    for group, group_members in sorted(members.items()):
        yield f"group-members/{entra_group_id(group)}.json", group_members
        # PIM for Groups: nobody is only eligible for membership in this company
        yield f"group-eligibilities/{entra_group_id(group)}.json", []
    yield "role-assignments.json", assignments
    yield "role-eligibilities.json", []  # PIM: every admin role is held actively
    yield (
        "role-definitions.json",
        [
            {
                "id": GLOBAL_ADMIN,
                "displayName": "Global Administrator",
                "isBuiltIn": True,
                "templateId": GLOBAL_ADMIN,
            }
        ],
    )
    yield "service-principals.json", []
    yield "app-role-assignments/README.txt", "App role assignments: none in this tenant.\n"
    yield "user-registration-details.json", {"value": registrations}
    yield (
        "domains.json",
        [
            {"id": DOMAIN, "authenticationType": "Managed"},
            {"id": TENANT_DOMAIN, "authenticationType": "Managed"},
        ],
    )


# --- Okta (API JSON) ------------------------------------------------------------------------

OKTA_ROLE_LABELS = {"ORG_ADMIN": "Organization Administrator", "SUPER_ADMIN": "Super Administrator"}
FACTOR_PROVIDERS = {"push": "OKTA", "token:software:totp": "GOOGLE", "webauthn": "FIDO"}


def _okta_id(prefix: str, *parts: str) -> str:
    return prefix + stable_uuid("okta", *parts).hex[:17]


def _okta_user(user: DirectoryUser) -> dict[str, Any]:
    return {
        "id": _okta_id("00u", user.login),
        "status": user.status,
        "created": iso_time(user.created),
        "activated": iso_time(user.created),
        "statusChanged": iso_time(user.created),
        "lastLogin": iso_time(user.last_login),
        "lastUpdated": iso_time(user.created),
        "passwordChanged": iso_time(user.created),
        "type": {"id": "oty1a2b3c4d5e6f7g8h9"},
        "profile": {
            "firstName": user.first,
            "lastName": user.last,
            "login": user.login,
            "email": user.email,
            "employeeNumber": user.employee_id,
        },
        "credentials": {
            "password": {},
            "provider": {"type": "OKTA", "name": "OKTA"},
        },
    }


def okta_files(directories: Directories) -> Iterator[tuple[str, Any]]:
    users = [u for u in directories.okta if u.status != "DEPROVISIONED"]
    gone = [u for u in directories.okta if u.status == "DEPROVISIONED"]
    yield "users.json", [_okta_user(u) for u in users]
    yield "users-deprovisioned.json", [_okta_user(u) for u in gone]
    group_ids = {g: _okta_id("00g", g) for g in ["Everyone", *directories.okta_groups]}
    yield (
        "groups.json",
        [
            {
                "id": gid,
                "type": "BUILT_IN" if name == "Everyone" else "OKTA_GROUP",
                "objectClass": ["okta:user_group"],
                "profile": {
                    "name": name,
                    "description": f"{name} ({'all users' if name == 'Everyone' else 'staff'})",
                },
            }
            for name, gid in group_ids.items()
        ],
    )
    for name, gid in group_ids.items():
        members = [u for u in users if name == "Everyone" or name in u.groups]
        yield f"group-members/{gid}.json", [_okta_user(u) for u in members]
        yield f"group-roles/{gid}.json", []
    app_ids = {label: _okta_id("0oa", label) for label in directories.okta_apps}
    yield (
        "apps.json",
        [
            {
                "id": aid,
                "name": label.lower().replace(" ", "_"),
                "label": label,
                "status": "ACTIVE",
                "signOnMode": "SAML_2_0",
            }
            for label, aid in app_ids.items()
        ],
    )
    for label, aid in app_ids.items():
        groups = directories.okta_apps[label]
        assigned = []
        for u in users:
            if label in u.apps:
                assigned.append(
                    {
                        "id": _okta_id("00u", u.login),
                        "scope": "USER",
                        "status": "ACTIVE",
                        "created": iso_time(u.created),
                    }
                )
            elif any(group in u.groups for group in groups):
                assigned.append(
                    {
                        "id": _okta_id("00u", u.login),
                        "scope": "GROUP",
                        "status": "ACTIVE",
                        "created": iso_time(u.created),
                    }
                )
        yield f"app-users/{aid}.json", assigned
        yield f"app-groups/{aid}.json", [{"id": group_ids[g], "priority": 0} for g in groups]
    for u in users:
        yield (
            f"factors/{_okta_id('00u', u.login)}.json",
            [
                {
                    "id": _okta_id("mfa", u.login, factor),
                    "factorType": factor,
                    "provider": FACTOR_PROVIDERS.get(factor, "OKTA"),
                    "status": "ACTIVE",
                    "created": iso_time(u.created),
                }
                for factor in u.factors
            ],
        )
    admins = [u for u in users if u.admin_roles]
    yield (
        "role-assignees.json",
        {
            "value": [
                {
                    "id": _okta_id("00u", u.login),
                    "orn": f"orn:okta:directory:example:users:{_okta_id('00u', u.login)}",
                }
                for u in admins
            ]
        },
    )
    for u in admins:
        yield (
            f"roles/{_okta_id('00u', u.login)}.json",
            [
                {
                    "id": _okta_id("ra1", u.login, role),
                    "type": role,
                    "label": OKTA_ROLE_LABELS.get(role, role),
                    "status": "ACTIVE",
                    "assignmentType": "USER",
                    "created": iso_time(u.created),
                }
                for role in u.admin_roles
            ],
        )

    def password_policy(
        name: str, priority: int, group: str, *, history: int, **complexity: int
    ) -> dict[str, Any]:
        policy_id = _okta_id("00p", name)
        return {
            "type": "PASSWORD",
            "id": policy_id,
            "status": "ACTIVE",
            "name": name,
            "priority": priority,
            "system": name == "Default Policy",
            "created": "2021-03-01T09:00:00.000Z",
            "lastUpdated": "2024-05-14T10:30:00.000Z",
            "conditions": {
                "people": {"groups": {"include": [group_ids[group]]}},
                "authProvider": {"provider": "OKTA"},
            },
            "settings": {
                "password": {
                    "complexity": {
                        "minLowerCase": 1,
                        "minUpperCase": 1,
                        "minNumber": 1,
                        **complexity,
                        "excludeUsername": True,
                        "dictionary": {"common": {"exclude": True}},
                        "excludeAttributes": [],
                    },
                    "age": {
                        "maxAgeDays": 0,
                        "expireWarnDays": 0,
                        "minAgeMinutes": 0,
                        "historyCount": history,
                    },
                    "lockout": {
                        "maxAttempts": 10,
                        "autoUnlockMinutes": 0,
                        "userLockoutNotificationChannels": [],
                        "showLockoutFailures": False,
                    },
                },
            },
            "_links": {
                "self": {"href": f"https://example.okta.com/api/v1/policies/{policy_id}"},
            },
        }

    # The Support desk's old policy, kept for a legacy phone system: 8 characters, no symbols,
    # no history (planted); everyone else gets the strong default.
    yield (
        "policies-password.json",
        [
            password_policy("Support", 1, "Support", history=0, minLength=8, minSymbol=0),
            password_policy("Default Policy", 2, "Everyone", history=24, minLength=14, minSymbol=1),
        ],
    )


# --- writing --------------------------------------------------------------------------------


def write_tree(root: Path, files: Iterator[tuple[str, Any]]) -> list[Path]:
    written = []
    for relative, content in files:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_text(
                json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
        written.append(path)
    return written


__all__ = [
    "ad_ldif",
    "entra_files",
    "entra_group_id",
    "entra_registration",
    "entra_user_id",
    "entra_user_record",
    "iso_time",
    "okta_files",
    "stable_uuid",
    "write_tree",
]
