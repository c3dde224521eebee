"""An AWS user or role that can give itself more permissions than it has."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from iam_gov.aws_policy import AwsAccount, Certainty, analysis_for, is_aws_view, short_name
from iam_gov.engine.state import EvaluationState
from iam_gov.model import AccountKind, AccountStatus, Severity
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule


class Params(RuleParams):
    pass


class EscalationEvidence(Evidence):
    account_login: str
    principal_arn: str
    principal_type: str
    method_id: str
    method_name: str
    enabling_actions: list[str]
    statements: list[str]
    """The identity-policy statements that allow the enabling actions."""
    chain: list[str]
    """The principal, then each role it assumes before using the method (ARNs)."""
    path: str
    """The chain and the method in one line: ``user/alice → role/deployer → iam:PassRole …``."""
    target: str | None
    certainty: str
    """``certain``, ``resource-constrained`` or ``conditional``."""
    gains_admin: bool
    gained_actions: int
    notes: list[str]
    reachable_by_human: bool
    """A person's IAM user is the principal, or can assume it."""
    human_route: list[str]
    """The surest way a person's user becomes the principal: that user, then each role it
    assumes (ARNs); empty when no person's user can."""
    human_route_certainty: str | None
    """How surely it can (``certain`` when the principal is a person's user); None when no
    person's user can."""


@rule(
    id="aws-privilege-escalation",
    title="AWS privilege-escalation path",
    severity=Severity.HIGH,
    control="Access is granted on the principle of least privilege.",
    soc2=("CC6.1", "CC6.3"),
    iso27001=("A.8.2", "A.5.15"),
    remediation=(
        "Remove the enabling permission, or narrow it to resources that grant nothing more "
        "(e.g. iam:PassRole on the roles the job passes, with iam:PassedToService), or put "
        "the principal under a permissions boundary that denies the IAM writes."
    ),
)
def aws_privilege_escalation(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """An active IAM user or role that can gain permissions it does not have, by one of
    the published escalation methods (Rhino Security Labs' catalogue and later additions):
    rewriting its own or its group's policies, taking over another user's credentials,
    passing a more privileged role to a service it controls, assuming such a role —
    directly or through a chain of roles it can assume. One finding per principal and
    method, with the best path found. Critical when the path is certain and a person's
    user is, or can certainly become, the principal (a route through a trust with an MFA
    condition, say, leaves it high). Admin-equivalent principals are left to
    aws-admin-equivalent: they have nothing to gain.
    """
    for view in state.systems.values():
        if not is_aws_view(view):
            continue
        analysis = analysis_for(view)
        human_users = [
            arn
            for arn, account in sorted(view.accounts.items())
            if account.status is AccountStatus.ACTIVE
            and state.links[(view.name, arn)].kind is AccountKind.HUMAN
            and arn in analysis.principals
            and analysis.principals[arn].kind == "user"
        ]
        routes = _human_routes(analysis, human_users)
        for arn in sorted(view.accounts):
            account = view.accounts[arn]
            principal = analysis.principals.get(arn)
            if (
                principal is None
                or principal.kind not in ("user", "role")
                or account.status is not AccountStatus.ACTIVE
            ):
                continue
            link = state.links[(view.name, arn)]
            person = state.person_of(link)
            route = routes.get(arn)
            by_human = route is not None
            surely_by_human = route is not None and route.certainty is Certainty.CERTAIN
            owner = f" ({person.name})" if person is not None else ""
            for path in analysis.escalation_paths(principal):
                certain = path.certainty is Certainty.CERTAIN
                more = "action" if path.gained == 1 else "actions"
                gains = "admin" if path.admin else f"{path.gained} more {more}"
                message = (
                    f"{view.name} {principal.kind} {account.login}{owner} can escalate its "
                    f"privileges ({path.method.name}): {path.describe()}; "
                    f"{path.certainty.value}, gains {gains}"
                )
                if route is not None and not surely_by_human:
                    hops = " → ".join(short_name(a) for a in route.chain)
                    message += (
                        f"; a person's user can become it, but not certainly "
                        f"({route.certainty.value}: {hops})"
                    )
                yield Hit(
                    subject=f"{view.name}:{arn}:{path.method.id}",
                    system=view.name,
                    person_id=link.person_id,
                    message=message + ".",
                    severity=Severity.CRITICAL if certain and surely_by_human else None,
                    evidence=EscalationEvidence(
                        account_login=account.login,
                        principal_arn=arn,
                        principal_type=principal.kind,
                        method_id=path.method.id,
                        method_name=path.method.name,
                        enabling_actions=list(path.enabling_actions),
                        statements=[str(ref) for ref in path.statements],
                        chain=list(path.chain),
                        path=path.describe(),
                        target=path.target,
                        certainty=path.certainty.value,
                        gains_admin=path.admin,
                        gained_actions=path.gained,
                        notes=list(path.notes),
                        reachable_by_human=by_human,
                        human_route=[] if route is None else list(route.chain),
                        human_route_certainty=None if route is None else route.certainty.value,
                    ),
                )


@dataclass(frozen=True)
class _Route:
    certainty: Certainty
    chain: tuple[str, ...]
    """The person's user, then the roles it assumes."""


def _human_routes(analysis: AwsAccount, human_users: list[str]) -> dict[str, _Route]:
    """For each principal a person's user is or can become, the surest route there (then
    the shortest, then the first user by ARN)."""
    routes = {arn: _Route(Certainty.CERTAIN, (arn,)) for arn in human_users}
    for arn in human_users:
        for role, reach in analysis.reachable_roles(arn).items():
            route = _Route(reach.certainty, (arn, *reach.chain))
            known = routes.get(role)
            if known is None or _order(route) < _order(known):
                routes[role] = route
    return routes


def _order(route: _Route) -> tuple[int, int, tuple[str, ...]]:
    return (-route.certainty.rank, len(route.chain), route.chain)
