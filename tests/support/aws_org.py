"""Builders for AWS Organization tests: one snapshot of several accounts with IAM Identity
Center, built by hand in the shape the connector returns (docs: the organization contract).

``Org`` holds accounts ``management`` (111111111111), ``prod`` (222222222222) and ``dev``
(333333333333). Add IAM roles and users to an account, Identity Store users and groups,
permission sets, and assign a permission set in an account to users and groups: the
assignment adds the ``permission-set`` entitlement (``<ps arn>@<account>``), the grants
(group members' through the group) and, in a collected account, the ``AWSReservedSSO_*``
role Identity Center provisions, tied to it. ``snapshot()`` is the ``SystemSnapshot``;
``world(people=…)`` the ``AwsWorld`` rules and ``explain`` run on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from iam_gov.model import (
    Account,
    AccountKind,
    AccountStatus,
    Entitlement,
    Grant,
    PolicyDocument,
    SnapshotError,
    SystemSnapshot,
)
from tests.support.aws_account import ADMINISTRATOR_ACCESS, AwsWorld, document, trust
from tests.support.world import AS_OF, days_ago

SYSTEM = "aws"
ORG_ID = "o-abc123"
ROOT_ID = "r-ab12"
WORKLOADS_OU = "ou-ab12-workload"
MANAGEMENT, PROD, DEV = "111111111111", "222222222222", "333333333333"
ACCOUNT_NAMES = {MANAGEMENT: "management", PROD: "prod", DEV: "dev"}
IDENTITY_STORE = "d-9067a1b2c3"
INSTANCE_ARN = "arn:aws:sso:::instance/ssoins-72230a1b2c3d4e5f"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
SSO_PATH = "/aws-reserved/sso.amazonaws.com/"
Json = dict[str, Any]

FULL_AWS_ACCESS = (
    f"arn:aws:organizations::{MANAGEMENT}:policy/{ORG_ID}/service_control_policy/p-FullAWSAccess"
)
"""The SCP AWS attaches to the root, every OU and every account by default."""
READ_ONLY_ACCESS = document({"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"})
_AWS_MANAGED = {ADMIN_POLICY: ADMINISTRATOR_ACCESS, READ_ONLY_POLICY: READ_ONLY_ACCESS}


def _hex16(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:16]


def reserved_role_name(permission_set_name: str, account_id: str) -> str:
    """``AWSReservedSSO_<name>_<16 hex>``, as Identity Center names the role it provisions."""
    return f"AWSReservedSSO_{permission_set_name}_{_hex16(permission_set_name, account_id)}"


def role_arn(account_id: str, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{account_id}:role{path}{name}"


@dataclass
class Org:
    """An AWS Organization with Identity Center, as one snapshot (see the module's text)."""

    names: dict[str, str] = field(default_factory=lambda: dict(ACCOUNT_NAMES))
    """Account id -> its name in Organizations."""
    uncollected: set[str] = field(default_factory=set)
    """Accounts whose IAM could not be read: listed in the organization, no principals,
    the snapshot incomplete."""
    accounts: list[Account] = field(default_factory=list)
    entitlements: dict[str, Entitlement] = field(default_factory=dict)
    grants: list[Grant] = field(default_factory=list)
    documents: dict[str, PolicyDocument] = field(default_factory=dict)
    _members: dict[str, list[str]] = field(default_factory=dict)
    _sets: dict[str, Json] = field(default_factory=dict)

    # --- IAM, per account -----------------------------------------------------------------

    def managed(self, policy_arn: str, body: Json | None = None) -> str:
        """A managed policy (AWS-managed ones shared by every account); its ARN. The two
        AWS-managed policies this module knows need no body."""
        if policy_arn not in self.entitlements:
            body = body if body is not None else _AWS_MANAGED[policy_arn]
            name = policy_arn.rsplit("/", 1)[-1]
            self.entitlements[policy_arn] = Entitlement(
                system=SYSTEM,
                entitlement_id=policy_arn,
                name=name,
                kind="policy",
                privileged=policy_arn == ADMIN_POLICY,
            )
            self.documents[policy_arn] = PolicyDocument(
                system=SYSTEM,
                document_id=policy_arn,
                name=name,
                kind="managed-policy",
                document=body,
            )
        return policy_arn

    def _iam_attributes(self, account_id: str, **more: str) -> dict[str, str]:
        return {
            "tags": "{}",
            "aws_account_id": account_id,
            "aws_account_name": self.names.get(account_id, account_id),
            **more,
        }

    def role(
        self,
        account_id: str,
        name: str,
        *,
        policies: Sequence[str] = (),
        path: str = "/",
        trust_policy: Json | None = None,
        created: datetime | None = None,
        last_used: datetime | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> Account:
        """An IAM role in an account (a collected one: roles of uncollected accounts are not
        in the snapshot), with managed policies attached."""
        assert account_id not in self.uncollected, "an uncollected account has no principals"
        arn = role_arn(account_id, name, path)
        role = Account(
            system=SYSTEM,
            native_id=arn,
            login=name,
            status=AccountStatus.ACTIVE,
            kind=AccountKind.SERVICE,
            created_at=created or days_ago(400),
            last_login_at=last_used,
            attributes=self._iam_attributes(
                account_id,
                principal_type="role",
                path=path,
                role_id=f"AROA{_hex16(arn).upper()}",
                **(attributes or {}),
            ),
        )
        self.accounts.append(role)
        for policy in policies:
            self.grants.append(_grant(arn, self.managed(policy)))
        self.documents[f"{arn}#trust"] = PolicyDocument(
            system=SYSTEM,
            document_id=f"{arn}#trust",
            name=name,
            kind="trust-policy",
            document=trust_policy or trust(service="ec2.amazonaws.com"),
        )
        return role

    def user(
        self, account_id: str, name: str, *, email: str | None = None, policies: Sequence[str] = ()
    ) -> Account:
        """An IAM user in an account, with managed policies attached."""
        assert account_id not in self.uncollected, "an uncollected account has no principals"
        arn = f"arn:aws:iam::{account_id}:user/{name}"
        user = Account(
            system=SYSTEM,
            native_id=arn,
            login=name,
            email=email,
            status=AccountStatus.ACTIVE,
            created_at=days_ago(400),
            mfa_factors=("mfa",),
            attributes=self._iam_attributes(
                account_id, principal_type="user", path="/", user_id=f"AIDA{_hex16(arn).upper()}"
            ),
        )
        self.accounts.append(user)
        self.grants.extend(_grant(arn, self.managed(p)) for p in policies)
        return user

    # --- Identity Center ------------------------------------------------------------------

    def sso_user(
        self,
        user_name: str,
        *,
        email: str | None = None,
        display_name: str | None = None,
        external_ids: Sequence[tuple[str, str]] = (),
    ) -> Account:
        """An Identity Store user; ``external_ids`` as (issuer, id) pairs."""
        user_id = f"9067{_hex16(user_name)}"
        user = Account(
            system=SYSTEM,
            native_id=f"identitystore:{IDENTITY_STORE}:user/{user_id}",
            login=user_name,
            email=email,
            display_name=display_name,
            status=AccountStatus.ACTIVE,
            kind=AccountKind.HUMAN,
            attributes={
                "principal_type": "sso-user",
                "identity_store_id": IDENTITY_STORE,
                "user_id": user_id,
                "external_ids": json.dumps([{"Issuer": i, "Id": v} for i, v in external_ids]),
            },
        )
        self.accounts.append(user)
        return user

    def sso_group(self, name: str, members: Sequence[Account] = ()) -> str:
        """An Identity Store group and its members; its entitlement id."""
        group_id = f"identitystore:{IDENTITY_STORE}:group/{_hex16('group', name)}"
        self.entitlements[group_id] = Entitlement(
            system=SYSTEM, entitlement_id=group_id, name=name, kind="sso-group"
        )
        self._members[group_id] = [m.native_id for m in members]
        self.grants.extend(_grant(m.native_id, group_id) for m in members)
        return group_id

    def permission_set(
        self,
        name: str,
        *,
        managed: Sequence[str] = (),
        inline: Json | None = None,
        description: str | None = None,
    ) -> str:
        """A permission set (not yet assigned anywhere); its ARN."""
        arn = f"arn:aws:sso:::permissionSet/{INSTANCE_ARN.rsplit('/', 1)[-1]}/ps-{_hex16(name)}"
        self._sets[arn] = {
            "Name": name,
            "Description": description,
            "SessionDuration": "PT8H",
            "ManagedPolicies": list(managed),
            "InlinePolicy": inline,
            "CustomerManagedPolicies": [],
            "PermissionsBoundary": None,
            "Assignments": [],
        }
        for policy in managed:
            self.managed(policy)
        return arn

    def assign(
        self,
        permission_set: str,
        account_id: str,
        *,
        users: Sequence[Account] = (),
        groups: Sequence[str] = (),
        role_last_used: datetime | None = None,
        role_created: datetime | None = None,
    ) -> str:
        """Assign a permission set in an account to users and groups; the entitlement id
        (``<ps arn>@<account>``). In a collected account, the ``AWSReservedSSO_*`` role is
        provisioned (once), last used at ``role_last_used`` (None: never)."""
        spec = self._sets[permission_set]
        entitlement_id = f"{permission_set}@{account_id}"
        inline = spec["InlinePolicy"]
        if entitlement_id not in self.entitlements:
            self.entitlements[entitlement_id] = Entitlement(
                system=SYSTEM,
                entitlement_id=entitlement_id,
                name=f"{spec['Name']} in {self.names.get(account_id, account_id)}",
                kind="permission-set",
                privileged=ADMIN_POLICY in spec["ManagedPolicies"]
                or inline == ADMINISTRATOR_ACCESS,
                description=spec["Description"],
            )
            if account_id not in self.uncollected:
                self.role(
                    account_id,
                    reserved_role_name(spec["Name"], account_id),
                    policies=spec["ManagedPolicies"],
                    path=SSO_PATH,
                    trust_policy=trust(f"arn:aws:iam::{account_id}:saml-provider/AWSSSO"),
                    created=role_created,
                    last_used=role_last_used,
                    attributes={
                        "permission_set": permission_set,
                        "permission_set_entitlement": entitlement_id,
                    },
                )
        for user in users:
            spec["Assignments"].append(
                {"AccountId": account_id, "PrincipalType": "USER", "PrincipalId": user.native_id}
            )
            self.grants.append(_grant(user.native_id, entitlement_id))
        for group in groups:
            spec["Assignments"].append(
                {"AccountId": account_id, "PrincipalType": "GROUP", "PrincipalId": group}
            )
            self.grants.extend(
                _grant(member, entitlement_id, via=group) for member in self._members[group]
            )
        return entitlement_id

    # --- the snapshot ---------------------------------------------------------------------

    def settings(self) -> Json:
        accounts = {
            account_id: {
                "name": name,
                "email": f"aws+{name}@example.com",
                "status": "ACTIVE",
                "parents": [ROOT_ID] if account_id == MANAGEMENT else [WORKLOADS_OU, ROOT_ID],
                **({"collected": False} if account_id in self.uncollected else {}),
            }
            for account_id, name in self.names.items()
        }
        return {
            "account_id": MANAGEMENT,
            "organization_id": ORG_ID,
            "organization": {
                "id": ORG_ID,
                "management_account_id": MANAGEMENT,
                "root_id": ROOT_ID,
                "accounts": accounts,
                "units": {WORKLOADS_OU: {"name": "Workloads", "parent": ROOT_ID}},
                "scp_targets": {
                    target: [FULL_AWS_ACCESS] for target in [ROOT_ID, WORKLOADS_OU, *self.names]
                },
                "scp_enabled": True,
            },
            "identity_center": {
                "instance_arn": INSTANCE_ARN,
                "identity_store_id": IDENTITY_STORE,
                "region": "eu-west-1",
            },
        }

    def all_documents(self) -> list[PolicyDocument]:
        sets = [
            PolicyDocument(
                system=SYSTEM,
                document_id=arn,
                name=spec["Name"],
                kind="permission-set",
                document=spec,
            )
            for arn, spec in self._sets.items()
        ]
        scp = PolicyDocument(
            system=SYSTEM,
            document_id=FULL_AWS_ACCESS,
            name="FullAWSAccess",
            kind="scp",
            document=ADMINISTRATOR_ACCESS,
        )
        return [*self.documents.values(), *sets, scp]

    def errors(self) -> tuple[SnapshotError, ...]:
        return tuple(
            SnapshotError(
                source=f"account {account_id} ({self.names[account_id]})",
                message="AssumeRole refused: AccessDenied",
                consequence=f"IAM of account {self.names[account_id]} unknown",
            )
            for account_id in sorted(self.uncollected)
        )

    def snapshot(self) -> SystemSnapshot:
        return SystemSnapshot(
            system=SYSTEM,
            connector="aws",
            source="test",
            collected_at=AS_OF,
            complete=not self.uncollected,
            errors=self.errors(),
            accounts=tuple(self.accounts),
            entitlements=tuple(self.entitlements.values()),
            grants=tuple(self.grants),
            documents=tuple(self.all_documents()),
            settings=self.settings(),
        )

    def world(self, policy_yaml: str = "version: 1\n", **world: Any) -> AwsWorld:
        """The world rules and ``explain`` evaluate: this organization, and whatever else is
        given (``people=[…]``, more ``accounts`` of other systems …)."""
        extra_accounts = world.pop("accounts", [])
        settings = {SYSTEM: self.settings(), **world.pop("settings", {})}
        return AwsWorld(
            policy_yaml=policy_yaml,
            accounts=[*self.accounts, *extra_accounts],
            entitlements=[*self.entitlements.values(), *world.pop("entitlements", [])],
            grants=[*self.grants, *world.pop("grants", [])],
            documents=self.all_documents(),
            settings=settings,
            incomplete_systems={SYSTEM} if self.uncollected else set(),
            **world,
        )


def _grant(account_id: str, entitlement_id: str, via: str | None = None) -> Grant:
    return Grant(system=SYSTEM, account_id=account_id, entitlement_id=entitlement_id, via=via)
