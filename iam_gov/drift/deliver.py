"""Sending a drift report on: into its own dated folder (always), to a webhook, by e-mail.

The folder comes first and is the report of record: ``<reports>/<YYYY-MM-DD>T<HHMMSS>Z/``
(``-2``, ``-3``… when two runs share a second), written whole or not at all (the files go into
a hidden folder beside it, are synced, and the folder is renamed into place), owner-only like
the store (folder 0700, files 0600). ``<reports>/latest`` is a relative symbolic link to the
newest folder, replaced atomically, so ``reports/latest/drift.html`` is always a whole report.

A webhook gets the report's JSON, or a Slack or Teams message with its summary; an e-mail
carries the HTML report through ``[review.smtp]`` (the reminders' mail server and code). Each
channel has a timeout and retries; a channel that fails is a ``DeliveryResult`` with
``ok=False`` and the reason, never an exception, and never costs the folder. A failure is said
in the exit code (``delivery_exit_code``: ``EXIT_DELIVERY``).

The webhook's URL is a secret (Slack's and Teams' carry their token): no result, message or
log line shows more than its scheme and host, httpx's own request log included.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from iam_gov import retrying
from iam_gov.config import Config, DriftEmail, DriftWebhook
from iam_gov.drift.model import EXIT_DELIVERY, EXIT_FINDINGS, EXIT_OK, EXIT_STALE, DriftReport
from iam_gov.errors import IamGovError
from iam_gov.files import make_private_folders
from iam_gov.textsafe import printable
from iam_gov.timeutil import as_utc, utcnow

if TYPE_CHECKING:
    import httpx

# httpx and the reminders' mail code are imported where a webhook or an e-mail is sent: a
# run that only writes the report folder (most) does not pay for them at start-up.

LOG = logging.getLogger("iam_gov.drift.deliver")

LATEST = "latest"
"""The symbolic link in the reports folder to the newest report folder."""
FOLDER_PATTERN = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{6}Z)(?:-([1-9]\d{0,5}))?$")
"""The names of report folders: the only folders retention ever removes."""
_FOLDER_TIME = "%Y-%m-%dT%H%M%SZ"
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_MAX_SUFFIX = 999

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
RETRY_AFTER_MAX_SECONDS = 120.0
"""A ``Retry-After`` longer than this is waited this long: a scheduled run does not hang."""
EMAIL_RETRY_SECONDS = 5.0
_LIST_LIMIT = 10
"""At most this many failures and findings are named in a chat message or e-mail summary."""
_SLACK_TEXT_LIMIT = 2900
"""Slack refuses a section whose text is longer than 3000 characters."""

Sleep = Callable[[float], None]
Channel = Literal["folder", "webhook", "email"]


@dataclass(frozen=True)
class DeliveryResult:
    """What became of one channel. ``target`` and ``detail`` are safe to print and log."""

    channel: Channel
    ok: bool
    target: str
    """Where it went: the folder, ``webhook (slack) at https://hooks.slack.com/…``, or the
    recipients and mail server."""
    detail: str
    """What happened (``HTTP 200``), or why it failed."""
    attempts: int = 1
    path: Path | None = None
    """The report folder (``folder`` only)."""


def delivery_exit_code(report_exit_code: int, results: Iterable[DeliveryResult]) -> int:
    """The run's exit code: the report's own, or ``EXIT_DELIVERY`` (3, the highest) when any
    channel failed, the folder included. The report in the folder keeps its own code."""
    if any(not result.ok for result in results):
        return max(report_exit_code, EXIT_DELIVERY)
    return report_exit_code


# --- the report folder --------------------------------------------------------------------


def folder_name(made_at: datetime) -> str:
    """``2025-01-23T080000Z``: the report folder's name for a report made at ``made_at``."""
    return as_utc(made_at).strftime(_FOLDER_TIME)


