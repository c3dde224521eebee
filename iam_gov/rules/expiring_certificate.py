"""Certificates about to expire or past expiry yet still valid, and keys never rotated."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pydantic import Field

from iam_gov.engine.state import EvaluationState, SystemView
from iam_gov.model import Account, Credential, CredentialKind, Severity
from iam_gov.rules._common import active_accounts_credentials, days
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule

KEY_KINDS = (CredentialKind.PUBLIC_KEY, CredentialKind.SSH_KEY)


class Params(RuleParams):
    warn_days: int = Field(
        30, ge=1, description="Warn this many days before a certificate expires."
    )
    max_age_days: int = Field(
        365, ge=1, description="Rotate public keys (WireGuard peers, SSH keys) at least this often."
    )


class CredentialAgeEvidence(Evidence):
    account_login: str
    credential_id: str
    kind: str
    reason: str
    """``expiring``, ``expired-but-valid`` or ``not-rotated``."""
    created_at: datetime | None
    expires_at: datetime | None
    days_left: int | None
    age_days: int | None


@rule(
    id="expiring-certificate",
    title="Certificate expiring or key never rotated",
    severity=Severity.LOW,
    control="Strong authentication: credentials are renewed or retired on schedule, not left "
    "to lapse or to live forever.",
    soc2=("CC6.1", "CC6.2"),
    iso27001=("A.5.17", "A.8.24"),
    remediation=(
        "Renew the certificate if the person still needs the access, or revoke it and let the "
        "access end on purpose; rotate old keys (issue a new key pair, remove the old peer "
        "or authorized key)."
    ),
)
def expiring_certificate(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """A valid certificate of an active account (a VPN client certificate) that expires
    within ``warn_days`` and has no renewal yet (no other valid certificate that lasts
    longer); a certificate past its expiry date that the system still counts as valid
    (medium: the server may not check expiry); and a public key (WireGuard peer, SSH key)
    older than ``max_age_days`` whose creation date is known (medium). Leavers' credentials
    are the leaver rule's business.

    ```yaml
    rules:
      expiring-certificate: {warn_days: 14, max_age_days: 730}
    ```
    """
    for view, account, credentials in active_accounts_credentials(state):
        judged = [
            (credential, found)
            for credential in credentials
            if credential.active
            and (found := _judge(view, account, credentials, credential, params)) is not None
        ]
        if not judged:
            continue
        link = state.links[(view.name, account.native_id)]
        person = state.person_of(link)
        if person is not None and state.has_left(person, view.on):
            continue
        owner = f" ({person.name})" if person is not None else ""
        for credential, (what, severity, evidence) in judged:
            yield Hit(
                subject=f"{view.name}:{credential.credential_id}",
                system=view.name,
                person_id=link.person_id,
                message=f"{view.name} account {account.login}{owner}: {what}.",
                severity=severity,
                evidence=evidence,
            )


def _judge(
    view: SystemView,
    account: Account,
    credentials: list[Credential],
    credential: Credential,
    params: Params,
) -> tuple[str, Severity | None, CredentialAgeEvidence] | None:
    on = view.as_of
    age = (on - credential.created_at).days if credential.created_at else None

    def evidence(reason: str, left: int | None) -> CredentialAgeEvidence:
        return CredentialAgeEvidence(
            account_login=account.login,
            credential_id=credential.credential_id,
            kind=credential.kind.value,
            reason=reason,
            created_at=credential.created_at,
            expires_at=credential.expires_at,
            days_left=left,
            age_days=age,
        )

    if credential.kind is CredentialKind.CERTIFICATE and credential.expires_at is not None:
        expires = credential.expires_at
        name = f"certificate {credential.attributes.get('serial') or credential.credential_id}"
        if expires <= on:
            return (
                f"{name} expired on {expires.date()} but is still counted as valid",
                Severity.MEDIUM,
                evidence("expired-but-valid", -(on - expires).days),
            )
        left = (expires - on).days
        renewed = any(
            c.kind is CredentialKind.CERTIFICATE
            and c.active
            and c.expires_at is not None
            and c.expires_at > expires
            for c in credentials
        )
        if left >= params.warn_days or renewed:
            return None
        return (
            f"{name} expires on {expires.date()}, in {days(left)}, and has not been renewed",
            None,
            evidence("expiring", left),
        )
    if credential.kind in KEY_KINDS and age is not None and age > params.max_age_days:
        kind = "public key" if credential.kind is CredentialKind.PUBLIC_KEY else "SSH key"
        return (
            f"its {kind} was created {days(age)} ago and never rotated "
            f"(rotate every {days(params.max_age_days)})",
            Severity.MEDIUM,
            evidence("not-rotated", None),
        )
    return None
