"""Privilege-escalation paths and admin-equivalence, from the method catalogue and the
account's effective permissions, following the roles a principal can assume."""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from iam_gov.aws_policy.account import AccountModel, Principal, Reach, is_customer_managed
from iam_gov.aws_policy.document import StatementRef
from iam_gov.aws_policy.evaluate import Certainty, Decision, Facts, PolicySet
from iam_gov.aws_policy.methods import METHODS, METHODS_BY_ID, Method, Target
from iam_gov.aws_policy.organization import account_of

_MAX_TRIED = 10
"""Candidates with something to gain tried per method before settling for the best so far:
bounds the work on accounts with thousands of users while the order (most powerful first)
puts the decisive ones early."""
_BOUNDARY_METHOD = "iam-permissions-boundary"
PASSWORD_UNKNOWN = "depends on the target's console password, unknown"
"""The qualifier of a login-profile path when the snapshot does not say whether the target
user has a console password (no credential report, or the user is not in it)."""
_NEEDS_PASSWORD = {"iam-create-login-profile": False, "iam-update-login-profile": True}
"""Login-profile methods by whether the target must already have a console password."""


def short_name(arn: str) -> str:
    """``user/alice`` for ``arn:aws:iam::1:user/staff/alice``: how chains are written."""
    resource = arn.split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    return f"{kind}/{rest.rsplit('/', 1)[-1]}" if rest else kind


@dataclass(frozen=True)
class Step:
    """One action a method needs, as the principal's policies allow it."""

    action: str
    resource: str | None
    """The ARN it was checked against; None for a resource of the principal's choosing."""
    certainty: Certainty
    statements: tuple[StatementRef, ...]
    notes: tuple[str, ...] = ()
    granted: bool = False
    """The target grants it by itself (a trust rewritten to name the principal): no policy of
    the principal enables it, so it is not one of the path's enabling actions."""
    qualifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class EscalationPath:
    """One way for a principal to gain permissions it does not have."""

    principal: str
    method: Method
    chain: tuple[str, ...]
    """ARNs: the principal, then each role it assumes before using the method."""
    target: str | None
    """What the method is used on: the role passed or assumed, the user taken over, the
    group or policy rewritten."""
    steps: tuple[Step, ...]
    certainty: Certainty
    gained: int
    """How many actions the principal gains."""
    admin: bool
    """It gains all of IAM: afterwards it can do anything."""
    notes: tuple[str, ...] = ()
    gain: int = field(default=0, repr=False, compare=False)
    """The actions the target holds (a bitmask over the account's catalogue)."""
    qualifiers: tuple[str, ...] = ()
    """What else the path hangs on, in words for a finding: ``needs MFA``, or that the
    target's console password is unknown. Never on a certain path."""
    escalates: int = field(default=0, repr=False, compare=False)
    """The part of ``gain`` that makes the path an escalation (for becoming another
    identity, its privileged actions)."""

    @property
    def service_linked(self) -> bool:
        """Its target is a service-linked role: only AWS uses it, whatever it holds."""
        return self.target is not None and is_service_linked(self.target)

    @property
    def enabling_actions(self) -> tuple[str, ...]:
        """The actions the principal's own policies allow, which the path needs."""
        return tuple(step.action for step in self.steps if not step.granted)

    @property
    def statements(self) -> tuple[StatementRef, ...]:
        return tuple(sorted({ref for step in self.steps for ref in step.statements}))

    def describe(self) -> str:
        """``user/alice → role/deployer → iam:PassRole + lambda:CreateFunction (role/admin)``"""
        hops = [short_name(arn) for arn in self.chain]
        action = " + ".join(self.enabling_actions)
        if self.target is not None:
            action += f" on {short_name(self.target)}"
        return " → ".join([*hops, action])


@dataclass(frozen=True)
class AdminEquivalence:
    """Why a principal can do anything, or give itself anything, unconditionally."""

    principal: str
    reason: str
    chain: tuple[str, ...]
    """The principal, then the roles it assumes to get there."""
    statements: tuple[StatementRef, ...] = ()
    method: str | None = None
    """The escalation method id, when it is one."""


