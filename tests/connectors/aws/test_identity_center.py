"""IAM Identity Center read live from moto's server and from the CLI's files, into the model:
users, groups, memberships, permission sets per account, grants direct and through groups,
the permission-set documents, and the roles Identity Center provisions tied to them."""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from hypothesis import given, settings
from hypothesis import strategies as st

from iam_gov.connectors.aws.identity_center import (
    IdentityCenter,
    IdentityCenterParts,
    PermissionSetRecord,
    identity_center_parts,
    read_identity_center_export,
    read_identity_center_live,
    write_identity_center_export,
)
from iam_gov.connectors.aws.identity_center_model import primary_email
from iam_gov.errors import SourceError
from iam_gov.model import Account, AccountKind, AccountStatus, SnapshotError
from tests.support.moto_identity_center import (
    ACCOUNT_NAMES,
    ADMIN,
    INLINE,
    PROD,
    SANDBOX,
    STAGING,
    MotoIdentityCenter,
    build_identity_center,
    faithful_identity_center,
)

from .conftest import REGION, _reset

ATTEMPTS = 3
"""Tries of one call, the first included."""
CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": ATTEMPTS}, user_agent_extra="iam-gov"
)


@functools.cache
def _session() -> boto3.Session:
    return boto3.Session()


@pytest.fixture(scope="module", autouse=True)
def _faithful() -> Iterator[None]:
    with faithful_identity_center():
        yield


@pytest.fixture
def moto_ic(aws_endpoint: str) -> MotoIdentityCenter:
    """A fresh Identity Center in moto (the server was reset)."""
    return build_identity_center(_session(), aws_endpoint, REGION)


def _live(endpoint: str) -> IdentityCenter:
    found = read_identity_center_live(
        _session(), region=REGION, endpoint_url=endpoint, config=CONFIG
    )
    assert isinstance(found, IdentityCenter), found
    return found


def _parts(ic: IdentityCenter, roles: list[Account] | None = None) -> IdentityCenterParts:
    return identity_center_parts(ic, system="aws", account_names=ACCOUNT_NAMES, roles=roles or [])


def _grants(parts: IdentityCenterParts) -> set[tuple[str, str, str | None]]:
    return {(g.account_id, g.entitlement_id, g.via) for g in parts.grants}


def _comparable(parts: IdentityCenterParts) -> tuple[Any, ...]:
    return (
        parts.accounts,
        parts.entitlements,
        parts.grants,
        parts.documents,
        parts.settings,
        parts.complete,
        parts.roles,
    )


