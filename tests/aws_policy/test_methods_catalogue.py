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


_PATHFINDING = "pathfinding.cloud "
_I, _S, _L, _E, _C = "iam:", "sts:", "lambda:", "ec2:", "ecs:"
_P = "iam:PassRole"
_AC = "bedrock-agentcore:"
PATHFINDING: dict[str, tuple[str, ...]] = {
    "iam-001": (_I + "CreatePolicyVersion",),
    "iam-002": (_I + "CreateAccessKey",),
    "iam-003": (_I + "CreateAccessKey", _I + "DeleteAccessKey"),
    "iam-004": (_I + "CreateLoginProfile",),
    "iam-005": (_I + "PutRolePolicy",),
    "iam-006": (_I + "UpdateLoginProfile",),
    "iam-007": (_I + "PutUserPolicy",),
    "iam-008": (_I + "AttachUserPolicy",),
    "iam-009": (_I + "AttachRolePolicy",),
    "iam-010": (_I + "AttachGroupPolicy",),
    "iam-011": (_I + "PutGroupPolicy",),
    "iam-012": (_I + "UpdateAssumeRolePolicy",),
    "iam-013": (_I + "AddUserToGroup",),
    "iam-014": (_I + "AttachRolePolicy", _S + "AssumeRole"),
    "iam-015": (_I + "AttachUserPolicy", _I + "CreateAccessKey"),
    "iam-016": (_I + "CreatePolicyVersion", _S + "AssumeRole"),
    "iam-017": (_I + "PutRolePolicy", _S + "AssumeRole"),
    "iam-018": (_I + "PutUserPolicy", _I + "CreateAccessKey"),
    "iam-019": (_I + "AttachRolePolicy", _I + "UpdateAssumeRolePolicy"),
    "iam-020": (_I + "CreatePolicyVersion", _I + "UpdateAssumeRolePolicy"),
    "iam-021": (_I + "PutRolePolicy", _I + "UpdateAssumeRolePolicy"),
    "sts-001": (_S + "AssumeRole",),
    "lambda-001": (_P, _L + "CreateFunction", _L + "InvokeFunction"),
    "lambda-002": (_P, _L + "CreateFunction", _L + "CreateEventSourceMapping"),
    "lambda-003": (_L + "UpdateFunctionCode",),
    "lambda-004": (_L + "UpdateFunctionCode", _L + "InvokeFunction"),
    "lambda-005": (_L + "UpdateFunctionCode", _L + "AddPermission"),
    "lambda-006": (_P, _L + "CreateFunction", _L + "AddPermission"),
    "ec2-001": (_P, _E + "RunInstances"),
    "ec2-002": (_E + "ModifyInstanceAttribute", _E + "StopInstances", _E + "StartInstances"),
    "ec2-003": (_P, _E + "RequestSpotInstances"),
    "ec2-004": (_E + "CreateLaunchTemplateVersion", _E + "ModifyLaunchTemplate"),
    "ec2-005": (_E + "CreateLaunchTemplateVersion", _E + "ModifyLaunchTemplate"),
    "ecs-001": (_P, _C + "CreateCluster", _C + "RegisterTaskDefinition", _C + "CreateService"),
    "ecs-002": (_P, _C + "CreateCluster", _C + "RegisterTaskDefinition", _C + "RunTask"),
    "ecs-003": (_P, _C + "RegisterTaskDefinition", _C + "CreateService"),
    "ecs-004": (_P, _C + "RegisterTaskDefinition", _C + "RunTask"),
    "ecs-005": (_P, _C + "RegisterTaskDefinition", _C + "StartTask"),
    "ecs-006": (_C + "ExecuteCommand", _C + "DescribeTasks"),
    "ecs-007": (_P, _C + "RegisterContainerInstance", _C + "StartTask"),
    "ecs-008": (_P, _C + "RunTask"),
    "ecs-009": (_P, _C + "StartTask"),
    "glue-001": (_P, "glue:CreateDevEndpoint"),
    "glue-003": (_P, "glue:CreateJob", "glue:StartJobRun"),
    "glue-004": (_P, "glue:CreateJob", "glue:CreateTrigger"),
    "glue-005": (_P, "glue:UpdateJob", "glue:StartJobRun"),
    "glue-006": (_P, "glue:UpdateJob", "glue:CreateTrigger"),
    "glue-007": (_P, "glue:CreateSession", "glue:RunStatement"),
    "sagemaker-001": (_P, "sagemaker:CreateNotebookInstance"),
    "sagemaker-002": (_P, "sagemaker:CreateTrainingJob"),
    "sagemaker-004": ("sagemaker:CreatePresignedNotebookInstanceUrl",),
    "sagemaker-005": (
        "sagemaker:CreateNotebookInstanceLifecycleConfig",
        "sagemaker:StopNotebookInstance",
        "sagemaker:UpdateNotebookInstance",
        "sagemaker:StartNotebookInstance",
    ),
    "ssm-001": ("ssm:StartSession",),
    "ssm-002": ("ssm:SendCommand",),
    "ssm-003": (_P, "ssm:CreateDocument", "ssm:StartAutomationExecution"),
    "cloudformation-001": (_P, "cloudformation:CreateStack"),
    "cloudformation-002": ("cloudformation:UpdateStack",),
    "cloudformation-003": (
        _P,
        "cloudformation:CreateStackSet",
        "cloudformation:CreateStackInstances",
    ),
    "cloudformation-004": (_P, "cloudformation:UpdateStackSet"),
    "cloudformation-005": ("cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet"),
    "codebuild-001": (_P, "codebuild:CreateProject", "codebuild:StartBuild"),
    "codebuild-002": ("codebuild:StartBuild",),
    "codebuild-003": ("codebuild:StartBuildBatch",),
    "codebuild-004": (_P, "codebuild:CreateProject", "codebuild:StartBuildBatch"),
    "batch-001": (_P, "batch:RegisterJobDefinition", "batch:SubmitJob"),
    "batch-002": ("batch:SubmitJob",),
    "batch-003": (
        _P,
        "batch:CreateComputeEnvironment",
        "batch:CreateJobQueue",
        "batch:RegisterJobDefinition",
        "batch:SubmitJob",
    ),
    "bedrock-001": (
        _P,
        _AC + "CreateCodeInterpreter",
        _AC + "StartCodeInterpreterSession",
        _AC + "InvokeCodeInterpreter",
    ),
    "bedrock-002": (_AC + "StartCodeInterpreterSession", _AC + "InvokeCodeInterpreter"),
    "bedrock-003": (
        _P,
        _AC + "CreateAgentRuntime",
        _AC + "CreateAgentRuntimeEndpoint",
        _AC + "CreateWorkloadIdentity",
        _AC + "InvokeAgentRuntimeCommand",
    ),
    "bedrock-004": (_AC + "InvokeAgentRuntimeCommand",),
    "bedrock-005": (
        _P,
        _AC + "CreateHarness",
        _AC + "CreateAgentRuntime",
        _AC + "CreateAgentRuntimeEndpoint",
        _AC + "CreateWorkloadIdentity",
        _AC + "GetAgentRuntime",
        _AC + "GetHarness",
        _AC + "InvokeAgentRuntimeCommand",
    ),
    "bedrock-006": (
        _P,
        _AC + "CreateBrowser",
        _AC + "StartBrowserSession",
        _AC + "ConnectBrowserAutomationStream",
    ),
    "bedrock-007": (_AC + "StartBrowserSession", _AC + "ConnectBrowserAutomationStream"),
    "apprunner-001": (_P, "apprunner:CreateService"),
    "apprunner-002": ("apprunner:UpdateService",),
    "braket-001": (_P, "braket:CreateJob"),
    "codedeploy-001": (
        "codedeploy:CreateDeployment",
        "codedeploy:RegisterApplicationRevision",
        "codedeploy:GetDeploymentConfig",
    ),
    "cognitoidentity-001": (_P, "cognito-identity:SetIdentityPoolRoles"),
    "datapipeline-001": (
        _P,
        "datapipeline:CreatePipeline",
        "datapipeline:PutPipelineDefinition",
        "datapipeline:ActivatePipeline",
    ),
    "emr-001": (_P, "elasticmapreduce:RunJobFlow"),
    "emrserverless-001": (_P, "emr-serverless:CreateApplication", "emr-serverless:StartJobRun"),
    "gamelift-001": (
        _P,
        "gamelift:CreateBuild",
        "gamelift:CreateFleet",
        "gamelift:RequestUploadCredentials",
    ),
    "imagebuilder-001": (
        _P,
        "imagebuilder:CreateComponent",
        "imagebuilder:CreateImageRecipe",
        "imagebuilder:CreateInfrastructureConfiguration",
        "imagebuilder:CreateImage",
    ),
    "kinesisanalytics-001": (
        _P,
        "kinesisanalytics:CreateApplication",
        "kinesisanalytics:StartApplication",
    ),
    "omics-001": (_P, "omics:CreateWorkflow", "omics:StartRun", "s3:GetObject"),
}
"""Every path of DataDog/pathfinding.cloud (data/paths/aws/<service>/<id>.yaml, 86 files) with
the permissions its ``permissions.required`` lists, as read for issue 16."""

