"""Root causes: what grants a principal admin-equivalence or an escalation path — a group, a
policy attached directly, an inline policy (or identical copies of one), a trust policy, a
role to assume — so that every principal one cause affects can be reported as one finding."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

from iam_gov.aws_policy.account import AccountModel, Principal
from iam_gov.aws_policy.escalation import (
    AdminEquivalence,
    EscalationPath,
    admin_equivalence,
    assume_path,
    direct_paths,
    escalation_paths,
    iam_mask,
    short_name,
)
from iam_gov.aws_policy.organization import account_of

_INLINE = "#inline/"
_TRUST = "#trust"


@dataclass(frozen=True)
class Grantor:
    """One thing that gives principals a permission, as the fix would name it."""

    key: str
    """Stable and unique in the account: a group's ARN (its managed policies), a managed
    policy's ARN (attached directly), an inline policy's id (``OWNER#inline/NAME``),
    ``inline-policy/NAME@DIGEST`` for identical copies of an inline policy on several
    owners, a role's trust policy id (``ROLE#trust``), or a principal's own ARN (a role to
    assume, the root user)."""
    kind: str
    """``group``, ``policy``, ``inline-policy``, ``inline-copies``, ``trust-policy``,
    ``role`` or ``root``."""
    policies: tuple[str, ...] = ()
    """The policy documents (ids) through it that matter here, sorted."""
    owners: tuple[str, ...] = ()
    """For ``inline-copies``: the users, groups and roles that hold a copy (ARNs)."""

    def describe(self) -> str:
        """``group Admins (AdministratorAccess)``, ``policy AdministratorAccess attached
        directly``, ``inline policy keys of user/alice`` …"""
        if self.kind == "group":
            names = ", ".join(policy_name(p) for p in self.policies)
            return f"group {name_of(self.key)}" + (f" ({names})" if names else "")
        if self.kind == "policy":
            return f"policy {policy_name(self.key)} attached directly"
        if self.kind == "inline-policy":
            owner, _, name = self.key.partition(_INLINE)
            return f"inline policy {name} of {short_name(owner)}"
        if self.kind == "inline-copies":
            name = self.key.removeprefix("inline-policy/").rpartition("@")[0]
            return f"inline policy {name} (the same document on {owners_words(self.owners)})"
        if self.kind == "trust-policy":
            return f"the trust policy of {short_name(self.key.removesuffix(_TRUST))}"
        return short_name(self.key)


@dataclass(frozen=True)
class Cause:
    """What makes something possible: the grantors, and for an escalation the method and
    its target. Principals with the same ``key`` share one root cause."""

    grantors: tuple[Grantor, ...]
    method: str | None = None
    """The escalation method id, when the cause is one."""
    target: str | None = None
    """What the method is used on (ARN), when it is part of the cause."""

    @property
    def key(self) -> str:
        """``GRANTOR[+GRANTOR…][:METHOD][:TARGET]``: the finding's subject, after the system."""
        parts = ["+".join(g.key for g in self.grantors)]
        if self.method is not None:
            parts.append(self.method)
        if self.target is not None:
            parts.append(self.target)
        return ":".join(parts)

    @property
    def policies(self) -> tuple[str, ...]:
        return tuple(sorted({p for g in self.grantors for p in g.policies}))

    def describe(self) -> str:
        return " and ".join(g.describe() for g in self.grantors)


def merge(causes: Iterable[Cause]) -> Cause:
    """Causes with the same key, as one: each grantor with every policy any of them names
    (members of one group may owe it to different policies of the group)."""
    found = list(causes)
    policies: dict[str, set[str]] = {}
    for cause in found:
        for grantor in cause.grantors:
            policies.setdefault(grantor.key, set()).update(grantor.policies)
    first = found[0]
    grantors = tuple(
        Grantor(g.key, g.kind, tuple(sorted(policies[g.key])), g.owners) for g in first.grantors
    )
    return Cause(grantors, first.method, first.target)


@dataclass(frozen=True)
class Placement:
    """Which account a finding about a cause is in, and its key there."""

    key: str
    """The cause's key; in an organization, prefixed by the account id when the key does not
    carry it (an AWS-managed policy attached in several accounts is one cause per account)."""
    account_id: str
    account_name: str
    phrase: str
    """`` in account prod (222222222222)`` in an organization; empty for one account."""


def place(account: AccountModel, cause: Cause, principal: str) -> Placement:
    """The account a cause lives in: that of its first grantor carrying an account id (the
    group, policy or role to fix), else the principal's."""
    home = account_of(principal)
    for grantor in cause.grantors:
        found = account_of(grantor.key.partition("#")[0])
        if len(found) == 12 and found.isdigit():
            home = found
            break
    name = account.account_name(home)
    if account.organization is None:
        return Placement(cause.key, home, name, "")
    key = cause.key if home in cause.key else f"{home}:{cause.key}"
    return Placement(key, home, name, f" in account {account.account_label(home)}")


def policy_name(document_id: str) -> str:
    """``AdministratorAccess`` for a managed policy's ARN, ``keys`` for an inline policy."""
    if _INLINE in document_id:
        return document_id.partition(_INLINE)[2]
    return name_of(document_id)


def name_of(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def owners_words(owners: Iterable[str]) -> str:
    """``25 users``, ``2 users and 1 group``: who holds something, counted by kind."""
    kinds = Counter(short_name(o).partition("/")[0] for o in owners)
    return " and ".join(
        f"{n} {kind}" if n == 1 else f"{n} {kind}s" for kind, n in sorted(kinds.items())
    )


def grantors_of(account: AccountModel, principal: Principal, document_id: str) -> list[Grantor]:
    """How the principal holds a policy document: through each of its groups that holds it,
    and directly (attached, or inline on the principal)."""
    found: list[Grantor] = []
    for group in principal.groups:
        if document_id in account.group_policies.get(group, ()):
            if document_id.startswith(group + _INLINE):
                found.append(_inline(account, document_id))
            else:
                found.append(Grantor(group, "group", (document_id,)))
    # Unknown attachments: those no group explains are its own.
    if not found or (principal.attached is not None and document_id in principal.attached):
        if _INLINE in document_id:
            found.append(_inline(account, document_id))
        else:
            found.append(Grantor(document_id, "policy", (document_id,)))
    return found


def _inline(account: AccountModel, document_id: str) -> Grantor:
    """An inline policy; when identical copies of it (same name, same document) sit on
    several owners, the copies as one: they were written from one template, and one fix
    of that template is what a reviewer asks for."""
    copies = _inline_copies(account)
    name = document_id.partition(_INLINE)[2]
    key = f"inline-policy/{name}@{_digest(account.documents[document_id])}"
    owners = copies.get(key, ())
    if len(owners) > 1:
        return Grantor(key, "inline-copies", (document_id,), owners)
    return Grantor(document_id, "inline-policy", (document_id,))


def _inline_copies(account: AccountModel) -> dict[str, tuple[str, ...]]:
    memo = account.memo.setdefault("inline-copies", {})
    if not memo:
        found: dict[str, list[str]] = {}
        for document_id, document in account.documents.items():
            owner, _, name = document_id.partition(_INLINE)
            if name:
                found.setdefault(f"inline-policy/{name}@{_digest(document)}", []).append(owner)
        memo.update({key: tuple(sorted(owners)) for key, owners in found.items()})
        memo.setdefault("", ())  # computed, even for an account without inline policies
    return memo


def _digest(document: object) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _grantors(
    account: AccountModel, principal: Principal, documents: Iterable[str]
) -> tuple[Grantor, ...]:
    merged: dict[str, Grantor] = {}
    for document_id in sorted(set(documents)):
        for grantor in grantors_of(account, principal, document_id):
            known = merged.get(grantor.key)
            if known is not None:
                grantor = Grantor(
                    known.key,
                    known.kind,
                    tuple(sorted({*known.policies, *grantor.policies})),
                    known.owners,
                )
            merged[grantor.key] = grantor
    return tuple(merged[key] for key in sorted(merged))


def admin_causes(
    account: AccountModel, principal: Principal, equivalence: AdminEquivalence
) -> tuple[Cause, ...]:
    """What makes the principal admin-equivalent. Each policy that does so on its own is a
    cause, through each way the principal holds it (a user in the Admins group who also has
    AdministratorAccess attached directly has two: either alone keeps it admin). Several
    policies that only together allow all of IAM are one cause. Through a role it can
    certainly assume: that role (method ``sts-assume-role``). Through writing its own
    permissions: the policies that allow it, and the method."""
    if principal.kind == "root":
        return (Cause((Grantor(principal.arn, "root"),)),)
    if len(equivalence.chain) > 1:
        role = equivalence.chain[-1]
        return (Cause((Grantor(role, "role"),), "sts-assume-role"),)
    if equivalence.method is not None:
        documents = {ref.document_id for ref in equivalence.statements}
        return (Cause(_grantors(account, principal, documents), equivalence.method),)
    iam = iam_mask(account)
    full = {d: account.compiled(d).allow_full for d in principal.policies}
    alone = [d for d, allowed in full.items() if allowed & iam == iam]
    if not alone:
        together = [d for d, allowed in full.items() if allowed & iam]
        return (Cause(_grantors(account, principal, together)),)
    causes: dict[str, Cause] = {}
    for document_id in alone:
        for grantor in grantors_of(account, principal, document_id):
            cause = Cause((grantor,))
            known = causes.get(cause.key)
            causes[cause.key] = cause if known is None else merge([known, cause])
    return tuple(causes[key] for key in sorted(causes))


def admin_scope(account: AccountModel, cause: Cause) -> str:
    """What the cause's policies allow, in words: ``every action (*)`` or ``every IAM action
    (iam:*)``."""
    allowed = 0
    for document_id in cause.policies:
        allowed |= account.compiled(document_id).allow_full
    if allowed & account.catalog.everything == account.catalog.everything:
        return "every action (*)"
    return "every IAM action (iam:*)"


def path_cause(account: AccountModel, path: EscalationPath) -> Cause:
    """What makes an escalation path possible: the policies that allow its enabling actions,
    as the principal that uses the method (the last of the chain) holds them, with the
    method and the target. Principals that reach that one through roles share its cause.
    A role assumed because its trust policy names the principal, with no identity policy
    needed: that trust policy."""
    actor = account.principals[path.chain[-1]]
    documents = {ref.document_id for step in path.steps for ref in step.statements}
    grantors = _grantors(account, actor, documents)
    if not grantors:
        if path.method.id == "sts-assume-role" and path.target is not None:
            grantors = (Grantor(path.target + _TRUST, "trust-policy"),)
        else:
            grantors = (Grantor(actor.arn, actor.kind),)
    return Cause(grantors, path.method.id, path.target)


def paths_without_admin(account: AccountModel, principal: Principal) -> tuple[EscalationPath, ...]:
    """For a principal admin-equivalent through its policies: the escalation paths it would
    still have without the policies that make it so. They gain it nothing today, but fixing
    the admin grant alone leaves them open, so a reviewer must see them; when it would still
    be admin-equivalent (it can also write its own permissions, or become an admin role),
    the path that makes it so. Empty for anyone else (an admin-equivalence that is itself
    an escalation path says so already)."""
    memo = account.memo.setdefault("without-admin", {})
    if principal.arn in memo:
        found: tuple[EscalationPath, ...] = memo[principal.arn]
        return found
    found = ()
    equivalence = admin_equivalence(account, principal)
    if (
        equivalence is not None
        and principal.kind in ("user", "role")
        and equivalence.method is None
        and len(equivalence.chain) == 1
    ):
        causes = admin_causes(account, principal, equivalence)
        cut = {d for cause in causes for d in cause.policies}
        without = replace(principal, policies=tuple(d for d in principal.policies if d not in cut))
        counterfactual = account.with_principal(without)
        still = admin_equivalence(counterfactual, without)
        if still is None:
            found = escalation_paths(counterfactual, without)
        elif len(still.chain) > 1:  # it can certainly become an admin role
            role = still.chain[-1]
            reach = counterfactual.reachable_roles(without)[role]
            allowed = counterfactual.policy_set(without).allowed
            found = (assume_path(counterfactual, without, role, reach, allowed),)
        else:  # it can certainly write its own permissions
            found = tuple(p for p in direct_paths(counterfactual, without) if p.admin)
    memo[principal.arn] = found
    return found


__all__ = [
    "Cause",
    "Grantor",
    "admin_causes",
    "admin_scope",
    "grantors_of",
    "merge",
    "name_of",
    "owners_words",
    "path_cause",
    "paths_without_admin",
    "policy_name",
]