def folder_time(name: str) -> datetime | None:
    """When the report in a folder of this name was made; None for any other name."""
    match = FOLDER_PATTERN.match(name)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), _FOLDER_TIME).replace(tzinfo=UTC)
    except ValueError:
        return None


def write_report_folder(root: Path, report_files: Mapping[str, bytes], made_at: datetime) -> Path:
    """Write the rendered files into a new folder under ``root`` named for ``made_at`` (UTC),
    whole or not at all, and point ``root/latest`` at it. Returns the folder.

    ``OSError`` when the folder cannot be written (nothing is left behind then); a ``latest``
    link that cannot be replaced is only logged: the report is written."""
    if not report_files:
        raise ValueError("a report folder needs at least one file")
    for name in report_files:
        if not _FILE_NAME.match(name) or name == LATEST:
            raise ValueError(f"not a plain file name for a report file: {printable(name)!r}")
    make_private_folders(root)  # its parents too: Path.mkdir makes those 0755
    temporary = Path(tempfile.mkdtemp(prefix=".incoming-", dir=root))  # mode 0700
    try:
        for name, data in report_files.items():
            fd = os.open(
                temporary / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600
            )
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        _fsync_folder(temporary)
        final = _rename_unique(temporary, root, folder_name(made_at))
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    _fsync_folder(root)
    _point_latest(root, final.name)
    return final


def _rename_unique(temporary: Path, root: Path, name: str) -> Path:
    """Rename into the first free name of ``name``, ``name-2``… A folder that another run
    renamed into place first (never empty) makes the rename fail, and the next name is tried."""
    for n in range(1, _MAX_SUFFIX + 1):
        candidate = root / (name if n == 1 else f"{name}-{n}")
        if os.path.lexists(candidate):
            continue
        try:
            os.rename(temporary, candidate)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                continue
            raise
        return candidate
    raise FileExistsError(errno.EEXIST, f"{_MAX_SUFFIX} report folders named {name} already")


def _point_latest(root: Path, name: str) -> None:
    link = root / LATEST
    staged = root / f".latest-{secrets.token_hex(6)}"
    try:
        os.symlink(name, staged)
        os.replace(staged, link)
    except OSError as exc:
        staged.unlink(missing_ok=True)
        LOG.warning("%s: not updated to %s: %s", link, name, exc.strerror or exc)