@dataclass(frozen=True)
class _Candidate:
    target: str
    gain: int
    """Every action doing it yields (absolute, not yet compared with what the principal
    has): what a finding counts."""
    admin: bool
    """Doing it makes the principal admin-equivalent."""
    certainty: Certainty = Certainty.CERTAIN
    """How surely the target can be used (a trust that admits the service, the roles
    assumed to reach the identity gaining)."""
    then: tuple[str, ...] = ()
    """Roles assumed afterwards, to use what was gained."""
    notes: tuple[str, ...] = ()
    qualifiers: tuple[str, ...] = ()
    key: int | None = None
    """The part of ``gain`` that makes it an escalation (becoming another identity: its
    privileged actions); None when all of it does."""

    @property
    def escalates(self) -> int:
        return self.gain if self.key is None else self.key


def _memo(account: AccountModel, name: str) -> dict[Any, Any]:
    return account.memo.setdefault(name, {})


def iam_mask(account: AccountModel) -> int:
    return account.catalog.iam


def privileged_mask(account: AccountModel) -> int:
    """Actions that count when judging whether becoming another identity is an escalation:
    those that change who may do what (AWS's Permissions management level: iam:PassRole,
    iam:Attach*, s3:PutBucketPolicy, kms:CreateGrant …). Becoming a role that can merely
    read more buckets is what roles are for; becoming one that can change permissions, or
    that is admin-equivalent, is an escalation."""
    return account.catalog.permissions_management


def is_service_linked(arn: str) -> bool:
    """A service-linked role (path ``/aws-service-role/``): only its service uses it, and
    nobody may pass it, rewrite its trust or attach policies to it."""
    return ":role/aws-service-role/" in arn


def target_admin(account: AccountModel, arn: str) -> bool:
    """Becoming this identity makes one admin-equivalent: it is so by iam-gov's own rule
    (``admin_equivalence``, what aws-admin-equivalent reports), and it is no service-linked
    role (lowered as aws-admin-equivalent lowers roles only services use)."""
    memo = _memo(account, "target-admin")
    found = memo.get(arn)
    if found is None:
        principal = account.principals[arn]
        head = _head(account)
        if head is not account and head.principals.get(arn) is principal:
            found = target_admin(head, arn)  # unchanged in this what-if: the account's answer
        else:
            found = not is_service_linked(arn) and admin_equivalence(account, principal) is not None
        memo[arn] = found
    return bool(found)


_HEADS: dict[int, weakref.ref[AccountModel]] = {}


def _head(account: AccountModel) -> AccountModel:
    """The account a what-if copy (``AccountModel.with_principal``: one principal changed,
    the compiled documents shared) was made from: the first of them analysed. A what-if asks
    the admin-equivalence of every candidate target; those it did not change are the
    account's, worked out once rather than once per what-if."""
    memo = _memo(account, "head")
    if "" not in memo:
        key = id(account._compiled)
        ref = _HEADS.get(key)
        head = None if ref is None else ref()
        if head is None or head._compiled is not account._compiled:

            def forget(dead: weakref.ref[AccountModel], key: int = key) -> None:
                if _HEADS.get(key) is dead:
                    del _HEADS[key]

            _HEADS[key] = weakref.ref(account, forget)
            head = account
        memo[""] = None if head is account else head
    found: AccountModel | None = memo[""]
    return account if found is None else found


def _becomes(account: AccountModel, who: Principal) -> tuple[int, bool, int]:
    """What taking over an identity yields: every action it has, whether it is
    admin-equivalent (``target_admin``), and its privileged actions, which alone make
    becoming it an escalation. Worked out once per identity."""
    memo = _memo(account, "becomes")
    found: tuple[int, bool, int] | None = memo.get(who.arn)
    if found is None or account.principals.get(who.arn) is not who:
        allowed = account.policy_set(who).allowed
        found = (allowed, target_admin(account, who.arn), allowed & privileged_mask(account))
        if account.principals.get(who.arn) is who:
            memo[who.arn] = found
    return found


def _grants_itself(account: AccountModel, who: PolicySet) -> tuple[int, bool]:
    """What writing an identity's own permissions yields: anything its boundary lets
    through."""
    iam = iam_mask(account)
    return who.boundary_allowed, who.boundary_allowed & iam == iam


def _by_power(
    account: AccountModel, kind: str, home: str, within: frozenset[str] | None = None
) -> tuple[Principal, ...]:
    """Users or roles of the account ``home`` (IAM writes and iam:PassRole reach only the
    caller's own account), the most privileged first: admin-equivalent ones
    (``target_admin``), then those allowed the most (ties by ARN); only those ``within``
    when given. Each is ranked once per account: a what-if copy of the account takes the
    account's order, with its changed principal ranked again."""
    memo = _memo(account, "by-power")
    key = (kind, home, within)
    found: tuple[Principal, ...] | None = memo.get(key)
    if found is None:
        if within is None:
            found = tuple(r[3] for r in _ranked(account, kind, home))
        else:
            found = tuple(p for p in _by_power(account, kind, home) if p.arn in within)
        memo[key] = found
    return found


