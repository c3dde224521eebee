"""Reminders against a real SMTP server on 127.0.0.1 (aiosmtpd): STARTTLS with AUTH, implicit
TLS, a plain relay, .eml files; header injection; a server that is not there."""

from __future__ import annotations

import email
import email.policy
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from sqlalchemy import select

from iam_gov import audit
from iam_gov.campaigns.definition import CampaignDefinition, CampaignError
from iam_gov.campaigns.remind import ReminderError, remind
from iam_gov.config import Config, load_config
from iam_gov.store import Store
from iam_gov.store.schema import audit_log, campaign_history
from tests.campaigns.seed import REVIEWER, seed_campaign
from tests.support.slapd import make_ca_and_server_cert

AFTER_DUE = datetime(2025, 1, 23, 8, 0, tzinfo=UTC)
"""Seeded campaigns are due on 2025-01-20: three days late."""
BOB = "bob.boss@example.com"
PASSWORD = "smtp-Secret-9f2c"
PASSWORD_ENV = "IAM_GOV_TEST_SMTP_PASSWORD"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    authenticated_as: str | None


@dataclass
class Mailbox:
    """What a local SMTP server was given."""

    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        data = session.auth_data
        login = data.login.decode() if isinstance(data, LoginPassword) else None
        self.received.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), message, login)
        )
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login, password = data.login.decode(), data.password.decode()
        self.logins.append((mechanism, login))
        return AuthResult(
            success=(login, password) == ("reminders", PASSWORD), auth_data=data, handled=False
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    port: int
    box: Mailbox


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return make_ca_and_server_cert(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def trust_test_ca(
    certificates: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> ssl.SSLContext:
    """The client trusts the test CA (as a company's own CA is trusted, through OpenSSL's
    SSL_CERT_FILE); the server context for the fake server."""
    ca, cert, key = certificates
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def starttls_server(trust_test_ca: ssl.SSLContext) -> Iterator[Server]:
    box = Mailbox()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=trust_test_ca,
        require_starttls=True,
        authenticator=box.authenticate,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield Server(controller.port, box)
    finally:
        controller.stop()


@pytest.fixture
def tls_server(trust_test_ca: ssl.SSLContext) -> Iterator[Server]:
    box = Mailbox()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=free_port(),
        ssl_context=trust_test_ca,
        authenticator=box.authenticate,
        auth_required=True,
        # aiosmtpd knows TLS only from STARTTLS; this whole connection is TLS.
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield Server(controller.port, box)
    finally:
        controller.stop()


@pytest.fixture
def relay() -> Iterator[Server]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield Server(controller.port, box)
    finally:
        controller.stop()


def write_config(folder: Path, review: str) -> Path:
    path = folder / "iam-gov.toml"
    path.write_text(
        '[policy]\npath = "policy.yaml"\n\n[systems.hr]\ntype = "hr"\npath = "hr.csv"\n\n' + review
    )
    return path


def smtp_config(
    folder: Path, port: int, security: str, *, login: bool = True, host: str = "localhost"
) -> Config:
    auth = f'username = "reminders"\npassword = {{ env = "{PASSWORD_ENV}" }}\n' if login else ""
    return load_config(
        write_config(
            folder,
            '[review]\nreview_command = "iam-gov --config /etc/iam-gov.toml review"\n\n'
            f'[review.smtp]\nhost = "{host}"\nport = {port}\nsecurity = "{security}"\n'
            f'sender = "iam-gov@example.com"\ntimeout_seconds = 5\n{auth}',
        )
    )


@pytest.fixture(autouse=True)
def smtp_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def two_campaigns(store: Store) -> tuple[int, int]:
    """Rita: 3 undecided in the first, 1 in the second; Bob: 1 in the first; Carl: none."""
    decided = {"decision": "approve", "decided_by": "x", "decided_at": AFTER_DUE}
    first = seed_campaign(
        store,
        [
            {},
            {},
            {},
            {"reviewer": BOB},
            {**decided, "reviewer": BOB},
            {**decided, "reviewer": "carl@example.com"},
        ],
        CampaignDefinition(name="Q1 access review"),
    )
    second = seed_campaign(
        store, [{}, decided], CampaignDefinition(name="Payroll admins", due=date(2025, 3, 1))
    )
    seed_campaign(store, [{}], CampaignDefinition(name="Closed one"), status="closed")
    return first, second


def audit_of(store: Store, action: str) -> list[Any]:
    with store.reading() as conn:
        return list(
            conn.execute(
                select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.seq)
            )
        )


def history_of(store: Store, action: str) -> list[Any]:
    with store.reading() as conn:
        return list(
            conn.execute(
                select(campaign_history)
                .where(campaign_history.c.action == action)
                .order_by(campaign_history.c.id)
            )
        )


def everything_stored(store: Store) -> str:
    """The audit log and history as text, to look for secrets."""
    with store.reading() as conn:
        rows = [*conn.execute(select(audit_log)), *conn.execute(select(campaign_history))]
    return "\n".join(repr(tuple(row)) for row in rows)


def test_starttls_with_login_one_message_per_reviewer(
    store: Store, tmp_path: Path, starttls_server: Server
) -> None:
    first, second = two_campaigns(store)
    config = smtp_config(tmp_path, starttls_server.port, "starttls")
    result = remind(store, config, now=AFTER_DUE, actor="ops@example.com")

    assert sorted(result.sent) == [BOB, REVIEWER] and result.skipped == {}
    box = starttls_server.box
    assert [m.rcpt_tos for m in box.received] == [[BOB], [REVIEWER]]
    assert all(m.authenticated_as == "reminders" for m in box.received)
    assert all(m.mail_from == "iam-gov@example.com" for m in box.received)
    rita = box.received[1].message
    assert rita["To"] == REVIEWER and rita["From"] == "iam-gov@example.com"
    assert rita["Subject"] == ("Access review: 4 items to decide, OVERDUE since 2025-01-20")
    body = rita.get_content()
    assert (
        f"Q1 access review (campaign {first}): 3 items, due 2025-01-20, OVERDUE by 3 days" in body
    )
    assert f"Payroll admins (campaign {second}): 1 item, due 2025-03-01" in body
    assert f"open it with:  iam-gov --config /etc/iam-gov.toml review {first}" in body
    assert f"iam-gov --config /etc/iam-gov.toml review {second}" in body
    bob = box.received[0].message
    assert "1 item to decide" in bob["Subject"] and "Payroll" not in bob.get_content()

    # Recorded: one audit record per reviewer, one history row per reviewer and campaign.
    records = audit_of(store, "campaign.remind")
    assert [(r.target, r.actor) for r in records] == [
        (f"reviewer:{BOB}", audit.attributed("ops@example.com")),
        (f"reviewer:{REVIEWER}", audit.attributed("ops@example.com")),
    ]
    assert records[1].details["pending"] == {str(first): 3, str(second): 1}
    assert records[1].details["overdue"] is True
    assert records[1].details["via"] == f"smtp localhost:{starttls_server.port} (starttls)"
    rows = history_of(store, "remind")
    assert sorted((r.campaign_id, r.details["reviewer"], r.details["pending"]) for r in rows) == [
        (first, BOB, 1),
        (first, REVIEWER, 3),
        (second, REVIEWER, 1),
    ]
    assert PASSWORD not in everything_stored(store)


def test_only_one_campaign(store: Store, tmp_path: Path, starttls_server: Server) -> None:
    _, second = two_campaigns(store)
    config = smtp_config(tmp_path, starttls_server.port, "starttls")
    result = remind(store, config, second, now=AFTER_DUE)
    assert result.sent == [REVIEWER]
    [received] = starttls_server.box.received
    assert "1 item to decide" in received.message["Subject"]
    closed = seed_campaign(store, [{}], status="closed")
    with pytest.raises(CampaignError, match=f"campaign {closed} is closed"):
        remind(store, config, closed, now=AFTER_DUE)


def test_a_wrong_password_is_a_clear_error_without_the_password(
    store: Store, tmp_path: Path, starttls_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_campaigns(store)
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    config = smtp_config(tmp_path, starttls_server.port, "starttls")
    with pytest.raises(ReminderError, match="refused the login of reminders: 535") as caught:
        remind(store, config, now=AFTER_DUE)
    assert "not-the-password" not in str(caught.value)
    assert starttls_server.box.received == [] and audit_of(store, "campaign.remind") == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls(store: Store, tmp_path: Path, tls_server: Server) -> None:
    two_campaigns(store)
    config = smtp_config(tmp_path, tls_server.port, "tls")
    result = remind(store, config, now=AFTER_DUE)
    assert sorted(result.sent) == [BOB, REVIEWER]
    assert len(tls_server.box.received) == 2
    assert tls_server.box.logins and all(m.authenticated_as for m in tls_server.box.received)


def test_a_server_whose_certificate_is_not_trusted_is_refused(
    store: Store, tmp_path: Path, starttls_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_campaigns(store)
    monkeypatch.delenv("SSL_CERT_FILE")
    config = smtp_config(tmp_path, starttls_server.port, "starttls")
    with pytest.raises(ReminderError, match="STARTTLS failed: TLS: CERTIFICATE_VERIFY_FAILED"):
        remind(store, config, now=AFTER_DUE)
    assert starttls_server.box.received == [] and starttls_server.box.logins == []


def test_no_password_over_a_plain_connection(store: Store, tmp_path: Path, relay: Server) -> None:
    two_campaigns(store)
    config = smtp_config(tmp_path, relay.port, "none", host="127.0.0.1")
    with pytest.raises(ReminderError, match="never sent over an unencrypted connection"):
        remind(store, config, now=AFTER_DUE)
    assert relay.box.received == []


def test_addresses_and_names_cannot_inject_headers(
    store: Store, tmp_path: Path, relay: Server
) -> None:
    injected = "victim@example.com\r\nBcc: thief@evil.example"
    seed_campaign(
        store,
        [{}, {"reviewer": injected}, {"reviewer": "a@b.example>, thief@evil.example"}],
        CampaignDefinition(name="Q1\r\nBcc: thief@evil.example\x1b[2J\u202e"),
    )
    config = smtp_config(tmp_path, relay.port, "none", login=False, host="127.0.0.1")
    result = remind(store, config, now=AFTER_DUE)
    assert result.sent == [REVIEWER]
    assert result.skipped == {
        injected: "the address contains a line break",
        "a@b.example>, thief@evil.example": "not an e-mail address",
    }
    [received] = relay.box.received
    assert received.rcpt_tos == [REVIEWER]
    message = received.message
    assert message["Bcc"] is None and message["To"] == REVIEWER
    assert "thief" not in message["Subject"]
    body = message.get_content()
    assert "Q1\\r\\nBcc: thief@evil.example\\x1b[2J\\u202e (campaign 1)" in body
    assert "\x1b" not in body and "\u202e" not in body


def test_reminders_written_as_eml_files(store: Store, tmp_path: Path) -> None:
    first, _ = two_campaigns(store)
    folder = tmp_path / "outbox"
    config = load_config(write_config(tmp_path, f'[review]\nreminders_folder = "{folder}"\n'))
    result = remind(store, config, now=AFTER_DUE)
    assert sorted(p.name for p in result.written) == [
        f"20250123T080000Z-{BOB}.eml",
        f"20250123T080000Z-{REVIEWER}.eml",
    ]
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in result.written)
    message = email.message_from_bytes(
        (folder / f"20250123T080000Z-{REVIEWER}.eml").read_bytes(), policy=email.policy.default
    )
    assert isinstance(message, EmailMessage)
    assert message["To"] == REVIEWER and "4 items" in message["Subject"]
    assert f"iam-gov review {first}" in message.get_content()
    assert [r.details["via"] for r in audit_of(store, "campaign.remind")] == [
        f"folder {folder}"
    ] * 2


def test_dry_run_sends_writes_and_records_nothing(store: Store, tmp_path: Path) -> None:
    two_campaigns(store)
    folder = tmp_path / "outbox"
    config = load_config(write_config(tmp_path, f'[review]\nreminders_folder = "{folder}"\n'))
    result = remind(store, config, now=AFTER_DUE, dry_run=True)
    assert [r.reviewer for r in result.reminders] == [BOB, REVIEWER]
    assert [r.pending for r in result.reminders] == [1, 4] and result.reminders[1].overdue
    assert result.sent == [] and not folder.exists()
    assert audit_of(store, "campaign.remind") == [] and history_of(store, "remind") == []


def test_nowhere_to_send(store: Store, tmp_path: Path) -> None:
    two_campaigns(store)
    config = load_config(write_config(tmp_path, ""))
    with pytest.raises(ReminderError, match=r"set \[review.smtp\].*reminders_folder"):
        remind(store, config, now=AFTER_DUE)


def test_an_unreachable_server(store: Store, tmp_path: Path) -> None:
    two_campaigns(store)
    port = free_port()  # nobody listens on it
    config = smtp_config(tmp_path, port, "starttls", host="127.0.0.1")
    with pytest.raises(
        ReminderError, match=f"cannot reach the mail server 127.0.0.1:{port}: Connection refused"
    ):
        remind(store, config, now=AFTER_DUE)
    assert audit_of(store, "campaign.remind") == []


def test_the_command(tmp_path: Path, relay: Server) -> None:
    with Store.open(f"sqlite:///{tmp_path}/iam-gov.db") as store:
        two_campaigns(store)
        url = store.url
    env = {**os.environ, "IAM_GOV_DATABASE_URL": url, "COLUMNS": "200"}

    def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "iam_gov", "--config", str(config), "campaign", "remind", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    plain = tmp_path / "plain"
    plain.mkdir()
    review = (
        '[review.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        'sender = "iam-gov@example.com"\ntimeout_seconds = 5\n'
    )
    config = write_config(plain, review.format(port=relay.port))
    dry = run(config, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would remind {REVIEWER}: 4 item(s) in 2 campaign(s), due 2025-01-20" in dry.stdout
    assert relay.box.received == []
    sent = run(config, "1")
    assert sent.returncode == 0, sent.stderr
    assert (
        f"reminded {BOB}: 1 item(s)" in sent.stdout and "2 reminder(s) through smtp" in sent.stdout
    )
    assert len(relay.box.received) == 2

    away = tmp_path / "away"
    away.mkdir()
    port = free_port()
    failed = run(write_config(away, review.format(port=port)))
    assert failed.returncode == 2
    assert (
        f"error: cannot reach the mail server 127.0.0.1:{port}: Connection refused" in failed.stderr
    )
    assert "Traceback" not in failed.stderr
