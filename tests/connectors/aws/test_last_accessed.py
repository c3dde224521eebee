"""Service-last-accessed data (IAM Access Advisor) in the AWS connector, live and exported:
every user's and role's services, jobs waited for and pages followed, a failed job a gap, not
a failure; one CLI output per principal in an export."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.aws.connector import AWSConnector, AWSOptions
from iam_gov.errors import SourceError

from .access_advisor import AccessAdvisor, Used, export_last_accessed
from .conftest import ACCOUNT_ID, MotoAccount, arn

ERIN = arn("user", "erin")
OPS = arn("role", "ops")
T1 = datetime(2026, 2, 20, 8, 30, tzinfo=UTC)
T2 = datetime(2025, 6, 1, 17, 0, tzinfo=UTC)


@pytest.fixture
def small(aws_endpoint: str) -> MotoAccount:
    from .conftest import iam_client

    iam = iam_client(aws_endpoint)
    iam.create_user(UserName="erin")
    iam.create_role(RoleName="ops", AssumeRolePolicyDocument="{}")
    return MotoAccount(aws_endpoint, iam)


USAGE = {
    ERIN: [
        Used("s3", "Amazon S3", T1),
        Used("ec2", "Amazon EC2"),
        Used("iam", "AWS Identity and Access Management", T2),
    ],
    OPS: [Used("sqs", "Amazon SQS", T1)],
}


def _documents(snapshot: Any) -> dict[str, Any]:
    return {d.document_id: d for d in snapshot.documents if d.kind == "service-last-accessed"}


def test_live_collects_every_users_and_roles_last_accessed_services(
    small: MotoAccount, advisor: AccessAdvisor
) -> None:
    advisor.usage = USAGE

    snapshot = small.live().collect()

    assert snapshot.complete, snapshot.errors
    documents = _documents(snapshot)
    assert set(documents) == {f"{ERIN}#service-last-accessed", f"{OPS}#service-last-accessed"}
    erin = documents[f"{ERIN}#service-last-accessed"]
    assert erin.name == "erin" and erin.system == "aws-prod"
    # Sorted by service, times as ISO 8601 UTC text: the same however it was read.
    assert erin.document == {
        "ServicesLastAccessed": [
            {
                "ServiceName": "Amazon EC2",
                "ServiceNamespace": "ec2",
                "TotalAuthenticatedEntities": 0,
            },
            {
                "ServiceName": "AWS Identity and Access Management",
                "ServiceNamespace": "iam",
                "TotalAuthenticatedEntities": 1,
                "LastAuthenticated": "2025-06-01T17:00:00+00:00",
                "LastAuthenticatedRegion": "us-east-1",
            },
            {
                "ServiceName": "Amazon S3",
                "ServiceNamespace": "s3",
                "TotalAuthenticatedEntities": 1,
                "LastAuthenticated": "2026-02-20T08:30:00+00:00",
                "LastAuthenticatedRegion": "us-east-1",
            },
        ]
    }
    generated = [p["Arn"] for action, p in advisor.calls if action.startswith("Generate")]
    assert sorted(generated) == [OPS, ERIN]
    assert all(
        p.get("Granularity") == "SERVICE_LEVEL"
        for action, p in advisor.calls
        if action.startswith("Generate")
    )


def test_live_waits_for_the_jobs_and_follows_pages(
    small: MotoAccount, advisor: AccessAdvisor
) -> None:
    advisor.usage = USAGE
    advisor.in_progress = 1
    advisor.page_size = 2

    snapshot = small.live().collect()

    assert snapshot.complete, snapshot.errors
    erin = _documents(snapshot)[f"{ERIN}#service-last-accessed"].document
    assert [e["ServiceNamespace"] for e in erin["ServicesLastAccessed"]] == ["ec2", "iam", "s3"]
    gets = [p for action, p in advisor.calls if action.startswith("Get")]
    assert any("Marker" in p for p in gets)  # a second page was asked for
    assert len(gets) == 2 + 2 + 1  # each job once in progress; erin's in two pages


def test_a_principal_whose_job_fails_leaves_the_snapshot_incomplete(
    small: MotoAccount, advisor: AccessAdvisor
) -> None:
    advisor.usage = USAGE
    advisor.refused = {OPS}
    advisor.failed = {ERIN}

    snapshot = small.live().collect()

    assert not snapshot.complete
    errors = {e.record: e for e in snapshot.errors}
    assert set(errors) == {ERIN, OPS}
    assert errors[OPS].source == "iam:GenerateServiceLastAccessedDetails"
    assert errors[OPS].message == (
        "service last accessed data is unknown: iam:GenerateServiceLastAccessedDetails: "
        f"AccessDenied: not authorized to report on {OPS}"
    )
    assert errors[ERIN].message == (
        "service last accessed data is unknown: the job failed: internal failure"
    )
    assert _documents(snapshot) == {}
    # Everything else is there: a gap in usage data is not a gap in access.
    assert {a.login for a in snapshot.accounts} == {"erin", "ops", "root"}


def test_access_advisor_can_be_turned_off(small: MotoAccount, advisor: AccessAdvisor) -> None:
    snapshot = small.live(access_advisor=False).collect()

    assert snapshot.complete
    assert _documents(snapshot) == {}
    assert advisor.calls == []


def test_export_reads_one_cli_output_per_principal(
    small: MotoAccount, advisor: AccessAdvisor, tmp_path: Path
) -> None:
    advisor.usage = USAGE
    advisor.page_size = 2
    folder = export_last_accessed(advisor, small, tmp_path / "last-accessed", [ERIN, OPS])
    assert (folder / "user" / "erin.json").is_file() and (folder / "role" / "ops.json").is_file()

    exported = small.export(tmp_path / "export", service_last_accessed=folder).collect()
    live = small.live().collect()

    assert exported.complete, exported.errors
    assert exported.source.endswith(",last-accessed/")
    assert _documents(exported) == _documents(live)


def test_export_missing_or_unreadable_files_are_gaps_not_failures(
    small: MotoAccount, advisor: AccessAdvisor, tmp_path: Path
) -> None:
    advisor.usage = USAGE
    folder = export_last_accessed(advisor, small, tmp_path / "last-accessed", [ERIN])
    (folder / "user" / "erin.json").write_text(
        json.dumps({"JobStatus": "IN_PROGRESS", "ServicesLastAccessed": []})
    )

    snapshot = small.export(tmp_path / "export", service_last_accessed=folder).collect()

    assert not snapshot.complete
    errors = {e.record: e for e in snapshot.errors if e.record}
    assert errors[OPS].message == ("no role/ops.json: its service last accessed data is unknown")
    assert errors[ERIN].message.endswith("the job's status is IN_PROGRESS, not COMPLETED")
    assert errors[ERIN].source == str(folder / "user" / "erin.json")
    assert _documents(snapshot) == {}


def test_export_folder_that_is_not_there_is_unusable_input(
    small: MotoAccount, tmp_path: Path
) -> None:
    connector = small.export(tmp_path / "export", service_last_accessed=tmp_path / "nowhere")

    with pytest.raises(SourceError, match="nowhere: service_last_accessed is not a folder"):
        connector.collect()


@pytest.mark.parametrize(
    "document, problem",
    [
        ({"JobStatus": "COMPLETED"}, "no ServicesLastAccessed list"),
        (
            {"ServicesLastAccessed": [{"ServiceName": "S3"}]},
            "ServicesLastAccessed[0] has no ServiceNamespace",
        ),
        (
            {"ServicesLastAccessed": [{"ServiceNamespace": "s3", "LastAuthenticated": "soon"}]},
            "ServicesLastAccessed[0].LastAuthenticated: 'soon' is not a date and time",
        ),
        ({"ServicesLastAccessed": [], "IsTruncated": True}, "the CLI output is cut short"),
    ],
)
def test_export_file_problems_are_named(
    small: MotoAccount, tmp_path: Path, document: dict[str, Any], problem: str
) -> None:
    folder = tmp_path / "last-accessed"
    (folder / "user").mkdir(parents=True)
    (folder / "user" / "erin.json").write_text(json.dumps(document))

    snapshot = small.export(tmp_path / "export", service_last_accessed=folder).collect()

    (error,) = [e for e in snapshot.errors if e.record == ERIN]
    assert problem in error.message


def test_options_belong_to_their_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='access_advisor only apply to mode = "live"'):
        AWSOptions.model_validate(
            {
                "type": "aws",
                "mode": "export",
                "authorization_details": tmp_path / "a.json",
                "credential_report": tmp_path / "r.csv",
                "access_advisor": False,
            }
        )
    with pytest.raises(ValueError, match='service_last_accessed only apply to mode = "export"'):
        AWSOptions.model_validate(
            {"type": "aws", "mode": "live", "service_last_accessed": tmp_path}
        )
    assert AWSOptions(type="aws", mode="live").access_advisor is True
    assert AWSConnector.type_name == "aws" and ACCOUNT_ID
