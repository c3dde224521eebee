"""Incremental collects: read only what changed since the last read, and still produce the
whole snapshot.

A live connector that can ask its system what changed (Microsoft Graph delta queries, Okta's
``lastUpdated`` filters and System Log, LDAP ``modifyTimestamp`` / AD ``uSNChanged``) keeps a
*baseline* between collects: the records it last read, written in its own export layout (the
files ``mode = "export"`` reads), plus a *cursor* saying where its change feed was when they
were read. The next collect reads the baseline, asks for the changes since the cursor, applies
them, and builds the snapshot from the result exactly as a full read would (a test per
connector proves incremental = full on the same server state). The new baseline replaces the
old one only when the read was complete.

A full read happens instead, and the snapshot says why (``settings["collect"]``), when:
there is no baseline, or it was written for other options (another tenant, other filters),
or its files do not match their recorded digests (edited, truncated), or the last full read is
older than ``full_every_days``, or the connector finds its change feed cannot be trusted
(``ChangeFeedLost``: a delta token expired, a log window exceeded, a directory restored).

The baseline holds directory data (names, e-mail addresses, memberships): its folder is made
``0700`` and its files ``0600``; no secret is ever written to it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, Field

from iam_gov.timeutil import utcnow

STATE_VERSION = 1
MANIFEST = "baseline.json"
Data = TypeVar("Data")


class IncrementalOptions(BaseModel):
    """Options of a live connector that can collect incrementally (mixed into its options)."""

    incremental: bool = False
    """Read only the changes since the last collect, from a baseline kept on disk."""
    full_every_days: int = Field(default=7, ge=1, le=366)
    """A full read at least this often, whatever the change feed says."""
    state_folder: Path | None = None
    """Where the baseline is kept; default ``$IAM_GOV_STATE_DIR/<system>``, else
    ``$XDG_STATE_HOME/iam-gov/<system>``, else ``~/.local/state/iam-gov/<system>``."""


class IncrementalSettings(Protocol):
    """``IncrementalOptions`` as the baseline store reads them (any options holding them)."""

    @property
    def full_every_days(self) -> int: ...
    @property
    def state_folder(self) -> Path | None: ...


class ChangeFeedLost(Exception):
    """The change feed cannot be trusted from this cursor: read everything again. The message
    says why, in words a reader of the snapshot understands ("the delta token expired")."""


@dataclass(frozen=True)
class Baseline:
    """What the last complete read left: its records (``folder``, in the export layout) and
    where the change feed stood."""

    folder: Path
    cursor: dict[str, Any]
    full_at: datetime
    """When the last full read began."""
    read_at: datetime
    """When the read that produced this baseline began."""


@dataclass(frozen=True)
class Outcome(Generic[Data]):
    """A collect's records, and how they were read: what goes into ``settings["collect"]``."""

    data: Data
    mode: str
    """``full`` or ``incremental``."""
    why: str
    """Why a full read (``"no baseline yet"``…), or what the changes were counted from."""
    changes: dict[str, int]
    """Changed records per kind, for an incremental read (empty for a full one)."""

    def settings(self) -> dict[str, Any]:
        return {"mode": self.mode, "why": self.why, "changes": dict(sorted(self.changes.items()))}


def state_root(system: str, folder: Path | None) -> Path:
    if folder is not None:
        return folder
    explicit = os.environ.get("IAM_GOV_STATE_DIR")
    if explicit:
        return Path(explicit) / system
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) / "iam-gov" if xdg else Path.home() / ".local" / "state" / "iam-gov"
    return base / system


