"""Builders for the analysis of an AWS Organization: IAM principals of several accounts and
service control policies, in the shape the AWS connector gives an organization snapshot
(the organization contract), built by hand.

The organization ``o-abc123``: root ``r-ab12``; the management account 111111111111 right
under it; OU ``Workloads`` holding ``prod`` (222222222222) and ``dev`` (333333333333); and
``legacy`` (444444444444), a member that was not collected. ``FullAWSAccess`` is attached at
every level unless ``full_access=False``. 999999999999 is outside.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from iam_gov.aws_policy import AwsAccount
from iam_gov.engine.state import SystemView
from iam_gov.model import Account, AccountKind, AccountStatus, Entitlement, Grant, PolicyDocument
from tests.support.aws_account import ADMINISTRATOR_ACCESS, AwsWorld, allow, document
from tests.support.world import days_ago

SYSTEM = "aws"
ORG = "o-abc123"
ROOT = "r-ab12"
OU = "ou-ab12-workload"
MANAGEMENT, PROD, DEV, LEGACY = "111111111111", "222222222222", "333333333333", "444444444444"
OUTSIDE = "999999999999"
NAMES = {MANAGEMENT: "management", PROD: "prod", DEV: "dev", LEGACY: "legacy"}
FULL_ACCESS = (
    f"arn:aws:organizations::{MANAGEMENT}:policy/{ORG}/service_control_policy/p-FullAWSAccess"
)
Json = dict[str, Any]


def iam(account: str, kind: str, name: str, path: str = "/") -> str:
    """``arn:aws:iam::222222222222:role/deployer``."""
    return f"arn:aws:iam::{account}:{kind}{path}{name}"


def root_of(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def scp_arn(name: str) -> str:
    return f"arn:aws:organizations::{MANAGEMENT}:policy/{ORG}/service_control_policy/p-{name}"


@dataclass
class Org:
    """An organization snapshot, principal by principal."""

    organization: bool = True
    """False: the same principals as one snapshot without ``settings["organization"]``."""
    full_access: bool = True
    accounts: list[Account] = field(default_factory=list)
    entitlements: list[Entitlement] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    documents: list[PolicyDocument] = field(default_factory=list)
    targets: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.full_access:
            self.scp("FullAWSAccess", document(allow("*")), ROOT, OU, MANAGEMENT, PROD, DEV)

    # --- building -----------------------------------------------------------------------

    def _principal(self, arn: str, name: str, kind: str, attributes: dict[str, str]) -> None:
        account_id = arn.split(":")[4]
        self.accounts.append(
            Account(
                system=SYSTEM,
                native_id=arn,
                login=name,
                status=AccountStatus.ACTIVE,
                kind=AccountKind.HUMAN if kind == "user" else AccountKind.SERVICE,
                created_at=days_ago(400),
                attributes={
                    "principal_type": kind,
                    "aws_account_id": account_id,
                    "aws_account_name": NAMES.get(account_id, account_id),
                    **attributes,
                },
            )
        )

    def _inline(self, owner: str, policies: dict[str, Json]) -> None:
        for name, body in policies.items():
            doc_id = f"{owner}#inline/{name}"
            self.entitlements.append(
                Entitlement(system=SYSTEM, entitlement_id=doc_id, name=name, kind="inline-policy")
            )
            self.grants.append(Grant(system=SYSTEM, account_id=owner, entitlement_id=doc_id))
            self.documents.append(
                PolicyDocument(
                    system=SYSTEM,
                    document_id=doc_id,
                    name=name,
                    kind="inline-policy",
                    document=body,
                )
            )

    def user(
        self, account: str, name: str, tags: dict[str, str] | None = None, **policies: Json
    ) -> str:
        """An IAM user with inline policies (name → document)."""
        arn = iam(account, "user", name)
        extra = {} if tags is None else {"tags": json.dumps(tags)}
        self._principal(arn, name, "user", extra)
        self._inline(arn, policies)
        return arn

    def role(self, account: str, name: str, trusts: Json, path: str = "/", **policies: Json) -> str:
        """An IAM role with its trust policy and inline policies."""
        arn = iam(account, "role", name, path)
        self._principal(arn, name, "role", {})
        self._inline(arn, policies)
        self.documents.append(
            PolicyDocument(
                system=SYSTEM,
                document_id=f"{arn}#trust",
                name=name,
                kind="trust-policy",
                document=trusts,
            )
        )
        return arn

    def admin_role(self, account: str, name: str, trusts: Json, path: str = "/") -> str:
        return self.role(account, name, trusts, path, admin=ADMINISTRATOR_ACCESS)

    def root(self, account: str) -> str:
        arn = root_of(account)
        self._principal(arn, "<root_account>", "root", {})
        return arn

    def scp(self, name: str, body: Json, *targets: str) -> str:
        """A service control policy attached to the root, OUs or accounts given."""
        arn = FULL_ACCESS if name == "FullAWSAccess" else scp_arn(name)
        self.documents.append(
            PolicyDocument(system=SYSTEM, document_id=arn, name=name, kind="scp", document=body)
        )
        for target in targets:
            self.targets.setdefault(target, []).append(arn)
        return arn

    # --- reading it back -------------------------------------------------------------------

    def settings(self) -> Json:
        if not self.organization:
            return {"account_id": PROD}
        members = {
            MANAGEMENT: [ROOT],
            PROD: [OU, ROOT],
            DEV: [OU, ROOT],
            LEGACY: [ROOT],
        }
        accounts = {
            account: {
                "name": NAMES[account],
                "email": f"{NAMES[account]}@example.com",
                "status": "ACTIVE",
                "parents": parents,
                **({"collected": False} if account == LEGACY else {}),
            }
            for account, parents in members.items()
        }
        return {
            "account_id": MANAGEMENT,
            "organization_id": ORG,
            "organization": {
                "id": ORG,
                "management_account_id": MANAGEMENT,
                "root_id": ROOT,
                "accounts": accounts,
                "units": {OU: {"name": "Workloads", "parent": ROOT}},
                "scp_targets": {k: list(v) for k, v in self.targets.items()},
                "scp_enabled": True,
            },
        }

    def world(self, policy_yaml: str = "version: 1\n", **world: Any) -> AwsWorld:
        return AwsWorld(
            policy_yaml=policy_yaml,
            accounts=list(self.accounts),
            entitlements=list(self.entitlements),
            grants=list(self.grants),
            documents=list(self.documents),
            settings={SYSTEM: self.settings()},
            **world,
        )

    def view(self) -> SystemView:
        return self.world().state().systems[SYSTEM]

    def analysis(self) -> AwsAccount:
        return AwsAccount.from_view(self.view())
