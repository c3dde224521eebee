"""One person (or one identity) holding several valid VPN certificates at once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from iam_gov.engine.state import EvaluationState, SystemView
from iam_gov.model import CredentialKind, Severity
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    pass


class CertificatesEvidence(Evidence):
    account_login: str
    certificates: list[str]
    """``login: serial`` of every valid certificate."""


@rule(
    id="multiple-valid-certificates",
    title="Several valid VPN certificates for one person",
    severity=Severity.LOW,
    control="Unique user IDs; credentials are issued once and revoked when replaced.",
    soc2=("CC6.1",),
    iso27001=("A.5.16", "A.5.17"),
    remediation=(
        "Revoke the certificates that were replaced (a lost laptop's, an old one reissued) "
        "and keep one per person and device, each recorded."
    ),
)
def multiple_valid_certificates(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """A reissued certificate whose predecessor was never revoked is a credential nobody
    tracks: each valid certificate can connect. Counted per person across their identities
    in one VPN, or per identity when it belongs to nobody.
    """
    for view in state.systems.values():
        held: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for account_id, creds in view.credentials.items():
            account = view.accounts.get(account_id)
            valid = [c for c in creds if c.kind is CredentialKind.CERTIFICATE and c.active]
            if account is None or not valid:
                continue
            owner = _owner(state, view, account_id)
            for c in valid:
                serial = str(c.attributes.get("serial") or c.credential_id.rsplit("-", 1)[-1])
                held[owner].append((account.login, serial))
        several = {owner: certs for owner, certs in held.items() if len(certs) > 1}
        if not several:
            continue
        # Named by the first of their accounts that has credentials of any kind.
        logins: dict[str, str] = {}
        for account_id in view.credentials:
            if account_id in view.accounts:
                logins.setdefault(_owner(state, view, account_id), view.accounts[account_id].login)
        for owner, certificates in sorted(several.items()):
            person = state.people.get(owner)
            who = f"{person.name} ({owner})" if person else f"identity {logins[owner]}"
            listed = [f"{login}: {serial}" for login, serial in sorted(certificates)]
            yield Hit(
                subject=f"{view.name}:{owner}:certificates",
                system=view.name,
                person_id=person.employee_id if person else None,
                message=(
                    f"{who} holds {len(certificates)} valid certificates for the VPN "
                    f"{view.name} ({', '.join(listed)}); replaced ones should be revoked."
                ),
                evidence=CertificatesEvidence(account_login=logins[owner], certificates=listed),
            )


def _owner(state: EvaluationState, view: SystemView, account_id: str) -> str:
    """Whose certificates these are: a person's, or the identity's when it is nobody's."""
    return state.links[(view.name, account_id)].person_id or f"account:{account_id}"
