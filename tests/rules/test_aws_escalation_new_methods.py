"""aws-privilege-escalation with the methods added for issue 16 (CloudFormation stack updates
and change sets, SageMaker jobs, Auto Scaling, Spot, App Runner, AgentCore, Glue jobs, ECS
services and exec, existing functions, projects, instances and launch templates): a person
holding exactly a method's actions gets a finding naming it; one action fewer, none."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam_gov.aws_policy.methods import METHODS_BY_ID
from iam_gov.model import Finding, Severity
from tests.aws_policy.test_methods_catalogue import NEW_METHODS
from tests.support.aws_account import (
    ADMINISTRATOR_ACCESS,
    ExportedAccount,
    allow,
    arn,
    document,
    trust,
)
from tests.support.world import person

RULE = "aws-privilege-escalation"
DEV = arn("user", "dev")


def _world_for(
    tmp_path: Path, method_id: str, *, without: int | None = None
) -> tuple[str, list[Finding]]:
    """An admin role the method's service trusts, and Dev's user allowed one action of each
    requirement but ``without``: the role's ARN and the rule's findings."""
    method = METHODS_BY_ID[method_id]
    aws = ExportedAccount(tmp_path / "export")
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    role = aws.role("prize", trust(service=method.service), policies=[admin])
    statements = [
        allow(r.any_of[0], Resource=role if r.on_target else "*")
        for i, r in enumerate(method.requires)
        if i != without
    ]
    aws.user("dev", employee_id="E1", inline={"p": document(*statements)})
    world = aws.world(people=[person("E1", "Dev Eloper")])
    return role, world.findings(RULE)


@pytest.mark.parametrize("method_id", NEW_METHODS)
def test_a_person_with_exactly_the_method_s_actions_is_reported_with_it(
    tmp_path: Path, method_id: str
) -> None:
    """One finding, on Dev's inline policy, naming the method, its actions and the admin role;
    critical when certain, one level lower when it rests on a resource IAM data cannot show."""
    method = METHODS_BY_ID[method_id]
    role, findings = _world_for(tmp_path, method_id)

    [finding] = [f for f in findings if f.evidence["method_id"] == method_id]
    assert finding.subject == f"aws:{DEV}#inline/p:{method_id}:{role}"
    assert finding.person_id == "E1"
    evidence = finding.evidence
    assert evidence["method_id"] == method_id
    assert evidence["target"] == role
    assert evidence["gains_admin"] is True
    assert evidence["enabling_actions"] == [r.any_of[0] for r in method.requires]
    assert f"({method.name})" in finding.message
    used = " + ".join(evidence["enabling_actions"])
    assert f"user/dev → {used} on role/prize" in finding.message
    if method.note is None:
        assert (evidence["certainty"], finding.severity) == ("certain", Severity.CRITICAL)
    else:
        assert (evidence["certainty"], finding.severity) == (
            "resource-constrained",
            Severity.HIGH,
        )
        assert "possible but not proven" in finding.message
        [dev] = evidence["principals"]
        assert method.note in dev["notes"]


@pytest.mark.parametrize("method_id", NEW_METHODS)
def test_without_the_method_s_last_action_nothing_is_reported(
    tmp_path: Path, method_id: str
) -> None:
    """The last requirement (the one that runs or takes over the resource) left out: the
    person cannot escalate, so there is no finding at all."""
    last = len(METHODS_BY_ID[method_id].requires) - 1

    _, findings = _world_for(tmp_path, method_id, without=last)

    assert findings == []


def test_the_admin_role_itself_is_left_to_aws_admin_equivalent(tmp_path: Path) -> None:
    """The prize role is an administrator: reported by the admin rule, not as escalating."""
    aws = ExportedAccount(tmp_path / "export")
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    role = aws.role("prize", trust(service="sagemaker.amazonaws.com"), policies=[admin])
    world = aws.world()

    assert world.findings(RULE) == []
    assert [
        p["arn"] for f in world.findings("aws-admin-equivalent") for p in f.evidence["principals"]
    ] == [role]
