"""What one principal's identity policies and permissions boundary allow: action sets for
the whole principal, and decisions for one action on one resource."""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from iam_gov.aws_policy.catalog import Catalog
from iam_gov.aws_policy.conditions import Known, Verdict, evaluate
from iam_gov.aws_policy.document import CompiledPolicy, Match, Statement, StatementRef

NEEDS_MFA = "needs MFA"
"""The qualifier of a result that holds only in a session signed in with MFA."""


class Certainty(enum.StrEnum):
    """How sure an analysis is that something is possible."""

    CERTAIN = "certain"
    """Allowed on the resources in question, with no condition and no Deny that could apply."""
    RESOURCE_CONSTRAINED = "resource-constrained"
    """Allowed only on some resources, and whether a usable one exists is not in the data
    (a function, an instance, a policy version we cannot see)."""
    CONDITIONAL = "conditional"
    """Allowed only when a condition holds (MFA, source IP, a tag), or a conditional Deny
    might block it."""

    @property
    def rank(self) -> int:
        return _RANK[self]

    @staticmethod
    def weakest(first: Certainty, *others: Certainty) -> Certainty:
        out = first
        for level in others:
            if _RANK[level] < _RANK[out]:
                out = level
        return out


_RANK = {Certainty.CONDITIONAL: 1, Certainty.RESOURCE_CONSTRAINED: 2, Certainty.CERTAIN: 3}


@dataclass(frozen=True)
class Decision:
    """An action is possible (on a resource, or on some resource), how surely, and which
    identity-policy statements allow it."""

    certainty: Certainty
    statements: tuple[StatementRef, ...]
    notes: tuple[str, ...] = ()
    qualifiers: tuple[str, ...] = ()
    """What else it depends on, in words a finding shows (``needs MFA``)."""


@dataclass(frozen=True)
class EffectivePermissions:
    """What a principal may do, as action sets over the catalogue."""

    principal: str
    catalog: Catalog
    allowed: int
    """Actions allowed on at least some resource, perhaps only under a condition."""
    unconditional: int
    """Actions allowed on every resource, without condition, and named by no Deny."""
    boundary: str | None = None
    unknown_policies: tuple[str, ...] = ()
    """Policies the principal holds whose documents the snapshot lacks: not counted."""

    def actions(self) -> list[str]:
        return self.catalog.actions(self.allowed)

    def unconditional_actions(self) -> list[str]:
        return self.catalog.actions(self.unconditional)

    def services(self) -> set[str]:
        """Service prefixes (lower case) with at least one allowed action."""
        return self.catalog.service_prefixes(self.allowed)

    def allows(self, action: str) -> bool:
        """``action`` (a name or a pattern) is allowed somewhere for at least one action."""
        return bool(self.allowed & self.catalog.mask(action))

    def __len__(self) -> int:
        return self.allowed.bit_count()


Facts = tuple[tuple[str, str], ...]
"""Request context we know for a decision, e.g. (("iam:passedtoservice", "lambda…"),)."""


