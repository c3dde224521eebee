"""``config check --connect`` for Okta: sign in, then one small read per scope the collect needs.

Each scope is tried with the call the collect makes for it, through the same client (the
SDK's request executor, paced and retried), asking for one item where Okta takes a ``limit``.
With an SSWS token (an administrator's rights, no scopes) one client serves every read. With
an OAuth 2.0 service app each scope gets a token of its own asking for that scope alone: Okta
refuses the whole token request (``invalid_scope``) when one scope asked for is not granted,
so a single token for all of them could not say which one is missing.

A refused sign-in (401: a wrong or revoked token, an OAuth client assertion Okta does not
accept) or an org that does not answer is not one permission missing: it raises
``ConnectorError``, one line, as the collect does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from iam_gov.connectors.okta.client import ApiError, OktaApi
from iam_gov.connectors.okta.live import (
    APPS,
    ASSIGNEES,
    B_APPS,
    B_ASSIGNEES,
    B_GROUPS,
    B_POLICIES,
    B_USER_ROLES,
    B_USERS,
    GROUPS,
    POLICIES,
    USERS,
)
from iam_gov.connectors.shared.protocol import AccessCheck
from iam_gov.errors import ConnectorError
from iam_gov.retrying import GaveUp

_ABSENT = frozenset({404, 405, 501})
"""What Okta (or a proxy in front of it) answers for an endpoint this org does not have."""
_NO_TOKEN = "no OAuth access token"
"""How ``OktaApi.request`` begins the error of a token request Okta refused."""


@dataclass(frozen=True)
class Probe:
    """The one small read that proves a scope: the collect's own call, one item asked for."""

    path: str
    bucket: str
    params: Mapping[str, str | int]
    what: str
    """What the read lists, for the detail: ``users``."""


PROBES: Mapping[str, Probe] = {
    "okta.users.read": Probe(USERS, B_USERS, {"limit": 1}, "users"),
    "okta.groups.read": Probe(GROUPS, B_GROUPS, {"limit": 1}, "groups"),
    "okta.apps.read": Probe(APPS, B_APPS, {"limit": 1}, "apps"),
    "okta.roles.read": Probe(ASSIGNEES, B_ASSIGNEES, {"limit": 1}, "admin-role assignees"),
    # No limit: the collect asks without one (Okta documents no page size for policies).
    "okta.policies.read": Probe(POLICIES, B_POLICIES, {"type": "PASSWORD"}, "password policies"),
}
"""Every scope ``OktaConnector.permissions.collect`` declares (a test checks it)."""


@dataclass
class AccessChecker:
    """One ``check_access``: ``open_api(scopes)`` gives a client (not yet entered) whose
    credential asks for those scopes."""

    open_api: Callable[[tuple[str, ...]], OktaApi]
    org_url: str
    system: str
    token_per_scope: bool
    """An OAuth service app: one token per scope (see the module's docstring)."""
    not_needed: Mapping[str, str] = field(default_factory=dict)
    """Scopes these options never use, and why: not asked for."""
    _user_id: str | None = None
    """A user the users read saw: whose roles to read when the assignee list is absent."""

    async def run(self, scopes: Sequence[str]) -> list[AccessCheck]:
        checks: list[AccessCheck] = []
        if self.token_per_scope:
            for scope in scopes:
                if self._skipped(scope, checks):
                    continue
                async with self.open_api((scope,)) as api:
                    checks.append(await self._check(api, scope))
            return checks
        wanted = tuple(s for s in scopes if s not in self.not_needed)
        async with self.open_api(wanted) as api:
            for scope in scopes:
                if not self._skipped(scope, checks):
                    checks.append(await self._check(api, scope))
        return checks

    def _skipped(self, scope: str, checks: list[AccessCheck]) -> bool:
        if scope in self.not_needed:
            checks.append(AccessCheck(scope, None, self.not_needed[scope]))
            return True
        if scope not in PROBES:
            checks.append(AccessCheck(scope, None, "no read is known to try this scope with"))
            return True
        return False

    async def _check(self, api: OktaApi, scope: str) -> AccessCheck:
        probe = PROBES[scope]
        url = api.url(probe.path, probe.params)
        shown = "GET " + url.removeprefix(api.org_url)
        try:
            body = (await api.request("GET", url, bucket=probe.bucket)).body
        except ApiError as exc:
            if scope == "okta.roles.read" and exc.status in _ABSENT:
                return await self._user_roles(api, scope, f"{shown}: {exc}")
            return self._failed(scope, shown, exc)
        except GaveUp as exc:
            raise self._unreachable(exc) from None
        items = body if isinstance(body, list) else []
        if scope == "okta.users.read" and items and isinstance(items[0], Mapping):
            user_id = items[0].get("id")
            self._user_id = user_id if isinstance(user_id, str) else None
        return AccessCheck(scope, True, f"{shown}: read ({_count(items, probe.what)})")

    async def _user_roles(self, api: OktaApi, scope: str, absent: str) -> AccessCheck:
        """Where the assignee list is not there, the collect reads each user's roles: so
        does this, for one user."""
        if self._user_id is None:
            return AccessCheck(
                scope,
                None,
                f"{absent}: not available, and no user was read whose roles could be asked "
                "for instead",
            )
        url = api.url(f"{USERS}/{self._user_id}/roles")
        shown = "GET " + url.removeprefix(api.org_url)
        try:
            await api.request("GET", url, bucket=B_USER_ROLES)
        except ApiError as exc:
            return self._failed(scope, shown, exc, f"{absent}: not available; ")
        except GaveUp as exc:
            raise self._unreachable(exc) from None
        return AccessCheck(scope, True, f"{absent}: not available; {shown}: read")

    def _failed(self, scope: str, shown: str, exc: ApiError, before: str = "") -> AccessCheck:
        text = str(exc)
        if text.startswith(_NO_TOKEN) and "invalid_scope" in text:
            # The token request itself, for this scope alone: the app was not granted it.
            return AccessCheck(scope, False, f"{before}Okta would not issue a token: {text}")
        if exc.status == 401 or text.startswith(_NO_TOKEN):
            raise ConnectorError(
                f"{self.system}: Okta at {self.org_url} refused the sign-in: {exc}"
            ) from None
        if exc.status is None:
            raise self._unreachable(exc)
        if exc.status == 403:
            return AccessCheck(scope, False, f"{before}{shown}: refused: {exc}")
        if exc.status in _ABSENT:
            return AccessCheck(scope, None, f"{before}{shown}: not available: {exc}")
        return AccessCheck(scope, None, f"{before}{shown}: no conclusive answer: {exc}")

    def _unreachable(self, exc: Exception) -> ConnectorError:
        return ConnectorError(f"{self.system}: cannot read Okta at {self.org_url}: {exc}")


def _count(items: list[object], what: str) -> str:
    if not items:
        return f"no {what} to read, but the read was allowed"
    return f"{len(items)} of the {what}" if len(items) > 1 else f"1 of the {what}"
