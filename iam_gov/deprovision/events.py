"""One HR event, as an HR system or an automation delivers it (``deprovision --event``,
``hr-webhook``): who, what happened, when it takes effect.

The documented shape::

    {"event_id": "evt-123", "type": "employee.terminated",
     "employee": {"id": "E1042", "email": "ada@example.com"},
     "effective_date": "2026-12-07", "reason": "resignation"}

Common spellings are accepted too (``id`` for ``event_id``; ``event``/``action`` for
``type``; ``employee_id``/``employeeId``/``email`` at the top; ``effective_at``/
``effectiveDate``/``terminationDate``), so that a webhook from an HR system or a script needs
no translation layer. Anything else is an error naming the field.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import Any, Literal

from iam_gov.errors import InputError
from iam_gov.textsafe import printable

MAX_EVENT_BYTES = 65536

TERMINATION_TYPES = frozenset(
    {
        "termination",
        "terminated",
        "employee.terminated",
        "employee.termination",
        "worker.terminated",
        "offboarding",
        "leaver",
        "employment.ended",
    }
)
"""Event types that mean the person leaves; anything else is recorded and ignored."""

_EVENT_ID = ("event_id", "eventId", "id")
_TYPE = ("type", "event", "event_type", "eventType", "action")
_EMPLOYEE_ID = ("employee_id", "employeeId", "employee_number", "employeeNumber")
_EMAIL = ("email", "work_email", "workEmail")
_EFFECTIVE = (
    "effective_at",
    "effective_date",
    "effectiveDate",
    "effectiveAt",
    "termination_date",
    "terminationDate",
)


class HrEvent:
    """A parsed event. ``employee`` is the employee id, or the e-mail when only that came."""

    __slots__ = ("event_id", "kind", "type", "employee", "effective_at", "reason")

    def __init__(
        self,
        event_id: str,
        kind: Literal["termination", "other"],
        type_: str,
        employee: str,
        effective_at: datetime | None,
        reason: str | None,
    ):
        self.event_id = event_id
        self.kind = kind
        self.type = type_
        self.employee = employee
        self.effective_at = effective_at
        self.reason = reason

    def describe(self) -> str:
        when = f", effective {self.effective_at:%Y-%m-%d %H:%M} UTC" if self.effective_at else ""
        what = f"{printable(self.type)}: {printable(self.employee)}{when}"
        return f"HR event {printable(self.event_id)} ({what})"


def parse_event(body: bytes, source: str) -> HrEvent:
    """The event in ``body``; an ``InputError`` naming ``source`` and the field otherwise."""
    if len(body) > MAX_EVENT_BYTES:
        raise InputError(f"{source}: the event is {len(body)} bytes; at most {MAX_EVENT_BYTES}")
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: line {exc.lineno}: not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise InputError(f"{source}: an event is a JSON object, not {type(data).__name__}")
    event_id = _text(data, _EVENT_ID, source, required=True)
    assert event_id is not None
    type_ = _text(data, _TYPE, source, required=True)
    assert type_ is not None
    who = data.get("employee", data.get("worker", data.get("who")))
    employee_id = email = None
    if isinstance(who, dict):
        employee_id = _text(who, ("id", *_EMPLOYEE_ID), source, prefix="employee.")
        email = _text(who, _EMAIL, source, prefix="employee.")
    elif isinstance(who, str):
        employee_id = who.strip() or None
    elif who is not None:
        raise InputError(f"{source}: employee: an object or a string, not {type(who).__name__}")
    employee_id = employee_id or _text(data, _EMPLOYEE_ID, source)
    email = email or _text(data, _EMAIL, source)
    employee = employee_id or email
    if not employee:
        raise InputError(
            f"{source}: the event names nobody: give employee.id, employee_id or email"
        )
    effective = _effective(data, source)
    reason = _text(data, ("reason", "termination_reason", "terminationReason"), source)
    kind: Literal["termination", "other"] = (
        "termination" if type_.strip().lower() in TERMINATION_TYPES else "other"
    )
    return HrEvent(event_id, kind, type_, employee, effective, reason)


def _text(
    data: dict[str, Any],
    keys: tuple[str, ...],
    source: str,
    *,
    required: bool = False,
    prefix: str = "",
) -> str | None:
    for key in keys:
        if key in data and data[key] is not None:
            value = data[key]
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str):
                raise InputError(
                    f"{source}: {prefix}{key}: text expected, not {type(value).__name__}"
                )
            value = value.strip()
            if len(value) > 256:
                raise InputError(f"{source}: {prefix}{key}: longer than 256 characters")
            if value and printable(value) != value:
                raise InputError(f"{source}: {prefix}{key}: holds control characters")
            if value:
                return value
    if required:
        raise InputError(f"{source}: {prefix}{keys[0]}: missing (the event needs it)")
    return None


def _effective(data: dict[str, Any], source: str) -> datetime | None:
    for key in _EFFECTIVE:
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InputError(
                f"{source}: {key}: a date or date-time text, not {type(value).__name__}"
            )
        text = value.strip()
        try:
            if len(text) == 10:
                return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                f"{source}: {key}: {printable(text)!r} is not an ISO date (2026-12-07) or "
                "date-time (2026-12-07T17:00:00Z)"
            ) from None
        if moment.tzinfo is None:
            raise InputError(f"{source}: {key}: a date-time needs its time zone (Z or +01:00)")
        return moment.astimezone(UTC)
    return None
