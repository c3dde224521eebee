"""The organization collect against moto's server as real deployments meet it: member accounts
read a bounded number at a time, member-role credentials renewed when they expire, each member
with its own patience (a member that cannot be reached is uncollected, the others read), and
``config check --connect`` trying Organizations and every member role. What is counted is
counted at the wire: botocore's event hooks on the session the collect's clients come from."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError

from iam_gov.connectors.aws.connector import COLLECT_PERMISSIONS, AWSConnector, AWSOptions
from iam_gov.connectors.aws.organization import ORGANIZATION_PERMISSIONS
from iam_gov.connectors.shared.protocol import AccessCheck
from iam_gov.model import SystemSnapshot
from tests.support.moto_org import (
    EXTERNAL_ID,
    MANAGEMENT,
    MEMBER_ROLE,
    REGION,
    MotoOrganization,
    build_organization,
    faithful_assume_role,
    member_trust,
)

from .conftest import NOW, _reset

pytestmark = pytest.mark.filterwarnings(
    "ignore:Exception\\(STSClientError\\) with code AccessDenied:UserWarning"
)

EXTRA_MEMBERS = ("data", "security")
"""Added to the standard organization: five member accounts beside the management one."""


@pytest.fixture(scope="module")
def org(moto_server: str, aws_env: None) -> Iterator[MotoOrganization]:
    """The organization with five member accounts, built once (tests only read it)."""
    _reset(moto_server)
    with faithful_assume_role():
        built = build_organization(moto_server)
        organizations = boto3.client("organizations", endpoint_url=moto_server, region_name=REGION)
        for name in EXTRA_MEMBERS:
            status = organizations.create_account(AccountName=name, Email=f"aws+{name}@example.com")
            account_id = status["CreateAccountStatus"]["AccountId"]
            built.accounts[name] = account_id
            iam = built.iam(account_id)
            iam.create_role(
                RoleName=MEMBER_ROLE,
                AssumeRolePolicyDocument=json.dumps(member_trust(EXTERNAL_ID)),
            )
            iam.create_user(UserName=f"{name}-alice")
        yield built


def connector(org: MotoOrganization, session: boto3.Session, **extra: Any) -> AWSConnector:
    options = AWSOptions.model_validate(
        {
            "type": "aws",
            "mode": "live",
            "endpoint_url": org.endpoint,
            "organization": True,
            "external_id": EXTERNAL_ID,
            "identity_center": False,
            "access_advisor": False,
            **extra,
        }
    )
    return AWSConnector("aws-org", options, clock=lambda: NOW, session=session)


def principals_by_account(snapshot: SystemSnapshot) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for account in snapshot.accounts:
        found.setdefault(account.attributes["aws_account_id"], set()).add(account.login)
    return found


@dataclass
class Wire:
    """What went over the wire: each AssumeRole's answer (the key it handed out, for which
    account), and the access key every IAM request was signed with."""

    handed_out: dict[str, str] = field(default_factory=dict)
    """Access key id -> the account it was handed out for."""
    assumed: Counter[str] = field(default_factory=Counter)
    """Account id -> AssumeRole answers."""
    signed_with: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, session: boto3.Session) -> None:
        session.events.register("after-call.sts.AssumeRole", self._assumed)
        session.events.register("before-send.iam", self._sent)

    def _assumed(self, parsed: dict[str, Any], **_: Any) -> None:
        if "Credentials" not in parsed:  # a refusal
            return
        account = parsed["AssumedRoleUser"]["Arn"].split(":")[4]
        with self.lock:
            self.handed_out[parsed["Credentials"]["AccessKeyId"]] = account
            self.assumed[account] += 1

    def _sent(self, request: Any, **_: Any) -> None:
        key = str(request.headers["Authorization"]).split("Credential=")[1].split("/")[0]
        with self.lock:
            self.signed_with.append(key)

    def account_of(self, request: Any) -> str | None:
        key = str(request.headers["Authorization"]).split("Credential=")[1].split("/")[0]
        return self.handed_out.get(key)


def test_no_more_accounts_are_read_at_once_than_max_concurrent_accounts(
    org: MotoOrganization, aws_env: None
) -> None:
    """With ``max_concurrent_accounts = 2`` and six accounts, the authorization details of at
    most two accounts are being fetched at any moment, two are (the first two wait for each
    other), and every account is read."""
    session = boto3.Session()
    in_flight, most = 0, 0
    lock = threading.Lock()
    both = threading.Barrier(2, timeout=20)
    started = 0

    def before(**_: Any) -> None:
        nonlocal in_flight, most, started
        with lock:
            in_flight += 1
            most = max(most, in_flight)
            started += 1
            first_two = started <= 2
        if first_two:
            # proves two reads really overlap: with one worker this waits in vain and fails
            both.wait()

    def after(**_: Any) -> None:
        nonlocal in_flight
        with lock:
            in_flight -= 1

    operation = "iam.GetAccountAuthorizationDetails"
    session.events.register(f"before-call.{operation}", before)
    session.events.register(f"after-call.{operation}", after)
    session.events.register(f"after-call-error.{operation}", after)
    snapshot = connector(org, session, max_concurrent_accounts=2).collect()
    assert most == 2
    assert started == len(org.accounts) == 6
    assert snapshot.complete, snapshot.errors
    assert set(principals_by_account(snapshot)) == set(org.accounts.values())
    for name in EXTRA_MEMBERS:
        assert f"{name}-alice" in principals_by_account(snapshot)[org.accounts[name]]


def test_member_role_credentials_are_assumed_again_when_they_expire(
    org: MotoOrganization, aws_env: None
) -> None:
    """AWS's first answer for each member role says its credentials expire in a minute
    (within botocore's refresh window): the next call assumes the role again, and every IAM
    call of that account is signed with the renewed key, none with the expiring one."""
    session = boto3.Session()
    wire = Wire()
    wire.install(session)
    first_keys: dict[str, str] = {}

    def expiring_soon(parsed: dict[str, Any], **_: Any) -> None:
        account = parsed["AssumedRoleUser"]["Arn"].split(":")[4]
        with wire.lock:
            if account in first_keys:
                return
            first_keys[account] = parsed["Credentials"]["AccessKeyId"]
        parsed["Credentials"]["Expiration"] = datetime.now(UTC) + timedelta(minutes=1)

    session.events.register("after-call.sts.AssumeRole", expiring_soon)
    snapshot = connector(org, session).collect()
    assert snapshot.complete, snapshot.errors
    members = set(org.accounts.values()) - {MANAGEMENT}
    assert set(first_keys) == members
    assert all(wire.assumed[account] == 2 for account in members), wire.assumed
    used = Counter(wire.handed_out.get(key, MANAGEMENT) for key in wire.signed_with)
    assert set(used) == set(org.accounts.values())
    assert not set(first_keys.values()) & set(wire.signed_with)


def test_a_renewal_the_member_role_refuses_leaves_that_account_uncollected(
    org: MotoOrganization, aws_env: None
) -> None:
    """The credentials expire at once and STS refuses the sandbox role's renewal (AWS's
    AccessDenied, at the wire): sandbox is uncollected, saying so; the others are read."""
    session = boto3.Session()
    sandbox = org.accounts["sandbox"]
    asked: Counter[str] = Counter()
    lock = threading.Lock()

    def expiring_soon(parsed: dict[str, Any], **_: Any) -> None:
        if "Credentials" in parsed:  # after-call also sees the refusal's parsed error
            parsed["Credentials"]["Expiration"] = datetime.now(UTC) + timedelta(minutes=1)

    def refuse_renewal(request: Any, **_: Any) -> AWSResponse | None:
        body = unquote(request.body.decode() if isinstance(request.body, bytes) else request.body)
        if f"iam::{sandbox}:role/" not in body:
            return None
        with lock:
            asked[sandbox] += 1
            if asked[sandbox] == 1:
                return None
        return AWSResponse(request.url, 403, {}, _Body(_error_xml("sts", "AssumeRole")))

    session.events.register("after-call.sts.AssumeRole", expiring_soon)
    session.events.register("before-send.sts.AssumeRole", refuse_renewal)
    snapshot = connector(org, session).collect()
    [error] = snapshot.errors
    assert error.source == f"account {sandbox} (sandbox)"
    assert error.message.startswith(f"cannot assume arn:aws:iam::{sandbox}:role/{MEMBER_ROLE}")
    assert "AccessDenied" in error.message
    assert asked[sandbox] == 2
    assert snapshot.settings["organization"]["accounts"][sandbox]["collected"] is False
    assert set(principals_by_account(snapshot)) == set(org.accounts.values()) - {sandbox}


def _error_xml(service: str, action: str) -> bytes:
    """AWS's query-protocol AccessDenied answer."""
    return (
        f'<ErrorResponse xmlns="https://{service}.amazonaws.com/doc/"><Error>'
        "<Type>Sender</Type><Code>AccessDenied</Code><Message>User: "
        f"arn:aws:iam::{MANAGEMENT}:root is not authorized to perform: {service}:{action}"
        "</Message></Error><RequestId>4c1d</RequestId></ErrorResponse>"
    ).encode()


