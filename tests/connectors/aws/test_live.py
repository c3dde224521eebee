"""Reading a live account (moto): a user newer than the credential report is read user by user,
and a call that fails halfway leaves an incomplete snapshot, not a smaller account."""

from __future__ import annotations

from typing import Any

import boto3

from iam_gov.model import AccountStatus

from .access_advisor import AccessAdvisor
from .conftest import DAVE, MotoAccount, _create_dave, _credential_names, _dave


def test_live_user_missing_from_report_is_read_user_by_user(
    small: MotoAccount, advisor: AccessAdvisor
) -> None:
    _create_dave(small)
    session = advisor.install(boto3.Session())

    # AWS regenerates the report at most every four hours; moto always reports every user.
    # Drop dave's row, as a report generated before he was created would not have it.
    def older_report(parsed: dict[str, Any], **_: Any) -> None:
        lines = parsed["Content"].split(b"\n")
        parsed["Content"] = b"\n".join(line for line in lines if not line.startswith(b"dave,"))

    session.events.register("after-call.iam.GetCredentialReport", older_report)

    snapshot = small.live(session=session).collect()

    assert snapshot.complete, snapshot.errors
    dave = _dave(snapshot)
    assert dave.status is AccountStatus.ACTIVE and dave.mfa_factors == ()
    assert dave.employee_id == "E004"
    credentials = _credential_names(snapshot, DAVE)
    assert set(credentials) == {"password", "access_key_1"}
    assert credentials["password"].active and credentials["password"].created_at is not None
    assert credentials["access_key_1"].active
    assert credentials["access_key_1"].created_at is not None


def test_live_failure_halfway_gives_an_incomplete_snapshot(
    small: MotoAccount, advisor: AccessAdvisor
) -> None:
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    small.iam.create_access_key(UserName="erin")
    session = advisor.install(boto3.Session())

    # AWS failing after the users were listed, as it would: an error response, no exception
    # of our own making.
    def unavailable(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        error = {"Code": "ServiceUnavailable", "Message": "Please try again later."}
        return AWSResponse(small.endpoint, 503, HTTPHeaders(), None), {"Error": error}

    session.events.register("before-call.iam.GetCredentialReport", unavailable)

    snapshot = small.live(session=session).collect()

    assert not snapshot.complete
    (error,) = snapshot.errors
    assert error.source == "iam:GetCredentialReport"
    assert error.message == ("iam:GetCredentialReport: ServiceUnavailable: Please try again later.")
    # The user was listed, but without the report its credentials are unknown, not gone.
    (erin,) = snapshot.accounts
    assert erin.login == "erin"
    assert erin.status is AccountStatus.ACTIVE and erin.mfa_factors is None
    assert snapshot.credentials == ()
