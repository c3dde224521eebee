"""Unknown is not false, and not true: a login-profile path whose target's console password
the snapshot does not know (no credential report, or the user missing from it) is neither
certain nor absent — and the credential report is optional in export mode."""

from __future__ import annotations

from iam_gov.aws_policy import AwsAccount, Certainty, EscalationPath
from iam_gov.aws_policy.escalation import PASSWORD_UNKNOWN
from iam_gov.connectors.aws.connector import AWSConnector
from iam_gov.model import SystemSnapshot
from tests.support.aws_account import (
    ADMINISTRATOR_ACCESS,
    ROOT_ARN,
    SYSTEM,
    AwsWorld,
    ExportedAccount,
    allow,
    arn,
    document,
)

DEV = arn("user", "dev")
BOSS = arn("user", "boss")
ANY_USER = "arn:aws:iam::123456789012:user/*"
LOGIN = ("iam-create-login-profile", "iam-update-login-profile")


def login_paths(analysis: AwsAccount) -> dict[str, EscalationPath]:
    return {p.method.id: p for p in analysis.escalation_paths(DEV) if p.method.id in LOGIN}


def with_dev_and_boss(aws: ExportedAccount, *, boss_password: bool = True) -> None:
    """boss holds AdministratorAccess; dev may create or change any user's console
    password."""
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.user("boss", policies=[admin], password=boss_password)
    both = allow(["iam:CreateLoginProfile", "iam:UpdateLoginProfile"], Resource=ANY_USER)
    aws.user("dev", inline={"p": document(both)})


def collected(aws: ExportedAccount, *, report: bool = True) -> SystemSnapshot:
    options = aws.write()
    if not report:
        options = options.model_copy(update={"credential_report": None})
    return AWSConnector(SYSTEM, options).collect()


def world_of(snapshot: SystemSnapshot) -> AwsWorld:
    return AwsWorld(
        policy_yaml="version: 1\n",
        accounts=[a for a in snapshot.accounts if a.native_id != ROOT_ARN],
        entitlements=list(snapshot.entitlements),
        grants=list(snapshot.grants),
        credentials=[c for c in snapshot.credentials if c.account_id != ROOT_ARN],
        documents=list(snapshot.documents),
    )


def analysis_of(snapshot: SystemSnapshot) -> AwsAccount:
    return AwsAccount.from_view(world_of(snapshot).state().systems[SYSTEM])


def test_a_known_password_decides_which_login_method_works(aws: ExportedAccount) -> None:
    """With the report: a target with a password can have it changed (certain) but not be
    given one; a target without one the other way round."""
    with_dev_and_boss(aws, boss_password=True)
    has = login_paths(aws.analysis())
    assert set(has) == {"iam-update-login-profile"}
    assert has["iam-update-login-profile"].certainty is Certainty.CERTAIN
    assert has["iam-update-login-profile"].qualifiers == ()


def test_a_known_missing_password_allows_creating_one(aws: ExportedAccount) -> None:
    with_dev_and_boss(aws, boss_password=False)
    has = login_paths(aws.analysis())
    assert set(has) == {"iam-create-login-profile"}
    assert has["iam-create-login-profile"].certainty is Certainty.CERTAIN


def test_a_user_missing_from_the_report_leaves_both_methods_unknown(
    aws: ExportedAccount,
) -> None:
    """boss is not in the credential report: creating and changing its password are both
    possible paths, neither certain, each saying the password is unknown."""
    with_dev_and_boss(aws)
    aws.report = [row for row in aws.report if row[1] != BOSS]
    snapshot = collected(aws)
    assert not snapshot.complete
    assert any(e.record == BOSS for e in snapshot.errors)

    paths = login_paths(analysis_of(snapshot))

    assert set(paths) == set(LOGIN)
    for path in paths.values():
        assert path.target == BOSS and path.admin
        assert path.certainty is Certainty.CONDITIONAL
        assert path.qualifiers == (PASSWORD_UNKNOWN,)
        assert path.notes[0] == PASSWORD_UNKNOWN
    assert analysis_of(snapshot).is_admin_equivalent(DEV) is None


def test_a_known_target_is_preferred_to_an_unknown_one(aws: ExportedAccount) -> None:
    """Two admin users, one of them missing from the report: the path is certain, through
    the one whose password is known."""
    with_dev_and_boss(aws)
    admin = aws.aws_managed("AdministratorAccess", ADMINISTRATOR_ACCESS)
    aws.user("aaron", policies=[admin])  # sorts first, as likely a target as boss
    aws.report = [row for row in aws.report if row[1] != arn("user", "aaron")]

    paths = login_paths(analysis_of(collected(aws)))

    update = paths["iam-update-login-profile"]
    assert update.target == BOSS and update.certainty is Certainty.CERTAIN
    assert update.qualifiers == ()
    assert paths["iam-create-login-profile"].target == arn("user", "aaron")
    assert paths["iam-create-login-profile"].certainty is Certainty.CONDITIONAL


def test_the_credential_report_is_optional_in_export_mode(aws: ExportedAccount) -> None:
    """Without a report the export is still read: the snapshot says what is unknown, users'
    MFA is unknown rather than off, and the login paths are unknown, never certain."""
    with_dev_and_boss(aws)

    snapshot = collected(aws, report=False)

    assert not snapshot.complete
    assert any(
        e.source == "credential_report" and "console password" in e.message for e in snapshot.errors
    )
    boss = next(a for a in snapshot.accounts if a.native_id == BOSS)
    assert boss.mfa_factors is None
    paths = login_paths(analysis_of(snapshot))
    assert {p.certainty for p in paths.values()} == {Certainty.CONDITIONAL}
    assert set(paths) == set(LOGIN)


def test_the_finding_shows_the_unknown_password(aws: ExportedAccount) -> None:
    """The rule's evidence carries the qualifier, and the finding is not certain."""
    with_dev_and_boss(aws)

    findings = world_of(collected(aws, report=False)).findings("aws-privilege-escalation")

    login = [f for f in findings if f.evidence["method_id"] in LOGIN]
    assert {f.evidence["method_id"] for f in login} == set(LOGIN)
    for finding in login:
        assert finding.evidence["certainty"] == "conditional"
        assert PASSWORD_UNKNOWN in finding.evidence["principals"][0]["notes"]
        assert finding.evidence["principals"][0]["qualifiers"] == [PASSWORD_UNKNOWN]
