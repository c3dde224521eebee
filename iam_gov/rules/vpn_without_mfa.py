"""VPN access that one factor opens: no second factor, or an identity provider without MFA."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from iam_gov.engine.state import EvaluationState, SystemView
from iam_gov.model import Account, AccountStatus, Severity
from iam_gov.rules._common import account_subject
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule

# Password checks that hand the password to a directory or an identity provider (OpenVPN's
# radiusplugin and openvpn-auth-ldap; behind them Okta's RADIUS agent, Entra's NPS extension,
# an LDAP server): whether a second factor is asked is that provider's decision, per user.
_DIRECTORY_METHODS = frozenset({"radius", "ldap"})
_LISTED = 10


class Params(RuleParams):
    pass


class VpnMfaEvidence(Evidence):
    vpn: str
    authentication: dict[str, Any]
    identities_that_can_connect: int
    identity_provider: str | None = None
    idp_account: str | None = None
    account_login: str | None = None
    option: str | None = None
    """The VPN system's option that names the identity provider (mfa_from, relies_on)."""
    not_concluded: list[str] = []
    """VPN users whose factors could not be judged, each with the reason."""


def _factors(auth: dict[str, Any]) -> list[str]:
    found = []
    if auth.get("certificate"):
        found.append("a certificate")
    if auth.get("key"):
        found.append("a key")
    if auth.get("password"):
        found.append("a password")
    return found


