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
_OPENVPN = "%Y-%m-%d %H:%M:%S"
_STAMPS = (
    (re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?: us=\d+)? "), _OPENVPN),
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
# Each of _CONNECTED matches only a message holding its marker: the others are not tried.
# [0] and [2] are "<cn>/<address>" and what follows it, found from the right as their greedy
# ".+" does, without its backtracking (see ``_common_name``).
_BY_MARKER = (
    (_WORTH_A_LOOK[0], _CONNECTED[0], " MULTI_sva: pool returned "),
    (_WORTH_A_LOOK[1], _CONNECTED[1], None),
    (_WORTH_A_LOOK[2], _CONNECTED[2], " MULTI: primary virtual IP for "),
)
_ADDRESS = re.compile(r"[^/\s]+")


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
    last_seen = history.last_seen
    try:
        for raw_line in _raw_lines(path):
            # Once the file's first time stamp is known, only a line naming a connection counts.
            # (Each marker holds one of these; ASCII is in the decoded line exactly when it is
            # in its bytes, as UTF-8 never uses ASCII bytes inside a character.)
            if stamped and b"MULTI" not in raw_line and b"Peer Connection" not in raw_line:
                continue
            parsed = _stamp(_decode(raw_line), zone, now)
            if parsed is None:
                continue
            moment, message = parsed
            if not stamped:
                stamped = True
                # Log files are written in order: the first stamp is the file's oldest.
                if history.oldest is None or moment < history.oldest:
                    history.oldest = moment
            for marker, pattern, after in _BY_MARKER:
                if marker not in message:
                    continue
                name = _common_name(pattern, after, message)
                if name is not None:
                    latest = last_seen.get(name)
                    if name != "UNDEF" and (latest is None or moment > latest):
                        last_seen[name] = moment
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


def _common_name(pattern: re.Pattern[str], after: str | None, message: str) -> str | None:
    """``pattern.match(message).group("cn")``, or None when it does not match; ``after``:
    what follows "<cn>/<address>" in ``pattern``, if it is one of those."""
    if after is None:
        found = pattern.match(message)
        return None if found is None else found.group("cn")
    # "^(?P<cn>.+)/(?P<address>[^/\s]+)" + after: the greedy cn ends at the last "/" that
    # starts an address (no "/", no white space) followed by ``after``; as ``after`` starts
    # with a space, each place ``after`` is found has one candidate "/", the last before it.
    end = len(message)
    while (at := message.rfind(after, 0, end)) > 0:
        slash = message.rfind("/", 0, at)
        if slash >= 1 and _ADDRESS.fullmatch(message, slash + 1, at):
            return message[:slash]
        end = at + len(after) - 1
    return None


MAX_LINE = 64 * 1024
"""Longer than any line OpenVPN or syslog writes: the rest of such a line is skipped."""


class _OverLimit(Exception):
    pass


_CHUNK = 64 * 1024
"""Read this much at a time: a line is held to ``MAX_LINE`` and a chunk with its parts to a
few times that, so a long line or a small .gz standing for gigabytes never holds more."""


def _raw_lines(path: Path) -> Iterator[bytes]:
    """The file's lines as bytes without their line end, decompressed; never more than the
    export size limit in all (a small .gz can stand for gigabytes) nor more than the first
    ``MAX_LINE`` bytes of a line held."""
    limit, total = export_limit(), 0
    with path.open("rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if compressed else open
    with opener(path, "rb") as stream:
        pending = b""  # the start of the line not ended yet, at most MAX_LINE bytes of it
        dropped = 0  # how many bytes of it were read past MAX_LINE and let go
        while chunk := stream.read(_CHUNK):
            parts = chunk.split(b"\n")
            parts[0] = pending + parts[0]
            rest = parts.pop()
            for part in parts:
                total += len(part) + 1 + dropped
                dropped = 0
                if total > limit:
                    raise _OverLimit(str(TooLarge(None, limit, MAX_EXPORT_ENV)))
                yield part[:MAX_LINE]
            dropped += max(0, len(rest) - MAX_LINE)
            pending = rest[:MAX_LINE]
            if total + len(pending) + dropped > limit:  # a line that never ends
                raise _OverLimit(str(TooLarge(None, limit, MAX_EXPORT_ENV)))
        if pending or dropped:  # the last line, without its line end
            yield pending


def _decode(raw_line: bytes) -> str:
    return raw_line.decode("utf-8", errors="replace").rstrip("\r\n")


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
            elif layout == _OPENVPN:
                # What strptime reads, without its cost: the pattern has placed every digit,
                # and datetime refuses what strptime would (month 13, 25 o'clock, 31 Feb …).
                moment = datetime(
                    int(text[0:4]),
                    int(text[5:7]),
                    int(text[8:10]),
                    int(text[11:13]),
                    int(text[14:16]),
                    int(text[17:19]),
                    tzinfo=zone,
                )
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