def fingerprint(**identity: Any) -> str:
    """A digest of the options that decide *what* is read (the tenant, the base DN, filters,
    attributes): a baseline written for others is not used."""
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class BaselineStore:
    """One system's baseline on disk: loaded with its digests checked, replaced atomically."""

    def __init__(self, system: str, options: IncrementalSettings, identity: str) -> None:
        self.system = system
        self.root = state_root(system, options.state_folder)
        self.identity = identity
        self.full_every = timedelta(days=options.full_every_days)

    @property
    def _current(self) -> Path:
        return self.root / "current"

    def load(self, now: datetime) -> tuple[Baseline | None, str]:
        """The baseline to read changes from, or None and why a full read is needed."""
        manifest_path = self._current / MANIFEST
        if not manifest_path.exists():
            return None, "no baseline yet (the first collect reads everything)"
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            if manifest.get("version") != STATE_VERSION:
                return None, "the baseline was written by another version of iam-gov"
            if manifest.get("identity") != self.identity:
                return None, "the baseline was written for other options (source or filters)"
            for name, digest in dict(manifest["files"]).items():
                path = self._current / name
                if _digest(path) != digest:
                    return None, f"the baseline file {name} does not match its recorded digest"
            full_at = datetime.fromisoformat(manifest["full_at"])
            read_at = datetime.fromisoformat(manifest["read_at"])
            cursor = dict(manifest["cursor"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return None, f"the baseline cannot be read ({type(exc).__name__})"
        if now - full_at >= self.full_every:
            return None, (
                f"the last full read was {(now - full_at).days} day(s) ago "
                f"(full_every_days = {self.full_every.days})"
            )
        if read_at > now:
            return None, "the baseline is dated in the future (the clock moved back)"
        return Baseline(self._current, cursor, full_at, read_at), ""

    def save(
        self,
        write: Callable[[Path], None],
        cursor: dict[str, Any],
        *,
        full_at: datetime,
        read_at: datetime,
    ) -> None:
        """Write the new baseline next to the old one, then swap: a crash leaves one whole."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        for left in self.root.glob(".old-*"):  # a process that ended before removing them
            _remove_later(left)
        for left in self.root.glob(".new-*"):  # a save cut short; not one under way now
            if time.time() - left.stat().st_mtime > 3600:
                shutil.rmtree(left, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=".new-", dir=self.root))
        try:
            records = staging / "records"
            records.mkdir(mode=0o700)
            write(records)
            files = {}
            for path in sorted(p for p in records.rglob("*") if p.is_file()):
                os.chmod(path, 0o600)
                files[str(path.relative_to(staging))] = _digest(path)
            manifest = {
                "version": STATE_VERSION,
                "system": self.system,
                "identity": self.identity,
                "full_at": full_at.isoformat(),
                "read_at": read_at.isoformat(),
                "cursor": cursor,
                "files": files,
            }
            target = staging / MANIFEST
            target.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
            os.chmod(target, 0o600)
            old = self.root / f".old-{os.getpid()}-{time.monotonic_ns()}"
            if self._current.exists():
                self._current.rename(old)
            staging.rename(self._current)
            _remove_later(old)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def records(self, baseline: Baseline) -> Path:
        """The folder holding the baseline's records, in the export layout."""
        return baseline.folder / "records"


def _remove_later(folder: Path) -> None:
    """Remove a replaced baseline in the background: it may be a hundred thousand files (one
    per user's factors in Okta's layout), minutes on some file systems, and nothing waits for
    it. What is left when the process ends is removed by the next save."""
    threading.Thread(
        target=shutil.rmtree, args=(folder,), kwargs={"ignore_errors": True}, daemon=True
    ).start()


def _digest(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


@dataclass
class IncrementalRead(Generic[Data]):
    """How one connector reads fully, reads changes, and keeps its baseline.

    ``full()`` returns the records and the cursor taken *before* reading them (changes made
    during the read are then read again next time, never lost). ``changes(data, cursor)``
    applies the changes since ``cursor`` to ``data`` (the baseline's records, read by
    ``read``) and returns the new cursor with the counts of what changed; it raises
    ``ChangeFeedLost`` when the feed cannot be trusted. ``complete(data)`` says whether the
    records are whole (an incomplete read never becomes a baseline)."""

    store: BaselineStore
    full: Callable[[], tuple[Data, dict[str, Any]]]
    changes: Callable[[Data, dict[str, Any]], tuple[dict[str, Any], dict[str, int]]]
    read: Callable[[Path], Data]
    write: Callable[[Data, Path], None]
    complete: Callable[[Data], bool]
    clock: Callable[[], datetime] = utcnow

    def run(self) -> Outcome[Data]:
        started = self.clock()
        baseline, why = self.store.load(started)
        if baseline is not None:
            try:
                data = self.read(self.store.records(baseline))
            except Exception as exc:  # a baseline we cannot read back is a reason, not a failure
                why = f"the baseline cannot be read back ({type(exc).__name__})"
            else:
                try:
                    cursor, counts = self.changes(data, baseline.cursor)
                except ChangeFeedLost as lost:
                    why = f"the change feed cannot be trusted: {lost}"
                else:
                    if self.complete(data):
                        self.store.save(
                            lambda out: self.write(data, out),
                            cursor,
                            full_at=baseline.full_at,
                            read_at=started,
                        )
                    since = f"changes since {baseline.read_at:%Y-%m-%d %H:%M:%S} UTC"
                    return Outcome(data, "incremental", since, counts)
        data, cursor = self.full()
        if self.complete(data):
            self.store.save(
                lambda out: self.write(data, out), cursor, full_at=started, read_at=started
            )
        return Outcome(data, "full", why, {})
