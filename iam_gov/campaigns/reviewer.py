"""Who is reviewing: the person at the keyboard, and whose review their decisions count for.

The reviewer is whoever runs the command: the OS account mapped to an HR e-mail in
``[review.reviewers]``, else the identity configured in ``IAM_GOV_REVIEWER`` (a shared jump
host). Acting for someone else (``--as``) needs an admin role and is recorded as such.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from iam_gov import audit
from iam_gov.campaigns.definition import CampaignError
from iam_gov.config import Config

REVIEWER_ENV = "IAM_GOV_REVIEWER"
_EMAIL = re.compile(r"^[^\s@]+@[^\s@]+$")


@dataclass(frozen=True)
class Reviewer:
    email: str
    """Whose review the decisions count for."""
    actor: str
    """Who is at the keyboard (their e-mail)."""
    os_user: str
    admin: bool

    @property
    def acting_for(self) -> str | None:
        """The reviewer acted for, when the actor is someone else."""
        return None if same_email(self.actor, self.email) else self.email


def same_email(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.lower() == b.lower()


def resolve_reviewer(
    config: Config, *, as_email: str | None = None, os_user: str | None = None
) -> Reviewer:
    """The reviewer running this command; ``as_email`` to act for another (admins only)."""
    user = os_user if os_user is not None else _os_user()
    actor = _actor_email(config, user)
    admin = any(same_email(actor, a) for a in config.review.admins)
    if as_email is None or same_email(as_email, actor):
        return Reviewer(email=actor, actor=actor, os_user=user, admin=admin)
    target = checked_email(as_email, "--as")
    if not admin:
        raise CampaignError(
            f"{actor} may not review for {target}: acting for another reviewer needs an admin "
            "role ([review] admins in the configuration)"
        )
    return Reviewer(email=target, actor=actor, os_user=user, admin=admin)


def checked_email(value: str, what: str) -> str:
    """``value`` stripped and in lower case (as launch stores reviewers), if it looks like one
    e-mail address; else a CampaignError."""
    email = value.strip()
    if not _EMAIL.match(email) or not email.isprintable():
        raise CampaignError(f"{what}: {email!r} is not an e-mail address")
    return email.lower()


def _actor_email(config: Config, user: str) -> str:
    mapped = config.review.reviewers.get(user)  # exact: OS account names are case-sensitive
    if mapped:
        return checked_email(mapped, f"[review.reviewers] {user}")
    configured = os.environ.get(REVIEWER_ENV, "").strip()
    if configured:
        return checked_email(configured, REVIEWER_ENV)
    raise CampaignError(
        f"who is reviewing? The OS account {user!r} has no e-mail in [review.reviewers]: add "
        f'`{user} = "you@example.com"` under [review.reviewers] in the configuration, or set '
        f"{REVIEWER_ENV}=you@example.com"
    )


def _os_user() -> str:
    """The real user id's account: ``LOGNAME`` / ``USER`` are not believed, or anyone could
    pick the reviewer (or admin) that ``[review.reviewers]`` maps another account to."""
    return audit.os_user_name()
