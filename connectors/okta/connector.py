"""The Okta connector: users, groups, apps, MFA factors, admin roles and password policies, live
through the official SDK or from a folder of Okta API responses."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from iam_gov.configtypes import RelPath, SecretRef
from iam_gov.connectors.okta.actions import apply_action
from iam_gov.connectors.okta.client import Auth, OktaApi, build_executor
from iam_gov.connectors.okta.export import (
    USERS,
    OktaData,
    OktaPasswordPolicy,
    OktaRole,
    OktaUser,
    read_export,
)
from iam_gov.connectors.okta.live import PASSWORD_POLICIES, LiveCollector, Unreachable
from iam_gov.connectors.shared.protocol import Connector, ConnectorOptions, Permissions
from iam_gov.connectors.shared.registry import connector
from iam_gov.errors import ConfigError, ConnectorError
from iam_gov.model import (
    Account,
    AccountStatus,
    Action,
    ActionKind,
    ActionOutcome,
    ActionResult,
    Credential,
    CredentialKind,
    Entitlement,
    Grant,
    SystemSnapshot,
    UTCDateTime,
)
from iam_gov.timeutil import as_utc, utcnow

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


class OktaOptions(ConnectorOptions):
    """One Okta org. Secrets come from the environment or the OS keyring, never the file."""

    type: Literal["okta"]
    mode: Literal["live", "export"]
    # live
    org_url: str | None = None
    """``https://example.okta.com`` (http only for a local test server)."""
    api_token: SecretRef | None = None
    """An SSWS API token."""
    client_id: str | None = Field(default=None, min_length=1)
    """Or an OAuth 2.0 API service app: its client id …"""
    private_key: SecretRef | None = None
    """… and its private key (PEM or JWK) for the private_key_jwt client assertion."""
    key_id: str | None = Field(default=None, min_length=1)
    """The ``kid`` of that key, when the app has several."""
    request_timeout: float = Field(default=30.0, gt=0, le=600)
    """Seconds for one request (the SDK's default is none at all)."""
    max_retries: int = Field(default=4, ge=0, le=10)
    """Retries of a 5xx or a lost connection, with exponential backoff (429s wait for the
    rate-limit reset instead and do not count)."""
    concurrency: int = Field(default=8, ge=1, le=50)
    """Requests under way at once; Okta's concurrency limit for an org is 15 to 75."""
    # export
    path: RelPath | None = None
    """A folder of Okta API responses (see ``okta_export``)."""
    exported_at: UTCDateTime | None = None
    """When the export was taken. Default: the modification time of users.json."""
    password_policies: RelPath | None = None
    """What ``GET /api/v1/policies?type=PASSWORD`` returned, e.g. okta/policies-password.json.
    Without it the password policies are unknown and not judged."""
    # both
    employee_id_attribute: str = Field(default="employeeNumber", min_length=1)
    """The Okta profile attribute that holds the HR employee id."""
    collect_factors: bool = True
    """Read each sign-in-capable user's MFA factors (one call per user). When false, MFA is
    left unknown and no mfa-missing finding can be made."""
    collect_password_policies: bool = True
    """Live: read the password policies (needs okta.policies.read, which an OAuth service app
    must have been granted, or Okta refuses the token). When false they are not judged."""

    @field_validator("org_url")
    @classmethod
    def _org_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be the org's address, e.g. https://example.okta.com")
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
            raise ValueError("must start with https:// (http only for a local test server)")
        if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
            raise ValueError("must be the org's address only, e.g. https://example.okta.com")
        return f"{parts.scheme}://{parts.netloc}"

    @model_validator(mode="after")
    def _fits_mode(self) -> OktaOptions:
        if self.mode == "export":
            if self.path is None:
                raise ValueError('mode = "export" needs path (a folder of Okta API responses)')
            misplaced = [n for n in _LIVE_ONLY if n in self.model_fields_set]
            wanted = "live"
        else:
            if self.org_url is None:
                raise ValueError('mode = "live" needs org_url, e.g. "https://example.okta.com"')
            oauth = self.client_id is not None or self.private_key is not None
            if (self.api_token is not None) == oauth:
                raise ValueError(
                    "give either api_token, or client_id and private_key (an OAuth 2.0 service app)"
                )
            if oauth and (self.client_id is None or self.private_key is None):
                raise ValueError("an OAuth 2.0 service app needs both client_id and private_key")
            if self.key_id is not None and not oauth:
                raise ValueError("key_id only applies with client_id and private_key")
            misplaced = [n for n in _EXPORT_ONLY if getattr(self, n) is not None]
            wanted = "export"
        if misplaced:
            raise ValueError(f'{", ".join(misplaced)} only apply to mode = "{wanted}"')
        return self


