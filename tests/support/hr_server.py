"""HR systems' report endpoints on 127.0.0.1 over HTTPS with a private CA, for the live HR
connector's tests.

It answers as the real services do, as far as the connector uses them:

* Workday RaaS: ``GET /ccx/service/customreport2/acme/ISU_IAM/IAM_Workers?format=json`` (or
  ``csv``; without ``format`` Workday answers XML), with HTTP basic as the integration system
  user or a bearer token from ``POST /ccx/oauth2/acme/token`` (client credentials, or the
  refresh-token grant; the client authenticates with HTTP basic or in the form);
* a plain CSV at ``/exports/people.csv`` behind HTTP basic;
* BambooHR: ``POST /api/gateway.php/acme/v1/reports/custom?format=JSON`` with
  ``{"fields": [...]}`` (the answer holds exactly those fields and ``id``) and a saved report
  ``GET /api/gateway.php/acme/v1/reports/7?format=JSON``; basic auth with the API key as the
  user and anything as the password; a refusal says why in ``X-BambooHR-Error-Message``.

Faults are injected per path: a status (with ``Retry-After``), an answer cut off after its
headers announced more (``cut``), a chunked answer without its last chunk (``chunk-cut``), an
answer without a length cut at a line end (``close``: only the content can tell), a sign-in
page served with 200 (``html``), a slow answer (``slow``, after ``delay`` seconds), half an
answer and then a connection reset (``reset``) and half an answer whose length says it is whole
(``truncate``). Each fault counts the requests it met (``hits``).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import json
import secrets
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.private_ca import serve_https

RAAS_PATH = "/ccx/service/customreport2/acme/ISU_IAM/IAM_Workers"
TOKEN_PATH = "/ccx/oauth2/acme/token"
CSV_PATH = "/exports/people.csv"
BAMBOO_CUSTOM = "/api/gateway.php/acme/v1/reports/custom"
BAMBOO_SAVED = "/api/gateway.php/acme/v1/reports/7"

ISU_USER = "ISU_IAM@acme"
ISU_PASSWORD = "Wd-isu-Passw0rd-9f3k2"
CLIENT_ID = "NjA5ZTc2YjQtiamgov"
CLIENT_SECRET = "wd-client-secret-7QxPz4"
REFRESH_TOKEN = "wd-refresh-token-3Lm8Rt"
CSV_USER = "hr-reader"
CSV_PASSWORD = "csv-Passw0rd-Yx82"
BAMBOO_KEY = "bamboo0c9e1f7a2b44d5e6api"

SECRETS = (ISU_PASSWORD, CLIENT_SECRET, REFRESH_TOKEN, CSV_PASSWORD, BAMBOO_KEY)

WORKERS: list[dict[str, str]] = [
    {
        "Employee_ID": "1001",
        "Legal_Name": "Ada Lovelace",
        "Email_Address": "ada@example.com",
        "Supervisory_Organization": "Engineering",
        "Business_Title": "Staff Engineer",
        "Worker_Type": "Regular",
        "Worker_Status": "Active",
        "Hire_Date": "2019-04-01-07:00",
    },
    {
        "Employee_ID": "1002",
        "Legal_Name": "Grace Hopper",
        "Email_Address": "grace@example.com",
        "Supervisory_Organization": "Engineering",
        "Business_Title": "Engineer",
        "Manager_Employee_ID": "1001",
        "Worker_Type": "Contingent Worker",
        "Worker_Status": "Active",
        "Hire_Date": "2021-09-13-07:00",
    },
    {
        "Employee_ID": "1003",
        "Legal_Name": "Alan Turing",
        "Email_Address": "alan@example.com",
        "Supervisory_Organization": "Research",
        "Business_Title": "Researcher",
        "Manager_Employee_ID": "1001",
        "Worker_Type": "Regular",
        "Worker_Status": "Terminated",
        "Hire_Date": "2018-01-08-08:00",
        "Termination_Date": "2024-02-29-08:00",
    },
    {
        "Employee_ID": "1004",
        "Legal_Name": "Katherine Johnson",
        "Email_Address": "katherine@example.com",
        "Supervisory_Organization": "Research",
        "Business_Title": "Analyst",
        "Manager_Employee_ID": "1003",
        "Worker_Type": "Regular",
        "Worker_Status": "Leave of Absence",
        "Hire_Date": "2020-06-15-07:00",
    },
]
"""A Workday custom report's entries, as RaaS writes them (fields without a value left out)."""

