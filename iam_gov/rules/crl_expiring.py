"""A VPN's certificate revocation list that has expired or soon will."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pydantic import Field

from iam_gov.engine.state import EvaluationState
from iam_gov.model import Severity
from iam_gov.rules._common import days
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule
from iam_gov.timeutil import as_utc


class Params(RuleParams):
    days: int = Field(14, ge=1, description="Warn this many days before the CRL's next update.")


class CrlEvidence(Evidence):
    crl_path: str | None
    next_update: datetime
    days_left: int


@rule(
    id="crl-expiring",
    title="VPN revocation list expiring",
    severity=Severity.MEDIUM,
    control="Access is revoked in a timely manner when employment ends.",
    soc2=("CC6.1", "CC6.2"),
    iso27001=("A.5.18", "A.8.5"),
    remediation=(
        "Regenerate the CRL (easyrsa gen-crl), install it, and schedule that well inside "
        "its validity (EASYRSA_CRL_DAYS)."
    ),
)
def crl_expiring(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """The CRL the VPN server checks has a next-update date within ``days``, or past it.
    Once it has passed, OpenVPN refuses every client (an outage that tempts people to turn
    revocation checking off). High severity once expired.

    ```yaml
    rules:
      crl-expiring: {days: 7}
    ```
    """
    for view in state.systems.values():
        vpn = view.settings.get("vpn")
        crl = vpn.get("crl") if isinstance(vpn, dict) else None
        if not isinstance(crl, dict) or not crl.get("next_update"):
            continue
        next_update = as_utc(datetime.fromisoformat(str(crl["next_update"])))
        left = (next_update - view.as_of).days
        if next_update > view.as_of and left >= params.days:
            continue
        if next_update <= view.as_of:
            message = (
                f"The CRL of the VPN {view.name} expired on {next_update.date()}: the server "
                "refuses every client until a new one is installed."
            )
        else:
            message = (
                f"The CRL of the VPN {view.name} expires on {next_update.date()}, in "
                f"{days(left)}; regenerate it before every client is refused."
            )
        yield Hit(
            subject=f"{view.name}:crl-expiry",
            system=view.name,
            message=message,
            severity=Severity.HIGH if next_update <= view.as_of else None,
            evidence=CrlEvidence(crl_path=crl.get("path"), next_update=next_update, days_left=left),
        )