_Rank = tuple[bool, int, str, Principal]


def _rank(account: AccountModel, p: Principal) -> _Rank:
    """Its sort key (admin-equivalent first, then allowed the most, then by ARN), and it."""
    return (not target_admin(account, p.arn), -account.policy_set(p).allowed.bit_count(), p.arn, p)


def _ranked(account: AccountModel, kind: str, home: str) -> list[_Rank]:
    """The users or roles of ``home`` ranked (``_by_power``); a what-if copy re-ranks only
    the principals it changed."""
    memo = _memo(account, "ranked")
    found: list[_Rank] | None = memo.get((kind, home))
    if found is None:
        head = _head(account)
        if head is account:
            found = [_rank(account, p) for p in account.in_account(home) if p.kind == kind]
        else:
            mine = account.principals
            found = [r for r in _ranked(head, kind, home) if mine.get(r[2]) is r[3]]
            changed = [
                p
                for p in account.in_account(home)
                if p.kind == kind and head.principals.get(p.arn) is not p
            ]
            found.extend(_rank(account, p) for p in changed)
        found.sort(key=lambda r: r[:3])
        memo[(kind, home)] = found
    return found


def _union(account: AccountModel, name: str, principals: Iterable[Principal]) -> int | None:
    """The privileged actions any of them has; None when one is admin-equivalent (becoming
    it is a gain whatever the holder has)."""
    memo = _memo(account, "union")
    if name not in memo:
        found = 0
        for p in principals:
            if target_admin(account, p.arn):
                memo[name] = None
                break
            found |= account.policy_set(p).allowed
        else:
            memo[name] = found & privileged_mask(account)
    union: int | None = memo[name]
    return union


def _service_roles(
    account: AccountModel, service: str, home: str
) -> list[tuple[Principal, Certainty, str]]:
    """Roles of the account ``home`` the service may assume, most powerful first: (role, how
    surely, a note). iam:PassRole passes only roles of the caller's own account."""
    memo = _memo(account, "service-roles")
    found = memo.get((service, home))
    if found is None:
        found = []
        admits = _admits_service(account, service, home)
        for role in _by_power(account, "role", home):
            admitted = admits.get(role.arn)
            if admitted is not None:
                note = f"{short_name(role.arn)} trusts {service} ({admitted[1]})"
                found.append((role, admitted[0], note))
        memo[(service, home)] = found
    return list(found)


def _admits_service(
    account: AccountModel, service: str, home: str
) -> dict[str, tuple[Certainty, StatementRef]]:
    """The roles of ``home`` whose trust admits the service (trusts are the same in a
    what-if copy: the account's answer)."""
    head = _head(account)
    if head is not account and account._base is head and account._changed in head.principals:
        return _admits_service(head, service, home)
    memo = _memo(account, "admits-service")
    found: dict[str, tuple[Certainty, StatementRef]] | None = memo.get((service, home))
    if found is None:
        found = {}
        for role in account.in_account(home):
            if role.kind == "role":
                admitted = account.trust(role.arn).admits_service(service)
                if admitted is not None:
                    found[role.arn] = admitted
        memo[(service, home)] = found
    return found


def _controlled(
    account: AccountModel, holder: Principal
) -> Iterator[tuple[Principal, Certainty, tuple[str, ...]]]:
    """The holder itself, then each role it can assume: (identity, how surely, roles
    assumed to get there)."""
    yield holder, Certainty.CERTAIN, ()
    for role, reach in sorted(account.reachable_roles(holder).items()):
        yield account.principals[role], reach.certainty, reach.chain


