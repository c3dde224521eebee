"""When an export was taken: the time the user gives, the time the export itself records, or
the files' modification time, said out loud when it is only a guess."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from iam_gov.connectors.shared.files import BadFile
from iam_gov.timeutil import utcnow

FUTURE_SLACK = timedelta(minutes=5)
"""A modification time this far ahead of the clock is not clock skew between machines."""


@dataclass(frozen=True)
class ExportTime:
    at: datetime
    """When the data was true: every age (dormancy, days since leaving) is measured from it."""
    guessed: str | None = None
    """Set when ``at`` is only the files' modification time: the sentence to record as a
    problem of the snapshot, since a copied or restored file has a misleading one."""


def export_time(
    given: datetime | None,
    files: Sequence[Path],
    *,
    recorded: datetime | None = None,
) -> ExportTime:
    """``given`` (the ``exported_at`` option), else ``recorded`` (a time the export carries,
    such as a credential report's GeneratedTime), else the newest modification time of
    ``files``."""
    if given is not None:
        return ExportTime(given)
    if recorded is not None:
        return ExportTime(recorded)
    if not files:
        raise ValueError("export_time needs at least one file to fall back on")
    at = max(modified_at(path) for path in files)
    whose = "the file's" if len(files) == 1 else "the newest file's"
    said = f"exported_at not given: taken to be {whose} modification time, {at:%Y-%m-%d %H:%M} UTC"
    now = utcnow()
    if at - now > FUTURE_SLACK:
        said += (
            f", which is later than this machine's clock ({now:%Y-%m-%d %H:%M} UTC): the "
            "file's time or the clock is wrong, and every age measured from it (dormancy, "
            "days since leaving) with it; set exported_at"
        )
    return ExportTime(at, said)


def modified_at(path: Path) -> datetime:
    """A file's modification time, in UTC; ``BadFile`` when it cannot be read."""
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except FileNotFoundError:
        raise BadFile(path, "no such file") from None
    except OSError as exc:
        raise BadFile(path, f"cannot be read ({exc.strerror})") from None
