"""The pydantic models every part of iam-gov shares: people, accounts, access and findings."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated, Any, NamedTuple

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from iam_gov.timeutil import as_utc


def _utc(value: datetime) -> datetime:
    return as_utc(value)


UTCDateTime = Annotated[datetime, AfterValidator(_utc)]
"""A datetime that is always timezone-aware UTC; naive input is taken to be UTC."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


# --- HR -----------------------------------------------------------------------------------


class EmploymentStatus(enum.StrEnum):
    ACTIVE = "active"
    LEAVE = "leave"
    TERMINATED = "terminated"


class EmploymentType(enum.StrEnum):
    EMPLOYEE = "employee"
    CONTRACTOR = "contractor"
    INTERN = "intern"
    OTHER = "other"


class Person(_Model):
    """One person as the HR system, the source of truth for who works here, describes them."""

    employee_id: str = Field(min_length=1)
    email: str | None = None
    name: str
    department: str | None = None
    title: str | None = None
    manager_id: str | None = None
    employment_type: EmploymentType = EmploymentType.EMPLOYEE
    status: EmploymentStatus
    start_date: date | None = None
    end_date: date | None = None
    previous_department: str | None = None
    """The department before the latest job change, when the HR export reports it."""
    previous_title: str | None = None
    """The title before the latest job change, when the HR export reports it."""
    previous_manager_id: str | None = None
    """The manager before the latest job change: an employee id when the export's reference
    could be resolved, else the reference as HR wrote it."""
    moved_at: date | None = None
    """When the latest job change took effect (HR's effective date); a change is only taken
    as a move when it has this date."""
    attributes: dict[str, str] = Field(default_factory=dict)
    """Every other HR column, kept so that roles can match on any HR field."""


# --- systems ------------------------------------------------------------------------------


class AccountStatus(enum.StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    SUSPENDED = "suspended"
    LOCKED = "locked"


class AccountKind(enum.StrEnum):
    HUMAN = "human"
    SERVICE = "service"
    BREAK_GLASS = "break-glass"


class Account(_Model):
    """An identity in one system: a user that can sign in or hold credentials."""

    system: str
    native_id: str = Field(min_length=1)
    """The system's own stable identifier (an ARN, an Okta id, a DN)."""
    login: str
    email: str | None = None
    display_name: str | None = None
    employee_id: str | None = None
    """The HR employee id when the system carries one (an attribute or tag)."""
    status: AccountStatus
    kind: AccountKind = AccountKind.HUMAN
    created_at: UTCDateTime | None = None
    last_login_at: UTCDateTime | None = None
    """Last interactive sign-in, if the system records it."""
    mfa_factors: tuple[str, ...] | None = None
    """Enrolled second factors; None when the system does not say (unknown is not none)."""
    person_id: str | None = None
    """The linked person's employee id; set by correlation, never by a connector."""
    attributes: dict[str, str] = Field(default_factory=dict)


class CredentialKind(enum.StrEnum):
    PASSWORD = "password"
    ACCESS_KEY = "access-key"
    CERTIFICATE = "certificate"
    SSH_KEY = "ssh-key"
    PUBLIC_KEY = "public-key"
    """A key pair whose public half the server holds, e.g. a WireGuard peer."""


class Credential(_Model):
    """Something an account authenticates with: a console password, an access key, a cert."""

    system: str
    account_id: str
    """native_id of the owning account."""
    credential_id: str
    kind: CredentialKind
    active: bool
    created_at: UTCDateTime | None = None
    last_used_at: UTCDateTime | None = None
    expires_at: UTCDateTime | None = None
    attributes: dict[str, str] = Field(default_factory=dict)


class Entitlement(_Model):
    """Something that grants access in a system: a group, a role, a policy, an app."""

    system: str
    entitlement_id: str = Field(min_length=1)
    name: str
    kind: str
    """System-specific kind, e.g. ``group``, ``policy``, ``inline-policy``, ``role``, ``app``."""
    privileged: bool = False
    owner: str | None = None
    description: str | None = None

    @property
    def ref(self) -> str:
        """How policy files name it: ``kind:name``."""
        return f"{self.kind}:{self.name}"


class Grant(_Model):
    """An account holds an entitlement, directly or through a group."""

    system: str
    account_id: str
    entitlement_id: str
    via: str | None = None
    """entitlement_id of the group that confers it; None when held directly."""
    granted_at: UTCDateTime | None = None
    last_used_at: UTCDateTime | None = None


class GrantRow(NamedTuple):
    """A grant as evaluation holds it: the fields of ``Grant`` in a plain tuple. An
    evaluation holds millions of grants, and a model each would cost several times the
    memory and the time; rows come from the store, where they were validated."""

    system: str
    account_id: str
    entitlement_id: str
    via: str | None
    granted_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, grant: Grant) -> GrantRow:
        return cls(
            grant.system,
            grant.account_id,
            grant.entitlement_id,
            grant.via,
            grant.granted_at,
            grant.last_used_at,
        )


