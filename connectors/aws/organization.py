"""Reading a live AWS Organization: Organizations (the organization, its root, the OU tree,
the accounts, the service control policies with content and targets), then every account's
IAM through ``live.read_account``, a few accounts at a time. The credential's own account is
read with it; every other account through a read-only role assumed in it (with an external
id). One account that cannot be read (the role refused, throttled out, gone) is uncollected,
said so; the others are still read."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from iam_gov import progress
from iam_gov.connectors.aws.client import AWSClients, aws_failures, describe_aws_error, watch
from iam_gov.connectors.aws.export import Collected
from iam_gov.connectors.aws.identity_center import read_identity_center_live
from iam_gov.connectors.aws.live import read_account
from iam_gov.connectors.aws.organization_export import (
    SCP_TYPE,
    Organization,
    OrganizationCollected,
    account_error,
    parse_policy_content,
)
from iam_gov.errors import ConnectorError, SourceError
from iam_gov.model import SnapshotError
from iam_gov.retrying import Patience
from iam_gov.timeutil import as_utc

if TYPE_CHECKING:
    from boto3.session import Session as Boto3Session
    from botocore.credentials import Credentials
    from botocore.session import Session as BotocoreSession
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_sts import STSClient

ORGANIZATION_PERMISSIONS = (
    "organizations:DescribeOrganization",
    "organizations:ListRoots",
    "organizations:ListAccounts",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListAccountsForParent",
    "organizations:ListPolicies",
    "organizations:DescribePolicy",
    "organizations:ListTargetsForPolicy",
)
_SESSION_SECONDS = 3600

ReadHook = Callable[[str, "IAMClient", Callable[[], Collected]], Collected]
"""How one account's read is run: given its id, its IAM client and the read itself (the
export wraps it to keep AWS's own answers)."""


def read_organization(
    clients: AWSClients,
    *,
    system: str,
    member_role_name: str,
    external_id: str | None,
    max_concurrent_accounts: int,
    access_advisor: bool,
    collected_at: datetime,
    identity_center: bool,
    identity_center_region: str,
    hook: ReadHook | None = None,
) -> OrganizationCollected:
    """The organization and every account. ``ConnectorError`` when Organizations cannot be
    read (not the management account or a delegated administrator, AWS unreachable)."""
    iam, sts = clients.get()
    failures = aws_failures()
    try:
        caller = sts.get_caller_identity()
        own_account, partition = caller["Account"], caller["Arn"].split(":")[1]
    except failures as exc:
        raise ConnectorError(
            f"{system}: cannot reach AWS: {describe_aws_error(exc, 'sts:GetCallerIdentity')}"
        ) from None
    organization = read_structure(clients.client("organizations"), system)
    names = organization.account_names()

    def one(account_id: str) -> Collected | SnapshotError:
        name = names[account_id]
        try:
            if account_id == own_account:
                account = MemberClients(iam, sts, clients.patience)
            else:
                account = member_clients(
                    clients,
                    sts,
                    member_role_arn(partition, account_id, member_role_name),
                    external_id,
                )

            def read() -> Collected:
                return read_account(
                    account.iam,
                    account.sts,
                    system=system,
                    access_advisor=access_advisor,
                    collected_at=collected_at,
                    patience=account.patience,
                )

            return read() if hook is None else hook(account_id, account.iam, read)
        except MemberRoleRefused as exc:
            return account_error(account_id, name, str(exc))
        except ConnectorError as exc:
            return account_error(account_id, name, str(exc).removeprefix(f"{system}: "))
        except failures as exc:
            return account_error(account_id, name, describe_aws_error(exc))

    ids = list(names)
    progress.total(len(ids), "accounts")
    with ThreadPoolExecutor(max_workers=max(1, min(max_concurrent_accounts, 16))) as pool:
        read = progress.counting(pool.map(progress.carried(one), ids))
        results = dict(zip(ids, read, strict=True))
    found_ic: Any = None
    errors: list[SnapshotError] = []
    if identity_center:
        session, config = clients.service_session()
        found_ic = read_identity_center_live(
            session, region=identity_center_region, endpoint_url=clients.endpoint_url, config=config
        )
        if isinstance(found_ic, SnapshotError):
            errors.append(found_ic)
            found_ic = None
    return OrganizationCollected(
        organization=organization,
        accounts=results,
        source="live",
        collected_at=collected_at,
        identity_center=found_ic,
        errors=errors,
    )


class MemberRoleRefused(Exception):
    """The member role could not be assumed (refused, or STS not answering): the account
    cannot be read. Raised by the first AssumeRole, and by a renewal that fails when the
    credentials are about to expire."""


@dataclass(frozen=True)
class MemberClients:
    """One account's IAM and STS clients, and its own patience: a deadline and a circuit
    breaker per account, so that a member that hangs or cannot be reached ends as
    uncollected without holding up, or counting against, the others."""

    iam: IAMClient
    sts: STSClient
    patience: Patience


def member_role_arn(partition: str, account_id: str, role_name: str) -> str:
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"


