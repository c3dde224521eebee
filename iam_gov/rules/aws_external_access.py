"""An AWS role that principals outside the organization (or outside the account) can assume."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from iam_gov.aws_policy import AwsAccount, analysis_for, is_aws_view
from iam_gov.aws_policy.conditions import MFA_PRESENT, Known, evaluate
from iam_gov.aws_policy.organization import account_of, label
from iam_gov.aws_policy.trust import EXTERNAL_ID, TrustStatement
from iam_gov.engine.state import EvaluationState
from iam_gov.model import Severity
from iam_gov.rules._common import active_aws_principals
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule

_OUTSIDER_ORG = "o-outside"
"""Stands for the organization of a caller outside ours: any id but ours."""
_SOMEONE = "000000000000"
"""Stands for an account outside ours, when the trust admits anyone."""


class Params(RuleParams):
    pass


class ExternalAccessEvidence(Evidence):
    role: str
    """The role's ARN."""
    aws_account_id: str
    """The role's account (12 digits)."""
    aws_account_name: str
    """Its name in the organization (its id when unknown)."""
    outside: list[str]
    """Who outside may assume it, as the trust policy spells them: principal ARNs, account
    roots, ``*`` for anyone (or everyone but those a ``NotPrincipal`` lists), federated
    providers of another account."""
    outside_accounts: list[str]
    """The 12-digit accounts among them (empty when only ``*``)."""
    statements: list[str]
    """The trust statements that admit them."""
    conditions: list[str]
    """Their conditions the snapshot cannot decide, as the policy writes them."""
    external_id: bool
    """Every admitting statement requires an ``sts:ExternalId``."""
    mfa: bool
    """Every admitting statement requires MFA."""
    admin_equivalent: bool
    """The role can do anything (aws-admin-equivalent)."""
    scope: str
    """``organization`` (outside the organization) or ``account`` (a single account)."""


