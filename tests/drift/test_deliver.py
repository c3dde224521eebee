"""Delivering a drift report: the dated folder (atomic, unique, owner-only, ``latest``), a
webhook on a real HTTP server on 127.0.0.1 (JSON, Slack, Teams bodies; retries, Retry-After,
no retry on 4xx, timeouts; the URL never shown), e-mail through a real SMTP server
(aiosmtpd), and ``deliver`` keeping the folder whatever else fails."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import os
import socket
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from iam_gov.config import Config, DriftEmail, DriftWebhook, load_config
from iam_gov.configtypes import SecretRef
from iam_gov.drift import deliver as deliver_module
from iam_gov.drift.deliver import (
    LATEST,
    DeliveryResult,
    deliver,
    delivery_exit_code,
    email_report,
    folder_name,
    folder_time,
    post_webhook,
    write_report_folder,
)
from iam_gov.drift.model import (
    EXIT_DELIVERY,
    EXIT_FINDINGS,
    EXIT_OK,
    Baseline,
    DriftReport,
    FindingChange,
    Summary,
    SystemState,
)

MADE_AT = datetime(2025, 1, 23, 8, 0, 5, tzinfo=UTC)
URL_ENV = "IAM_GOV_TEST_DRIFT_WEBHOOK_URL"
TOKEN = "T0SECRET/B0SECRET/xoxb-9f2c-not-to-be-seen"
EVIL = "<!channel> & <https://evil.example|click> [here](https://evil.example) *bold*"
FILES = {
    "drift.md": b"# Drift\n",
    "drift.html": b"<!doctype html><title>Drift</title><p>Drift report</p>",
    "drift.json": b"{}\n",
    "grants.csv": b"system,login\n",
}


def make_report(*, exit_code: int = EXIT_FINDINGS, company: str | None = "Acme") -> DriftReport:
    return DriftReport(
        made_at=MADE_AT,
        company=company,
        baseline=Baseline(kind="previous", snapshot_ids={"okta": 1}),
        snapshot_ids={"okta": 2, "hr": 3},
        fail_on="high",
        exit_code=exit_code,
        failures=["okta: could not be collected: HTTP 503 " + EVIL],
        systems=[
            SystemState(
                system="okta", snapshot_id=2, collected_at=MADE_AT, complete=True, stale=True
            ),
            SystemState(
                system="hr", snapshot_id=3, collected_at=MADE_AT, complete=True, stale=False
            ),
        ],
        summary=Summary(
            findings_new=2,
            new_at_or_above_threshold=1,
            findings_resolved=1,
            findings_open=7,
            grants_added=4,
            grants_removed=1,
            stale_systems=1,
        ),
        findings=[
            FindingChange(
                finding_id="f1",
                rule_id="dormant-account",
                severity="medium",
                system="okta",
                subject="okta:carl",
                message="dormant",
                change="new",
            ),
            FindingChange(
                finding_id="f2",
                rule_id="leaver-active",
                severity="high",
                system="okta",
                subject=EVIL,
                message="a leaver",
                change="new",
            ),
        ],
    )


# --- a webhook receiver ---------------------------------------------------------------------


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Hook:
    """A local HTTP server: answers POSTs from ``answers`` in order (then 200), or never
    (``hang``); records every request."""

    port: int
    requests: list[Recorded] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    hang: bool = False
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/{TOKEN}"


@pytest.fixture
def hook() -> Iterator[Hook]:
    state: list[Hook] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            box = state[0]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            box.requests.append(Recorded(self.path, dict(self.headers.items()), body))
            if box.hang:
                box.release.wait(10)
                return
            status, headers, payload = box.answers.pop(0) if box.answers else (200, {}, b"ok")
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.append(Hook(port=server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state[0]
    finally:
        state[0].release.set()
        server.shutdown()
        server.server_close()


def webhook(
    hook: Hook,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str = "json",
    *,
    retries: int = 3,
    timeout: float = 5,
) -> DriftWebhook:
    monkeypatch.setenv(URL_ENV, hook.url)
    return DriftWebhook.model_validate(
        {"url": {"env": URL_ENV}, "format": fmt, "retries": retries, "timeout_seconds": timeout}
    )


def no_token(*texts: object) -> None:
    for text in texts:
        assert "xoxb-9f2c" not in str(text)
        assert "T0SECRET" not in str(text)


# --- the folder -----------------------------------------------------------------------------


def test_the_folder_is_named_for_the_time_owner_only_and_latest_points_at_it(
    tmp_path: Path,
) -> None:
    root = tmp_path / "reports"
    folder = write_report_folder(root, FILES, MADE_AT)
    assert folder == root / "2025-01-23T080005Z"
    assert folder_name(MADE_AT) == folder.name
    assert folder_time(folder.name) == MADE_AT
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == FILES
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}
    latest = root / LATEST
    assert latest.is_symlink() and os.readlink(latest) == folder.name
    assert (latest / "drift.html").read_bytes() == FILES["drift.html"]
    assert sorted(p.name for p in root.iterdir()) == [folder.name, LATEST]


def test_two_reports_in_the_same_second_get_two_folders(tmp_path: Path) -> None:
    first = write_report_folder(tmp_path, {"drift.md": b"one"}, MADE_AT)
    second = write_report_folder(tmp_path, {"drift.md": b"two"}, MADE_AT)
    assert (first.name, second.name) == ("2025-01-23T080005Z", "2025-01-23T080005Z-2")
    assert (first / "drift.md").read_bytes() == b"one"
    assert (second / "drift.md").read_bytes() == b"two"
    assert os.readlink(tmp_path / LATEST) == second.name
    assert folder_time(second.name) == MADE_AT


def test_concurrent_writers_never_share_or_overwrite_a_folder(tmp_path: Path) -> None:
    def write(n: int) -> Path:
        return write_report_folder(tmp_path, {"drift.md": str(n).encode()}, MADE_AT)

    with ThreadPoolExecutor(8) as pool:
        folders = list(pool.map(write, range(16)))
    assert len(set(folders)) == 16
    assert sorted((f / "drift.md").read_text() for f in folders) == sorted(map(str, range(16)))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_folder_that_fails_half_way_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync
    calls: list[int] = []

    def failing_fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(deliver_module.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space"):
        write_report_folder(tmp_path, FILES, MADE_AT)
    assert list(tmp_path.iterdir()) == []


def test_file_names_must_be_plain(tmp_path: Path) -> None:
    for bad in ("../x", "a/b", ".hidden", "latest", ""):
        with pytest.raises(ValueError):
            write_report_folder(tmp_path, {bad: b"x"}, MADE_AT)
    with pytest.raises(ValueError):
        write_report_folder(tmp_path, {}, MADE_AT)
    assert not [p for p in tmp_path.iterdir() if p.name != LATEST]


def test_folder_names_and_only_they_parse() -> None:
    assert folder_time("2025-01-23T080005Z-12") == MADE_AT
    for other in ("latest", "2025-01-23", "2025-01-23T080005Z.bak", "2025-13-40T996699Z", "x"):
        assert folder_time(other) is None


# --- webhook bodies -------------------------------------------------------------------------


def test_json_is_the_report_itself(hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    report = make_report()
    result = post_webhook(webhook(hook, monkeypatch), report)
    assert result.ok and result.attempts == 1 and result.detail == "HTTP 200 OK"
    (request,) = hook.requests
    assert request.path == f"/services/{TOKEN}"
    assert request.headers["Content-Type"].startswith("application/json")
    assert DriftReport.model_validate(request.json()) == report


def test_slack_message_failures_first_and_escaped(
    hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = make_report()
    result = post_webhook(
        webhook(hook, monkeypatch, "slack"), report, html_path=Path("/srv/r/drift.html")
    )
    assert result.ok
    body = hook.requests[0].json()
    assert set(body) == {"text", "blocks"}
    assert "exit 1" in body["text"] and "Acme" in body["text"]
    blocks = body["blocks"]
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]
    assert "Failures" in texts[1]  # right after the title
    assert "Stale systems:* okta" in texts[2]
    fields = next(b["fields"] for b in blocks if "fields" in b)
    assert {"type": "mrkdwn", "text": "*New findings*\n2 (1 at or above high)"} in fields
    assert len(fields) <= 10
    new = next(t for t in texts if t.startswith("*New findings*"))
    assert new.index("leaver-active") < new.index("dormant-account")  # high before medium
    context = blocks[-1]
    assert context["type"] == "context"
    assert "Exit code 1: new findings at or above high" in context["elements"][0]["text"]
    assert "/srv/r/drift.html" in context["elements"][0]["text"]
    raw = json.dumps(body)
    escaped = "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;"
    assert escaped in texts[1] and escaped in new
    for text in [body["text"], *texts]:
        assert "<" not in text and ">" not in text
    assert "<!channel>" not in raw


def test_teams_adaptive_card(hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    result = post_webhook(webhook(hook, monkeypatch, "teams"), make_report())
    assert result.ok
    body = hook.requests[0].json()
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    kinds = [element["type"] for element in card["body"]]
    assert set(kinds) <= {"TextBlock", "FactSet"} and "FactSet" in kinds
    assert card["body"][1]["color"] == "Attention"
    assert card["body"][2]["text"] == "Failures"
    facts = next(e["facts"] for e in card["body"] if e["type"] == "FactSet")
    assert {"title": "Open findings", "value": "7"} in facts
    texts = " ".join(e.get("text", "") for e in card["body"])
    assert "[here](https" not in texts  # no link from the data
    assert r"\[here\](https://evil.example)" in texts
    assert r"\*bold\*" in texts
    assert "2025-01-23 08:00 UTC" in card["body"][0]["text"]


def test_a_quiet_run_looks_good(hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    report = make_report(exit_code=EXIT_OK, company=None).model_copy(
        update={"failures": [], "findings": [], "systems": [], "summary": Summary()}
    )
    assert post_webhook(webhook(hook, monkeypatch, "teams"), report).ok
    assert post_webhook(webhook(hook, monkeypatch, "slack"), report).ok
    card = hook.requests[0].json()["attachments"][0]["content"]
    assert card["body"][1]["color"] == "Good"
    slack = hook.requests[1].json()
    assert "Failures" not in json.dumps(slack)
    assert "nothing new at or above high" in slack["blocks"][-1]["elements"][0]["text"]


# --- webhook retries ------------------------------------------------------------------------


def test_503_is_retried_with_backoff_then_succeeds(
    hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook.answers = [(503, {}, b"busy"), (503, {}, b"busy")]
    waits: list[float] = []
    result = post_webhook(webhook(hook, monkeypatch), make_report(), sleep=waits.append)
    assert result.ok and result.attempts == 3
    assert len(hook.requests) == 3
    assert len(waits) == 2 and 0.5 <= waits[0] <= 1 and 1 <= waits[1] <= 2


def test_429_waits_as_long_as_retry_after_says(hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    hook.answers = [(429, {"Retry-After": "7"}, b"slow down")]
    waits: list[float] = []
    result = post_webhook(webhook(hook, monkeypatch, "slack"), make_report(), sleep=waits.append)
    assert result.ok and result.attempts == 2
    assert waits == [7.0]


def test_a_real_wait(hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    hook.answers = [(429, {"Retry-After": "0.2"}, b"")]
    assert post_webhook(webhook(hook, monkeypatch), make_report()).ok
    assert len(hook.requests) == 2


def test_400_is_not_retried(hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    hook.answers = [(400, {}, b"invalid_blocks")]
    waits: list[float] = []
    result = post_webhook(webhook(hook, monkeypatch, "slack"), make_report(), sleep=waits.append)
    assert not result.ok and result.attempts == 1
    assert result.detail == "HTTP 400 Bad Request: invalid_blocks"
    assert len(hook.requests) == 1 and waits == []


def test_5xx_until_the_retries_run_out(hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    hook.answers = [(500, {}, b"oops")] * 5
    waits: list[float] = []
    result = post_webhook(webhook(hook, monkeypatch, retries=2), make_report(), sleep=waits.append)
    assert not result.ok and result.attempts == 3 and len(hook.requests) == 3
    assert result.detail == "HTTP 500 Internal Server Error: oops (after 3 attempts)"
    assert len(waits) == 2


def test_a_server_that_never_answers_times_out(hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    hook.hang = True
    waits: list[float] = []
    result = post_webhook(
        webhook(hook, monkeypatch, retries=1, timeout=0.3), make_report(), sleep=waits.append
    )
    assert not result.ok and result.attempts == 2
    assert result.detail == "no answer within 0.3 s (after 2 attempts)"
    assert len(hook.requests) == 2


def test_nothing_listening(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(URL_ENV, f"http://127.0.0.1:{port}/services/{TOKEN}")
    settings = DriftWebhook(url=SecretRef(env=URL_ENV), retries=1)
    result = post_webhook(settings, make_report(), sleep=lambda _: None)
    assert not result.ok and result.attempts == 2
    assert result.detail.startswith("cannot connect: ")
    assert result.target == "webhook (json) at http://127.0.0.1/…"
    no_token(result)


def test_the_url_is_never_shown(
    hook: Hook, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hook.answers = [(503, {}, f"bad hook /services/{TOKEN}".encode()), (404, {}, TOKEN.encode())]
    result = post_webhook(webhook(hook, monkeypatch, "slack"), make_report(), sleep=lambda _: None)
    assert not result.ok
    assert "HTTP Request: POST" in caplog.text  # httpx's own log line, with the URL masked
    assert "http://127.0.0.1/…" in caplog.text
    no_token(result, repr(result), caplog.text)


def test_an_unset_url_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    result = post_webhook(DriftWebhook(url=SecretRef(env=URL_ENV)), make_report())
    assert not result.ok and result.attempts == 0
    assert f"environment variable {URL_ENV} is not set" in result.detail


# --- e-mail ---------------------------------------------------------------------------------


@dataclass
class Mailbox:
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    """What DATA is answered, in order, before "250 OK"."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.answers:
            return self.answers.pop(0)
        message = email.message_from_bytes(
            envelope.original_content or b"", policy=email.policy.default
        )
        assert isinstance(message, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@dataclass
class Relay:
    port: int
    box: Mailbox


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def relay() -> Iterator[Relay]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield Relay(controller.port, box)
    finally:
        controller.stop()


def make_config(folder: Path, *, smtp_port: int | None = None, drift: str = "") -> Config:
    text = '[policy]\npath = "policy.yaml"\n\n[systems.hr]\ntype = "hr"\npath = "hr.csv"\n\n'
    if smtp_port is not None:
        text += (
            f'[review.smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n'
            'sender = "iam-gov@example.com"\ntimeout_seconds = 5\n\n'
        )
    path = folder / "iam-gov.toml"
    path.write_text(text + drift)
    return load_config(path)


EMAIL = DriftEmail(to=("sec@example.com", "ops@example.com"))


def test_the_html_report_by_email(tmp_path: Path, relay: Relay) -> None:
    config = make_config(tmp_path, smtp_port=relay.port)
    result = email_report(config, EMAIL, make_report(), FILES["drift.html"])
    assert result.ok and result.attempts == 1 and result.detail == "sent"
    assert result.target == (
        f"e-mail to sec@example.com, ops@example.com through 127.0.0.1:{relay.port} (none)"
    )
    ((rcpt, message),) = relay.box.received
    assert rcpt == ["sec@example.com", "ops@example.com"]
    assert message["Subject"].startswith("[iam-gov] Acme drift 2025-01-23: exit 1: 1 failure")
    assert message["From"] == "iam-gov@example.com"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    assert "Exit code 1: new findings at or above high." in plain.get_content()
    assert "Failures:" in plain.get_content()
    assert html.get_content().rstrip() == FILES["drift.html"].decode()


def test_a_temporary_refusal_is_tried_once_more(tmp_path: Path, relay: Relay) -> None:
    relay.box.answers = ["451 4.3.0 Try again later"]
    waits: list[float] = []
    config = make_config(tmp_path, smtp_port=relay.port)
    result = email_report(config, EMAIL, make_report(), FILES["drift.html"], sleep=waits.append)
    assert result.ok and result.attempts == 2
    assert waits == [deliver_module.EMAIL_RETRY_SECONDS]
    assert len(relay.box.received) == 1


def test_a_permanent_refusal_is_not_retried(tmp_path: Path, relay: Relay) -> None:
    relay.box.answers = ["554 5.7.1 Rejected"]
    waits: list[float] = []
    config = make_config(tmp_path, smtp_port=relay.port)
    result = email_report(config, EMAIL, make_report(), FILES["drift.html"], sleep=waits.append)
    assert not result.ok and result.attempts == 1 and waits == []
    assert "554 5.7.1 Rejected" in result.detail


def test_an_unreachable_mail_server_is_tried_twice(tmp_path: Path) -> None:
    waits: list[float] = []
    config = make_config(tmp_path, smtp_port=free_port())
    result = email_report(config, EMAIL, make_report(), FILES["drift.html"], sleep=waits.append)
    assert not result.ok and result.attempts == 2 and len(waits) == 1
    assert "cannot reach the mail server" in result.detail
    assert result.detail.endswith("(after 2 attempts)")


def test_no_mail_server_configured(tmp_path: Path) -> None:
    result = email_report(make_config(tmp_path), EMAIL, make_report(), FILES["drift.html"])
    assert not result.ok and "set [review.smtp]" in result.detail


def test_a_bad_recipient_is_named_and_the_others_get_it(tmp_path: Path, relay: Relay) -> None:
    config = make_config(tmp_path, smtp_port=relay.port)
    settings = DriftEmail(to=("sec@example.com", "x@example.com\r\nBcc: evil@example.com"))
    result = email_report(config, settings, make_report(), FILES["drift.html"])
    assert not result.ok and "line break" in result.detail
    ((rcpt, message),) = relay.box.received
    assert rcpt == ["sec@example.com"] and "Bcc" not in message


# --- all channels ---------------------------------------------------------------------------


def test_a_failed_webhook_keeps_the_folder_and_sets_the_exit_code(
    tmp_path: Path, hook: Hook, relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(URL_ENV, hook.url)
    config = make_config(
        tmp_path,
        smtp_port=relay.port,
        drift=(
            f'[drift.webhook]\nurl = {{ env = "{URL_ENV}" }}\nformat = "slack"\n\n'
            '[drift.email]\nto = ["sec@example.com"]\n'
        ),
    )
    hook.answers = [(403, {}, b"invalid_token")]
    report = make_report()
    results = deliver(config, report, FILES, sleep=lambda _: None)
    assert [(r.channel, r.ok) for r in results] == [
        ("folder", True),
        ("webhook", False),
        ("email", True),
    ]
    folder = results[0].path
    assert folder is not None and folder.parent == tmp_path / "reports"
    assert {p.name for p in folder.iterdir()} == set(FILES)
    assert "HTTP 403" in results[1].detail
    assert delivery_exit_code(report.exit_code, results) == EXIT_DELIVERY
    assert "/reports/2025-01-23T080005Z/drift.html" in json.dumps(hook.requests[0].json())
    no_token(*results)


def test_everything_delivered_keeps_the_report_exit_code(tmp_path: Path, hook: Hook) -> None:
    config = make_config(tmp_path)
    results = deliver(config, make_report(), FILES, root=tmp_path / "out")
    assert [(r.channel, r.ok) for r in results] == [("folder", True)]
    assert results[0].path == tmp_path / "out" / "2025-01-23T080005Z"
    assert delivery_exit_code(EXIT_FINDINGS, results) == EXIT_FINDINGS
    assert delivery_exit_code(EXIT_OK, []) == EXIT_OK


def test_an_unwritable_folder_is_a_result_not_an_exception(tmp_path: Path) -> None:
    blocker = tmp_path / "reports"
    blocker.write_text("a file where the folder should be")
    config = make_config(tmp_path, drift='[drift.email]\nto = ["sec@example.com"]\n')
    results = deliver(config, make_report(), FILES)
    assert [(r.channel, r.ok) for r in results] == [("folder", False), ("email", False)]
    assert results[0].detail.startswith("cannot write: ")
    assert delivery_exit_code(EXIT_OK, results) == EXIT_DELIVERY
    assert blocker.read_text().startswith("a file")


def test_email_needs_the_html(tmp_path: Path) -> None:
    config = make_config(tmp_path, drift='[drift.email]\nto = ["sec@example.com"]\n')
    results = deliver(config, make_report(), {"drift.json": b"{}"})
    assert results[1] == DeliveryResult(
        "email", False, "e-mail", "no HTML report was rendered to send", 0
    )
