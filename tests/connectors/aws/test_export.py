"""AWS export mode on files as the CLI writes them, and as users get them wrong."""

from __future__ import annotations

import base64
import csv
import io
import json
import string
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iam_gov.connectors.aws.connector import AWSConnector, AWSOptions
from iam_gov.connectors.aws.export import parse_credential_report
from iam_gov.errors import SourceError
from iam_gov.model import AccountKind, AccountStatus, SystemSnapshot

from .conftest import DAVE, MotoAccount, _create_dave, _credential_names, _dave

ACCOUNT = "210987654321"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ZOE = f"arn:aws:iam::{ACCOUNT}:user/zoe"
OPS = f"arn:aws:iam::{ACCOUNT}:group/ops"
ADMINISTRATOR = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/Boundary"

HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
)
REPORT = "\n".join(
    [
        HEADER,
        f"<root_account>,{ROOT},2019-01-01T00:00:00+00:00,not_supported,"
        "2026-02-01T08:00:00+00:00,not_supported,not_supported,false,true,"
        "2019-01-02T00:00:00+00:00,2026-02-20T10:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,"
        "N/A,false,N/A,false,N/A",
        f"zoe,{ZOE},2024-05-01T09:00:00+00:00,true,2026-02-27T17:30:00+00:00,"
        "2025-11-01T09:00:00+00:00,2026-02-01T09:00:00+00:00,true,false,"
        "2024-05-01T09:05:00+00:00,no_information,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,"
        "false,N/A",
    ]
)

# Two pages, as `--no-paginate` in a loop would give them, collected in a JSON list.
PAGES: list[dict[str, Any]] = [
    {
        "UserDetailList": [
            {
                "Path": "/",
                "UserName": "zoe",
                "UserId": "AIDAZOE",
                "Arn": ZOE,
                "CreateDate": "2024-05-01T09:00:00+00:00",
                "GroupList": ["ops"],
                "AttachedManagedPolicies": [
                    {"PolicyName": "ReadOnlyAccess", "PolicyArn": READ_ONLY}
                ],
                "UserPolicyList": [
                    {
                        # IAM's own wire format: URL-encoded JSON.
                        "PolicyName": "encoded",
                        "PolicyDocument": urllib.parse.quote(
                            json.dumps(
                                {
                                    "Version": "2012-10-17",
                                    "Statement": {
                                        "Effect": "Allow",
                                        "Action": "IAM:*",
                                        "Resource": "*",
                                    },
                                }
                            )
                        ),
                    }
                ],
                "PermissionsBoundary": {
                    "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
                    "PermissionsBoundaryArn": BOUNDARY,
                },
                "Tags": [{"Key": "employee_id", "Value": "E900"}],
            }
        ],
        "IsTruncated": True,
        "Marker": "page-2",
    },
    {
        "GroupDetailList": [
            {
                "Path": "/",
                "GroupName": "ops",
                "GroupId": "AGPAOPS",
                "Arn": OPS,
                "CreateDate": "2020-01-01T00:00:00+00:00",
                "GroupPolicyList": [],
                "AttachedManagedPolicies": [
                    {"PolicyName": "AdministratorAccess", "PolicyArn": ADMINISTRATOR}
                ],
            }
        ],
        "Policies": [
            {
                "PolicyName": "AdministratorAccess",
                "Arn": ADMINISTRATOR,
                "Path": "/",
                "DefaultVersionId": "v1",
                "PolicyVersionList": [],
            },
            {
                "PolicyName": "Boundary",
                "Arn": BOUNDARY,
                "DefaultVersionId": "v2",
                "PolicyVersionList": [
                    {"VersionId": "v1", "IsDefaultVersion": False, "Document": {}},
                    {
                        "VersionId": "v2",
                        "IsDefaultVersion": True,
                        "Document": {"Version": "2012-10-17", "Statement": []},
                    },
                ],
            },
        ],
        "IsTruncated": False,
    },
]