class PolicyDocument(_Model):
    """A permission document kept verbatim for later analysis (e.g. an AWS IAM policy)."""

    system: str
    document_id: str
    name: str
    kind: str
    document: dict[str, Any]


class SnapshotError(_Model):
    """A problem a connector met; where it names a line or record, so does this."""

    source: str
    message: str
    line: int | None = None
    record: str | None = None
    fatal: bool = False
    consequence: str | None = None
    """What cannot be concluded because of it, in words a reviewer reads ("group-scoped app
    assignments unknown: excess and leaver findings for okta apps are not concluded")."""

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
        if self.record:
            where += f" ({self.record})"
        text = f"{where}: {self.message}"
        if self.consequence:
            text += f" ({self.consequence})"
        return text


class SystemSnapshot(_Model):
    """Everything one connector saw in one system at one time."""

    system: str
    connector: str
    """Connector type, e.g. ``hr`` or ``aws``."""
    source: str
    """``live`` or ``export:<what was read>``."""
    collected_at: UTCDateTime
    complete: bool
    errors: tuple[SnapshotError, ...] = ()
    people: tuple[Person, ...] = ()
    accounts: tuple[Account, ...] = ()
    credentials: tuple[Credential, ...] = ()
    entitlements: tuple[Entitlement, ...] = ()
    grants: tuple[Grant, ...] = ()
    documents: tuple[PolicyDocument, ...] = ()
    settings: dict[str, Any] = Field(default_factory=dict)
    """System-wide settings, e.g. the account password policy."""


# --- findings -----------------------------------------------------------------------------


class Severity(enum.StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}


class Finding(_Model):
    """One thing a rule says is wrong, with the evidence and a sentence a reviewer reads."""

    finding_id: str
    """Stable across runs: the same problem on the same subject keeps its id."""
    rule_id: str
    severity: Severity
    system: str | None
    subject: str
    """What the finding is about, e.g. ``aws:user/jdoe`` or a person's employee id."""
    person_id: str | None = None
    message: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    first_seen: UTCDateTime | None = None
    last_seen: UTCDateTime | None = None
    resolved_at: UTCDateTime | None = None


# --- actions ------------------------------------------------------------------------------


class ActionKind(enum.StrEnum):
    DISABLE_ACCOUNT = "disable-account"
    """The account can no longer sign in or use credentials (Okta: deactivate; AD: disable)."""
    SUSPEND_ACCOUNT = "suspend-account"
    """Reversible block that keeps assignments (Okta: suspend)."""
    REVOKE_SESSIONS = "revoke-sessions"
    """End sessions and refresh tokens already issued (Entra: revokeSignInSessions)."""
    REMOVE_GRANT = "remove-grant"
    DEACTIVATE_CREDENTIAL = "deactivate-credential"


class Action(_Model):
    """A change a connector is asked to make; always planned before it is applied."""

    kind: ActionKind
    system: str
    account_id: str
    entitlement_id: str | None = None
    credential_id: str | None = None
    reason: str


class ActionOutcome(enum.StrEnum):
    APPLIED = "applied"
    NOOP = "noop"
    FAILED = "failed"


class ActionResult(_Model):
    action: Action
    outcome: ActionOutcome
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
