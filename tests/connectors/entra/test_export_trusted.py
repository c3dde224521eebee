"""The Entra export read fast: records built without validating them again give the very
snapshot that validating them gives, bad records are still named, and the cycle collector,
paused while a tenant is read, is left as it was found."""

from __future__ import annotations

import gc
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.entra import export, to_model
from iam_gov.connectors.entra.records import GraphUser, TenantData, parse_records
from iam_gov.connectors.entra.to_model import SnapshotBuilder
from iam_gov.errors import SourceError
from iam_gov.model import Grant, SystemSnapshot

DEMO = Path(__file__).resolve().parents[3] / "samples" / "demo" / "entra"
AT = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


@pytest.fixture
def odd(tmp_path: Path) -> Path:
    """The demo export with the values that take another way through validation: times with
    an offset, without a zone, Graph's "never" placeholder, properties missing or null."""
    folder = tmp_path / "odd"
    shutil.copytree(DEMO, folder)
    path = folder / "users.json"
    body = json.loads(path.read_text())
    users: list[dict[str, Any]] = body["value"] if isinstance(body, dict) else body
    users[0]["createdDateTime"] = "2025-03-01T10:00:00+02:00"
    users[0]["lastPasswordChangeDateTime"] = "2025-03-01T10:00:00"
    users[1]["signInActivity"] = {
        "lastSignInDateTime": "0001-01-01T00:00:00Z",
        "lastSuccessfulSignInDateTime": "2026-01-02T03:04:05.1234567Z",
    }
    users[2]["accountEnabled"] = None
    for key in ("mail", "displayName", "employeeId", "createdDateTime"):
        users[2].pop(key, None)
    path.write_text(json.dumps(body))
    return folder


def _build(folder: Path) -> SystemSnapshot:
    data, _ = export.read_export(folder)
    return SnapshotBuilder("entra", "entra", data).snapshot("export:x", AT)


def _validating(model: type[Any], **values: Any) -> Any:
    return model(**values)


@pytest.mark.parametrize("which", ["demo", "odd"])
def test_trusted_records_are_the_validated_ones(
    which: str, odd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot built without validating accounts, credentials and grants again equals,
    record for record and down to the fields set, the one built through pydantic."""
    folder = DEMO if which == "demo" else odd
    fast = _build(folder)
    monkeypatch.setattr(to_model, "_trusted", _validating)
    slow = _build(folder)

    assert fast.accounts and fast.credentials and fast.grants
    assert fast == slow
    assert fast.model_dump() == slow.model_dump()
    for mine, theirs in zip(
        (*fast.accounts, *fast.credentials, *fast.grants),
        (*slow.accounts, *slow.credentials, *slow.grants),
        strict=True,
    ):
        assert mine.model_fields_set == theirs.model_fields_set
    # And every record is one pydantic would accept as it is.
    assert SystemSnapshot.model_validate(fast.model_dump()) == fast


def test_odd_times_are_utc_in_the_snapshot(odd: Path) -> None:
    """Times with an offset or none become UTC, and "never" none, as validation makes them."""
    snapshot = _build(odd)
    times = [a.created_at for a in snapshot.accounts if a.created_at is not None]
    times += [c.created_at for c in snapshot.credentials if c.created_at is not None]
    assert times
    assert all(t.utcoffset() == timedelta(0) for t in times)
    assert datetime(2025, 3, 1, 8, 0, tzinfo=UTC) in times


def test_a_trusted_record_still_needs_its_required_fields() -> None:
    """Building without validation is no way around a required field."""
    with pytest.raises(TypeError, match="account_id"):
        to_model._trusted(Grant, system="entra", entitlement_id="groups/x")


def test_bad_and_repeated_records_are_still_named() -> None:
    """Validation per record stays: a bad record is left out and named by its id or its
    place, one listed twice is read once."""
    data = TenantData()
    items: list[Any] = [
        {"id": "a", "accountEnabled": "perhaps"},
        {"displayName": "no id"},
        {"id": "b"},
        {"id": "b"},
    ]
    users = parse_records(items, GraphUser, "users.json", data)

    assert [u.id for u in users] == ["b"]
    assert [(e.record, e.message.split(" (")[0]) for e in data.errors] == [
        ("a", "not a Graph record of the expected kind"),
        ("item 2", "not a Graph record of the expected kind"),
        ("b", "listed twice; read once"),
    ]
    assert "accountEnabled" in data.errors[0].message
    assert "id" in data.errors[1].message


@pytest.fixture
def collector() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.usefixtures("collector")
@pytest.mark.parametrize("enabled", [True, False])
def test_the_cycle_collector_is_paused_while_reading_and_left_as_found(
    enabled: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Paused while records are parsed and the snapshot built, and after, on and off as it
    was, also when the read fails."""
    seen: list[bool] = []
    parse = export.parse_records

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return parse(*args, **kwargs)

    ordered = to_model.ordered_snapshot

    def watched_too(**kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return ordered(**kwargs)

    monkeypatch.setattr(export, "parse_records", watched)
    monkeypatch.setattr(to_model, "ordered_snapshot", watched_too)
    gc.enable() if enabled else gc.disable()

    data, _ = export.read_export(DEMO)
    assert seen and not any(seen)
    assert gc.isenabled() is enabled
    seen.clear()
    SnapshotBuilder("entra", "entra", data).snapshot("export:x", AT)
    assert seen == [False]
    assert gc.isenabled() is enabled

    (tmp_path / "groups.json").write_text('{"value": []}')
    with pytest.raises(SourceError, match="users"):
        export.read_export(tmp_path)
    assert gc.isenabled() is enabled