def _candidates(account: AccountModel, method: Method, holder: Principal) -> Iterator[_Candidate]:
    """The method's targets for this holder, most promising first. Targets outside every
    resource pattern of the statements allowing its key action are left out at once."""
    key = next((r for r in method.requires if r.on_target), None)
    scope = None if key is None else account.policy_set(holder).scope(key.any_of)
    within = None if scope is None else account.matching(scope)

    def wanted(arn: str) -> bool:
        return within is None or arn in within

    sets = account.policy_set
    target = method.target
    home = account_of(holder.arn)
    if method.id == _BOUNDARY_METHOD:
        iam = iam_mask(account)
        for who, level, chain in _controlled(account, holder):
            if who.kind in ("user", "role") and who.boundary is not None and wanted(who.arn):
                free = sets(who).identity_allowed
                yield _Candidate(who.arn, free, free & iam == iam, level, chain)
    elif target is Target.SELF_USER:
        if wanted(holder.arn):
            yield _Candidate(holder.arn, *_grants_itself(account, sets(holder)))
    elif target is Target.OWN_GROUPS:
        for group in holder.groups:
            if wanted(group):
                yield _Candidate(group, *_grants_itself(account, sets(holder)))
    elif target is Target.CONTROLLED_ROLES:
        for who, level, chain in _controlled(account, holder):
            if who.kind == "role" and wanted(who.arn):
                yield _Candidate(who.arn, *_grants_itself(account, sets(who)), level, chain)
    elif target is Target.ATTACHED_POLICIES:
        for who, level, chain in _controlled(account, holder):
            for policy in who.policies:
                if is_customer_managed(policy) and wanted(policy):
                    yield _Candidate(policy, *_grants_itself(account, sets(who)), level, chain)
    elif target is Target.OTHER_USERS:
        for user in _by_power(account, "user", home, within):
            if user.arn == holder.arn:
                continue
            # Only a user without a password can be given one; only one with a password
            # can have it changed. Unknown (no credential report): neither certain nor
            # impossible.
            needs = _NEEDS_PASSWORD.get(method.id)
            if needs is not None and user.has_password is None:
                note = (
                    f"whether {short_name(user.arn)} has a console password is not in the "
                    "snapshot (no credential report row for it)"
                )
                gain, admin, privileged = _becomes(account, user)
                yield _Candidate(
                    user.arn,
                    gain,
                    admin,
                    Certainty.CONDITIONAL,
                    notes=(note,),
                    qualifiers=(PASSWORD_UNKNOWN,),
                    key=privileged,
                )
                continue
            if needs is not None and user.has_password is not needs:
                continue
            gain, admin, privileged = _becomes(account, user)
            yield _Candidate(user.arn, gain, admin, key=privileged)
    elif target is Target.GROUPS:
        limit = sets(holder).boundary_allowed
        for group in _groups(account, home):
            if group not in holder.groups and wanted(group):
                # A group is no principal: admin-equivalent when its policies allow all of
                # IAM without conditions, within the holder's boundary.
                group_set = account.group_set(group)
                iam = iam_mask(account)
                admin = group_set.unconditional & iam == iam and limit & iam == iam
                gain = group_set.allowed & limit
                yield _Candidate(group, gain, admin, key=gain & privileged_mask(account))
    elif target is Target.ANY_ROLE:
        for role in _by_power(account, "role", home, within):
            if role.arn != holder.arn:
                gain, admin, privileged = _becomes(account, role)
                yield _Candidate(role.arn, gain, admin, key=privileged)
    elif target in (Target.SERVICE_ROLES, Target.EXISTING_SERVICE_ROLES):
        assert method.service is not None
        for role, level, note in _service_roles(account, method.service, home):
            if role.arn != holder.arn and wanted(role.arn):
                gain, admin, privileged = _becomes(account, role)
                yield _Candidate(role.arn, gain, admin, level, (), (note,), key=privileged)


def _groups(account: AccountModel, home: str) -> tuple[str, ...]:
    """The groups of the account ``home``, sorted."""
    memo = _memo(account, "groups")
    found: tuple[str, ...] | None = memo.get(home)
    if found is None:
        found = memo[home] = tuple(
            sorted(g for g in account.group_policies if account_of(g) == home)
        )
    return found


def _pool(account: AccountModel, method: Method, home: str) -> int | None:
    """What any candidate of a large pool (of the holder's account ``home``) could yield at
    most: when even that adds nothing, the pool is not walked. None: not a pool, or one
    holding an admin-equivalent target."""
    if method.target is Target.OTHER_USERS:
        return _union(account, f"users:{home}", _by_power(account, "user", home))
    if method.target is Target.ANY_ROLE:
        return _union(account, f"roles:{home}", _by_power(account, "role", home))
    if method.target in (Target.SERVICE_ROLES, Target.EXISTING_SERVICE_ROLES):
        assert method.service is not None
        roles = [role for role, _, _ in _service_roles(account, method.service, home)]
        return _union(account, f"service:{method.service}:{home}", roles)
    return None


