"""What makes an organization's analysis fast must not change its answers: a what-if copy
(one principal changed) shares the account's work for every other principal and gives what
a fresh analysis gives; the garbage collector is paused only while an AWS rule runs."""

from __future__ import annotations

import dataclasses
import gc

from iam_gov.aws_policy.analysis import AwsAccount
from iam_gov.aws_policy.causes import admin_causes
from iam_gov.gcpause import collector_paused
from tests.support.aws_account import ADMINISTRATOR_ACCESS, allow, document, trust
from tests.support.aws_org_analysis import DEV, PROD, Org


def _org() -> tuple[Org, str]:
    """An admin user in prod who, without AdministratorAccess, could still take over the
    other admin users, and assume roles that pass an admin role to Lambda (prod) or take
    over dev's admin (dev)."""
    org = Org()
    org.admin_role(PROD, "lambda-admin", trust(service="lambda.amazonaws.com"))
    org.role(
        PROD,
        "builder",
        trust(PROD),
        build=document(allow(["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"])),
    )
    org.role(DEV, "ops", trust(PROD), keys=document(allow("iam:CreateAccessKey")))
    org.user(DEV, "dave", admin=ADMINISTRATOR_ACCESS)
    org.user(PROD, "alice", admin=ADMINISTRATOR_ACCESS)
    org.user(PROD, "bob", admin=ADMINISTRATOR_ACCESS)
    ana = org.user(
        PROD,
        "ana",
        admin=ADMINISTRATOR_ACCESS,
        keys=document(allow(["iam:CreateAccessKey", "sts:AssumeRole"])),
    )
    return org, ana


def _described(paths: tuple[object, ...]) -> list[str]:
    return sorted(
        f"{p.method.id} {p.describe()} {p.certainty} {p.admin} {p.gained}"  # type: ignore[attr-defined]
        for p in paths
    )


def test_what_if_shares_work_and_gives_a_fresh_analysis_answers() -> None:
    """The paths an admin keeps without its admin policy, worked out on a what-if copy of the
    analysed organization, are those of a fresh analysis where it never had the policy."""
    org, ana = _org()
    analysis = org.analysis()
    for p in list(analysis.principals.values()):  # the account analysed first, as rules do
        analysis.is_admin_equivalent(p)
        analysis.escalation_paths(p)
    kept = analysis.paths_beyond_admin(ana)
    assert kept, "ana keeps paths without AdministratorAccess"
    principal = analysis.principals[ana]
    equivalence = analysis.is_admin_equivalent(principal)
    assert equivalence is not None
    cut = {d for c in admin_causes(analysis, principal, equivalence) for d in c.policies}
    without = dataclasses.replace(
        principal, policies=tuple(d for d in principal.policies if d not in cut)
    )
    fresh = AwsAccount.build(
        [*(p for p in analysis.principals.values() if p.arn != ana), without],
        analysis.documents,
        analysis.trust_documents,
        analysis.group_policies,
        analysis.unknown_policies,
    )
    fresh.organization = analysis.organization
    fresh.organization_id = analysis.organization_id
    fresh.scp_documents = analysis.scp_documents
    fresh.as_of = analysis.as_of
    assert _described(kept) == _described(fresh.escalation_paths(without))
    assert any(p.admin for p in kept)


def test_the_collector_is_paused_only_inside() -> None:
    """Inside, no cyclic collection; after, the collector is as it was (on stays on, off
    stays off)."""
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
