"""HR events as HR systems and scripts send them: the documented shape and the usual
spellings are read; anything else is an error naming the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from iam_gov.deprovision.events import MAX_EVENT_BYTES, parse_event
from iam_gov.errors import InputError


def parse(value: object) -> object:
    return parse_event(json.dumps(value).encode(), "event.json")


def test_the_documented_shape() -> None:
    event = parse_event(
        json.dumps(
            {
                "event_id": "evt-1",
                "type": "employee.terminated",
                "employee": {"id": "E1019", "email": "erik.reyes@example.com"},
                "effective_date": "2026-09-29",
                "reason": "resignation",
            }
        ).encode(),
        "event.json",
    )
    assert (event.event_id, event.kind, event.employee, event.reason) == (
        "evt-1",
        "termination",
        "E1019",
        "resignation",
    )
    assert event.effective_at == datetime(2026, 9, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "employee", "effective"),
    [
        (
            {
                "id": 42,
                "event": "Terminated",
                "employeeId": 1019,
                "effectiveAt": "2026-09-29T17:30:00+02:00",
            },
            "1019",
            datetime(2026, 9, 29, 15, 30, tzinfo=UTC),
        ),
        (
            {"eventId": "x", "action": "offboarding", "workEmail": "erik.reyes@example.com"},
            "erik.reyes@example.com",
            None,
        ),
        (
            {
                "event_id": "y",
                "type": "termination",
                "employee": "E1019",
                "terminationDate": "2026-09-29",
            },
            "E1019",
            datetime(2026, 9, 29, tzinfo=UTC),
        ),
    ],
)
def test_common_spellings(
    body: dict[str, object], employee: str, effective: datetime | None
) -> None:
    event = parse_event(json.dumps(body).encode(), "event.json")
    assert (event.kind, event.employee, event.effective_at) == ("termination", employee, effective)


def test_other_events_are_not_terminations() -> None:
    event = parse_event(b'{"id": "1", "type": "employee.hired", "employee_id": "E9"}', "e")
    assert event.kind == "other"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"[1, 2]", "event.json: an event is a JSON object, not list"),
        (b'{"type": "termination", "employee_id": "E1"}', "event.json: event_id: missing"),
        (b'{"id": "1", "employee_id": "E1"}', "event.json: type: missing"),
        (b'{"id": "1", "type": "termination"}', "event.json: the event names nobody"),
        (
            b'{"id": "1", "type": "termination", "employee_id": "E1", '
            b'"effective_date": "29/09/2026"}',
            "effective_date: '29/09/2026' is not an ISO date",
        ),
        (
            b'{"id": "1", "type": "termination", "employee_id": "E1", '
            b'"effective_at": "2026-09-29T10:00:00"}',
            "a date-time needs its time zone",
        ),
        (
            b'{"id": "1\\u001b[2J", "type": "termination", "employee_id": "E1"}',
            "holds control characters",
        ),
        (
            b'{"id": "1", "type": "termination", "employee_id": ["E1"]}',
            "employee_id: text expected",
        ),
        (b"{not json", "event.json: line 1: not JSON"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_bad_events_name_what_is_wrong(body: bytes, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_event(body, "event.json")
    assert problem in str(caught.value)


def test_a_huge_event_is_refused_unread() -> None:
    with pytest.raises(InputError, match="at most"):
        parse_event(b" " * (MAX_EVENT_BYTES + 1), "event.json")