def _requirement_masks(account: AccountModel) -> dict[str, tuple[tuple[int, bool], ...]]:
    """Each method's requirements as action masks, and whether the target grants them."""
    memo = _memo(account, "requirements")
    if not memo:
        for method in METHODS:
            memo[method.id] = tuple(
                (account.catalog.mask_of(r.any_of), r.granted_by_target is not None)
                for r in method.requires
            )
    return memo


def _possible(policies: PolicySet, mask: int, granted: bool) -> bool:
    """Could the requirement be met at all: its own policies allow one of the actions, or —
    when the target grants it — the permissions boundary lets one through."""
    return bool((policies.boundary_allowed if granted else policies.allowed) & mask)


def _try(
    account: AccountModel, method: Method, holder: Principal, candidate: _Candidate, relative: int
) -> EscalationPath | None:
    policies = account.policy_set(holder)
    level = candidate.certainty
    steps: list[Step] = []
    notes = list(candidate.notes)
    qualifiers = list(candidate.qualifiers)
    for requirement in method.requires:
        actions = requirement.any_of
        if method.id == _BOUNDARY_METHOD:
            wanted = "User" if ":user/" in candidate.target else "Role"
            actions = tuple(a for a in actions if wanted in a)
        resource = candidate.target if requirement.on_target else None
        granted = requirement.granted_by_target
        chosen: tuple[str, Decision] | None = None
        for action in actions:
            facts: Facts = ()
            if action == "iam:PassRole" and method.service is not None:
                facts = (("iam:passedtoservice", method.service),)
            if granted is not None and resource is not None:
                decision = policies.decide_granted(action, resource, granted)
            else:
                decision = policies.decide(action, resource, facts)
            if decision is not None and (
                chosen is None or decision.certainty.rank > chosen[1].certainty.rank
            ):
                chosen = (action, decision)
        if chosen is None:
            return None
        action, decision = chosen
        steps.append(
            Step(
                action,
                resource,
                decision.certainty,
                decision.statements,
                decision.notes,
                granted=granted is not None,
                qualifiers=decision.qualifiers,
            )
        )
        notes.extend(decision.notes)
        qualifiers.extend(decision.qualifiers)
        level = Certainty.weakest(level, decision.certainty)
    if method.note is not None:
        level = Certainty.weakest(level, Certainty.RESOURCE_CONSTRAINED)
        notes.append(method.note)
    if candidate.then:
        notes.append("then assumes " + " → ".join(short_name(r) for r in candidate.then))
    gained = candidate.gain & ~relative
    # The qualifiers lead the notes: the notes are what a finding's evidence shows.
    notes = [*qualifiers, *notes]
    return EscalationPath(
        principal=holder.arn,
        method=method,
        chain=(holder.arn,),
        target=candidate.target,
        steps=tuple(steps),
        certainty=level,
        gained=gained.bit_count(),
        admin=candidate.admin,
        notes=tuple(dict.fromkeys(notes)),
        gain=candidate.gain,
        qualifiers=tuple(dict.fromkeys(qualifiers)),
        escalates=candidate.escalates,
    )


def _order(path: EscalationPath) -> tuple[int, bool, int, int, str]:
    """Smaller is better: surest, then gaining admin, shortest chain, most gained, and the
    alphabetically first target, so that the choice is the same on every run."""
    return (
        -path.certainty.rank,
        not path.admin,
        len(path.chain),
        -path.gained,
        path.target or "",
    )


def _ceiling(policies: PolicySet, method: Method) -> Certainty | None:
    """The surest the method can be for this holder, whatever the target: trying more
    targets once a path is that sure cannot find a better one."""
    ceiling = Certainty.CERTAIN if method.note is None else Certainty.RESOURCE_CONSTRAINED
    for requirement in method.requires:
        if requirement.granted_by_target is not None:
            continue  # granted by the target: the boundary and Denies are judged per target
        level = policies.at_best(requirement.any_of)
        if level is None:
            return None
        ceiling = Certainty.weakest(ceiling, level)
    return ceiling


