"""IAM Identity Center as the AWS CLI's own outputs in one folder (``identity-center/``), read
and written. A damaged file stops the read (``SourceError`` naming it); a file that is missing
or empty (the CLI printed nothing: the call failed) is a part left unread, said as a problem."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from iam_gov.connectors.aws.identity_center_model import IdentityCenter, PermissionSetRecord
from iam_gov.connectors.shared.files import BadFile, json_documents, read_source_text
from iam_gov.files import make_private_folders, write_atomically
from iam_gov.model import SnapshotError

INSTANCES = "list-instances.json"
PERMISSION_SETS = "list-permission-sets.json"
DESCRIBE = "describe-permission-set.json"
MANAGED = "list-managed-policies-in-permission-set.json"
INLINE = "get-inline-policy-for-permission-set.json"
CUSTOMER_MANAGED = "list-customer-managed-policy-references-in-permission-set.json"
BOUNDARY = "get-permissions-boundary-for-permission-set.json"
ACCOUNTS = "list-accounts-for-provisioned-permission-set.json"
"""Optional: when present, every account it names must have its assignments file."""
USERS = "identitystore/list-users.json"
GROUPS = "identitystore/list-groups.json"
MEMBERSHIPS = "identitystore/memberships"
_ACCOUNT_FILE = re.compile(r"^(\d{12})\.json$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
"""A group id or permission set id, safe as a file name (never a path)."""
_REQUIRED = {
    "Users": ("UserId",),
    "Groups": ("GroupId",),
    "GroupMemberships": ("GroupId",),
    "AccountAssignments": ("AccountId", "PrincipalType", "PrincipalId"),
    "AttachedManagedPolicies": ("Arn",),
    "CustomerManagedPolicyReferences": ("Name",),
}


def read_identity_center_export(folder: Path) -> IdentityCenter:
    """The ``identity-center/`` folder of an organization's export."""
    reader = _Files(folder)
    instances = reader.items(INSTANCES, "Instances", "aws sso-admin list-instances", must=True)
    if not instances:
        return IdentityCenter(instance=None, errors=reader.errors)
    instance = instances[0]
    if not isinstance(instance, dict) or not all(
        isinstance(instance.get(k), str) for k in ("InstanceArn", "IdentityStoreId")
    ):
        raise BadFile(folder / INSTANCES, "Instances[0] has no InstanceArn and IdentityStoreId")
    # The region is iam-gov's note beside the CLI's answer (which does not say it).
    region = _region(instance)
    instance = {k: v for k, v in instance.items() if k != "Region"}
    ic = IdentityCenter(instance=instance, region=region, errors=reader.errors)
    ic.users = reader.items(USERS, "Users", "aws identitystore list-users")
    ic.groups = reader.items(GROUPS, "Groups", "aws identitystore list-groups")
    for group in ic.groups or []:
        gid = _safe(str(group["GroupId"]), folder / GROUPS, "GroupId")
        found = reader.items(
            f"{MEMBERSHIPS}/{gid}.json",
            "GroupMemberships",
            "aws identitystore list-group-memberships",
        )
        if found is not None:
            ic.memberships[gid] = found
    listed = reader.items(PERMISSION_SETS, "PermissionSets", "aws sso-admin list-permission-sets")
    if listed is not None:
        if not all(isinstance(arn, str) and "/ps-" in arn for arn in listed):
            raise BadFile(folder / PERMISSION_SETS, "PermissionSets holds a non-ARN")
        for arn in listed:
            _safe(arn.rsplit("/", 1)[-1], folder / PERMISSION_SETS, "permission set id")
        ic.permission_sets = [_permission_set(reader, arn) for arn in listed]
    return ic


def _safe(name: str, path: Path, what: str) -> str:
    """``name``, refused unless it is one plain file name."""
    if not _FILE_NAME.match(name) or name.startswith(".."):
        raise BadFile(path, f"{what} {name[:60]!r} cannot name a file of the export")
    return name


