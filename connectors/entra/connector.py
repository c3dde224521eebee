"""The Microsoft Entra ID connector: users, groups, directory roles and app roles, live through
MSAL and Microsoft Graph, or from the Graph JSON that `az rest` and Graph Explorer save."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from iam_gov.configtypes import RelPath, SecretRef
from iam_gov.connectors.entra.access import GROUP_PIM, AccessChecker
from iam_gov.connectors.entra.actions import apply_action
from iam_gov.connectors.entra.client import (
    GraphClient,
    MsalTokenProvider,
    certificate_credential,
    http_client,
)
from iam_gov.connectors.entra.export import read_export
from iam_gov.connectors.entra.incremental import (
    full_read,
    read_baseline,
    read_changes,
    write_baseline,
)
from iam_gov.connectors.entra.live import LiveReader
from iam_gov.connectors.entra.records import TenantData
from iam_gov.connectors.entra.to_model import SnapshotBuilder
from iam_gov.connectors.entra.write_export import write_bodies
from iam_gov.connectors.shared.export_time import ExportTime, export_time
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
from iam_gov.retrying import GaveUp
from iam_gov.timeutil import utcnow

if TYPE_CHECKING:
    import httpx

_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

# The national clouds: which sign-in host goes with which Graph (Microsoft's "National cloud
# deployments"). A pair from two clouds cannot work: the token would be for another Graph.
CLOUDS = {
    "login.microsoftonline.com": ("global", ("graph.microsoft.com",)),
    "login.microsoftonline.us": ("US Government", ("graph.microsoft.us", "dod-graph.microsoft.us")),
    "login.partner.microsoftonline.cn": ("China (21Vianet)", ("microsoftgraph.chinacloudapi.cn",)),
}
GRAPH_CLOUDS = {graph: cloud for cloud, graphs in CLOUDS.values() for graph in graphs}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def root_url(value: str, *, key: str, http_on_loopback: bool) -> str:
    """A service root as ``https://host[:port]``: nothing after the host (no path, query,
    user or password), https unless allowed on this machine's loopback only."""
    try:
        parts = urlsplit(value.strip())
        host, port = parts.hostname, parts.port  # port: ValueError when not a number
    except ValueError as exc:
        raise ValueError(f"{key}: not a URL ({exc})") from None
    if parts.scheme not in {"https", "http"} or not host:
        raise ValueError(f"{key}: expected https://host[:port], got {value!r}")
    if parts.scheme == "http" and not (http_on_loopback and _is_loopback(host)):
        allowed = " (http only to 127.0.0.1, ::1 or localhost)" if http_on_loopback else ""
        raise ValueError(
            f"{key}: must be https{allowed}: the bearer token and the credential travel to it"
        )
    if parts.username or parts.password:
        raise ValueError(f"{key}: no user or password in the URL")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ValueError(f"{key}: only the root (https://host[:port]), without a path or query")
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}" + (f":{port}" if port is not None else "")


