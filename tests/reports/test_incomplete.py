"""An incomplete snapshot is said loudly, with what is not concluded because of it."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console

from iam_gov.model import SnapshotError
from iam_gov.reports.summary import INCOMPLETE_CONSEQUENCE, incomplete_text
from iam_gov.store.snapshots import SnapshotInfo

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
GROUP_SCOPED = (
    "group-scoped app assignments unknown: excess and leaver findings for okta apps are not "
    "concluded"
)


def info(system: str, complete: bool, *errors: SnapshotError) -> SnapshotInfo:
    return SnapshotInfo(
        id=1,
        system=system,
        connector=system,
        source="export:x",
        collected_at=AT,
        stored_at=AT,
        complete=complete,
        errors=errors,
        counts={},
    )


def shown(text: object) -> str:
    console = Console(width=200, record=True)
    console.print(text)
    return console.export_text()


def test_every_incomplete_system_is_named_with_its_stated_consequences() -> None:
    missing = SnapshotError(
        source="okta/app-groups", message="not in the export", consequence=GROUP_SCOPED
    )
    again = SnapshotError(
        source="okta/app-groups/x.json", message="unreadable", consequence=GROUP_SCOPED
    )
    note = SnapshotError(source="okta/policies", message="no file given")
    text = shown(
        incomplete_text(
            [info("okta", False, missing, again, note), info("aws", True, note)],
            hr_system="hr",
        )
    )
    assert "INCOMPLETE: 1 of 2 system(s) read only in part" in text
    assert "okta: 3 problem(s) (iam-gov problems --system okta)" in text
    assert text.count(GROUP_SCOPED) == 1  # each consequence once
    assert INCOMPLETE_CONSEQUENCE in text
    assert "aws" not in text


def test_nothing_is_said_when_every_snapshot_is_complete() -> None:
    assert incomplete_text([info("aws", True)]) is None


def test_a_consequence_from_a_directory_is_shown_literally() -> None:
    hostile = SnapshotError(
        source="x", message="m", consequence="group [bold]x[/bold]\x1b]0;pwned\x07 unknown"
    )
    text = shown(incomplete_text([info("ldap", False, hostile)]))
    assert "[bold]x[/bold]" in text
    assert "\x1b" not in text and "\x07" not in text
