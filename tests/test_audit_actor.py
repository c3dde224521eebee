"""Who acts: the audit log names the OS account that really ran the command; an identity it
claims (IAM_GOV_ACTOR, a reviewer's e-mail) is recorded as claimed, next to it."""

from __future__ import annotations

import os
import pwd
import socket
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from iam_gov import audit
from iam_gov.store import Store
from iam_gov.store.schema import audit_head, audit_log

REAL = f"{pwd.getpwuid(os.getuid()).pw_name}@{socket.gethostname()}"


def newest(store: Store) -> audit.AuditRecord:
    with store.reading() as conn:
        return audit.records(conn, limit=1)[0]


def test_the_environment_is_a_claim_next_to_the_os_user(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(audit.ACTOR_ENV, "someone-else")
    with store.writing() as conn:
        audit.append(conn, "collect", "okta", {})
    assert newest(store).actor == f"{REAL} (claims someone-else)"


def test_user_and_logname_cannot_change_who_ran_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, "mallory")
    monkeypatch.delenv(audit.ACTOR_ENV, raising=False)
    with store.writing() as conn:
        audit.append(conn, "collect", "okta", {})
    assert newest(store).actor == REAL


def test_an_identity_given_by_the_caller_is_recorded_as_claimed(store: Store) -> None:
    with store.writing() as conn:
        audit.append(conn, "campaign.decide", "campaign #1", {}, actor="rita@example.com")
        audit.append(conn, "collect", "okta", {}, actor=REAL)  # no claim beyond the truth
    with store.reading() as conn:
        second, first = audit.records(conn, limit=2)
    assert first.actor == f"{REAL} (claims rita@example.com)"
    assert second.actor == REAL


def test_a_store_written_before_still_verifies_with_new_records(store: Store) -> None:
    """Records written when the actor was whatever the environment said keep their hashes."""
    at = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    prev = audit.GENESIS
    with store.writing() as conn:
        for seq, actor in ((1, "cron:iam-gov"), (2, "alice@laptop")):
            digest = audit.record_hash(prev, at, actor, "collect", "okta", {"n": seq})
            conn.execute(
                audit_log.insert().values(
                    seq=seq,
                    recorded_at=at,
                    actor=actor,
                    action="collect",
                    target="okta",
                    details={"n": seq},
                    prev_hash=prev,
                    hash=digest,
                )
            )
            prev = digest
        conn.execute(update(audit_head).values(seq=2, hash=prev))
        audit.append(conn, "collect", "okta", {"n": 3}, actor="cron:iam-gov")
    with store.reading() as conn:
        result = audit.verify(conn)
    assert result.ok, result.problem
    assert result.records == 3
    assert newest(store).actor == f"{REAL} (claims cron:iam-gov)"