@rule(
    id="aws-external-access",
    title="AWS role assumable from outside the organization",
    severity=Severity.MEDIUM,
    control="Access is granted on the principle of least privilege.",
    soc2=("CC6.1", "CC6.6"),
    iso27001=("A.5.15", "A.5.19"),
    remediation=(
        "Remove the outside principal from the role's trust policy, or narrow it to the "
        "named role of a vendor you contract with, under an sts:ExternalId condition; to "
        "admit the whole organization use an aws:PrincipalOrgID condition, never ``*``."
    ),
)
def aws_external_access(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """An active IAM role whose trust policy lets a principal outside the organization
    assume it: an account that is not a member, a principal of such an account, anyone
    (``*``, ``NotPrincipal``), or a federated provider of another account. Without an
    organization in the snapshot, outside means outside the role's own account.

    Not external: AWS service principals, federated SAML/OIDC providers of the role's own
    account, accounts of the organization (collected or not), and ``*`` under a condition
    the snapshot shows to exclude outsiders (``aws:PrincipalOrgID`` equal to the
    organization, ``aws:PrincipalAccount`` or ``aws:PrincipalArn`` naming only its
    accounts). Conditions it cannot decide (``sts:ExternalId``, MFA, source IP) leave the
    finding standing, shown in the evidence. No finding for the roles of an account the
    snapshot could not read.

    Severity: high when the role is admin-equivalent (aws-admin-equivalent), else medium.
    """
    for view in state.systems.values():
        if not is_aws_view(view):
            continue
        analysis = analysis_for(view)
        organization = analysis.organization
        for arn, account, principal in active_aws_principals(view, analysis):
            if principal.kind != "role":
                continue
            home = account_of(arn)
            if organization is not None and not organization.collected(home):
                continue
            found = _outside(analysis, arn, home)
            if found is None:
                continue
            outside, statements, conditions, external_id, mfa = found
            admin = analysis.is_admin_equivalent(principal) is not None
            scope = "account" if organization is None else "organization"
            where = "its account" if organization is None else f"the organization {organization.id}"
            name = analysis.account_name(home)
            in_account = "" if organization is None else f" in account {label(home, name)}"
            hedges = [
                *(["with an external id"] if external_id else []),
                *(["with MFA"] if mfa else []),
            ]
            when = f" ({', '.join(hedges)})" if hedges else ""
            message = (
                f"{view.name} role {account.login}{in_account} can be assumed from outside "
                f"{where} by {', '.join(outside)}{when}"
            )
            if conditions and not hedges:
                message += f", if {' and '.join(conditions)}"
            if admin:
                message += "; the role is admin-equivalent"
            yield Hit(
                subject=f"{view.name}:{arn}:external-access",
                system=view.name,
                person_id=None,
                message=message + ".",
                severity=Severity.HIGH if admin else Severity.MEDIUM,
                evidence=ExternalAccessEvidence(
                    role=arn,
                    aws_account_id=home,
                    aws_account_name=name,
                    outside=outside,
                    outside_accounts=sorted(
                        {a for a in map(_account_in, outside) if a is not None}
                    ),
                    statements=statements,
                    conditions=conditions,
                    external_id=external_id,
                    mfa=mfa,
                    admin_equivalent=admin,
                    scope=scope,
                ),
            )


def _account_in(spelled: str) -> str | None:
    found = spelled if spelled.isdigit() else account_of(spelled)
    return found if len(found) == 12 and found.isdigit() else None


def _outside(
    analysis: AwsAccount, role: str, home: str
) -> tuple[list[str], list[str], list[str], bool, bool] | None:
    """Who outside the trust admits, the statements, the undecided conditions, and whether
    each admitting statement needs an external id / MFA; None when nobody outside."""
    organization = analysis.organization

    def inside(account: str) -> bool:
        if organization is not None:
            return organization.is_member(account)
        return account == home

    outside: list[str] = []
    statements: list[str] = []
    conditions: list[str] = []
    all_external_id = all_mfa = True
    for statement in analysis.trust(role).statements:
        if not statement.allow or not statement.assume:
            continue
        admitted: list[tuple[str, Known]] = []
        if statement.anyone or statement.negated:
            admitted.append(("*", _outsider(_SOMEONE, None)))
        for spelled in () if statement.negated else statement.spelled:
            account = _account_in(spelled)
            if account is not None and not inside(account):
                arn = None if spelled.endswith(":root") else spelled
                admitted.append((spelled, _outsider(account, arn)))
        for provider in sorted(statement.federated):
            account = _account_in(provider)
            if account is not None and not inside(account):
                admitted.append((provider, _outsider(account, None)))
        kept = False
        for who, known in admitted:
            tests = _undecided(statement, known, inside, analysis.organization_id)
            if tests is None:
                continue  # its condition shuts outsiders out
            kept = True
            if who not in outside:
                outside.append(who)
            conditions.extend(t for t in tests if t not in conditions)
        if kept:
            statements.append(str(statement.ref))
            keys = _keys(statement)
            all_external_id = all_external_id and EXTERNAL_ID in keys
            all_mfa = all_mfa and MFA_PRESENT in keys
    if not outside:
        return None
    return outside, statements, conditions, all_external_id, all_mfa


def _outsider(account: str, arn: str | None) -> Known:
    """What is known of a caller from outside: its account, that it is not in our
    organization, and its ARN when the trust names it."""
    values: dict[str, tuple[str, ...]] = {
        "aws:principalaccount": (account,),
        "aws:principalorgid": (_OUTSIDER_ORG,),
        "aws:principalisawsservice": ("false",),
    }
    if arn is not None:
        values["aws:principalarn"] = (arn,)
    elif account == _SOMEONE:
        values["aws:principalarn"] = (f"arn:aws:iam::{_SOMEONE}:role/outsider",)
    return Known(values)


def _undecided(
    statement: TrustStatement, known: Known, inside: Callable[[str], bool], ours: str | None
) -> list[str] | None:
    """The statement's conditions left undecided for that caller; None when they exclude
    it. An outsider's organization (and, for ``*``, its account) may be any but ours: each
    outside value the condition names is tried, and one it does not name."""
    if statement.condition is None:
        return []
    named = _named(statement.condition)
    trials = [known]
    orgs = [o for o in named.get("aws:principalorgid", ()) if o != ours]
    trials += [_replaced(known, "aws:principalorgid", o) for o in orgs]
    if known.values["aws:principalaccount"] == (_SOMEONE,):
        accounts = [a for a in named.get("aws:principalaccount", ()) if not inside(a)]
        trials += [_replaced(known, "aws:principalaccount", a) for a in accounts]
    for trial in trials:
        verdict = evaluate(statement.condition, trial)
        if verdict.holds is not False:
            return [str(test) for test in verdict.unknown]
    return None


def _replaced(known: Known, key: str, value: str) -> Known:
    return Known({**known.values, key: (value,)}, known.closed_prefixes, known.not_before)


def _named(condition: Mapping[str, Any]) -> dict[str, list[str]]:
    """Lower-case key -> the values the condition names for it."""
    found: dict[str, list[str]] = {}
    for tests in condition.values():
        if isinstance(tests, Mapping):
            for key, values in tests.items():
                listed = values if isinstance(values, list) else [values]
                found.setdefault(str(key).lower(), []).extend(str(v) for v in listed)
    return found


def _keys(statement: TrustStatement) -> set[str]:
    keys: set[str] = set()
    for tests in (statement.condition or {}).values():
        if isinstance(tests, Mapping):
            keys.update(str(k).lower() for k in tests)
    return keys
