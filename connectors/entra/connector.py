"""The Microsoft Entra ID connector: users, groups, directory roles and app roles, live through
MSAL and Microsoft Graph, or from the Graph JSON that `az rest` and Graph Explorer save."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, model_validator

from iam_gov.configtypes import RelPath, SecretRef
from iam_gov.connectors.entra.actions import apply_action
from iam_gov.connectors.entra.client import (
    GraphClient,
    MsalTokenProvider,
    certificate_credential,
    http_client,
)
from iam_gov.connectors.entra.export import read_export
from iam_gov.connectors.entra.live import LiveReader
from iam_gov.connectors.entra.records import TenantData
from iam_gov.connectors.entra.to_model import SnapshotBuilder
from iam_gov.connectors.entra.write_export import write_bodies
from iam_gov.connectors.shared.export_time import ExportTime, export_time
from iam_gov.connectors.shared.options import LiveOrExportOptions
from iam_gov.connectors.shared.protocol import (
    Connector,
    ExportNotSupported,
    ExportWritten,
    Permissions,
)
from iam_gov.connectors.shared.registry import connector
from iam_gov.errors import ConfigError
from iam_gov.model import (
    Action,
    ActionKind,
    ActionResult,
    SystemSnapshot,
    UTCDateTime,
)
from iam_gov.timeutil import utcnow

if TYPE_CHECKING:
    import httpx

_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_HTTPS_ROOT = r"^https://[A-Za-z0-9.\-\[\]:]+/?$"


class EntraOptions(LiveOrExportOptions):
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
    authority_host: str = Field(default="https://login.microsoftonline.com", pattern=_HTTPS_ROOT)
    graph_url: str = Field(default="https://graph.microsoft.com", pattern=_HTTPS_ROOT)
    timeout: float = Field(default=30.0, gt=0, le=600)
    """Seconds to wait for one answer."""
    max_retries: int = Field(default=5, ge=0, le=20)
    """Retries of one call that was throttled (429) or met a busy service (503, 504)."""
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
        "timeout",
        "max_retries",
    )
    export_only: ClassVar[tuple[str, ...]] = ("path", "exported_at")

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
        self.check_mode()
        return self


# Microsoft Graph application permissions, the least privileged the documentation names for
# each call. AuditLog.Read.All is for sign-in activity and MFA registration; Domain.Read.All
# tells federated users (no password in Entra) apart.
COLLECT_PERMISSIONS = (
    "User.Read.All",
    "AuditLog.Read.All",
    "GroupMember.Read.All",
    "RoleManagement.Read.Directory",
    "Application.Read.All",
    "Domain.Read.All",
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

    def __repr__(self) -> str:
        return f"EntraConnector(system={self.system!r}, mode={self.options.mode!r})"

    def close(self) -> None:
        """Close the HTTP connections (they are otherwise kept for the next call)."""
        if self._http is not None:
            self._http.close()
        self._http, self._graph_client = None, None

    # --- collect ------------------------------------------------------------------------

    def collect(self) -> SystemSnapshot:
        if self.options.mode == "export":
            return self._collect_export()
        collected_at = self.clock()
        data = TenantData()
        LiveReader(self._graph(), data, self.system).read()
        return self._snapshot(data, "live", collected_at)

    def _collect_export(self) -> SystemSnapshot:
        folder, given = self.options.path, self.options.exported_at
        assert folder is not None
        data, files = read_export(folder)
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
        reader = LiveReader(self._graph(), data, self.system, keep_bodies=True)
        reader.read()
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

    # --- apply --------------------------------------------------------------------------

    def carry_out(self, action: Action) -> ActionResult:
        return apply_action(self._graph(), action)

    # --- clients ------------------------------------------------------------------------

    def _graph(self) -> GraphClient:
        if self._graph_client is None:
            options = self.options
            self._http = http_client(options.timeout)
            token = self._token_provider or self._msal_tokens(self._http)
            self._graph_client = GraphClient(
                self._http,
                options.graph_url,
                token,
                max_retries=options.max_retries,
                sleep=self._sleep,
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
        )
