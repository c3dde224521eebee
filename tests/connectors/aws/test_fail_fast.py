"""The AWS connector against endpoints that fail: an optional part (Access Advisor) that
answers an HTML error page leaves that part unknown and never aborts the collect; a dead
endpoint ends the collect in seconds, at the start or mid-collect."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from iam_gov.connectors.aws.connector import AWSConnector, AWSOptions
from iam_gov.connectors.aws.live import ADVISOR_UNKNOWN
from iam_gov.errors import ConnectorError

from .access_advisor import AccessAdvisor
from .conftest import NOW, MotoAccount, iam_client

# Before: botocore retried each call 10 times (adaptive backoff up to 20 s), and every call
# after a server went away did the same: 25 s for a closed port, 54 s for a server stopped
# after the authorization details with three users (more with every principal).
GIVE_UP_SECONDS = 15.0


@pytest.fixture
def small(aws_endpoint: str) -> MotoAccount:
    iam = iam_client(aws_endpoint)
    for name in ("erin", "frank", "gina", "hank", "ivy", "jack"):
        iam.create_user(UserName=name)
    iam.create_role(RoleName="ops", AssumeRolePolicyDocument="{}")
    return MotoAccount(aws_endpoint, iam)


@pytest.mark.parametrize("status", [200, 404, 500])
def test_an_access_advisor_error_page_leaves_it_unknown_and_the_rest_is_collected(
    small: MotoAccount, advisor: AccessAdvisor, status: int
) -> None:
    advisor.error_page = status

    snapshot = small.live().collect()  # before: ResponseParserError, "internal error" (70)

    assert not snapshot.complete
    (error,) = snapshot.errors  # said once, not once per principal
    assert error.consequence == ADVISOR_UNKNOWN
    assert error.message.startswith("Access Advisor could not be used (")
    assert error.message.endswith("service last accessed data is unknown for 7 of 7 principals")
    assert len(error.message) < 700  # the page is not quoted whole
    # Everything else was read, and the first failure stopped the calls for the others.
    assert {a.login for a in snapshot.accounts} >= {"erin", "jack", "ops"}
    assert "password_policy" in snapshot.settings
    assert len(advisor.calls) < 7


def test_error_pages_answered_side_by_side_leave_only_access_advisor_unknown(
    small: MotoAccount, advisor: AccessAdvisor
) -> None:
    """Access Advisor's calls run four at a time: error pages for all four at once open the
    circuit breaker, yet the server answered — the collect is not failed as "AWS stopped
    answering" (it was, now and then, on a loaded machine), only the advisor's part is
    unknown."""
    advisor.error_page = 404
    advisor.together = threading.Barrier(4)

    snapshot = small.live().collect()

    assert len(advisor.calls) == 4  # all four failed together
    assert not snapshot.complete
    (error,) = snapshot.errors
    assert error.consequence == ADVISOR_UNKNOWN
    assert {a.login for a in snapshot.accounts} >= {"erin", "jack", "ops"}


def test_a_principal_refused_by_access_advisor_is_its_own_gap(
    small: MotoAccount, advisor: AccessAdvisor
) -> None:
    advisor.refused = {f"arn:aws:iam::123456789012:user/{name}" for name in ("erin", "ivy")}

    snapshot = small.live().collect()

    assert not snapshot.complete
    assert sorted(e.record or "" for e in snapshot.errors) == sorted(advisor.refused)
    assert all(e.consequence == ADVISOR_UNKNOWN for e in snapshot.errors)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_closed_port_ends_the_collect_in_seconds(aws_env: None) -> None:
    options = AWSOptions.model_validate(
        {"type": "aws", "mode": "live", "endpoint_url": f"http://127.0.0.1:{_closed_port()}"}
    )
    started = time.monotonic()

    with pytest.raises(ConnectorError, match="cannot reach AWS: sts:GetCallerIdentity"):
        AWSConnector("aws-prod", options, clock=lambda: NOW).collect()

    assert time.monotonic() - started < GIVE_UP_SECONDS


@pytest.fixture
def own_server(aws_env: None) -> Iterator[Any]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_server_that_stops_mid_collect_ends_it_in_seconds(own_server: Any) -> None:
    host, port = own_server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    iam = iam_client(endpoint)
    for number in range(12):
        iam.create_user(UserName=f"user{number}")
    session = boto3.Session()
    # The server goes away right after the authorization details were read.
    session.events.register(
        "after-call.iam.GetAccountAuthorizationDetails", lambda **_: own_server.stop()
    )
    options = AWSOptions.model_validate({"type": "aws", "mode": "live", "endpoint_url": endpoint})
    connector = AWSConnector("aws-prod", options, clock=lambda: NOW, session=session)
    started = time.monotonic()

    with pytest.raises(ConnectorError, match="AWS stopped answering during the collect"):
        connector.collect()

    assert time.monotonic() - started < GIVE_UP_SECONDS


def test_the_collect_deadline_stops_asking_and_says_what_is_unknown(
    small: MotoAccount, advisor: AccessAdvisor
) -> None:
    # A server that answers, slowly: Access Advisor never finishes its jobs in time.
    advisor.in_progress = 1000
    connector = small.live(deadline_seconds=2.0)
    started = time.monotonic()

    snapshot = connector.collect()

    assert time.monotonic() - started < GIVE_UP_SECONDS
    assert not snapshot.complete
    assert any(
        e.consequence == ADVISOR_UNKNOWN and "deadline" in e.message for e in snapshot.errors
    )
