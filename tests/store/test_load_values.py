"""Reading snapshots back: every value as it was written, whichever JSON reader reads it."""

from __future__ import annotations

from datetime import UTC, datetime

from iam_gov.model import Account, AccountStatus, PolicyDocument, SystemSnapshot
from iam_gov.store import Store
from iam_gov.store.snapshots import load_snapshot, save_snapshot

T0 = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
BIG = 2**70  # beyond 64 bits: orjson would read it as a float


def _snapshot() -> SystemSnapshot:
    return SystemSnapshot(
        system="s",
        connector="aws",
        source="test",
        collected_at=T0,
        complete=True,
        accounts=(
            Account(
                system="s",
                native_id="a1",
                login="a1",
                status=AccountStatus.ACTIVE,
                mfa_factors=("totp", "é\u202e"),
                attributes={"n": str(BIG), "note": "NaN", "x": "\u00e9\t\\N"},
            ),
        ),
        documents=(
            PolicyDocument(
                system="s",
                document_id="d1",
                name="d1",
                kind="inline",
                document={"Big": BIG, "Negative": -BIG, "Float": 0.1, "List": [1, 1.5, None]},
            ),
        ),
    )


def test_documents_and_attributes_read_back_exactly(store: Store) -> None:
    """A policy document's integers beyond 64 bits stay integers (documents are read by
    ``json``); attributes and factor lists (text only, read by orjson) come back as written."""
    written = _snapshot()
    with store.writing() as conn:
        sid = save_snapshot(conn, written, T0)
    with store.reading() as conn:
        read = load_snapshot(conn, sid)
    document = read.documents[0].document
    assert document == written.documents[0].document
    assert type(document["Big"]) is int and type(document["Negative"]) is int
    assert read.accounts[0].attributes == written.accounts[0].attributes
    assert read.accounts[0].mfa_factors == written.accounts[0].mfa_factors
