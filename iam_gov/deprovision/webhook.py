"""``iam-gov hr-webhook``: an HTTP receiver for HR systems that push events. Each signed event
is recorded once (``service.handle_event``); a termination becomes a deprovisioning plan,
applied at once (``mode = "apply"``) or held in a folder for a human (``mode = "hold"``), who
is sent a notice. Headless: the command line (``iam_gov/cli_webhook.py``) only starts it.

The signature, which the HR side must send with every request (``POST /hr-events``, the
event as JSON in the body, see ``events``)::

    X-IamGov-Timestamp: <unix time in whole seconds, when the request was signed>
    X-IamGov-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

The HMAC covers the timestamp exactly as sent in its header, a full stop, then the raw bytes
of the body, exactly as sent (sign the bytes you send, not a re-serialised object). The
secret is ``[hr_webhook] secret``. In a shell::

    ts=$(date +%s)
    sig=$( { printf '%s.' "$ts"; cat event.json; } \\
           | openssl dgst -sha256 -hmac "$HR_WEBHOOK_SECRET" -hex | sed 's/^.* //')
    curl --data-binary @event.json -H "Content-Type: application/json" \\
         -H "X-IamGov-Timestamp: $ts" -H "X-IamGov-Signature: sha256=$sig" \\
         http://127.0.0.1:8787/hr-events

A request is refused (401) without a valid signature, or when its timestamp is more than
``tolerance_seconds`` (300) from the server's clock: a captured request cannot be replayed
later. Within that window, the event id does the rest: an event id received before is
refused (409) and nothing is done again, however freshly it is signed. So an HR system may
retry a delivery it is unsure of, and should take a 409 as "already delivered".

Answers are small JSON objects, ``{"status": ..., "message": ...}``. Every event that was
recorded answers 202, whatever came of it (``applied``, ``partial``, ``held``, ``ignored``,
``later``, ``refused``): the status says which, and a person is told of what needs one.
Otherwise: 400 a request or event that cannot be read (the message names the field), 401 a
bad signature, 404/405 another path or method, 408 a body that did not come, 409 a
duplicate, 411 no Content-Length, 413 a body over ``max_body_bytes`` (not read), 422 an event
that could not be acted on (an employee HR does not know: a person is told), 500 a bug
(logged with its traceback; the client learns nothing more).

Plain HTTP, on 127.0.0.1 unless configured otherwise: the secret never travels (only HMACs
do), but events name people, so put a TLS-terminating proxy in front when HR is elsewhere.
Events are handled one at a time, since each may change production systems.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import signal
import smtplib
import socket
import socketserver
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from shlex import quote
from types import FrameType
from typing import Any, Final
from urllib.parse import urlsplit

from pydantic import SecretStr

from iam_gov.campaigns.remind import (
    DEFAULT_SENDER,
    ReminderError,
    check_address,
    connect_smtp,
    quietly_close,
    smtp_failure,
)
from iam_gov.config import Config, SmtpSettings, WebhookSettings
from iam_gov.errors import ConfigError, IamGovError, InputError
from iam_gov.files import make_private_folders
from iam_gov.policy import Policy
from iam_gov.store import Store
from iam_gov.textsafe import printable
from iam_gov.timeutil import utcnow

from .events import HrEvent, parse_event
from .service import EventOutcome, handle_event

LOG = logging.getLogger("iam_gov.hr_webhook")

TIMESTAMP_HEADER: Final = "X-IamGov-Timestamp"
SIGNATURE_HEADER: Final = "X-IamGov-Signature"
PATHS: Final = frozenset({"/hr-events", "/"})
SOURCE: Final = "hr-webhook"
"""How events from here are named in ``hr_events``, the audit log and error messages."""
READ_TIMEOUT_SECONDS: Final = 10.0
"""A client that sends nothing for this long is dropped: a slow one cannot hold a worker."""
MIN_SECRET_CHARS: Final = 16
LINGER_BYTES: Final = 1024 * 1024
LINGER_SECONDS: Final = 2.0

EXAMPLE_TOML: Final = """\
[hr_webhook]
secret = { env = "IAM_GOV_HR_WEBHOOK_SECRET" }   # or { keyring = "iam-gov/hr-webhook" }
mode = "hold"                   # or "apply": act on each termination at once
held_folder = "held-plans"      # held plans (and, without [review.smtp], the notices)
notify = ["it-ops@example.com"]
# listen = "127.0.0.1"
# port = 8787"""

Clock = Callable[[], datetime]

