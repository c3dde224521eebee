"""aws-admin-equivalent: a user, role or root user that can do anything; one finding per
root cause, listing every principal it makes admin-equivalent."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam_gov.model import Finding, Severity
from tests.support.aws_account import (
    ADMINISTRATOR_ACCESS,
    AWS_ADMINISTRATOR,
    ExportedAccount,
    allow,
    arn,
    deny,
    document,
    trust,
)
from tests.support.world import person

RULE = "aws-admin-equivalent"
ALICE = arn("user", "alice")
BOB = arn("user", "bob")
CAROL = arn("user", "carol")
ADMINS = arn("group", "admins")
BREAK_GLASS = (
    "version: 1\n"
    "accounts:\n"
    "  - {system: aws, login: breakglass, kind: break-glass, owner: security@example.com}\n"
)


@pytest.fixture
def aws(tmp_path: Path) -> ExportedAccount:
    return ExportedAccount(tmp_path / "export")


def by_subject(findings: list[Finding]) -> dict[str, Finding]:
    return {f.subject: f for f in findings}


def principals(finding: Finding) -> list[str]:
    return [p["arn"] for p in finding.evidence["principals"]]


def test_a_user_with_administrator_access_is_reported(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    admins = aws.group("admins", policies=[admin])
    aws.user("alice", employee_id="E1", groups=[admins])
    world = aws.world(people=[person("E1", "Alice Archer")])

    [finding] = world.findings(RULE)

    assert finding.severity is Severity.HIGH
    assert finding.subject == f"aws:{ADMINS}"
    assert finding.person_id == "E1"
    assert finding.message == (
        "aws user alice (Alice Archer) is admin-equivalent through group admins "
        "(AdministratorAccess): it allows every action (*) on every resource, without "
        "conditions."
    )
    evidence = finding.evidence
    assert evidence["cause"] == ADMINS
    assert evidence["grantors"] == [ADMINS]
    assert evidence["policies"] == [AWS_ADMINISTRATOR]
    assert evidence["count"] == 1
    assert evidence["principal_arn"] == ALICE and evidence["account_login"] == "alice"
    [alice] = evidence["principals"]
    assert alice["arn"] == ALICE and alice["login"] == "alice" and alice["type"] == "user"
    assert alice["person_id"] == "E1" and alice["person"] == "Alice Archer"
    assert alice["statements"] == [f"{AWS_ADMINISTRATOR} statement 1"]
    assert alice["chain"] == [ALICE]
    assert alice["method"] is None
    assert alice["expected"] is False
    assert evidence["method"] is None


def test_one_group_that_makes_many_admins_is_one_finding(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    admins = aws.group("admins", policies=[admin])
    aws.user("alice", employee_id="E1", groups=[admins])
    aws.user("bob", employee_id="E2", groups=[admins])
    aws.user("carol", groups=[admins])
    world = aws.world(people=[person("E1", "Alice Archer"), person("E2", "Bob Brown")])

    [finding] = world.findings(RULE)

    assert finding.subject == f"aws:{ADMINS}"
    assert finding.severity is Severity.HIGH
    assert finding.person_id is None  # several people
    assert finding.message == (
        "aws group admins (AdministratorAccess) makes 3 users admin-equivalent: it allows "
        "every action (*) on every resource, without conditions: user/alice (Alice Archer), "
        "user/bob (Bob Brown), user/carol."
    )
    assert principals(finding) == [ALICE, BOB, CAROL]
    assert [p["person_id"] for p in finding.evidence["principals"]] == ["E1", "E2", None]
    assert finding.evidence["count"] == 3
    assert finding.evidence["principal_arn"] is None
    assert finding.evidence["account_login"] is None


def test_a_long_list_is_cut_in_the_sentence_but_whole_in_the_evidence(
    aws: ExportedAccount,
) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    admins = aws.group("admins", policies=[admin])
    names = [f"user{i:02}" for i in range(12)]
    for name in names:
        aws.user(name, groups=[admins])

    [finding] = aws.world().findings(RULE)

    assert finding.message.startswith("aws group admins (AdministratorAccess) makes 12 users")
    assert finding.message.endswith(
        "user/user00, user/user01, user/user02, user/user03, user/user04 … and 7 more."
    )
    assert principals(finding) == [arn("user", n) for n in names]


def test_the_finding_keeps_its_id_as_the_group_gains_members(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    admins = aws.group("admins", policies=[admin])
    aws.user("alice", groups=[admins])
    [before] = aws.world().findings(RULE)

    aws.user("bob", groups=[admins])
    [after] = aws.world().findings(RULE)

    assert after.finding_id == before.finding_id
    assert principals(before) == [ALICE]
    assert principals(after) == [ALICE, BOB]


def test_a_policy_attached_directly_and_through_a_group_are_two_causes(
    aws: ExportedAccount,
) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    admins = aws.group("admins", policies=[admin])
    aws.user("alice", groups=[admins], policies=[admin])
    aws.user("bob", groups=[admins])
    aws.user("carol", policies=[admin])

    found = by_subject(aws.world().findings(RULE))

    # Removing alice from the group leaves her admin: she is listed under both causes.
    assert set(found) == {f"aws:{ADMINS}", f"aws:{AWS_ADMINISTRATOR}"}
    assert principals(found[f"aws:{ADMINS}"]) == [ALICE, BOB]
    direct = found[f"aws:{AWS_ADMINISTRATOR}"]
    assert principals(direct) == [ALICE, CAROL]
    assert direct.message.startswith(
        "aws policy AdministratorAccess attached directly makes 2 users admin-equivalent: "
    )


def test_star_colon_star_in_an_inline_policy_is_its_own_cause(aws: ExportedAccount) -> None:
    aws.user("alice", inline={"everything": document(allow("*:*"))})
    aws.user("bob", inline={"everything": document(allow("iam:*"))})

    found = by_subject(aws.world().findings(RULE))

    # Same name, different documents: two inline policies, two findings.
    alice = found[f"aws:{ALICE}#inline/everything"]
    assert principals(alice) == [ALICE]
    assert alice.evidence["principals"][0]["statements"] == [
        f"{ALICE}#inline/everything statement 1"
    ]
    assert alice.message == (
        "aws user alice is admin-equivalent through inline policy everything of user/alice: "
        "it allows every action (*) on every resource, without conditions."
    )
    bob = found[f"aws:{BOB}#inline/everything"]
    assert bob.message.endswith(
        "it allows every IAM action (iam:*) on every resource, without conditions."
    )


def test_identical_copies_of_an_inline_policy_are_one_cause(aws: ExportedAccount) -> None:
    everything = document(allow("*"))
    aws.user("alice", inline={"everything": everything})
    aws.user("bob", inline={"everything": everything})

    [finding] = aws.world().findings(RULE)

    assert finding.subject.startswith("aws:inline-policy/everything@")
    assert finding.evidence["grantors"] == [finding.subject.removeprefix("aws:")]
    assert finding.evidence["policies"] == [
        f"{ALICE}#inline/everything",
        f"{BOB}#inline/everything",
    ]
    assert finding.message == (
        "aws inline policy everything (the same document on 2 users) makes 2 users "
        "admin-equivalent: it allows every action (*) on every resource, without conditions: "
        "user/alice, user/bob."
    )


def test_a_user_that_can_become_an_admin_role_is_reported_as_an_escalation(
    aws: ExportedAccount,
) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    admin_role = aws.role("admin", trust(ALICE, BOB), policies=[admin])
    assume = document(allow("sts:AssumeRole", Resource=admin_role))
    aws.user("alice", inline={"p": assume})
    aws.user("bob", inline={"p": assume})

    world = aws.world()
    found = by_subject(world.findings(RULE))

    assert set(found) == {f"aws:{AWS_ADMINISTRATOR}", f"aws:{admin_role}:sts-assume-role"}
    role = found[f"aws:{AWS_ADMINISTRATOR}"]
    assert principals(role) == [admin_role]
    assert role.severity is Severity.HIGH
    assert role.evidence["principals"][0]["assumable_by"] == [f"aws:{ALICE}", f"aws:{BOB}"]
    assuming = found[f"aws:{admin_role}:sts-assume-role"]
    assert principals(assuming) == [ALICE, BOB]
    assert assuming.evidence["method"] == "sts-assume-role"
    assert assuming.evidence["method_name"] == "Assume a more privileged role"
    assert assuming.message == (
        "assuming aws role/admin makes 2 users admin-equivalent: each can become role/admin, "
        "which allows every action (*) on every resource, without conditions (a "
        "privilege-escalation path: Assume a more privileged role; reported here, not also "
        "under aws-privilege-escalation): user/alice, user/bob."
    )
    assert [p["chain"] for p in assuming.evidence["principals"]] == [
        [ALICE, admin_role],
        [BOB, admin_role],
    ]
    # Said once: the escalation rule does not report the same path again.
    assert world.findings("aws-privilege-escalation") == []


def test_writing_its_own_permissions_is_admin_and_says_it_is_an_escalation(
    aws: ExportedAccount,
) -> None:
    own = "arn:aws:iam::123456789012:user/${aws:username}"
    aws.user("alice", inline={"self": document(allow("iam:PutUserPolicy", Resource=own))})

    world = aws.world()
    [finding] = world.findings(RULE)

    assert finding.subject == f"aws:{ALICE}#inline/self:iam-put-user-policy"
    assert finding.evidence["method"] == "iam-put-user-policy"
    assert finding.message == (
        "aws user alice is admin-equivalent through inline policy self of user/alice: it can "
        "grant itself anything: iam:PutUserPolicy on user/alice (a privilege-escalation "
        "path: Write an inline policy on itself; reported here, not also under "
        "aws-privilege-escalation)."
    )
    assert world.findings("aws-privilege-escalation") == []


def test_who_may_assume_a_role_is_shown_as_aws_spells_it(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    deployer = aws.user("DeployBot")
    ci = aws.role("CI-Runner", trust(service="codebuild.amazonaws.com"))
    role = aws.role("PlatformAdmin", trust(deployer, ci, "123456789012"), policies=[admin])

    found = by_subject(aws.world().findings(RULE))

    # Those the trust names can become the role: a cause of its own, the most severe first
    # (CI-Runner is a role only CodeBuild can assume).
    assert principals(found[f"aws:{role}:sts-assume-role"]) == [deployer, ci]
    # IAM keeps the case of names; the analysis matches principals ignoring it, but a
    # reviewer searches the console for the name as it was written. A bare account id is
    # stored by AWS as the account's root ARN.
    [platform_admin] = found[f"aws:{AWS_ADMINISTRATOR}"].evidence["principals"]
    assert platform_admin["arn"] == role
    assert platform_admin["assumable_by"] == [
        "aws:arn:aws:iam::123456789012:role/CI-Runner",
        "aws:arn:aws:iam::123456789012:root",
        "aws:arn:aws:iam::123456789012:user/DeployBot",
    ]


def test_a_role_only_services_can_assume_is_medium(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    worker = aws.role("worker", trust(service="lambda.amazonaws.com"), policies=[admin])

    [finding] = aws.world().findings(RULE)

    assert finding.severity is Severity.MEDIUM
    assert finding.message == (
        "aws role worker, which only AWS services (lambda.amazonaws.com) can assume, is "
        "admin-equivalent through policy AdministratorAccess attached directly: it allows "
        "every action (*) on every resource, without conditions."
    )
    [role] = finding.evidence["principals"]
    assert role["arn"] == worker and role["severity"] == "medium"
    assert role["assumable_by"] == ["service:lambda.amazonaws.com"]


def test_a_cause_is_as_severe_as_the_worst_principal_it_affects(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    worker = aws.role("worker", trust(service="lambda.amazonaws.com"), policies=[admin])
    aws.user("alice", policies=[admin])

    [finding] = aws.world().findings(RULE)

    assert finding.severity is Severity.HIGH
    assert [(p["arn"], p["severity"]) for p in finding.evidence["principals"]] == [
        (ALICE, "high"),
        (worker, "medium"),
    ]
    assert finding.message.startswith(
        "aws policy AdministratorAccess attached directly makes 1 role and 1 user "
        "admin-equivalent: "
    )


def test_a_declared_break_glass_account_is_expected_and_the_root_user_low(
    aws: ExportedAccount,
) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.user("breakglass", policies=[admin])
    root = aws.root()
    world = aws.world(BREAK_GLASS)

    found = by_subject(world.findings(RULE))

    # admin by design: no finding, but expected by policy (explain, summary)
    assert set(found) == {f"aws:{root}"}
    [expected] = world.expected(RULE)
    assert expected.subject == f"aws:{AWS_ADMINISTRATOR}"
    assert expected.why == "declared break-glass account in the policy"
    assert expected.logins == ("breakglass",)
    assert expected.message.endswith(
        "; expected of a declared break-glass account, noted for the record."
    )
    assert found[f"aws:{root}"].severity is Severity.LOW
    assert found[f"aws:{root}"].message.startswith(
        "the aws root user is admin-equivalent: it is the account's root user, which no IAM "
        "policy limits"
    )
    assert found[f"aws:{root}"].message.endswith(
        "(keep it without access keys, with hardware MFA), noted for the record."
    )


def test_a_break_glass_account_sharing_a_cause_is_listed_as_expected(
    aws: ExportedAccount,
) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    admins = aws.group("admins", policies=[admin])
    aws.user("alice", groups=[admins])
    aws.user("breakglass", groups=[admins])

    [finding] = aws.world(BREAK_GLASS).findings(RULE)

    # alice makes the group's grant a problem; the break-glass account is expected.
    assert finding.severity is Severity.HIGH
    assert finding.evidence["expected"] is False
    assert [(p["login"], p["expected"], p["severity"]) for p in finding.evidence["principals"]] == [
        ("alice", False, "high"),
        ("breakglass", True, "low"),
    ]
    assert finding.message.endswith(
        ": user/alice, user/breakglass; of these, expected of declared break-glass accounts: "
        "user/breakglass."
    )


def test_a_non_admin_is_not_reported(aws: ExportedAccount) -> None:
    read = document(allow(["s3:*", "ec2:Describe*", "iam:Get*", "iam:List*"]))
    aws.user("alice", inline={"read": read})

    assert aws.world().findings(RULE) == []


def test_an_admin_under_a_deny_of_iam_is_not_reported(aws: ExportedAccount) -> None:
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.user("alice", policies=[admin], inline={"guard": document(deny("iam:*"))})

    assert aws.world().findings(RULE) == []
