"""Reading an Okta export with each file read once: what the index parsed already must say
exactly what reading the file again would, and the walk, the decoder and the paused
collector keep their promises."""

from __future__ import annotations

import gc
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.okta.export_index import json_files
from iam_gov.connectors.shared.files import BadFile, json_documents
from iam_gov.model import SnapshotError, SystemSnapshot
from tests.support.okta_server import OktaServer, Org, example_org, write_export

from .test_connector import account, export, okta_env

__all__ = ["okta_env"]  # the fixture, shared with test_connector


@pytest.fixture(scope="module")
def org() -> Org:
    return example_org()


@pytest.fixture(scope="module")
def exported(org: Org, okta_env: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("okta-export")
    with OktaServer(org) as server:
        write_export(server.url, folder)
    return folder


NEWCOMER = {
    "id": "00uNEWCOMER0001",
    "status": "ACTIVE",
    "created": "2026-01-02T03:04:05.000Z",
    "profile": {"login": "newcomer@example.com", "email": "newcomer@example.com"},
    "credentials": {"password": {}},
}
"""A member the user list does not have (created while the users were being listed)."""


def _spoil(folder: Path, org: Org) -> dict[str, Path]:
    """Bad records in a file of every kind the index parses, and a member read from its
    record; the files changed, by kind."""
    alice = org.user("alice@example.com").id
    engineering = org.group("Engineering").id
    app = next(a.id for a in org.apps.values() if a.direct)
    admin = next(u.id for u in org.users.values() if u.roles)
    changed = {
        "members": folder / "group-members" / f"{engineering}.json",
        "app-users": folder / "app-users" / f"{app}.json",
        "factors": folder / "factors" / f"{alice}.json",
        "roles": folder / "roles" / f"{admin}.json",
    }
    # Bad records that still look like what the file holds (a record that is no object
    # makes the file's content unrecognised: it is then read as its path says).
    extra: dict[str, list[Any]] = {
        "members": [NEWCOMER, {"id": "../x", "status": "ACTIVE", "profile": {"login": "x"}}],
        "app-users": [
            {"scope": "USER"},
            {"id": "../x", "scope": "USER"},
            {"id": "00uBADDATE0001", "scope": "USER", "created": "yesterday"},
        ],
        "factors": [{"factorType": "sms", "status": "ACTIVE"}],
        "roles": [
            {"id": "../x", "type": "USER_ADMIN", "label": "User Administrator"},
            {"id": "ra1BADDATE0001", "type": "SUPER_ADMIN", "label": "x", "created": "soon"},
        ],
    }
    for kind, path in changed.items():
        items = json.loads(path.read_text())
        path.write_text(json.dumps([*items, *extra[kind]], indent=2))
    return changed


def _in_pages(files: dict[str, Path]) -> None:
    """Each file as two page files (``<id>-page-1.json``, ``-page-2.json``): the reader then
    joins them, reading them again, as it did before the index parsed anything."""
    for path in files.values():
        items = json.loads(path.read_text())
        half = max(1, len(items) // 2)
        path.unlink()
        for number, page in enumerate((items[:half], items[half:]), start=1):
            (path.parent / f"{path.stem}-page-{number}.json").write_text(json.dumps(page))


def _said(errors: tuple[SnapshotError, ...]) -> list[tuple[str, str | None, str, str | None]]:
    return sorted(
        (Path(e.source).name.replace("-page-1", ""), e.record, e.message, e.consequence)
        for e in errors
    )


def _access(snapshot: SystemSnapshot) -> dict[str, Any]:
    return snapshot.model_dump(exclude={"source", "collected_at", "errors"})


def test_an_object_file_parsed_by_the_index_says_what_reading_it_again_says(
    exported: Path, tmp_path: Path, org: Org
) -> None:
    once = Path(shutil.copytree(exported, tmp_path / "once"))
    changed = _spoil(once, org)
    paged = Path(shutil.copytree(once, tmp_path / "paged"))
    _in_pages({k: paged / p.relative_to(once) for k, p in changed.items()})

    read_once = export(once).collect()
    read_paged = export(paged).collect()

    assert _access(read_once) == _access(read_paged)
    assert _said(read_once.errors) == _said(read_paged.errors)
    # And what both say is right: each bad record named, the rest read.
    said = {(e.record, e.message) for e in read_once.errors}
    numbered = sorted(m.split(" has ")[0] for r, m in said if r and r.startswith("item "))
    assert numbered == ["the app user", "the app user", "the role assignment", "the user"]
    assert any(r == "00uBADDATE0001" and "'yesterday'" in m for r, m in said)
    assert any(r == "ra1BADDATE0001" and "'soon'" in m for r, m in said)
    assert not read_once.complete
    newcomer = next(a for a in read_once.accounts if a.native_id == NEWCOMER["id"])
    assert newcomer.login == "newcomer@example.com"
    assert "sms" in (account(read_once, org, "alice").mfa_factors or ())


def test_a_factor_list_that_cannot_be_read_is_that_users_problem_read_once(
    exported: Path, tmp_path: Path, org: Org
) -> None:
    folder = Path(shutil.copytree(exported, tmp_path / "x"))
    alice = org.user("alice@example.com").id
    path = folder / "factors" / f"{alice}.json"
    factors = json.loads(path.read_text())
    path.write_text(json.dumps([*factors, {"factorType": "push", "status": ["ACTIVE"]}]))

    read = export(folder).collect()

    (problem,) = read.errors
    assert (problem.source, problem.record) == (str(path), alice)
    assert problem.message == "status is not a string"
    assert account(read, org, "alice").mfa_factors is None


# --- the walk -------------------------------------------------------------------------------


def _walked(folder: Path) -> list[tuple[Path, str]]:
    """What ``os.walk`` gives, as the index walked before: the reference order."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            if name.lower().endswith(".json") and not path.is_symlink():
                found.append((path, path.relative_to(folder).as_posix()))
    return found


def test_json_files_walks_as_os_walk_does_never_through_a_link(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    for relative in (
        "users.json",
        "B.JSON",
        "a.json",
        "notes.txt",
        "group-members/00g2.json",
        "group-members/00g1.json",
        "group-members/deep/x.json",
        "apps.json.bak",
        "z/y.json",
        "b/c.json",
    ):
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text("[]")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text("[]")
    (folder / "linked.json").symlink_to(outside / "secret.json")
    (folder / "linked-folder").symlink_to(outside, target_is_directory=True)
    (folder / "dangling.json").symlink_to(tmp_path / "nowhere.json")

    walked = list(json_files(folder))

    assert walked == _walked(folder)
    assert [r for _, r in walked] == [
        "B.JSON",
        "a.json",
        "users.json",
        "b/c.json",
        "group-members/00g1.json",
        "group-members/00g2.json",
        "group-members/deep/x.json",
        "z/y.json",
    ]


# --- the decoder and the collector ----------------------------------------------------------


def test_the_decoder_kept_between_files_still_names_each_files_duplicate_key(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    with pytest.raises(BadFile) as raised:
        json_documents('[\n{"id": 1,\n "id": 2}]', first)
    assert (raised.value.path, raised.value.line) == (first, 1)  # where the document starts
    assert "key 'id' twice" in raised.value.message

    assert json_documents('{"a": {"b": [1, 2]}} {"c": 3}', second) == [
        {"a": {"b": [1, 2]}},
        {"c": 3},
    ]
    with pytest.raises(BadFile) as raised:
        json_documents('[1]\n\n[{"x": 1, "y": {"z": 1, "z": 1}}]', second)
    assert (raised.value.path, raised.value.line, "key 'z' twice" in raised.value.message) == (
        second,
        3,
        True,
    )


@pytest.fixture
def collector_on() -> Iterator[None]:
    was_on = gc.isenabled()
    gc.enable()
    yield
    if not was_on:
        gc.disable()


def test_two_broken_files_that_differ_about_one_object_are_still_a_disagreement(
    exported: Path, tmp_path: Path, org: Org
) -> None:
    """Whether two files say the same is asked of their bytes, read when needed: two that
    are not even JSON, and differ, leave the part unknown as two readable ones would."""
    folder = Path(shutil.copytree(exported, tmp_path / "x"))
    alice = org.user("alice@example.com").id
    standard = folder / "factors" / f"{alice}.json"
    standard.write_text("[{")
    other = folder / "backup" / f"{alice}.factors.json"
    other.parent.mkdir()
    other.write_text("[[")

    read = export(folder).collect()

    (problem,) = read.errors
    assert problem.record == alice
    assert "differ: neither is taken" in problem.message
    assert account(read, org, "alice").mfa_factors is None