NOT_JUDGED = {
    "cognitoidentity-001": "the role trusts cognito-identity.amazonaws.com as a web-identity "
    "(federated) principal, and which identity pools exist and admit unauthenticated callers "
    "is not in an IAM snapshot",
}
"""pathfinding.cloud paths no method covers, and why an IAM snapshot cannot judge them."""

PATHFINDING_NEW_METHODS = (
    "passrole-ecs-task-override",
    "passrole-glue-interactive-session",
    "sagemaker-notebook-lifecycle-config",
    "passrole-ssm-automation",
    "passrole-cloudformation-stackset",
    "passrole-cloudformation-update-stackset",
    "passrole-batch-job",
    "batch-submit-job-override",
    "bedrock-agentcore-code-interpreter-session",
    "passrole-bedrock-agentcore-runtime",
    "bedrock-agentcore-invoke-runtime-command",
    "passrole-bedrock-agentcore-browser",
    "bedrock-agentcore-browser-session",
    "passrole-braket-job",
    "codedeploy-create-deployment",
    "passrole-emr-cluster",
    "passrole-emr-serverless",
    "passrole-gamelift-fleet",
    "passrole-imagebuilder",
    "passrole-kinesisanalytics",
    "passrole-omics-workflow",
)
"""The methods added from pathfinding.cloud's paths: see test_aws_escalation_pathfinding."""


