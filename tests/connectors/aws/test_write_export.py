"""``iam-gov export`` for AWS against moto's server: the files written from the live account
(AWS CLI outputs) read back (export mode) into the snapshot the live collect gives; a user newer
than the credential report; a gap in Access Advisor; no secret written."""

from __future__ import annotations

import base64
import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from iam_gov.configtypes import BASE_DIR_KEY
from iam_gov.connectors.aws.connector import AWSConnector, AWSOptions
from iam_gov.connectors.shared.export_folder import prepare_out, write_options
from iam_gov.connectors.shared.protocol import ExportNotSupported, ExportWritten
from iam_gov.model import SystemSnapshot

from .access_advisor import AccessAdvisor, Used
from .conftest import DAVE, NOW, MotoAccount, _create_dave, _dave, arn

SAME = {"source", "collected_at"}
"""What may differ between a live collect and its export read back: where it came from."""
ALICE, DEPLOY = arn("user", "alice", "/staff/"), arn("role", "deploy", "/automation/")
USAGE = {
    ALICE: [
        Used("s3", "Amazon S3", datetime(2026, 2, 20, 8, 30, tzinfo=UTC)),
        Used("ec2", "Amazon EC2"),
    ],
    DEPLOY: [Used("iam", "AWS Identity and Access Management", datetime(2025, 6, 1, tzinfo=UTC))],
}
FILES = {
    Path("authorization-details.json"),
    Path("credential-report.json"),
    Path("password-policy.json"),
}


def read_back(folder: Path, written: ExportWritten) -> AWSConnector:
    """The connector the written ``iam-gov-export.toml`` configures, paths relative to it."""
    options_file = write_options(folder, "aws-prod", written.options)
    table = tomllib.loads(options_file.read_text())["systems"]["aws-prod"]
    options = AWSOptions.model_validate(table, context={BASE_DIR_KEY: folder})
    return AWSConnector("aws-prod", options)


def dump(snapshot: SystemSnapshot) -> dict[str, Any]:
    return snapshot.model_dump(exclude=SAME)


def test_the_export_reads_back_into_the_live_snapshot(
    aws: MotoAccount, advisor: AccessAdvisor, tmp_path: Path
) -> None:
    advisor.usage = USAGE
    folder = prepare_out(tmp_path / "out")
    connector = aws.live()

    written = connector.write_export(folder)
    snapshot = connector.collect()
    exported = read_back(folder, written).collect()

    assert written.problems == ()
    principals = [a.native_id for a in snapshot.accounts if a.login != "root"]
    assert len(principals) == 5
    advisor_files = {
        Path("last-accessed", p.split(":")[-1].split("/")[0], p.rsplit("/", 1)[-1] + ".json")
        for p in principals
    }
    assert set(written.files) == FILES | advisor_files
    assert snapshot.complete and snapshot.errors == (), snapshot.errors
    assert exported.complete and exported.errors == (), exported.errors
    # Accounts, entitlements, grants, credentials, kept documents (policies, Access Advisor)
    # and settings (account id, password policy): all the same.
    assert dump(exported) == dump(snapshot)
    assert exported.collected_at == snapshot.collected_at == NOW
    assert snapshot.settings["password_policy"]["MinimumPasswordLength"] == 14
    # AWS's own pages, merged as the CLI prints them; the report as the CLI prints it.
    details = json.loads((folder / "authorization-details.json").read_text())
    assert {u["UserName"] for u in details["UserDetailList"]} == {"alice", "bob", "carol", "svc-ci"}
    assert "ResponseMetadata" not in details and "IsTruncated" not in details
    report = json.loads((folder / "credential-report.json").read_text())
    assert set(report) == {"Content", "ReportFormat", "GeneratedTime"}


