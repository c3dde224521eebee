"""A campaign definition: what is reviewed, by whom, by when, and what happens to silence.

Written as YAML (``iam-gov campaign create --file q4.yaml``) or built from CLI options; stored
with the campaign as JSON, so that the evidence says which rules the campaign ran under.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from iam_gov.errors import IamGovError, InputError
from iam_gov.model import AccountKind
from iam_gov.yamlfile import load_yaml


class CampaignError(IamGovError):
    """A campaign cannot be created, launched, decided or closed as asked."""


class DefinitionError(InputError):
    """A campaign definition file is wrong (``file:line: key: what``)."""


class _Strict(BaseModel):
    # built when a campaign is read, not at every start of a command that imports this
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class GrantRef(_Strict):
    """One grant, for reviews opened by an event (a new privileged grant, a mover …)."""

    system: str
    account_id: str
    entitlement_id: str


class Scope(_Strict):
    """What is reviewed. Every field narrows; an empty field does not."""

    systems: tuple[str, ...] = ()
    entitlements: tuple[str, ...] = ()
    """Policy patterns (``group:Admins*``, an ARN, a bare name; ``*`` and ``?``)."""
    people: tuple[str, ...] = ()
    """Employee ids or e-mail addresses."""
    departments: tuple[str, ...] = ()
    """HR departments; wildcards allowed, case ignored."""
    account_kinds: tuple[AccountKind, ...] = ()
    """``human``, ``service``, ``break-glass``. Default: all."""
    privileged_only: bool = False
    findings_only: bool = False
    """Only grants with an open finding about them or their account."""
    leavers_only: bool = False
    movers_only: bool = False
    grants: tuple[GrantRef, ...] = ()
    """Exactly these grants (event-triggered reviews)."""


class ReviewerRule(enum.StrEnum):
    MANAGER = "manager"
    """The person's manager in HR (the account's declared owner for service accounts)."""
    OWNER = "owner"
    """The entitlement's owner: the policy's ``owners``, else the owner the system records."""
    NAMED = "named"
    """One named reviewer for everything."""


class Reviewers(_Strict):
    rule: ReviewerRule = ReviewerRule.MANAGER
    named: str | None = None
    """The reviewer's e-mail, for ``rule: named``."""
    fallback: str | None = None
    """Reviews what the rule finds nobody for, and the reviewers' own access when they have
    no manager. Default: ``[review] fallback_reviewer`` in the configuration."""

    @model_validator(mode="after")
    def _named_needs_someone(self) -> Reviewers:
        if self.rule is ReviewerRule.NAMED and not self.named:
            raise ValueError("rule: named needs `named: <e-mail>`")
        return self


class NoResponse(enum.StrEnum):
    KEEP = "keep"
    REVOKE = "revoke"
    RECOMMENDATION = "recommendation"
    """Follow the item's recommendation."""


class CommentWhen(enum.StrEnum):
    ALWAYS = "always"
    APPROVE_FLAGGED = "approve-flagged"
    """Approving an item whose recommendation is revoke."""
    REVOKE = "revoke"


class Precertify(enum.StrEnum):
    NONE = "none"
    ROLE_EXPLAINED = "role-explained"
    """Items a role fully explains (in role, not privileged, no finding, not a leaver or
    mover) are approved at launch, recorded as pre-certified by this rule."""


RECURRENCES = {"monthly": "0 9 1 * *", "quarterly": "0 9 1 1,4,7,10 *", "yearly": "0 9 1 1 *"}


class CampaignDefinition(_Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    scope: Scope = Field(default_factory=Scope)
    reviewers: Reviewers = Field(default_factory=Reviewers)
    due: date | None = None
    """The due date; or ``due_in_days`` after launch."""
    due_in_days: int = Field(14, ge=1, le=366)
    recurrence: str | None = None
    """``monthly``, ``quarterly``, ``yearly`` or a cron expression (``0 9 1 */2 *``)."""
    no_response: NoResponse = NoResponse.KEEP
    comment_required: tuple[CommentWhen, ...] = (CommentWhen.APPROVE_FLAGGED,)
    precertify: Precertify = Precertify.NONE
    unused_after_days: int = Field(90, ge=1)
    """A grant unused this long is recommended for revocation."""

    @field_validator("recurrence")
    @classmethod
    def _valid_recurrence(cls, value: str | None) -> str | None:
        if value is None or value in RECURRENCES:
            return value
        from croniter import croniter  # here: every `iam-gov run` imports this module

        if not croniter.is_valid(value):
            raise ValueError(
                "not monthly, quarterly, yearly or a cron expression (minute hour day month "
                "weekday)"
            )
        return value

    def due_on(self, launched: datetime) -> date:
        return self.due or (launched + timedelta(days=self.due_in_days)).date()

    def next_run(self, after: datetime) -> datetime | None:
        """When the next recurrence is due, after ``after`` (UTC); ``None`` if it does not
        recur."""
        if self.recurrence is None:
            return None
        expression = RECURRENCES.get(self.recurrence, self.recurrence)
        from croniter import croniter

        nxt: datetime = croniter(expression, after).get_next(datetime)
        return nxt

    def requires_comment(self, decision: str, recommendation: str) -> bool:
        need = set(self.comment_required)
        return (
            CommentWhen.ALWAYS in need
            or (CommentWhen.REVOKE in need and decision == "revoke")
            or (
                CommentWhen.APPROVE_FLAGGED in need
                and decision == "approve"
                and recommendation == "revoke"
            )
        )


def load_definition(path: Path) -> CampaignDefinition:
    """A campaign definition from YAML; every problem reported as ``file:line: key: what``."""
    document = load_yaml(path, DefinitionError)
    if not isinstance(document.data, dict):
        raise DefinitionError(f"{path}: a campaign definition is a mapping (name:, scope: …)")
    try:
        return CampaignDefinition.model_validate(document.data)
    except ValidationError as exc:
        raise DefinitionError(document.problems(exc)) from None


def definition_from_json(data: Any) -> CampaignDefinition:
    return CampaignDefinition.model_validate(data)


Decision = Literal["approve", "revoke", "abstain"]
