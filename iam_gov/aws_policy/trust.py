"""Role trust policies: who may assume a role (principals, the account, AWS services)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from iam_gov.aws_policy.document import StatementRef, statement_list
from iam_gov.aws_policy.evaluate import Certainty


def _values(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _names_assume(patterns: tuple[str, ...]) -> bool:
    for pattern in patterns:
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        if re.fullmatch(regex, "sts:assumerole", re.IGNORECASE):
            return True
    return False


def account_root(arn: str) -> str:
    """``arn:aws:iam::123456789012:root`` for any ARN in that account."""
    parts = arn.split(":", 5)
    partition = parts[1] if len(parts) == 6 else "aws"
    account = parts[4] if len(parts) == 6 else ""
    return f"arn:{partition}:iam::{account}:root"


def _spelled(value: str, partition: str) -> str:
    """The principal as AWS spells it: a bare account id means that account's root (the
    account delegates to its own policies), as AWS rewrites it when it stores the policy."""
    if value.isdigit() and len(value) == 12:
        return f"arn:{partition}:iam::{value}:root"
    return value


@dataclass(frozen=True)
class TrustStatement:
    ref: StatementRef
    allow: bool
    assume: bool
    """Its actions include ``sts:AssumeRole``."""
    negated: bool
    """``NotPrincipal``: everyone but the listed."""
    anyone: bool
    aws: frozenset[str]
    """Lower-case principal ARNs (a bare account id made into its root ARN): for matching."""
    spelled: tuple[str, ...]
    """The same principals as the policy spells them: for people to read."""
    services: frozenset[str]
    federated: frozenset[str]
    conditional: bool


@dataclass(eq=False)
class Trust:
    """Who a role's trust policy admits."""

    role: str
    statements: tuple[TrustStatement, ...]
    _admitted: dict[tuple[str, str], tuple[Certainty, StatementRef] | None] = field(
        init=False, default_factory=dict, repr=False
    )
    _named: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._named = frozenset(a for st in self.statements for a in st.aws)

    @classmethod
    def parse(cls, role: str, document: Mapping[str, Any] | None) -> Trust:
        partition = role.split(":", 2)[1] if role.count(":") >= 2 else "aws"
        statements = []
        for index, raw in enumerate(statement_list(document or {})):
            if not isinstance(raw, Mapping) or raw.get("Effect") not in ("Allow", "Deny"):
                continue
            sid = raw.get("Sid")
            ref = StatementRef(f"{role}#trust", index, sid if isinstance(sid, str) else None)
            if "NotAction" in raw:
                assume = not _names_assume(_values(raw["NotAction"]))
            else:
                assume = _names_assume(_values(raw.get("Action")))
            negated = "NotPrincipal" in raw
            principal = raw.get("NotPrincipal" if negated else "Principal")
            anyone = principal == "*"
            aws: set[str] = set()
            spelled: list[str] = []
            services: set[str] = set()
            federated: set[str] = set()
            if isinstance(principal, Mapping):
                for value in _values(principal.get("AWS")):
                    if value == "*":
                        anyone = True
                    else:
                        spelled.append(_spelled(value, partition))
                        aws.add(spelled[-1].lower())
                services.update(v.lower() for v in _values(principal.get("Service")))
                federated.update(_values(principal.get("Federated")))
            condition = raw.get("Condition")
            statements.append(
                TrustStatement(
                    ref=ref,
                    allow=raw["Effect"] == "Allow",
                    assume=assume,
                    negated=negated,
                    anyone=anyone,
                    aws=frozenset(aws),
                    spelled=tuple(dict.fromkeys(spelled)),
                    services=frozenset(services),
                    federated=frozenset(federated),
                    conditional=bool(condition),
                )
            )
        return cls(role, tuple(statements))

    @property
    def services(self) -> frozenset[str]:
        return frozenset(s for st in self.statements if st.allow for s in st.services)

    @property
    def aws_principals(self) -> frozenset[str]:
        return frozenset(a for st in self.statements if st.allow for a in st.aws)

    @property
    def aws_principals_as_spelled(self) -> tuple[str, ...]:
        """The IAM principals the trust admits, as the policy spells them (sorted): what a
        reviewer looks for in the console; ``aws_principals`` is lower case, for matching."""
        return tuple(sorted({a for st in self.statements if st.allow for a in st.spelled}))

    @property
    def federated(self) -> frozenset[str]:
        return frozenset(f for st in self.statements if st.allow for f in st.federated)

    @property
    def anyone(self) -> bool:
        return any(st.allow and (st.anyone or st.negated) for st in self.statements)

    @property
    def service_only(self) -> bool:
        """Only AWS services may assume the role: no user, role, account or federation."""
        return bool(self.services) and not (self.aws_principals or self.federated or self.anyone)

    def _covers(self, statement: TrustStatement, principal: str) -> bool:
        if statement.anyone:
            return True
        listed = principal.lower() in statement.aws or account_root(principal) in statement.aws
        return not listed if statement.negated else listed

    def admits(self, principal: str) -> tuple[Certainty, StatementRef] | None:
        """Does the trust policy let this IAM user or role (an ARN) call sts:AssumeRole?

        Naming the account (its root or id) admits every principal of the account whose own
        policies allow sts:AssumeRole on the role; the caller checks that allowance."""
        return self._cached("admits", principal, lambda st: self._covers(st, principal))

    def admits_directly(self, principal: str) -> tuple[Certainty, StatementRef] | None:
        """Does the trust policy grant this user or role (of the same account) sts:AssumeRole
        by itself: naming its ARN, or everyone (``*``, ``NotPrincipal``)? Then its own
        policies need not allow the call (its boundary must, and no Deny may block it).
        Naming the account grants nothing by itself: it delegates to those policies."""
        named = principal.lower()

        def grants(statement: TrustStatement) -> bool:
            if statement.negated:
                return self._covers(statement, principal)
            return statement.anyone or named in statement.aws

        return self._cached("directly", principal, grants, lambda st: self._covers(st, principal))

    def _cached(
        self, how: str, principal: str, covers: Any, denied: Any | None = None
    ) -> tuple[Certainty, StatementRef] | None:
        # Principals the policy does not name are all treated alike: one answer for them.
        who = principal.lower() if principal.lower() in self._named else account_root(principal)
        key = (how, who)
        if key not in self._admitted:
            self._admitted[key] = self._admits(covers, denied)
        return self._admitted[key]

    def admits_service(self, service: str) -> tuple[Certainty, StatementRef] | None:
        """Does the trust policy let an AWS service (``lambda.amazonaws.com``) assume it?"""
        service = service.lower()
        return self._admits(lambda st: service in st.services or st.anyone)

    def _admits(
        self, covers: Any, denied: Any | None = None
    ) -> tuple[Certainty, StatementRef] | None:
        """The surest Allow statement that ``covers`` the caller, unless a Deny that covers
        it (``denied``, or else ``covers``) blocks it."""
        best: tuple[Certainty, StatementRef] | None = None
        for statement in self.statements:
            if not statement.allow or not statement.assume or not covers(statement):
                continue
            level = (
                Certainty.CONDITIONAL
                if statement.conditional or statement.negated
                else Certainty.CERTAIN
            )
            if best is None or level.rank > best[0].rank:
                best = (level, statement.ref)
        if best is None:
            return None
        for statement in self.statements:
            if statement.allow or not statement.assume or not (denied or covers)(statement):
                continue
            if not statement.conditional:
                return None
            # A conditional Deny is assumed not to apply, but nothing is certain past it.
            best = (Certainty.CONDITIONAL, best[1])
        return best