def _write(folder: Path, details: Any = None, report: str = REPORT) -> dict[str, Path]:
    paths = {
        "authorization_details": folder / "details.json",
        "credential_report": folder / "report.csv",
    }
    paths["authorization_details"].write_text(json.dumps(PAGES if details is None else details))
    paths["credential_report"].write_text(report)
    return paths


def _collect(paths: dict[str, Path], **extra: Any) -> SystemSnapshot:
    options = AWSOptions.model_validate(
        {"type": "aws", "mode": "export", "exported_at": "2026-03-01T00:00:00Z", **paths, **extra}
    )
    return AWSConnector("aws-prod", options).collect()


def test_pages_root_user_boundary_and_aws_managed_admin(tmp_path: Path) -> None:
    snapshot = _collect(_write(tmp_path))

    assert snapshot.settings["account_id"] == ACCOUNT
    accounts = {a.native_id: a for a in snapshot.accounts}
    root = accounts[ROOT]
    assert (root.login, root.kind, root.status) == (
        "root",
        AccountKind.BREAK_GLASS,
        AccountStatus.ACTIVE,
    )
    assert root.mfa_factors == ()
    root_credentials = {c.credential_id: c for c in snapshot.credentials if c.account_id == ROOT}
    assert root_credentials[f"{ROOT}#password"].active
    key = root_credentials[f"{ROOT}#access_key_1"]
    assert key.active and key.attributes == {
        "last_used_service": "s3",
        "last_used_region": "us-east-1",
    }

    zoe = accounts[ZOE]
    assert zoe.attributes["permissions_boundary"] == BOUNDARY
    assert zoe.employee_id == "E900" and zoe.mfa_factors == ("mfa",)
    assert (
        zoe.last_login_at is not None
        and zoe.last_login_at.isoformat() == "2026-02-27T17:30:00+00:00"
    )

    entitlements = {e.entitlement_id: e for e in snapshot.entitlements}
    # No document in the file, but AWS's AdministratorAccess is privileged by name.
    assert entitlements[ADMINISTRATOR].privileged and entitlements[OPS].privileged
    # Attached, yet missing from Policies: still an entitlement its holder has.
    assert (
        entitlements[READ_ONLY].name == "ReadOnlyAccess" and not entitlements[READ_ONLY].privileged
    )
    assert entitlements[f"{ZOE}#inline/encoded"].privileged
    documents = {d.document_id: d.document for d in snapshot.documents}
    assert documents[BOUNDARY] == {"Version": "2012-10-17", "Statement": []}
    assert ADMINISTRATOR not in documents
    assert {(g.entitlement_id, g.via) for g in snapshot.grants if g.account_id == ZOE} == {
        (OPS, None),
        (ADMINISTRATOR, OPS),
        (READ_ONLY, None),
        (f"{ZOE}#inline/encoded", None),
    }


def test_credential_report_as_cli_json(tmp_path: Path) -> None:
    paths = _write(tmp_path)
    cli = {
        "Content": base64.b64encode(REPORT.encode()).decode(),
        "ReportFormat": "text/csv",
        "GeneratedTime": "2026-02-28T06:00:00+00:00",
    }
    paths["credential_report"] = tmp_path / "report.json"
    paths["credential_report"].write_text(json.dumps(cli))
    options = AWSOptions.model_validate({"type": "aws", "mode": "export", **paths})

    snapshot = AWSConnector("aws-prod", options).collect()

    assert snapshot.collected_at.isoformat() == "2026-02-28T06:00:00+00:00"
    assert snapshot == _collect(_write(tmp_path)).model_copy(
        update={"collected_at": snapshot.collected_at, "source": snapshot.source}
    )


def test_pages_written_one_after_another(tmp_path: Path) -> None:
    paths = _write(tmp_path)
    paths["authorization_details"].write_text("\n".join(json.dumps(page) for page in PAGES))

    assert _collect(paths) == _collect(_write(tmp_path))


