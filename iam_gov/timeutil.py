"""Time helpers: every timestamp iam-gov keeps is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken to be UTC; aware ones are converted."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def start_of_day(value: date) -> datetime:
    return datetime.combine(value, time.min, tzinfo=UTC)


def days_between(earlier: datetime, later: datetime) -> int:
    """Whole days from ``earlier`` to ``later`` (negative when ``earlier`` is later)."""
    return (later - earlier).days


def parse_as_of(text: str, now: datetime | None = None) -> datetime:
    """The moment an ``--as-of`` value names, in UTC.

    A date alone (``2026-11-30``) is the end of that day in UTC: what an auditor means by "as
    of 30 November" includes the 30th. A date and time (``2026-11-30T17:00``, with a space or
    a ``T``, optionally ``Z`` or ``+01:00``) is that moment; without a zone it is UTC. A moment
    after ``now`` is refused: nothing is known about it yet. Raises ``ValueError`` with a
    message that fits on one line after the option's name.
    """
    value = text.strip()
    moment = utcnow() if now is None else as_utc(now)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = None
    if day is not None:
        end = datetime.combine(day, time.max, tzinfo=UTC)
        if end > moment:
            raise ValueError(
                f"{value!r}: that day has not ended yet (it is {moment:%Y-%m-%d %H:%M} UTC); "
                "give a date and time instead (2026-11-30T17:00)"
            )
        return end
    try:
        parsed = as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date (2026-11-30) or a date and time "
            "(2026-11-30T17:00, 2026-11-30T17:00+01:00; UTC without a zone)"
        ) from None
    if parsed > moment:
        raise ValueError(
            f"{value!r} is in the future (it is {moment:%Y-%m-%d %H:%M} UTC): "
            "nothing is known about it yet"
        )
    return parsed


def as_of_words(moment: datetime) -> str:
    """An ``--as-of`` moment as it is shown: ``2026-11-30 (end of day, UTC)`` for the end of
    a day, else ``2026-11-30 17:00 UTC`` (with seconds when it has any)."""
    utc = as_utc(moment)
    if utc.time() == time.max:
        return f"{utc:%Y-%m-%d} (end of day, UTC)"
    if utc.second or utc.microsecond:
        return f"{utc:%Y-%m-%d %H:%M:%S} UTC"
    return f"{utc:%Y-%m-%d %H:%M} UTC"
