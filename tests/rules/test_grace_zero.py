"""leaver-active-access: ``grace_hours: 0`` is no grace at all, not "not set": it overrides
grace_days, and a leaver whose access should have ended a minute ago is reported."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from iam_gov.model import EmploymentStatus
from tests.support.world import World, account, person

RULE = "leaver-active-access"
LAST_DAY = date(2026, 11, 26)
ACCESS_ENDS = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)  # midnight (UTC) after the last day


def _leaver(policy: str, after_the_end: timedelta) -> World:
    return World(
        policy_yaml=f"version: 1\nrules:\n  leaver-active-access:\n{policy}",
        people=[person("E1", "Jane Doe", status=EmploymentStatus.TERMINATED, end_date=LAST_DAY)],
        accounts=[account("jane.doe")],
        as_of=ACCESS_ENDS + after_the_end,
    )


@pytest.mark.parametrize(
    "policy",
    [
        "    grace_hours: 0\n",
        # grace_hours overrides grace_days when set, and 0 is set.
        "    grace_days: 1\n    grace_hours: 0\n",
        "    grace_days: 3\n    grace_hours: 0\n",
    ],
    ids=["alone", "over-grace_days-1", "over-grace_days-3"],
)
def test_zero_grace_hours_reports_a_leaver_a_minute_after_access_should_end(
    policy: str,
) -> None:
    [finding] = _leaver(policy, timedelta(minutes=1)).findings(RULE)

    assert finding.person_id == "E1"
    assert finding.evidence["grace_hours"] == 0
    assert finding.evidence["hours_since_end"] == 0


def test_at_the_very_moment_access_should_end_it_is_not_late_yet() -> None:
    assert _leaver("    grace_hours: 0\n", timedelta(0)).findings(RULE) == []


def test_without_grace_hours_grace_days_still_apply() -> None:
    # The control: the same leaver with grace_days alone is tolerated for a day.
    assert _leaver("    grace_days: 1\n", timedelta(minutes=1)).findings(RULE) == []
    assert len(_leaver("    grace_days: 1\n", timedelta(days=1, minutes=1)).findings(RULE)) == 1
