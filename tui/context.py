"""What every screen needs: the store, who is reviewing, and the clock (fixed in tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from iam_gov.campaigns.reviewer import Reviewer
from iam_gov.store import Store
from iam_gov.timeutil import utcnow


@dataclass(frozen=True)
class ReviewContext:
    store: Store
    reviewer: Reviewer
    now: datetime | None = None
    """A fixed clock (tests, snapshots); ``None``: the real time."""

    def clock(self) -> datetime:
        return self.now or utcnow()

    @property
    def today(self) -> date:
        return self.clock().date()

    @property
    def own_emails(self) -> tuple[str, ...]:
        """Whose access the person at the keyboard may not decide: their own and, when acting
        for someone, that person's."""
        return tuple(dict.fromkeys(e.lower() for e in (self.reviewer.actor, self.reviewer.email)))
