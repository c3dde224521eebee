"""One AWS account's principals, groups, policies and trust relations, read from a snapshot
view, with the effective permissions and role-assumption graph computed on demand: what the
escalation analysis (``escalation``, then ``analysis``) builds on. A snapshot of an AWS
Organization holds every account's principals in one model: service control policies fence
each account, and roles trusting principals of another account are followed across."""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

from iam_gov.aws_policy.catalog import Catalog, default_catalog
from iam_gov.aws_policy.conditions import PRINCIPAL_TAG, Known, mentions_principal
from iam_gov.aws_policy.document import (
    CompiledPolicy,
    StatementRef,
    compile_policy,
    literal_actions,
    resource_regex,
)
from iam_gov.aws_policy.evaluate import Certainty, Decision, EffectivePermissions, PolicySet
from iam_gov.aws_policy.organization import SERVICE_LINKED, Organization, account_of, label
from iam_gov.aws_policy.trust import Trust, account_root
from iam_gov.engine.state import SystemView

IDENTITY_KINDS = frozenset({"managed-policy", "inline-policy"})
TRUST_KIND = "trust-policy"
SCP_KIND = "scp"
GROUP_KIND = "group-policies"
"""A group's own record of its policies, members or not (see the AWS connector)."""
_AWS_MANAGED = ":iam::aws:policy/"
_DIRECT = (
    "the role's trust policy admits it directly (by its ARN, or everyone): no identity policy "
    "needs to allow sts:AssumeRole"
)


@dataclass(frozen=True)
class Principal:
    """An IAM user, role or the root user, with what it is subject to."""

    arn: str
    name: str
    kind: str
    """``user``, ``role`` or ``root``."""
    policies: tuple[str, ...] = ()
    """Document ids of its identity policies: its own and its groups', managed and inline."""
    groups: tuple[str, ...] = ()
    attached: tuple[str, ...] | None = None
    """Document ids of the identity policies attached to it, or written inline on it, rather
    than reached through a group; None when whoever built it did not say (then: those of its
    policies none of its groups holds)."""
    boundary: str | None = None
    """ARN of its permissions boundary."""
    unique_id: str | None = None
    has_password: bool | None = None
    """A user with an active console password; None when the snapshot does not say."""
    created_at: datetime | None = None
    tags: tuple[tuple[str, str], ...] | None = None
    """Its tags (key, value); None when the snapshot does not say."""

    @property
    def short(self) -> str:
        """``user/alice``, ``role/deployer``, ``root``: how chains are written."""
        if self.kind == "root":
            return "root"
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class Reach:
    """A role a principal can end up as by assuming roles."""

    certainty: Certainty
    chain: tuple[str, ...]
    """Role ARNs assumed in order; the last is the role reached."""


@dataclass(frozen=True)
class Edge:
    """The principal may assume the role: the role's trust admits it, and its own policies
    allow the call (or the trust names it, which is enough)."""

    certainty: Certainty
    decision: Decision
    trust_statement: StatementRef


def _kind_of(arn: str, attributes: Mapping[str, str]) -> str | None:
    declared = attributes.get("principal_type")
    if declared in ("user", "role", "root"):
        return declared
    if declared is not None or not arn.startswith("arn:"):
        # An Identity Store user (``sso-user``) or anything else that is not an IAM principal.
        return None
    resource = arn.split(":", 5)[-1]
    if resource == "root":
        return "root"
    kind = resource.partition("/")[0]
    return kind if kind in ("user", "role") else None


LASTING_MEMOS = frozenset({"target-admin", "admin", "ranked", "by-power"})
"""The escalation module's memos ``forget_work`` keeps: a few words per principal (whether
it is admin-equivalent, and why; the accounts' principals ranked by power), asked again
from other accounts (a role another account's principals can reach) and costly to redo."""
_MASKS = ("allowed", "unconditional", "identity_allowed", "boundary_allowed", "unfenced")