def _region(instance: Mapping[str, Any]) -> str | None:
    region = instance.get("Region")
    return region if isinstance(region, str) else None


def _permission_set(reader: _Files, arn: str) -> PermissionSetRecord:
    record = PermissionSetRecord(arn=arn)
    here = f"permission-sets/{record.ps_id}"
    described = reader.document(f"{here}/{DESCRIBE}", "aws sso-admin describe-permission-set")
    if described is not None:
        found = described.get("PermissionSet")
        if not isinstance(found, dict) or found.get("PermissionSetArn", arn) != arn:
            raise BadFile(reader.folder / here / DESCRIBE, f"no PermissionSet {arn}")
        record.described = found
    record.managed_policies = reader.items(
        f"{here}/{MANAGED}", "AttachedManagedPolicies", "list-managed-policies-in-permission-set"
    )
    inline = reader.document(f"{here}/{INLINE}", "get-inline-policy-for-permission-set")
    if inline is not None:
        text = inline.get("InlinePolicy", "")
        if not isinstance(text, str):
            raise BadFile(reader.folder / here / INLINE, "InlinePolicy is not text")
        record.inline_policy = text
    record.customer_managed = reader.items(
        f"{here}/{CUSTOMER_MANAGED}",
        "CustomerManagedPolicyReferences",
        "list-customer-managed-policy-references-in-permission-set",
    )
    boundary_path = reader.folder / here / BOUNDARY
    if boundary_path.exists():
        boundary = reader.document(f"{here}/{BOUNDARY}", "get-permissions-boundary")
        if boundary is not None:
            found = boundary.get("PermissionsBoundary")
            if not isinstance(found, dict):
                raise BadFile(boundary_path, "PermissionsBoundary is not an object")
            record.boundary, record.boundary_read = found, True
    else:
        record.boundary_read = True  # absent: it has none
    assignments = reader.folder / here / "assignments"
    if (reader.folder / here / ACCOUNTS).exists():
        accounts = reader.items(f"{here}/{ACCOUNTS}", "AccountIds", "list-accounts-for-...")
        record.accounts = None if accounts is None else [str(a) for a in accounts]
        for account_id in record.accounts or []:
            if not _ACCOUNT_ID.match(account_id):
                raise BadFile(reader.folder / here / ACCOUNTS, f"{account_id!r} is no account id")
        expected = record.accounts or []
    else:
        # Without the list, the assignment files found are the accounts.
        files = sorted(assignments.iterdir()) if assignments.is_dir() else []
        expected = [m[1] for f in files if (m := _ACCOUNT_FILE.match(f.name))]
        record.accounts = expected
    for account_id in expected:
        found = reader.items(
            f"{here}/assignments/{account_id}.json",
            "AccountAssignments",
            "aws sso-admin list-account-assignments",
        )
        if found is not None:
            record.assignments[account_id] = found
    return record


class _Files:
    """Reads the folder's files; notes the missing and empty ones as parts left unread."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.errors: list[SnapshotError] = []

    def document(self, name: str, what: str, *, must: bool = False) -> dict[str, Any] | None:
        """The file's one JSON object; ``None`` (and a problem) when it is missing or empty."""
        path = self.folder / name
        if not path.exists() and not must:
            self._unread(path, "no such file")
            return None
        text = read_source_text(path, f"the output of {what}")
        if not text.strip():
            self._unread(path, "empty: the call that writes it failed")
            return None
        documents = json_documents(text, path)
        merged: dict[str, Any] = {}
        for document in documents:
            if not isinstance(document, dict):
                raise BadFile(path, f"not the output of {what} (not a JSON object)")
            for key, value in document.items():
                if key in merged and isinstance(value, list) and isinstance(merged[key], list):
                    merged[key] = merged[key] + value  # pages saved one after the other
                elif key != "NextToken":
                    merged[key] = value
        if documents and isinstance(documents[-1], dict) and documents[-1].get("NextToken"):
            raise BadFile(path, "ends with a NextToken: the output is cut short")
        return merged

    def items(self, name: str, key: str, what: str, *, must: bool = False) -> list[Any] | None:
        document = self.document(name, what, must=must)
        if document is None:
            return None
        found = document.get(key)
        if not isinstance(found, list):
            raise BadFile(self.folder / name, f"{key} is missing or not a list")
        for index, item in enumerate(found):
            required = _REQUIRED.get(key, ())
            if required and (
                not isinstance(item, dict)
                or not all(isinstance(item.get(k), str) for k in required)
            ):
                raise BadFile(self.folder / name, f"{key}[{index}] has no {', '.join(required)}")
        return found

    def _unread(self, path: Path, why: str) -> None:
        self.errors.append(
            SnapshotError(
                source=str(path),
                message=why,
                consequence="what that file would say of Identity Center is unknown",
            )
        )


