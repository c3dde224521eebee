"""Revoked VPN certificates the server would still accept: the CRL it reads lacks them."""

from __future__ import annotations

from collections.abc import Iterator

from iam_gov.engine.state import EvaluationState
from iam_gov.model import CredentialKind, Severity
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    pass


class RevocationEvidence(Evidence):
    crl_path: str | None
    crl_present: bool
    revoked_not_in_crl: list[str]
    """Serials (and the identity they belong to, where known)."""


@rule(
    id="revocation-not-enforced",
    title="Revoked certificates still accepted",
    severity=Severity.CRITICAL,
    control="Access is revoked in a timely manner when employment ends.",
    soc2=("CC6.2", "CC6.3"),
    iso27001=("A.5.18", "A.8.5"),
    remediation=(
        "Regenerate the CRL (easyrsa gen-crl), install it where the server's crl-verify "
        "points, and make the revocation procedure do both every time."
    ),
)
def revocation_not_enforced(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """The PKI says a certificate is revoked, but the CRL the VPN server checks does not list
    it (the CRL was not regenerated or not installed), or the server checks no CRL at all
    while revoked certificates exist: each of them can still connect.
    """
    for view in state.systems.values():
        vpn = view.settings.get("vpn")
        if not isinstance(vpn, dict) or vpn.get("kind") != "openvpn":
            continue
        crl = vpn.get("crl") or {}
        owners = {
            str(c.attributes.get("serial", "")).upper(): view.accounts[c.account_id].login
            for creds in view.credentials.values()
            for c in creds
            if c.kind is CredentialKind.CERTIFICATE and c.account_id in view.accounts
        }
        if crl.get("present"):
            missing = [str(s).upper() for s in crl.get("missing_revoked_serials") or ()]
        else:
            missing = [
                str(c.attributes.get("serial", "")).upper()
                for creds in view.credentials.values()
                for c in creds
                if c.kind is CredentialKind.CERTIFICATE and c.attributes.get("status") == "R"
            ]
        if not missing:
            continue
        named = [f"{s} ({owners[s]})" if s in owners else s for s in sorted(missing)]
        if crl.get("present"):
            why = f"the CRL it checks ({crl.get('path')}) does not list them"
        else:
            why = "it checks no CRL"
        yield Hit(
            subject=f"{view.name}:crl",
            system=view.name,
            message=(
                f"The VPN {view.name} would still accept {len(missing)} revoked "
                f"certificate(s): {why}. Revoked: {', '.join(named[:10])}"
                + (" …" if len(named) > 10 else "")
                + "."
            ),
            evidence=RevocationEvidence(
                crl_path=crl.get("path"),
                crl_present=bool(crl.get("present")),
                revoked_not_in_crl=named,
            ),
        )