def test_export_cut_short_is_incomplete(tmp_path: Path) -> None:
    snapshot = _collect(_write(tmp_path, details=PAGES[:1]))

    assert not snapshot.complete
    messages = [e.message for e in snapshot.errors]
    assert any("more pages" in m for m in messages)
    # zoe's group is on the missing page: said, not silently dropped.
    assert any("group ops" in m for m in messages)


def test_report_from_another_account_is_refused(tmp_path: Path) -> None:
    paths = _write(tmp_path, report=REPORT.replace(ACCOUNT, "111111111111"))

    with pytest.raises(
        SourceError,
        match=r"report.csv: is for AWS account 111111111111, but .*details.json is for "
        r"210987654321",
    ):
        _collect(paths)


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        (
            '{\n  "UserDetailList": [\n    {"UserName": "x",,}\n  ]\n}',
            r"details.json:3: not valid JSON",
        ),
        ("", r"details.json: the file is empty"),
        (
            '{"Users": []}',
            r"details.json: not the output of `aws iam get-account-authorization-details`",
        ),
        (
            '[{"UserDetailList": [{"UserName": "x"}]}]',
            r"details.json: UserDetailList\[0\].Arn \(x\): Field required",
        ),
        (
            '{"Policies": [{"Arn": "a", "PolicyVersionList": [{"Document": "%7Bnope"}]}]}',
            r"details.json: Policies\[0\].PolicyVersionList\[0\].Document \(a\): "
            r".*not a JSON policy document",
        ),
    ],
)
def test_unusable_authorization_details(tmp_path: Path, details: str, expected: str) -> None:
    paths = _write(tmp_path)
    paths["authorization_details"].write_text(details)

    with pytest.raises(SourceError, match=expected) as raised:
        _collect(paths)

    assert all("\n" not in problem for problem in raised.value.problems)


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        (
            "user,arn,created\nzoe,x,y\n",
            r"report.csv:1: not an IAM credential report header \(missing user_creation_time",
        ),
        ("", r"report.csv: the file is empty"),
        (REPORT + "\nbad,row", r"report.csv:4: 2 fields where the header has 22"),
        (
            REPORT.replace("true,2026-02-27", "yes,2026-02-27"),
            r"report.csv:3: zoe: password_enabled: 'yes' is neither true nor false",
        ),
        (
            REPORT.replace("2024-05-01T09:05:00", "May 1st"),
            r"report.csv:3: zoe: access_key_1_last_rotated: 'May 1st",
        ),
        ('{"Content": "not base64!"}', r"report.csv: Content is not base64-encoded UTF-8 CSV"),
        (
            '{"Content": "dXNlcixhcm4K"}',
            r"report.csv: Content line 1: not an IAM credential report header",
        ),
    ],
)
def test_unusable_credential_report(tmp_path: Path, report: str, expected: str) -> None:
    with pytest.raises(SourceError, match=expected):
        _collect(_write(tmp_path, report=report))


def test_missing_file(tmp_path: Path) -> None:
    paths = _write(tmp_path)
    paths["credential_report"] = tmp_path / "nope.csv"

    with pytest.raises(SourceError, match=r"nope.csv: no such file \(an AWS CLI export\)"):
        _collect(paths)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("null", None),
        ('{"PasswordPolicy": {"MinimumPasswordLength": 12}}', {"MinimumPasswordLength": 12}),
        ('{"MinimumPasswordLength": 12}', {"MinimumPasswordLength": 12}),
    ],
)
def test_password_policy_file(tmp_path: Path, content: str, expected: Any) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(content)

    snapshot = _collect(_write(tmp_path), password_policy=policy)

    assert snapshot.settings["password_policy"] == expected
    assert snapshot.source == "export:details.json,report.csv,policy.json"


