"""The published catalogue of IAM privilege-escalation methods (Rhino Security Labs' 21 and
later additions), as data: what each needs and what it is used on."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Target(enum.StrEnum):
    """What a method acts on, which decides the resource its key action is checked against
    and what the principal gains."""

    SELF_USER = "self-user"
    """The principal itself, an IAM user: gains whatever it grants itself."""
    OWN_GROUPS = "own-groups"
    """A group the principal is in: gains whatever it grants the group."""
    CONTROLLED_ROLES = "controlled-roles"
    """The principal itself if it is a role, or a role it can assume: gains what it grants
    that role."""
    ATTACHED_POLICIES = "attached-policies"
    """A customer-managed policy attached to the principal (or its groups, or a role it can
    assume): gains whatever it writes into the policy."""
    OTHER_USERS = "other-users"
    """Another IAM user, whose credentials it takes over: gains that user's permissions."""
    GROUPS = "groups"
    """A group the user is not in: gains the group's permissions."""
    TRUSTING_ROLES = "trusting-roles"
    """A role whose trust policy admits the principal."""
    ANY_ROLE = "any-role"
    """Any role (the method rewrites who the role trusts)."""
    SERVICE_ROLES = "service-roles"
    """A role the ``service`` may assume, passed to a new resource of that service."""
    EXISTING_SERVICE_ROLES = "existing-service-roles"
    """A role the ``service`` may assume, already attached to an existing resource (a
    function, an instance, a notebook) that the snapshot does not show."""


@dataclass(frozen=True)
class Requirement:
    """One action the method needs; any of ``any_of`` will do."""

    any_of: tuple[str, ...]
    on_target: bool = False
    """Checked against the target's ARN (a role passed, a user whose key is created);
    otherwise against a resource of the principal's choosing."""
    granted_by_target: str | None = None
    """Why the principal's own policies need not allow it: once the earlier steps are done,
    the target's own policy grants it by the principal's ARN (a trust policy rewritten to
    name it, which within the account grants sts:AssumeRole by itself). Its permissions
    boundary must still allow it, and no Deny may block it."""


@dataclass(frozen=True)
class Method:
    id: str
    name: str
    description: str
    requires: tuple[Requirement, ...]
    target: Target
    service: str | None = None
    """The service principal a target role must trust (``lambda.amazonaws.com``)."""
    principal_kinds: tuple[str, ...] = ("user", "role")
    grants_anything: bool = False
    """The principal writes its own permissions: it can give itself anything (within its
    permissions boundary), which is what admin-equivalence means."""
    note: str | None = None
    """Why the method can be no more than resource-constrained, when it cannot."""
    sources: tuple[str, ...] = ()
    """Where the method is published: Rhino Security Labs' numbered list, Bishop Fox's
    iam-vulnerable scenario, PMapper's edge checker, pathfinding.cloud's path ids; ``iam-gov``
    for a method none of them lists."""

    @property
    def actions(self) -> tuple[str, ...]:
        """The actions the principal's own policies must allow (one of each alternative)."""
        return tuple(a for r in self.requires if r.granted_by_target is None for a in r.any_of)

    @property
    def label(self) -> str:
        """``iam:PassRole + lambda:CreateFunction + …``; ``a | b`` for alternatives. Actions
        the target grants by itself are not named: no policy of the principal's enables them."""
        return " + ".join(
            " | ".join(r.any_of) for r in self.requires if r.granted_by_target is None
        )


def _r(*any_of: str, on_target: bool = False, granted_by_target: str | None = None) -> Requirement:
    return Requirement(tuple(any_of), on_target, granted_by_target)


_PASS = _r("iam:PassRole", on_target=True)
_REWRITTEN_TRUST = (
    "the rewritten trust policy names it, which within the account grants sts:AssumeRole by "
    "itself: no identity policy needs to allow it"
)
_EXISTING = "which existing {what} carry which role is not in an IAM snapshot: possible, not proven"
_PF = "pathfinding.cloud "

