"""The analysis rules ask for: an account with its escalation paths and admin-equivalence,
built once per snapshot view however many rules ask."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from iam_gov.aws_policy.account import AccountModel, Principal
from iam_gov.aws_policy.causes import Cause, admin_causes, path_cause, paths_without_admin
from iam_gov.aws_policy.escalation import (
    AdminEquivalence,
    EscalationPath,
    admin_equivalence,
    escalation_paths,
)
from iam_gov.engine.state import SystemView


class AwsAccount(AccountModel):
    """One AWS account: its effective permissions and role assumption (``AccountModel``),
    and what a principal can make of them."""

    def escalation_paths(self, principal: str | Principal) -> tuple[EscalationPath, ...]:
        """The best path for each escalation method open to the principal, through the roles
        it can assume too. Empty for an admin-equivalent principal: it has nothing to gain."""
        return escalation_paths(self, self.principal(principal))

    def is_admin_equivalent(self, principal: str | Principal) -> AdminEquivalence | None:
        """Why the principal can do anything (or grant itself anything), unconditionally; None
        when it cannot."""
        return admin_equivalence(self, self.principal(principal))

    def admin_causes(self, principal: str | Principal) -> tuple[Cause, ...]:
        """What makes the principal admin-equivalent, each cause on its own (a group, a
        policy attached directly, a role it can assume …); empty when it is not."""
        p = self.principal(principal)
        equivalence = admin_equivalence(self, p)
        return () if equivalence is None else admin_causes(self, p, equivalence)

    def paths_beyond_admin(self, principal: str | Principal) -> tuple[EscalationPath, ...]:
        """For a principal admin-equivalent through its policies, the escalation paths it
        keeps without them: redundant today, open once the admin grant alone is fixed."""
        return paths_without_admin(self, self.principal(principal))

    def cause_of(self, path: EscalationPath) -> Cause:
        """What makes an escalation path possible: the grants of its enabling actions, the
        method and the target."""
        return path_cause(self, path)


_ANALYSES: dict[int, tuple[weakref.ref[SystemView], AwsAccount]] = {}


def is_aws_view(view: SystemView) -> bool:
    """The view holds an AWS snapshot (the kinds of documents only the AWS connector keeps)."""
    return view.info.connector == "aws" or any(
        d.kind in ("managed-policy", "inline-policy", "trust-policy")
        for d in view.documents.values()
    )


def analysis_for(view: SystemView) -> AwsAccount:
    """The analysis of a view, built once however many rules ask for it."""
    key = id(view)
    cached = _ANALYSES.get(key)
    if cached is not None and cached[0]() is view:
        return cached[1]
    account = AwsAccount.from_view(view)
    _ANALYSES[key] = (weakref.ref(view, lambda _: _ANALYSES.pop(key, None)), account)
    return account


@contextmanager
def collection_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while an AWS rule runs: the analysis makes
    millions of small objects (decisions, paths, evidence) and no cycles, so a full
    collection would only scan them again and again (a quarter of the time on an
    organization of 20,000 principals). Reference counting still frees what is dropped."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