_LIVE_ONLY = (
    "org_url",
    "api_token",
    "client_id",
    "private_key",
    "key_id",
    "request_timeout",
    "max_retries",
    "concurrency",
    "collect_password_policies",
)
_EXPORT_ONLY = ("path", "exported_at", "password_policies")

# OAuth 2.0 scopes. An SSWS token carries its admin's rights instead; a read-only
# administrator can collect, and the actions need an administrator who can manage users,
# groups and app assignments (see the README).
POLICIES_SCOPE = "okta.policies.read"
"""Only for the password policies; ``collect_password_policies = false`` does without it."""
COLLECT_SCOPES = (
    "okta.users.read",
    "okta.groups.read",
    "okta.apps.read",
    "okta.roles.read",
    POLICIES_SCOPE,
)
# Actions read the current state first (that is what makes them idempotent).
APPLY_SCOPES = (
    "okta.users.read",
    "okta.users.manage",
    "okta.groups.read",
    "okta.groups.manage",
    "okta.apps.read",
    "okta.apps.manage",
)

_STATUS = {
    "ACTIVE": AccountStatus.ACTIVE,
    "RECOVERY": AccountStatus.ACTIVE,
    "PASSWORD_EXPIRED": AccountStatus.ACTIVE,
    "LOCKED_OUT": AccountStatus.ACTIVE,
    "PROVISIONED": AccountStatus.ACTIVE,
    "SUSPENDED": AccountStatus.SUSPENDED,
    "DEPROVISIONED": AccountStatus.DISABLED,
    "STAGED": AccountStatus.DISABLED,
}

T = TypeVar("T")


