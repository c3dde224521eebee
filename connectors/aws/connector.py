"""The AWS IAM connector: users, roles, groups and policies, live through boto3 or from the
files the AWS CLI writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, model_validator

from iam_gov.configtypes import RelPath
from iam_gov.connectors.aws.client import AWSClients
from iam_gov.connectors.aws.export import Collected, read_export
from iam_gov.connectors.aws.organization_export import (
    OrganizationCollected,
    read_organization_folder,
)
from iam_gov.connectors.aws.to_model import build_organization_snapshot, build_snapshot
from iam_gov.connectors.shared.options import LiveOrExportOptions
from iam_gov.connectors.shared.protocol import (
    AccessCheck,
    Connector,
    ExportNotSupported,
    ExportWritten,
    Permissions,
)
from iam_gov.connectors.shared.registry import connector
from iam_gov.gcpause import collector_paused
from iam_gov.model import (
    Action,
    ActionKind,
    ActionResult,
    SystemSnapshot,
    UTCDateTime,
)
from iam_gov.timeutil import utcnow

if TYPE_CHECKING:
    from boto3.session import Session
    from mypy_boto3_iam import IAMClient

    from iam_gov.connectors.aws.organization import ReadHook
    from iam_gov.connectors.aws.write_export import Written

# What only live mode, actions, `config check` and `export` use (the organization's reader,
# Identity Center's, the export writer, the access checks) is imported where it is used: an
# export-mode collect, what a scheduled run does, never needs it.


class AWSOptions(LiveOrExportOptions):
    """One AWS account. Credentials come only from boto3's own chain (environment, profile,
    instance role), never from these options."""

    type: Literal["aws"]
    # live
    profile: str | None = None
    region: str = "us-east-1"
    endpoint_url: str | None = None
    """Another IAM/STS endpoint, e.g. a local test server."""
    # ASCII classes, as IAM has them: a Unicode \d or \w repeated costs pydantic-core's regex
    # about 20 ms to compile, at every start of every command that reads the configuration
    role_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[^\s]+$"
    )
    """A role to assume for collection and actions."""
    access_advisor: bool = True
    """Collect each user's and role's service-last-accessed data (IAM Access Advisor: two
    calls per principal, run a few at a time); what the unused-privilege rule reads."""
    connect_timeout: float = Field(default=5.0, gt=0, le=120)
    """Seconds to open a connection to the endpoint."""
    read_timeout: float = Field(default=60.0, gt=0, le=900)
    """Seconds to wait for an answer once connected."""
    max_attempts: int = Field(default=4, ge=1, le=20)
    """Tries per call, the first included (botocore's adaptive retries: throttling, 5xx,
    connection errors)."""
    deadline_seconds: float = Field(default=1800.0, gt=0)
    """One collect's patience with the account: past it no call is made, and what is left
    is unknown. Also, after 3 calls in a row that cannot reach the endpoint, the collect
    stops asking and fails."""
    organization: bool = False
    """Read the whole AWS Organization the credential can see (the management account, or a
    delegated administrator): every account, its OU, the service control policies."""
    member_role_name: str = Field(default="iam-gov-read", pattern=r"^[A-Za-z0-9_+=,.@/-]{1,64}$")
    """The read-only role assumed in every member account
    (``arn:<partition>:iam::<id>:role/<name>``); the credential's own account is read
    with the credential itself."""
    external_id: str | None = Field(default=None, min_length=2, max_length=1224)
    """The ``sts:ExternalId`` the member role's trust policy asks for."""
    max_concurrent_accounts: int = Field(default=4, ge=1, le=16)
    """Accounts read at once."""
    identity_center: bool = True
    """With ``organization``: read IAM Identity Center (permission sets, assignments, the
    Identity Store's users and groups)."""
    identity_center_region: str | None = None
    """Where Identity Center lives; default: ``region``."""
    # export
    organization_folder: RelPath | None = None
    """A folder holding an organization as the AWS CLI wrote it (``organizations/``,
    ``accounts/<id>/``, optionally ``identity-center/``): see the README."""
    authorization_details: RelPath | None = None
    """Output of ``aws iam get-account-authorization-details``."""
    credential_report: RelPath | None = None
    """Decoded CSV, or the JSON of ``aws iam get-credential-report``. Optional: without it
    users' passwords, access keys and MFA are unknown (and said to be)."""
    password_policy: RelPath | None = None
    """Output of ``aws iam get-account-password-policy``; ``null`` when there is none."""
    service_last_accessed: RelPath | None = None
    """A folder of ``aws iam get-service-last-accessed-details`` outputs, one per principal:
    ``user/<UserName>.json`` and ``role/<RoleName>.json``."""
    exported_at: UTCDateTime | None = None
    """When the export was taken. Default: the report's GeneratedTime, else the file's mtime."""
    # both
    employee_id_tag: str = Field(default="employee_id", min_length=1)
    email_tag: str = Field(default="email", min_length=1)

    live_only: ClassVar[tuple[str, ...]] = (
        "profile",
        "region",
        "endpoint_url",
        "role_arn",
        "access_advisor",
        "connect_timeout",
        "read_timeout",
        "max_attempts",
        "deadline_seconds",
        "organization",
        "member_role_name",
        "external_id",
        "max_concurrent_accounts",
        "identity_center",
        "identity_center_region",
    )
    export_only: ClassVar[tuple[str, ...]] = (
        "organization_folder",
        "authorization_details",
        "credential_report",
        "password_policy",
        "service_last_accessed",
        "exported_at",
    )

    @model_validator(mode="after")
    def _fits_mode(self) -> AWSOptions:
        if self.mode == "export" and self.organization_folder is not None:
            per_account = [
                name
                for name in (
                    "authorization_details",
                    "credential_report",
                    "password_policy",
                    "service_last_accessed",
                )
                if getattr(self, name) is not None
            ]
            if per_account:
                raise ValueError(
                    f"organization_folder excludes {', '.join(per_account)}: each account's "
                    "files are in the folder's accounts/<account id>/"
                )
        elif self.mode == "export" and self.authorization_details is None:
            raise ValueError(
                'mode = "export" needs authorization_details (the output of `aws iam '
                "get-account-authorization-details`) or organization_folder"
            )
        self.check_mode()
        return self


