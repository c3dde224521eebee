"""The policy file's schema: what access is expected, and who approved what is not."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from iam_gov.model import AccountKind, Severity

Pattern = str
"""An entitlement reference: ``kind:name`` (``group:Developers``), a native id (an ARN), or a
bare name; ``*`` and ``?`` are wildcards; comparison ignores case."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Role(_Strict):
    """People whose HR record matches ``match`` are expected to hold ``grants``."""

    name: str = Field(min_length=1)
    description: str | None = None
    match: dict[str, str | list[str]] = Field(default_factory=dict)
    """HR field -> value or list of values (any of them), wildcards allowed, case ignored.
    Fields: department, title, employment_type, status, manager_id, or any HR column."""
    includes: tuple[str, ...] = ()
    """Other roles whose grants this role also brings."""
    grants: dict[str, tuple[Pattern, ...]] = Field(default_factory=dict)
    """System name -> entitlements this role brings there (birthright: expected, and
    reported as missing when absent)."""
    requestable: dict[str, tuple[Pattern, ...]] = Field(default_factory=dict)
    """System name -> entitlements people in this role may hold once approved (an exception
    or a review decision); held without an approval, they are excess."""


class PrivilegedEntitlement(_Strict):
    """A privileged entitlement and how it must be held. A field left out takes the
    ``privileged-access`` rule's default."""

    entitlement: Pattern
    require_mfa: bool | None = None
    """The holding account must have a second factor (even when it only uses keys)."""
    require_justification: bool | None = None
    """A role is not enough: an approved, expiring exception must back it."""
    employees_only: bool | None = None
    """Contractors, interns and others must not hold it."""
    max_days: int | None = Field(default=None, ge=1)
    """Longest time one grant may be held, where the system records when it was granted."""


class SodException(_Strict):
    """One person allowed to hold both sides, for a while, under a compensating control."""

    person: str = Field(min_length=1)
    """Employee id or e-mail."""
    approver: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    """Why, and the compensating control (e.g. "every deploy is reviewed by a second SRE")."""
    expires: date
    ticket: str | None = None


class SeparationOfDuties(_Strict):
    """Entitlements that must not come together in one person, across systems."""

    name: str = Field(min_length=1)
    description: str | None = None
    severity: Severity = Severity.HIGH
    sides: tuple[dict[str, tuple[Pattern, ...]], ...] = Field(min_length=2)
    """Each side: system name -> entitlements; holding something from two sides conflicts."""
    exceptions: tuple[SodException, ...] = ()
    """People approved to hold both sides until the exception expires."""


class Exception_(_Strict):
    """An approved grant outside any role: who approved it, why, and until when."""

    person: str | None = None
    """Employee id or e-mail of the person it is for."""
    account: str | None = None
    """Or an account (login or native id), e.g. for a service account."""
    system: str
    entitlement: Pattern
    approver: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    expires: date
    ticket: str | None = None

    # A model validator, not a field validator: field validators do not run on defaults, so
    # an exception with neither key would slip through.
    @model_validator(mode="after")
    def _who(self) -> Exception_:
        if self.person is None and self.account is None:
            raise ValueError("an exception names a person or an account")
        return self


class DeclaredAccount(_Strict):
    """An account that is not a person's: a service account or a break-glass account."""

    system: str
    login: str = Field(min_length=1)
    """Login or native id; wildcards allowed (e.g. ``svc-*``)."""
    kind: AccountKind
    owner: str = Field(min_length=1)
    reason: str | None = None
    entitlements: tuple[Pattern, ...] = ()
    """What this account is expected to hold (service accounts have no HR role)."""

    @field_validator("kind")
    @classmethod
    def _not_human(cls, value: AccountKind) -> AccountKind:
        if value is AccountKind.HUMAN:
            raise ValueError("declare service or break-glass accounts here; humans come from HR")
        return value


class EntitlementOwner(_Strict):
    """Who answers for an entitlement: reviews it in campaigns with ``reviewers: owner``."""

    entitlement: Pattern
    owner: str = Field(min_length=3)
    """The owner's e-mail address."""


class PolicyFile(_Strict):
    """One YAML file of the policy (a policy may be one file or a folder of them)."""

    version: int = Field(1, ge=1, le=1)
    roles: tuple[Role, ...] = ()
    privileged: dict[str, tuple[Pattern | PrivilegedEntitlement, ...]] = Field(default_factory=dict)
    """System name -> entitlements that are privileged there (a pattern, or a mapping that
    also says how it must be held)."""
    separation_of_duties: tuple[SeparationOfDuties, ...] = ()
    exceptions: tuple[Exception_, ...] = ()
    accounts: tuple[DeclaredAccount, ...] = ()
    owners: dict[str, tuple[EntitlementOwner, ...]] = Field(default_factory=dict)
    """System name -> entitlement owners (the first matching entry wins)."""
    rules: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Rule id -> settings: ``enabled`` and the rule's thresholds."""