def test_a_user_newer_than_the_report_keeps_what_was_read_of_him(
    small: MotoAccount, advisor: AccessAdvisor, tmp_path: Path
) -> None:
    _create_dave(small)
    session = advisor.install(boto3.Session())

    # As in test_live: AWS regenerates the report at most every four hours; moto always
    # reports every user. Drop dave's row, as a report generated before him would not have it.
    def older_report(parsed: dict[str, Any], **_: Any) -> None:
        lines = parsed["Content"].split(b"\n")
        parsed["Content"] = b"\n".join(line for line in lines if not line.startswith(b"dave,"))

    session.events.register("after-call.iam.GetCredentialReport", older_report)
    connector = small.live(session=session)

    written = connector.write_export(tmp_path)
    snapshot = connector.collect()
    exported = read_back(tmp_path, written).collect()

    assert written.problems == ()
    assert snapshot.complete and exported.complete, exported.errors
    assert dump(exported) == dump(snapshot)
    dave = _dave(exported)
    assert dave.native_id == DAVE
    assert {c.kind.value for c in exported.credentials if c.account_id == DAVE} == {
        "password",
        "access-key",
    }
    # His row is added to AWS's report, with what the collect read of him user by user.
    report = json.loads((tmp_path / "credential-report.json").read_text())
    rows = base64.b64decode(report["Content"]).decode().splitlines()
    (row,) = [line for line in rows if line.startswith("dave,")]
    assert row.startswith(f"dave,{DAVE},") and ",true,no_information," in row


def test_what_could_not_be_read_is_a_problem_and_a_gap_in_the_files(
    small: MotoAccount, advisor: AccessAdvisor, tmp_path: Path
) -> None:
    ops = arn("role", "ops")
    small.iam.create_role(RoleName="ops", AssumeRolePolicyDocument=json.dumps({"Statement": []}))
    advisor.refused = {ops}
    connector = small.live()

    written = connector.write_export(tmp_path)
    snapshot = connector.collect()
    exported = read_back(tmp_path, written).collect()

    (problem,) = written.problems
    assert problem.startswith(f"iam:GenerateServiceLastAccessedDetails: {ops}: ")
    assert "service last accessed data is unknown" in problem
    assert not (tmp_path / "last-accessed" / "role" / "ops.json").exists()
    assert not snapshot.complete and not exported.complete
    (gap,) = exported.errors
    assert gap.record == ops and "role/ops.json" in gap.message
    # Everything else is the same; only the wording of the gap differs.
    assert dump(exported) == {**dump(snapshot), "errors": dump(exported)["errors"]}


def test_access_advisor_turned_off_is_left_out(
    small: MotoAccount, advisor: AccessAdvisor, tmp_path: Path
) -> None:
    connector = small.live(access_advisor=False)

    written = connector.write_export(tmp_path)

    assert "service_last_accessed" not in written.options
    assert set(written.files) == FILES
    assert dump(read_back(tmp_path, written).collect()) == dump(connector.collect())


def test_no_secret_is_written(small: MotoAccount, advisor: AccessAdvisor, tmp_path: Path) -> None:
    secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXPORTSECRET"
    session = advisor.install(
        boto3.Session(
            aws_access_key_id="AKIAEXPORTTESTKEY0001",
            aws_secret_access_key=secret_key,
            region_name="us-east-1",
        )
    )
    user_key = small.iam.create_access_key(UserName="erin")["AccessKey"]["SecretAccessKey"]

    written = small.live(session=session).write_export(tmp_path)
    write_options(tmp_path, "aws-prod", written.options)

    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == len(written.files) + 1
    for path in files:
        text = path.read_text()
        for secret in (secret_key, user_key, "Corr3ct-Horse-Battery", "AKIAEXPORTTESTKEY0001"):
            assert secret not in text, (path, secret)


def test_an_export_cannot_be_exported(tmp_path: Path) -> None:
    options = AWSOptions.model_validate(
        {
            "type": "aws",
            "mode": "export",
            "authorization_details": "a.json",
            "credential_report": "r.csv",
        }
    )

    with pytest.raises(ExportNotSupported, match="already reads an export"):
        AWSConnector("aws-prod", options).write_export(tmp_path)