def write_identity_center_export(ic: IdentityCenter, folder: Path) -> list[Path]:
    """``ic`` as the CLI's outputs in ``folder`` (the export's ``identity-center/``); the files
    written, relative to it. A part that was not read is written as an empty file, so that
    reading it back is incomplete too."""
    written: list[Path] = []

    def _write(path: Path, document: Mapping[str, Any] | None) -> None:
        _write_file(path, document)
        written.append(path.relative_to(folder))

    if ic.instance is None:
        _write(folder / INSTANCES, {"Instances": []})
        return written
    instance = dict(ic.instance)
    if ic.region and "Region" not in instance:
        instance["Region"] = ic.region  # kept so that settings say the region offline too
    _write(folder / INSTANCES, {"Instances": [instance]})
    _write(folder / USERS, None if ic.users is None else {"Users": ic.users})
    _write(folder / GROUPS, None if ic.groups is None else {"Groups": ic.groups})
    for group in ic.groups or []:
        gid = _safe(str(group["GroupId"]), folder / GROUPS, "GroupId")
        found = ic.memberships.get(gid)
        _write(
            folder / MEMBERSHIPS / f"{gid}.json",
            None if found is None else {"GroupMemberships": found},
        )
    if ic.permission_sets is None:
        _write(folder / PERMISSION_SETS, None)
        return written
    _write(folder / PERMISSION_SETS, {"PermissionSets": [p.arn for p in ic.permission_sets]})
    for record in ic.permission_sets:
        here = folder / "permission-sets" / _safe(record.ps_id, folder, "permission set id")
        described = record.described
        _write(here / DESCRIBE, None if described is None else {"PermissionSet": described})
        managed = record.managed_policies
        _write(here / MANAGED, None if managed is None else {"AttachedManagedPolicies": managed})
        inline = record.inline_policy
        _write(here / INLINE, None if inline is None else {"InlinePolicy": inline})
        refs = record.customer_managed
        _write(
            here / CUSTOMER_MANAGED,
            None if refs is None else {"CustomerManagedPolicyReferences": refs},
        )
        if not record.boundary_read:
            _write(here / BOUNDARY, None)
        elif record.boundary is not None:
            _write(here / BOUNDARY, {"PermissionsBoundary": record.boundary})
        accounts = record.accounts
        _write(here / ACCOUNTS, None if accounts is None else {"AccountIds": accounts})
        for account_id in accounts or []:
            if not _ACCOUNT_ID.match(account_id):
                raise BadFile(here / ACCOUNTS, f"{account_id!r} is no account id")
            found = record.assignments.get(account_id)
            _write(
                here / "assignments" / f"{account_id}.json",
                None if found is None else {"AccountAssignments": found},
            )
    return written


def _write_file(path: Path, document: Mapping[str, Any] | None) -> None:
    make_private_folders(path.parent)
    text = "" if document is None else json.dumps(document, indent=4, sort_keys=True) + "\n"
    write_atomically(path, text, "Identity Center export file")
