"""The Okta connector: users, groups, apps, MFA factors, admin roles and password policies, live
through the official SDK or from a folder of Okta API responses."""

from __future__ import annotations

import ipaddress
import logging
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

import iam_gov.connectors.okta.layout as layout
from iam_gov.configtypes import RelPath, SecretRef
from iam_gov.connectors.okta.access import AccessChecker
from iam_gov.connectors.okta.actions import apply_action
from iam_gov.connectors.okta.client import Auth, OktaApi, open_api, run_sync
from iam_gov.connectors.okta.export import read_export
from iam_gov.connectors.okta.incremental import (
    ChangeReader,
    cursor_at,
    prune_targets,
    read_baseline,
    since_of,
    write_baseline,
)
from iam_gov.connectors.okta.live import LiveCollector, Recorder, Unreachable
from iam_gov.connectors.okta.records import OktaData
from iam_gov.connectors.okta.to_model import SnapshotBuilder
from iam_gov.connectors.okta.write_export import ExportWriter
from iam_gov.connectors.shared.export_time import export_time
from iam_gov.connectors.shared.incremental import (
    BaselineStore,
    IncrementalOptions,
    IncrementalRead,
    Outcome,
    fingerprint,
)
from iam_gov.connectors.shared.options import LiveOrExportOptions
from iam_gov.connectors.shared.protocol import (
    AccessCheck,
    Connector,
    ExportNotSupported,
    ExportWritten,
    Permissions,
)
from iam_gov.connectors.shared.registry import connector
from iam_gov.errors import ConfigError, ConnectorError
from iam_gov.model import (
    Action,
    ActionKind,
    ActionResult,
    SystemSnapshot,
    UTCDateTime,
)
from iam_gov.retrying import GaveUp, Patience
from iam_gov.timeutil import utcnow

log = logging.getLogger("iam_gov.connectors.okta")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class OktaOptions(LiveOrExportOptions, IncrementalOptions):
    """One Okta org. Secrets come from the environment or the OS keyring, never the file."""

    type: Literal["okta"]
    # live
    org_url: str | None = None
    """``https://example.okta.com`` (``http://`` only on a loopback address, with
    ``allow_http``)."""
    allow_http: bool = False
    """Allow an ``http://`` org_url: only on a loopback address (a local test server, or a
    TLS-terminating proxy on this machine), never across a network, where the token would
    travel in clear. Each collect and action then logs a warning."""
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
    deadline_seconds: float = Field(default=900.0, gt=0, le=86400)
    """Longest a collect (or an action) may take, rate-limit waits and retries included. Past
    it, or once Okta has stopped answering (three attempts in a row without an answer),
    nothing more is asked and the collect fails, naming why: no snapshot with unknown holes
    is stored, the previous one stays the latest."""
    # export
    path: RelPath | None = None
    """A folder of Okta API responses (see ``okta.export``)."""
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

    live_only: ClassVar[tuple[str, ...]] = (
        "org_url",
        "allow_http",
        "api_token",
        "client_id",
        "private_key",
        "key_id",
        "request_timeout",
        "max_retries",
        "concurrency",
        "deadline_seconds",
        "collect_password_policies",
        "incremental",
        "full_every_days",
        "state_folder",
    )
    export_only: ClassVar[tuple[str, ...]] = ("path", "exported_at", "password_policies")

    @field_validator("org_url")
    @classmethod
    def _org_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be the org's address, e.g. https://example.okta.com")
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise ValueError(
                "must start with https:// (http:// sends the token in clear: it is allowed "
                "only on a loopback address such as 127.0.0.1, with allow_http = true)"
            )
        if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
            raise ValueError("must be the org's address only, e.g. https://example.okta.com")
        return f"{parts.scheme}://{parts.netloc}"

    @model_validator(mode="after")
    def _fits_mode(self) -> OktaOptions:
        if self.mode == "export":
            if self.path is None:
                raise ValueError('mode = "export" needs path (a folder of Okta API responses)')
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
            if self.org_url.startswith("http://") and not self.allow_http:
                raise ValueError(
                    f"org_url {self.org_url} is plain http: set allow_http = true to read "
                    "a local test server or proxy on this machine (or use https://)"
                )
        self.check_mode()
        return self


# OAuth 2.0 scopes. An SSWS token carries its admin's rights instead; a read-only
# administrator can collect, and the actions need an administrator who can manage users,
# groups and app assignments (see the README).
POLICIES_SCOPE = "okta.policies.read"
LOGS_SCOPE = "okta.logs.read"
"""Only for an incremental collect: the System Log says what changed."""
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