@dataclass(eq=False)
class PolicySet:
    """The policies one principal is subject to: its identity policies (its own and its
    groups') and its permissions boundary. Principals with the same attachments share one
    set, and with it the decisions already made.

    How conditions are read. A condition the snapshot decides (``known``: the principal's
    ARN, account, tags, the time) is settled: false, its statement is ignored (an Allow
    grants nothing, a Deny blocks nothing); true, it is as if unconditional. For one the
    snapshot cannot decide (MFA, source IP, request tags) the two directions differ on
    purpose:
    * an Allow under it makes what it grants *conditional*, never certain;
    * a Deny under it is assumed *not* to apply when judging whether something is
      possible: assuming it applies would hide a path that exists whenever the condition is
      false. The result is marked conditional instead, with the Deny named in the notes.
    Either way the notes name the unknown tests, and a result that needs MFA says so.
    """

    catalog: Catalog
    identity: tuple[CompiledPolicy, ...]
    boundary: CompiledPolicy | None = None
    context: Mapping[str, str] = field(default_factory=dict)
    """Values of policy variables (``aws:username``) for resources that use them."""
    known: Known = field(default_factory=Known)
    """What the snapshot knows of the principal's requests, for conditions."""
    scps: tuple[tuple[CompiledPolicy, ...], ...] = ()
    """The service control policies fencing the principal's account, level by level from
    the organization's root down to the account: at every level one must allow an action
    and none deny it. Empty when none applies (a single account, the management account,
    a service-linked role)."""
    allowed: int = field(init=False)
    unconditional: int = field(init=False)
    identity_allowed: int = field(init=False)
    """What the identity policies alone allow, as if there were no boundary."""
    boundary_allowed: int = field(init=False)
    """What the boundary lets through (everything when there is none)."""
    unfenced: int = field(init=False)
    """What ``unconditional`` would be without the SCPs: the principal's own policies and
    boundary alone."""
    _decisions: dict[tuple[int, str | None, Facts], Decision | None] = field(
        init=False, default_factory=dict, repr=False
    )
    _scopes: dict[tuple[str, ...], tuple[str, ...] | None] = field(
        init=False, default_factory=dict, repr=False
    )
    _by_bit: dict[int, tuple[tuple[Statement, ...], tuple[Statement, ...]]] = field(
        init=False, default_factory=dict, repr=False
    )
    _uniform: set[int] = field(init=False, default_factory=set, repr=False)
    _scp_by_bit: dict[int, tuple[tuple[Statement, ...], ...]] = field(
        init=False, default_factory=dict, repr=False
    )
    _at_best: dict[tuple[str, ...], Certainty | None] = field(
        init=False, default_factory=dict, repr=False
    )
    """Actions allowed everywhere without conditions and named by no Deny."""

    def __post_init__(self) -> None:
        allow_any = allow_full = deny_any = deny_full = 0
        everything = self.catalog.everything
        # What the SCPs let through: an action must be allowed at every level, denied at none.
        scp_any = scp_full = everything
        for level in self.scps:
            level_any = level_full = 0
            for policy in level:
                a_any, a_full, d_any, d_full = self._masks(policy)
                level_any |= a_any
                level_full |= a_full
                deny_any |= d_any
                deny_full |= d_full
            scp_any &= level_any
            scp_full &= level_full
        scp_denied = deny_full
        own_deny_any = 0
        for policy in self.identity:
            a_any, a_full, d_any, d_full = self._masks(policy)
            allow_any |= a_any
            allow_full |= a_full
            deny_any |= d_any
            deny_full |= d_full
            own_deny_any |= d_any
        unfenced = allow_full
        allow_any &= scp_any
        allow_full &= scp_full
        self.identity_allowed = allow_any & ~deny_full
        bound_any = bound_full = everything
        if self.boundary is not None:
            b_any, b_full, bd_any, bd_full = self._masks(self.boundary)
            bound_any, bound_full = b_any & ~bd_full, b_full & ~bd_any
            deny_any |= bd_any
            deny_full |= bd_full
            own_deny_any |= bd_any
        self.boundary_allowed = bound_any & scp_any & ~scp_denied
        self.allowed = allow_any & bound_any & ~deny_full
        self.unconditional = allow_full & bound_full & ~deny_any
        self.unfenced = unfenced & bound_full & ~own_deny_any

    def _masks(self, policy: CompiledPolicy) -> tuple[int, int, int, int]:
        """The policy's allow-any, allow-full, deny-any and deny-full masks, with the
        conditions the snapshot decides settled."""
        if all(s.conditions is None for s in policy.statements):
            return policy.allow_any, policy.allow_full, policy.deny_any, policy.deny_full
        masks = [0, 0, 0, 0]
        for statement in policy.statements:
            holds = self.settled(statement)
            if holds is False:
                continue
            side = 0 if statement.allow else 2
            masks[side] |= statement.actions
            if holds is True and statement.resources.everything:
                masks[side + 1] |= statement.actions
        return masks[0], masks[1], masks[2], masks[3]

    def verdict(self, statement: Statement, facts: Facts = ()) -> Verdict | None:
        """How the statement's condition comes out for this principal, with the request
        ``facts``; None when it has none."""
        if statement.conditions is None:
            return None
        key = (statement, facts)
        # Principals with the same context share its cache: the verdict depends on nothing
        # else.
        shared = self.known.verdicts
        found = shared.get(key)
        if found is None:
            found = evaluate(statement.conditions.block, self.known.with_facts(dict(facts)))
            shared[key] = found
        return found

    def settled(self, statement: Statement) -> bool | None:
        """The statement applies (True: no condition, or one the snapshot makes true),
        never applies (False), or depends on the request (None)."""
        verdict = self.verdict(statement)
        return True if verdict is None else verdict.holds

    def scope(self, actions: tuple[str, ...]) -> tuple[str, ...] | None:
        """The resource patterns outside which none of ``actions`` is allowed; None when a
        statement allows one of them on an open-ended set (``*``, ``NotResource``)."""
        if actions in self._scopes:
            return self._scopes[actions]
        patterns: set[str] = set()
        result: tuple[str, ...] | None = None
        for action in actions:
            bit = self.catalog.index.get(action.lower())
            if bit is None or not self.allowed >> bit & 1:
                continue
            for statement in self._statements(bit)[0]:
                if not statement.allow:
                    continue
                named = statement.resources.named(self.context)
                if named is None:
                    self._scopes[actions] = None
                    return None
                patterns.update(named)
        result = tuple(sorted(patterns))
        self._scopes[actions] = result
        return result

    def at_best(self, actions: tuple[str, ...]) -> Certainty | None:
        """The surest any of ``actions`` can be allowed, on the best resource for it: certain
        if an Allow without condition names it, conditional if only conditional ones do."""
        if actions in self._at_best:
            return self._at_best[actions]
        found = self._at_best[actions] = self._at_best_of(actions)
        return found

    def _at_best_of(self, actions: tuple[str, ...]) -> Certainty | None:
        best: Certainty | None = None
        for action in actions:
            bit = self.catalog.index.get(action.lower())
            if bit is None or not self.allowed >> bit & 1:
                continue
            identity, boundary = self._statements(bit)
            fenced = self._scp_statements(bit)
            # A conditional Deny on every resource leaves it conditional wherever it is used,
            # as does a level of SCPs that allows it only under a condition.
            hedged = any(
                not s.allow and s.resources.everything and self.settled(s) is None
                for s in (*identity, *boundary, *(s for fence in fenced for s in fence))
            ) or any(
                not any(s.allow and self.settled(s) is True for s in fence) for fence in fenced
            )
            if not hedged and any(s.allow and self.settled(s) is True for s in identity):
                return Certainty.CERTAIN
            best = Certainty.CONDITIONAL
        return best

    def decide(
        self, action: str, resource: str | None = None, facts: Facts = ()
    ) -> Decision | None:
        """May the principal perform ``action`` on ``resource`` (an ARN), or — when None —
        on some resource of its choosing (e.g. a function it is about to create)? None when
        not allowed, or when an unconditional Deny blocks it."""
        if not self.catalog.knows(action):
            return None
        bit = self.catalog.bit(action)
        if not self.allowed >> bit & 1:
            return None
        key = (bit, resource, facts)
        if key in self._decisions:
            return self._decisions[key]
        decision = self._decide(bit, resource, dict(facts))
        self._decisions[key] = decision
        return decision

    def decide_granted(self, action: str, resource: str, why: str) -> Decision | None:
        """May the principal perform ``action`` on ``resource`` when a policy of the resource
        in the same account already grants it by the principal's ARN (``why``: a role's
        trust policy naming it)? No identity-policy Allow is needed, but the permissions
        boundary must allow it and no Deny may block it. None when not."""
        if not self.catalog.knows(action):
            return None
        bit = self.catalog.bit(action)
        if not self.boundary_allowed >> bit & 1:
            return None
        identity, boundary = self._statements(bit)
        return self._decide_slow(bit, resource, {}, identity, boundary, granted_by=why)

    def _statements(self, bit: int) -> tuple[tuple[Statement, ...], tuple[Statement, ...]]:
        """The identity and boundary statements naming the action."""
        found = self._by_bit.get(bit)
        if found is None:
            # Statements whose condition the snapshot makes false never apply: left out.
            identity = tuple(
                s
                for policy in self.identity
                for s in policy.statements_for(bit)
                if self.settled(s) is not False
            )
            boundary = () if self.boundary is None else self.boundary.statements_for(bit)
            boundary = tuple(s for s in boundary if self.settled(s) is not False)
            found = (identity, boundary)
            self._by_bit[bit] = found
            fenced = self._scp_statements(bit)
            if all(
                s.allow and s.resources.everything and self.settled(s) is True
                for s in (*identity, *boundary, *(s for level in fenced for s in level))
            ):
                self._uniform.add(bit)
        return found

    def _scp_statements(self, bit: int) -> tuple[tuple[Statement, ...], ...]:
        """The SCP statements naming the action, level by level."""
        found = self._scp_by_bit.get(bit)
        if found is None:
            # The same for every policy set with these SCPs and this context: shared with
            # them, as verdicts are.
            key = ("scp-statements", self._scp_key, bit)
            shared: dict[Any, Any] = self.known.verdicts
            found = shared.get(key)
            if found is None:
                found = tuple(
                    tuple(
                        s
                        for policy in level
                        for s in policy.statements_for(bit)
                        if self.settled(s) is not False
                    )
                    for level in self.scps
                )
                shared[key] = found
            self._scp_by_bit[bit] = found
        return found

    @functools.cached_property
    def _scp_key(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(policy.document_id for policy in level) for level in self.scps)

    def _decide(self, bit: int, resource: str | None, facts: dict[str, str]) -> Decision | None:
        identity, boundary = self._statements(bit)
        if resource is not None and bit in self._uniform:
            # Allowed everywhere without conditions, no Deny: the resource makes no
            # difference, so one decision serves every resource.
            key = (bit, None, ())
            if key not in self._decisions:
                self._decisions[key] = self._decide_slow(bit, None, {}, identity, boundary)
            return self._decisions[key]
        return self._decide_slow(bit, resource, facts, identity, boundary)

    def _decide_slow(
        self,
        bit: int,
        resource: str | None,
        facts: dict[str, str],
        identity: tuple[Statement, ...],
        statements_b: tuple[Statement, ...],
        granted_by: str | None = None,
    ) -> Decision | None:
        """``granted_by``: why the identity policies need not allow it (a resource's own
        policy does)."""
        notes: list[str] = []
        qualifiers: list[str] = []
        request: Facts = tuple(sorted(facts.items())) if facts else ()
        level = Certainty.CERTAIN
        statements: tuple[StatementRef, ...] = ()
        if granted_by is not None:
            notes.append(granted_by)
        else:
            allowed = self._best_allow([s for s in identity if s.allow], resource, request)
            if allowed is None:
                return None
            level, statements, hedges, needs_mfa = allowed
            notes.extend(hedges)
            if needs_mfa:
                qualifiers.append(NEEDS_MFA)
        denies = [s for s in identity if not s.allow]
        if self.boundary is not None:
            bounded = self._best_allow([s for s in statements_b if s.allow], resource, request)
            if bounded is None:
                return None
            if bounded[0].rank < level.rank:
                notes.append(f"the permissions boundary makes it {bounded[0].value}")
                notes.extend(bounded[2])
            if bounded[3] and NEEDS_MFA not in qualifiers:
                qualifiers.append(NEEDS_MFA)
            level = Certainty.weakest(level, bounded[0])
            denies.extend(s for s in statements_b if not s.allow)
        for fence in self._scp_statements(bit):
            fenced = self._best_allow([s for s in fence if s.allow], resource, request)
            if fenced is None:
                return None  # no SCP at this level allows it
            if fenced[0].rank < level.rank:
                notes.append(f"a service control policy makes it {fenced[0].value}")
                notes.extend(fenced[2])
            if fenced[3] and NEEDS_MFA not in qualifiers:
                qualifiers.append(NEEDS_MFA)
            level = Certainty.weakest(level, fenced[0])
            denies.extend(s for s in fence if not s.allow)
        allows = [s for s in identity if s.allow and s.ref in statements]
        for deny in denies:
            effect = self._deny_effect(deny, resource, request, allows)
            if effect is None:
                continue
            if not isinstance(effect, Certainty):
                return None  # blocked
            level = Certainty.weakest(level, effect)
            notes.append(f"a Deny might apply ({deny.ref}); assumed not to")
            verdict = self.verdict(deny, request)
            if verdict is not None and verdict.unknown:
                notes.append(f"the Deny ({deny.ref}) applies if {_tests(verdict)}")
                if verdict.mfa is False and verdict.without_mfa is True:
                    qualifiers.append(NEEDS_MFA)
        if not notes and not qualifiers:
            return Decision(level, statements)
        return Decision(
            level, statements, tuple(dict.fromkeys(notes)), tuple(dict.fromkeys(qualifiers))
        )

    def _best_allow(
        self, allows: Sequence[Statement], resource: str | None, facts: Facts
    ) -> tuple[Certainty, tuple[StatementRef, ...], tuple[str, ...], bool] | None:
        """The surest level any Allow gives, the statements giving it, the unknown
        conditions they hang on (as notes), and whether each of them needs MFA."""
        best: Certainty | None = None
        chosen: list[Statement] = []
        for statement in allows:
            level = self._allow_level(statement, resource, facts)
            if level is None:
                continue
            if best is None or level.rank > best.rank:
                best, chosen = level, [statement]
            elif level is best:
                chosen.append(statement)
        if best is None:
            return None
        refs = tuple(sorted(s.ref for s in chosen))
        if best is not Certainty.CONDITIONAL:
            return best, refs, (), False  # no unknown condition among them
        chosen.sort(key=lambda s: s.ref)
        hedges: list[str] = []
        needs_mfa = True
        for statement in chosen:
            verdict = self.verdict(statement, facts)
            if verdict is None or not verdict.unknown:
                needs_mfa = False
                continue
            hedges.append(f"allowed only if {_tests(verdict)} ({statement.ref})")
            needs_mfa = needs_mfa and verdict.mfa is True and verdict.without_mfa is False
        return best, refs, tuple(hedges), needs_mfa and bool(hedges)

    def _allow_level(
        self, statement: Statement, resource: str | None, facts: Facts
    ) -> Certainty | None:
        level = Certainty.CERTAIN
        verdict = self.verdict(statement, facts)
        if verdict is not None:
            if verdict.holds is False:
                return None
            if verdict.holds is None:
                level = Certainty.CONDITIONAL
        if resource is None:
            if not statement.resources.everything:
                level = Certainty.weakest(level, Certainty.RESOURCE_CONSTRAINED)
            return level
        match = statement.resources.match(resource, self.context)
        if match is Match.NO:
            return None
        if match is Match.MAYBE:
            level = Certainty.CONDITIONAL
        return level

    def _deny_effect(
        self,
        deny: Statement,
        resource: str | None,
        facts: Facts,
        allows: Sequence[Statement],
    ) -> Certainty | Literal["blocks"] | None:
        """Whether a Deny blocks the action ("blocks"), lowers the result to a certainty, or
        does not apply (None)."""
        conditional = False
        verdict = self.verdict(deny, facts)
        if verdict is not None:
            if verdict.holds is False:
                return None
            conditional = verdict.holds is None
        if resource is not None:
            match = deny.resources.match(resource, self.context)
            if match is Match.NO:
                return None
            if match is Match.YES and not conditional:
                return "blocks"
            return Certainty.CONDITIONAL
        # Any resource of the principal's choosing: a Deny on some resources leaves others,
        # unless it covers every resource the allowing statements name.
        covers = deny.resources.everything or all(
            a.resources.covered_by(deny.resources) for a in allows
        )
        if covers:
            return Certainty.CONDITIONAL if conditional else "blocks"
        if deny.resources.negated:
            return Certainty.RESOURCE_CONSTRAINED
        return None

    def effective(
        self, principal: str, boundary: str | None, unknown: tuple[str, ...]
    ) -> EffectivePermissions:
        return EffectivePermissions(
            principal=principal,
            catalog=self.catalog,
            allowed=self.allowed,
            unconditional=self.unconditional,
            boundary=boundary,
            unknown_policies=unknown,
        )


def _tests(verdict: Verdict) -> str:
    """``Bool aws:MultiFactorAuthPresent true and StringEquals aws:SourceVpc vpc-1``"""
    return " and ".join(str(test) for test in verdict.unknown)