COLLECT_PERMISSIONS = (
    "sts:GetCallerIdentity",
    "iam:GetAccountAuthorizationDetails",
    "iam:GenerateCredentialReport",
    "iam:GetCredentialReport",
    "iam:GetAccountPasswordPolicy",
    # for users created after the credential report was generated
    "iam:GetLoginProfile",
    "iam:ListAccessKeys",
    "iam:GetAccessKeyLastUsed",
    "iam:ListMFADevices",
    # Access Advisor (access_advisor = true): "Generate" starts a read-only report job
    "iam:GenerateServiceLastAccessedDetails",
    "iam:GetServiceLastAccessedDetails",
    # only with role_arn; granted to the base credential, not to the role
    "sts:AssumeRole",
)
# Actions read the current state before changing it (that is what makes them idempotent),
# so the reads they use are listed with the writes.
APPLY_PERMISSIONS = (
    "iam:GetLoginProfile",
    "iam:DeleteLoginProfile",
    "iam:ListAccessKeys",
    "iam:UpdateAccessKey",
    "iam:GetCredentialReport",
    "iam:ListGroupsForUser",
    "iam:RemoveUserFromGroup",
    "iam:ListAttachedUserPolicies",
    "iam:DetachUserPolicy",
    "iam:ListUserPolicies",
    "iam:DeleteUserPolicy",
    "iam:ListAttachedGroupPolicies",
    "iam:ListAttachedRolePolicies",
    "iam:DetachRolePolicy",
    "iam:ListRolePolicies",
    "iam:DeleteRolePolicy",
    "sts:AssumeRole",
)


