"""The fast paths of the AWS single-account read (issue 17) against what they replace:
Access Advisor files normalised without the walk over every value, and grants built
without validating again what is validated already."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iam_gov.connectors.aws.export import (
    _TIME_KEYS,
    normal_last_accessed,
    read_last_accessed,
)
from iam_gov.errors import SourceError
from iam_gov.model import Grant
from iam_gov.timeutil import as_utc

from .conftest import ADMIN_ALL, MotoAccount

_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=8,
)
_TIMES = st.sampled_from(
    ["2026-12-08T08:00:00+00:00", "2026-12-08T10:00:00+02:00", "2026-12-08 08:00:00"]
)


def _as_before(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What read_last_accessed made of valid entries before: times read, then every value
    walked by normal_last_accessed."""
    read = []
    for entry in entries:
        entry = dict(entry)
        for key in _TIME_KEYS & entry.keys():
            entry[key] = as_utc(datetime.fromisoformat(str(entry[key])))
        read.append(entry)
    return normal_last_accessed(read)


@settings(max_examples=200)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"ServiceNamespace": st.sampled_from(["s3", "ec2", "iam"])},
            optional={
                "ServiceName": st.text(max_size=4),
                "LastAuthenticated": _TIMES,
                "LastAuthenticatedTime": _TIMES,
                "TrackedActionsLastAccessed": _VALUES,
                "Other": _VALUES,
            },
        ),
        max_size=5,
    )
)
def test_last_accessed_reads_as_before(
    tmp_path_factory: pytest.TempPathFactory, entries: list[dict[str, Any]]
) -> None:
    """Any Access Advisor file reads as the walk over every value read it: times as UTC
    text, everything else as it was, sorted by service."""
    path = tmp_path_factory.mktemp("advisor") / "alice.json"
    path.write_text(json.dumps({"JobStatus": "COMPLETED", "ServicesLastAccessed": entries}))
    assert read_last_accessed(path) == _as_before(entries)


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def test_the_first_problem_is_still_the_one_named(tmp_path: Path) -> None:
    """A value nested too deep is named only when every entry's namespace and times are
    right: a bad time later in the file is the problem named, as before."""
    path = tmp_path / "alice.json"
    deep = {"ServiceNamespace": "s3", "Tracked": _deep(40)}
    bad_time = {"ServiceNamespace": "ec2", "LastAuthenticated": "yesterday"}
    path.write_text(json.dumps({"ServicesLastAccessed": [deep, bad_time]}))
    with pytest.raises(SourceError, match=r"ServicesLastAccessed\[1\]\.LastAuthenticated"):
        read_last_accessed(path)
    path.write_text(json.dumps({"ServicesLastAccessed": [deep, {"ServiceName": "x"}]}))
    with pytest.raises(SourceError, match=r"ServicesLastAccessed\[1\] has no ServiceNamespace"):
        read_last_accessed(path)
    path.write_text(json.dumps({"ServicesLastAccessed": [deep]}))
    with pytest.raises(SourceError, match="nested deeper than the API ever writes"):
        read_last_accessed(path)


def test_grants_are_what_validation_would_build(small: MotoAccount, tmp_path: Path) -> None:
    """Every grant of an exported account, direct and through a group, is the Grant that
    validating its values builds: equal, the same hash and the same fields set."""
    policy = small.iam.create_policy(PolicyName="AdminAll", PolicyDocument=json.dumps(ADMIN_ALL))
    small.iam.create_group(GroupName="admins")
    small.iam.attach_group_policy(GroupName="admins", PolicyArn=policy["Policy"]["Arn"])
    small.iam.add_user_to_group(GroupName="admins", UserName="erin")
    small.iam.attach_user_policy(UserName="erin", PolicyArn=policy["Policy"]["Arn"])
    snapshot = small.export(tmp_path).collect()
    assert any(g.via for g in snapshot.grants) and any(g.via is None for g in snapshot.grants)
    for grant in snapshot.grants:
        given_values = {k: getattr(grant, k) for k in ("system", "account_id", "entitlement_id")}
        validated = Grant(**given_values, via=grant.via)
        assert grant == validated and hash(grant) == hash(validated)
        assert grant.model_fields_set == validated.model_fields_set
        assert grant.model_dump() == Grant.model_validate(grant.model_dump()).model_dump()