class _Fail:
    """Answers chosen calls of one operation with an AWS error at the wire (botocore's
    ``before-send``), as AWS would; every other call goes to moto."""

    def __init__(self, event: str, code: str, status: int, when: Callable[[dict[str, Any]], bool]):
        self.event, self.code, self.status, self.when = event, code, status, when
        self.calls = 0

    def __enter__(self) -> _Fail:
        _session().events.register(self.event, self._answer, unique_id=f"fail-{id(self)}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        _session().events.unregister(self.event, unique_id=f"fail-{id(self)}")

    def _answer(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        body = request.body
        params = json.loads(body.decode() if isinstance(body, bytes) else body or "{}")
        if not self.when(params):
            return None
        self.calls += 1
        raw = json.dumps({"__type": self.code, "message": "refused by the test"}).encode()
        headers = {"x-amzn-ErrorType": self.code, "Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, self.status, headers, _Raw(raw))


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


# --- live ------------------------------------------------------------------------------------


def test_live_parts_follow_the_contract(moto_ic: MotoIdentityCenter, aws_endpoint: str) -> None:
    """Users are human accounts with their primary address, groups and permission sets in
    each account are entitlements, and grants come direct and through groups."""
    parts = _parts(_live(aws_endpoint))
    assert parts.complete and not parts.errors
    assert parts.settings == {
        "instance_arn": moto_ic.instance_arn,
        "identity_store_id": moto_ic.identity_store_id,
        "region": REGION,
    }
    users = {a.login: a for a in parts.accounts}
    assert set(users) == {"alice", "bob", "carol"}
    alice = users["alice"]
    assert alice.native_id == moto_ic.user("alice")
    assert alice.email == "alice@example.com"  # the primary one, not the first
    assert users["bob"].email == "bob@example.com"
    assert users["carol"].email is None
    assert alice.display_name == "Alice Archer" and alice.kind is AccountKind.HUMAN
    assert alice.attributes["principal_type"] == "sso-user"
    assert alice.attributes["user_id"] == moto_ic.users["alice"]
    assert json.loads(alice.attributes["external_ids"]) == []

    admin, read_only = moto_ic.permission_sets["Admin"], moto_ic.permission_sets["ReadOnly"]
    entitlements = {e.entitlement_id: e for e in parts.entitlements}
    assert {e.name: e.kind for e in entitlements.values()} == {
        "Platform": "sso-group",
        "Analysts": "sso-group",
        "Admin in prod": "permission-set",
        "Admin in staging": "permission-set",
        "ReadOnly in prod": "permission-set",
    }
    assert entitlements[f"{admin}@{PROD}"].privileged
    assert entitlements[f"{admin}@{PROD}"].description == "Full administrator"
    assert not entitlements[f"{read_only}@{PROD}"].privileged

    platform, analysts = moto_ic.group("Platform"), moto_ic.group("Analysts")
    alice_id, bob, carol = moto_ic.user("alice"), moto_ic.user("bob"), moto_ic.user("carol")
    assert _grants(parts) == {
        (alice_id, platform, None),
        (bob, platform, None),
        (bob, analysts, None),
        (alice_id, f"{admin}@{PROD}", platform),
        (bob, f"{admin}@{PROD}", platform),
        (carol, f"{admin}@{STAGING}", None),
        (bob, f"{read_only}@{PROD}", analysts),
        (alice_id, f"{read_only}@{PROD}", None),
    }


def test_live_permission_set_documents(moto_ic: MotoIdentityCenter, aws_endpoint: str) -> None:
    """Each permission set is a document naming its managed, inline and customer managed
    policies, its boundary and every assignment, assigned or not."""
    documents = {d.name: d for d in _parts(_live(aws_endpoint)).documents}
    assert set(documents) == {"Admin", "ReadOnly", "Unused"}
    assert all(d.kind == "permission-set" for d in documents.values())
    read_only = documents["ReadOnly"]
    assert read_only.document_id == moto_ic.permission_sets["ReadOnly"]
    assert read_only.document == {
        "Name": "ReadOnly",
        "Description": "Read everything",
        "SessionDuration": "PT4H",
        "ManagedPolicies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        "InlinePolicy": INLINE,
        "CustomerManagedPolicies": [{"Name": "TeamData", "Path": "/teams/"}],
        "PermissionsBoundary": {"ManagedPolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        "Assignments": [
            {
                "AccountId": PROD,
                "PrincipalType": "GROUP",
                "PrincipalId": moto_ic.groups["Analysts"],
            },
            {"AccountId": PROD, "PrincipalType": "USER", "PrincipalId": moto_ic.users["alice"]},
        ],
    }
    admin = documents["Admin"].document
    assert admin["ManagedPolicies"] == [ADMIN] and admin["InlinePolicy"] is None
    assert admin["PermissionsBoundary"] == {
        "CustomerManagedPolicyReference": {"Name": "Fence", "Path": "/b/"}
    }
    assert {a["AccountId"] for a in admin["Assignments"]} == {PROD, STAGING}
    assert documents["Unused"].document["Assignments"] == []
    assert documents["Unused"].document["PermissionsBoundary"] is None


def test_instances_refused_is_one_problem(aws_endpoint: str) -> None:
    """When not even the instances can be listed, the read answers one problem saying what
    is left out, rather than an empty Identity Center."""
    with _Fail("before-send.sso-admin.ListInstances", "AccessDeniedException", 400, lambda _: True):
        found = read_identity_center_live(
            _session(), region=REGION, endpoint_url=aws_endpoint, config=CONFIG
        )
    assert isinstance(found, SnapshotError)
    assert "sso:ListInstances" in found.message and "AccessDeniedException" in found.message
    assert found.consequence is not None and "left out" in found.consequence


def test_identity_store_refused_is_incomplete_not_empty(
    moto_ic: MotoIdentityCenter, aws_endpoint: str
) -> None:
    """Without access to the Identity Store, the users are unknown: the read is incomplete
    and says so, the permission sets are still read, and no grant is made up."""
    with _Fail("before-send.identitystore.ListUsers", "AccessDeniedException", 400, lambda _: True):
        ic = _live(aws_endpoint)
    assert ic.users is None
    parts = _parts(ic)
    assert not parts.complete and not parts.accounts
    [error] = parts.errors
    assert error.message.startswith("identitystore:ListUsers: AccessDeniedException")
    assert error.consequence is not None and "users are unknown" in error.consequence
    assert {d.name for d in parts.documents} == {"Admin", "ReadOnly", "Unused"}
    assert not parts.grants


def test_a_throttled_membership_page_makes_it_incomplete(
    moto_ic: MotoIdentityCenter, aws_endpoint: str
) -> None:
    """A group whose members cannot be read (throttled past botocore's retries) leaves the
    read incomplete, says which group and what is lost, and keeps every other group."""
    platform = moto_ic.groups["Platform"]
    with _Fail(
        "before-send.identitystore.ListGroupMemberships",
        "ThrottlingException",
        400,
        lambda params: params.get("GroupId") == platform,
    ) as fail:
        ic = _live(aws_endpoint)
    assert fail.calls == ATTEMPTS  # retried, then given up
    parts = _parts(ic)
    assert not parts.complete
    [error] = parts.errors
    assert "ListGroupMemberships (group Platform)" in error.message
    assert "ThrottlingException" in error.message
    assert error.consequence is not None and "Platform" in error.consequence
    grants = _grants(parts)
    assert all(via != moto_ic.group("Platform") for _, _, via in grants)
    assert (moto_ic.user("bob"), moto_ic.group("Analysts"), None) in grants
    assert platform not in ic.memberships


def test_a_failing_second_page_keeps_no_part_of_the_group(aws_endpoint: str) -> None:
    """Every page of a large group is followed; when a later page fails, the pages read
    before it are not kept as if they were all its members."""
    from moto.identitystore.models import identitystore_backends

    ic_moto = build_identity_center(_session(), aws_endpoint, REGION)
    backend = identitystore_backends["123456789012"][REGION]
    store = ic_moto.identity_store_id
    for number in range(105):  # moto's pages hold 100
        user, _ = backend.create_user(
            store,
            f"user{number}",
            {"GivenName": "U", "FamilyName": str(number)},
            f"User {number}",
            *([None] * 10),  # type: ignore[arg-type]
        )
        backend.create_group_membership(store, ic_moto.groups["Analysts"], {"UserId": user})
    analysts = ic_moto.groups["Analysts"]
    assert len(_live(aws_endpoint).memberships[analysts]) == 106

    with _Fail(
        "before-send.identitystore.ListGroupMemberships",
        "InternalServerException",
        500,
        lambda params: params.get("GroupId") == analysts and "NextToken" in params,
    ) as fail:
        ic = _live(aws_endpoint)
    assert fail.calls == ATTEMPTS  # the second page, tried and retried
    assert analysts not in ic.memberships and not _parts(ic).complete
    assert ic.memberships[ic_moto.groups["Platform"]]


# --- export ----------------------------------------------------------------------------------


def test_export_reads_back_the_same(
    moto_ic: MotoIdentityCenter, aws_endpoint: str, tmp_path: Path
) -> None:
    """What a live read writes in the CLI's layout reads back as the same record and the
    same parts."""
    live = _live(aws_endpoint)
    files = write_identity_center_export(live, tmp_path)
    on_disk = [p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()]
    assert sorted(files) == sorted(on_disk)
    ps_id = moto_ic.permission_sets["ReadOnly"].rsplit("/", 1)[1]
    assert (tmp_path / "permission-sets" / ps_id / "assignments" / f"{PROD}.json").is_file()
    assert (
        tmp_path / "identitystore" / "memberships" / f"{moto_ic.groups['Platform']}.json"
    ).is_file()
    offline = read_identity_center_export(tmp_path)
    roles = [_role("AWSReservedSSO_Admin_0123456789abcdef", PROD)]
    assert _comparable(_parts(offline, roles)) == _comparable(_parts(live, roles))
    assert offline == live


def test_an_incomplete_read_writes_an_incomplete_export(
    moto_ic: MotoIdentityCenter, aws_endpoint: str, tmp_path: Path
) -> None:
    """A part that could not be read live is written as an empty file (what the CLI leaves
    when its call fails), and reading it back is incomplete the same way."""
    with _Fail(
        "before-send.sso-admin.GetPermissionsBoundaryForPermissionSet",
        "AccessDeniedException",
        400,
        lambda params: params.get("PermissionSetArn") == moto_ic.permission_sets["Unused"],
    ):
        live = _live(aws_endpoint)
    assert not _parts(live).complete
    write_identity_center_export(live, tmp_path)
    offline = _parts(read_identity_center_export(tmp_path))
    assert not offline.complete
    [error] = offline.errors
    assert error.source.endswith("get-permissions-boundary-for-permission-set.json")
    assert "empty" in error.message
    assert offline.documents == _parts(live).documents


@pytest.fixture(scope="module")
def _written(
    moto_server: str, aws_env: None, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, MotoIdentityCenter]:
    """The export of a fresh moto Identity Center, written once for the module."""
    _reset(moto_server)
    moto_ic = build_identity_center(_session(), moto_server, REGION)
    folder = tmp_path_factory.mktemp("identity-center")
    write_identity_center_export(_live(moto_server), folder)
    return folder, moto_ic


@pytest.fixture
def exported_ic(_written: tuple[Path, MotoIdentityCenter]) -> MotoIdentityCenter:
    return _written[1]


@pytest.fixture
def exported(_written: tuple[Path, MotoIdentityCenter], tmp_path: Path) -> Path:
    """A copy of that export, this test's to damage."""
    folder = tmp_path / "identity-center"
    shutil.copytree(_written[0], folder)
    return folder


def _ps_folder(folder: Path, name: str, moto_ic: MotoIdentityCenter) -> Path:
    return folder / "permission-sets" / moto_ic.permission_sets[name].rsplit("/", 1)[1]


@pytest.mark.parametrize(
    ("relative", "content", "said"),
    [
        ("identitystore/list-users.json", '{"Users": [', "not valid JSON"),
        ("identitystore/list-groups.json", '{"Groups": {}}', "Groups is missing or not a list"),
        ("list-instances.json", "[]", "not a JSON object"),
        ("list-permission-sets.json", '{"PermissionSets": ["ps-1"]}', "non-ARN"),
        ("ps:ReadOnly/assignments/222222222222.json", '{"AccountAssignments": [{}]}', "has no"),
        ("ps:Admin/describe-permission-set.json", '{"PermissionSet": 3}', "no PermissionSet"),
        (
            "ps:ReadOnly/get-inline-policy-for-permission-set.json",
            '{"InlinePolicy": {}}',
            "not text",
        ),
        ("ps:Admin/list-managed-policies-in-permission-set.json", '{"x": 1}\n{"y": 2', "JSON"),
        ("identitystore/list-users.json", '{"Users": [], "NextToken": "abc"}', "cut short"),
        (
            "identitystore/list-groups.json",
            '{"Groups": [{"GroupId": "../../list-instances"}]}',
            "cannot name a file",
        ),
        (
            "list-permission-sets.json",
            '{"PermissionSets": ["arn:aws:sso:::permissionSet/ssoins-1/ps-1/.."]}',
            "cannot name a file",
        ),
        (
            "ps:Admin/list-accounts-for-provisioned-permission-set.json",
            '{"AccountIds": ["../x"]}',
            "no account id",
        ),
    ],
)
def test_a_damaged_file_is_named(
    exported: Path, exported_ic: MotoIdentityCenter, relative: str, content: str, said: str
) -> None:
    """A file that is not what the CLI writes stops the read with a ``SourceError`` naming
    the file and what is wrong with it."""
    if relative.startswith("ps:"):
        name, rest = relative[3:].split("/", 1)
        path = _ps_folder(exported, name, exported_ic) / rest
    else:
        path = exported / relative
    path.write_text(content)
    with pytest.raises(SourceError) as raised:
        read_identity_center_export(exported)
    assert str(path) in str(raised.value) and said in str(raised.value)


def test_missing_files_are_parts_left_unread(
    exported: Path, exported_ic: MotoIdentityCenter
) -> None:
    """A group's memberships file or an account's assignments file that is missing is a part
    unread (incomplete, the file named), never an empty group or an unassigned account."""
    (exported / "identitystore" / "memberships" / f"{exported_ic.groups['Platform']}.json").unlink()
    (_ps_folder(exported, "Admin", exported_ic) / "assignments" / f"{STAGING}.json").unlink()
    parts = _parts(read_identity_center_export(exported))
    assert not parts.complete
    assert sorted(Path(e.source).name for e in parts.errors) == sorted(
        [f"{exported_ic.groups['Platform']}.json", f"{STAGING}.json"]
    )
    assert all(e.message == "no such file" for e in parts.errors)
    names = {e.name for e in parts.entitlements}
    assert "Admin in staging" not in names and "Admin in prod" in names


def test_export_without_the_accounts_list_reads_the_assignment_files(
    exported: Path, _written: tuple[Path, MotoIdentityCenter]
) -> None:
    """The accounts list is optional: without it, each assignments file found is an account
    where the permission set is assigned."""
    for folder in (exported / "permission-sets").iterdir():
        (folder / "list-accounts-for-provisioned-permission-set.json").unlink()
    offline = _parts(read_identity_center_export(exported))
    assert offline.complete
    assert _comparable(offline) == _comparable(_parts(read_identity_center_export(_written[0])))


def test_no_identity_center_folder_content(tmp_path: Path) -> None:
    """An instance list that is missing is a damaged export; an empty one is Identity Center
    not enabled: no parts and no settings."""
    with pytest.raises(SourceError, match="list-instances.json"):
        read_identity_center_export(tmp_path)
    write_identity_center_export(IdentityCenter(instance=None), tmp_path)
    parts = _parts(read_identity_center_export(tmp_path))
    assert parts.complete and parts.settings == {} and not parts.accounts


# --- roles Identity Center provisions --------------------------------------------------------


def _role(name: str, account: str, path: str = "/aws-reserved/sso.amazonaws.com/") -> Account:
    return Account(
        system="aws",
        native_id=f"arn:aws:iam::{account}:role{path}{name}",
        login=name,
        status=AccountStatus.ACTIVE,
        kind=AccountKind.SERVICE,
        attributes={"principal_type": "role", "path": path, "aws_account_id": account},
    )


def test_reserved_roles_are_tied_to_their_permission_set(
    moto_ic: MotoIdentityCenter, aws_endpoint: str
) -> None:
    """``AWSReservedSSO_<name>_<16 hex>`` under the reserved path, in an account where that
    permission set is assigned, carries it; a look-alike anywhere else stays untied."""
    admin, read_only = moto_ic.permission_sets["Admin"], moto_ic.permission_sets["ReadOnly"]
    roles = [
        _role("AWSReservedSSO_Admin_0123456789abcdef", PROD),
        _role(
            "AWSReservedSSO_ReadOnly_fedcba9876543210",
            PROD,
            "/aws-reserved/sso.amazonaws.com/eu-west-1/",
        ),
        _role("AWSReservedSSO_Admin_0123456789abcdef", STAGING),
        _role("AWSReservedSSO_Admin_0123456789abcdef", SANDBOX),  # not assigned there
        _role("AWSReservedSSO_ReadOnly_0123456789abcdef", STAGING),  # not assigned there
        _role("AWSReservedSSO_Unused_0123456789abcdef", PROD),  # assigned nowhere
        _role("AWSReservedSSO_Admin_0123456789abcdef", PROD, "/"),  # not the reserved path
        _role("AWSReservedSSO_Admin_0123456789abcde", PROD),  # 15 hex
        _role("AWSReservedSSO_Ghost_0123456789abcdef", PROD),  # no such permission set
    ]
    parts = _parts(_live(aws_endpoint), roles)
    tied = [
        (r.attributes.get("permission_set"), r.attributes.get("permission_set_entitlement"))
        for r in parts.roles
    ]
    assert tied == [
        (admin, f"{admin}@{PROD}"),
        (read_only, f"{read_only}@{PROD}"),
        (admin, f"{admin}@{STAGING}"),
        *[(None, None)] * 6,
    ]
    untouched = parts.roles[3:]
    assert untouched == roles[3:]  # the same roles, nothing added


# --- the model from hand-built records -------------------------------------------------------


def _ic(**extra: Any) -> IdentityCenter:
    base: dict[str, Any] = {
        "instance": {"InstanceArn": "arn:aws:sso:::instance/ssoins-1", "IdentityStoreId": "d-1"},
        "region": "eu-west-1",
        "users": [],
        "groups": [],
        "permission_sets": [],
    }
    return IdentityCenter(**{**base, **extra})


def test_employee_id_and_external_ids() -> None:
    """An external id whose issuer names an employee number is the account's employee id;
    every external id is kept in the attributes."""
    external = [
        {"Issuer": "https://scim.example.com", "Id": "00u1"},
        {"Issuer": "urn:hr:employeeNumber", "Id": "E042"},
    ]
    ic = _ic(users=[{"UserId": "u1", "UserName": "dora", "ExternalIds": external}])
    [account] = _parts(ic).accounts
    assert account.employee_id == "E042"
    assert json.loads(account.attributes["external_ids"]) == external
    ic = _ic(users=[{"UserId": "u1", "UserName": "dora", "ExternalIds": external[:1]}])
    assert _parts(ic).accounts[0].employee_id is None


@pytest.mark.parametrize(
    ("inline", "managed", "privileged", "complete"),
    [
        ({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}, [], True, True),
        (
            {"Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": ["*"]}]},
            [],
            True,
            True,
        ),
        ({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}, [], False, True),
        (None, ["arn:aws:iam::aws:policy/IAMFullAccess"], True, True),
        (None, ["arn:aws:iam::111111111111:policy/AdministratorAccess"], False, True),
        ("not json", [], False, False),
    ],
)
def test_privileged_permission_sets(
    inline: Any, managed: list[str], privileged: bool, complete: bool
) -> None:
    """A permission set is privileged when it carries AdministratorAccess (or IAMFullAccess)
    or an inline policy granting everything; an inline policy that cannot be read leaves it
    unknown and the read incomplete."""
    arn = "arn:aws:sso:::instance/ssoins-1/ps-1"
    record = PermissionSetRecord(
        arn=arn,
        described={"Name": "P"},
        managed_policies=[{"Arn": a, "Name": a.rsplit("/", 1)[1]} for a in managed],
        inline_policy=inline if isinstance(inline, str) else json.dumps(inline) if inline else "",
        customer_managed=[],
        boundary_read=True,
        accounts=[PROD],
        assignments={PROD: [{"AccountId": PROD, "PrincipalType": "USER", "PrincipalId": "u1"}]},
    )
    parts = _parts(_ic(users=[{"UserId": "u1", "UserName": "u"}], permission_sets=[record]))
    [entitlement] = parts.entitlements
    assert entitlement.privileged is privileged and entitlement.name == "P in prod"
    assert parts.complete is complete


def test_unknown_account_name_and_member() -> None:
    """An account without a name in Organizations is named by its id; a membership of a
    user the store does not list is left out and said."""
    record = PermissionSetRecord(
        arn="arn:aws:sso:::instance/ssoins-1/ps-2",
        described={"Name": "Ops"},
        assignments={"555555555555": [{"PrincipalType": "GROUP", "PrincipalId": "g1"}]},
    )
    ic = _ic(
        users=[{"UserId": "u1", "UserName": "u"}],
        groups=[{"GroupId": "g1", "DisplayName": "Ops"}],
        memberships={"g1": [{"GroupId": "g1", "MemberId": {"UserId": "gone"}}]},
        permission_sets=[record],
    )
    parts = _parts(ic)
    assert "Ops in 555555555555" in {e.name for e in parts.entitlements}
    assert not parts.grants
    [error] = parts.errors
    assert "'gone'" in error.message


emails = st.lists(
    st.fixed_dictionaries(
        {"Value": st.emails()}, optional={"Primary": st.booleans(), "Type": st.just("work")}
    ),
    max_size=4,
)


@settings(max_examples=60)
@given(emails)
def test_primary_email(found: list[dict[str, Any]]) -> None:
    """The address marked primary wins; else the first; none when there is none."""
    primary = [e["Value"] for e in found if e.get("Primary") is True]
    expected = primary[0] if primary else found[0]["Value"] if found else None
    assert primary_email(found) == expected