def _fsync_folder(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- what the report says, in a few lines -------------------------------------------------

_EXIT_MEANING = {
    EXIT_OK: "nothing new at or above {fail_on}",
    EXIT_FINDINGS: "new findings at or above {fail_on}",
    EXIT_STALE: "the run failed or a system is stale",
    EXIT_DELIVERY: "the report could not be sent on",
}


def exit_meaning(report: DriftReport) -> str:
    meaning = _EXIT_MEANING.get(report.exit_code, "unknown exit code")
    return meaning.format(fail_on=report.fail_on)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def headline(report: DriftReport) -> str:
    """One line: what went wrong first, then the findings and the access that changed."""
    s = report.summary
    parts: list[str] = []
    if report.failures:
        parts.append(_plural(len(report.failures), "failure"))
    if s.stale_systems:
        parts.append(_plural(s.stale_systems, "stale system"))
    parts.append(
        f"{_plural(s.findings_new, 'new finding')} "
        f"({s.new_at_or_above_threshold} at or above {report.fail_on})"
    )
    parts.append(f"{s.findings_resolved} resolved")
    parts.append(f"grants +{s.grants_added}/-{s.grants_removed}")
    if s.leavers_still_active:
        parts.append(_plural(s.leavers_still_active, "leaver") + " still active")
    return f"exit {report.exit_code}: " + ", ".join(parts)


def _title(report: DriftReport) -> str:
    company = f"{report.company} " if report.company else ""
    return f"iam-gov drift report {company}{as_utc(report.made_at).strftime('%Y-%m-%d %H:%M')} UTC"


def _counts(report: DriftReport) -> list[tuple[str, str]]:
    s = report.summary
    return [
        (
            "New findings",
            f"{s.findings_new} ({s.new_at_or_above_threshold} at or above {report.fail_on})",
        ),
        ("Resolved findings", str(s.findings_resolved)),
        ("Open findings", str(s.findings_open)),
        ("Accounts", f"+{s.accounts_created} / -{s.accounts_removed}"),
        ("Grants", f"+{s.grants_added} / -{s.grants_removed}"),
        ("Privileged grants", f"+{s.privileged_added} / -{s.privileged_removed}"),
        ("Leavers still active", str(s.leavers_still_active)),
        ("Exceptions expiring", str(s.exceptions_expiring)),
        ("Campaigns overdue", str(s.campaigns_overdue)),
        ("Stale systems", str(s.stale_systems)),
    ]


_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


def _top_new_findings(report: DriftReport) -> list[tuple[str, str, str]]:
    """(severity, rule, subject) of the most severe new findings."""
    new = [f for f in report.findings if f.change == "new"]
    new.sort(key=lambda f: (_SEVERITY_ORDER.get(f.severity, 9), f.rule_id, f.subject))
    return [(f.severity, f.rule_id, f.subject) for f in new[:_LIST_LIMIT]]


def _stale(report: DriftReport) -> list[str]:
    return [s.system for s in report.systems if s.stale]


def _more(total: int) -> str:
    return f"… and {total - _LIST_LIMIT} more" if total > _LIST_LIMIT else ""


def plain_summary(report: DriftReport, *, html_path: Path | None = None) -> str:
    """The summary as plain text (the e-mail's text part)."""
    lines = [_title(report), "", headline(report), ""]
    if report.failures:
        lines.append("Failures:")
        lines += [f"  * {printable(f)}" for f in report.failures[:_LIST_LIMIT]]
        if more := _more(len(report.failures)):
            lines.append(f"  {more}")
        lines.append("")
    if stale := _stale(report):
        lines += [f"Stale systems: {printable(', '.join(stale))}", ""]
    width = max(len(label) for label, _ in _counts(report))
    lines += [f"  {label + ':':<{width + 1}} {value}" for label, value in _counts(report)]
    top = _top_new_findings(report)
    if top:
        lines += ["", "New findings:"]
        lines += [f"  * [{sev}] {rule}: {printable(subject)}" for sev, rule, subject in top]
        if more := _more(sum(1 for f in report.findings if f.change == "new")):
            lines.append(f"  {more}")
    lines += ["", f"Exit code {report.exit_code}: {exit_meaning(report)}."]
    if html_path is not None:
        lines.append(f"Full report: {html_path}")
    return "\n".join(lines) + "\n"


# --- message bodies -----------------------------------------------------------------------


def slack_escape(value: object) -> str:
    """Text Slack shows as given: control characters escaped, and ``&``, ``<``, ``>`` as
    Slack asks (so no ``<!channel>`` and no ``<url|link>`` comes from the data)."""
    return printable(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_body(report: DriftReport, *, html_path: Path | None = None) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` (the notification) and Block Kit blocks,
    failures first."""
    title = slack_escape(_title(report))
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{title}*\n{slack_escape(headline(report))}"},
        }
    ]
    if report.failures:
        lines = [f"• {slack_escape(f)}" for f in report.failures[:_LIST_LIMIT]]
        if more := _more(len(report.failures)):
            lines.append(more)
        text = ":rotating_light: *Failures*\n" + "\n".join(lines)
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, _SLACK_TEXT_LIMIT)}}
        )
    if stale := _stale(report):
        text = "*Stale systems:* " + slack_escape(", ".join(stale))
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, _SLACK_TEXT_LIMIT)}}
        )
    blocks.append(
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{label}*\n{value}"}
                for label, value in _counts(report)[:10]
            ],
        }
    )
    top = _top_new_findings(report)
    if top:
        lines = [
            f"• *{slack_escape(sev)}* {slack_escape(rule)}: {slack_escape(subject)}"
            for sev, rule, subject in top
        ]
        if more := _more(sum(1 for f in report.findings if f.change == "new")):
            lines.append(more)
        text = "*New findings*\n" + "\n".join(lines)
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, _SLACK_TEXT_LIMIT)}}
        )
    context = f"Exit code {report.exit_code}: {slack_escape(exit_meaning(report))}"
    if html_path is not None:
        context += f" · full report: {slack_escape(html_path)}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": f"{title}: {slack_escape(headline(report))}", "blocks": blocks}


_TEAMS_MARKDOWN = re.compile(r"([\\`*_\[\]~])")
_TEAMS_LIST_START = re.compile(r"^(\s*)([-+]|\d+\.)(?=\s)")


