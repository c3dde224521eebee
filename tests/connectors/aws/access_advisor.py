"""A stand-in for IAM Access Advisor in the AWS connector's tests.

moto does not implement GenerateServiceLastAccessedDetails or GetServiceLastAccessedDetails
(it answers "not implemented", which botocore retries as a server error). ``AccessAdvisor``
stands in for those two calls only, at the wire: a botocore ``before-send`` hook that reads
the form-encoded request IAM receives and answers with the XML IAM sends (job ids, job
status, paging, error responses), which botocore then parses as it would AWS's. Every other
call still goes to moto over HTTP.
"""

from __future__ import annotations

import contextlib
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
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

    from .conftest import MotoAccount

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
    error_page: int | None = None
    """Answer every Access Advisor call with an HTML error page of this HTTP status, as an
    endpoint that does not implement it does (a proxy, an IAM emulator)."""
    together: threading.Barrier | None = None
    """Hold each Access Advisor call until this many are in flight at once (then answer them
    all): the side-by-side failures a slow machine gives by chance."""
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
        if self.together is not None:
            # fewer calls than parties: the barrier breaks, and the ones there are answered
            with contextlib.suppress(threading.BrokenBarrierError):
                self.together.wait(timeout=10)
        with self._lock:
            self.calls.append((action, params))
            if self.error_page is not None:
                return _html(request.url, self.error_page)
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


def _html(url: str, status: int) -> AWSResponse:
    page = (
        "<!DOCTYPE html><html><head><title>Not Found</title></head><body><h1>Not Found</h1>"
        "<p>The requested URL was not found on this server.</p><hr><address>nginx</address>"
        "</body></html>"
    )
    return AWSResponse(url, status, {"Content-Type": "text/html"}, _Body(page.encode()))


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
