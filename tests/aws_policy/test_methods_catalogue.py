"""The escalation catalogue as data: every method published, sourced, spelled with real
action names, and each method added for issue 16 found when a principal holds exactly its
actions and not when one is missing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from iam_gov.aws_policy import Certainty
from iam_gov.aws_policy.catalog import CatalogUnavailable, official_actions
from iam_gov.aws_policy.methods import METHODS, METHODS_BY_ID, Method, Target
from tests.support.aws_account import ADMINISTRATOR_ACCESS, ExportedAccount, allow, document, trust
from tests.support.unavailable import unavailable

README = Path(__file__).resolve().parents[2] / "README.md"
DEV = "arn:aws:iam::123456789012:user/dev"

NEW_METHODS = (
    "cloudformation-update-stack",
    "cloudformation-change-set",
    "passrole-sagemaker-processing-job",
    "passrole-sagemaker-training-job",
    "passrole-sagemaker-tuning-job",
    "passrole-autoscaling-launch-configuration",
    "passrole-ec2-spot-instances",
    "lambda-update-function-configuration",
    "passrole-lambda-add-permission",
    "codebuild-start-build-override",
    "passrole-ecs-service",
    "ecs-execute-command",
    "passrole-apprunner",
    "apprunner-update-service",
    "passrole-bedrock-agentcore-code-interpreter",
    "passrole-glue-job",
    "passrole-glue-update-job",
    "ec2-modify-user-data",
    "ec2-launch-template-version",
)
PMAPPER_CHECKERS = {
    f"PMapper {service}EdgeChecker"
    for service in (
        "IAM",
        "STS",
        "Lambda",
        "EC2",
        "CloudFormation",
        "CodeBuild",
        "SageMaker",
        "SSM",
        "AutoScaling",
        "Glue",
        "DataPipeline",
        "ECS",
    )
}
"""The edge checkers of nccgroup/PMapper (principalmapper/graphing/*_edges.py)."""


BISHOP_FOX_PATHS = frozenset(
    {
        "privesc-AssumeRole",
        "privesc-cloudFormationUpdateStack",
        "privesc-codeBuildCreateProjectPassRole",
        "privesc-ec2InstanceConnect",
        "privesc-sageMakerCreateNotebookPassRole",
        "privesc-sageMakerCreatePresignedNotebookURL",
        "privesc-sageMakerCreateProcessingJob",
        "privesc-sageMakerCreateTrainingJob",
        "privesc-ssmSendCommand",
        "privesc-ssmStartSession",
        "privesc1-CreateNewPolicyVersion",
        "privesc10-PutUserPolicy",
        "privesc11-PutGroupPolicy",
        "privesc12-PutRolePolicy",
        "privesc13-AddUserToGroup",
        "privesc14-UpdatingAssumeRolePolicy",
        "privesc15-PassExistingRoleToNewLambdaThenInvoke",
        "privesc16-PassRoleToNewLambdaThenTriggerWithNewDynamo",
        "privesc17-EditExistingLambdaFunctionWithRole",
        "privesc18-PassExistingRoleToNewGlueDevEndpoint",
        "privesc19-UpdateExistingGlueDevEndpoint",
        "privesc2-SetExistingDefaultPolicyVersion",
        "privesc20-PassExistingRoleToCloudFormation",
        "privesc21-PassExistingRoleToNewDataPipeline",
        "privesc3-CreateEC2WithExistingIP",
        "privesc4-CreateAccessKey",
        "privesc5-CreateLoginProfile",
        "privesc6-UpdateLoginProfile",
        "privesc7-AttachUserPolicy",
        "privesc8-AttachGroupPolicy",
        "privesc9-AttachRolePolicy",
    }
)
"""The privesc paths of BishopFox/iam-vulnerable (modules/free-resources/privesc-paths/*.tf)."""
_BISHOP_FOX = "Bishop Fox iam-vulnerable: "


def _source_is_known(source: str) -> bool:
    return (
        re.fullmatch(r"Rhino #([1-9]|1\d|2[01])|Rhino \(part 2\)", source) is not None
        or (
            source.startswith(_BISHOP_FOX)
            and set(source.removeprefix(_BISHOP_FOX).split(", ")) <= BISHOP_FOX_PATHS
        )
        or source in PMAPPER_CHECKERS
        or source == "pathfinding.cloud"
    )


def test_every_method_has_a_unique_kebab_case_id_and_a_known_source() -> None:
    """A method without a source, or with a source not in the published lists, or two
    methods sharing an id, fail here."""
    ids = [m.id for m in METHODS]
    assert len(ids) == len(set(ids)) == len(METHODS_BY_ID)
    for method in METHODS:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", method.id), method.id
        assert method.sources, f"{method.id} has no source"
        unknown = [s for s in method.sources if not _source_is_known(s)]
        assert not unknown, f"{method.id}: {unknown}"


def test_rhino_s_21_methods_are_each_covered_once() -> None:
    """Rhino Security Labs' numbered list is covered in full, each number by one method."""
    numbers = [
        int(s.removeprefix("Rhino #"))
        for m in METHODS
        for s in m.sources
        if s.startswith("Rhino #")
    ]
    assert sorted(numbers) == list(range(1, 22))


def test_every_action_a_method_needs_is_a_real_aws_action() -> None:
    """Each action name exists, spelled as AWS spells it, in the catalogue the project loads:
    a misspelt action would never match a policy and the method would silently find nothing."""
    try:
        spelled = {name for name, _ in official_actions()}
    except CatalogUnavailable as exc:
        unavailable(str(exc))
    for method in METHODS:
        for requirement in method.requires:
            for action in requirement.any_of:
                assert action in spelled, f"{method.id}: {action}"


def test_service_methods_name_a_service_and_existing_resource_ones_say_why_unproven() -> None:
    """A method acting through a service's role names the service principal; one on an
    existing resource carries the note that caps it at resource-constrained."""
    for method in METHODS:
        via_service = method.target in (Target.SERVICE_ROLES, Target.EXISTING_SERVICE_ROLES)
        assert (method.service is not None) == via_service, method.id
        if via_service:
            assert method.service is not None and method.service.endswith(".amazonaws.com")
        if method.target is Target.SERVICE_ROLES:
            assert any(a == "iam:PassRole" for r in method.requires for a in r.any_of)
        if method.target is Target.EXISTING_SERVICE_ROLES:
            assert method.note is not None, method.id
            assert all(a != "iam:PassRole" for r in method.requires for a in r.any_of)


def test_the_readme_lists_every_method_with_its_actions_and_sources() -> None:
    """The README's catalogue table has one row per method, with what it needs and where it
    is published: a method added to the code without its row fails here."""
    text = README.read_text(encoding="utf-8")
    start = text.index("### AWS effective permissions")
    text = text[start : text.index("\n## ", start)]
    rows = {
        match.group(1): match.group(0)
        for match in re.finditer(r"^\| `([a-z0-9-]+)` \|.*\|$", text, re.MULTILINE)
    }
    assert set(rows) == {m.id for m in METHODS}
    for method in METHODS:
        row = rows[method.id]
        for action in method.actions:
            assert action in row, (method.id, action)
        for source in method.sources:
            assert source in row, (method.id, source)


def _account_for(aws: ExportedAccount, method: Method, *, trusted: str | None = None) -> str:
    """An administrator role the method's service may assume (or ``trusted`` instead)."""
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    assert method.service is not None
    return aws.role("prize", trust(service=trusted or method.service), policies=[admin])


def _grant(
    aws: ExportedAccount, method: Method, role: str, *, without: int | None = None, last: bool
) -> None:
    """A user allowed one action of each of the method's requirements, the one at
    ``without`` left out; ``last`` picks each requirement's last alternative, else its first."""
    statements = [
        allow(r.any_of[-1 if last else 0], Resource=role if r.on_target else "*")
        for i, r in enumerate(method.requires)
        if i != without
    ]
    aws.user("dev", inline={"p": document(*statements)})


@pytest.mark.parametrize("method_id", NEW_METHODS)
@pytest.mark.parametrize("last", [False, True], ids=["first-alternative", "last-alternative"])
def test_a_principal_with_exactly_the_method_s_actions_escalates_by_it(
    aws: ExportedAccount, method_id: str, last: bool
) -> None:
    """Its actions (and iam:PassRole on a role the service trusts) are enough: the path uses
    this method on the admin role; certain for a new resource, resource-constrained for an
    existing one the snapshot does not show."""
    method = METHODS_BY_ID[method_id]
    role = _account_for(aws, method)
    _grant(aws, method, role, last=last)

    paths = {p.method.id: p for p in aws.analysis().escalation_paths(DEV)}

    assert method_id in paths
    path = paths[method_id]
    assert path.target == role and path.admin
    expected = Certainty.CERTAIN if method.note is None else Certainty.RESOURCE_CONSTRAINED
    assert path.certainty is expected


@pytest.mark.parametrize(
    ("method_id", "missing"),
    [
        (method_id, i)
        for method_id in NEW_METHODS
        for i in range(len(METHODS_BY_ID[method_id].requires))
    ],
)
def test_one_action_missing_gives_no_path(
    aws: ExportedAccount, method_id: str, missing: int
) -> None:
    """Without any one of the method's requirements, the principal has no way up at all."""
    method = METHODS_BY_ID[method_id]
    role = _account_for(aws, method)
    _grant(aws, method, role, without=missing, last=False)

    assert aws.analysis().escalation_paths(DEV) == ()


@pytest.mark.parametrize(
    "method_id",
    [m for m in NEW_METHODS if METHODS_BY_ID[m].target is Target.SERVICE_ROLES],
)
def test_a_role_the_service_does_not_trust_cannot_be_passed(
    aws: ExportedAccount, method_id: str
) -> None:
    """The admin role trusts another service only: passing it to this one gets nothing."""
    method = METHODS_BY_ID[method_id]
    other = "states.amazonaws.com"
    role = _account_for(aws, method, trusted=other)
    _grant(aws, method, role, last=False)

    assert aws.analysis().escalation_paths(DEV) == ()