def test_member_role_credentials_that_do_not_expire_are_assumed_once(
    org: MotoOrganization, aws_env: None
) -> None:
    """The contrast: with AWS's hour-long credentials each member role is assumed once per
    collect, its key signing that account's IAM calls."""
    session = boto3.Session()
    wire = Wire()
    wire.install(session)
    snapshot = connector(org, session).collect()
    assert snapshot.complete, snapshot.errors
    members = set(org.accounts.values()) - {MANAGEMENT}
    assert wire.assumed == Counter(dict.fromkeys(members, 1))
    assert {wire.handed_out[k] for k in wire.signed_with if k in wire.handed_out} == members


def test_an_unreachable_member_is_uncollected_after_its_own_circuit_breaker_opens(
    org: MotoOrganization, aws_env: None
) -> None:
    """Every IAM call in the dev account fails to connect: after three such calls its own
    circuit breaker stops it asking, the account is uncollected (its principals unknown, not
    an empty account) with the reason, and every other account, the management account
    included, is read completely."""
    session = boto3.Session()
    wire = Wire()
    wire.install(session)
    dev = org.accounts["dev"]
    sent_to_dev = 0

    def unreachable(request: Any, **_: Any) -> None:
        nonlocal sent_to_dev
        if wire.account_of(request) == dev:
            with wire.lock:
                sent_to_dev += 1
            raise EndpointConnectionError(endpoint_url=request.url)

    session.events.register("before-send.iam", unreachable)
    snapshot = connector(org, session, max_attempts=1).collect()
    assert not snapshot.complete
    [error] = snapshot.errors
    assert error.source == f"account {dev} (dev)"
    assert "stopped answering" in error.message
    assert "Could not connect to the endpoint URL" in error.message
    assert error.consequence and "unknown" in error.consequence
    assert sent_to_dev == 3  # the breaker opens after three calls in a row; no fourth is sent
    accounts = snapshot.settings["organization"]["accounts"]
    assert accounts[dev]["collected"] is False
    assert all(a["collected"] for i, a in accounts.items() if i != dev)
    assert set(principals_by_account(snapshot)) == set(org.accounts.values()) - {dev}