@connector
class AWSConnector(Connector[AWSOptions]):
    """IAM users and roles as accounts; groups, managed and inline policies as entitlements."""

    options_model = AWSOptions
    permissions = Permissions(collect=COLLECT_PERMISSIONS, apply=APPLY_PERMISSIONS)
    capabilities = frozenset(
        {ActionKind.DISABLE_ACCOUNT, ActionKind.REMOVE_GRANT, ActionKind.DEACTIVATE_CREDENTIAL}
    )

    def __init__(
        self,
        system: str,
        options: AWSOptions,
        *,
        clock: Callable[[], datetime] = utcnow,
        session: Session | None = None,
    ) -> None:
        """``session``: a boto3 session to use instead of one built from ``profile``."""
        super().__init__(system, options, clock=clock)
        self._clients = AWSClients(
            system,
            profile=options.profile,
            region=options.region,
            endpoint_url=options.endpoint_url,
            role_arn=options.role_arn,
            session=session,
            connect_timeout=options.connect_timeout,
            read_timeout=options.read_timeout,
            max_attempts=options.max_attempts,
            deadline_seconds=options.deadline_seconds,
        )

    def collect(self) -> SystemSnapshot:
        options = self.options
        if options.mode == "export" and options.organization_folder is not None:
            return build_organization_snapshot(
                read_organization_folder(
                    options.organization_folder, exported_at=options.exported_at
                ),
                **self._model_args(),
            )
        if options.mode == "live" and options.organization:
            self._clients.start()
            return build_organization_snapshot(
                self._read_organization(self.clock()), **self._model_args()
            )
        if options.mode == "export":
            assert options.authorization_details is not None
            with collector_paused():
                collected = read_export(
                    options.authorization_details,
                    options.credential_report,
                    password_policy=options.password_policy,
                    service_last_accessed=options.service_last_accessed,
                    exported_at=options.exported_at,
                )
                return self._snapshot(collected)
        else:
            from iam_gov.connectors.aws.live import read_account

            collected_at = self.clock()
            patience = self._clients.start()
            iam, sts = self._clients.get()
            collected = read_account(
                iam,
                sts,
                system=self.system,
                access_advisor=options.access_advisor,
                collected_at=collected_at,
                patience=patience,
            )
        return self._snapshot(collected)

    def _snapshot(self, collected: Collected) -> SystemSnapshot:
        return build_snapshot(
            collected,
            type_name=self.type_name,
            system=self.system,
            email_tag=self.options.email_tag,
            employee_id_tag=self.options.employee_id_tag,
        )

    def _model_args(self) -> dict[str, str]:
        return {
            "type_name": self.type_name,
            "system": self.system,
            "email_tag": self.options.email_tag,
            "employee_id_tag": self.options.employee_id_tag,
        }

    def _read_organization(
        self, collected_at: datetime, hook: ReadHook | None = None
    ) -> OrganizationCollected:
        from iam_gov.connectors.aws.organization import read_organization

        options = self.options
        return read_organization(
            self._clients,
            system=self.system,
            member_role_name=options.member_role_name,
            external_id=options.external_id,
            max_concurrent_accounts=options.max_concurrent_accounts,
            access_advisor=options.access_advisor,
            collected_at=collected_at,
            identity_center=options.identity_center,
            identity_center_region=options.identity_center_region or options.region,
            hook=hook,
        )

    def _write_organization(self, out: Path) -> ExportWritten:
        from iam_gov.connectors.aws.write_export import Answers, write_organization

        options = self.options
        collected_at = self.clock()
        self._clients.start()
        answers: dict[str, Answers] = {}

        def keep(account_id: str, iam: IAMClient, read: Callable[[], Collected]) -> Collected:
            with Answers(iam) as kept:
                answers[account_id] = kept
                return read()

        collected = self._read_organization(collected_at, keep)
        written = write_organization(out, collected, answers, access_advisor=options.access_advisor)
        return self._exported(written, collected_at)

    def _exported(self, written: Written, collected_at: datetime) -> ExportWritten:
        """What an export wrote, with the table that reads it back (``mode = "export"``)."""
        options = self.options
        table = {
            "type": self.type_name,
            "mode": "export",
            **written.options,
            "exported_at": collected_at.isoformat(),
            "employee_id_tag": options.employee_id_tag,
            "email_tag": options.email_tag,
        }
        return ExportWritten(
            files=tuple(written.files), options=table, problems=tuple(written.problems)
        )

    def write_export(self, out: Path) -> ExportWritten:
        """What a collect reads, in the files the AWS CLI writes, which ``mode = "export"``
        reads back into the same snapshot."""
        options = self.options
        if options.mode == "export":
            raise ExportNotSupported(
                f"{self.system}: the aws connector already reads an export "
                f"({options.authorization_details or options.organization_folder}); export "
                "with the live options"
            )
        if options.organization:
            return self._write_organization(out)
        from iam_gov.connectors.aws.live import read_account
        from iam_gov.connectors.aws.write_export import Answers, write_account

        collected_at = self.clock()
        patience = self._clients.start()
        iam, sts = self._clients.get()
        with Answers(iam) as answers:
            collected = read_account(
                iam,
                sts,
                system=self.system,
                access_advisor=options.access_advisor,
                collected_at=collected_at,
                patience=patience,
            )
        written = write_account(out, collected, answers, access_advisor=options.access_advisor)
        return self._exported(written, collected_at)

    def check_access(self) -> list[AccessCheck]:
        """Sign in as a collect does (the role assumed, then ``sts:GetCallerIdentity``;
        ``ConnectorError`` when AWS cannot be reached or refuses the keys), then one small
        read per IAM action: MaxItems=1 where the call pages, and a user, key or job that does
        not exist where the call needs one and the account has none, which IAM answers
        NoSuchEntity once it has allowed the call. ``iam:GenerateCredentialReport`` is not
        tried: it starts a report job (see ``connectors.aws.access``). With ``organization``,
        then Organizations' reads, and in every member account the member role assumed (with
        the external id) and the same reads through it, each account that refuses named."""
        options = self.options
        if options.mode == "export":
            return []
        from iam_gov.connectors.aws.access import check_account, check_organization

        self._clients.start()
        iam, sts = self._clients.get()
        checks = check_account(
            iam,
            sts,
            system=self.system,
            permissions=self.permissions.collect,
            role_arn=options.role_arn,
            access_advisor=options.access_advisor,
        )
        if not options.organization:
            return checks
        return checks + check_organization(
            self._clients,
            sts,
            system=self.system,
            member_role_name=options.member_role_name,
            external_id=options.external_id,
            max_concurrent_accounts=options.max_concurrent_accounts,
            access_advisor=options.access_advisor,
            # the member role is assumed, never assumes another
            member_permissions=[p for p in self.permissions.collect if p != "sts:AssumeRole"],
        )

    def carry_out(self, action: Action) -> ActionResult:
        from iam_gov.connectors.aws.actions import apply_action

        self._clients.start()
        iam, _ = self._clients.get()
        return apply_action(iam, action)
