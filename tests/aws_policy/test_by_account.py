"""The AWS rules run account by account (``by_account``), letting go of each account's work
before the next: their findings are exactly those of each rule run over everything at once,
including findings whose members come from several accounts (a role of one account that
principals of another can assume, an account earlier or later in the order)."""

from __future__ import annotations

import json

from iam_gov.aws_policy import analysis_for
from iam_gov.aws_policy.analysis import by_account
from iam_gov.engine.state import EvaluationState
from iam_gov.evaluation import run_rules
from iam_gov.rules import all_rules
from tests.support.aws_account import ADMINISTRATOR_ACCESS, allow, document, trust
from tests.support.aws_org_analysis import DEV, MANAGEMENT, PROD, SYSTEM, Org, root_of

AWS_RULES = ("aws-admin-equivalent", "aws-grant-to-others", "aws-privilege-escalation")


def _organization() -> Org:
    """Three accounts in order (management < prod < dev) with findings inside each, and
    members that cross: dev's deployer role is assumable from prod (an earlier account), and
    prod's ops role from dev (a later one); management's admin role from both."""
    org = Org()
    escalate = document(allow(["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"]))
    grant = document(allow(["iam:AttachRolePolicy", "iam:PutRolePolicy"]))
    hop = document(allow("sts:AssumeRole"))
    org.admin_role(MANAGEMENT, "break-in", trust(PROD, DEV))
    org.user(MANAGEMENT, "root-ops", admin=ADMINISTRATOR_ACCESS)
    org.role(DEV, "deployer", trust(PROD), esc=escalate, grant=grant)
    org.role(PROD, "ops", trust(DEV), esc=escalate)
    for account in (PROD, DEV):
        org.admin_role(account, "admin", trust(root_of(account)))
        org.admin_role(account, "lambda-admin", trust(service="lambda.amazonaws.com"))
        for i in range(3):
            org.user(account, f"dev{i}", hop=hop, esc=escalate)
        org.user(account, "granter", grant=grant)
        org.user(account, "reader", read=document(allow("s3:GetObject")))
    return org


def _dump(state: EvaluationState, *, together: bool) -> list[str]:
    rules = {rule_id: all_rules()[rule_id] for rule_id in AWS_RULES}
    if together:
        findings, _ = run_rules(state, rules)
    else:
        findings = []
        for rule_id in AWS_RULES:
            alone = {rule_id: rules[rule_id]}
            # The rule run with no parts at all: every account at once.
            object.__setattr__(alone[rule_id], "parts", None)
            try:
                findings += run_rules(state, alone)[0]
            finally:
                object.__setattr__(alone[rule_id], "parts", by_account)
    return sorted(f.model_dump_json() for f in findings)


def test_findings_by_account_are_those_of_everything_at_once() -> None:
    org = _organization()
    by_parts = _dump(org.world().state(), together=True)
    at_once = _dump(org.world().state(), together=False)
    assert by_parts == at_once
    rules = {json.loads(f)["rule_id"] for f in by_parts}
    assert rules == set(AWS_RULES)
    # Members from two accounts in one finding: the cross-account gathering was exercised.
    accounts_per_finding = [
        {p["arn"].split(":")[4] for p in json.loads(f)["evidence"].get("principals", [])}
        for f in by_parts
    ]
    assert any(len(accounts) > 1 for accounts in accounts_per_finding)


def test_each_accounts_work_is_let_go_before_the_next() -> None:
    """After an account's turn, the analysis holds no policy set or escalation memo of it."""
    org = _organization()
    state = org.world().state()
    analysis = analysis_for(state.systems[SYSTEM])
    held = []
    for _system, account_id in by_account(state):
        for principal in analysis.in_account(account_id):
            analysis.escalation_paths(principal)
        held.append(len(analysis._sets))
        assert analysis.memo.get("paths")
    assert len(held) == 3 and all(n > 0 for n in held)
    assert not analysis._sets
    assert not analysis.memo.get("paths")
