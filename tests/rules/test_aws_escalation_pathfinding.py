"""aws-privilege-escalation with the methods added from pathfinding.cloud's paths (ECS task
overrides, Glue sessions, SageMaker lifecycle configs, SSM Automation, StackSets, Batch,
AgentCore runtimes and browsers, Braket, CodeDeploy, EMR, GameLift, Image Builder, Flink,
HealthOmics): a person holding exactly a method's actions gets a finding naming it; with any
one action fewer, no finding names it."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam_gov.aws_policy.methods import METHODS_BY_ID
from iam_gov.model import Finding, Severity
from tests.aws_policy.test_methods_catalogue import PATHFINDING_NEW_METHODS
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
) -> tuple[str, set[str], list[Finding]]:
    """An admin role the method's service trusts, and Dev's user allowed one action of each
    requirement but ``without``: the role's ARN, the actions granted, the rule's findings."""
    method = METHODS_BY_ID[method_id]
    aws = ExportedAccount(tmp_path / "export")
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    role = aws.role("prize", trust(service=method.service), policies=[admin])
    kept = [r for i, r in enumerate(method.requires) if i != without]
    statements = [allow(r.any_of[0], Resource=role if r.on_target else "*") for r in kept]
    aws.user("dev", employee_id="E1", inline={"p": document(*statements)})
    world = aws.world(people=[person("E1", "Dev Eloper")])
    return role, {r.any_of[0] for r in kept}, world.findings(RULE)


def test_the_new_methods_are_in_the_catalogue_and_act_through_a_service() -> None:
    """Each method added from pathfinding.cloud exists and acts through a service's role,
    new or existing: the worlds below give that service's role to pass or take over."""
    assert len(set(PATHFINDING_NEW_METHODS)) == len(PATHFINDING_NEW_METHODS) == 21
    for method_id in PATHFINDING_NEW_METHODS:
        method = METHODS_BY_ID[method_id]
        assert method.service is not None, method_id
        assert any(s.startswith("pathfinding.cloud ") for s in method.sources), method_id


@pytest.mark.parametrize("method_id", PATHFINDING_NEW_METHODS)
def test_a_person_with_exactly_the_method_s_actions_is_reported_with_it(
    tmp_path: Path, method_id: str
) -> None:
    """One finding, on Dev's inline policy, naming the method, its actions and the admin role;
    critical when certain, one level lower when it rests on a resource IAM data cannot show."""
    method = METHODS_BY_ID[method_id]
    role, _, findings = _world_for(tmp_path, method_id)

    [finding] = [f for f in findings if f.evidence["method_id"] == method_id]
    assert finding.subject == f"aws:{DEV}#inline/p:{method_id}:{role}"
    assert finding.person_id == "E1"
    evidence = finding.evidence
    assert evidence["target"] == role
    assert evidence["gains_admin"] is True
    assert evidence["enabling_actions"] == [r.any_of[0] for r in method.requires]
    assert f"({method.name})" in finding.message
    if method.note is None:
        assert (evidence["certainty"], finding.severity) == ("certain", Severity.CRITICAL)
    else:
        assert (evidence["certainty"], finding.severity) == (
            "resource-constrained",
            Severity.HIGH,
        )


@pytest.mark.parametrize(
    ("method_id", "missing"),
    [
        (method_id, i)
        for method_id in PATHFINDING_NEW_METHODS
        for i in range(len(METHODS_BY_ID[method_id].requires))
    ],
)
def test_with_one_action_fewer_no_finding_names_the_method(
    tmp_path: Path, method_id: str, missing: int
) -> None:
    """Any one requirement left out, the method is not reported; what is left is at most a
    finding by another method whose every action is still granted (taking over an existing
    AgentCore runtime when iam:PassRole to a new one is gone)."""
    _, granted, findings = _world_for(tmp_path, method_id, without=missing)

    for finding in findings:
        assert finding.evidence["method_id"] != method_id
        assert set(finding.evidence["enabling_actions"]) <= granted, finding.evidence