def checks_by_permission(checks: list[AccessCheck]) -> dict[str, AccessCheck]:
    by = {c.permission: c for c in checks}
    assert len(by) == len(checks), "each check is one row"
    return by


def test_config_check_connect_tries_organizations_and_every_member_role(
    org: MotoOrganization, aws_env: None
) -> None:
    """Everything granted: the management account's reads, each Organizations read, and in
    each of the five member accounts the role assumed with every read granted through it."""
    checks = checks_by_permission(connector(org, boto3.Session()).check_access())
    for permission in (*COLLECT_PERMISSIONS, *ORGANIZATION_PERMISSIONS):
        assert permission in checks
    for permission in ORGANIZATION_PERMISSIONS:
        assert checks[permission].ok is True, checks[permission]
    assert checks["organizations:DescribeOrganization"].detail == (
        f"organization {org.organization_id}, management account {MANAGEMENT}"
    )
    assert checks["organizations:ListAccounts"].detail == "listed 6 accounts"
    assumed = {p: c for p, c in checks.items() if p.startswith("sts:AssumeRole in ")}
    assert set(assumed) == {
        f"sts:AssumeRole in {name} ({i})" for name, i in org.accounts.items() if i != MANAGEMENT
    }
    for check in assumed.values():
        assert check.ok is True
        assert f"role/{MEMBER_ROLE} with the external id" in check.detail
        assert "refused" not in check.detail
    assert not any(c.ok is False for c in checks.values())