def teams_escape(value: object) -> str:
    """Text an Adaptive Card shows as given: control characters escaped, and the Markdown
    that Teams renders (emphasis, links, a list marker at the start) backslash-escaped, so
    no link or emphasis comes from the data."""
    text = _TEAMS_MARKDOWN.sub(r"\\\1", printable(value))
    return _TEAMS_LIST_START.sub(_unlist, text)


def _unlist(match: re.Match[str]) -> str:
    marker = match.group(2)
    escaped = f"{marker[:-1]}\\." if marker.endswith(".") else f"\\{marker}"
    return match.group(1) + escaped


def teams_body(report: DriftReport, *, html_path: Path | None = None) -> dict[str, Any]:
    """A Teams incoming-webhook (or Workflows) message holding one Adaptive Card."""
    attention = report.exit_code != EXIT_OK
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": teams_escape(_title(report)),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {
            "type": "TextBlock",
            "text": teams_escape(headline(report)),
            "wrap": True,
            "color": "Attention" if attention else "Good",
        },
    ]
    if report.failures:
        body.append(
            {"type": "TextBlock", "text": "Failures", "weight": "Bolder", "color": "Attention"}
        )
        body += [
            {"type": "TextBlock", "text": teams_escape(f), "wrap": True, "spacing": "None"}
            for f in report.failures[:_LIST_LIMIT]
        ]
        if more := _more(len(report.failures)):
            body.append({"type": "TextBlock", "text": teams_escape(more), "isSubtle": True})
    if stale := _stale(report):
        body.append(
            {
                "type": "TextBlock",
                "text": "Stale systems: " + teams_escape(", ".join(stale)),
                "wrap": True,
                "color": "Warning",
            }
        )
    body.append(
        {
            "type": "FactSet",
            "facts": [
                {"title": label, "value": teams_escape(value)} for label, value in _counts(report)
            ],
        }
    )
    top = _top_new_findings(report)
    if top:
        body.append({"type": "TextBlock", "text": "New findings", "weight": "Bolder"})
        body += [
            {
                "type": "TextBlock",
                "text": f"{teams_escape(sev)} · {teams_escape(rule)}: {teams_escape(subject)}",
                "wrap": True,
                "spacing": "None",
            }
            for sev, rule, subject in top
        ]
    footer = f"Exit code {report.exit_code}: {exit_meaning(report)}"
    if html_path is not None:
        footer += f" · full report: {html_path}"
    body.append({"type": "TextBlock", "text": teams_escape(footer), "isSubtle": True, "wrap": True})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def webhook_body(
    report: DriftReport, fmt: Literal["json", "slack", "teams"], *, html_path: Path | None = None
) -> bytes:
    """The POST body for a webhook of this format (UTF-8 JSON)."""
    if fmt == "json":
        return report.model_dump_json().encode("utf-8")
    if fmt == "slack":
        message = slack_body(report, html_path=html_path)
    else:
        message = teams_body(report, html_path=html_path)
    return json.dumps(message, ensure_ascii=False).encode("utf-8")


# --- webhook ------------------------------------------------------------------------------