def _directory_method(auth: dict[str, Any]) -> str | None:
    """``radius`` or ``ldap`` when the VPN hands its password to a directory."""
    methods = [auth.get("method"), *(auth.get("methods") or ())]
    return next((str(m) for m in methods if m in _DIRECTORY_METHODS), None)


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
    second factor the server asks for, count as MFA.

    Where the VPN's password is checked through RADIUS or LDAP (OpenVPN's radiusplugin or
    openvpn-auth-ldap, in front of Okta's RADIUS agent, Entra's NPS extension …), the
    identity provider behind it decides whether a second factor is asked, user by user: each
    VPN user is judged by the factors they have enrolled in the system the VPN's
    ``mfa_from`` option names (else ``relies_on``), and one with none enrolled there is a
    finding even though the server "requires MFA". Without either option the rule cannot
    conclude, and says so (low) with the option to set. Users whose factors the provider does
    not report (not collected, an incomplete read), or who are not linked to a person, are
    listed as not concluded (low), never as compliant. ``mfa_from`` applies to any password
    check the VPN makes; ``relies_on`` alone, to a server that asks a single factor.
    """
    for view in state.systems.values():
        vpn = view.settings.get("vpn")
        if not isinstance(vpn, dict):
            continue
        auth = dict(vpn.get("authentication") or {})
        active = [a for a in view.accounts.values() if a.status is AccountStatus.ACTIVE]
        if not active:
            continue
        mfa_from, relies_on = auth.get("mfa_from"), auth.get("relies_on")
        if mfa_from and auth.get("password"):
            yield from _through_idp(state, view, auth, str(mfa_from), active, "mfa_from")
            continue
        directory = _directory_method(auth)
        if directory is not None:
            if relies_on:
                yield from _through_idp(state, view, auth, str(relies_on), active, "relies_on")
            else:
                yield _cannot_conclude(view, auth, directory, len(active))
            continue
        if auth.get("second_factor"):
            continue
        factors = _factors(auth)
        if auth.get("certificate") and auth.get("password"):
            continue  # something you have and something you know
        if relies_on:
            yield from _through_idp(state, view, auth, str(relies_on), active, "relies_on")
            continue
        how = " or ".join(factors) if factors else "no credential iam-gov can see"
        unused = (
            f" (mfa_from = {mfa_from!r} is not used: the server asks no password)"
            if mfa_from
            else ""
        )
        yield Hit(
            subject=f"{view.name}:vpn-authentication",
            system=view.name,
            message=(
                f"The {vpn.get('kind', 'VPN')} VPN {view.name} lets {len(active)} identities "
                f"connect with {how} alone: it asks for no second factor.{unused}"
            ),
            evidence=VpnMfaEvidence(
                vpn=view.name, authentication=auth, identities_that_can_connect=len(active)
            ),
        )


def _cannot_conclude(view: SystemView, auth: dict[str, Any], method: str, active: int) -> Hit:
    plugin = auth.get("plugin")
    through = f"{method.upper()} ({plugin})" if plugin else method.upper()
    return Hit(
        subject=f"{view.name}:vpn-mfa-not-concluded",
        system=view.name,
        severity=Severity.LOW,
        message=(
            f"The VPN {view.name} checks passwords through {through}: whether its "
            f"{active} users are asked for a second factor depends on what each has enrolled "
            "in the identity provider behind it, which iam-gov does not know. Not concluded: "
            f'set mfa_from = "<that system>" in [systems.{view.name}].'
        ),
        evidence=VpnMfaEvidence(
            vpn=view.name, authentication=auth, identities_that_can_connect=active
        ),
    )


def _through_idp(
    state: EvaluationState,
    view: SystemView,
    auth: dict[str, Any],
    idp_name: str,
    active: list[Account],
    option: str,
) -> Iterator[Hit]:
    """Each active VPN user judged by their enrolled factors in ``idp_name``."""
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
                identities_that_can_connect=len(active),
                identity_provider=idp_name,
                option=option,
            ),
        )
        return
    of_person: dict[str, list[Account]] = {}
    for idp_account in idp.accounts.values():
        person_id = state.links[(idp.name, idp_account.native_id)].person_id
        if person_id is not None:
            of_person.setdefault(person_id, []).append(idp_account)
    missing = "not in its snapshot" + ("" if idp.complete else " (which is incomplete)")
    not_concluded: list[str] = []
    for vpn_account in active:
        person_id = state.links[(view.name, vpn_account.native_id)].person_id
        if person_id is None:
            not_concluded.append(f"{vpn_account.login}: not linked to a person")
            continue
        candidates = [a for a in of_person.get(person_id, ()) if a.status is AccountStatus.ACTIVE]
        if not candidates:
            not_concluded.append(f"{vpn_account.login}: no active {idp_name} account, {missing}")
            continue
        judged = _same_login(vpn_account, candidates) or candidates
        if any(a.mfa_factors for a in judged):
            continue
        if any(a.mfa_factors is None for a in judged):
            not_concluded.append(f"{vpn_account.login}: {idp_name} does not report their factors")
            continue
        idp_account = judged[0]
        person = state.people.get(person_id)
        who = person.name if person is not None else vpn_account.login
        yield Hit(
            subject=f"{account_subject(view, vpn_account)}:{idp_name}",
            system=view.name,
            person_id=person_id,
            message=(
                f"{who} can connect to the VPN {view.name}, which relies on {idp_name} sign-in "
                f"for its second factor ({option}), and their {idp_name} account "
                f"{idp_account.login} has no MFA factor."
            ),
            evidence=VpnMfaEvidence(
                vpn=view.name,
                authentication=auth,
                identities_that_can_connect=len(active),
                identity_provider=idp_name,
                idp_account=idp_account.login,
                account_login=vpn_account.login,
                option=option,
            ),
        )
    if not_concluded:
        listed = "; ".join(not_concluded[:_LISTED])
        more = f" … and {len(not_concluded) - _LISTED} more" if len(not_concluded) > _LISTED else ""
        yield Hit(
            subject=f"{view.name}:vpn-mfa-not-concluded",
            system=view.name,
            severity=Severity.LOW,
            message=(
                f"Whether {len(not_concluded)} users of the VPN {view.name} have a second factor "
                f"in {idp_name} ({option}) is not concluded: {listed}{more}."
            ),
            evidence=VpnMfaEvidence(
                vpn=view.name,
                authentication=auth,
                identities_that_can_connect=len(active),
                identity_provider=idp_name,
                option=option,
                not_concluded=not_concluded,
            ),
        )


def _same_login(vpn_account: Account, candidates: list[Account]) -> list[Account]:
    """The provider's accounts the VPN user name is (the name RADIUS or LDAP is given)."""
    names = {n.casefold() for n in (vpn_account.login, vpn_account.email) if n}
    return [
        a
        for a in candidates
        if a.login.casefold() in names or (a.email is not None and a.email.casefold() in names)
    ]
