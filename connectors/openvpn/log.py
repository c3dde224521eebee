"""Connection history from an OpenVPN server's log files, rotated and compressed ones included."""

from __future__ import annotations

import glob
import gzip
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from iam_gov.connectors.shared.files import MAX_EXPORT_ENV, export_limit
from iam_gov.model import SnapshotError
from iam_gov.yamlfile import TooLarge

# What precedes the message: OpenVPN's own time stamps (2.5+, with "us=" at verb 4 and up;
# 2.4 and older), or a syslog line (traditional or RFC 3339) that journald / rsyslog wrote.
_STAMPS = (
    (re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?: us=\d+)? "), "%Y-%m-%d %H:%M:%S"),
    (
        re.compile(r"^(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4})(?: us=\d+)? "),
        "%a %b %d %H:%M:%S %Y",
    ),
    (
        re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) \S+ [^:]+: "),
        "iso",
    ),
    (re.compile(r"^(\w{3} [ \d]\d \d\d:\d\d:\d\d) \S+ [^:]+: "), "syslog"),
)
# The three lines the server logs when a client has connected (after the TLS handshake and
# any password check): "<cn>/<ip>:<port> MULTI_sva: pool returned IPv4=…",
# "<ip>:<port> [<cn>] Peer Connection Initiated with …", and
# "<cn>/<ip>:<port> MULTI: primary virtual IP for <cn>/<ip>:<port>: …".
_CONNECTED = (
    re.compile(r"^(?P<cn>.+)/(?P<address>[^/\s]+) MULTI_sva: pool returned "),
    re.compile(r"^(?:\S+ )?\[(?P<cn>[^\]]+)\] Peer Connection Initiated with "),
    re.compile(r"^(?P<cn>.+)/(?P<address>[^/\s]+) MULTI: primary virtual IP for "),
)
_WORTH_A_LOOK = ("MULTI_sva: pool returned", "Peer Connection Initiated", "MULTI: primary virtual")


@dataclass
class LogHistory:
    last_seen: dict[str, datetime] = field(default_factory=dict)
    oldest: datetime | None = None
    """The earliest time stamp read: nothing before it is known."""
    files: list[Path] = field(default_factory=list)
    errors: list[SnapshotError] = field(default_factory=list)


def read_logs(patterns: Iterable[Path], zone: tzinfo, now: datetime) -> LogHistory:
    """The latest connection of each common name in the files the glob ``patterns`` match.
    ``now`` places syslog time stamps, which have no year, in the right one."""
    history = LogHistory()
    for pattern in patterns:
        matches = sorted(Path(p) for p in glob.glob(str(pattern)))
        if not matches:
            history.errors.append(
                SnapshotError(source=str(pattern), message="no log file matches this pattern")
            )
        for path in matches:
            if path.is_file() and path not in history.files:
                history.files.append(path)
                _read_file(path, zone, now, history)
    return history


def _read_file(path: Path, zone: tzinfo, now: datetime, history: LogHistory) -> None:
    stamped = False
    try:
        for line in _lines(path):
            parsed = _stamp(line, zone, now)
            if parsed is None:
                continue
            moment, message = parsed
            if not stamped:
                stamped = True
                # Log files are written in order: the first stamp is the file's oldest.
                if history.oldest is None or moment < history.oldest:
                    history.oldest = moment
            if not any(marker in message for marker in _WORTH_A_LOOK):
                continue
            for pattern in _CONNECTED:
                found = pattern.match(message)
                if found is not None:
                    name = found.group("cn")
                    latest = history.last_seen.get(name)
                    if name != "UNDEF" and (latest is None or moment > latest):
                        history.last_seen[name] = moment
                    break
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        history.errors.append(SnapshotError(source=str(path), message=f"cannot be read: {exc}"))
        return
    except _OverLimit as exc:  # what was read before it still counts
        history.errors.append(SnapshotError(source=str(path), message=f"{exc}; read no further"))
        return
    if not stamped:
        history.errors.append(
            SnapshotError(
                source=str(path),
                message="no line has a time stamp (a server run with --suppress-timestamps "
                "logs to the journal: export it with `journalctl -o short-iso`)",
            )
        )


MAX_LINE = 64 * 1024
"""Longer than any line OpenVPN or syslog writes: the rest of such a line is skipped."""


class _OverLimit(Exception):
    pass


def _lines(path: Path) -> Iterator[str]:
    """The file's lines, decompressed; never more than the export size limit in all (a small
    .gz can stand for gigabytes) nor a line longer than ``MAX_LINE`` held whole."""
    limit, total = export_limit(), 0
    with path.open("rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if compressed else open
    with opener(path, "rb") as stream:
        while raw_line := stream.readline(MAX_LINE):
            total += len(raw_line)
            long_line = len(raw_line) == MAX_LINE and not raw_line.endswith(b"\n")
            while long_line and (rest := stream.readline(MAX_LINE)):
                total += len(rest)
                long_line = not rest.endswith(b"\n")
                if total > limit:
                    break
            if total > limit:
                raise _OverLimit(str(TooLarge(None, limit, MAX_EXPORT_ENV)))
            yield raw_line.decode("utf-8", errors="replace").rstrip("\r\n")


def _stamp(line: str, zone: tzinfo, now: datetime) -> tuple[datetime, str] | None:
    for pattern, layout in _STAMPS:
        found = pattern.match(line)
        if found is None:
            continue
        text = found.group(1)
        try:
            if layout == "iso":
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=zone)
            elif layout == "syslog":
                moment = _syslog_time(text, zone, now)
            else:
                moment = datetime.strptime(" ".join(text.split()), layout).replace(tzinfo=zone)
            moment = moment.astimezone(UTC)
        except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 moved to UTC
            return None
        return moment, line[found.end() :]
    return None


def _syslog_time(text: str, zone: tzinfo, now: datetime) -> datetime:
    # "Nov 29 23:51:53": the year is the one that does not put the line in the future.
    local_now = now.astimezone(zone)
    value = datetime.strptime(f"{local_now.year} {' '.join(text.split())}", "%Y %b %d %H:%M:%S")
    moment = value.replace(tzinfo=zone)
    if moment > local_now:
        moment = moment.replace(year=moment.year - 1)
    return moment
