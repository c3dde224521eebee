"""``config check --connect`` for Entra: sign in, then one small read per Graph permission.

Each application permission the collect needs is tried with a call the collect makes, through
the same ``GraphClient`` (retries, throttling, the deadline), asking for one record where Graph
takes ``$top`` and for the id only. The read is the proof; the access token's ``roles`` claim
(the application permissions consented) only says, of a refused read, whether consent is what
is missing.

A token Entra will not issue (a wrong secret, an unknown app or tenant) or a Graph that does
not answer is not one permission missing: ``ConnectorError``, one line, as the collect does.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from iam_gov.connectors.entra.client import GraphClient, GraphError
from iam_gov.connectors.entra.live import GROUP_ELIGIBILITIES_PATH
from iam_gov.connectors.shared.protocol import AccessCheck
from iam_gov.errors import ConnectorError

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
"""The Global Administrator role's template id (the same in every tenant): its holders are few,
so listing them is a small read of the role assignments."""
GROUP_PIM = "PrivilegedEligibilitySchedule.Read.AzureADGroup"
_REFUSED = "Authorization_RequestDenied"
"""Graph's code for a call the app's permissions do not allow."""
_LICENCE_CODES = ("AadPremiumLicenseRequired", "Authentication_RequestFromNonPremiumTenantOrB2C")


@dataclass(frozen=True)
class Probe:
    """The one small read that proves a permission."""

    path: str
    params: Mapping[str, str]
    what: str
    filtered: bool = False
    """Graph takes this list only filtered on one principal or one group."""


PROBES: Mapping[str, Probe] = {
    "User.Read.All": Probe("/users", {"$select": "id", "$top": "1"}, "users"),
    # This report takes no $select and no $top: its first page is read.
    "AuditLog.Read.All": Probe(
        "/reports/authenticationMethods/userRegistrationDetails", {}, "MFA registrations"
    ),
    "GroupMember.Read.All": Probe("/groups", {"$select": "id", "$top": "1"}, "groups"),
    # This list takes no $top: filtered on one role instead.
    "RoleManagement.Read.Directory": Probe(
        "/roleManagement/directory/roleAssignments",
        {"$select": "id", "$filter": f"roleDefinitionId eq '{GLOBAL_ADMINISTRATOR}'"},
        "Global Administrator assignments",
    ),
    "Application.Read.All": Probe(
        "/servicePrincipals", {"$select": "id", "$top": "1"}, "service principals"
    ),
    "Domain.Read.All": Probe("/domains", {"$select": "id"}, "domains"),
    GROUP_PIM: Probe(
        GROUP_ELIGIBILITIES_PATH, {"$select": "id"}, "eligible group memberships", filtered=True
    ),
}
"""Every permission ``EntraConnector.permissions.collect`` declares (a test checks it)."""


@dataclass
class AccessChecker:
    """One ``check_access`` through ``graph``, whose bearer tokens ``token`` gives."""

    graph: GraphClient
    token: Callable[[], str]
    where: str
    """``{system}: Microsoft Graph at {graph_url}``: what an error begins with."""
    not_needed: Mapping[str, str] = field(default_factory=dict)
    """Permissions these options never use, and why: not tried."""
    _seen: dict[str, str] = field(default_factory=dict)
    """``groupId`` and ``principalId``: a group and a user the reads saw, for the lists
    Graph takes only filtered on one."""

    def run(self, permissions: Sequence[str]) -> list[AccessCheck]:
        roles = token_roles(self.token())  # the sign-in: ConnectorError when refused
        checks = []
        for permission in permissions:
            if permission in self.not_needed:
                checks.append(AccessCheck(permission, None, self.not_needed[permission]))
            elif permission not in PROBES:
                checks.append(AccessCheck(permission, None, "no read is known to try it with"))
            else:
                checks.append(self._check(permission, PROBES[permission], roles))
        return checks

    def _check(self, permission: str, probe: Probe, roles: frozenset[str] | None) -> AccessCheck:
        params = dict(probe.params)
        if probe.filtered:
            # One user's eligibilities: a valid filter whatever the groups are like.
            key = next((k for k in ("principalId", "groupId") if k in self._seen), None)
            if key is None:
                return AccessCheck(
                    permission, None, f"not tried: no user or group was read to ask {probe.what} of"
                )
            params["$filter"] = f"{key} eq '{self._seen[key]}'"
        query = urlencode(params, safe="$,' ")
        shown = f"GET {probe.path}" + (f"?{query}" if query else "")
        try:
            body = self.graph.get(probe.path, params)
        except GraphError as exc:
            return self._failed(permission, shown, exc, roles)
        records = [r for r in body.get("value") or [] if isinstance(r, dict)]
        if records and isinstance(records[0].get("id"), str):
            if probe.path == "/users":
                self._seen.setdefault("principalId", records[0]["id"])
            elif probe.path == "/groups":
                self._seen.setdefault("groupId", records[0]["id"])
        count = f"{len(records)} of the {probe.what}" if records else f"no {probe.what} to read"
        return AccessCheck(permission, True, f"{shown}: read ({count})")

    def _failed(
        self, permission: str, shown: str, exc: GraphError, roles: frozenset[str] | None
    ) -> AccessCheck:
        answer = f"{exc.status} {exc.code}" + (f": {exc.message}" if exc.message else "")
        if exc.status is None:
            raise ConnectorError(f"{self.where} cannot be reached: {exc}")
        if exc.status == 401:
            raise ConnectorError(f"{self.where} refused the token: {exc}")
        if any(code in exc.code for code in _LICENCE_CODES):
            return AccessCheck(
                permission,
                None,
                f"{shown}: {answer} (the tenant lacks the licence this needs, whatever the "
                "permission)",
            )
        if exc.status == 403:
            return AccessCheck(
                permission, False, f"{shown}: refused: {answer}{_consent(permission, roles)}"
            )
        if exc.status == 404:
            return AccessCheck(permission, None, f"{shown}: not available: {answer}")
        return AccessCheck(permission, None, f"{shown}: no conclusive answer: {answer}")


def _consent(permission: str, roles: frozenset[str] | None) -> str:
    if roles is None:
        return ""
    if permission in roles:
        return " (although the token's roles claim holds it)"
    return (
        f" (the token's roles claim lacks {permission}: add it to the app registration's "
        "application permissions and grant admin consent)"
    )


def token_roles(token: str) -> frozenset[str] | None:
    """The ``roles`` claim of an Entra access token (the application permissions consented),
    read without checking the signature (Graph does that); None when the token is not a JWT
    or holds no such claim."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    roles = claims.get("roles") if isinstance(claims, dict) else None
    if not isinstance(roles, list):
        return None
    return frozenset(role for role in roles if isinstance(role, str))