class EntraOptions(LiveOrExportOptions, IncrementalOptions):
    """One Entra tenant, read through an app registration's own credential (client credentials:
    a client secret, or a certificate), or from a folder of saved Graph answers."""

    type: Literal["entra"]
    # live
    tenant_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")
    """The directory (tenant) id, or one of its verified domain names."""
    client_id: str | None = Field(default=None, pattern=_GUID)
    """The application (client) id of the app registration iam-gov signs in as."""
    client_secret: SecretRef | None = None
    certificate_private_key: SecretRef | None = None
    """A PEM private key, optionally followed by its certificate (then no thumbprint is needed)."""
    certificate_thumbprint: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f]{40}$")
    """The certificate's SHA-1 thumbprint, as the app registration shows it."""
    authority_host: str = "https://login.microsoftonline.com"
    """Where tokens come from: the national cloud's sign-in host, or a proxy or test server
    (https only: MSAL takes no other)."""
    graph_url: str = "https://graph.microsoft.com"
    """The Graph root, and the token's audience (``{graph_url}/.default``)."""
    ca_file: RelPath | None = None
    """A PEM file of CA certificates trusted, besides the usual ones, for the sign-in host and
    Graph only: a TLS-inspecting proxy's, or a private CA."""
    timeout: float = Field(default=30.0, gt=0, le=600)
    """Seconds to wait for one answer."""
    max_retries: int = Field(default=5, ge=0, le=20)
    """Retries of one call that was throttled (429), met a busy service (503, 504) or got no
    answer."""
    deadline_seconds: float = Field(default=3600.0, gt=0, le=86400)
    pim: bool = True
    """Read PIM's eligible role assignments and group memberships. ``false`` for a tenant
    without Entra ID P2 (where Graph refuses them, which would leave every snapshot
    incomplete): the snapshot then notes that eligible access is not seen."""
    """The longest one collect (or one action) may take, retries and throttling included:
    when it passes, or when Graph stops answering (3 attempts in a row), the system fails and
    keeps its previous snapshot."""
    # export
    path: RelPath | None = None
    """The folder of saved Graph answers (layout in the README)."""
    exported_at: UTCDateTime | None = None
    """When the export was taken. Default: the newest file's modification time."""

    live_only: ClassVar[tuple[str, ...]] = (
        "tenant_id",
        "client_id",
        "client_secret",
        "certificate_private_key",
        "certificate_thumbprint",
        "authority_host",
        "graph_url",
        "ca_file",
        "timeout",
        "max_retries",
        "deadline_seconds",
        "incremental",
        "full_every_days",
        "state_folder",
    )
    export_only: ClassVar[tuple[str, ...]] = ("path", "exported_at")

    @field_validator("authority_host")
    @classmethod
    def _authority_root(cls, value: str) -> str:
        return root_url(value, key="authority_host", http_on_loopback=False)

    @field_validator("graph_url")
    @classmethod
    def _graph_root(cls, value: str) -> str:
        return root_url(value, key="graph_url", http_on_loopback=True)

    @model_validator(mode="after")
    def _fits_mode(self) -> EntraOptions:
        if self.mode == "export":
            if self.path is None:
                raise ValueError('mode = "export" needs path (the folder of saved Graph JSON)')
        else:
            missing = [n for n in ("tenant_id", "client_id") if getattr(self, n) is None]
            if missing:
                raise ValueError(f'mode = "live" needs {" and ".join(missing)}')
            if (self.client_secret is None) == (self.certificate_private_key is None):
                raise ValueError(
                    "give exactly one credential: client_secret, or certificate_private_key "
                    "(with certificate_thumbprint unless the PEM holds the certificate too)"
                )
            if self.certificate_thumbprint is not None and self.certificate_private_key is None:
                raise ValueError("certificate_thumbprint goes with certificate_private_key")
            self._same_cloud()
        self.check_mode()
        return self

    def _same_cloud(self) -> None:
        authority = urlsplit(self.authority_host).hostname or ""
        graph = urlsplit(self.graph_url).hostname or ""
        if authority in CLOUDS and graph in GRAPH_CLOUDS:
            cloud, graphs = CLOUDS[authority]
            if graph not in graphs:
                raise ValueError(
                    f"authority_host {authority} signs in to the {cloud} cloud, whose Graph is "
                    f"{' or '.join(graphs)}; graph_url {graph} is the {GRAPH_CLOUDS[graph]} "
                    "cloud's: set both for one cloud"
                )


# Microsoft Graph application permissions, the least privileged the documentation names for
# each call. AuditLog.Read.All is for sign-in activity and MFA registration; Domain.Read.All
# tells federated users (no password in Entra) apart. PIM's eligible role assignments need
# RoleEligibilitySchedule.Read.Directory, which RoleManagement.Read.Directory covers; its
# eligible group memberships need the last (both need Entra ID P2 or ID Governance).
COLLECT_PERMISSIONS = (
    "User.Read.All",
    "AuditLog.Read.All",
    "GroupMember.Read.All",
    "RoleManagement.Read.Directory",
    "Application.Read.All",
    "Domain.Read.All",
    "PrivilegedEligibilitySchedule.Read.AzureADGroup",
)
# Actions read the current state before changing it (that is what makes them idempotent),
# so the reads they use are listed with the writes.
APPLY_PERMISSIONS = (
    "User.Read.All",
    "User.EnableDisableAccount.All",
    "User.RevokeSessions.All",
    "GroupMember.Read.All",
    "GroupMember.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
)