METHODS: tuple[Method, ...] = (
    Method(
        "iam-create-policy-version",
        "Create a new version of an attached policy",
        "Writes a new default version of a customer-managed policy the principal is subject "
        "to, granting itself anything.",
        (_r("iam:CreatePolicyVersion", on_target=True),),
        Target.ATTACHED_POLICIES,
        grants_anything=True,
        sources=(
            "Rhino #1",
            "Bishop Fox iam-vulnerable: privesc1-CreateNewPolicyVersion",
            "PMapper IAMEdgeChecker",
            "pathfinding.cloud iam-001",
            "pathfinding.cloud iam-016",
        ),
    ),
    Method(
        "iam-set-default-policy-version",
        "Switch an attached policy to another version",
        "Makes an older or newer version of a policy it is subject to the default; that "
        "version may allow more.",
        (_r("iam:SetDefaultPolicyVersion", on_target=True),),
        Target.ATTACHED_POLICIES,
        note="the snapshot keeps only each policy's default version; what the others allow "
        "is not known",
        sources=(
            "Rhino #2",
            "Bishop Fox iam-vulnerable: privesc2-SetExistingDefaultPolicyVersion",
        ),
    ),
    Method(
        "iam-create-access-key",
        "Create an access key for another user",
        "Creates an access key for another IAM user and acts as that user.",
        (_r("iam:CreateAccessKey", on_target=True),),
        Target.OTHER_USERS,
        sources=(
            "Rhino #4",
            "Bishop Fox iam-vulnerable: privesc4-CreateAccessKey",
            "PMapper IAMEdgeChecker",
            "pathfinding.cloud iam-002",
            "pathfinding.cloud iam-003",
            "pathfinding.cloud iam-015",
            "pathfinding.cloud iam-018",
        ),
    ),
    Method(
        "iam-create-login-profile",
        "Create a console password for another user",
        "Gives a console password to another IAM user that has none, then signs in as them.",
        (_r("iam:CreateLoginProfile", on_target=True),),
        Target.OTHER_USERS,
        sources=(
            "Rhino #5",
            "Bishop Fox iam-vulnerable: privesc5-CreateLoginProfile",
            "PMapper IAMEdgeChecker",
            "pathfinding.cloud iam-004",
        ),
    ),
    Method(
        "iam-update-login-profile",
        "Change another user's console password",
        "Resets another IAM user's console password, then signs in as them.",
        (_r("iam:UpdateLoginProfile", on_target=True),),
        Target.OTHER_USERS,
        sources=(
            "Rhino #6",
            "Bishop Fox iam-vulnerable: privesc6-UpdateLoginProfile",
            "PMapper IAMEdgeChecker",
            "pathfinding.cloud iam-006",
        ),
    ),
    Method(
        "iam-attach-user-policy",
        "Attach a policy to itself",
        "Attaches any managed policy (AdministratorAccess) to its own user.",
        (_r("iam:AttachUserPolicy", on_target=True),),
        Target.SELF_USER,
        principal_kinds=("user",),
        grants_anything=True,
        sources=(
            "Rhino #7",
            "Bishop Fox iam-vulnerable: privesc7-AttachUserPolicy",
            "pathfinding.cloud iam-008",
        ),
    ),
    Method(
        "iam-attach-group-policy",
        "Attach a policy to its group",
        "Attaches any managed policy to a group it is a member of.",
        (_r("iam:AttachGroupPolicy", on_target=True),),
        Target.OWN_GROUPS,
        principal_kinds=("user",),
        grants_anything=True,
        sources=(
            "Rhino #8",
            "Bishop Fox iam-vulnerable: privesc8-AttachGroupPolicy",
            "pathfinding.cloud iam-010",
        ),
    ),
    Method(
        "iam-attach-role-policy",
        "Attach a policy to a role it controls",
        "Attaches any managed policy to itself (a role) or to a role it can assume.",
        (_r("iam:AttachRolePolicy", on_target=True),),
        Target.CONTROLLED_ROLES,
        grants_anything=True,
        sources=(
            "Rhino #9",
            "Bishop Fox iam-vulnerable: privesc9-AttachRolePolicy",
            "pathfinding.cloud iam-009",
            "pathfinding.cloud iam-014",
        ),
    ),
    Method(
        "iam-put-user-policy",
        "Write an inline policy on itself",
        "Writes an inline policy granting anything into its own user.",
        (_r("iam:PutUserPolicy", on_target=True),),
        Target.SELF_USER,
        principal_kinds=("user",),
        grants_anything=True,
        sources=(
            "Rhino #10",
            "Bishop Fox iam-vulnerable: privesc10-PutUserPolicy",
            "pathfinding.cloud iam-007",
        ),
    ),
    Method(
        "iam-put-group-policy",
        "Write an inline policy on its group",
        "Writes an inline policy granting anything into a group it is a member of.",
        (_r("iam:PutGroupPolicy", on_target=True),),
        Target.OWN_GROUPS,
        principal_kinds=("user",),
        grants_anything=True,
        sources=(
            "Rhino #11",
            "Bishop Fox iam-vulnerable: privesc11-PutGroupPolicy",
            "pathfinding.cloud iam-011",
        ),
    ),
    Method(
        "iam-put-role-policy",
        "Write an inline policy on a role it controls",
        "Writes an inline policy granting anything into itself (a role) or a role it can assume.",
        (_r("iam:PutRolePolicy", on_target=True),),
        Target.CONTROLLED_ROLES,
        grants_anything=True,
        sources=(
            "Rhino #12",
            "Bishop Fox iam-vulnerable: privesc12-PutRolePolicy",
            "pathfinding.cloud iam-005",
            "pathfinding.cloud iam-017",
        ),
    ),
    Method(
        "iam-add-user-to-group",
        "Add itself to a group",
        "Adds its own user to a more privileged group.",
        (_r("iam:AddUserToGroup", on_target=True),),
        Target.GROUPS,
        principal_kinds=("user",),
        sources=(
            "Rhino #13",
            "Bishop Fox iam-vulnerable: privesc13-AddUserToGroup",
            "pathfinding.cloud iam-013",
        ),
    ),
    Method(
        "iam-update-assume-role-policy",
        "Rewrite a role's trust policy and assume it",
        "Rewrites who a role trusts to name itself, then assumes the role. Within the "
        "account a trust naming the principal's ARN grants sts:AssumeRole by itself, so only "
        "iam:UpdateAssumeRolePolicy on the role is needed: its own policies need not allow "
        "sts:AssumeRole (though its permissions boundary must, and no Deny may block it).",
        (
            _r("iam:UpdateAssumeRolePolicy", on_target=True),
            _r("sts:AssumeRole", on_target=True, granted_by_target=_REWRITTEN_TRUST),
        ),
        Target.ANY_ROLE,
        sources=(
            "Rhino #14",
            "Bishop Fox iam-vulnerable: privesc14-UpdatingAssumeRolePolicy",
            "PMapper IAMEdgeChecker",
            "pathfinding.cloud iam-012",
            "pathfinding.cloud iam-019",
            "pathfinding.cloud iam-020",
            "pathfinding.cloud iam-021",
        ),
    ),
    Method(
        "sts-assume-role",
        "Assume a more privileged role",
        "Assumes a role whose trust policy admits it and that can do more than it can.",
        (_r("sts:AssumeRole", on_target=True),),
        Target.TRUSTING_ROLES,
        sources=(
            "Bishop Fox iam-vulnerable: privesc-AssumeRole",
            "PMapper STSEdgeChecker",
            "pathfinding.cloud sts-001",
        ),
    ),
    Method(
        "iam-permissions-boundary",
        "Remove or replace its own permissions boundary",
        "Deletes or replaces the permissions boundary that limits it (its user, or a role it "
        "controls), regaining everything its identity policies allow.",
        (
            _r(
                "iam:DeleteUserPermissionsBoundary",
                "iam:PutUserPermissionsBoundary",
                "iam:DeleteRolePermissionsBoundary",
                "iam:PutRolePermissionsBoundary",
                on_target=True,
            ),
        ),
        Target.SELF_USER,  # and controlled roles: see escalation.py
        sources=("iam-gov",),
    ),
    Method(
        "passrole-lambda-invoke",
        "Pass a role to a new Lambda function and invoke it",
        "Creates a Lambda function running as a more privileged role and invokes it.",
        (_PASS, _r("lambda:CreateFunction"), _r("lambda:InvokeFunction")),
        Target.SERVICE_ROLES,
        service="lambda.amazonaws.com",
        sources=(
            "Rhino #15",
            "Bishop Fox iam-vulnerable: privesc15-PassExistingRoleToNewLambdaThenInvoke",
            "PMapper LambdaEdgeChecker",
            "pathfinding.cloud lambda-001",
        ),
    ),
    Method(
        "passrole-lambda-event-source",
        "Pass a role to a new Lambda function triggered by an event source",
        "Creates a Lambda function running as a more privileged role and has an event "
        "source (a DynamoDB stream, a queue) trigger it.",
        (_PASS, _r("lambda:CreateFunction"), _r("lambda:CreateEventSourceMapping")),
        Target.SERVICE_ROLES,
        service="lambda.amazonaws.com",
        sources=(
            "Rhino #16",
            "Bishop Fox iam-vulnerable: privesc16-PassRoleToNewLambdaThenTriggerWithNewDynamo",
            "pathfinding.cloud lambda-002",
        ),
    ),
    Method(
        "passrole-ec2-run-instances",
        "Pass a role to a new EC2 instance",
        "Launches an instance with a more privileged role's instance profile and reads its "
        "credentials from the instance metadata.",
        (_PASS, _r("ec2:RunInstances")),
        Target.SERVICE_ROLES,
        service="ec2.amazonaws.com",
        sources=(
            "Rhino #3",
            "Bishop Fox iam-vulnerable: privesc3-CreateEC2WithExistingIP",
            "PMapper EC2EdgeChecker",
            "pathfinding.cloud ec2-001",
        ),
    ),
    Method(
        "passrole-glue-dev-endpoint",
        "Pass a role to a new Glue development endpoint",
        "Creates a Glue development endpoint running as a more privileged role and logs in to it.",
        (_PASS, _r("glue:CreateDevEndpoint")),
        Target.SERVICE_ROLES,
        service="glue.amazonaws.com",
        sources=(
            "Rhino #18",
            "Bishop Fox iam-vulnerable: privesc18-PassExistingRoleToNewGlueDevEndpoint",
            "PMapper GlueEdgeChecker",
            "pathfinding.cloud glue-001",
        ),
    ),
    Method(
        "glue-update-dev-endpoint",
        "Take over an existing Glue development endpoint",
        "Adds its SSH key to an existing Glue development endpoint and uses its role.",
        (_r("glue:UpdateDevEndpoint"),),
        Target.EXISTING_SERVICE_ROLES,
        service="glue.amazonaws.com",
        note=_EXISTING.format(what="endpoints"),
        sources=(
            "Rhino #19",
            "Bishop Fox iam-vulnerable: privesc19-UpdateExistingGlueDevEndpoint",
            "PMapper GlueEdgeChecker",
        ),
    ),
    Method(
        "passrole-cloudformation",
        "Pass a role to a new CloudFormation stack",
        "Creates a stack that CloudFormation builds as a more privileged role.",
        (_PASS, _r("cloudformation:CreateStack")),
        Target.SERVICE_ROLES,
        service="cloudformation.amazonaws.com",
        sources=(
            "Rhino #20",
            "Bishop Fox iam-vulnerable: privesc20-PassExistingRoleToCloudFormation",
            "PMapper CloudFormationEdgeChecker",
            "pathfinding.cloud cloudformation-001",
        ),
    ),
    Method(
        "passrole-datapipeline",
        "Pass a role to a new Data Pipeline",
        "Creates a pipeline whose activities run as a more privileged role.",
        (
            _PASS,
            _r("datapipeline:CreatePipeline"),
            _r("datapipeline:PutPipelineDefinition"),
        ),
        Target.SERVICE_ROLES,
        service="datapipeline.amazonaws.com",
        sources=(
            "Rhino #21",
            "Bishop Fox iam-vulnerable: privesc21-PassExistingRoleToNewDataPipeline",
            "PMapper DataPipelineEdgeChecker",
            "pathfinding.cloud datapipeline-001",
        ),
    ),
    Method(
        "passrole-codebuild",
        "Pass a role to a new CodeBuild project and start a build",
        "Creates a build project running as a more privileged role and starts it.",
        (
            _PASS,
            _r("codebuild:CreateProject"),
            _r("codebuild:StartBuild", "codebuild:StartBuildBatch"),
        ),
        Target.SERVICE_ROLES,
        service="codebuild.amazonaws.com",
        sources=(
            "Bishop Fox iam-vulnerable: privesc-codeBuildCreateProjectPassRole",
            "PMapper CodeBuildEdgeChecker",
            "pathfinding.cloud codebuild-001",
            "pathfinding.cloud codebuild-004",
        ),
    ),
    Method(
        "passrole-sagemaker-notebook",
        "Pass a role to a new SageMaker notebook",
        "Creates a notebook instance running as a more privileged role and opens it (with a "
        "presigned URL, or from the console, which needs no further permission).",
        (_PASS, _r("sagemaker:CreateNotebookInstance")),
        Target.SERVICE_ROLES,
        service="sagemaker.amazonaws.com",
        sources=(
            "Rhino (part 2)",
            "Bishop Fox iam-vulnerable: privesc-sageMakerCreateNotebookPassRole",
            "PMapper SageMakerEdgeChecker",
            "pathfinding.cloud sagemaker-001",
        ),
    ),
    Method(
        "sagemaker-presigned-notebook-url",
        "Open an existing SageMaker notebook",
        "Opens an existing notebook instance and runs code as its role.",
        (_r("sagemaker:CreatePresignedNotebookInstanceUrl"),),
        Target.EXISTING_SERVICE_ROLES,
        service="sagemaker.amazonaws.com",
        note=_EXISTING.format(what="notebooks"),
        sources=(
            "Rhino (part 2)",
            "Bishop Fox iam-vulnerable: privesc-sageMakerCreatePresignedNotebookURL",
            "pathfinding.cloud sagemaker-004",
        ),
    ),
    Method(
        "passrole-ecs-task",
        "Pass a role to a new ECS task",
        "Registers a task definition with a more privileged task role and runs it.",
        (
            _PASS,
            _r("ecs:RegisterTaskDefinition"),
            _r("ecs:RunTask", "ecs:StartTask"),
        ),
        Target.SERVICE_ROLES,
        service="ecs-tasks.amazonaws.com",
        sources=(
            "PMapper ECSEdgeChecker",
            "pathfinding.cloud ecs-002",
            "pathfinding.cloud ecs-004",
            "pathfinding.cloud ecs-005",
        ),
    ),
    Method(
        "lambda-update-function-code",
        "Replace an existing Lambda function's code",
        "Replaces the code of an existing function that runs as a more privileged role.",
        (_r("lambda:UpdateFunctionCode"),),
        Target.EXISTING_SERVICE_ROLES,
        service="lambda.amazonaws.com",
        note=_EXISTING.format(what="functions"),
        sources=(
            "Rhino #17",
            "Bishop Fox iam-vulnerable: privesc17-EditExistingLambdaFunctionWithRole",
            "PMapper LambdaEdgeChecker",
            "pathfinding.cloud lambda-003",
            "pathfinding.cloud lambda-004",
            "pathfinding.cloud lambda-005",
        ),
    ),
    Method(
        "ssm-command-on-instance",
        "Run commands on an existing EC2 instance",
        "Runs commands (SSM SendCommand or a Session Manager session) on an instance and "
        "uses its role.",
        (_r("ssm:SendCommand", "ssm:StartSession"),),
        Target.EXISTING_SERVICE_ROLES,
        service="ec2.amazonaws.com",
        note=_EXISTING.format(what="instances"),
        sources=(
            "Bishop Fox iam-vulnerable: privesc-ssmSendCommand, privesc-ssmStartSession",
            "PMapper SSMEdgeChecker",
            "pathfinding.cloud ssm-001",
            "pathfinding.cloud ssm-002",
        ),
    ),
    Method(
        "ec2-instance-connect",
        "Push an SSH key to an existing EC2 instance",
        "Pushes an SSH key with EC2 Instance Connect, logs in and uses the instance's role.",
        (_r("ec2-instance-connect:SendSSHPublicKey"),),
        Target.EXISTING_SERVICE_ROLES,
        service="ec2.amazonaws.com",
        note=_EXISTING.format(what="instances"),
        sources=("Bishop Fox iam-vulnerable: privesc-ec2InstanceConnect",),
    ),
    Method(
        "cloudformation-update-stack",
        "Update an existing CloudFormation stack",
        "Updates an existing stack with its own template; CloudFormation builds it as the "
        "role the stack already runs with, so no iam:PassRole is needed. A stack policy "
        "that protects resources only narrows what can be changed (and "
        "cloudformation:SetStackPolicy lifts it); new resources are always allowed.",
        (_r("cloudformation:UpdateStack"),),
        Target.EXISTING_SERVICE_ROLES,
        service="cloudformation.amazonaws.com",
        note=_EXISTING.format(what="stacks"),
        sources=(
            "Bishop Fox iam-vulnerable: privesc-cloudFormationUpdateStack",
            "PMapper CloudFormationEdgeChecker",
            "pathfinding.cloud cloudformation-002",
        ),
    ),
    Method(
        "cloudformation-change-set",
        "Change an existing CloudFormation stack through a change set",
        "Creates a change set on an existing stack and executes it; CloudFormation applies "
        "it as the role the stack already runs with.",
        (_r("cloudformation:CreateChangeSet"), _r("cloudformation:ExecuteChangeSet")),
        Target.EXISTING_SERVICE_ROLES,
        service="cloudformation.amazonaws.com",
        note=_EXISTING.format(what="stacks"),
        sources=(
            "PMapper CloudFormationEdgeChecker",
            "pathfinding.cloud cloudformation-005",
        ),
    ),
    Method(
        "passrole-sagemaker-processing-job",
        "Pass a role to a new SageMaker processing job",
        "Creates a processing job whose container (its own image and entry point) runs as "
        "a more privileged role.",
        (_PASS, _r("sagemaker:CreateProcessingJob")),
        Target.SERVICE_ROLES,
        service="sagemaker.amazonaws.com",
        sources=(
            "Bishop Fox iam-vulnerable: privesc-sageMakerCreateProcessingJob",
            "PMapper SageMakerEdgeChecker",
        ),
    ),
    Method(
        "passrole-sagemaker-training-job",
        "Pass a role to a new SageMaker training job",
        "Creates a training job whose container runs as a more privileged role.",
        (_PASS, _r("sagemaker:CreateTrainingJob")),
        Target.SERVICE_ROLES,
        service="sagemaker.amazonaws.com",
        sources=(
            "Bishop Fox iam-vulnerable: privesc-sageMakerCreateTrainingJob",
            "PMapper SageMakerEdgeChecker",
            "pathfinding.cloud sagemaker-002",
        ),
    ),
    Method(
        "passrole-sagemaker-tuning-job",
        "Pass a role to a new SageMaker hyperparameter tuning job",
        "Creates a hyperparameter tuning job whose training containers run as a more "
        "privileged role.",
        (_PASS, _r("sagemaker:CreateHyperParameterTuningJob")),
        Target.SERVICE_ROLES,
        service="sagemaker.amazonaws.com",
        sources=("iam-gov",),
    ),
    Method(
        "passrole-autoscaling-launch-configuration",
        "Pass a role to instances an Auto Scaling group launches",
        "Creates a launch configuration with a more privileged role's instance profile and "
        "an Auto Scaling group that launches it, then reads the role's credentials from "
        "the instance metadata.",
        (
            _PASS,
            _r("autoscaling:CreateLaunchConfiguration"),
            _r("autoscaling:CreateAutoScalingGroup"),
        ),
        Target.SERVICE_ROLES,
        service="ec2.amazonaws.com",
        sources=("PMapper AutoScalingEdgeChecker",),
    ),
    Method(
        "passrole-ec2-spot-instances",
        "Pass a role to a new EC2 Spot instance",
        "Requests a Spot instance with a more privileged role's instance profile and reads "
        "its credentials from the instance metadata.",
        (_PASS, _r("ec2:RequestSpotInstances")),
        Target.SERVICE_ROLES,
        service="ec2.amazonaws.com",
        sources=("pathfinding.cloud ec2-003",),
    ),
    Method(
        "lambda-update-function-configuration",
        "Change an existing Lambda function's configuration",
        "Adds its own layer (code that runs before the handler) to an existing function "
        "that runs as a more privileged role.",
        (_r("lambda:UpdateFunctionConfiguration"),),
        Target.EXISTING_SERVICE_ROLES,
        service="lambda.amazonaws.com",
        note=_EXISTING.format(what="functions"),
        sources=("Rhino (part 2)",),
    ),
    Method(
        "passrole-lambda-add-permission",
        "Pass a role to a new Lambda function and allow itself to invoke it",
        "Creates a Lambda function running as a more privileged role and adds a statement "
        "to the function's resource policy that lets it invoke the function.",
        (_PASS, _r("lambda:CreateFunction"), _r("lambda:AddPermission")),
        Target.SERVICE_ROLES,
        service="lambda.amazonaws.com",
        sources=("pathfinding.cloud lambda-006",),
    ),
    Method(
        "codebuild-start-build-override",
        "Start a build of an existing CodeBuild project with its own buildspec",
        "Starts a build of an existing project with a buildspec override, which runs its "
        "commands as the project's role.",
        (_r("codebuild:StartBuild", "codebuild:StartBuildBatch"),),
        Target.EXISTING_SERVICE_ROLES,
        service="codebuild.amazonaws.com",
        note=_EXISTING.format(what="projects"),
        sources=(
            "pathfinding.cloud codebuild-002",
            "pathfinding.cloud codebuild-003",
        ),
    ),
    Method(
        "passrole-ecs-service",
        "Pass a role to a new ECS service",
        "Registers a task definition with a more privileged task role and creates a service "
        "that runs it.",
        (_PASS, _r("ecs:RegisterTaskDefinition"), _r("ecs:CreateService")),
        Target.SERVICE_ROLES,
        service="ecs-tasks.amazonaws.com",
        sources=(
            "pathfinding.cloud ecs-001",
            "pathfinding.cloud ecs-003",
        ),
    ),
    Method(
        "ecs-execute-command",
        "Run commands in an existing ECS task",
        "Opens a shell in a running task (ECS Exec) and uses its task role.",
        (_r("ecs:ExecuteCommand"),),
        Target.EXISTING_SERVICE_ROLES,
        service="ecs-tasks.amazonaws.com",
        note=_EXISTING.format(what="tasks"),
        sources=("pathfinding.cloud ecs-006",),
    ),
    Method(
        "passrole-apprunner",
        "Pass a role to a new App Runner service",
        "Creates an App Runner service whose instances run its code as a more privileged "
        "instance role.",
        (_PASS, _r("apprunner:CreateService")),
        Target.SERVICE_ROLES,
        service="tasks.apprunner.amazonaws.com",
        sources=("pathfinding.cloud apprunner-001",),
    ),
    Method(
        "apprunner-update-service",
        "Replace an existing App Runner service's code",
        "Points an existing App Runner service at its own image or start command, which "
        "runs as the service's instance role.",
        (_r("apprunner:UpdateService"),),
        Target.EXISTING_SERVICE_ROLES,
        service="tasks.apprunner.amazonaws.com",
        note=_EXISTING.format(what="services"),
        sources=("pathfinding.cloud apprunner-002",),
    ),
    Method(
        "passrole-bedrock-agentcore-code-interpreter",
        "Pass a role to a new Bedrock AgentCore code interpreter",
        "Creates an AgentCore code interpreter running as a more privileged role, starts a "
        "session and runs code in it.",
        (
            _PASS,
            _r("bedrock-agentcore:CreateCodeInterpreter"),
            _r("bedrock-agentcore:StartCodeInterpreterSession"),
            _r("bedrock-agentcore:InvokeCodeInterpreter"),
        ),
        Target.SERVICE_ROLES,
        service="bedrock-agentcore.amazonaws.com",
        sources=("pathfinding.cloud bedrock-001",),
    ),
    Method(
        "passrole-glue-job",
        "Pass a role to a new Glue job and run it",
        "Creates a Glue job running its own script as a more privileged role, and starts "
        "it (directly or with a trigger).",
        (
            _PASS,
            _r("glue:CreateJob"),
            _r("glue:StartJobRun", "glue:CreateTrigger"),
        ),
        Target.SERVICE_ROLES,
        service="glue.amazonaws.com",
        sources=(
            "pathfinding.cloud glue-003",
            "pathfinding.cloud glue-004",
        ),
    ),
    Method(
        "passrole-glue-update-job",
        "Point an existing Glue job at its own script and a more privileged role",
        "Rewrites an existing Glue job (its script and its role) and starts it.",
        (_PASS, _r("glue:UpdateJob"), _r("glue:StartJobRun", "glue:CreateTrigger")),
        Target.SERVICE_ROLES,
        service="glue.amazonaws.com",
        note="which Glue jobs exist is not in an IAM snapshot: possible, not proven",
        sources=(
            "pathfinding.cloud glue-005",
            "pathfinding.cloud glue-006",
        ),
    ),
    Method(
        "ec2-modify-user-data",
        "Replace an existing EC2 instance's user data",
        "Stops an instance, replaces its user data with its own script and starts it: the "
        "script runs as the instance's role.",
        (
            _r("ec2:ModifyInstanceAttribute"),
            _r("ec2:StopInstances"),
            _r("ec2:StartInstances"),
        ),
        Target.EXISTING_SERVICE_ROLES,
        service="ec2.amazonaws.com",
        note=_EXISTING.format(what="instances"),
        sources=("pathfinding.cloud ec2-002",),
    ),
    Method(
        "ec2-launch-template-version",
        "Make an existing launch template run its own user data",
        "Creates a new version of a launch template (same instance profile, its own user "
        "data) and makes it the default; the next instance launched from it runs the "
        "script as the template's role.",
        (_r("ec2:CreateLaunchTemplateVersion"), _r("ec2:ModifyLaunchTemplate")),
        Target.EXISTING_SERVICE_ROLES,
        service="ec2.amazonaws.com",
        note=_EXISTING.format(what="launch templates"),
        sources=(
            "pathfinding.cloud ec2-004",
            "pathfinding.cloud ec2-005",
        ),
    ),
    Method(
        "passrole-ecs-task-override",
        "Run an existing ECS task definition with a more privileged task role",
        "Runs or starts a task from an existing task definition, overriding its task role "
        "(passed) and its command: no new task definition is needed.",
        (_PASS, _r("ecs:RunTask", "ecs:StartTask")),
        Target.SERVICE_ROLES,
        service="ecs-tasks.amazonaws.com",
        sources=(_PF + "ecs-007", _PF + "ecs-008", _PF + "ecs-009"),
    ),
    Method(
        "passrole-glue-interactive-session",
        "Pass a role to a new Glue interactive session and run code in it",
        "Creates a Glue interactive session running as a more privileged role and runs its "
        "own statements in it.",
        (_PASS, _r("glue:CreateSession"), _r("glue:RunStatement")),
        Target.SERVICE_ROLES,
        service="glue.amazonaws.com",
        sources=(_PF + "glue-007",),
    ),
    Method(
        "sagemaker-notebook-lifecycle-config",
        "Give an existing SageMaker notebook its own start-up script",
        "Stops a notebook instance, attaches a lifecycle configuration of its own and starts "
        "it: the script runs as the notebook's role.",
        (
            _r("sagemaker:CreateNotebookInstanceLifecycleConfig"),
            _r("sagemaker:StopNotebookInstance"),
            _r("sagemaker:UpdateNotebookInstance"),
            _r("sagemaker:StartNotebookInstance"),
        ),
        Target.EXISTING_SERVICE_ROLES,
        service="sagemaker.amazonaws.com",
        note=_EXISTING.format(what="notebooks"),
        sources=(_PF + "sagemaker-005",),
    ),
    Method(
        "passrole-ssm-automation",
        "Pass a role to an SSM Automation runbook of its own",
        "Creates an Automation document with a script step and starts it with a more "
        "privileged role as its AutomationAssumeRole.",
        (_PASS, _r("ssm:CreateDocument"), _r("ssm:StartAutomationExecution")),
        Target.SERVICE_ROLES,
        service="ssm.amazonaws.com",
        sources=(_PF + "ssm-003",),
    ),
    Method(
        "passrole-cloudformation-stackset",
        "Pass a role to a new CloudFormation StackSet and deploy it",
        "Creates a StackSet with a role CloudFormation assumes (the administration role, "
        "which reaches the execution role) and deploys stack instances that build its own "
        "template. Judged on the role passed: the execution role it leads to is not followed.",
        (
            _PASS,
            _r("cloudformation:CreateStackSet"),
            _r("cloudformation:CreateStackInstances"),
        ),
        Target.SERVICE_ROLES,
        service="cloudformation.amazonaws.com",
        sources=(_PF + "cloudformation-003",),
    ),
    Method(
        "passrole-cloudformation-update-stackset",
        "Rewrite an existing CloudFormation StackSet",
        "Updates an existing StackSet with its own template, passing the administration "
        "role CloudFormation assumes. Judged on the role passed: the execution role it leads "
        "to is not followed.",
        (_PASS, _r("cloudformation:UpdateStackSet")),
        Target.SERVICE_ROLES,
        service="cloudformation.amazonaws.com",
        note="which StackSets exist is not in an IAM snapshot: possible, not proven",
        sources=(_PF + "cloudformation-004",),
    ),
    Method(
        "passrole-batch-job",
        "Pass a role to a new AWS Batch job definition and submit it",
        "Registers a job definition whose job role is a more privileged role and submits a "
        "job running its own command.",
        (_PASS, _r("batch:RegisterJobDefinition"), _r("batch:SubmitJob")),
        Target.SERVICE_ROLES,
        service="ecs-tasks.amazonaws.com",
        sources=(_PF + "batch-001", _PF + "batch-003"),
    ),
    Method(
        "batch-submit-job-override",
        "Submit a job from an existing AWS Batch job definition with its own command",
        "Submits a job from an existing job definition, overriding its command, which runs "
        "as the definition's job role.",
        (_r("batch:SubmitJob"),),
        Target.EXISTING_SERVICE_ROLES,
        service="ecs-tasks.amazonaws.com",
        note=_EXISTING.format(what="job definitions"),
        sources=(_PF + "batch-002",),
    ),
    Method(
        "bedrock-agentcore-code-interpreter-session",
        "Run code in an existing Bedrock AgentCore code interpreter",
        "Starts a session in an existing code interpreter and runs code that reads its "
        "execution role's credentials.",
        (
            _r("bedrock-agentcore:StartCodeInterpreterSession"),
            _r("bedrock-agentcore:InvokeCodeInterpreter"),
        ),
        Target.EXISTING_SERVICE_ROLES,
        service="bedrock-agentcore.amazonaws.com",
        note=_EXISTING.format(what="code interpreters"),
        sources=(_PF + "bedrock-002",),
    ),
    Method(
        "passrole-bedrock-agentcore-runtime",
        "Pass a role to a new Bedrock AgentCore runtime and run commands in it",
        "Creates an AgentCore runtime (or harness, built on one) running as a more "
        "privileged role and runs shell commands in it.",
        (
            _PASS,
            _r("bedrock-agentcore:CreateAgentRuntime"),
            _r("bedrock-agentcore:CreateAgentRuntimeEndpoint"),
            _r("bedrock-agentcore:CreateWorkloadIdentity"),
            _r("bedrock-agentcore:InvokeAgentRuntimeCommand"),
        ),
        Target.SERVICE_ROLES,
        service="bedrock-agentcore.amazonaws.com",
        sources=(_PF + "bedrock-003", _PF + "bedrock-005"),
    ),
    Method(
        "bedrock-agentcore-invoke-runtime-command",
        "Run commands in an existing Bedrock AgentCore runtime",
        "Runs shell commands as root in an existing AgentCore runtime or harness and reads "
        "its execution role's credentials.",
        (_r("bedrock-agentcore:InvokeAgentRuntimeCommand"),),
        Target.EXISTING_SERVICE_ROLES,
        service="bedrock-agentcore.amazonaws.com",
        note=_EXISTING.format(what="runtimes"),
        sources=(_PF + "bedrock-004",),
    ),
    Method(
        "passrole-bedrock-agentcore-browser",
        "Pass a role to a new Bedrock AgentCore browser and drive it",
        "Creates an AgentCore custom browser running as a more privileged role, starts a "
        "session and drives it to read the role's credentials.",
        (
            _PASS,
            _r("bedrock-agentcore:CreateBrowser"),
            _r("bedrock-agentcore:StartBrowserSession"),
            _r("bedrock-agentcore:ConnectBrowserAutomationStream"),
        ),
        Target.SERVICE_ROLES,
        service="bedrock-agentcore.amazonaws.com",
        sources=(_PF + "bedrock-006",),
    ),
    Method(
        "bedrock-agentcore-browser-session",
        "Drive an existing Bedrock AgentCore browser",
        "Starts a session in an existing custom browser and drives it to read its execution "
        "role's credentials.",
        (
            _r("bedrock-agentcore:StartBrowserSession"),
            _r("bedrock-agentcore:ConnectBrowserAutomationStream"),
        ),
        Target.EXISTING_SERVICE_ROLES,
        service="bedrock-agentcore.amazonaws.com",
        note=_EXISTING.format(what="browsers"),
        sources=(_PF + "bedrock-007",),
    ),
    Method(
        "passrole-braket-job",
        "Pass a role to a new Amazon Braket hybrid job",
        "Creates a hybrid job whose script runs as a more privileged role.",
        (_PASS, _r("braket:CreateJob")),
        Target.SERVICE_ROLES,
        service="braket.amazonaws.com",
        sources=(_PF + "braket-001",),
    ),
    Method(
        "codedeploy-create-deployment",
        "Deploy its own revision to existing EC2 instances",
        "Registers a revision whose lifecycle hook runs its own script and deploys it to an "
        "existing deployment group: the script runs as the instances' role.",
        (
            _r("codedeploy:CreateDeployment"),
            _r("codedeploy:RegisterApplicationRevision"),
            _r("codedeploy:GetDeploymentConfig"),
        ),
        Target.EXISTING_SERVICE_ROLES,
        service="ec2.amazonaws.com",
        note=_EXISTING.format(what="deployment groups"),
        sources=(_PF + "codedeploy-001",),
    ),
    Method(
        "passrole-emr-cluster",
        "Pass a role to a new EMR cluster's instances",
        "Creates an EMR cluster whose instance profile is a more privileged role, with a "
        "step that runs its own command on the master node.",
        (_PASS, _r("elasticmapreduce:RunJobFlow")),
        Target.SERVICE_ROLES,
        service="ec2.amazonaws.com",
        sources=(_PF + "emr-001",),
    ),
    Method(
        "passrole-emr-serverless",
        "Pass a role to a new EMR Serverless job run",
        "Creates an EMR Serverless application and starts a job run whose script runs as a "
        "more privileged execution role.",
        (
            _PASS,
            _r("emr-serverless:CreateApplication"),
            _r("emr-serverless:StartJobRun"),
        ),
        Target.SERVICE_ROLES,
        service="emr-serverless.amazonaws.com",
        sources=(_PF + "emrserverless-001",),
    ),
    Method(
        "passrole-gamelift-fleet",
        "Pass a role to a new GameLift fleet running its own server build",
        "Uploads its own game server build and creates a fleet whose instance role is a "
        "more privileged role; the server process runs with its credentials.",
        (
            _PASS,
            _r("gamelift:CreateBuild"),
            _r("gamelift:RequestUploadCredentials"),
            _r("gamelift:CreateFleet"),
        ),
        Target.SERVICE_ROLES,
        service="gamelift.amazonaws.com",
        sources=(_PF + "gamelift-001",),
    ),
    Method(
        "passrole-imagebuilder",
        "Pass a role to an EC2 Image Builder build of its own",
        "Creates a component with its own commands, a recipe, an infrastructure "
        "configuration with a more privileged instance profile, and builds the image: the "
        "commands run as that role.",
        (
            _PASS,
            _r("imagebuilder:CreateComponent"),
            _r("imagebuilder:CreateImageRecipe"),
            _r("imagebuilder:CreateInfrastructureConfiguration"),
            _r("imagebuilder:CreateImage"),
        ),
        Target.SERVICE_ROLES,
        service="ec2.amazonaws.com",
        sources=(_PF + "imagebuilder-001",),
    ),
    Method(
        "passrole-kinesisanalytics",
        "Pass a role to a new Managed Apache Flink application",
        "Creates a Kinesis Data Analytics (Flink) application running its own code as a "
        "more privileged execution role and starts it.",
        (
            _PASS,
            _r("kinesisanalytics:CreateApplication"),
            _r("kinesisanalytics:StartApplication"),
        ),
        Target.SERVICE_ROLES,
        service="kinesisanalytics.amazonaws.com",
        sources=(_PF + "kinesisanalytics-001",),
    ),
    Method(
        "passrole-omics-workflow",
        "Pass a role to a new HealthOmics workflow run",
        "Creates a workflow whose task copies its execution role's credentials to S3, runs "
        "it with a more privileged role and reads them back.",
        (_PASS, _r("omics:CreateWorkflow"), _r("omics:StartRun"), _r("s3:GetObject")),
        Target.SERVICE_ROLES,
        service="omics.amazonaws.com",
        sources=(_PF + "omics-001",),
    ),
)

METHODS_BY_ID = {method.id: method for method in METHODS}