@dataclass(eq=False)
class AccountModel:
    """The analysis of one AWS account, or of every account of an organization. Pure: it
    reads the snapshot's documents and makes no API call.

    Out of scope: resource-based policies (bucket, key and queue policies) and session
    policies. What it says is what the identity policies, permissions boundaries, service
    control policies and role trust policies allow. Across accounts, a role's trust naming
    a principal (or its account) is never enough alone: the principal's own policies must
    allow sts:AssumeRole on the role, and its account's SCPs let it through.
    """

    principals: Mapping[str, Principal]
    documents: Mapping[str, Mapping[str, Any]]
    """Identity policies (managed default versions and inline) by document id."""
    trust_documents: Mapping[str, Mapping[str, Any]]
    """Role ARN -> its trust policy."""
    group_policies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Group ARN -> its policies, as far as the snapshot shows them."""
    unknown_policies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Principal ARN -> policies it holds whose documents are missing."""
    catalog: Catalog = field(default_factory=default_catalog)
    as_of: datetime | None = None
    """When the snapshot was true: conditions on the time before it are decided."""
    organization_id: str | None = None
    organization: Organization | None = None
    """The organization the snapshot covers; None for a single account."""
    scp_documents: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Service control policies by id (their ARN)."""
    account_names: dict[str, str] = field(default_factory=dict)
    """Account id -> its name in the organization, as the snapshot has it."""
    _trust_known: dict[str, Known] = field(init=False, default_factory=dict, repr=False)
    _compiled: dict[str, CompiledPolicy] = field(init=False, default_factory=dict, repr=False)
    _sets: dict[tuple[Any, ...], PolicySet] = field(init=False, default_factory=dict, repr=False)
    _trusts: dict[str, Trust] = field(init=False, default_factory=dict, repr=False)
    _by_principal: dict[str, PolicySet] = field(init=False, default_factory=dict, repr=False)
    _matching: dict[tuple[str, ...], frozenset[str]] = field(
        init=False, default_factory=dict, repr=False
    )
    _arns: frozenset[str] | None = field(init=False, default=None, repr=False)
    _reach_of: dict[str, dict[str, Reach]] = field(init=False, default_factory=dict, repr=False)
    _edges: dict[str, dict[str, Edge]] = field(init=False, default_factory=dict, repr=False)
    _reach: dict[tuple[Any, ...], dict[str, Reach]] = field(
        init=False, default_factory=dict, repr=False
    )
    _trust_index: tuple[dict[str, list[str]], dict[str, list[str]], list[str]] | None = field(
        init=False, default=None, repr=False
    )
    _by_account: dict[str, tuple[Principal, ...]] | None = field(
        init=False, default=None, repr=False
    )
    _base: AccountModel | None = field(init=False, default=None, repr=False)
    """For a what-if copy (``with_principal``): the account it was made from, whose answers
    for every other principal it shares rather than copies."""
    _changed: str = field(init=False, default="", repr=False)
    _edges_shared: bool = field(init=False, default=False, repr=False)
    _account_arns: dict[str, frozenset[str]] | None = field(init=False, default=None, repr=False)
    memo: dict[str, dict[Any, Any]] = field(init=False, default_factory=dict, repr=False)
    """Per-analysis caches of the escalation module, kept with the account they describe."""
    _mentions: dict[str, bool] = field(init=False, default_factory=dict, repr=False)
    _shared_known: dict[str, Known] = field(init=False, default_factory=dict, repr=False)
    lasting: dict[str, Any] = field(init=False, default_factory=dict, repr=False)
    """What a rule works out for the whole organization once (routes from people's users),
    kept by ``forget_work``."""
    _masks: dict[int, int] = field(init=False, default_factory=dict, repr=False)
    """Every distinct action mask of the policy sets, once: a mask is a few kilobytes (one
    bit per action of the catalogue) and most principals share theirs."""

    # --- building ---------------------------------------------------------------------

    @classmethod
    def from_view(cls, view: SystemView) -> Self:
        """Read an AWS snapshot view: accounts with ``principal_type``, grants of managed and
        inline policies (through groups: ``via``), the kept policy documents, and each
        group's record of its own policies (which an empty group has too)."""
        documents = {
            doc_id: doc.document
            for doc_id, doc in view.documents.items()
            if doc.kind in IDENTITY_KINDS
        }
        trusts = {
            doc_id.removesuffix("#trust"): doc.document
            for doc_id, doc in view.documents.items()
            if doc.kind == TRUST_KIND
        }
        # A group's own policies, from its own record and its inline documents: an empty
        # group shows in no grant, yet a user who may join it gains what it holds.
        group_own: dict[str, set[str]] = {}
        for doc_id in documents:
            owner = doc_id.partition("#inline/")[0]
            if ":group/" in owner and owner != doc_id:
                group_own.setdefault(owner, set()).add(doc_id)
        for doc_id, doc in view.documents.items():
            if doc.kind == GROUP_KIND:
                record = doc.document
                listed = [
                    *_strings(record.get("AttachedManagedPolicies")),
                    *_strings(record.get("InlinePolicies")),
                ]
                own = group_own.setdefault(doc_id.rpartition("#")[0], set())
                own.update(p for p in listed if p in documents)
        groups = {group: set(own) for group, own in group_own.items()}
        for entitlement in view.entitlements.values():
            if entitlement.kind == "group":
                groups.setdefault(entitlement.entitlement_id, set())
        principals: dict[str, Principal] = {}
        unknown: dict[str, tuple[str, ...]] = {}
        for arn, account in view.accounts.items():
            kind = _kind_of(arn, account.attributes)
            if kind is None:
                continue
            policies: set[str] = set()
            attached: set[str] = set()
            member_of: set[str] = set()
            missing: set[str] = set()
            for grant in view.grants.get(arn, ()):
                target = grant.entitlement_id
                if grant.via is not None:
                    groups.setdefault(grant.via, set())
                    if target in documents:
                        groups[grant.via].add(target)
                if target in documents:
                    policies.add(target)
                    if grant.via is None:
                        attached.add(target)
                elif _is_group(view, target):
                    member_of.add(target)
                elif _is_policy(view, target):
                    missing.add(target)
            for group in member_of:
                # A group's policies apply even where the grants do not list them.
                policies.update(group_own.get(group, ()))
            if missing:
                unknown[arn] = tuple(sorted(missing))
            has_password: bool | None = None
            if kind == "user" and account.mfa_factors is not None:
                # The credential report covered this user (it reports MFA for all it lists).
                has_password = any(
                    c.kind.value == "password" and c.active for c in view.credentials.get(arn, ())
                )
            attributes = account.attributes
            principals[arn] = Principal(
                arn=arn,
                name=account.login,
                kind=kind,
                policies=tuple(sorted(policies)),
                groups=tuple(sorted(member_of)),
                attached=tuple(sorted(attached)),
                boundary=attributes.get("permissions_boundary"),
                unique_id=attributes.get("user_id") or attributes.get("role_id"),
                has_password=has_password,
                created_at=account.created_at,
                tags=_tags(attributes.get("tags")),
            )
        model = cls.build(
            principals.values(),
            documents,
            trusts,
            {g: tuple(sorted(p)) for g, p in groups.items()},
            unknown,
        )
        model.as_of = view.as_of
        organization = view.settings.get("organization_id")
        model.organization_id = organization if isinstance(organization, str) else None
        model.organization = Organization.from_settings(view.settings)
        if model.organization is not None:
            model.organization_id = model.organization.id
            model.account_names.update(
                (account_id, model.organization.name_of(account_id))
                for account_id in model.organization.accounts
            )
        for arn, account in view.accounts.items():
            name = account.attributes.get("aws_account_name")
            if name and arn in principals:
                model.account_names.setdefault(account_of(arn), name)
        model.scp_documents = {
            doc_id: doc.document for doc_id, doc in view.documents.items() if doc.kind == SCP_KIND
        }
        return model

    @classmethod
    def build(
        cls,
        principals: Iterable[Principal],
        documents: Mapping[str, Mapping[str, Any]],
        trusts: Mapping[str, Mapping[str, Any]],
        group_policies: Mapping[str, tuple[str, ...]] | None = None,
        unknown_policies: Mapping[str, tuple[str, ...]] | None = None,
    ) -> Self:
        """From parts, e.g. a benchmark's or a test's own principals and documents."""
        catalog = default_catalog()
        catalog = catalog.extended(a for doc in documents.values() for a in literal_actions(doc))
        return cls(
            principals={p.arn: p for p in sorted(principals, key=lambda p: p.arn)},
            documents=documents,
            trust_documents=trusts,
            group_policies=dict(group_policies or {}),
            unknown_policies=dict(unknown_policies or {}),
            catalog=catalog,
        )

    def with_principal(self, principal: Principal) -> Self:
        """The same account with one principal as given (e.g. without the grant that makes
        it admin): a separate analysis, sharing what depends only on the documents."""
        other = dataclasses.replace(self, principals=_Overlay(self.principals, principal))
        other._compiled = self._compiled
        other._sets = self._sets
        other._trusts = self._trusts
        other._matching = self._matching
        # What depends on each other principal alone (its policies, what the snapshot knows
        # of it, the roles it may assume directly): asked of the account it was made from.
        arn = principal.arn
        other._base = self
        other._changed = arn
        before = self.principals.get(arn)
        if before is not None and before.kind == principal.kind:
            other._edges_shared = True
            other._trust_index = self._trust_index
            other._arns = self._arns
            other._account_arns = self._account_arns
        return other

    def forget_work(self, *, everything: bool = False) -> None:
        """Let go of what was worked out for principals (policy sets and their decisions,
        the escalation module's memos but ``LASTING_MEMOS``), keeping what was read
        (compiled documents, trusts, indexes) and role reach; ``everything``: those too, and
        what rules kept (``lasting``). Asked again, it is worked out again."""
        caches: list[dict[Any, Any]] = [
            self._sets,
            self._by_principal,
            self._masks,
            self._trust_known,
            self._shared_known,
        ]
        if everything:
            caches += [self._edges, self._reach_of, self._reach, self.memo, self.lasting]
        for cache in caches:
            cache.clear()
        for name, memo in self.memo.items():
            if name not in LASTING_MEMOS:
                memo.clear()

    def account_ids(self) -> list[str]:
        """The AWS accounts the principals belong to, in order."""
        return sorted({account_of(arn) for arn in self.principals})

    # --- lookups ----------------------------------------------------------------------

    def principal(self, principal: str | Principal) -> Principal:
        return principal if isinstance(principal, Principal) else self.principals[principal]

    @property
    def users(self) -> list[Principal]:
        return [p for p in self.principals.values() if p.kind == "user"]

    @property
    def roles(self) -> list[Principal]:
        return [p for p in self.principals.values() if p.kind == "role"]

    def in_account(self, account_id: str) -> tuple[Principal, ...]:
        """The principals of one account (by ARN): most of the analysis stays within one
        account, so an organization of many accounts costs about as much as each alone."""
        if self._base is not None:
            base = self._base.in_account(account_id)
            if account_id != account_of(self._changed):
                return base
            if self._by_account is None:
                changed = self.principals[self._changed]
                mine = tuple(changed if p.arn == changed.arn else p for p in base)
                if changed not in mine:
                    mine = (*mine, changed)
                self._by_account = {account_id: mine}
            return self._by_account[account_id]
        if self._by_account is None:
            grouped: dict[str, list[Principal]] = {}
            for p in self.principals.values():
                grouped.setdefault(account_of(p.arn), []).append(p)
            self._by_account = {a: tuple(ps) for a, ps in grouped.items()}
        return self._by_account.get(account_id, ())

    def compiled(self, document_id: str) -> CompiledPolicy:
        policy = self._compiled.get(document_id)
        if policy is None:
            document = self.documents.get(document_id)
            if document is None:
                document = self.scp_documents[document_id]
            policy = compile_policy(document_id, document, self.catalog)
            self._compiled[document_id] = policy
        return policy

    # --- accounts and the organization ---------------------------------------------------

    def account_name(self, account_id: str) -> str:
        """The account's name in the organization; its id when unknown."""
        return self.account_names.get(account_id, account_id)

    def account_label(self, arn: str) -> str:
        """``prod (222222222222)`` for a principal (or an account id) of that account."""
        account_id = arn if arn.isdigit() else account_of(arn)
        return label(account_id, self.account_name(account_id))

    def scp_levels(self, p: Principal) -> tuple[tuple[str, ...], ...]:
        """The SCPs fencing the principal, level by level from the organization's root down
        to its account (only those the snapshot holds); empty when none applies: a single
        account, the management account, a service-linked role. A level whose SCPs are all
        missing from the snapshot is left out: unknown, not a denial of everything."""
        if self.organization is None or SERVICE_LINKED in p.arn:
            return ()
        levels = self.organization.scp_levels(account_of(p.arn))
        if levels is None:
            return ()
        kept = []
        for level in levels:
            present = tuple(d for d in level if d in self.scp_documents)
            if present or not level:
                kept.append(present)
        return tuple(kept)

    def trust(self, role: str) -> Trust:
        """The role's trust policy (empty when the snapshot lacks it: nobody is admitted)."""
        trust = self._trusts.get(role)
        if trust is None:
            trust = Trust.parse(role, self.trust_documents.get(role))
            self._trusts[role] = trust
        return trust

    def policy_set(self, principal: str | Principal) -> PolicySet:
        arn = principal.arn if isinstance(principal, Principal) else principal
        found = self._by_principal.get(arn)
        if found is None and self._base is not None and arn != self._changed:
            found = self._base.policy_set(arn)
        if found is None:
            found = self._policy_set(self.principal(principal))
            self._by_principal[arn] = found
        return found

    def _policy_set(self, p: Principal) -> PolicySet:
        levels = self.scp_levels(p)
        scps = tuple(d for level in levels for d in level)
        if p.kind == "root":
            # The root user is not subject to identity policies or boundaries; in a member
            # account of an organization, SCPs fence it like anyone else.
            if not levels:
                return self._set(("*root*",), lambda: self._root_set())
            known = self._known(p, scps)
            return self._set(("*root*", levels, known.key), lambda: self._root_set(levels, known))
        boundary = p.boundary if p.boundary in self.documents else None
        context: dict[str, str] = {}
        if any(self.compiled(d).has_variables for d in p.policies) or (
            boundary is not None and self.compiled(boundary).has_variables
        ):
            context = self._context(p)
        known = self._known(p, (*p.policies, *([boundary] if boundary else []), *scps))
        key = (p.policies, boundary, tuple(sorted(context.items())), known.key, levels)
        return self._set(
            key,
            lambda: PolicySet(
                self.catalog,
                tuple(self.compiled(d) for d in p.policies),
                self.compiled(boundary) if boundary is not None else None,
                context,
                known,
                self._fences(levels),
            ),
        )

    def _fences(
        self, levels: tuple[tuple[str, ...], ...]
    ) -> tuple[tuple[CompiledPolicy, ...], ...]:
        return tuple(tuple(self.compiled(d) for d in level) for level in levels)

    def trust_known(self, p: Principal) -> Known:
        """Everything the snapshot knows of the principal as a caller, for the conditions of
        a trust policy it would pass: its ARN, account, organization, name and tags."""
        found = self._trust_known.get(p.arn)
        if found is None and self._base is not None and p.arn != self._changed:
            found = self._base.trust_known(self._base.principal(p.arn))
        if found is None:
            values: dict[str, tuple[str, ...]] = {
                "aws:principalisawsservice": ("false",),
                "aws:principalarn": (p.arn,),
                "aws:principaltype": ("User" if p.kind == "user" else "AssumedRole",),
            }
            account = account_of(p.arn)
            if account:
                values["aws:principalaccount"] = (account,)
            if self.organization_id is not None:
                values["aws:principalorgid"] = (self.organization_id,)
            if p.kind == "user":
                values["aws:username"] = (p.name,)
                if p.unique_id:
                    values["aws:userid"] = (p.unique_id,)
            closed: tuple[str, ...] = ()
            if p.tags is not None:
                closed = (PRINCIPAL_TAG,)
                values.update({PRINCIPAL_TAG + k.lower(): (v,) for k, v in p.tags})
            found = Known(values, closed, self.as_of)
            self._trust_known[p.arn] = found
        return found

    def _known(self, p: Principal, documents: tuple[str, ...]) -> Known:
        """What the snapshot knows of the principal's requests, for conditions: its account,
        organization and the time for all; its ARN, name and tags only where a policy it is
        subject to tests them (principals with the same policies share one set otherwise)."""
        account = p.arn.split(":", 5)[4] if p.arn.count(":") >= 5 else ""
        specific = any(self._mentions_principal(d) for d in documents)
        if not specific and account in self._shared_known:
            return self._shared_known[account]
        values: dict[str, tuple[str, ...]] = {"aws:principalisawsservice": ("false",)}
        if account:
            values["aws:principalaccount"] = (account,)
        if self.organization_id is not None:
            values["aws:principalorgid"] = (self.organization_id,)
        closed: tuple[str, ...] = ()
        if specific:
            values["aws:principalarn"] = (p.arn,)
            values["aws:principaltype"] = ("User" if p.kind == "user" else "AssumedRole",)
            if p.kind == "user":
                values["aws:username"] = (p.name,)
                if p.unique_id:
                    values["aws:userid"] = (p.unique_id,)
            if p.tags is not None:
                closed = (PRINCIPAL_TAG,)
                values.update({PRINCIPAL_TAG + k.lower(): (v,) for k, v in p.tags})
        known = Known(values, closed, self.as_of)
        if not specific:
            self._shared_known[account] = known
        return known

    def _mentions_principal(self, document_id: str) -> bool:
        found = self._mentions.get(document_id)
        if found is None:
            found = any(
                s.conditions is not None and mentions_principal(s.conditions.block)
                for s in self.compiled(document_id).statements
            )
            self._mentions[document_id] = found
        return found

    def group_set(self, group: str) -> PolicySet:
        policies = tuple(d for d in self.group_policies.get(group, ()) if d in self.documents)
        return self._set(
            (policies, None, ()),
            lambda: PolicySet(self.catalog, tuple(self.compiled(d) for d in policies)),
        )

    def _set(self, key: tuple[Any, ...], make: Any) -> PolicySet:
        found = self._sets.get(key)
        if found is None:
            found = make()
            masks = self._base._masks if self._base is not None else self._masks
            for name in _MASKS:
                value = getattr(found, name)
                setattr(found, name, masks.setdefault(value, value))
            self._sets[key] = found
        return found

    def _root_set(
        self, levels: tuple[tuple[str, ...], ...] = (), known: Known | None = None
    ) -> PolicySet:
        everything = compile_policy(
            "root",
            {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
            self.catalog,
        )
        return PolicySet(
            self.catalog, (everything,), None, {}, known or Known(), self._fences(levels)
        )

    @staticmethod
    def _context(p: Principal) -> dict[str, str]:
        context = {"aws:principaltype": "User" if p.kind == "user" else "AssumedRole"}
        if p.kind == "user":
            context["aws:username"] = p.name
            if p.unique_id:
                context["aws:userid"] = p.unique_id
        return context

    def matching(self, patterns: tuple[str, ...]) -> frozenset[str]:
        """The principals, groups and managed policies whose ARNs match any of the resource
        patterns (``\\x00``/``\\x01`` stand for a literal ``*``/``?``, as filled variables
        leave them)."""
        found = self._matching.get(patterns)
        if found is None:
            found = frozenset().union(*(self._matching_one(p) for p in patterns))
            self._matching[patterns] = found
        return found

    def _matching_one(self, pattern: str) -> frozenset[str]:
        found = self._matching.get((pattern,))
        if found is None:
            universe = self._universe(pattern)
            if any(c in pattern for c in "*?\x00\x01"):
                regex = resource_regex(pattern)
                found = frozenset(arn for arn in universe if regex.fullmatch(arn))
            else:
                found = frozenset({pattern} & universe)
            self._matching[(pattern,)] = found
        return found

    def _universe(self, pattern: str = "*") -> frozenset[str]:
        """The ARNs a resource pattern may match: of its account alone when it names one
        (plain digits), else of every account."""
        if self._arns is None:
            policies = (d for d in self.documents if ":policy/" in d)
            self._arns = frozenset([*self.principals, *self.group_policies, *policies])
        account = account_of(pattern)
        if not account.isdigit():
            return self._arns
        if self._account_arns is None:
            grouped: dict[str, set[str]] = {}
            for arn in self._arns:
                grouped.setdefault(account_of(arn), set()).add(arn)
            self._account_arns = {a: frozenset(arns) for a, arns in grouped.items()}
        return self._account_arns.get(account, frozenset())

    # --- public analysis ----------------------------------------------------------------

    def effective_permissions(self, principal: str | Principal) -> EffectivePermissions:
        """What the principal may do: its identity policies (its own and its groups'),
        explicit Denies, its permissions boundary. See ``EffectivePermissions``."""
        p = self.principal(principal)
        boundary = p.boundary if p.boundary in self.documents else None
        unknown = self.unknown_policies.get(p.arn, ())
        if p.boundary is not None and boundary is None:
            unknown = (*unknown, p.boundary)
        return self.policy_set(p).effective(p.arn, p.boundary, unknown)

    def can(
        self, principal: str | Principal, action: str, resource: str | None = None
    ) -> Decision | None:
        """May the principal call ``action`` on ``resource`` (or on a resource of its own
        choosing)? None when not allowed."""
        return self.policy_set(principal).decide(action, resource)

    # --- role assumption ----------------------------------------------------------------

    def assumable(self, principal: str | Principal) -> dict[str, Edge]:
        """Roles the principal may assume directly: its own policies allow sts:AssumeRole on
        the role and the role's trust admits it (by ARN, through the account, or as anyone);
        or the trust names the principal's own ARN (or everyone), which within the account
        grants the call by itself: its permissions boundary must still allow it, and no Deny
        block it. Service principals in a trust policy admit services, not principals."""
        p = self.principal(principal)
        found = self._edges.get(p.arn)
        if found is None and self._edges_shared and p.arn != self._changed:
            assert self._base is not None
            found = self._base.assumable(p.arn)
        if found is not None:
            return found
        found = {}
        bit = self.catalog.index.get("sts:assumerole")
        if p.kind != "root" and bit is not None:
            ps = self.policy_set(p)
            allowed = bool(ps.allowed >> bit & 1)
            named, by_account, open_to_all = self._trusting()
            candidates = {*named.get(p.arn.lower(), ()), *open_to_all}
            scope = ps.scope(("sts:AssumeRole",)) if allowed else None
            within = None if scope is None else self.matching(scope)
            if allowed:
                # A trust naming the account admits only through the principal's own
                # policies: those roles count only where they allow the call.
                candidates.update(
                    r
                    for r in by_account.get(account_of(p.arn), ())
                    if within is None or r in within
                )
            for role in sorted(candidates):
                if role == p.arn:
                    continue
                in_scope = allowed and (within is None or role in within)
                edge = self._edge(ps, p, role, in_scope)
                if edge is not None:
                    found[role] = edge
        self._edges[p.arn] = found
        return found

    def _edge(self, ps: PolicySet, p: Principal, role: str, allowed: bool) -> Edge | None:
        """The surest way to assume the role: through the principal's own policies
        (``allowed``: they may allow it), or — within its own account only — through a trust
        that grants it directly. The trust's conditions are judged against what the snapshot
        knows of the principal."""
        arn = p.arn
        trust = self.trust(role)
        known = self.trust_known(p)
        best: Edge | None = None
        admitted = trust.admits(arn, known) if allowed else None
        decision = None if admitted is None else ps.decide("sts:AssumeRole", role)
        if admitted is not None and decision is not None:
            best = Edge(Certainty.weakest(admitted[0], decision.certainty), decision, admitted[1])
        if (best is None or best.certainty is not Certainty.CERTAIN) and account_of(
            role
        ) == account_of(arn):
            direct = trust.admits_directly(arn, known)
            granted = None if direct is None else ps.decide_granted("sts:AssumeRole", role, _DIRECT)
            if direct is not None and granted is not None:
                level = Certainty.weakest(direct[0], granted.certainty)
                if best is None or level.rank > best.certainty.rank:
                    best = Edge(level, granted, direct[1])
        if best is not None and best.certainty is not Certainty.CERTAIN:
            notes, qualifiers = trust.hedges(best.trust_statement, known)
            if notes or qualifiers:
                decision = dataclasses.replace(
                    best.decision,
                    notes=tuple(dict.fromkeys((*best.decision.notes, *notes))),
                    qualifiers=tuple(dict.fromkeys((*best.decision.qualifiers, *qualifiers))),
                )
                best = Edge(best.certainty, decision, best.trust_statement)
        return best

    def trust_index(self) -> tuple[dict[str, list[str]], dict[str, list[str]], list[str]]:
        """Roles by the principal ARN their trust names, by the account it names, and those
        open to anyone (``_trusting``)."""
        return self._trusting()

    def _trusting(self) -> tuple[dict[str, list[str]], dict[str, list[str]], list[str]]:
        """Roles by the principal ARN their trust names, roles by the account their trust
        names (its root: every principal of it may be admitted), and roles open to anyone
        (``*``, ``NotPrincipal``): candidates, confirmed by ``Trust.admits`` and
        ``Trust.admits_directly``. A principal's candidates are those naming it, its
        account, or anyone: not every role of the organization."""
        if self._trust_index is None:
            named: dict[str, list[str]] = {}
            by_account: dict[str, list[str]] = {}
            open_to_all: list[str] = []
            for role in (p.arn for p in self.roles):
                trust = self.trust(role)
                principals = trust.aws_principals
                if trust.anyone or any(st.negated for st in trust.statements):
                    open_to_all.append(role)
                for arn in principals:
                    if arn.endswith(":root"):
                        by_account.setdefault(account_of(arn), []).append(role)
                    else:
                        named.setdefault(arn, []).append(role)
            self._trust_index = (named, by_account, open_to_all)
        return self._trust_index

    def reachable_roles(self, principal: str | Principal) -> dict[str, Reach]:
        """Every role the principal can end up as by assuming roles one after another, each
        with the surest chain (then the shortest)."""
        p = self.principal(principal)
        mine = self._reach_of.get(p.arn)
        if mine is None:
            first = self.assumable(p)
            key = tuple(sorted((role, edge.certainty.rank) for role, edge in first.items()))
            found = self._reach.get(key)
            if found is None:
                found = self._bfs(first)
                self._reach[key] = found
            mine = {role: reach for role, reach in found.items() if role != p.arn}
            self._reach_of[p.arn] = mine
        return mine

    def _bfs(self, first: Mapping[str, Edge]) -> dict[str, Reach]:
        best: dict[str, Reach] = {}
        # Widest path over three levels: every role reachable with certain edges first, then
        # those that need a resource-constrained one, then a conditional one.
        for level in (Certainty.CERTAIN, Certainty.RESOURCE_CONSTRAINED, Certainty.CONDITIONAL):
            seen: set[str] = set()
            queue: deque[tuple[str, tuple[str, ...]]] = deque()
            for role, edge in sorted(first.items()):
                if edge.certainty.rank >= level.rank:
                    queue.append((role, (role,)))
                    seen.add(role)
            while queue:
                role, chain = queue.popleft()
                if role not in best:
                    best[role] = Reach(level, chain)
                for nxt, edge in sorted(self.assumable(role).items()):
                    if nxt not in seen and edge.certainty.rank >= level.rank:
                        seen.add(nxt)
                        queue.append((nxt, (*chain, nxt)))
        return best

    def assumers(self, role: str) -> set[str]:
        """Every user or role that can end up as ``role`` (directly or through other roles)."""
        return {
            p.arn
            for p in self.principals.values()
            if p.arn != role and role in self.reachable_roles(p)
        }


class _Overlay(Mapping[str, Principal]):
    """A principals mapping with one principal replaced (or added at the end), without
    copying the others: a what-if of an organization of 50,000 principals is made often."""

    def __init__(self, base: Mapping[str, Principal], principal: Principal) -> None:
        self._base = base
        self._principal = principal
        self._new = principal.arn not in base

    def __getitem__(self, arn: str) -> Principal:
        return self._principal if arn == self._principal.arn else self._base[arn]

    def __contains__(self, arn: object) -> bool:
        return arn == self._principal.arn or arn in self._base

    def __iter__(self) -> Iterator[str]:
        yield from self._base
        if self._new:
            yield self._principal.arn

    def __len__(self) -> int:
        return len(self._base) + self._new


def _tags(raw: str | None) -> tuple[tuple[str, str], ...] | None:
    """The principal's tags, as the AWS connector keeps them (a JSON object); None when the
    snapshot does not have them."""
    if raw is None:
        return None
    if raw == "{}":
        return ()
    try:
        tags = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(tags, dict):
        return None
    return tuple(sorted((str(k), str(v)) for k, v in tags.items()))


def _strings(value: object) -> list[str]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _is_group(view: SystemView, entitlement_id: str) -> bool:
    entitlement = view.entitlements.get(entitlement_id)
    if entitlement is not None:
        return entitlement.kind == "group"
    return ":group/" in entitlement_id and "#" not in entitlement_id


def _is_policy(view: SystemView, entitlement_id: str) -> bool:
    entitlement = view.entitlements.get(entitlement_id)
    if entitlement is not None:
        return entitlement.kind in ("policy", "inline-policy")
    return ":policy/" in entitlement_id or "#inline/" in entitlement_id


def is_customer_managed(document_id: str) -> bool:
    return ":policy/" in document_id and _AWS_MANAGED not in document_id


__all__ = ["AccountModel", "Edge", "Principal", "Reach", "account_root", "is_customer_managed"]
