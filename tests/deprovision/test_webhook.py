"""`iam-gov hr-webhook`: the real server on 127.0.0.1, spoken to over HTTP. A signed
termination is applied once; a bad, stale or replayed signature, an oversize or unreadable
body change nothing; hold mode keeps the plan for a person and tells them."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import func, select
from typer.testing import CliRunner

from iam_gov import cli_common
from iam_gov.cli_webhook import hr_webhook_command
from iam_gov.config import Config, SmtpSettings
from iam_gov.deprovision import webhook
from iam_gov.deprovision.webhook import (
    WebhookNotConfigured,
    check_signature,
    make_server,
    serve,
    sign,
)
from iam_gov.errors import ConfigError
from iam_gov.store import Store
from iam_gov.store.schema import deprovision_runs, deprovision_steps, hr_events
from tests.deprovision.conftest import DEMO_NOW, LEAVER, Company, company_in, copy_demo

SECRET = "hr-webhook-test-secret-5e1f0c"
SECRET_ENV = "IAM_GOV_TEST_HR_WEBHOOK_SECRET"
NOW = DEMO_NOW
LEAVERS_PEER = "NGJbJZADIu/8fHAhMymmeSbJRUpVGAuWu55YGQwrkUs="


def webhook_toml(mode: str = "apply", held: str = "held") -> str:
    return (
        f'[hr_webhook]\nsecret = {{ env = "{SECRET_ENV}" }}\nmode = "{mode}"\n'
        f'held_folder = "{held}"\nnotify = ["it-ops@example.com"]\n'
    )


def event(event_id: str = "evt-1001", kind: str = "employee.terminated", **more: Any) -> bytes:
    data = {"event_id": event_id, "type": kind, "employee": {"id": LEAVER}, **more}
    return json.dumps(data).encode()


def signed(body: bytes, *, at: int | None = None, secret: str = SECRET) -> dict[str, str]:
    timestamp = int(NOW.timestamp()) if at is None else at
    return {
        "Content-Type": "application/json",
        "X-IamGov-Timestamp": str(timestamp),
        "X-IamGov-Signature": sign(secret.encode(), timestamp, body),
    }


def with_webhook(config: Config, **changes: Any) -> Config:
    assert config.hr_webhook is not None
    return config.model_copy(update={"hr_webhook": config.hr_webhook.model_copy(update=changes)})


@contextmanager
def running(company: Company, config: Config | None = None) -> Iterator[str]:
    """The receiver on a free port of 127.0.0.1, its clock at the demo's day; its URL."""
    server = make_server(
        company.store, config or company.config, company.policy, clock=lambda: NOW, port=0
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass(frozen=True)
class State:
    wg_conf: bytes
    events: list[tuple[str, str, int | None]]
    runs: int


def state(company: Company) -> State:
    with company.store.reading() as conn:
        events = [
            (str(r.event_id), str(r.status), r.run_id)
            for r in conn.execute(
                select(hr_events.c.event_id, hr_events.c.status, hr_events.c.run_id).order_by(
                    hr_events.c.event_id
                )
            )
        ]
        runs = conn.execute(select(func.count()).select_from(deprovision_runs)).scalar_one()
    return State(company.wg_conf.read_bytes(), events, int(runs))


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One client for the module: making one per request costs more than the request."""
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Company]:
    """One demo company (SQLite) for the tests that must change nothing: none applies a plan,
    so each can compare the state before and after."""
    root = tmp_path_factory.mktemp("webhook")
    with Store.open(f"sqlite:///{root}/iam-gov.db") as store:
        yield company_in(root / "demo", store, webhook_toml())


# --- the signature ----------------------------------------------------------------------------


def test_the_signature_is_an_hmac_of_timestamp_and_body() -> None:
    body = b'{"event_id": "e1"}'
    expected = hmac.new(b"k" * 16, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(b"k" * 16, 1700000000, body) == f"sha256={expected}"


def test_each_bad_signature_has_its_own_reason() -> None:
    key, body, ts = SECRET.encode(), event(), int(NOW.timestamp())
    good = sign(key, ts, body)

    def why(timestamp: str | None, signature: str | None, payload: bytes = body) -> str | None:
        return check_signature(key, timestamp, signature, payload, now=NOW, tolerance_seconds=300)

    assert why(str(ts), good) is None
    assert why(str(ts - 300), sign(key, ts - 300, body)) is None
    reasons = [
        why(None, good),
        why("yesterday", good),
        why(str(ts), None),
        why(str(ts), good.removeprefix("sha256=")),
        why(str(ts - 301), sign(key, ts - 301, body)),
        why(str(ts + 301), sign(key, ts + 301, body)),
        why(str(ts), sign(b"another-secret-entirely", ts, body)),
        why(str(ts), good, body + b" "),
    ]
    assert all(r is not None for r in reasons)
    assert len(set(reasons)) == len(reasons) - 1  # a wrong secret and a changed body look alike
    assert "301 s behind" in str(reasons[4]) and "301 s ahead" in str(reasons[5])
    for reason in reasons:
        assert SECRET not in str(reason) and good not in str(reason) and "evt-" not in str(reason)


# --- applying, once ---------------------------------------------------------------------------


def test_a_signed_termination_is_applied_once(
    store: Store, tmp_path: Path, http: httpx.Client
) -> None:
    company = company_in(tmp_path / "demo", store, webhook_toml("apply"))
    assert LEAVERS_PEER.encode() in company.wg_conf.read_bytes()
    body = event()
    with running(company) as url:
        first = http.post(url, content=body, headers=signed(body))
        after = state(company)
        again = http.post(url, content=body, headers=signed(body))
        resigned = http.post(url, content=body, headers=signed(body, at=int(NOW.timestamp()) + 60))
    assert first.status_code == 202, first.text
    # Every other system of the demo is an export (its steps are skipped): the run is partial.
    assert first.json()["status"] in {"applied", "partial"}
    assert LEAVERS_PEER.encode() not in after.wg_conf
    assert after.runs == 1
    [(event_id, status, run_id)] = after.events
    assert (event_id, status) == ("evt-1001", first.json()["status"]) and run_id is not None
    with store.reading() as conn:
        outcome = conn.execute(
            select(deprovision_steps.c.outcome).where(
                deprovision_steps.c.run_id == run_id, deprovision_steps.c.system == "wireguard"
            )
        ).scalar_one()
    assert outcome == "done"
    for replay in (again, resigned):
        assert replay.status_code == 409
        assert replay.json()["status"] == "duplicate"
        assert "nothing done again" in replay.json()["message"]
    assert state(company) == after
    if first.json()["status"] == "partial":  # a person is told what is left to do
        [notice] = (company.root / "held").glob("*.eml")
        assert "Deprovisioning incomplete: Erik Reyes (E1019)" in notice.read_text()


# --- refusals that change nothing -------------------------------------------------------------


def test_a_bad_signature_is_refused_and_logged(
    quiet: Company, caplog: pytest.LogCaptureFixture, http: httpx.Client
) -> None:
    before = state(quiet)
    body = event("evt-forged")
    headers = signed(body, secret="not-the-secret-at-all-0000")
    caplog.set_level(logging.INFO, logger="iam_gov.hr_webhook")
    with running(quiet) as url:
        answer = http.post(url, content=body, headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {
        "status": "unauthorized",
        "message": "the signature does not match: a different secret, or the body was changed",
    }
    assert state(quiet) == before
    [line] = [
        r for r in caplog.records if r.name == "iam_gov.hr_webhook" and r.levelno >= logging.WARNING
    ]
    assert line.levelno == logging.WARNING
    assert "signature does not match" in line.getMessage()
    assert "from 127.0.0.1:" in line.getMessage()
    logged = caplog.text
    assert SECRET not in logged and headers["X-IamGov-Signature"] not in logged


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (signed(event("evt-old"), at=int(NOW.timestamp()) - 301), "301 s behind"),
        (signed(event("evt-old"), at=int(NOW.timestamp()) + 3600), "3600 s ahead"),
        ({"X-IamGov-Timestamp": str(int(NOW.timestamp()))}, "no X-IamGov-Signature"),
        ({}, "no X-IamGov-Timestamp"),
    ],
)
def test_a_stale_or_unsigned_request_is_refused(
    quiet: Company, headers: dict[str, str], reason: str, http: httpx.Client
) -> None:
    before = state(quiet)
    with running(quiet) as url:
        answer = http.post(url, content=event("evt-old"), headers=headers)
    assert answer.status_code == 401
    assert reason in answer.json()["message"]
    assert state(quiet) == before


def test_the_clock_window_is_the_configured_tolerance(quiet: Company, http: httpx.Client) -> None:
    body = event("evt-window", kind="employee.transferred")
    late = int((NOW - timedelta(seconds=90)).timestamp())
    with running(quiet, with_webhook(quiet.config, tolerance_seconds=60)) as url:
        answer = http.post(url, content=body, headers=signed(body, at=late))
    assert answer.status_code == 401 and "at most 60 s" in answer.json()["message"]


def test_an_oversize_body_is_refused_unread(quiet: Company, http: httpx.Client) -> None:
    before = state(quiet)
    body = event("evt-big", reason="x" * 2000)
    with running(quiet, with_webhook(quiet.config, max_body_bytes=1024)) as url:
        answer = http.post(url, content=body, headers=signed(body))
        unsized = raw_post(url, b"POST /hr-events HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.status_code == 413
    assert answer.json() == {
        "status": "too-large",
        "message": f"the body is {len(body)} bytes; at most 1024",
    }
    assert unsized.startswith(b"HTTP/1.1 411 ")
    assert state(quiet) == before


def raw_post(url: str, request: bytes) -> bytes:
    parsed = httpx.URL(url)
    with socket.create_connection((parsed.host, parsed.port), timeout=5) as sock:
        sock.sendall(request)
        return sock.recv(4096)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"event_id": "evt-cut", "type": ', "hr-webhook: line 1: not JSON"),
        (b'["evt-list"]', "an event is a JSON object, not list"),
        (json.dumps({"event_id": "evt-x", "type": "leaver"}).encode(), "names nobody"),
        (event("evt-date", effective_date="07/12/2026"), "effective_date: '07/12/2026'"),
    ],
)
def test_an_unreadable_event_is_a_bad_request(
    quiet: Company, body: bytes, problem: str, http: httpx.Client
) -> None:
    before = state(quiet)
    with running(quiet) as url:
        answer = http.post(url, content=body, headers=signed(body))
    assert answer.status_code == 400
    assert answer.json()["status"] == "bad-event"
    assert problem in answer.json()["message"]
    assert state(quiet) == before


def test_other_paths_and_methods(quiet: Company, http: httpx.Client) -> None:
    with running(quiet) as url:
        get = http.get(url)
        elsewhere = http.post(url.replace("/hr-events", "/admin"), content=b"{}")
    assert get.status_code == 405 and get.headers["Allow"] == "POST"
    assert elsewhere.status_code == 404


# --- hold mode, other events ------------------------------------------------------------------


def test_hold_mode_keeps_the_plan_and_writes_a_notice(
    quiet: Company, tmp_path: Path, http: httpx.Client
) -> None:
    before = state(quiet)
    held = tmp_path / "held"
    body = event("evt-hold")
    with running(quiet, with_webhook(quiet.config, mode="hold", held_folder=held)) as url:
        answer = http.post(url, content=body, headers=signed(body))
    assert answer.status_code == 202
    assert answer.json()["status"] == "held"
    [plan] = held.glob("*.json")
    [notice] = held.glob("*.eml")
    assert notice.stem == plan.stem
    message = email.message_from_bytes(notice.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["To"] == "it-ops@example.com"
    assert message["Subject"] == "Deprovisioning held for approval: Erik Reyes (E1019)"
    text = message.get_content()
    assert f"iam-gov deprovision --apply --plan {plan}" in text
    assert "HR event evt-hold (employee.terminated: E1019)" in text
    assert "Nothing has been changed yet" in text
    after = state(quiet)
    assert (after.wg_conf, after.runs) == (before.wg_conf, before.runs)
    assert ("evt-hold", "held", None) in after.events


def test_a_non_termination_event_is_recorded_and_ignored(
    quiet: Company, http: httpx.Client
) -> None:
    before = state(quiet)
    body = event("evt-hire", kind="employee.hired")
    with running(quiet) as url:
        answer = http.post(url, content=body, headers=signed(body))
    assert answer.status_code == 202
    assert answer.json()["status"] == "ignored"
    after = state(quiet)
    assert (after.wg_conf, after.runs) == (before.wg_conf, before.runs)
    assert ("evt-hire", "ignored", None) in after.events


def test_an_event_for_someone_hr_does_not_know_is_recorded_and_reported(
    quiet: Company, tmp_path: Path, http: httpx.Client
) -> None:
    body = json.dumps({"event_id": "evt-nobody", "type": "leaver", "employee_id": "E9999"})
    config = with_webhook(quiet.config, held_folder=tmp_path)
    with running(quiet, config) as url:
        answer = http.post(url, content=body.encode(), headers=signed(body.encode()))
    assert answer.status_code == 422
    assert answer.json()["status"] == "not-acted-on"
    assert "HR (the store's latest HR snapshot) does not know E9999" in answer.json()["message"]
    [notice] = tmp_path.glob("*.eml")
    text = notice.read_text()
    assert "Subject: HR event not acted on: evt-nobody" in text
    assert "a new delivery of it is refused as a duplicate" in text


@dataclass
class Mailbox:
    received: list[tuple[list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append((list(envelope.rcpt_tos), envelope.original_content or b""))
        return "250 OK"


def test_a_held_plans_notice_goes_through_the_mail_server(
    quiet: Company, tmp_path: Path, http: httpx.Client
) -> None:
    box = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = SmtpSettings(
            host="127.0.0.1", port=port, security="none", sender="iam-gov@example.com"
        )
        config = with_webhook(quiet.config, mode="hold", held_folder=tmp_path / "held")
        config = config.model_copy(
            update={"review": config.review.model_copy(update={"smtp": smtp})}
        )
        body = event("evt-mailed")
        with running(quiet, config) as url:
            answer = http.post(url, content=body, headers=signed(body))
    finally:
        controller.stop()
    assert answer.json()["status"] == "held"
    [(recipients, content)] = box.received
    assert recipients == ["it-ops@example.com"]
    assert b"Subject: Deprovisioning held for approval: Erik Reyes (E1019)" in content
    assert list((tmp_path / "held").glob("*.eml")) == []


# --- starting and stopping --------------------------------------------------------------------


def test_what_keeps_it_from_starting(quiet: Company, monkeypatch: pytest.MonkeyPatch) -> None:
    def start(config: Config) -> None:
        make_server(quiet.store, config, quiet.policy, port=0).server_close()

    with pytest.raises(WebhookNotConfigured, match=r"no \[hr_webhook\] section") as missing:
        start(quiet.config.model_copy(update={"hr_webhook": None}))
    assert "[hr_webhook]" in missing.value.problems and "mode = " in str(missing.value)
    with pytest.raises(ConfigError, match='mode = "hold" needs held_folder'):
        start(with_webhook(quiet.config, mode="hold", held_folder=None))
    with pytest.raises(ConfigError, match=r"hr_webhook.notify: not an address: not an e-mail"):
        start(with_webhook(quiet.config, notify=("not an address",)))
    monkeypatch.setenv(SECRET_ENV, "short")
    with pytest.raises(ConfigError, match="too short to sign with"):
        start(quiet.config)
    monkeypatch.delenv(SECRET_ENV)
    with pytest.raises(ConfigError, match=f"environment variable {SECRET_ENV} is not set"):
        start(quiet.config)


def test_it_serves_until_sigterm(quiet: Company, http: httpx.Client) -> None:
    server = make_server(quiet.store, quiet.config, quiet.policy, clock=lambda: NOW, port=0)
    answers: list[httpx.Response] = []
    body = event("evt-before-stop", kind="employee.transferred")

    def client() -> None:
        try:
            answers.append(http.post(server.url, content=body, headers=signed(body)))
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    threading.Timer(0.05, client).start()
    serve(server, poll_interval=0.05)
    assert [a.status_code for a in answers] == [202]
    assert signal.getsignal(signal.SIGTERM) == before
    with pytest.raises(httpx.ConnectError):
        http.post(server.url, content=body, headers=signed(body))


# --- the command ------------------------------------------------------------------------------


def test_the_command_refuses_without_a_section_and_says_where_it_listens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = typer.Typer()
    app.command("hr-webhook")(hr_webhook_command)
    app.command("other")(lambda: None)  # a group, as in iam-gov: `hr-webhook` is a subcommand
    monkeypatch.setattr(cli_common.options, "database_url", f"sqlite:///{tmp_path}/iam-gov.db")
    monkeypatch.setattr(cli_common.options, "config", copy_demo(tmp_path / "bare"))
    refused = CliRunner().invoke(app, ["hr-webhook"])
    assert isinstance(refused.exception, WebhookNotConfigured)

    served: list[str] = []

    def serve_not(server: webhook.WebhookServer) -> None:
        served.append(server.url)
        server.server_close()

    monkeypatch.setattr(webhook, "serve", serve_not)
    monkeypatch.setattr(
        cli_common.options, "config", copy_demo(tmp_path / "set", webhook_toml("hold"))
    )
    result = CliRunner().invoke(app, ["hr-webhook", "--port", "0", "--listen", "127.0.0.1"])
    assert result.exit_code == 0, result.output
    [url] = served
    assert url.startswith("http://127.0.0.1:") and url != "http://127.0.0.1:0/hr-events"
    assert f"listening on {url}" in result.output and "mode hold" in result.output