def member_clients(
    clients: AWSClients, sts: STSClient, role_arn: str, external_id: str | None
) -> MemberClients:
    """IAM and STS clients in a member account, through its member role. The role's
    credentials last an hour; a large account's read (Access Advisor on thousands of
    principals) can take longer, so they are botocore's refreshable credentials: assumed
    again, with the same external id, when they are within minutes of expiring.
    ``MemberRoleRefused`` when the role cannot be assumed."""
    from botocore.credentials import RefreshableCredentials

    kwargs: dict[str, Any] = {
        "RoleArn": role_arn,
        "RoleSessionName": "iam-gov",
        "DurationSeconds": _SESSION_SECONDS,
    }
    if external_id is not None:
        kwargs["ExternalId"] = external_id

    def assume() -> dict[str, str]:
        try:
            credentials = sts.assume_role(**kwargs)["Credentials"]
        except aws_failures() as exc:
            raise MemberRoleRefused(
                f"cannot assume {role_arn}: {describe_aws_error(exc, 'sts:AssumeRole')}"
            ) from None
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": as_utc(credentials["Expiration"]).isoformat(),
        }

    renewed = RefreshableCredentials.create_from_metadata(
        assume(), refresh_using=assume, method="assume-role"
    )
    base, config = clients.service_session()
    session = _session_with(base, renewed)
    where: dict[str, Any] = {
        "region_name": clients.region,
        "endpoint_url": clients.endpoint_url,
        "config": config,
    }
    patience = Patience(deadline_seconds=clients.deadline_seconds)
    account_iam = cast("IAMClient", session.create_client("iam", **where))
    account_sts = cast("STSClient", session.create_client("sts", **where))
    for client in (account_iam, account_sts):
        watch(client, lambda: patience)
    return MemberClients(account_iam, account_sts, patience)


def _session_with(base: Boto3Session, credentials: Credentials) -> BotocoreSession:
    """A botocore session holding ``credentials``, sharing the collect's session's service
    models (loaded once, not once per account) and a copy of its event handlers (so what is
    registered on it, e.g. a test's hook at the wire, applies to every account's calls)."""
    import copy

    from botocore.credentials import CredentialProvider, CredentialResolver
    from botocore.session import Session

    class Given(CredentialProvider):
        """Hands out the credentials it was given."""

        METHOD = "iam-gov-member-role"
        CANONICAL_NAME = "custom-iam-gov-member-role"

        def load(self) -> Credentials:
            return credentials

    core = base._session  # boto3 names no public accessor for its botocore session
    session = Session(
        event_hooks=copy.copy(core.get_component("event_emitter")),
        include_builtin_handlers=False,
    )
    session.register_component("data_loader", core.get_component("data_loader"))
    session.register_component("credential_provider", CredentialResolver([Given()]))
    return session


def read_structure(organizations: Any, system: str) -> Organization:
    """Organizations' answers: the organization, roots, OU tree, accounts and SCPs. Any
    failure is a ``ConnectorError``: without the structure no account can be judged."""

    def pages(operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in organizations.get_paginator(operation).paginate(**kwargs):
            found.extend(page[key])
        return found

    try:
        described = organizations.describe_organization()["Organization"]
        roots = pages("list_roots", "Roots")
        accounts = pages("list_accounts", "Accounts")
        children: dict[str, dict[str, list[dict[str, Any]]]] = {}
        pending = [str(root["Id"]) for root in roots]
        while pending:
            parent = pending.pop(0)
            units = pages(
                "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent
            )
            members = pages("list_accounts_for_parent", "Accounts", ParentId=parent)
            children[parent] = {"OrganizationalUnits": units, "Accounts": members}
            pending.extend(str(unit["Id"]) for unit in units)
        policies = pages("list_policies", "Policies", Filter=SCP_TYPE)
        contents: dict[str, dict[str, Any]] = {}
        targets: dict[str, list[dict[str, Any]]] = {}
        for policy in policies:
            policy_id = str(policy["Id"])
            content = organizations.describe_policy(PolicyId=policy_id)["Policy"]["Content"]
            contents[policy_id] = parse_policy_content(
                content, f"organizations:DescribePolicy {policy_id}"
            )
            targets[policy_id] = pages("list_targets_for_policy", "Targets", PolicyId=policy_id)
    except aws_failures() as exc:
        raise ConnectorError(
            f"{system}: cannot read the organization: {describe_aws_error(exc)}"
        ) from None
    except SourceError as exc:
        raise ConnectorError(f"{system}: {exc}") from None
    return Organization(
        organization=_plain(described),
        roots=[_plain(r) for r in roots],
        accounts=[_plain(a) for a in accounts],
        children={
            parent: {key: [_plain(item) for item in items] for key, items in found.items()}
            for parent, found in children.items()
        },
        policies=[_plain(p) for p in policies],
        contents=contents,
        targets={k: [_plain(t) for t in v] for k, v in targets.items()},
    )


def _plain(value: Any) -> dict[str, Any]:
    """An answer without boto3's metadata, its times as ISO text (what the CLI prints)."""
    from iam_gov.timeutil import as_utc

    def clean(item: Any) -> Any:
        if isinstance(item, datetime):
            return as_utc(item).isoformat()
        if isinstance(item, dict):
            return {k: clean(v) for k, v in item.items() if k != "ResponseMetadata"}
        if isinstance(item, list):
            return [clean(v) for v in item]
        return item

    result = clean(value)
    assert isinstance(result, dict)
    return result
