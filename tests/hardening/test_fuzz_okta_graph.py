"""Bad input for the Okta and Entra (Microsoft Graph) exports (issue 15): a damaged API
response file is read, refused with a typed error naming the file, or read incomplete saying
where — never another exception, never a user dropped silently."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iam_gov.errors import SourceError
from tests.hardening.fuzz_exports import (
    DAMAGED_FILES,
    DemoCopy,
    Mutation,
    byte_mutations,
    check_command,
    json_mutation,
    read_damaged,
    truncations,
)

OKTA = DAMAGED_FILES["okta"]
ENTRA = DAMAGED_FILES["entra"]
FILES = [*OKTA, *ENTRA]
# Okta answers `[]` when an org has no deprovisioned users: an empty list is no damage there.
MAY_BE_EMPTY = {"okta/users-deprovisioned.json"}


def _system(relative: str) -> str:
    return relative.split("/")[0]


@pytest.mark.parametrize("relative", FILES)
@settings(max_examples=6)
@given(mutation=byte_mutations())
def test_a_damaged_file_is_read_refused_or_incomplete(
    demo: DemoCopy, relative: str, mutation: Mutation
) -> None:
    """Truncated, a byte flipped, bytes inserted (NUL, bidi, CR, a 200 KB line) or deleted,
    or random: a typed error or problems saying where; no user lost silently."""
    read_damaged(demo, _system(relative), relative, mutation, may_be_empty=relative in MAY_BE_EMPTY)


@pytest.mark.parametrize("relative", FILES)
@settings(max_examples=6)
@given(data=st.data())
def test_json_of_the_wrong_shape_is_refused_or_incomplete(
    demo: DemoCopy, relative: str, data: st.DataObject
) -> None:
    """A value of the wrong type anywhere (null, a number, a string where a list is, lists
    nested thousands deep), a key written twice, a deeply nested document."""
    mutation = data.draw(json_mutation((demo.root / relative).read_bytes()))
    read_damaged(demo, _system(relative), relative, mutation, may_be_empty=relative in MAY_BE_EMPTY)


@pytest.mark.parametrize("relative", ["okta/users.json", "entra/users.json", "entra/users_3.json"])
@settings(max_examples=6)
@given(mutation=truncations())
def test_a_cut_off_user_list_is_never_read_as_complete(
    demo: DemoCopy, relative: str, mutation: Mutation
) -> None:
    """Users cut off anywhere (a page boundary too, in a file of several pages): refused or
    incomplete, never a complete tenant with fewer people."""
    outcome = read_damaged(demo, _system(relative), relative, mutation)
    assert outcome.kind != "read", mutation


def test_a_key_written_twice_is_refused_naming_it(demo: DemoCopy) -> None:
    """`{"id": "00u1", …, "id": "00u2"}`: json keeps the second silently; which user the
    record is, is unknown: refused at the file."""
    users = json.loads((demo.root / "okta/users.json").read_text())
    first = json.dumps(users[0])
    doubled = json.dumps(users).replace(first, first[:-1] + ', "id": "00uSOMEONEELSE"}', 1)
    with (
        demo.changed("okta/users.json", doubled.encode()) as path,
        pytest.raises(SourceError) as caught,
    ):
        demo.collect("okta")
    assert str(caught.value).startswith(f"{path}:1: not valid JSON (key 'id' twice")


def test_an_export_file_over_the_limit_is_not_read_to_be_indexed(
    demo: DemoCopy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every JSON file of an Okta export was read whole to take its digest before the size
    limit was checked; now it is refused from its size, unread."""
    monkeypatch.setenv("IAM_GOV_MAX_EXPORT_MB", "1")
    extra = demo.root / "okta" / "scratch" / "users_page9.json"
    extra.parent.mkdir()
    with extra.open("wb") as file:
        file.truncate(50_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(SourceError) as caught:
            demo.collect("okta")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        extra.unlink()
        extra.parent.rmdir()
    assert peak < 30_000_000
    assert f"{extra}: is 50 MB, over the size limit of 1 MB" in str(caught.value)


@pytest.mark.parametrize(
    ("relative", "partial"),
    [
        # a member list that is not one: that group's members are unknown
        ("okta/group-members/00g0d2512eb3c8150a3a.json", b'{"errorCode": "E0000047"}'),
        # the registration report cut to nothing useful: MFA unknown
        ("entra/reports_authenticationMethods_userRegistrationDetails.json", b'{"value": 7}'),
    ],
)
def test_the_command_fails_or_marks_the_system_and_stores_nothing_partial(
    demo: DemoCopy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    relative: str,
    partial: bytes,
) -> None:
    """`iam-gov collect`: a users file cut short exits 5 naming it, the store keeps the
    previous snapshot; a damaged secondary file exits 4 with an incomplete snapshot."""
    system = _system(relative)
    check_command(
        demo,
        system,
        unusable=(f"{system}/users.json", b'{"value": [{"id": "\x00\xe2\x80\xae'),
        partial=(relative, partial),
        db=tmp_path / "iam-gov.db",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