def _direct(
    account: AccountModel, holder: Principal, only_own: bool = False
) -> tuple[EscalationPath, ...]:
    """The holder's own methods (the best target for each), compared with what it has.
    ``only_own``: only the methods that write its own permissions (``grants_anything``),
    which is all admin-equivalence asks and asks nothing of other principals: a target's
    admin-equivalence never depends on the targets of its own targets."""
    memo = _memo(account, "direct-own" if only_own else "direct")
    found = memo.get(holder.arn)
    if found is not None:
        return tuple(found)
    shared = _shared_direct(account, holder, only_own)
    if shared is not None:
        memo[holder.arn] = list(shared)
        return shared
    paths: list[EscalationPath] = []
    if holder.kind in ("user", "role"):
        own = {} if only_own else {p.method.id: p for p in _direct(account, holder, True)}
        for method, ceiling in _open_methods(account, holder, only_own):
            best = own.get(method.id) if method.grants_anything and not only_own else None
            if best is None and (only_own or not method.grants_anything):
                best = _best(account, holder, method, ceiling)
            if best is not None:
                paths.append(best)
    memo[holder.arn] = paths
    return tuple(paths)


def _shared_direct(
    account: AccountModel, holder: Principal, only_own: bool
) -> tuple[EscalationPath, ...] | None:
    """In a what-if copy (one principal changed), an unchanged holder's own paths are the
    account's, unless the changed principal was one of the targets its methods tried (then
    its rank, what it yields, and so the choice may differ): those are worked out again."""
    head = _head(account)
    base = account._base
    if head is account or base is not head:
        return None
    theirs = head.principals.get(holder.arn)
    if theirs is not holder or account.principals.get(holder.arn) is not holder:
        return None
    paths = _direct(head, theirs, only_own)
    if account._changed in _memo(head, "tried").get(holder.arn, ()):
        return None
    return paths


def _best(
    account: AccountModel, holder: Principal, method: Method, ceiling: Certainty
) -> EscalationPath | None:
    """The method's best path for the holder: its targets tried the most privileged first."""
    allowed = account.policy_set(holder).allowed
    home = account_of(holder.arn)
    best: EscalationPath | None = None
    tried = 0
    tried_here: set[str] = _memo(account, "tried").setdefault(holder.arn, set())
    for candidate in _candidates(account, method, holder):
        # Nothing privileged to gain, and no admin to become: no escalation. IAM writes and
        # PassRole reach only the holder's own account.
        if not (candidate.escalates & ~allowed or candidate.admin):
            continue
        if account_of(candidate.target) != home:
            continue
        path = _try(account, method, holder, candidate, allowed)
        if path is None:
            continue
        tried_here.add(candidate.target)
        tried += 1
        if best is None or _order(path) < _order(best):
            best = path
        # Candidates come most privileged first (admin-equivalent ones first): once a path
        # is as sure as this method can be, later ones could only tie.
        if best.certainty.rank >= ceiling.rank or tried >= _MAX_TRIED:
            break
    return best


def _open_methods(
    account: AccountModel, holder: Principal, only_own: bool = False
) -> tuple[tuple[Method, Certainty], ...]:
    """The methods the holder's policies could make work at all, each with its ceiling.
    That depends only on the policies and the kind of principal, which thousands of
    principals share: it is worked out once for each."""
    policies = account.policy_set(holder)
    memo = _memo(account, "open-methods")
    home = account_of(holder.arn)
    key = (policies, holder.kind, only_own, home)
    found: tuple[tuple[Method, Certainty], ...] | None = memo.get(key)
    if found is not None:
        return found
    masks = _requirement_masks(account)
    open_methods = []
    for method in METHODS:
        if method.target is Target.TRUSTING_ROLES or holder.kind not in method.principal_kinds:
            continue
        if only_own and not method.grants_anything:
            continue
        if not all(_possible(policies, *mask) for mask in masks[method.id]):
            continue
        pool = _pool(account, method, home)
        if pool is not None and not pool & ~policies.allowed:
            continue
        ceiling = _ceiling(policies, method)
        if ceiling is not None:
            open_methods.append((method, ceiling))
    found = memo[key] = tuple(open_methods)
    return found