def _run(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to the end from synchronous code, even when this thread already runs
    an event loop (the TUI): then in a thread of its own."""

    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


@connector
class OktaConnector(Connector[OktaOptions]):
    """Okta users as accounts; groups, apps and admin roles as entitlements; the active
    password policies as settings."""

    options_model: ClassVar[type[ConnectorOptions]] = OktaOptions
    permissions: ClassVar[Permissions] = Permissions(collect=COLLECT_SCOPES, apply=APPLY_SCOPES)
    capabilities: ClassVar[frozenset[ActionKind]] = frozenset(
        {ActionKind.SUSPEND_ACCOUNT, ActionKind.DISABLE_ACCOUNT, ActionKind.REMOVE_GRANT}
    )

    def __init__(
        self,
        system: str,
        options: OktaOptions,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(system, options, clock=clock)
        self.requests_made = 0
        """HTTP requests the last live collect or apply sent (retries included)."""

    # --- collect ------------------------------------------------------------------------

    def collect(self) -> SystemSnapshot:
        options = self.options
        if options.mode == "export":
            assert options.path is not None
            data = read_export(
                options.path,
                employee_id_attribute=options.employee_id_attribute,
                collect_factors=options.collect_factors,
                password_policies=options.password_policies,
            )
            collected_at = options.exported_at
            if collected_at is None:
                users = options.path / USERS
                collected_at = as_utc(datetime.fromtimestamp(users.stat().st_mtime))
                data.problem(
                    str(users),
                    f"exported_at not given: taken to be the file's modification time, "
                    f"{collected_at:%Y-%m-%d %H:%M} UTC",
                    incomplete=False,
                )
            return _Mapper(self.system).snapshot(data, f"export:{options.path.name}", collected_at)
        collected_at = self.clock()
        data = _run(self._collect_live)
        return _Mapper(self.system).snapshot(data, "live", collected_at)

    async def _collect_live(self) -> OktaData:
        scopes: tuple[str, ...] = COLLECT_SCOPES
        if not self.options.collect_password_policies:
            scopes = tuple(s for s in scopes if s != POLICIES_SCOPE)
        async with self._api(scopes) as api:
            collector = LiveCollector(
                api,
                employee_id_attribute=self.options.employee_id_attribute,
                collect_factors=self.options.collect_factors,
                workers=self.options.concurrency,
                collect_password_policies=self.options.collect_password_policies,
            )
            try:
                return await collector.run()
            except Unreachable as exc:
                raise ConnectorError(
                    f"{self.system}: cannot read Okta at {self.options.org_url}: {exc}"
                ) from None
            finally:
                self.requests_made = api.requests

    # --- apply --------------------------------------------------------------------------

    def apply(self, action: Action) -> ActionResult:
        if action.kind not in self.capabilities:
            return super().apply(action)
        if action.system != self.system:
            return _failed(action, f"this connector serves system {self.system!r}")
        if self.options.mode != "live":
            return _failed(action, 'an export cannot be changed: actions need mode = "live"')
        try:
            return _run(lambda: self._apply(action))
        except ConnectorError as exc:
            return _failed(action, str(exc))

    async def _apply(self, action: Action) -> ActionResult:
        async with self._api(APPLY_SCOPES) as api:
            try:
                return await apply_action(api, action)
            finally:
                self.requests_made = api.requests

    # --- the SDK client -----------------------------------------------------------------

    def _api(self, scopes: tuple[str, ...]) -> OktaApi:
        options = self.options
        assert options.org_url is not None
        try:
            auth = Auth(
                org_url=options.org_url,
                api_token=_secret(options.api_token, "api_token"),
                client_id=options.client_id,
                private_key=_secret(options.private_key, "private_key"),
                key_id=options.key_id,
                scopes=scopes,
            )
        except ConfigError as exc:
            raise ConnectorError(f"{self.system}: {exc}") from None
        try:
            executor = build_executor(auth, request_timeout=options.request_timeout)
        except ValueError as exc:
            # The SDK lists what it refused, one problem a line, HTML-escaped.
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            reason = next((line for line in lines if line != "Errors:"), "refused")
            reason = reason.replace("&#39;", "'").replace("&quot;", '"')
            raise ConnectorError(
                f"{self.system}: the Okta SDK refused the settings: {reason}"
            ) from None
        return OktaApi(
            executor,
            options.org_url,
            max_retries=options.max_retries,
            concurrency=options.concurrency,
        )


def _secret(ref: SecretRef | None, key: str) -> str | None:
    return None if ref is None else ref.resolve(key).get_secret_value()


def _failed(action: Action, message: str) -> ActionResult:
    return ActionResult(action=action, outcome=ActionOutcome.FAILED, message=message)


# --- mapping to the model -------------------------------------------------------------------


@dataclass
class _Mapper:
    """Turns what Okta says into the shared model; the same code for both modes."""

    system: str
    accounts: dict[str, Account] = field(default_factory=dict)
    credentials: list[Credential] = field(default_factory=list)
    entitlements: dict[str, Entitlement] = field(default_factory=dict)
    grants: dict[tuple[str, str, str | None], Grant] = field(default_factory=dict)

    def snapshot(self, data: OktaData, source: str, collected_at: datetime) -> SystemSnapshot:
        for user in data.users.values():
            self._account(user, data)
        for user in data.member_users.values():
            if user.id not in self.accounts:
                self._account(user, data)
        self._groups(data)
        self._apps(data)
        self._roles(data)
        settings: dict[str, Any] = {}
        if data.password_policies is not None:
            settings["password_policies"] = self._password_policies(data, data.password_policies)
        return SystemSnapshot(
            system=self.system,
            connector=OktaConnector.type_name,
            source=source,
            collected_at=collected_at,
            complete=data.complete,
            errors=tuple(sorted(data.errors, key=lambda e: (e.source, e.record or "", e.message))),
            accounts=tuple(self.accounts[key] for key in sorted(self.accounts)),
            credentials=tuple(sorted(self.credentials, key=lambda c: c.credential_id)),
            entitlements=tuple(self.entitlements[key] for key in sorted(self.entitlements)),
            grants=tuple(
                self.grants[key]
                for key in sorted(self.grants, key=lambda k: (k[0], k[1], k[2] or ""))
            ),
            settings=settings,
        )

    def _grant(
        self,
        account: str,
        entitlement: str,
        via: str | None = None,
        granted_at: datetime | None = None,
    ) -> None:
        self.grants[(account, entitlement, via)] = Grant(
            system=self.system,
            account_id=account,
            entitlement_id=entitlement,
            via=via,
            granted_at=granted_at,
        )

    def _account(self, user: OktaUser, data: OktaData) -> None:
        status = _STATUS.get(user.status)
        if status is None:
            # Unknown must never look like removed: taken as able to sign in.
            status = AccountStatus.ACTIVE
            data.problem(
                USERS,
                f"user {user.login} has a status iam-gov does not know ({user.status[:40]}): "
                "taken to be able to sign in",
                record=user.id,
                incomplete=False,
            )
        attributes = {"okta_status": user.status}
        if user.provider_type:
            attributes["credential_provider"] = user.provider_type
        if user.provider_name:
            attributes["credential_provider_name"] = user.provider_name
        self.accounts[user.id] = Account(
            system=self.system,
            native_id=user.id,
            login=user.login,
            email=user.email,
            display_name=user.display_name,
            employee_id=user.employee_id,
            status=status,
            created_at=user.created,
            last_login_at=user.last_login,
            mfa_factors=data.factors.get(user.id) if user.can_sign_in else None,
            attributes=attributes,
        )
        if user.has_password:
            self.credentials.append(
                Credential(
                    system=self.system,
                    account_id=user.id,
                    credential_id=f"{user.id}#password",
                    kind=CredentialKind.PASSWORD,
                    active=status is AccountStatus.ACTIVE,
                    created_at=user.password_changed,
                    last_used_at=user.last_login,
                    attributes={"provider": user.provider_type} if user.provider_type else {},
                )
            )

    def _groups(self, data: OktaData) -> None:
        for group in data.groups.values():
            self.entitlements[group.id] = Entitlement(
                system=self.system,
                entitlement_id=group.id,
                name=group.name,
                kind="group",
                # A group that makes its members administrators is privileged by nature.
                privileged=bool(data.group_roles.get(group.id)),
                description=group.description,
            )
            for user_id in data.members.get(group.id, ()):
                self._grant(user_id, group.id)

    def _apps(self, data: OktaData) -> None:
        for app in data.apps.values():
            description = app.name + ("" if app.status == "ACTIVE" else f" ({app.status.lower()})")
            self.entitlements[app.id] = Entitlement(
                system=self.system,
                entitlement_id=app.id,
                name=app.label,
                kind="app",
                description=description or None,
            )
            via_group: set[str] = set()
            # Where a listing failed, that failure is the problem to report, not what follows.
            groups_known = app.id in data.app_groups
            for group_id in data.app_groups.get(app.id, ()):
                if group_id not in data.groups:
                    data.problem(
                        f"/api/v1/apps/{app.id}/groups",
                        f"app {app.label} is assigned to group {group_id}, which is not in the "
                        "group list",
                        record=group_id,
                    )
                    groups_known = False
                    continue
                groups_known = groups_known and group_id in data.members
                for user_id in data.members.get(group_id, ()):
                    self._grant(user_id, app.id, via=group_id)
                    via_group.add(user_id)
            for assignment in data.app_users.get(app.id, ()):
                user_id = assignment.user_id
                if user_id not in self.accounts:
                    if not data.users_complete:
                        continue  # the user list's own failure is the problem reported
                    data.problem(
                        f"/api/v1/apps/{app.id}/users",
                        f"app {app.label} is assigned to user {user_id}, who is not in the "
                        "user list",
                        record=user_id,
                    )
                elif assignment.scope != "GROUP":
                    self._grant(user_id, app.id, granted_at=assignment.created)
                elif user_id not in via_group and groups_known:
                    data.problem(
                        f"/api/v1/apps/{app.id}/users",
                        f"user {self.accounts[user_id].login} has app {app.label} through a group "
                        "that the app's group assignments and the group members do not show",
                        record=user_id,
                    )

    def _role(self, role: OktaRole) -> str:
        entitlement_id = role.entitlement_id
        if entitlement_id not in self.entitlements:
            self.entitlements[entitlement_id] = Entitlement(
                system=self.system,
                entitlement_id=entitlement_id,
                name=role.name,
                kind="admin-role",
                privileged=True,
                description=role.label,
            )
        return entitlement_id

    def _roles(self, data: OktaData) -> None:
        held_via: set[tuple[str, str]] = set()
        groups_known = all(g in data.members and g in data.group_roles for g in data.groups)
        for group_id, roles in data.group_roles.items():
            for role in roles:
                entitlement_id = self._role(role)
                for user_id in data.members.get(group_id, ()):
                    self._grant(user_id, entitlement_id, via=group_id)
                    held_via.add((user_id, entitlement_id))
        for user_id, roles in data.user_roles.items():
            if user_id not in self.accounts:
                if not data.users_complete:
                    continue
                data.problem(
                    f"/api/v1/users/{user_id}/roles",
                    "an administrator who is not in the user list",
                    record=user_id,
                )
                continue
            for role in roles:
                entitlement_id = self._role(role)
                if role.assignment_type == "USER":
                    self._grant(user_id, entitlement_id, granted_at=role.created)
                elif (user_id, entitlement_id) not in held_via and groups_known:
                    data.problem(
                        f"/api/v1/users/{user_id}/roles",
                        f"user {self.accounts[user_id].login} holds admin role {role.name} "
                        "through a group, but no group it is in shows that role",
                        record=user_id,
                    )

    def _password_policies(
        self, data: OktaData, policies: list[OktaPasswordPolicy]
    ) -> list[dict[str, Any]]:
        """Every ACTIVE policy for passwords Okta keeps, in priority order, in the normalized
        form the weak-password-policy rule reads: each applies to somebody (its groups, or
        everyone else for the Default Policy), so each is judged. Inactive ones apply to
        no one. Policies for AD- or LDAP-sourced users are left out: with delegated
        authentication that directory enforces its own length and complexity, and is judged
        through its own connector."""
        out: list[dict[str, Any]] = []
        in_order = sorted(policies, key=lambda p: (p.priority is None, p.priority or 0, p.name))
        for policy in in_order:
            if policy.status != "ACTIVE":
                continue
            if policy.provider != "OKTA":
                data.problem(
                    PASSWORD_POLICIES,
                    f"password policy {policy.name} governs {policy.provider} users, whose "
                    "directory enforces its own password policy: not judged here",
                    record=policy.id,
                    incomplete=False,
                )
                continue
            counts = {
                "uppercase": policy.min_upper_case,
                "lowercase": policy.min_lower_case,
                "numbers": policy.min_number,
                "symbols": policy.min_symbol,
            }
            normalized: dict[str, Any] = {
                "source": "okta",
                "id": policy.id,
                "name": policy.name,
                "priority": policy.priority,
                "default": policy.system,
                "groups": [
                    data.groups[g].name if g in data.groups else g for g in policy.group_ids
                ],
                "min_length": policy.min_length,
                "history": policy.history_count,
                "lockout_threshold": policy.max_attempts,  # 0: never locks
                "complexity": None,
                # Okta asks for at least N of each kind; 0 (or null) does not require it.
                "classes": None
                if all(n is None for n in counts.values())
                else {kind: (n or 0) >= 1 for kind, n in counts.items()},
            }
            # Left out when unknown: a missing key is not judged, None would read as "never".
            if policy.max_age_days is not None:
                normalized["max_age_days"] = policy.max_age_days or None
            out.append(normalized)
        if not out:
            data.problem(
                PASSWORD_POLICIES,
                "no active password policy for passwords Okta keeps: none is judged",
                incomplete=False,
            )
        return out
