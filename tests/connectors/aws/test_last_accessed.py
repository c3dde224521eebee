"""Service-last-accessed data (IAM Access Advisor) in the AWS connector, live and exported.

moto does not implement GenerateServiceLastAccessedDetails or GetServiceLastAccessedDetails
(it answers "not implemented", which botocore retries as a server error). ``AccessAdvisor``
stands in for those two calls only, at the wire: a botocore ``before-send`` hook that reads
the form-encoded request IAM receives and answers with the XML IAM sends (job ids, job
status, paging, error responses), which botocore then parses as it would AWS's. Every other
call still goes to moto over HTTP.
"""

from __future__ import annotations

import itertools
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from iam_gov.connectors.aws.connector import AWSConnector, AWSOptions
from iam_gov.errors import SourceError

from .conftest import ACCOUNT_ID, MotoAccount, _shared_session, arn

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

_NS = "https://iam.amazonaws.com/doc/2010-05-08/"


@dataclass(frozen=True)
class Used:
    """One ``ServicesLastAccessed`` entry: a service, and when the principal last used it."""

    namespace: str
    name: str
    last: datetime | None = None


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


@dataclass
class AccessAdvisor:
    """IAM's Access Advisor for the principals it is told about (others have used nothing)."""

    usage: dict[str, list[Used]] = field(default_factory=dict)
    in_progress: int = 0
    """How many times each job answers IN_PROGRESS before it completes."""
    page_size: int = 100
    refused: set[str] = field(default_factory=set)
    """Principals whose job IAM refuses to start (AccessDenied)."""
    failed: set[str] = field(default_factory=set)
    """Principals whose job ends FAILED."""
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _jobs: dict[str, list[Any]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, session: boto3.Session) -> boto3.Session:
        session.events.register("before-send.iam", self, unique_id=f"advisor-{id(self)}")
        return session

    def uninstall(self, session: boto3.Session) -> None:
        session.events.unregister("before-send.iam", unique_id=f"advisor-{id(self)}")

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        body = request.body
        text = body.decode() if isinstance(body, bytes) else str(body or "")
        params = dict(urllib.parse.parse_qsl(text))
        action = params.get("Action")
        if action not in ("GenerateServiceLastAccessedDetails", "GetServiceLastAccessedDetails"):
            return None  # moto's business
        with self._lock:
            self.calls.append((action, params))
            if action == "GenerateServiceLastAccessedDetails":
                return self._generate(request.url, params)
            return self._get(request.url, params)

    def _generate(self, url: str, params: dict[str, str]) -> AWSResponse:
        principal = params["Arn"]
        if principal in self.refused:
            return _error(url, 403, "AccessDenied", f"not authorized to report on {principal}")
        job = f"{next(self._ids):08d}-1305-c245-eba4-71fe298bcda7"
        self._jobs[job] = [principal, self.in_progress]
        result = f"<JobId>{job}</JobId>"
        return _ok(url, "GenerateServiceLastAccessedDetails", result)

    def _get(self, url: str, params: dict[str, str]) -> AWSResponse:
        job = self._jobs.get(params["JobId"])
        if job is None:
            return _error(url, 404, "NoSuchEntity", f"Job {params['JobId']} not found")
        principal, waiting = job
        created = "<JobCreationDate>2026-03-01T11:59:00Z</JobCreationDate>"
        head = f"<JobType>SERVICE_LEVEL</JobType>{created}"
        if waiting:
            job[1] -= 1
            result = f"<JobStatus>IN_PROGRESS</JobStatus>{head}<ServicesLastAccessed/>"
            return _ok(url, "GetServiceLastAccessedDetails", result)
        if principal in self.failed:
            error = "<Error><Message>internal failure</Message><Code>ServiceFailure</Code></Error>"
            result = f"<JobStatus>FAILED</JobStatus>{head}<ServicesLastAccessed/>{error}"
            return _ok(url, "GetServiceLastAccessedDetails", result)
        entries = self.usage.get(principal, [])
        start = int(params.get("Marker", "0"))
        size = min(int(params.get("MaxItems", "100")), self.page_size)
        page = entries[start : start + size]
        members = "".join(_member(used) for used in page)
        more = start + size < len(entries)
        result = (
            f"<JobStatus>COMPLETED</JobStatus>{head}"
            "<JobCompletionDate>2026-03-01T11:59:02Z</JobCompletionDate>"
            f"<ServicesLastAccessed>{members}</ServicesLastAccessed>"
            f"<IsTruncated>{str(more).lower()}</IsTruncated>"
            + (f"<Marker>{start + size}</Marker>" if more else "")
        )
        return _ok(url, "GetServiceLastAccessedDetails", result)

    def cli_output(self, iam: IAMClient, principal: str) -> dict[str, Any]:
        """What ``aws iam get-service-last-accessed-details --job-id …`` prints (the CLI
        follows the pages and prints times as ISO 8601)."""
        job = iam.generate_service_last_accessed_details(Arn=principal)["JobId"]
        entries: list[Any] = []
        kwargs: dict[str, Any] = {"JobId": job}
        while True:
            page: Any = iam.get_service_last_accessed_details(**kwargs)
            entries.extend(page["ServicesLastAccessed"])
            if not page.get("IsTruncated"):
                break
            kwargs["Marker"] = page["Marker"]
        page = {**page, "ServicesLastAccessed": entries, "IsTruncated": False}
        page.pop("ResponseMetadata", None)
        page.pop("Marker", None)
        return json.loads(json.dumps(page, default=lambda v: v.isoformat()))