@connector
class EntraConnector(Connector[EntraOptions]):
    """Users as accounts; groups, directory roles and app roles as entitlements."""

    options_model = EntraOptions
    permissions = Permissions(collect=COLLECT_PERMISSIONS, apply=APPLY_PERMISSIONS)
    capabilities = frozenset(
        {ActionKind.DISABLE_ACCOUNT, ActionKind.REVOKE_SESSIONS, ActionKind.REMOVE_GRANT}
    )

    def __init__(
        self,
        system: str,
        options: EntraOptions,
        *,
        clock: Callable[[], datetime] = utcnow,
        token_provider: Callable[[], str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``token_provider``: bearer tokens for Graph instead of MSAL's; ``sleep``: how to
        wait when Graph asks us to (a test records the waits instead)."""
        super().__init__(system, options, clock=clock)
        self._token_provider = token_provider
        self._sleep = sleep
        self._http: httpx.Client | None = None
        self._graph_client: GraphClient | None = None
        self._tokens: Callable[[], str] | None = None

    def __repr__(self) -> str:
        return f"EntraConnector(system={self.system!r}, mode={self.options.mode!r})"

    def close(self) -> None:
        """Close the HTTP connections (they are otherwise kept for the next call)."""
        if self._http is not None:
            self._http.close()
        self._http, self._graph_client, self._tokens = None, None, None

    # --- collect ------------------------------------------------------------------------

    def collect(self) -> SystemSnapshot:
        if self.options.mode == "export":
            return self._collect_export()
        collected_at = self.clock()
        if self.options.incremental:
            return self._collect_incrementally(collected_at)
        data = TenantData()
        self._patiently(LiveReader(self._graph(), data, self.system, pim=self.options.pim).read)
        return self._snapshot(data, "live", collected_at)

    def _collect_incrementally(self, collected_at: datetime) -> SystemSnapshot:
        """Users, groups and members from the changes since the baseline (``incremental``);
        a full read when there is none, or it cannot be trusted, and the snapshot says why."""
        options, graph, pim = self.options, self._graph(), self.options.pim
        identity = fingerprint(
            tenant_id=options.tenant_id,
            client_id=options.client_id,
            graph_url=options.graph_url,
            pim=pim,
        )
        read = IncrementalRead(
            store=BaselineStore(self.system, options, identity=identity),
            full=lambda: full_read(graph, self.system, pim=pim),
            changes=lambda data, cursor: read_changes(graph, self.system, data, cursor, pim=pim),
            read=read_baseline,
            write=write_baseline,
            complete=lambda data: data.complete,
            clock=self.clock,
        )
        outcomes: list[Outcome[TenantData]] = []
        self._patiently(lambda: outcomes.append(read.run()))
        outcome = outcomes[0]
        snapshot = self._snapshot(outcome.data, "live", collected_at)
        snapshot.settings["collect"] = outcome.settings()
        return snapshot

    def _patiently(self, read: Callable[[], None]) -> None:
        """Reads with the collect's own deadline and breaker. Giving up fails the system
        rather than keeping what was read: the lists not read yet hold most of the access
        (members, roles, app roles), and a mostly empty snapshot must never read as
        "everyone's access removed"; the previous snapshot stays the latest."""
        graph = self._graph()
        graph.begin(self.options.deadline_seconds)
        try:
            read()
        except GaveUp as exc:
            raise ConnectorError(
                f"{self.system}: Microsoft Graph at {self.options.graph_url}: {exc}; nothing "
                "of this collect is kept (the previous snapshot stays the latest)"
            ) from None

    def _collect_export(self) -> SystemSnapshot:
        folder, given = self.options.path, self.options.exported_at
        assert folder is not None
        data, files = read_export(folder, pim=self.options.pim)
        if files or given is not None:
            taken = export_time(given, files)
        else:  # never so far: users.json is always read
            taken = ExportTime(self.clock())
        if taken.guessed:
            data.note(str(folder), taken.guessed)
        return self._snapshot(data, f"export:{folder.name}", taken.at)

    def write_export(self, out: Path) -> ExportWritten:
        """Every Graph answer the live collect reads, every page of it, saved under the names
        the export mode reads; the options read it back as of the time it was read."""
        if self.options.mode == "export":
            raise ExportNotSupported(
                f"{self.system}: already reads an export ({self.options.path}); export needs "
                'mode = "live"'
            )
        collected_at = self.clock()
        data = TenantData()
        reader = LiveReader(
            self._graph(), data, self.system, keep_bodies=True, pim=self.options.pim
        )
        self._patiently(reader.read)
        files = write_bodies(out, reader.bodies)
        options = {
            "type": self.type_name,
            "mode": "export",
            "path": ".",
            "exported_at": collected_at,
        }
        return ExportWritten(
            files=tuple(files),
            options=options,
            problems=tuple(str(problem) for problem in data.problems),
        )

    def _snapshot(self, data: TenantData, source: str, collected_at: datetime) -> SystemSnapshot:
        builder = SnapshotBuilder(self.system, self.type_name, data)
        return builder.snapshot(source, collected_at)

    # --- config check --connect --------------------------------------------------------

    def check_access(self) -> list[AccessCheck]:
        """Signs in, then tries each permission of ``permissions.collect`` with one small
        read of its kind (``entra.access``), with the collect's deadline."""
        options = self.options
        if options.why_read_only() is not None:
            return []
        graph = self._graph()
        assert self._tokens is not None
        not_needed = {} if options.pim else {GROUP_PIM: "not used: pim = false"}
        checker = AccessChecker(
            graph,
            self._tokens,
            where=f"{self.system}: Microsoft Graph at {options.graph_url}",
            not_needed=not_needed,
        )
        graph.begin(options.deadline_seconds)
        try:
            return checker.run(self.permissions.collect)
        except GaveUp as exc:
            raise ConnectorError(
                f"{self.system}: Microsoft Graph at {options.graph_url}: {exc}"
            ) from None

    # --- apply --------------------------------------------------------------------------

    def carry_out(self, action: Action) -> ActionResult:
        graph = self._graph()
        graph.begin(self.options.deadline_seconds)
        try:
            return apply_action(graph, action)
        except GaveUp as exc:
            raise ConnectorError(f"{self.system}: Microsoft Graph: {exc}") from None

    # --- clients ------------------------------------------------------------------------

    def _graph(self) -> GraphClient:
        if self._graph_client is None:
            options = self.options
            self._http = http_client(options.timeout, options.ca_file)
            self._tokens = self._token_provider or self._msal_tokens(self._http)
            self._graph_client = GraphClient(
                self._http,
                options.graph_url,
                self._tokens,
                max_retries=options.max_retries,
                sleep=self._sleep,
                ca_setting=self._ca_setting(),
                where=f"{self.system}: Microsoft Graph",
            )
        return self._graph_client

    def _msal_tokens(self, http: httpx.Client) -> Callable[[], str]:
        options = self.options
        assert options.tenant_id is not None and options.client_id is not None
        secret_key = f"systems.{self.system}.client_secret"
        key_key = f"systems.{self.system}.certificate_private_key"

        def credential() -> str | dict[str, str]:
            if options.client_secret is not None:
                return options.client_secret.resolve(secret_key).get_secret_value()
            assert options.certificate_private_key is not None
            pem = options.certificate_private_key.resolve(key_key).get_secret_value()
            return certificate_credential(pem, options.certificate_thumbprint, key_key)

        def secret_text() -> list[str]:
            if options.client_secret is None:
                return []
            try:
                return [options.client_secret.resolve(secret_key).get_secret_value()]
            except ConfigError:
                return []

        return MsalTokenProvider(
            system=self.system,
            tenant_id=options.tenant_id,
            client_id=options.client_id,
            authority_host=options.authority_host,
            graph_url=options.graph_url,
            credential=credential,
            secret_text=secret_text,
            http=http,
            ca_setting=self._ca_setting(),
        )

    def _ca_setting(self) -> str:
        return f"systems.{self.system}.ca_file"