def _assume_path(
    account: AccountModel, principal: Principal, role: str, reach: Reach, allowed: int
) -> EscalationPath:
    method = METHODS_BY_ID["sts-assume-role"]
    gain, admin, key = _role_yield(account, role)
    previous = reach.chain[-2] if len(reach.chain) > 1 else principal.arn
    edge = account.assumable(previous)[role]
    notes = [
        *edge.decision.qualifiers,
        *edge.decision.notes,
        f"the trust policy admits it ({edge.trust_statement})",
    ]
    step = Step(
        "sts:AssumeRole",
        role,
        edge.decision.certainty,
        edge.decision.statements,
        edge.decision.notes,
        qualifiers=edge.decision.qualifiers,
    )
    return EscalationPath(
        principal=principal.arn,
        method=method,
        chain=(principal.arn, *reach.chain[:-1]),
        target=role,
        steps=(step,),
        certainty=reach.certainty,
        gained=(gain & ~allowed).bit_count(),
        admin=admin,
        notes=tuple(notes),
        gain=gain,
        qualifiers=edge.decision.qualifiers,
        escalates=key,
    )


def _role_yield(account: AccountModel, role: str) -> tuple[int, bool, int]:
    """What assuming a role yields (``_becomes``): every action it has, whether it is
    admin-equivalent, its privileged actions."""
    memo = _memo(account, "role-yield")
    found: tuple[int, bool, int] | None = memo.get(role)
    if found is None:
        found = memo[role] = _becomes(account, account.principals[role])
    return found


def escalation_paths(account: AccountModel, principal: Principal) -> tuple[EscalationPath, ...]:
    """The best path for each method: its own, and those of every role it can end up as
    (reported as a chain through those roles)."""
    memo = _memo(account, "paths")
    found = memo.get(principal.arn)
    if found is not None:
        return tuple(found)
    if principal.kind == "root" or admin_equivalence(account, principal) is not None:
        memo[principal.arn] = ()
        return ()
    allowed = account.policy_set(principal).allowed
    best: dict[str, tuple[tuple[int, bool, int, int, str], Any]] = {}

    def consider(method_id: str, key: tuple[int, bool, int, int, str], make: Any) -> None:
        # Paths are built only for the winners: an account may offer thousands per method.
        current = best.get(method_id)
        if current is None or key < current[0]:
            best[method_id] = (key, make)

    for path in _direct(account, principal):
        consider(path.method.id, _order(path), path)
    for role, reach in sorted(account.reachable_roles(principal).items()):
        gain, admin, privileged = _role_yield(account, role)
        fresh = gain & ~allowed
        if privileged & ~allowed or admin:
            key = (-reach.certainty.rank, not admin, len(reach.chain), -fresh.bit_count(), role)
            consider("sts-assume-role", key, (role, reach))
        if _own_admin(account, account.principals[role]) is not None:
            continue  # the sts-assume-role path to it says all there is to say
        for path in _direct(account, account.principals[role]):
            fresh = path.gain & ~allowed
            if path.method.target is Target.TRUSTING_ROLES:
                continue
            if not (path.escalates & ~allowed or path.admin):
                continue
            certainty = Certainty.weakest(reach.certainty, path.certainty)
            key = (
                -certainty.rank,
                not path.admin,
                1 + len(reach.chain),
                -fresh.bit_count(),
                path.target or "",
            )
            consider(path.method.id, key, (path, reach, certainty))
    result = []
    for method in METHODS:
        if method.id not in best:
            continue
        made = best[method.id][1]
        if isinstance(made, EscalationPath):
            result.append(made)
        elif method.id == "sts-assume-role":
            role, reach = made
            result.append(_assume_path(account, principal, role, reach, allowed))
        else:
            path, reach, certainty = made
            result.append(
                dataclasses.replace(
                    path,
                    principal=principal.arn,
                    chain=(principal.arn, *reach.chain),
                    certainty=certainty,
                    gained=(path.gain & ~allowed).bit_count(),
                )
            )
    memo[principal.arn] = tuple(result)
    return tuple(result)


def _own_admin(account: AccountModel, principal: Principal) -> AdminEquivalence | None:
    memo = _memo(account, "own-admin")
    if principal.arn in memo:
        found: AdminEquivalence | None = memo[principal.arn]
        return found
    result = _compute_own_admin(account, principal)
    memo[principal.arn] = result
    return result


_SELF_GRANT = {
    "user": ("iam:AttachUserPolicy", "iam:PutUserPolicy"),
    "role": ("iam:AttachRolePolicy", "iam:PutRolePolicy"),
    "root": ("iam:AttachUserPolicy", "iam:PutUserPolicy", "iam:AttachRolePolicy"),
}
"""The calls by which an identity holding all of IAM grants itself anything."""