def _covering() -> dict[str, list[Method]]:
    """Each pathfinding.cloud id, with the methods naming it among their sources."""
    found: dict[str, list[Method]] = {}
    for method in METHODS:
        for source in method.sources:
            if source.startswith(_PATHFINDING):
                found.setdefault(source.removeprefix(_PATHFINDING), []).append(method)
    return found


def _source_is_known(source: str) -> bool:
    return (
        re.fullmatch(r"Rhino #([1-9]|1\d|2[01])|Rhino \(part 2\)", source) is not None
        or (
            source.startswith(_BISHOP_FOX)
            and set(source.removeprefix(_BISHOP_FOX).split(", ")) <= BISHOP_FOX_PATHS
        )
        or source in PMAPPER_CHECKERS
        or (source.startswith(_PATHFINDING) and source.removeprefix(_PATHFINDING) in PATHFINDING)
        or source == "iam-gov"
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


def test_every_pathfinding_path_is_covered_or_said_why_not() -> None:
    """Each of the 86 paths is named by some method's sources or listed as not judged with a
    reason, never both; a source naming an id that is not a path fails the known-source test."""
    covering = _covering()
    assert len(PATHFINDING) == 86
    assert set(NOT_JUDGED) <= set(PATHFINDING)
    assert not set(NOT_JUDGED) & set(covering)
    assert set(covering) | set(NOT_JUDGED) == set(PATHFINDING)
    assert all(reason.strip() for reason in NOT_JUDGED.values())


@pytest.mark.parametrize("path_id", sorted(set(PATHFINDING) - set(NOT_JUDGED)))
def test_a_method_covering_a_path_needs_nothing_the_path_does_not_list(path_id: str) -> None:
    """A principal holding a path's permissions holds every action of the methods that cite
    it: a method needing one more action would miss that principal, and the citation would
    claim a coverage the catalogue does not have."""
    listed = set(PATHFINDING[path_id])
    for method in _covering()[path_id]:
        for requirement in method.requires:
            if requirement.granted_by_target is None:
                assert listed & set(requirement.any_of), (path_id, method.id, requirement)


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
    """Without any one of the method's requirements, the method finds nothing; a way up is
    left only by another method whose every action is among those still granted (taking
    over an existing code interpreter when iam:PassRole to a new one is gone)."""
    method = METHODS_BY_ID[method_id]
    role = _account_for(aws, method)
    _grant(aws, method, role, without=missing, last=False)
    granted = {r.any_of[0] for i, r in enumerate(method.requires) if i != missing}

    for path in aws.analysis().escalation_paths(DEV):
        assert path.method.id != method_id
        assert set(path.method.actions) <= granted, path.method.id


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


_VIA_SERVICE = sorted(
    path_id
    for path_id, methods in _covering().items()
    if all(m.target in (Target.SERVICE_ROLES, Target.EXISTING_SERVICE_ROLES) for m in methods)
)


@pytest.mark.parametrize("path_id", _VIA_SERVICE)
def test_a_principal_with_a_path_s_listed_permissions_escalates_by_a_method_citing_it(
    aws: ExportedAccount, path_id: str
) -> None:
    """The permissions pathfinding.cloud lists for a path, granted on every resource, with an
    admin role the citing method's service trusts: the analysis finds a path by a method
    citing that id, so the citation is a coverage the analysis really has."""
    citing = _covering()[path_id]
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    assert citing[0].service is not None
    aws.role("prize", trust(service=citing[0].service), policies=[admin])
    aws.user("dev", inline={"p": document(*(allow(a) for a in PATHFINDING[path_id]))})

    found = {p.method.id for p in aws.analysis().escalation_paths(DEV)}

    assert found & {m.id for m in citing}, (path_id, found)
