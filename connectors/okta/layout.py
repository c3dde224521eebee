"""The offline layout of an Okta export: which file holds which API call's bodies, as
``iam-gov export`` writes it and as the export reader looks for it first (it also finds other
namings by content, see ``okta.export_index``)."""

from __future__ import annotations

from dataclasses import dataclass

from iam_gov.connectors.okta.records import (
    UNKNOWN_APP_GROUPS,
    UNKNOWN_APP_USERS,
    UNKNOWN_FACTORS,
    UNKNOWN_GROUP_ROLES,
    UNKNOWN_MEMBERS,
    UNKNOWN_ROLES,
)

USERS = "users.json"
DEPROVISIONED_USERS = "users-deprovisioned.json"
GROUPS = "groups.json"
APPS = "apps.json"
ROLE_ASSIGNEES = "role-assignees.json"
PASSWORD_POLICIES = "policies-password.json"


@dataclass(frozen=True)
class PerObject:
    """One call per object: its folder in the layout, whose object it is, what it holds."""

    kind: str
    folder: str
    owner: str
    """``user``, ``group`` or ``app``: the object whose id names the file."""
    holds: str
    """What the file says about its object, e.g. "the members of"."""
    every: str
    """What a missing folder leaves unknown, e.g. "the members of every group"."""
    consequence: str

    def file(self, object_id: str) -> str:
        """The file's name in the layout; ``object_id`` has passed ``is_okta_id``."""
        return f"{self.folder}/{object_id}.json"


MEMBERS = PerObject(
    "members",
    "group-members",
    "group",
    "the members of",
    "the members of every group",
    UNKNOWN_MEMBERS,
)
GROUP_ROLES = PerObject(
    "group-roles",
    "group-roles",
    "group",
    "the admin roles of",
    "the admin roles held through groups",
    UNKNOWN_GROUP_ROLES,
)
APP_USERS = PerObject(
    "app-users",
    "app-users",
    "app",
    "the users assigned to",
    "the users assigned to apps",
    UNKNOWN_APP_USERS,
)
APP_GROUPS = PerObject(
    "app-groups",
    "app-groups",
    "app",
    "the groups assigned to",
    "the groups assigned to apps",
    UNKNOWN_APP_GROUPS,
)
FACTORS = PerObject(
    "factors",
    "factors",
    "user",
    "the MFA factors of",
    "the MFA factors of every user",
    UNKNOWN_FACTORS,
)
ROLES = PerObject(
    "roles", "roles", "user", "the admin roles of", "the users' own admin roles", UNKNOWN_ROLES
)
PER_OBJECT = {k.kind: k for k in (MEMBERS, GROUP_ROLES, APP_USERS, APP_GROUPS, FACTORS, ROLES)}
