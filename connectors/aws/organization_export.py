"""An AWS Organization as Organizations describes it (the organization, its root, the OU tree,
the accounts, the service control policies with their content and targets), the same records
live or from the folder the AWS CLI's outputs were saved in; and that folder read, every
account's own export in it. An account listed without its folder is uncollected (said so),
never an empty account."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from iam_gov.connectors.aws.export import Collected, _read_text, read_export
from iam_gov.connectors.aws.identity_center import read_identity_center_export
from iam_gov.connectors.shared.files import json_documents
from iam_gov.errors import SourceError
from iam_gov.model import PolicyDocument, SnapshotError

SCP_TYPE = "SERVICE_CONTROL_POLICY"
SCP_KIND = "scp"
ACCOUNT_UNCOLLECTED = (
    "the account's users, roles and policies are unknown (not absent): rules do not conclude "
    "about them"
)

# The folder's layout (the contract of every reader and writer of it).
ORGANIZATIONS = "organizations"
DESCRIBE_ORGANIZATION = f"{ORGANIZATIONS}/describe-organization.json"
LIST_ROOTS = f"{ORGANIZATIONS}/list-roots.json"
LIST_ACCOUNTS = f"{ORGANIZATIONS}/list-accounts.json"
CHILDREN = f"{ORGANIZATIONS}/children"
LIST_POLICIES = f"{ORGANIZATIONS}/list-policies-scp.json"
POLICIES = f"{ORGANIZATIONS}/policies"
TARGETS = f"{ORGANIZATIONS}/targets"
ACCOUNTS = "accounts"
IDENTITY_CENTER = "identity-center"
ACCOUNT_DETAILS = "authorization-details.json"
ACCOUNT_REPORT = ("credential-report.csv", "credential-report.json")
ACCOUNT_PASSWORD_POLICY = "password-policy.json"
ACCOUNT_LAST_ACCESSED = "service-last-accessed"


@dataclass
class Organization:
    """Organizations' answers, as the API returns them (pages merged)."""

    organization: dict[str, Any]
    """``describe-organization``'s ``Organization``."""
    roots: list[dict[str, Any]]
    accounts: list[dict[str, Any]]
    children: dict[str, dict[str, list[dict[str, Any]]]]
    """Parent id -> ``{"OrganizationalUnits": [...], "Accounts": [...]}``."""
    policies: list[dict[str, Any]]
    """``list-policies --filter SERVICE_CONTROL_POLICY``'s ``Policies``."""
    contents: dict[str, dict[str, Any]]
    """Policy id -> the policy's parsed JSON content."""
    targets: dict[str, list[dict[str, Any]]]
    """Policy id -> ``list-targets-for-policy``'s ``Targets``."""

    @property
    def management_account_id(self) -> str:
        return str(self.organization.get("MasterAccountId") or "")

    def account_names(self) -> dict[str, str]:
        return {str(a["Id"]): str(a.get("Name") or a["Id"]) for a in self.accounts}

    def parents(self) -> dict[str, str]:
        """Each OU's and account's parent id."""
        found: dict[str, str] = {}
        for parent, children in self.children.items():
            for child in (*children.get("OrganizationalUnits", ()), *children.get("Accounts", ())):
                found[str(child["Id"])] = parent
        return found

    def settings(self, collected: Mapping[str, bool]) -> dict[str, Any]:
        """``settings["organization"]``; ``collected``: whether each account was read."""
        parent_of = self.parents()
        root_id = str(self.roots[0]["Id"]) if self.roots else ""

        def path(node: str) -> list[str]:
            chain: list[str] = []
            while node in parent_of and len(chain) < 64:  # an OU tree is at most 5 deep
                node = parent_of[node]
                chain.append(node)
            return chain

        accounts = {
            str(a["Id"]): {
                "name": str(a.get("Name") or a["Id"]),
                "email": a.get("Email"),
                "status": a.get("Status"),
                "parents": path(str(a["Id"])),
                "collected": collected.get(str(a["Id"]), False),
            }
            for a in self.accounts
        }
        units = {
            str(ou["Id"]): {"name": ou.get("Name"), "parent": parent}
            for parent, children in self.children.items()
            for ou in children.get("OrganizationalUnits", ())
        }
        arns = {str(p["Id"]): str(p["Arn"]) for p in self.policies}
        scp_targets: dict[str, list[str]] = {}
        for policy_id, targets in self.targets.items():
            for target in targets:
                scp_targets.setdefault(str(target["TargetId"]), []).append(arns[policy_id])
        enabled = any(
            t.get("Type") == SCP_TYPE and t.get("Status") == "ENABLED"
            for root in self.roots
            for t in root.get("PolicyTypes", ())
        )
        return {
            "id": self.organization.get("Id"),
            "management_account_id": self.management_account_id,
            "root_id": root_id,
            "accounts": accounts,
            "units": units,
            "scp_targets": {k: sorted(v) for k, v in sorted(scp_targets.items())},
            "scp_enabled": enabled,
        }

    def scp_documents(self, system: str) -> list[PolicyDocument]:
        return [
            PolicyDocument(
                system=system,
                document_id=str(policy["Arn"]),
                name=str(policy.get("Name") or policy["Id"]),
                kind=SCP_KIND,
                document=self.contents[str(policy["Id"])],
            )
            for policy in self.policies
            if str(policy["Id"]) in self.contents
        ]


@dataclass
class OrganizationCollected:
    """What was read of an organization: its structure, and each account (read, or why not)."""

    organization: Organization
    accounts: dict[str, Collected | SnapshotError]
    """By account id, in ``list-accounts`` order."""
    source: str
    collected_at: datetime
    identity_center: Any = None
    """Identity Center as ``identity_center.read_identity_center_*`` gave it, or None."""
    errors: list[SnapshotError] = field(default_factory=list)


