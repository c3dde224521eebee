"""Reminders: one e-mail per reviewer with undecided items in open campaigns.

Each says how many items wait, by when (and whether that is past), in which campaigns, and
the command that opens each review. Sent through the configured SMTP server (STARTTLS,
implicit TLS, or a plain local relay; the password comes from its secret reference and is
never logged), or written as ``.eml`` files to ``[review] reminders_folder``. Every reminder
sent is recorded in the audit log and the campaign's history.

Reviewer addresses and campaign names come from the store, which took them from HR files and
definitions: they are data. An address with a line break or any other control character is
refused (no header injection); names appear only in the body, printable.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from sqlalchemy import select

from iam_gov import audit
from iam_gov.campaigns.definition import CampaignError
from iam_gov.campaigns.progress import Pending, pending_reviews
from iam_gov.config import Config, SmtpSettings
from iam_gov.files import make_private_folders
from iam_gov.store import Store
from iam_gov.store.schema import campaign_history, campaigns
from iam_gov.textsafe import printable
from iam_gov.timeutil import utcnow

_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$"
)
DEFAULT_SENDER = "iam-gov@localhost"


class ReminderError(CampaignError):
    """Reminders cannot be sent: no way configured, or the mail server refused or is away."""


@dataclass(frozen=True)
class Reminder:
    """One reviewer's reminder."""

    reviewer: str
    pending: int
    campaigns: tuple[Pending, ...]
    due_on: date | None
    """The soonest due date among the campaigns."""
    overdue: bool
    message: EmailMessage


@dataclass
class RemindResult:
    reminders: list[Reminder]
    """Every reminder built (on a dry run, none of them went out)."""
    dry_run: bool
    transport: str
    """How they went: ``smtp HOST:PORT (starttls)``, ``folder PATH``, or ``dry run``."""
    sent: list[str] = field(default_factory=list)
    """Reviewers reminded (sent, or written to the folder)."""
    written: list[Path] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    """Reviewer address -> why no reminder went to them."""


def check_address(value: str) -> str | None:
    """Why ``value`` cannot be a recipient, or ``None`` when it can (one plain address)."""
    if any(ch in value for ch in "\r\n"):
        return "the address contains a line break"
    if not value.isascii() or not value.isprintable():
        return "the address contains control or non-ASCII characters"
    if not _ADDRESS.match(value):
        return "not an e-mail address"
    return None


def build_reminders(
    pending: Sequence[Pending], *, at: datetime, sender: str, review_command: str
) -> tuple[list[Reminder], dict[str, str]]:
    """The reminders for these pending counts (one per reviewer), and the reviewers who get
    none, with why."""
    today = at.date()
    by_reviewer: dict[str, list[Pending]] = {}
    for entry in pending:
        by_reviewer.setdefault(entry.reviewer, []).append(entry)
    reminders: list[Reminder] = []
    skipped: dict[str, str] = {}
    for reviewer, entries in sorted(by_reviewer.items()):
        problem = check_address(reviewer)
        if problem is not None:
            skipped[reviewer] = problem
            continue
        entries.sort(key=lambda p: (p.due_on or date.max, p.campaign_id))
        dues = [p.due_on for p in entries if p.due_on is not None]
        due = min(dues) if dues else None
        overdue = due is not None and due < today
        reminders.append(
            Reminder(
                reviewer=reviewer,
                pending=sum(p.pending for p in entries),
                campaigns=tuple(entries),
                due_on=due,
                overdue=overdue,
                message=_message(reviewer, entries, due, overdue, at, sender, review_command),
            )
        )
    return reminders, skipped