def _member(used: Used) -> str:
    parts = [
        f"<ServiceName>{escape(used.name)}</ServiceName>",
        f"<ServiceNamespace>{used.namespace}</ServiceNamespace>",
        f"<TotalAuthenticatedEntities>{int(used.last is not None)}</TotalAuthenticatedEntities>",
    ]
    if used.last is not None:
        stamp = used.last.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts.append(f"<LastAuthenticated>{stamp}</LastAuthenticated>")
        parts.append("<LastAuthenticatedRegion>us-east-1</LastAuthenticatedRegion>")
    return f"<member>{''.join(parts)}</member>"


def _ok(url: str, action: str, result: str) -> AWSResponse:
    xml = (
        f'<{action}Response xmlns="{_NS}"><{action}Result>{result}</{action}Result>'
        "<ResponseMetadata><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId>"
        f"</ResponseMetadata></{action}Response>"
    )
    return AWSResponse(url, 200, {"Content-Type": "text/xml"}, _Body(xml.encode()))


def _error(url: str, status: int, code: str, message: str) -> AWSResponse:
    xml = (
        f'<ErrorResponse xmlns="{_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error>"
        "<RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ErrorResponse>"
    )
    return AWSResponse(url, status, {"Content-Type": "text/xml"}, _Body(xml.encode()))


@pytest.fixture
def advisor() -> Iterator[AccessAdvisor]:
    """Access Advisor on the session the demo account's connectors share."""
    fake = AccessAdvisor()
    fake.install(_shared_session())
    try:
        yield fake
    finally:
        fake.uninstall(_shared_session())


def export_last_accessed(
    fake: AccessAdvisor, account: MotoAccount, folder: Path, principals: list[str]
) -> Path:
    """Write the folder the AWS CLI would: one ``get-service-last-accessed-details`` output
    per principal, ``user/<name>.json`` and ``role/<name>.json``."""
    session = fake.install(boto3.Session())
    iam = session.client("iam", endpoint_url=account.endpoint, region_name="us-east-1")
    for principal in principals:
        kind, name = principal.split(":")[-1].split("/")[0], principal.rsplit("/", 1)[-1]
        path = folder / kind / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(fake.cli_output(iam, principal), indent=4))
    return folder


# --- the tests ------------------------------------------------------------------------------

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
    assert {a.login for a in snapshot.accounts} == {"erin", "ops"}


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