def account_error(account_id: str, name: str, message: str) -> SnapshotError:
    return SnapshotError(
        source=f"account {account_id} ({name})", message=message, consequence=ACCOUNT_UNCOLLECTED
    )


def parse_policy_content(content: object, where: str) -> dict[str, Any]:
    """A service control policy's ``Content`` (JSON text) parsed; ``SourceError`` otherwise."""
    if isinstance(content, dict):
        return content
    try:
        parsed = json.loads(str(content))
    except json.JSONDecodeError as exc:
        raise SourceError(f"{where}: Content is not a JSON policy ({exc.msg})") from None
    if not isinstance(parsed, dict):
        raise SourceError(f"{where}: Content is not a JSON policy object")
    return parsed


# --- the folder ----------------------------------------------------------------------------


def _json(path: Path, key: str | None = None, kind: type = dict) -> Any:
    """One CLI output file (pages printed one after the other are merged on ``key``)."""
    documents = json_documents(_read_text(path), path)
    if key is None:
        if len(documents) != 1 or not isinstance(documents[0], dict):
            raise SourceError(f"{path}: expected one JSON object")
        return documents[0]
    merged: list[Any] = []
    for document in documents:
        if not isinstance(document, dict) or not isinstance(document.get(key), kind):
            raise SourceError(f"{path}: no {key} {'list' if kind is list else 'object'} in it")
        value = document[key]
        if kind is dict:
            return value
        merged.extend(value)
    return merged


def _required(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise SourceError(f"{path}: missing (the organization export needs it)")
    return path


def read_organization_files(folder: Path) -> Organization:
    """The ``organizations/`` part of the folder; ``SourceError`` naming a missing or
    damaged file."""
    organization = _json(_required(folder, DESCRIBE_ORGANIZATION), "Organization")
    roots = _json(_required(folder, LIST_ROOTS), "Roots", list)
    accounts = _json(_required(folder, LIST_ACCOUNTS), "Accounts", list)
    for index, account in enumerate(accounts):
        if not isinstance(account, dict) or not str(account.get("Id", "")).isdigit():
            raise SourceError(f"{folder / LIST_ACCOUNTS}: Accounts[{index}] has no account Id")
    children: dict[str, dict[str, list[dict[str, Any]]]] = {}
    pending = [str(root["Id"]) for root in roots]
    while pending:
        parent = pending.pop(0)
        path = _required(folder, f"{CHILDREN}/{parent}.json")
        documents = json_documents(_read_text(path), path)
        found: dict[str, list[dict[str, Any]]] = {"OrganizationalUnits": [], "Accounts": []}
        for document in documents:
            if not isinstance(document, dict) or not (found.keys() & document.keys()):
                raise SourceError(f"{path}: no OrganizationalUnits or Accounts list in it")
            for key in found:
                items = document.get(key, [])
                if not isinstance(items, list):
                    raise SourceError(f"{path}: {key} is not a list")
                found[key].extend(items)
        children[parent] = found
        pending.extend(str(ou["Id"]) for ou in found["OrganizationalUnits"])
    policies = _json(_required(folder, LIST_POLICIES), "Policies", list)
    contents: dict[str, dict[str, Any]] = {}
    targets: dict[str, list[dict[str, Any]]] = {}
    for policy in policies:
        policy_id = str(policy["Id"])
        path = _required(folder, f"{POLICIES}/{policy_id}.json")
        described = _json(path, "Policy")
        contents[policy_id] = parse_policy_content(described.get("Content"), str(path))
        targets[policy_id] = _json(
            _required(folder, f"{TARGETS}/{policy_id}.json"), "Targets", list
        )
    return Organization(organization, roots, accounts, children, policies, contents, targets)


def read_organization_folder(
    folder: Path, *, exported_at: datetime | None
) -> OrganizationCollected:
    """The whole folder: Organizations, then each listed account's own export. A damaged file
    is a ``SourceError`` naming it; an account without its folder is uncollected."""
    if not folder.is_dir():
        raise SourceError(f"{folder}: organization_folder is not a folder")
    organization = read_organization_files(folder)
    names = organization.account_names()
    accounts: dict[str, Collected | SnapshotError] = {}
    for account_id, name in names.items():
        where = folder / ACCOUNTS / account_id
        if not (where / ACCOUNT_DETAILS).is_file():
            accounts[account_id] = account_error(
                account_id,
                name,
                f"{where / ACCOUNT_DETAILS} is missing: the account was not exported",
            )
            continue
        report = next((where / n for n in ACCOUNT_REPORT if (where / n).is_file()), None)
        policy = where / ACCOUNT_PASSWORD_POLICY
        advisor = where / ACCOUNT_LAST_ACCESSED
        accounts[account_id] = read_export(
            where / ACCOUNT_DETAILS,
            report,
            password_policy=policy if policy.is_file() else None,
            service_last_accessed=advisor if advisor.is_dir() else None,
            exported_at=exported_at,
        )
    times = [c.collected_at for c in accounts.values() if isinstance(c, Collected)]
    collected_at = exported_at or (min(times) if times else None)
    if collected_at is None:
        from iam_gov.connectors.shared.export_time import export_time

        collected_at = export_time(None, [folder / LIST_ACCOUNTS]).at
    identity_center = None
    if (folder / IDENTITY_CENTER).is_dir():
        identity_center = read_identity_center_export(folder / IDENTITY_CENTER)
    return OrganizationCollected(
        organization=organization,
        accounts=accounts,
        source=f"export:{folder.name}/",
        collected_at=collected_at,
        identity_center=identity_center,
    )