@connector
class OktaConnector(Connector[OktaOptions]):
    """Okta users as accounts; groups, apps and admin roles as entitlements; the active
    password policies as settings."""

    options_model = OktaOptions
    permissions = Permissions(collect=COLLECT_SCOPES, apply=APPLY_SCOPES)
    capabilities = frozenset(
        {
            ActionKind.SUSPEND_ACCOUNT,
            ActionKind.DISABLE_ACCOUNT,
            ActionKind.REVOKE_SESSIONS,
            ActionKind.REMOVE_GRANT,
        }
    )

    requests_made: int = 0
    """HTTP requests the last live collect or apply sent (retries included)."""

    # --- collect ------------------------------------------------------------------------

    def collect(self) -> SystemSnapshot:
        options = self.options
        if options.mode == "export":
            assert options.path is not None
            data, user_files = read_export(
                options.path,
                employee_id_attribute=options.employee_id_attribute,
                collect_factors=options.collect_factors,
                password_policies=options.password_policies,
            )
            taken = export_time(options.exported_at, user_files)
            if taken.guessed:
                source = str(user_files[0]) if len(user_files) == 1 else str(options.path)
                data.problem(source, taken.guessed, incomplete=False)
            return self._snapshot(data, f"export:{options.path.name}", taken.at)
        collected_at = self.clock()
        if not options.incremental:
            return self._snapshot(run_sync(self._collect_live), "live", collected_at)
        outcome = self._collect_incremental()
        snapshot = self._snapshot(outcome.data, "live", collected_at)
        settings = {**snapshot.settings, "collect": outcome.settings()}
        return snapshot.model_copy(update={"settings": settings})

    def _collect_incremental(self) -> Outcome[OktaData]:
        """The baseline and the changes since it (``okta.incremental``), or a full read,
        saying why."""
        options = self.options
        identity = fingerprint(
            org_url=options.org_url,
            employee_id_attribute=options.employee_id_attribute,
            collect_factors=options.collect_factors,
            collect_password_policies=options.collect_password_policies,
        )
        store = BaselineStore(self.system, options, identity=identity)
        attribute = options.employee_id_attribute
        requests = 0

        def full() -> tuple[OktaData, dict[str, Any]]:
            nonlocal requests
            cursor = cursor_at(utcnow())  # before reading: what changes meanwhile comes again
            data = run_sync(self._collect_live)
            requests += self.requests_made
            return data, cursor

        def changes(
            data: OktaData, cursor: dict[str, Any]
        ) -> tuple[dict[str, Any], dict[str, int]]:
            nonlocal requests
            now = utcnow()
            since = since_of(cursor, now)
            try:
                counts = run_sync(lambda: self._read_changes(data, since, now))
            finally:
                requests += self.requests_made
            return cursor_at(now), counts

        outcome = IncrementalRead(
            store,
            full=full,
            changes=changes,
            read=lambda folder: read_baseline(folder, attribute, options.collect_factors),
            write=lambda data, folder: write_baseline(data, folder, attribute),
            complete=lambda data: data.complete,
            clock=self.clock,
        ).run()
        self.requests_made = requests
        return outcome

    async def _read_changes(
        self, data: OktaData, since: datetime, until: datetime
    ) -> dict[str, int]:
        async with self._api(self._collect_scopes(LOGS_SCOPE)) as api:
            reader = ChangeReader(
                api,
                employee_id_attribute=self.options.employee_id_attribute,
                collect_factors=self.options.collect_factors,
                workers=self.options.concurrency,
                collect_password_policies=self.options.collect_password_policies,
                data=data,
            )
            try:
                await reader.apply(since, until)
            except GaveUp as exc:
                raise ConnectorError(
                    f"{self.system}: gave up reading Okta's changes at {self.options.org_url} "
                    f"({api.requests} requests made): {exc}; nothing is stored"
                ) from None
            finally:
                self.requests_made = api.requests
        prune_targets(data)
        return reader.counts

    def _snapshot(self, data: OktaData, source: str, collected_at: datetime) -> SystemSnapshot:
        return SnapshotBuilder(self.system, self.type_name).snapshot(data, source, collected_at)

    def write_export(self, out: Path) -> ExportWritten:
        """The org read live through the same client, every body kept verbatim in the layout
        the export mode reads (``okta.layout``); the options that read it back name no
        secret. What could not be read is missing from the folder, and listed."""
        options = self.options
        if options.mode == "export":
            raise ExportNotSupported(
                f"{self.system}: these options already read an export ({options.path}); "
                'iam-gov export reads the live org (mode = "live")'
            )
        collected_at = self.clock()
        writer = ExportWriter(out)
        try:
            data = run_sync(lambda: self._collect_live(writer))
        finally:
            writer.close()
        snapshot = self._snapshot(data, "live", collected_at)
        table: dict[str, Any] = {
            "type": self.type_name,
            "mode": "export",
            "path": ".",
            "exported_at": collected_at,
            "employee_id_attribute": options.employee_id_attribute,
            "collect_factors": options.collect_factors,
        }
        problems = [str(e) for e in snapshot.errors if e.consequence is not None]
        if data.role_targets:
            # The layout has no place for them yet: read back, scoped roles are org-wide.
            problems.append(
                "the targets of scoped admin roles are not in the export: read back, those "
                "roles are taken as org-wide and the snapshot is incomplete"
            )
        if layout.PASSWORD_POLICIES in writer.written:
            table["password_policies"] = layout.PASSWORD_POLICIES
        elif options.collect_password_policies:
            problems.append("the password policies could not be read: they are not in the export")
        return ExportWritten(
            files=tuple(Path(name) for name in sorted(writer.written)),
            options=table,
            problems=tuple(problems),
        )

    def _collect_scopes(self, *more: str) -> tuple[str, ...]:
        """The scopes a read asks for: the collect's (without the password policies' when
        they are not read) and ``more``."""
        scopes = (*COLLECT_SCOPES, *more)
        if self.options.collect_password_policies:
            return scopes
        return tuple(s for s in scopes if s != POLICIES_SCOPE)

    async def _collect_live(self, recorder: Recorder | None = None) -> OktaData:
        async with self._api(self._collect_scopes()) as api:
            collector = LiveCollector(
                api,
                employee_id_attribute=self.options.employee_id_attribute,
                collect_factors=self.options.collect_factors,
                workers=self.options.concurrency,
                collect_password_policies=self.options.collect_password_policies,
                recorder=recorder,
            )
            try:
                return await collector.run()
            except Unreachable as exc:
                raise ConnectorError(
                    f"{self.system}: cannot read Okta at {self.options.org_url}: {exc}"
                ) from None
            except GaveUp as exc:
                raise ConnectorError(
                    f"{self.system}: gave up reading Okta at {self.options.org_url} "
                    f"({api.requests} requests made): {exc}; nothing is stored"
                ) from None
            finally:
                self.requests_made = api.requests

    # --- config check --connect --------------------------------------------------------

    def check_access(self) -> list[AccessCheck]:
        """Each scope of ``permissions.collect`` tried with the collect's own call for it,
        one item asked for (``okta.access``); with an OAuth service app, each with a token
        of that scope alone."""
        options = self.options
        if options.why_read_only() is not None:
            return []
        assert options.org_url is not None
        not_needed = {}
        if not options.collect_password_policies:
            not_needed[POLICIES_SCOPE] = "not used: collect_password_policies = false"
        checker = AccessChecker(
            self._api,
            org_url=options.org_url,
            system=self.system,
            token_per_scope=options.api_token is None,
            not_needed=not_needed,
        )
        return run_sync(lambda: checker.run(self.permissions.collect))

    # --- apply --------------------------------------------------------------------------

    def carry_out(self, action: Action) -> ActionResult:
        return run_sync(lambda: self._apply(action))

    async def _apply(self, action: Action) -> ActionResult:
        async with self._api(APPLY_SCOPES) as api:
            try:
                return await apply_action(api, action)
            except GaveUp as exc:
                raise ConnectorError(
                    f"{self.system}: gave up acting on Okta at {self.options.org_url}: {exc}"
                ) from None
            finally:
                self.requests_made = api.requests

    def _api(self, scopes: tuple[str, ...]) -> OktaApi:
        options = self.options
        assert options.org_url is not None
        if options.org_url.startswith("http://"):
            log.warning(
                "%s: org_url %s is plain http (allow_http = true): the credential and every "
                "answer travel unencrypted; use https:// for a real org",
                self.system,
                options.org_url,
            )
        try:
            auth = Auth(
                org_url=options.org_url,
                api_token=_secret(options.api_token, "api_token"),
                client_id=options.client_id,
                private_key=_secret(options.private_key, "private_key"),
                key_id=options.key_id,
                scopes=scopes,
                allow_http=options.allow_http,
            )
            return open_api(
                auth,
                request_timeout=options.request_timeout,
                max_retries=options.max_retries,
                concurrency=options.concurrency,
                patience=Patience(deadline_seconds=options.deadline_seconds),
            )
        except ConfigError as exc:
            raise ConnectorError(f"{self.system}: {exc}") from None


def _secret(ref: SecretRef | None, key: str) -> str | None:
    return None if ref is None else ref.resolve(key).get_secret_value()