def masked_url(url: str) -> str:
    """What may be shown of a webhook URL: its scheme and host."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "<the configured URL>"
    if not parsed.scheme or not parsed.host:
        return "<the configured URL>"
    return f"{parsed.scheme}://{parsed.host}/…"


def _secret_parts(url: str) -> list[str]:
    """The spellings of the URL and of its secret part that a message could contain."""
    import httpx

    parts = {url}
    try:
        parsed = httpx.URL(url)
        parts.add(str(parsed))
        tail = parsed.raw_path.decode("ascii", "replace")
        for part in (tail, parsed.path):
            if len(part) > 1:
                parts.add(part)
        # Each token-like segment alone too (an error may echo one): not ``services``.
        for segment in re.split(r"[/?&=]", tail):
            if len(segment) >= 6 and (len(segment) >= 20 or any(c.isdigit() for c in segment)):
                parts.add(segment)
        if parsed.query:
            parts.add(parsed.query.decode("ascii", "replace"))
    except (httpx.InvalidURL, TypeError, ValueError):
        pass
    return sorted((p for p in parts if p), key=len, reverse=True)


def _scrub(text: str, secrets_: list[str], shown: str) -> str:
    for part in secrets_:
        text = text.replace(part, shown)
    return printable(text)


class _Redact(logging.Filter):
    """Masks the URL in httpx's and httpcore's own log records."""

    def __init__(self, secrets_: list[str], shown: str) -> None:
        super().__init__()
        self._secrets = secrets_
        self._shown = shown

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(part in message for part in self._secrets):
            record.msg = _scrub(message, self._secrets, self._shown)
            record.args = ()
        return True


_HTTP_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)
"""A logger's filters do not apply to its children's records: each is named."""


@contextmanager
def _redacted_logs(secrets_: list[str], shown: str) -> Iterator[None]:
    redact = _Redact(secrets_, shown)
    loggers = [logging.getLogger(name) for name in _HTTP_LOGGERS]
    for logger in loggers:
        logger.addFilter(redact)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(redact)


def backoff(attempt: int) -> float:
    return retrying.backoff(attempt, base=BACKOFF_BASE_SECONDS, ceiling=BACKOFF_MAX_SECONDS)


def retry_after(value: str | None) -> float | None:
    return retrying.retry_after(value, cap=RETRY_AFTER_MAX_SECONDS)


def post_webhook(
    settings: DriftWebhook,
    report: DriftReport,
    *,
    html_path: Path | None = None,
    client: httpx.Client | None = None,
    sleep: Sleep = time.sleep,
) -> DeliveryResult:
    """POST the report (or a Slack / Teams message of it) to the configured URL. Connection
    errors, timeouts, 429 (after its ``Retry-After``) and 5xx are retried ``settings.retries``
    times with backoff; any other answer is final. A retried POST may arrive twice."""
    import httpx

    try:
        url = settings.url.resolve("drift.webhook.url").get_secret_value()
    except IamGovError as exc:
        return DeliveryResult("webhook", False, f"webhook ({settings.format})", str(exc), 0)
    shown = masked_url(url)
    target = f"webhook ({settings.format}) at {shown}"
    hidden = _secret_parts(url)
    try:
        body = webhook_body(report, settings.format, html_path=html_path)
    except (TypeError, ValueError) as exc:
        return DeliveryResult("webhook", False, target, f"cannot build the message: {exc}", 0)
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "iam-gov"}
    own = client is None
    http = client if client is not None else httpx.Client(follow_redirects=False)
    attempts = settings.retries + 1
    reason = "not sent"
    try:
        with _redacted_logs(hidden, shown):
            for attempt in range(attempts):
                wait: float | None = None
                try:
                    response = http.post(
                        url, content=body, headers=headers, timeout=settings.timeout_seconds
                    )
                except httpx.TimeoutException:
                    reason = f"no answer within {settings.timeout_seconds:g} s"
                except (httpx.TransportError, httpx.InvalidURL, OSError) as exc:
                    reason = "cannot connect: " + _scrub(
                        str(exc) or type(exc).__name__, hidden, shown
                    )
                else:
                    status = response.status_code
                    answer = _scrub(
                        f"HTTP {status} {response.reason_phrase}".strip(), hidden, shown
                    )
                    if 200 <= status < 300:
                        return DeliveryResult("webhook", True, target, answer, attempt + 1)
                    text = _scrub(response.text[:200].strip(), hidden, shown)
                    reason = f"{answer}: {text}" if text else answer
                    if status != 429 and status < 500:
                        return DeliveryResult("webhook", False, target, reason, attempt + 1)
                    wait = retry_after(response.headers.get("Retry-After"))
                if attempt + 1 < attempts:
                    pause = wait if wait is not None else backoff(attempt)
                    LOG.info("%s: %s; trying again in %.1f s", target, reason, pause)
                    sleep(pause)
    finally:
        if own:
            http.close()
    return DeliveryResult(
        "webhook", False, target, f"{reason} (after {_plural(attempts, 'attempt')})", attempts
    )


# --- e-mail -------------------------------------------------------------------------------


def _subject(settings: DriftEmail, report: DriftReport) -> str:
    company = f"{report.company} " if report.company else ""
    day = as_utc(report.made_at).strftime("%Y-%m-%d")
    prefix = settings.subject_prefix.strip()
    text = f"{prefix} {company}drift {day}: {headline(report)}".strip()
    return _clip(" ".join(printable(text).split()), 250)


def build_email(
    sender: str,
    recipients: list[str],
    settings: DriftEmail,
    report: DriftReport,
    html: bytes,
    *,
    at: datetime | None = None,
) -> EmailMessage:
    """The message: a plain-text summary and the HTML report as its alternative."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = [Address(addr_spec=r) for r in recipients]
    message["Subject"] = _subject(settings, report)
    message["Date"] = format_datetime(at or utcnow())
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        plain_summary(report) + "\nThe full report is the HTML part of this message.\n"
    )
    message.add_alternative(html.decode("utf-8", "replace"), subtype="html")
    return message


