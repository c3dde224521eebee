"""Role trust policies: who may assume a role (principals, the account, AWS services), with
the conditions the snapshot decides (the caller's account, organization, ARN, tags)
settled."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from iam_gov.aws_policy.conditions import Known, Verdict, evaluate, mentions_principal
from iam_gov.aws_policy.document import StatementRef, statement_list
from iam_gov.aws_policy.evaluate import NEEDS_MFA, Certainty

EXTERNAL_ID = "sts:externalid"
NEEDS_EXTERNAL_ID = "needs the external id"
"""The qualifier of a role assumption that holds only with the ``sts:ExternalId`` the trust
policy asks for: a secret the snapshot does not hold."""


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
    condition: Mapping[str, Any] | None = None
    """Its ``Condition`` block, to judge against what the snapshot knows of the caller."""


@dataclass(eq=False)
class Trust:
    """Who a role's trust policy admits."""

    role: str
    statements: tuple[TrustStatement, ...]
    _admitted: dict[tuple[str, str, bool], tuple[Certainty, StatementRef] | None] = field(
        init=False, default_factory=dict, repr=False
    )
    _named: frozenset[str] = field(init=False, repr=False)
    _hedges: dict[tuple[StatementRef, bool], tuple[tuple[str, ...], tuple[str, ...]]] = field(
        init=False, default_factory=dict, repr=False
    )
    _personal: bool = field(init=False, repr=False)
    """A condition tests who the caller is (its ARN, account, tags): no shared answer."""

    def __post_init__(self) -> None:
        self._named = frozenset(a for st in self.statements for a in st.aws)
        self._personal = any(
            st.condition is not None and mentions_principal(st.condition) for st in self.statements
        )

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
                    condition=condition if isinstance(condition, Mapping) and condition else None,
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

    def admits(
        self, principal: str, known: Known | None = None
    ) -> tuple[Certainty, StatementRef] | None:
        """Does the trust policy let this IAM user or role (an ARN) call sts:AssumeRole?

        Naming the account (its root or id) admits every principal of the account whose own
        policies allow sts:AssumeRole on the role; the caller checks that allowance.
        ``known``: what the snapshot knows of the caller, to decide conditions (without it,
        any condition leaves the answer conditional)."""
        return self._cached("admits", principal, lambda st: self._covers(st, principal), known)

    def admits_directly(
        self, principal: str, known: Known | None = None
    ) -> tuple[Certainty, StatementRef] | None:
        """Does the trust policy grant this user or role (of the same account) sts:AssumeRole
        by itself: naming its ARN, or everyone (``*``, ``NotPrincipal``)? Then its own
        policies need not allow the call (its boundary must, and no Deny may block it).
        Naming the account grants nothing by itself: it delegates to those policies."""
        named = principal.lower()

        def grants(statement: TrustStatement) -> bool:
            if statement.negated:
                return self._covers(statement, principal)
            return statement.anyone or named in statement.aws

        return self._cached(
            "directly", principal, grants, known, lambda st: self._covers(st, principal)
        )

    def hedges(
        self, ref: StatementRef, known: Known | None
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """What admitting through the statement ``ref`` still hangs on: notes naming the
        conditions the snapshot cannot decide, and qualifiers (``needs the external id``,
        ``needs MFA``). The same for every caller when no condition tests who it is."""
        if self._personal:
            return self._hedges_of(ref, known)
        key = (ref, known is None)
        found = self._hedges.get(key)
        if found is None:
            found = self._hedges[key] = self._hedges_of(ref, known)
        return found

    def _hedges_of(
        self, ref: StatementRef, known: Known | None
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        statement = next((st for st in self.statements if st.ref == ref), None)
        if statement is None or statement.condition is None:
            return (), ()
        verdict = self._verdict(statement, known)
        if verdict is None or not verdict.unknown:
            return (), ()
        tests = " and ".join(str(test) for test in verdict.unknown)
        notes = (f"the trust policy admits it only if {tests} ({ref})",)
        qualifiers: list[str] = []
        if any(test.key.lower() == EXTERNAL_ID for test in verdict.unknown):
            qualifiers.append(NEEDS_EXTERNAL_ID)
        if verdict.mfa is True and verdict.without_mfa is False:
            qualifiers.append(NEEDS_MFA)
        return notes, tuple(qualifiers)

    def _cached(
        self,
        how: str,
        principal: str,
        covers: Any,
        known: Known | None,
        denied: Any | None = None,
    ) -> tuple[Certainty, StatementRef] | None:
        # Principals the policy does not name are all treated alike: one answer for them
        # (per account, when a condition may test the caller's account or organization).
        named = principal.lower() in self._named or (known is not None and self._personal)
        who = principal.lower() if named else account_root(principal)
        key = (how, who, known is not None)
        if key not in self._admitted:
            self._admitted[key] = self._admits(covers, denied, known)
        return self._admitted[key]

    @staticmethod
    def _verdict(statement: TrustStatement, known: Known | None) -> Verdict | None:
        if statement.condition is None:
            return None
        if known is None:
            return Verdict(None)
        return evaluate(statement.condition, known)

    def admits_service(self, service: str) -> tuple[Certainty, StatementRef] | None:
        """Does the trust policy let an AWS service (``lambda.amazonaws.com``) assume it?"""
        service = service.lower()
        return self._admits(lambda st: service in st.services or st.anyone)

    def _admits(
        self, covers: Any, denied: Any | None = None, known: Known | None = None
    ) -> tuple[Certainty, StatementRef] | None:
        """The surest Allow statement that ``covers`` the caller, unless a Deny that covers
        it (``denied``, or else ``covers``) blocks it. Conditions ``known`` decides are
        settled: false, the statement does not apply; true, as if it had none."""
        best: tuple[Certainty, StatementRef] | None = None
        for statement in self.statements:
            if not statement.allow or not statement.assume or not covers(statement):
                continue
            verdict = self._verdict(statement, known)
            if verdict is not None and verdict.holds is False:
                continue
            level = (
                Certainty.CONDITIONAL
                if (verdict is not None and verdict.holds is None) or statement.negated
                else Certainty.CERTAIN
            )
            if best is None or level.rank > best[0].rank:
                best = (level, statement.ref)
        if best is None:
            return None
        for statement in self.statements:
            if statement.allow or not statement.assume or not (denied or covers)(statement):
                continue
            verdict = self._verdict(statement, known)
            if verdict is None or verdict.holds is True:
                return None
            if verdict.holds is False:
                continue
            # A conditional Deny is assumed not to apply, but nothing is certain past it.
            best = (Certainty.CONDITIONAL, best[1])
        return best