_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")
_CODES: Final[dict[str, int]] = {"duplicate": HTTPStatus.CONFLICT}
"""HTTP status per ``EventOutcome.status``; every other outcome was recorded: 202."""
_NOTICE_WORTHY: Final = frozenset({"held", "partial", "refused"})


class WebhookNotConfigured(ConfigError):
    """The configuration has no ``[hr_webhook]`` section."""


class WebhookError(IamGovError):
    """The receiver cannot start (its address is taken, say)."""


# --- the signature ----------------------------------------------------------------------------


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-IamGov-Signature`` header value for ``body`` sent at ``timestamp``."""
    return "sha256=" + _digest(secret, str(timestamp).encode("ascii"), body)


def check_signature(
    secret: bytes,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now: datetime,
    tolerance_seconds: int,
) -> str | None:
    """Why the request is not authentic, or ``None`` when it is. ``timestamp`` and
    ``signature`` are the headers as received. The reasons never quote the secret, the
    signature or the body: they go to the log and back to the client."""
    if timestamp is None:
        return f"no {TIMESTAMP_HEADER} header (unix time in seconds, signed with the body)"
    if not _TIMESTAMP.match(timestamp.strip()):
        return f"{TIMESTAMP_HEADER} is not a unix time in whole seconds"
    if signature is None:
        return f"no {SIGNATURE_HEADER} header (sha256=<hex HMAC-SHA256>)"
    match = _SIGNATURE.match(signature.strip())
    if match is None:
        return f"{SIGNATURE_HEADER} is not sha256= followed by 64 hex digits"
    skew = int(timestamp.strip()) - int(now.timestamp())
    if abs(skew) > tolerance_seconds:
        side = "ahead of" if skew > 0 else "behind"
        return (
            f"the signed timestamp is {abs(skew)} s {side} the server's clock (at most "
            f"{tolerance_seconds} s either way): sign each request when sending it, and check "
            "both clocks (NTP)"
        )
    expected = _digest(secret, timestamp.strip().encode("ascii"), body)
    if not hmac.compare_digest(expected, match.group(1).lower()):
        return "the signature does not match: a different secret, or the body was changed"
    return None


def _digest(secret: bytes, timestamp: bytes, body: bytes) -> str:
    return hmac.new(secret, timestamp + b"." + body, hashlib.sha256).hexdigest()


# --- settings checked at start -------------------------------------------------------------


def settings_of(config: Config) -> WebhookSettings:
    """``[hr_webhook]``, or ``WebhookNotConfigured`` showing what to add."""
    if config.hr_webhook is None:
        raise WebhookNotConfigured(
            [
                f"{config.path}: there is no [hr_webhook] section; the HR webhook needs one, e.g.:",
                *EXAMPLE_TOML.splitlines(),
            ]
        )
    return config.hr_webhook


def resolve_secret(settings: WebhookSettings) -> SecretStr:
    """The signing secret, once, at start: a ``ConfigError`` when it is unset or too short
    to be a secret (a guessable one would let anyone deprovision anybody)."""
    secret = settings.secret.resolve("hr_webhook.secret")
    if len(secret.get_secret_value()) < MIN_SECRET_CHARS:
        raise ConfigError(
            f"hr_webhook.secret: {settings.secret.describe()} is too short to sign with: use "
            f"at least {MIN_SECRET_CHARS} random characters (e.g. `openssl rand -hex 32`)"
        )
    return secret


@dataclass(frozen=True)
class Notifier:
    """Where the notices of held plans and failed runs go: the ``notify`` addresses through
    ``[review.smtp]`` (the reminders' mail server); else, or when the server is away, an
    ``.eml`` file in the held folder; else only the log."""

    smtp: SmtpSettings | None
    recipients: tuple[str, ...]
    folder: Path | None
    sender: str

    @classmethod
    def of(cls, config: Config, settings: WebhookSettings) -> Notifier:
        smtp = config.review.smtp
        problems = [
            f"hr_webhook.notify: {printable(a)}: {why}"
            for a in settings.notify
            if (why := check_address(a)) is not None
        ]
        if smtp is not None and check_address(smtp.sender) is not None:
            problems.append(f"review.smtp.sender: {printable(smtp.sender)} is not an address")
        if problems:
            raise ConfigError(problems)
        sender = smtp.sender if smtp is not None else DEFAULT_SENDER
        return cls(smtp, settings.notify, settings.held_folder, sender)

    def describe(self) -> str:
        if self.smtp is not None and self.recipients:
            return f"notices to {', '.join(self.recipients)} via {self.smtp.host}:{self.smtp.port}"
        if self.folder is not None:
            return f"notices written to {self.folder}"
        return "notices only in the log"

    def deliver(self, message: EmailMessage, name: str) -> None:
        """Send or write ``message``; never raises (a notice must not fail the request)."""
        subject = printable(message["Subject"])
        if self.smtp is not None and self.recipients:
            try:
                self._send(self.smtp, message)
                LOG.info("notice sent to %s: %s", ", ".join(self.recipients), subject)
                return
            except (ReminderError, OSError, smtplib.SMTPException) as exc:
                why = str(exc) if isinstance(exc, ReminderError) else smtp_failure(exc)
                LOG.error("notice not sent (%s): %s", printable(why), subject)
        if self.folder is not None:
            try:
                path = _write_eml(self.folder, name, message)
                LOG.info("notice written to %s: %s", path, subject)
                return
            except OSError as exc:
                LOG.error("notice not written to %s (%s): %s", self.folder, exc, subject)
        LOG.warning("notice not delivered (no mail server, no folder): %s", subject)

    def _send(self, smtp: SmtpSettings, message: EmailMessage) -> None:
        client = connect_smtp(smtp)
        try:
            client.send_message(message, from_addr=smtp.sender, to_addrs=list(self.recipients))
        finally:
            quietly_close(client)


def _write_eml(folder: Path, name: str, message: EmailMessage) -> Path:
    """Whole or not at all: a temporary file, then renamed."""
    make_private_folders(folder)
    path = folder / f"{name}.eml"
    handle, temporary = tempfile.mkstemp(prefix=".notice.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(bytes(message))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


# --- notices --------------------------------------------------------------------------------


def notice_of(
    outcome: EventOutcome, *, config: Config, at: datetime, notifier: Notifier
) -> EmailMessage | None:
    """The e-mail that tells a person what needs them: a held plan, a run that did not end
    ``done``, a refused one; ``None`` for the rest."""
    if outcome.status not in _NOTICE_WORTHY:
        return None
    event = outcome.event
    who = _who(outcome)
    lines = ["Hello,", "", f"iam-gov hr-webhook received {event.describe()}", ""]
    if outcome.status == "held":
        subject = f"Deprovisioning held for approval: {who}"
        lines += _held_lines(outcome, config)
    elif outcome.status == "partial":
        run = outcome.run
        subject = f"Deprovisioning incomplete: {who}" + (f", run #{run.run_id}" if run else "")
        lines += _partial_lines(outcome)
    else:
        subject = f"Deprovisioning refused: {who}"
        lines += [
            "The plan was refused before any change; nothing was changed:",
            "",
            *(f"  {printable(line)}" for line in outcome.message.splitlines()),
        ]
    return _message(subject, lines, at, notifier)


def failure_notice(
    event: HrEvent, why: str, *, recorded: bool, at: datetime, notifier: Notifier
) -> EmailMessage:
    """An event that could not be acted on at all. Once recorded, a new delivery of it is a
    duplicate, so only a person can still act on it."""
    lines = [
        "Hello,",
        "",
        f"iam-gov hr-webhook received {event.describe()}",
        "but could not act on it:",
        "",
        *(f"  {printable(line)}" for line in why.splitlines()),
        "",
        "The event is recorded: a new delivery of it is refused as a duplicate."
        if recorded
        else "The event may have been recorded: a new delivery of it may be refused.",
        "Once the cause is fixed, deprovision the person with `iam-gov deprovision`.",
    ]
    return _message(f"HR event not acted on: {printable(event.event_id)[:80]}", lines, at, notifier)


def _held_lines(outcome: EventOutcome, config: Config) -> list[str]:
    plan = outcome.plan
    active = len(plan.active_steps()) if plan else 0
    skipped = len(plan.steps) - active if plan else 0
    lines = [
        f"Who:      {_who(outcome, limit=20)}",
        f"Actions:  {active} to carry out" + (f", {skipped} skipped" if skipped else ""),
        f"Plan:     {outcome.held_at}",
        "",
    ]
    problems = plan.problems if plan is not None else []
    if problems:
        lines += ["What the plan cannot do:", *(f"  * {p}" for p in problems[:20]), ""]
    held = quote(str(outcome.held_at))
    return [
        *lines,
        "Nothing has been changed yet. Check the plan, then apply it with:",
        "",
        f"    iam-gov deprovision --apply --plan {held}",
        "",
        "(That reads ./iam-gov.toml; for the configuration of this receiver, add",
        f"--config {quote(str(config.path))} before `deprovision`.)",
    ]


def _partial_lines(outcome: EventOutcome) -> list[str]:
    run = outcome.run
    if run is None:
        return [printable(outcome.message)]
    counts = ", ".join(f"{run.count(o)} {o}" for o in ("done", "noop", "failed", "skipped"))
    lines = [
        f"Run #{run.run_id} ended {run.status}: {counts}.",
        "These need a person (each step is in the audit log):",
        "",
    ]
    unsettled = [r for r in run.results if r.outcome not in ("done", "noop")]
    for result in unsettled[:40]:
        step = result.step
        lines.append(
            f"  * {step.action.system} {printable(step.account_login)}: "
            f"{step.action.kind.value}: {result.outcome}: {printable(result.message)}"
        )
    if len(unsettled) > 40:
        lines.append(f"  ... and {len(unsettled) - 40} more")
    lines += [f"  * still present after the run: {printable(p)}" for p in run.still_present[:20]]
    lines += [f"  * not verified: {printable(u)}" for u in run.unverified]
    lines += ["", "A failed step can be tried again with `iam-gov deprovision --resume`."]
    return lines


def _who(outcome: EventOutcome, limit: int = 3) -> str:
    people = outcome.plan.people if outcome.plan is not None else []
    if not people:
        return printable(outcome.event.employee)
    named = [f"{printable(p.name)} ({printable(p.employee_id)})" for p in people[:limit]]
    more = f" and {len(people) - limit} more" if len(people) > limit else ""
    return ", ".join(named) + more


def _message(subject: str, lines: list[str], at: datetime, notifier: Notifier) -> EmailMessage:
    message = EmailMessage()
    message["From"] = notifier.sender
    if notifier.recipients:
        message["To"] = [Address(addr_spec=a) for a in notifier.recipients]
    message["Subject"] = subject[:200]
    message["Date"] = format_datetime(at)
    message["Message-ID"] = make_msgid(domain=notifier.sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content("\n".join([*lines, "", "-- ", "iam-gov hr-webhook", ""]))
    return message


def _notice_name(status: str, event: HrEvent, held_at: Path | None, at: datetime) -> str:
    """Next to the held plan, with its name; else unique per event (an id is acted on once)."""
    if held_at is not None:
        return held_at.stem
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", event.event_id)[:48]
    tag = hashlib.sha256(event.event_id.encode("utf-8")).hexdigest()[:8]
    return f"{at:%Y%m%dT%H%M%SZ}-{status}-{safe}-{tag}"


# --- one request ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    code: int
    status: str
    message: str
    event_id: str | None = None

    def body(self) -> bytes:
        return json.dumps({"status": self.status, "message": self.message}).encode() + b"\n"


@dataclass
class Receiver:
    """What every request shares: the store, the settings, the secret, and the lock that
    makes events go one at a time."""

    store: Store
    config: Config
    policy: Policy
    settings: WebhookSettings
    secret: SecretStr
    notifier: Notifier
    actor: str
    clock: Clock = utcnow
    lock: threading.Lock = field(default_factory=threading.Lock)

    def receive(self, body: bytes, timestamp: str | None, signature: str | None) -> Reply:
        """The answer to one POSTed body: the signature first, then the event."""
        why = check_signature(
            self.secret.get_secret_value().encode("utf-8"),
            timestamp,
            signature,
            body,
            now=self.clock(),
            tolerance_seconds=self.settings.tolerance_seconds,
        )
        if why is not None:
            return Reply(HTTPStatus.UNAUTHORIZED, "unauthorized", why)
        try:
            event = parse_event(body, SOURCE)
        except InputError as exc:
            return Reply(HTTPStatus.BAD_REQUEST, "bad-event", str(exc))
        try:
            with self.lock:
                at = self.clock()
                outcome = self._handle(event, body, at)
        except IamGovError as exc:
            self._failed(event, str(exc), recorded=True)
            return Reply(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "not-acted-on",
                f"{event.describe()}: not acted on: {exc}",
                event.event_id,
            )
        except Exception:
            LOG.exception("%s: unexpected error while handling it", event.describe())
            why = "an internal error (the traceback is in the hr-webhook log)"
            self._failed(event, why, recorded=False)
            return Reply(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                "error",
                "internal error while handling the event: see the hr-webhook log",
                event.event_id,
            )
        notice = notice_of(outcome, config=self.config, at=at, notifier=self.notifier)
        if notice is not None:
            self.notifier.deliver(notice, _notice_name(outcome.status, event, outcome.held_at, at))
        code = _CODES.get(outcome.status, HTTPStatus.ACCEPTED)
        return Reply(code, outcome.status, outcome.message, event.event_id)

    def _handle(self, event: HrEvent, body: bytes, at: datetime) -> EventOutcome:
        hold = self.settings.mode == "hold"
        return handle_event(
            self.store,
            self.config,
            self.policy,
            event,
            body,
            source=SOURCE,
            actor=self.actor,
            mode=self.settings.mode,
            held_folder=self.settings.held_folder if hold else None,
            now=at,
        )

    def _failed(self, event: HrEvent, why: str, *, recorded: bool) -> None:
        at = self.clock()
        notice = failure_notice(event, why, recorded=recorded, at=at, notifier=self.notifier)
        self.notifier.deliver(notice, _notice_name("failed", event, None, at))


# --- HTTP -----------------------------------------------------------------------------------


class WebhookServer(ThreadingHTTPServer):
    """The stdlib's threaded server, bound without a DNS lookup; ``server_close`` waits for
    the requests in progress (an event being applied is not cut short)."""

    daemon_threads = True
    block_on_close = True

    def __init__(self, address: tuple[str, int], receiver: Receiver):
        self.receiver = receiver
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would ask DNS for the host's name (getfqdn): slow, unneeded
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    @property
    def url(self) -> str:
        host, port = str(self.server_name), self.server_port
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/hr-events"


class _Handler(BaseHTTPRequestHandler):
    server_version = "iam-gov-hr-webhook"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT_SECONDS
    """Set on the socket before the request is read (``StreamRequestHandler.setup``)."""

    _body_read = False

    # --- methods --------------------------------------------------------------------------

    def do_POST(self) -> None:
        try:
            reply = self._post()
        except Exception:
            LOG.exception("%s: unexpected error", self._client())
            reply = Reply(HTTPStatus.INTERNAL_SERVER_ERROR, "error", "internal error")
        self._send(reply)

    def do_GET(self) -> None:
        self._send(self._refusal() or _not_allowed())

    do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def handle_expect_100(self) -> bool:
        """``Expect: 100-continue`` (curl sends it for bodies over 1 KiB): the client waits
        for our word before sending the body, so a refusal costs it nothing."""
        refusal = self._refusal()
        if refusal is not None:
            self._send(refusal)
            return False
        return super().handle_expect_100()

    def _post(self) -> Reply:
        refusal = self._refusal()
        if refusal is not None:
            return refusal
        length = int(self.headers["Content-Length"])
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            return Reply(
                HTTPStatus.REQUEST_TIMEOUT,
                "timeout",
                f"the body did not arrive within {READ_TIMEOUT_SECONDS:g} s",
            )
        self._body_read = True
        if len(body) != length:
            return Reply(
                HTTPStatus.BAD_REQUEST, "bad-request", "the body is shorter than Content-Length"
            )
        return self._receiver().receive(
            body, self.headers.get(TIMESTAMP_HEADER), self.headers.get(SIGNATURE_HEADER)
        )

    def _refusal(self) -> Reply | None:
        """What is wrong with the request before its body is read, or None."""
        if urlsplit(self.path).path not in PATHS:
            return Reply(HTTPStatus.NOT_FOUND, "not-found", "POST events to /hr-events")
        if self.command != "POST":
            return _not_allowed()
        if self.headers.get("Transfer-Encoding") is not None:
            return Reply(
                HTTPStatus.LENGTH_REQUIRED, "length-required", "send Content-Length, not chunks"
            )
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return Reply(HTTPStatus.LENGTH_REQUIRED, "length-required", "send Content-Length")
        if len(set(lengths)) != 1 or not lengths[0].strip().isdigit():
            return Reply(HTTPStatus.BAD_REQUEST, "bad-request", "Content-Length is not a number")
        limit = self._receiver().settings.max_body_bytes
        if int(lengths[0]) > limit:
            return Reply(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                "too-large",
                f"the body is {int(lengths[0])} bytes; at most {limit}",
            )
        return None

    # --- answering --------------------------------------------------------------------------

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's own refusals (a malformed request line, say), as JSON like ours."""
        self._send(Reply(code, "bad-request", message or HTTPStatus(code).phrase))

    def _send(self, reply: Reply) -> None:
        body = reply.body()
        self.send_response(reply.code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if reply.code == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "POST")
        self.send_header("Connection", "close")  # one request per connection
        self.end_headers()
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(body)
        self._log(reply)
        if not self._body_read and getattr(self, "command", None) == "POST":
            self._discard_unread()

    def _discard_unread(self) -> None:
        """Closing a socket with unread data makes the kernel reset the connection, and the
        client may lose our answer with it; so the rest of a refused body is read and dropped
        (a bounded amount, for a bounded time) after the answer has gone out."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_SECONDS
            left = LINGER_BYTES
            while left > 0 and (wait := deadline - time.monotonic()) > 0:
                self.connection.settimeout(wait)
                chunk = self.connection.recv(min(65536, left))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass

    # --- logging: one line per request, to iam_gov.hr_webhook, never the signature ---------

    def _log(self, reply: Reply) -> None:
        level = (
            logging.INFO
            if reply.code < 400
            else logging.ERROR
            if reply.code >= 500
            else logging.WARNING
        )
        said = f": {printable(reply.message)}" if reply.code >= 400 else ""
        LOG.log(
            level,
            "%s %s from %s: %d %s, event %s%s",
            printable(getattr(self, "command", None) or "-"),
            printable(getattr(self, "path", "-")[:200]),
            self._client(),
            reply.code,
            reply.status,
            printable(reply.event_id or "-"),
            said,
        )

    def log_message(self, format: str, *args: Any) -> None:
        """The stdlib's access log (to stderr) is silenced: ``_log`` replaces it."""

    def log_error(self, format: str, *args: Any) -> None:
        LOG.info("%s: %s", self._client(), printable(format % args))

    def _client(self) -> str:
        host, port = self.client_address[:2]
        return f"{host}:{port}"

    def _receiver(self) -> Receiver:
        assert isinstance(self.server, WebhookServer)
        return self.server.receiver


def _not_allowed() -> Reply:
    return Reply(HTTPStatus.METHOD_NOT_ALLOWED, "method-not-allowed", "only POST is accepted")


# --- start and stop ---------------------------------------------------------------------------


def make_server(
    store: Store,
    config: Config,
    policy: Policy,
    *,
    actor: str = "hr-webhook",
    clock: Clock = utcnow,
    listen: str | None = None,
    port: int | None = None,
) -> WebhookServer:
    """The receiver, bound to ``[hr_webhook]`` listen and port (or these overrides; port 0:
    any free one), not yet serving. Everything that can be checked is checked now, so that a
    mistake stops the start rather than the first event: the section is there, the secret
    resolves (``ConfigError``), hold mode has a folder for its plans, the addresses are
    addresses."""
    settings = settings_of(config)
    secret = resolve_secret(settings)
    if settings.mode == "hold" and settings.held_folder is None:
        raise ConfigError(
            'hr_webhook: mode = "hold" needs held_folder = "FOLDER": where held plans (and, '
            "without [review.smtp], the notices) are written for a person to apply"
        )
    if settings.held_folder is not None:
        try:
            make_private_folders(settings.held_folder)
        except OSError as exc:
            raise ConfigError(
                f"hr_webhook.held_folder: cannot create {settings.held_folder}: "
                f"{exc.strerror or exc}"
            ) from None
    notifier = Notifier.of(config, settings)
    receiver = Receiver(store, config, policy, settings, secret, notifier, actor, clock)
    host = listen if listen is not None else settings.listen
    number = port if port is not None else settings.port
    try:
        server = WebhookServer((host, number), receiver)
    except OSError as exc:
        raise WebhookError(
            f"cannot listen on {host}:{number}: {exc.strerror or exc}: set [hr_webhook] "
            "listen and port (or --listen, --port) to a free address of this machine"
        ) from None
    return server


def serve(server: WebhookServer, *, poll_interval: float = 0.5) -> None:
    """Serve until SIGINT or SIGTERM, then stop taking requests, let those in progress end,
    and close. Call from the main thread (signal handlers can be set only there).
    ``poll_interval``: how often the loop looks for a stop request (the latency of a stop)."""

    def stop(signum: int, frame: FrameType | None) -> None:
        LOG.info("stopping (%s)", signal.Signals(signum).name)
        # shutdown() waits for serve_forever to return: from its own thread, not this one
        threading.Thread(target=server.shutdown, name="hr-webhook-stop", daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    receiver = server.receiver
    LOG.info(
        "serving %s (mode %s; %s)", server.url, receiver.settings.mode, receiver.notifier.describe()
    )
    try:
        server.serve_forever(poll_interval=poll_interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.server_close()
    LOG.info("stopped")