BAMBOO_EMPLOYEES: list[dict[str, str | None]] = [
    {
        "id": "40",
        "employeeNumber": "E-1",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "workEmail": "ada@example.com",
        "department": "Engineering",
        "jobTitle": "Staff Engineer",
        "supervisorEId": None,
        "supervisorEmail": None,
        "employmentHistoryStatus": "Full-Time",
        "status": "Active",
        "hireDate": "2019-04-01",
        "terminationDate": "0000-00-00",
        "location": "London",
    },
    {
        "id": "41",
        "employeeNumber": "E-2",
        "firstName": "Grace",
        "lastName": "Hopper",
        "workEmail": "grace@example.com",
        "department": "Engineering",
        "jobTitle": "Engineer",
        "supervisorEId": "40",
        "supervisorEmail": "ada@example.com",
        "employmentHistoryStatus": "Contractor",
        "status": "Active",
        "hireDate": "2021-09-13",
        "terminationDate": "0000-00-00",
        "location": "New York",
    },
    {
        "id": "42",
        "employeeNumber": "E-3",
        "firstName": "Alan",
        "lastName": "Turing",
        "workEmail": "alan@example.com",
        "department": "Research",
        "jobTitle": "Researcher",
        "supervisorEId": "40",
        "supervisorEmail": "ada@example.com",
        "employmentHistoryStatus": "Terminated",
        "status": "Inactive",
        "hireDate": "2018-01-08",
        "terminationDate": "2024-02-29",
        "location": "Manchester",
    },
]
"""BambooHR employees, with the API's field names (a custom report picks among them)."""

BAMBOO_FIELD_NAMES = {
    "employeeNumber": "Employee #",
    "firstName": "First Name",
    "lastName": "Last Name",
    "workEmail": "Work Email",
    "department": "Department",
    "jobTitle": "Job Title",
    "supervisorEId": "Supervisor EID",
    "supervisorEmail": "Supervisor Email",
    "employmentHistoryStatus": "Employment Status",
    "status": "Status",
    "hireDate": "Hire Date",
    "terminationDate": "Termination Date",
    "location": "Location",
}
SAVED_REPORT_FIELDS = ("employeeNumber", "firstName", "lastName", "workEmail", "status",
                       "supervisorEId", "location")  # fmt: skip


def raas_json(workers: list[dict[str, str]] | None = None) -> bytes:
    body = {"Report_Entry": WORKERS if workers is None else workers}
    return json.dumps(body, indent=2).encode()


