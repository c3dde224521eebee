"""The Microsoft Entra ID connector: users, groups, directory roles and app roles, live through
MSAL and Microsoft Graph, or from the Graph JSON that `az rest` and Graph Explorer save."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, model_validator

from iam_gov.configtypes import RelPath, SecretRef
from iam_gov.connectors.entra.export import (
    DOMAINS,
    REGISTRATION_DETAILS,
    USERS,
    TenantData,
    newest_mtime,
    read_export,
)
from iam_gov.connectors.entra.to_model import Mapper
from iam_gov.connectors.shared.protocol import Connector, ConnectorOptions, Permissions
from iam_gov.connectors.shared.registry import connector
from iam_gov.errors import ConfigError, ConnectorError
from iam_gov.model import (
    Action,
    ActionKind,
    ActionOutcome,
    ActionResult,
    SystemSnapshot,
    UTCDateTime,
)
from iam_gov.timeutil import utcnow

if TYPE_CHECKING:
    import httpx

    from iam_gov.connectors.entra.client import GraphClient

_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_HTTPS_ROOT = r"^https://[A-Za-z0-9.\-\[\]:]+/?$"


class EntraOptions(ConnectorOptions):
    """One Entra tenant, read through an app registration's own credential (client credentials:
    a client secret, or a certificate), or from a folder of saved Graph answers."""

    type: Literal["entra"]
    mode: Literal["live", "export"]
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

    @model_validator(mode="after")
    def _fits_mode(self) -> EntraOptions:
        if self.mode == "export":
            if self.path is None:
                raise ValueError('mode = "export" needs path (the folder of saved Graph JSON)')
            misplaced = [n for n in _LIVE_ONLY if n in self.model_fields_set]
            wanted = "live"
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
            misplaced = [n for n in _EXPORT_ONLY if getattr(self, n) is not None]
            wanted = "export"
        if misplaced:
            raise ValueError(f'{", ".join(misplaced)} only apply to mode = "{wanted}"')
        return self


_LIVE_ONLY = (
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
_EXPORT_ONLY = ("path", "exported_at")

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

    options_model: ClassVar[type[ConnectorOptions]] = EntraOptions
    permissions: ClassVar[Permissions] = Permissions(
        collect=COLLECT_PERMISSIONS, apply=APPLY_PERMISSIONS
    )
    capabilities: ClassVar[frozenset[ActionKind]] = frozenset(
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
        return self._collect_live()

    def _collect_export(self) -> SystemSnapshot:
        folder = self.options.path
        assert folder is not None
        data, files = read_export(folder)
        if not data.sign_in_activity:
            data.note(
                str(folder / USERS),
                "no signInActivity in the export (it needs Entra ID P1 and $select="
                "signInActivity): last sign-in is unknown for every user",
            )
        _note_missing_reports(data, folder)
        exported_at = self.options.exported_at
        if exported_at is None:
            exported_at = newest_mtime(folder, files) or self.clock()
            data.note(
                str(folder),
                f"exported_at not given: taken to be the newest file's modification time, "
                f"{exported_at:%Y-%m-%d %H:%M} UTC",
            )
        return Mapper(self.system, data).snapshot(f"export:{folder.name}", exported_at)

    def _collect_live(self) -> SystemSnapshot:
        from iam_gov.connectors.entra.live import LiveReader

        collected_at = self.clock()
        data = TenantData()
        LiveReader(self._graph(), data, self.system).read()
        return Mapper(self.system, data).snapshot("live", collected_at)

    # --- apply --------------------------------------------------------------------------

    def apply(self, action: Action) -> ActionResult:
        from iam_gov.connectors.entra.actions import apply_action

        if action.kind not in self.capabilities:
            return super().apply(action)
        if action.system != self.system:
            return _failed(action, f"this connector serves system {self.system!r}")
        if self.options.mode != "live":
            return _failed(action, 'an export cannot be changed: actions need mode = "live"')
        try:
            return apply_action(self._graph(), action)
        except (ConnectorError, ConfigError) as exc:
            return _failed(action, str(exc))

    # --- clients ------------------------------------------------------------------------

    def _graph(self) -> GraphClient:
        if self._graph_client is None:
            import httpx

            from iam_gov.connectors.entra.client import GraphClient

            options = self.options
            # trust_env: the CA bundle (SSL_CERT_FILE) and proxy of the environment apply,
            # as they do for every other tool on a machine behind a TLS-inspecting proxy.
            self._http = httpx.Client(
                timeout=httpx.Timeout(options.timeout),
                headers={"User-Agent": "iam-gov"},
                follow_redirects=False,
            )
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
        from iam_gov.connectors.entra.client import MsalTokenProvider

        options = self.options
        assert options.tenant_id is not None and options.client_id is not None
        secret_key = f"systems.{self.system}.client_secret"
        key_key = f"systems.{self.system}.certificate_private_key"

        def credential() -> str | dict[str, str]:
            if options.client_secret is not None:
                return options.client_secret.resolve(secret_key).get_secret_value()
            assert options.certificate_private_key is not None
            pem = options.certificate_private_key.resolve(key_key).get_secret_value()
            return _certificate_credential(pem, options.certificate_thumbprint, key_key)

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


# Unencrypted keys only: the keyring or the environment is what protects it.
_PEM_KEY = re.compile(
    r"-----BEGIN (?:RSA |EC )?PRIVATE KEY-----.+?-----END (?:RSA |EC )?PRIVATE KEY-----",
    re.DOTALL,
)
_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def _certificate_credential(pem: str, thumbprint: str | None, key: str) -> dict[str, str]:
    private_key = _PEM_KEY.search(pem)
    if private_key is None:
        raise ConfigError(f"{key}: holds no unencrypted PEM private key")
    credential = {"private_key": private_key.group(0)}
    certificate = _PEM_CERT.search(pem)
    if thumbprint is not None:
        credential["thumbprint"] = thumbprint
    elif certificate is not None:
        # MSAL then signs with the certificate's SHA-256 thumbprint (x5t#S256) and sends x5c.
        credential["public_certificate"] = certificate.group(0)
    else:
        raise ConfigError(
            f"{key}: holds only a private key: add its certificate to the PEM, or give "
            "certificate_thumbprint"
        )
    return credential


def _failed(action: Action, message: str) -> ActionResult:
    return ActionResult(action=action, outcome=ActionOutcome.FAILED, message=message)


def _note_missing_reports(data: TenantData, folder: Path) -> None:
    if data.registrations is None:
        data.note(
            str(folder / REGISTRATION_DETAILS),
            "no such file: MFA registration is unknown, so no account is taken to lack MFA",
        )
    if data.domains is None:
        data.note(
            str(folder / DOMAINS),
            "no such file: users of federated domains are taken to have a password in Entra",
        )