def test_config_check_connect_names_every_member_that_refuses_a_wrong_external_id(
    org: MotoOrganization, aws_env: None
) -> None:
    """A wrong external id: the base credential's checks still pass, and each member account
    is one refused row naming it (name and id), the role and the trust it lacks."""
    checks = checks_by_permission(
        connector(org, boto3.Session(), external_id="not-the-external-id").check_access()
    )
    refused = {p: c for p, c in checks.items() if c.ok is False}
    assert set(refused) == {
        f"sts:AssumeRole in {name} ({i})" for name, i in org.accounts.items() if i != MANAGEMENT
    }
    prod = org.accounts["prod"]
    detail = refused[f"sts:AssumeRole in prod ({prod})"].detail
    assert f"arn:aws:iam::{prod}:role/{MEMBER_ROLE}" in detail
    assert "AccessDenied" in detail
    assert f"trust account {MANAGEMENT} with the external id" in detail
    assert all(checks[p].ok is True for p in ORGANIZATION_PERMISSIONS)


class _Body:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def test_config_check_connect_names_the_read_a_member_role_lacks(
    org: MotoOrganization, aws_env: None
) -> None:
    """A member role that may be assumed but is refused one read (IAM's own AccessDenied
    answer, given at the wire for the sandbox account only): the account's row says so, and
    the read is a refused row naming the account; the other members grant everything."""
    session = boto3.Session()
    wire = Wire()
    wire.install(session)
    sandbox = org.accounts["sandbox"]

    def denied(request: Any, **_: Any) -> AWSResponse | None:
        if wire.account_of(request) != sandbox:
            return None
        body = (
            '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error>'
            "<Type>Sender</Type><Code>AccessDenied</Code><Message>User: "
            f"arn:aws:sts::{sandbox}:assumed-role/{MEMBER_ROLE}/iam-gov is not authorized "
            "to perform: iam:GetAccountPasswordPolicy</Message></Error>"
            "<RequestId>4c1d</RequestId></ErrorResponse>"
        )
        return AWSResponse(request.url, 403, {}, _Body(body.encode()))

    session.events.register("before-send.iam.GetAccountPasswordPolicy", denied)
    checks = checks_by_permission(connector(org, session).check_access())
    refused = {p: c for p, c in checks.items() if c.ok is False}
    assert set(refused) == {f"iam:GetAccountPasswordPolicy in sandbox ({sandbox})"}
    assert "AccessDenied" in next(iter(refused.values())).detail
    row = checks[f"sts:AssumeRole in sandbox ({sandbox})"]
    assert row.ok is True and row.detail.endswith(", 1 refused")
    prod = org.accounts["prod"]
    assert not checks[f"sts:AssumeRole in prod ({prod})"].detail.endswith("refused")