def _message(
    reviewer: str,
    entries: Sequence[Pending],
    due: date | None,
    overdue: bool,
    at: datetime,
    sender: str,
    review_command: str,
) -> EmailMessage:
    today = at.date()
    total = sum(p.pending for p in entries)
    items = f"{total} item{'s' if total != 1 else ''}"
    subject = f"Access review: {items} to decide"  # short: one unfolded header line
    if due is not None:
        subject += f", {'OVERDUE since' if overdue else 'due'} {due.isoformat()}"
    lines = [
        "Hello,",
        "",
        f"You have {items} to review in {len(entries)} access-review "
        f"campaign{'s' if len(entries) != 1 else ''}:",
        "",
    ]
    for p in entries:
        when = "no due date"
        if p.due_on is not None:
            late = (today - p.due_on).days
            when = f"due {p.due_on.isoformat()}" + (
                f", OVERDUE by {late} day{'s' if late != 1 else ''}" if late > 0 else ""
            )
        lines.append(
            f"  * {printable(p.campaign_name)} (campaign {p.campaign_id}): "
            f"{p.pending} item{'s' if p.pending != 1 else ''}, {when}"
        )
        lines.append(f"      open it with:  {review_command} {p.campaign_id}")
    lines += [
        "",
        "Approve, revoke, delegate or abstain on each item, then sign off. Items nobody decides "
        "by the due date are decided by the campaign's no-response rule.",
        "",
        "-- ",
        "iam-gov access reviews",
        "",
    ]
    message = EmailMessage()
    message["From"] = sender
    message["To"] = Address(addr_spec=reviewer)
    message["Subject"] = subject
    message["Date"] = format_datetime(at)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content("\n".join(lines))
    return message


def remind(
    store: Store,
    config: Config,
    campaign_id: int | None = None,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    actor: str | None = None,
) -> RemindResult:
    """Remind every reviewer with undecided items in open campaigns (or in ``campaign_id``)."""
    at = now or utcnow()
    settings = config.review
    smtp = settings.smtp
    sender = smtp.sender if smtp is not None else DEFAULT_SENDER
    if check_address(sender) is not None:
        raise ReminderError(f"review.smtp.sender: {printable(sender)} is not an e-mail address")
    with store.reading() as conn:
        if campaign_id is not None:
            status = conn.execute(
                select(campaigns.c.status).where(campaigns.c.id == campaign_id)
            ).scalar_one_or_none()
            if status is None:
                raise CampaignError(f"there is no campaign {campaign_id} (iam-gov campaign list)")
            if status != "open":
                raise CampaignError(
                    f"campaign {campaign_id} is {status}: only open campaigns have reviewers "
                    "to remind"
                )
        pending = pending_reviews(conn, campaign_id)
    reminders, skipped = build_reminders(
        pending, at=at, sender=sender, review_command=settings.review_command
    )
    if dry_run:
        return RemindResult(reminders=reminders, dry_run=True, transport="dry run", skipped=skipped)
    if settings.reminders_folder is not None:
        result = RemindResult(
            reminders=reminders,
            dry_run=False,
            transport=f"folder {settings.reminders_folder}",
            skipped=skipped,
        )
        try:
            for reminder in reminders:
                result.written.append(_write_eml(settings.reminders_folder, reminder, at))
                result.sent.append(reminder.reviewer)
        except OSError as exc:
            raise ReminderError(
                f"cannot write reminders to {settings.reminders_folder}: {exc.strerror or exc}"
                f" ({len(result.sent)} written before)"
            ) from None
        finally:
            _record(store, result, at, actor)
        return result
    if smtp is None:
        raise ReminderError(
            "no way to send reminders: set [review.smtp] (a mail server) or [review] "
            "reminders_folder in the configuration (or use --dry-run to see them)"
        )
    result = RemindResult(
        reminders=reminders,
        dry_run=False,
        transport=f"smtp {smtp.host}:{smtp.port} ({smtp.security})",
        skipped=skipped,
    )
    if not reminders:
        return result
    try:
        _send_all(smtp, result)
    finally:
        _record(store, result, at, actor)
    return result