def _fenced_admin(account: AccountModel, principal: Principal) -> str | None:
    """An identity whose own policies allow all of IAM, inside an organization whose SCPs deny
    some of it (guardrails: leaving the organization, creating users …) but still let it
    write its own permissions: admin of its account within those guardrails. Said as the
    reason, naming how many IAM actions the SCPs fence; None when it is not."""
    policies = account.policy_set(principal)
    if not policies.scps:
        return None
    iam = iam_mask(account)
    if principal.kind != "root" and policies.unfenced & iam != iam:
        return None
    own = None if principal.kind == "root" else principal.arn
    decisions = (policies.decide(a, own) for a in _SELF_GRANT.get(principal.kind, ()))
    if not any(d is not None and d.certainty is Certainty.CERTAIN for d in decisions):
        return None
    fenced = bin(iam & ~policies.unconditional).count("1")
    return (
        f"its own policies allow every IAM action; the organization's service control policies "
        f"fence {fenced} of them, but not writing its own permissions"
    )


def _compute_own_admin(account: AccountModel, principal: Principal) -> AdminEquivalence | None:
    chain = (principal.arn,)
    iam = iam_mask(account)
    # A member account's root user is fenced by SCPs (its policy set holds them).
    if principal.kind == "root":
        if account.policy_set(principal).unconditional & iam == iam:
            return AdminEquivalence(
                principal.arn, "is the account's root user, which no IAM policy limits", chain
            )
        fenced = _fenced_admin(account, principal)
        if fenced is not None:
            return AdminEquivalence(principal.arn, f"is the account's root user; {fenced}", chain)
    policies = account.policy_set(principal)
    iam = iam_mask(account)
    if policies.unconditional & iam != iam:
        fenced = _fenced_admin(account, principal)
        if fenced is not None:
            statements = tuple(
                sorted(
                    s.ref
                    for policy in policies.identity
                    for s in policy.statements
                    if s.allow and s.resources.everything and s.actions & iam
                )
            )
            return AdminEquivalence(principal.arn, fenced, chain, statements)
    if policies.unconditional & iam == iam:
        statements = tuple(
            sorted(
                s.ref
                for policy in policies.identity
                for s in policy.statements
                if s.allow
                and s.resources.everything
                and policies.settled(s) is True
                and s.actions & iam
            )
        )
        everything = policies.unconditional == account.catalog.everything
        what = "every action (*)" if everything else "every IAM action (iam:*)"
        reason = f"allows {what} on every resource, without conditions"
        return AdminEquivalence(principal.arn, reason, chain, statements)
    for path in _direct(account, principal, only_own=True):
        if path.certainty is Certainty.CERTAIN and path.admin:
            target = f" on {short_name(path.target)}" if path.target else ""
            reason = f"can grant itself anything: {' + '.join(path.enabling_actions)}{target}"
            return AdminEquivalence(
                principal.arn, reason, chain, path.statements, method=path.method.id
            )
    return None


def admin_equivalence(account: AccountModel, principal: Principal) -> AdminEquivalence | None:
    """Admin-equivalent: ``*`` or ``iam:*`` on every resource without conditions and no Deny
    in the way; or a certain way to write its own permissions (within a boundary that lets
    all of IAM through); or a certain chain of role assumptions to a role that is."""
    _head(account)  # the account itself before any what-if made of it
    memo = _memo(account, "admin")
    if principal.arn in memo and account.principals.get(principal.arn) is principal:
        known: AdminEquivalence | None = memo[principal.arn]
        return known
    found = _admin_equivalence(account, principal)
    if account.principals.get(principal.arn) is principal:
        memo[principal.arn] = found
    return found


def _admin_equivalence(account: AccountModel, principal: Principal) -> AdminEquivalence | None:
    own = _own_admin(account, principal)
    if own is not None or principal.kind == "root":
        return own
    reachable = account.reachable_roles(principal)
    for role, reach in sorted(reachable.items(), key=lambda item: (len(item[1].chain), item[0])):
        if reach.certainty is not Certainty.CERTAIN:
            continue
        theirs = _own_admin(account, account.principals[role])
        if theirs is None:
            continue
        hops = " → ".join(short_name(r) for r in reach.chain)
        return AdminEquivalence(
            principal.arn,
            f"can assume {hops}, which {theirs.reason}",
            (principal.arn, *reach.chain),
            theirs.statements,
            theirs.method,
        )
    return None


assume_path = _assume_path
"""The sts-assume-role path to a role the principal reaches (for ``causes``)."""
direct_paths = _direct
"""The principal's own paths, one per method, compared with what it has (for ``causes``)."""