def raas_csv(workers: list[dict[str, str]] | None = None) -> bytes:
    rows = WORKERS if workers is None else workers
    columns = list(dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO()
    # Workday's CSV headers are the fields' labels: spaces where the JSON has underscores.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.replace("_", " ") for c in columns])
    writer.writerows([row.get(c, "") for c in columns] for row in rows)
    return out.getvalue().encode()


def bamboo_report(fields: list[str], title: str = "Report") -> bytes:
    """A BambooHR report's JSON with ``fields`` (and ``id``) of every employee."""
    body = {
        "title": title,
        "fields": [{"id": f, "type": "text", "name": BAMBOO_FIELD_NAMES[f]} for f in fields],
        "employees": [{"id": e["id"], **{f: e.get(f) for f in fields}} for e in BAMBOO_EMPLOYEES],
    }
    return json.dumps(body).encode()


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str
    """The scheme only (``Basic``, ``Bearer`` or ``""``): the credential is not kept."""
    body: bytes


@dataclass
class Fault:
    path: str
    kind: str | int
    """A status code, or cut, chunk-cut, close, html, slow, reset, truncate."""
    times: int = 1
    retry_after: str | None = "0"
    delay: float = 0.0
    """``slow``: seconds before the answer."""
    hits: int = 0
    """Requests this fault met."""


class HRServer:
    """Start with ``start()``; ``url`` is every service's root. ``ca_file`` is the private CA
    that issued the server's certificate."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ca_file = folder / "hr-ca.pem"
        self.csv_body = raas_csv()
        self.workers: list[dict[str, str]] = list(WORKERS)
        self.tokens: set[str] = set()
        self.faults: list[Fault] = []
        self.requests: list[Seen] = []
        self.lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> None:
        self._httpd = serve_https(self.folder, self.ca_file, "hr-server", _handler(self))

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"https://127.0.0.1:{self._httpd.server_address[1]}"

    def reset(self) -> None:
        with self.lock:
            self.csv_body = raas_csv()
            self.workers = list(WORKERS)
            self.tokens.clear()
            self.faults.clear()
            self.requests.clear()

    def fault(
        self,
        path: str,
        kind: str | int,
        times: int = 1,
        retry_after: str | None = "0",
        delay: float = 0.0,
    ) -> Fault:
        fault = Fault(path, kind, times, retry_after, delay)
        with self.lock:
            self.faults.append(fault)
        return fault

    def _take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.path == path and fault.times > 0:
                    fault.times -= 1
                    fault.hits += 1
                    return fault
        return None


class _Answer(Exception):
    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "application/json;charset=UTF-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = headers or {}


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> _Answer:
    return _Answer(status, json.dumps(body).encode(), headers=headers)


LOGIN_PAGE = b"""<!DOCTYPE html>
<html><head><title>Sign in</title></head><body><form>Sign in to continue</form></body></html>
"""


def _handler(server: HRServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            authorization = self.headers.get("Authorization", "")
            with server.lock:
                server.requests.append(
                    Seen(
                        method,
                        parts.path,
                        parse_qs(parts.query),
                        authorization.split(" ", 1)[0],
                        body,
                    )  # fmt: skip
                )
            fault = server._take_fault(parts.path)
            try:
                if isinstance(fault, Fault) and isinstance(fault.kind, int):
                    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                    raise _json(fault.kind, {"error": "try again later"}, headers)
                if fault is not None and fault.kind == "html":
                    raise _Answer(200, LOGIN_PAGE, "text/html; charset=utf-8")
                if fault is not None and fault.kind == "slow":
                    time.sleep(fault.delay)
                answer = _route(server, method, parts.path, parse_qs(parts.query), body,
                                authorization, self.headers.get("Content-Type", ""))  # fmt: skip
            except _Answer as raised:
                answer = raised
            self._send(answer, fault.kind if fault is not None else None)

        def _send(self, answer: _Answer, fault: str | int | None) -> None:
            body = answer.body
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if fault == "chunk-cut":
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                half = body[: len(body) // 2]
                self.wfile.write(f"{len(half):x}\r\n".encode() + half + b"\r\n")
                self.wfile.flush()
                self.close_connection = True
                return
            if fault == "close":
                # No length: the end of the connection ends the answer, wherever it comes.
                self.send_header("Connection", "close")
                self.end_headers()
                lines = body.splitlines(keepends=True)
                self.wfile.write(b"".join(lines[: max(2, len(lines) // 2)]))
                self.wfile.flush()
                self.close_connection = True
                return
            if fault == "truncate":
                body = body[: len(body) // 2]  # whole as HTTP goes, cut as JSON or CSV goes
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if fault == "cut":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            if fault == "reset":
                self.wfile.write(body[: len(body) // 2])
                with contextlib.suppress(OSError):
                    self.wfile.flush()
                    # SO_LINGER 0: the close is a TCP reset, not an orderly end.
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


def _basic(authorization: str) -> tuple[str, str] | None:
    scheme, _, value = authorization.partition(" ")
    if scheme != "Basic":
        return None
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


def _route(
    server: HRServer,
    method: str,
    path: str,
    query: dict[str, list[str]],
    body: bytes,
    authorization: str,
    content_type: str,
) -> _Answer:
    if path == TOKEN_PATH:
        if method != "POST":
            raise _json(405, {"error": "method not allowed"})
        return _token(server, body, authorization)
    if path == RAAS_PATH:
        bearer = (
            authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else None
        )
        if _basic(authorization) != (ISU_USER, ISU_PASSWORD) and bearer not in server.tokens:
            raise _json(401, {"error": "Invalid username or password"})
        fmt = (query.get("format") or [""])[0].lower()
        if fmt == "json":
            return _Answer(200, raas_json(server.workers))
        if fmt == "csv":
            return _Answer(200, raas_csv(server.workers), "text/csv;charset=UTF-8")
        xml = (
            b'<?xml version="1.0" encoding="UTF-8"?>'
            b'<wd:Report_Data xmlns:wd="urn:com.workday.report/IAM_Workers"/>'
        )
        return _Answer(200, xml, "application/xml;charset=UTF-8")
    if path == CSV_PATH:
        if _basic(authorization) != (CSV_USER, CSV_PASSWORD):
            raise _Answer(401, b"Unauthorized\n", "text/plain",
                          {"WWW-Authenticate": 'Basic realm="hr"'})  # fmt: skip
        return _Answer(200, server.csv_body, "text/csv; charset=utf-8")
    if path in (BAMBOO_CUSTOM, BAMBOO_SAVED):
        credentials = _basic(authorization)
        if credentials is None or credentials[0] != BAMBOO_KEY:
            raise _Answer(401, b"", "text/html",
                          {"X-BambooHR-Error-Message": "Invalid API key"})  # fmt: skip
        if (query.get("format") or [""])[0] != "JSON":
            raise _Answer(200, b"<?xml version='1.0'?><report/>", "text/xml")
        if path == BAMBOO_SAVED:
            if method != "GET":
                raise _json(405, {"error": "method not allowed"})
            return _Answer(200, bamboo_report(list(SAVED_REPORT_FIELDS), "IAM export"))
        if method != "POST":
            raise _Answer(405, b"", "text/html")
        if "json" not in content_type:
            raise _Answer(400, b"", "text/html", {"X-BambooHR-Error-Message": "Expected JSON"})
        fields = json.loads(body).get("fields")
        if not isinstance(fields, list):
            raise _Answer(400, b"", "text/html", {"X-BambooHR-Error-Message": "No fields"})
        unknown = [f for f in fields if f not in BAMBOO_FIELD_NAMES]
        if unknown:
            raise _Answer(400, b"", "text/html",
                          {"X-BambooHR-Error-Message": f"Unknown field {unknown[:1]}"})  # fmt: skip
        return _Answer(200, bamboo_report(fields))
    raise _json(404, {"error": "not found"})


def _token(server: HRServer, body: bytes, authorization: str) -> _Answer:
    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    client = _basic(authorization) or (form.get("client_id", ""), form.get("client_secret", ""))
    if client != (CLIENT_ID, CLIENT_SECRET):
        raise _json(401, {"error": "invalid_client"})
    grant = form.get("grant_type")
    if grant == "refresh_token":
        if form.get("refresh_token") != REFRESH_TOKEN:
            raise _json(400, {"error": "invalid_grant"})
    elif grant != "client_credentials":
        raise _json(400, {"error": "unsupported_grant_type"})
    token = secrets.token_urlsafe(24)
    with server.lock:
        server.tokens.add(token)
    return _json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})


def running_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HRServer]:
    """A running server, with no proxy in the way: the body of a test module's fixture (its
    tests share the server and ``reset`` it). The system's CA bundle stays: the connector is
    told of the private CA by ``ca_file``."""
    server = HRServer(tmp_path_factory.mktemp("hr-server"))
    server.start()
    with pytest.MonkeyPatch.context() as patch:
        for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                     "all_proxy"):  # fmt: skip
            patch.delenv(name, raising=False)
        patch.setenv("NO_PROXY", "127.0.0.1,localhost")
        try:
            yield server
        finally:
            server.stop()
