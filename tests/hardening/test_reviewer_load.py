"""Ten reviewers deciding at once, each on its own connection (issue 15, load): nothing a
reviewer was told was saved is lost, nothing they were not told of is saved, every conflict is
real, and PostgreSQL's serialization failures and deadlocks are tried again inside ``decide``.

The long run (10 × 10,000 decisions on PostgreSQL) is benchmarks/reviewer_load.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from iam_gov import audit
from iam_gov.campaigns import decisions
from iam_gov.campaigns.decisions import ATTEMPTS, Conflict, decide
from iam_gov.errors import IamGovError, StoreError
from iam_gov.store import Store
from iam_gov.store.schema import audit_log, campaign_history, campaign_items
from tests.support import reviewer_load
from tests.support.reviewer_load import reviewer

REVIEWERS = 10
DECISIONS_EACH = 200


def _problems(outcome: reviewer_load.Outcome) -> list[str]:
    return outcome.errors + outcome.problems


def test_ten_reviewers_lose_nothing_and_every_conflict_is_real(store_url: str) -> None:
    """10 × 200 random decisions on one campaign (SQLite and PostgreSQL): the store holds
    exactly the decisions reviewers were told were saved, in version order, with one audit
    record each; every Conflict names an item someone else changed after the reviewer saw it."""
    outcome = reviewer_load.run(
        store_url, reviewers=REVIEWERS, decisions_each=DECISIONS_EACH, items=120, seed_=15
    )
    assert _problems(outcome) == []
    assert len(outcome.attempts) == REVIEWERS * DECISIONS_EACH
    assert (outcome.lost, outcome.phantom) == (0, 0)
    # The run really raced: some decisions collided, most went through.
    assert 0 < outcome.conflicts < outcome.committed


# --- PostgreSQL: transactions the server aborts -------------------------------------------


@pytest.fixture
def pg_url(postgres_database: Callable[[], str]) -> str:
    return postgres_database()


def _admin(url: str) -> Any:
    import psycopg

    parsed = make_url(url)
    return psycopg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
        autocommit=True,
    )


@contextmanager
def _retries_logged() -> Iterator[list[str]]:
    seen: list[str] = []

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler, level = Handler(logging.INFO), decisions.LOG.level
    decisions.LOG.addHandler(handler)
    decisions.LOG.setLevel(logging.INFO)
    try:
        yield seen
    finally:
        decisions.LOG.removeHandler(handler)
        decisions.LOG.setLevel(level)


def _written(url: str, campaign_id: int) -> tuple[Any, int, int, audit.Verification]:
    with Store.open(url) as store, store.reading() as conn:
        item = conn.execute(
            select(campaign_items).where(
                campaign_items.c.campaign_id == campaign_id, campaign_items.c.item_id == 1
            )
        ).one()
        history = conn.execute(select(func.count()).select_from(campaign_history)).scalar_one()
        records = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
        return item, history, records, audit.verify(conn)


@pytest.mark.postgres
def test_a_server_default_of_serializable_does_not_break_concurrent_reviewers(
    pg_url: str,
) -> None:
    """A DBA's ``default_transaction_isolation = serializable``: writers still queue on the
    store's lock and all commit (the writer's transaction is READ COMMITTED), nothing lost."""
    with _admin(pg_url) as conn:
        name = make_url(pg_url).database
        conn.execute(
            f"ALTER DATABASE \"{name}\" SET default_transaction_isolation = 'serializable'"
        )
    outcome = reviewer_load.run(pg_url, reviewers=REVIEWERS, decisions_each=30, items=60, seed_=3)
    assert _problems(outcome) == []
    assert len(outcome.attempts) == REVIEWERS * 30
    assert outcome.committed > 0


def _inject_failures(url: str, count: int) -> None:
    """The next ``count`` history inserts fail with SQLSTATE 40001, as PostgreSQL fails a
    transaction it cannot serialize (a sequence: its value survives the rollback)."""
    with _admin(url) as conn:
        conn.execute("CREATE SEQUENCE injected_failures")
        conn.execute(
            f"""
            CREATE FUNCTION fail_to_serialize() RETURNS trigger AS $$
            BEGIN
                IF nextval('injected_failures') <= {count} THEN
                    RAISE EXCEPTION 'could not serialize access (injected)'
                        USING ERRCODE = '40001';
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql
            """
        )
        conn.execute(
            "CREATE TRIGGER fail_to_serialize BEFORE INSERT ON campaign_history "
            "FOR EACH ROW EXECUTE FUNCTION fail_to_serialize()"
        )


@pytest.mark.postgres
def test_serialization_failures_are_tried_again_and_then_saved_once(pg_url: str) -> None:
    """Two serialization failures in a row: ``decide`` tries again and saves the decision
    once (one history row, one audit record), not three times and not zero."""
    campaign_id = reviewer_load.seed(pg_url, 1)
    _inject_failures(pg_url, 2)
    with Store.open(pg_url) as store, _retries_logged() as retries:
        assert decide(store, campaign_id, [1], "revoke", reviewer(0), seen_versions={1: 0}) == 1
    assert len(retries) == 2 and all("40001" in r for r in retries)
    item, history, records, chain = _written(pg_url, campaign_id)
    assert (item.decision, item.version, history, records) == ("revoke", 1, 1, 1)
    assert chain.ok


@pytest.mark.postgres
def test_serialization_failures_past_the_bound_are_one_store_error(pg_url: str) -> None:
    """A transaction that fails every time is tried ``ATTEMPTS`` times, then a one-line
    ``StoreError`` (exit 2, never an internal error); nothing is written."""
    campaign_id = reviewer_load.seed(pg_url, 1)
    _inject_failures(pg_url, 1000)
    with (
        Store.open(pg_url) as store,
        _retries_logged() as retries,
        pytest.raises(StoreError) as raised,
    ):
        decide(store, campaign_id, [1], "approve", reviewer(0))
    assert len(retries) == ATTEMPTS - 1
    assert isinstance(raised.value, IamGovError)
    message = str(raised.value)
    assert "could not serialize access" in message and "\n" not in message
    assert "[SQL" not in message
    item, history, records, chain = _written(pg_url, campaign_id)
    assert (item.decision, item.version, history, records) == (None, 0, 0, 0)
    assert chain.ok


def _wait_for_lock_wait(url: str, application: str) -> None:
    with _admin(url) as conn:
        for _ in range(1000):
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = %s AND wait_event_type = 'Lock'",
                (application,),
            ).fetchone()
            if waiting and waiting[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the decision never waited for the lock")


@pytest.mark.postgres
@pytest.mark.parametrize("other_commits", [False, True])
def test_a_deadlock_is_tried_again_and_reads_afresh(pg_url: str, other_commits: bool) -> None:
    """Another session holds the audit head and then wants the item ``decide`` has updated:
    PostgreSQL breaks the deadlock by aborting ``decide`` (40P01), which tries again. When the
    other session then rolls back, the decision is saved once; when it commits its own change
    of the item, the retry sees the new version and reports a Conflict, writing nothing."""
    campaign_id = reviewer_load.seed(pg_url, 1)
    name = make_url(pg_url).database
    with _admin(pg_url) as conn:
        conn.execute(f"ALTER DATABASE \"{name}\" SET deadlock_timeout = '50ms'")
    url = make_url(pg_url).update_query_dict({"application_name": "deciding"})
    decided: list[object] = []

    def decide_now() -> None:
        with Store.open(url.render_as_string(hide_password=False)) as store:
            try:
                decided.append(
                    decide(store, campaign_id, [1], "approve", reviewer(1), seen_versions={1: 0})
                )
            except Exception as exc:  # looked at below
                decided.append(exc)

    other = _admin(pg_url)
    other.autocommit = False
    try:
        other.execute("SET deadlock_timeout = '10s'")  # so that decide's check finds the cycle
        other.execute("UPDATE audit_head SET seq = seq WHERE id = 1")
        with _retries_logged() as retries:
            thread = threading.Thread(target=decide_now)
            thread.start()
            _wait_for_lock_wait(pg_url, "deciding")
            other.execute(
                "UPDATE campaign_items SET version = version + 1, decision = 'revoke', "
                "decided_by = 'dba@example.com' WHERE campaign_id = %s AND item_id = 1",
                (campaign_id,),
            )
            if other_commits:
                other.commit()
            else:
                other.rollback()
            thread.join(timeout=60)
        assert not thread.is_alive()
    finally:
        other.close()
    assert retries and all("40P01" in r for r in retries)
    item, history, records, chain = _written(pg_url, campaign_id)
    assert chain.ok
    if other_commits:
        (result,) = decided
        assert isinstance(result, Conflict) and result.item_ids == (1,)
        assert (item.decision, item.decided_by, item.version) == ("revoke", "dba@example.com", 1)
        assert (history, records) == (0, 0)
    else:
        assert decided == [1]
        assert (item.decision, item.decided_by, item.version) == (
            "approve",
            reviewer(1).actor,
            1,
        )
        assert (history, records) == (1, 1)