def _write_eml(folder: Path, reminder: Reminder, at: datetime) -> Path:
    make_private_folders(folder)
    safe = re.sub(r"[^A-Za-z0-9@._+-]", "_", reminder.reviewer)
    path = folder / f"{at.strftime('%Y%m%dT%H%M%SZ')}-{safe}.eml"
    handle, temporary = tempfile.mkstemp(prefix=".reminder.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(bytes(reminder.message))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _server(smtp: SmtpSettings) -> str:
    return f"the mail server {smtp.host}:{smtp.port}"


def connect_smtp(smtp: SmtpSettings) -> smtplib.SMTP:
    """A client signed in to the server as configured. Errors never contain the password."""
    password = None
    if smtp.password is not None:
        if smtp.security == "none":
            raise ReminderError(
                "review.smtp: a password is never sent over an unencrypted connection; use "
                'security = "starttls" or "tls"'
            )
        if not smtp.username:
            raise ReminderError("review.smtp: a password is set but no username")
        password = smtp.password.resolve("review.smtp.password").get_secret_value()
    elif smtp.username:
        raise ReminderError(
            "review.smtp: a username is set but no password "
            '(password = { env = "SMTP_PASSWORD" } or { keyring = "service/user" })'
        )
    context = ssl.create_default_context()
    client: smtplib.SMTP
    try:
        if smtp.security == "tls":
            client = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=smtp.timeout_seconds, context=context
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
    except (OSError, smtplib.SMTPException) as exc:
        raise ReminderError(f"cannot reach {_server(smtp)}: {smtp_failure(exc)}") from None
    try:
        if smtp.security == "starttls":
            client.starttls(context=context)
        if password is not None and smtp.username:
            client.login(smtp.username, password)
    except smtplib.SMTPAuthenticationError as exc:
        quietly_close(client)
        raise ReminderError(
            f"{_server(smtp)} refused the login of {smtp.username}: {smtp_failure(exc)}"
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        quietly_close(client)
        step = "STARTTLS" if smtp.security == "starttls" else "signing in"
        raise ReminderError(f"{_server(smtp)}: {step} failed: {smtp_failure(exc)}") from None
    return client


def _send_all(smtp: SmtpSettings, result: RemindResult) -> None:
    client = connect_smtp(smtp)
    try:
        for reminder in result.reminders:
            try:
                client.send_message(
                    reminder.message, from_addr=smtp.sender, to_addrs=[reminder.reviewer]
                )
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
                result.skipped[reminder.reviewer] = (
                    f"refused by the mail server: {smtp_failure(exc)}"
                )
                continue
            except (OSError, smtplib.SMTPException) as exc:
                raise ReminderError(
                    f"{_server(smtp)} stopped taking reminders: {smtp_failure(exc)} "
                    f"({len(result.sent)} of {len(result.reminders)} sent)"
                ) from None
            result.sent.append(reminder.reviewer)
    finally:
        quietly_close(client)


def quietly_close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def smtp_failure(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = [f"{code} {_text(msg)}" for code, msg in exc.recipients.values()]
        return "; ".join(answers) or "recipient refused"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return printable(str(exc) or type(exc).__name__)


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return printable(text)


def _record(store: Store, result: RemindResult, at: datetime, actor: str | None) -> None:
    """Each reminder that went out: one audit record and one history row per campaign."""
    done = set(result.sent)
    went = [r for r in result.reminders if r.reviewer in done]
    if not went:
        return
    who = actor or audit.current_actor()
    with store.writing() as conn:
        for reminder in went:
            details = {
                "reviewer": reminder.reviewer,
                "pending": {str(p.campaign_id): p.pending for p in reminder.campaigns},
                "due_on": reminder.due_on.isoformat() if reminder.due_on else None,
                "overdue": reminder.overdue,
                "via": result.transport,
                "message_id": str(reminder.message["Message-ID"]),
            }
            audit.append(
                conn, "campaign.remind", f"reviewer:{reminder.reviewer}", details, actor=who, at=at
            )
            conn.execute(
                campaign_history.insert(),
                [
                    {
                        "campaign_id": p.campaign_id,
                        "item_id": None,
                        "action": "remind",
                        "actor": who,
                        "at": at,
                        "details": {
                            "reviewer": reminder.reviewer,
                            "pending": p.pending,
                            "overdue": p.due_on is not None and p.due_on < at.date(),
                            "via": result.transport,
                        },
                    }
                    for p in reminder.campaigns
                ],
            )