def _permanent(exc: BaseException) -> bool:
    """A mail server's 5xx answer: sending again would be refused again."""
    import smtplib

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def email_report(
    config: Config,
    settings: DriftEmail,
    report: DriftReport,
    html: bytes,
    *,
    sleep: Sleep = time.sleep,
) -> DeliveryResult:
    """Send the HTML report to ``settings.to`` through ``[review.smtp]`` (its timeout applies
    to every step); a failure that may pass is tried once more after a few seconds."""
    import smtplib

    from iam_gov.campaigns.remind import (
        ReminderError,
        check_address,
        connect_smtp,
        quietly_close,
        smtp_failure,
    )

    to = ", ".join(printable(r) for r in settings.to)
    smtp = config.review.smtp
    if smtp is None:
        return DeliveryResult(
            "email", False, f"e-mail to {to}", "no mail server: set [review.smtp]", 0
        )
    target = f"e-mail to {to} through {smtp.host}:{smtp.port} ({smtp.security})"
    if (problem := check_address(smtp.sender)) is not None:
        return DeliveryResult("email", False, target, f"review.smtp.sender: {problem}", 0)
    bad = {r: p for r in settings.to if (p := check_address(r)) is not None}
    recipients = [r for r in settings.to if r not in bad]
    if not recipients:
        why = "; ".join(f"{printable(r)}: {p}" for r, p in bad.items())
        return DeliveryResult("email", False, target, f"no recipient to send to ({why})", 0)
    message = build_email(smtp.sender, recipients, settings, report, html)
    reason = "not sent"
    attempts = 0
    for attempt in range(2):
        attempts = attempt + 1
        try:
            client = connect_smtp(smtp)
        except ReminderError as exc:
            reason = str(exc)
        except IamGovError as exc:  # the password's variable or keyring entry is missing
            return DeliveryResult("email", False, target, str(exc), attempts)
        else:
            try:
                refused = client.send_message(message, from_addr=smtp.sender, to_addrs=recipients)
            except (OSError, smtplib.SMTPException) as exc:
                reason = f"the mail server did not take the message: {smtp_failure(exc)}"
                if _permanent(exc):
                    return DeliveryResult("email", False, target, reason, attempts)
            else:
                not_taken = {r: f"{code} {_why_text(msg)}" for r, (code, msg) in refused.items()}
                not_taken.update(bad)
                if not_taken:
                    why = "; ".join(f"{printable(r)}: {p}" for r, p in not_taken.items())
                    return DeliveryResult(
                        "email", False, target, f"sent, but not to {why}", attempts
                    )
                return DeliveryResult("email", True, target, "sent", attempts)
            finally:
                quietly_close(client)
        if attempt == 0:
            LOG.info("%s: %s; trying again in %.0f s", target, reason, EMAIL_RETRY_SECONDS)
            sleep(EMAIL_RETRY_SECONDS)
    return DeliveryResult("email", False, target, f"{reason} (after 2 attempts)", attempts)