def test_password_policy_file_that_is_not_one(tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text("[]")

    with pytest.raises(
        SourceError, match="policy.json: not the output of `aws iam get-account-password-policy`"
    ):
        _collect(_write(tmp_path), password_policy=policy)


_times = st.datetimes(
    min_value=datetime(2010, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=0))
_maybe_time = st.none() | _times
_names = st.text(alphabet=string.ascii_letters + string.digits + "+=,.@_-", min_size=1, max_size=64)


@given(
    name=_names,
    password_enabled=st.booleans(),
    last_used=_maybe_time,
    changed=_maybe_time,
    mfa=st.booleans(),
    keys=st.lists(st.tuples(st.booleans(), _times, _maybe_time), max_size=2),
)
def test_credential_report_rows_read_back_as_written(
    name: str,
    password_enabled: bool,
    last_used: datetime | None,
    changed: datetime | None,
    mfa: bool,
    keys: list[tuple[bool, datetime, datetime | None]],
) -> None:
    def cell(value: datetime | None, missing: str = "N/A") -> str:
        return value.isoformat() if value else missing

    key_cells: list[str] = []
    for n in range(2):
        if n < len(keys):
            active, rotated, used = keys[n]
            key_cells += [str(active).lower(), cell(rotated), cell(used), "us-east-1", "iam"]
        else:
            key_cells += ["false", "N/A", "N/A", "N/A", "N/A"]
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    row = [
        name,
        user_arn,
        "2015-01-01T00:00:00+00:00",
        str(password_enabled).lower(),
        cell(last_used, "no_information"),
        cell(changed),
        "not_supported",
        str(mfa).lower(),
        *key_cells,
        "false",
        "N/A",
        "false",
        "N/A",
    ]

    written = io.StringIO()
    csv.writer(written, lineterminator="\n").writerow(row)  # IAM names may contain commas
    parsed = parse_credential_report(f"{HEADER}\n{written.getvalue()}", lambda n: f"r:{n}")

    user = parsed[user_arn]
    assert (user.user, user.password_enabled, user.mfa_active) == (name, password_enabled, mfa)
    assert (user.password_last_used, user.password_last_changed) == (last_used, changed)
    assert [(k.number, k.active, k.created_at, k.last_used_at) for k in user.keys] == [
        (n, active, rotated, used) for n, (active, rotated, used) in enumerate(keys, start=1)
    ]


# --- what the export does not say ----------------------------------------------------------


def test_export_user_missing_from_report_is_unknown_not_removed(
    small: MotoAccount, tmp_path: Path
) -> None:
    connector = small.export(tmp_path, before_details=lambda: _create_dave(small))

    snapshot = connector.collect()

    assert not snapshot.complete
    (error,) = snapshot.errors
    assert error.record == DAVE and "user dave is not in the credential report" in error.message
    assert error.source.endswith("credential-report.json") and not error.fatal
    dave = _dave(snapshot)
    assert dave.status is AccountStatus.ACTIVE  # unknown must never look like removed
    assert dave.mfa_factors is None
    assert _credential_names(snapshot, DAVE) == {}


def test_export_without_password_policy_file_leaves_it_unknown(
    small: MotoAccount, tmp_path: Path
) -> None:
    connector = small.export(tmp_path)
    options = connector.options.model_copy(update={"password_policy": None})

    snapshot = AWSConnector("aws-prod", options).collect()

    assert "password_policy" not in snapshot.settings
    assert snapshot.complete
    assert any("password policy is unknown" in e.message for e in snapshot.errors)


def test_export_time_defaults_to_the_file_time_and_says_so(
    small: MotoAccount, tmp_path: Path
) -> None:
    connector = small.export(tmp_path, report="csv")
    details = connector.options.authorization_details
    assert details is not None
    stamp = 1_767_225_600  # 2026-01-01 00:00 UTC
    import os

    os.utime(details, (stamp, stamp))

    snapshot = connector.collect()

    assert snapshot.collected_at.isoformat() == "2026-01-01T00:00:00+00:00"
    assert snapshot.complete
    (note,) = snapshot.errors
    assert "exported_at not given" in note.message and "2026-01-01 00:00" in note.message
