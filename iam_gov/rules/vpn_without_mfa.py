"""VPN access that one factor opens: no second factor, or an identity provider without MFA."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from iam_gov.engine.state import EvaluationState, SystemView
from iam_gov.model import AccountStatus, Severity
from iam_gov.rules._common import account_subject
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    pass


class VpnMfaEvidence(Evidence):
    vpn: str
    authentication: dict[str, Any]
    identities_that_can_connect: int
    identity_provider: str | None = None
    idp_account: str | None = None
    account_login: str | None = None


def _factors(auth: dict[str, Any]) -> list[str]:
    found = []
    if auth.get("certificate"):
        found.append("a certificate")
    if auth.get("key"):
        found.append("a key")
    if auth.get("password"):
        found.append("a password")
    return found


@rule(
    id="vpn-without-mfa",
    title="VPN access without MFA",
    severity=Severity.HIGH,
    control="Access to the environment requires a VPN connection protected by MFA.",
    soc2=("CC6.1", "CC6.6"),
    iso27001=("A.5.17", "A.8.5"),
    remediation=(
        "Require a second factor on the VPN (an OTP or push plugin, or a certificate and a "
        "password together); where the VPN checks passwords against the identity provider, "
        "enrol every VPN user in MFA there."
    ),
)
def vpn_without_mfa(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """A VPN whose server admits a single factor (only a certificate, only a key, only a
    password) is one finding for the server. A certificate and a password together, or a
    second factor the server asks for, count as MFA. When the VPN's password is checked by
    an identity provider (``relies_on``), each person who can connect and has no MFA factor
    there is a finding.
    """
    for view in state.systems.values():
        vpn = view.settings.get("vpn")
        if not isinstance(vpn, dict):
            continue
        auth = dict(vpn.get("authentication") or {})
        active = [a for a in view.accounts.values() if a.status is AccountStatus.ACTIVE]
        if not active or auth.get("second_factor"):
            continue
        factors = _factors(auth)
        if auth.get("certificate") and auth.get("password"):
            continue  # something you have and something you know
        relies_on = auth.get("relies_on")
        if relies_on:
            yield from _through_idp(state, view, auth, str(relies_on), len(active))
            continue
        how = " or ".join(factors) if factors else "no credential iam-gov can see"
        yield Hit(
            subject=f"{view.name}:vpn-authentication",
            system=view.name,
            message=(
                f"The {vpn.get('kind', 'VPN')} VPN {view.name} lets {len(active)} identities "
                f"connect with {how} alone: it asks for no second factor."
            ),
            evidence=VpnMfaEvidence(
                vpn=view.name, authentication=auth, identities_that_can_connect=len(active)
            ),
        )


def _through_idp(
    state: EvaluationState, view: SystemView, auth: dict[str, Any], idp_name: str, active: int
) -> Iterator[Hit]:
    idp = state.systems.get(idp_name)
    if idp is None:
        yield Hit(
            subject=f"{view.name}:vpn-authentication",
            system=view.name,
            severity=Severity.MEDIUM,
            message=(
                f"The VPN {view.name} checks passwords against {idp_name}, which iam-gov does not "
                "collect: whether VPN sign-ins use MFA cannot be verified."
            ),
            evidence=VpnMfaEvidence(
                vpn=view.name,
                authentication=auth,
                identities_that_can_connect=active,
                identity_provider=idp_name,
            ),
        )
        return
    for vpn_account in view.accounts.values():
        if vpn_account.status is not AccountStatus.ACTIVE:
            continue
        link = state.links[(view.name, vpn_account.native_id)]
        if link.person_id is None:
            continue
        for idp_account in idp.accounts.values():
            idp_link = state.links[(idp.name, idp_account.native_id)]
            if idp_link.person_id != link.person_id:
                continue
            if idp_account.status is AccountStatus.ACTIVE and idp_account.mfa_factors == ():
                person = state.people[link.person_id]
                yield Hit(
                    subject=f"{account_subject(view, vpn_account)}:{idp_name}",
                    system=view.name,
                    person_id=link.person_id,
                    message=(
                        f"{person.name} can connect to the VPN {view.name}, which relies on "
                        f"{idp_name} sign-in, and their {idp_name} account {idp_account.login} "
                        "has no MFA factor."
                    ),
                    evidence=VpnMfaEvidence(
                        vpn=view.name,
                        authentication=auth,
                        identities_that_can_connect=active,
                        identity_provider=idp_name,
                        idp_account=idp_account.login,
                        account_login=vpn_account.login,
                    ),
                )