def _why_text(value: bytes | str) -> str:
    return printable(value.decode("utf-8", "replace") if isinstance(value, bytes) else value)


# --- all of it ----------------------------------------------------------------------------


def reports_root(config: Config) -> Path:
    """Where report folders go: ``[drift] reports_folder``, else ``reports`` beside the
    configuration file."""
    # normalised (``samples/demo/../../.demo/reports`` is ``.demo/reports``), links kept
    return Path(os.path.normpath(config.drift.reports_folder or config.base_dir / "reports"))


def deliver(
    config: Config,
    report: DriftReport,
    files: Mapping[str, bytes],
    *,
    root: Path | None = None,
    client: httpx.Client | None = None,
    sleep: Sleep = time.sleep,
) -> list[DeliveryResult]:
    """Write the report folder, then send it to the configured webhook and e-mail
    recipients. Never raises for a channel that fails: each result says what happened, and
    the folder stays whatever the others do. ``files`` are the rendered report files by name
    (``drift.html`` is what the e-mail carries)."""
    folder_root = root or reports_root(config)
    results: list[DeliveryResult] = []
    folder: Path | None = None
    try:
        folder = write_report_folder(folder_root, files, report.made_at)
        results.append(
            DeliveryResult("folder", True, str(folder), f"written ({len(files)} files)", 1, folder)
        )
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        results.append(
            DeliveryResult("folder", False, str(folder_root), f"cannot write: {printable(why)}")
        )
    html_path = folder / "drift.html" if folder is not None and "drift.html" in files else None
    webhook = config.drift.webhook
    if webhook is not None:
        results.append(
            _guarded(
                "webhook",
                f"webhook ({webhook.format})",
                lambda: post_webhook(
                    webhook, report, html_path=html_path, client=client, sleep=sleep
                ),
            )
        )
    email = config.drift.email
    if email is not None:
        html = files.get("drift.html")
        if html is None:
            results.append(
                DeliveryResult("email", False, "e-mail", "no HTML report was rendered to send", 0)
            )
        else:
            results.append(
                _guarded(
                    "email",
                    "e-mail",
                    lambda: email_report(config, email, report, html, sleep=sleep),
                )
            )
    for result in results:
        if result.ok:
            LOG.info("%s: %s", result.target, result.detail)
        else:
            LOG.warning("%s: %s", result.target, result.detail)
    return results


def _guarded(channel: Channel, target: str, send: Callable[[], DeliveryResult]) -> DeliveryResult:
    """A channel's result, even when something unforeseen is raised: the others still run.
    The exception's text is not shown (it could hold the webhook's URL)."""
    try:
        return send()
    except Exception as exc:
        return DeliveryResult(channel, False, target, f"failed: {type(exc).__name__}", 0)
