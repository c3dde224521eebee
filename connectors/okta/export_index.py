"""Every JSON file of an Okta export folder, indexed once: what its content is (which API call
wrote it) and which ids and words its path holds, so that the reader finds each object's files
under whatever naming the exporting script used.

A file is tied to an object by that object's id appearing in its path (file name or folder:
``group-members/<id>.json``, ``groups/<id>/users.json``, ``group_<id>_users.json`` …) and
classified by its content: user bodies, app-user rows, app-group rows, factors, role
assignments. A file whose content says nothing (an empty list) is classified by the words in
its path (members or users, groups, factors, roles).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from iam_gov.connectors.okta.records import (
    RecordError,
    parse_app_group,
    parse_app_user,
    parse_each,
    parse_factor_kinds,
    parse_role,
)
from iam_gov.connectors.shared.files import BadFile, json_documents, read_source

# Kinds of content.
USER_BODIES = "users"
GROUP_BODIES = "groups"
APP_BODIES = "apps"
APP_USER_ROWS = "app-users"
APP_GROUP_ROWS = "app-groups"
FACTOR_BODIES = "factors"
ROLE_BODIES = "roles"
POLICY_BODIES = "policies"
ASSIGNEE_PAGES = "assignees"
EMPTY = "empty"
"""Only empty lists: what the file holds is told by its path."""

ID_PREFIX = {"00u": "user", "00g": "group", "0oa": "app"}
"""The id prefixes Okta gives users, groups and apps."""
_ID_SHAPE = re.compile(r"^(00u|00g|0oa)[A-Za-z0-9]{4,}$")
_TOKEN = re.compile(r"[^A-Za-z0-9]+")
_PAGE = re.compile(r"(?:page|part|p)[-_]?(\d+)", re.IGNORECASE)


def read_pages(path: Path, content: bytes | None = None) -> list[Any]:
    """The response bodies in a file: one JSON document, or several one after the other.
    ``content``: the file's bytes, when already read.

    A single JSON array whose items are all arrays is taken to be a list of pages too (what
    ``jq -s`` makes of several)."""
    if content is None:
        content = _read(path)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadFile(path, f"not UTF-8 text (byte {exc.start})") from None
    pages = json_documents(text, path)
    if not pages:
        raise BadFile(path, "the file is empty")
    single = pages[0] if len(pages) == 1 else None
    if isinstance(single, list) and single and all(isinstance(p, list) for p in single):
        return list(single)
    return pages


def _read(path: Path) -> bytes:
    try:
        return read_source(path, "an Okta API response")
    except BadFile:
        if path.exists():
            raise
        raise BadFile(path, "file not found") from None


def list_items(path: Path) -> list[Any]:
    """The items of a list endpoint's file: every page must be a JSON array."""
    items: list[Any] = []
    for number, page in enumerate(read_pages(path), start=1):
        if not isinstance(page, list):
            raise BadFile(
                path,
                f"page {number} is not a JSON array (is this the output of the call the file "
                "is named after?)",
            )
        items.extend(page)
    return items


def _is_object(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """A JSON object: a dict (asked first, the cheap way: every item of a big org passes
    here), or any other mapping."""
    return type(value) is dict or isinstance(value, Mapping)


def _links(item: Mapping[str, Any]) -> Mapping[str, Any]:
    links = item.get("_links")
    return links if _is_object(links) else {}


def item_kind(item: Any) -> str | None:
    """Which API call returns a body like this one, or None."""
    if not _is_object(item):
        return None
    profile = item.get("profile")
    profile = profile if _is_object(profile) else {}
    if "factorType" in item:
        return FACTOR_BODIES
    if item.get("type") == "PASSWORD" or ("conditions" in item and "settings" in item):
        return POLICY_BODIES
    if "scope" in item or "syncState" in item or ("credentials" in item and "app" in _links(item)):
        return APP_USER_ROWS
    if "priority" in item and (
        "group" in _links(item) or str(item.get("id", "")).startswith("00g")
    ):
        return APP_GROUP_ROWS
    if "type" in item and ("assignmentType" in item or "label" in item) and not profile:
        return ROLE_BODIES
    if "login" in profile and "status" in item:
        return USER_BODIES
    if "label" in item and ("signOnMode" in item or "name" in item):
        return APP_BODIES
    if "name" in profile and ("objectClass" in item or str(item.get("id", "")).startswith("00g")):
        return GROUP_BODIES
    return None


def content_kind(pages: list[Any]) -> str | None:
    """The kind of every item of a file's pages, when they all agree; else None."""
    if pages and all(isinstance(p, Mapping) and isinstance(p.get("value"), list) for p in pages):
        return ASSIGNEE_PAGES
    if not all(isinstance(p, list) for p in pages):
        return None
    kinds = {item_kind(item) for page in pages for item in page}
    if not kinds:
        return EMPTY
    return kinds.pop() if len(kinds) == 1 else None


MEMBER_IDS = "member ids"
"""What ``Preread.parse`` says for user bodies: each item's id (None: not an object with a
string id), which is all a group's members are once every id is a listed user's."""


@dataclass(frozen=True)
class Preread:
    """What the index made of an object's file while classifying it, so that the reader does
    not read and parse it a second time: ``items`` as ``parse`` gives them (``parse_each``;
    for factors the outcome of ``parse_factor_kinds``; for user bodies ``MEMBER_IDS``)."""

    parse: object
    items: Any


@dataclass(frozen=True)
class IndexedFile:
    path: Path
    relative: str
    kind: str | None
    """The content's kind; None when unrecognised or unreadable (``error``), or not read (a
    top-level list, taken by its name whatever it holds)."""
    error: BadFile | None
    ids: tuple[str, ...]
    """Id-shaped tokens of the path, in order (folders first, then the file name)."""
    words: tuple[str, ...]
    """The path's words, closest to the file name first, in the singular and lower case."""
    pre: Preread | None = None
    """An object's file (ids in its path) of a kind the reader parses: what it holds."""

    def items(self) -> list[Any]:
        """The items of the file's pages (``list_items``); ``BadFile`` if it cannot be read."""
        if self.error is not None:
            raise self.error
        return list_items(self.path)

    def digest(self) -> str:
        """The content's SHA-256: whether two files claiming one object say the same. Worked
        out only then (rarely): "" for a file that cannot be read (one that is not JSON has
        its digest, as when the index hashed every file)."""
        try:
            return hashlib.sha256(_read(self.path)).hexdigest()
        except BadFile:
            return ""

    def page_number(self) -> tuple[str, int] | None:
        """(the path without its page number, the number), for ``users_page2.json`` …"""
        found = list(_PAGE.finditer(self.relative))
        if not found:
            return None
        last = found[-1]
        return self.relative[: last.start()] + "#" + self.relative[last.end() :], int(last[1])

    def ids_of(self, owner: str) -> list[str]:
        return [i for i in self.ids if ID_PREFIX[i[:3]] == owner]


def path_tokens(relative: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    stem = relative[: -len(".json")] if relative.lower().endswith(".json") else relative
    parts = stem.split("/")
    ids: list[str] = []
    words: list[str] = []
    for part in parts:
        for token in _TOKEN.split(part):
            if _ID_SHAPE.match(token):
                ids.append(token)
    for part in reversed(parts):
        for token in reversed(_TOKEN.split(part)):
            if token and not _ID_SHAPE.match(token) and token.isalpha():
                word = token.lower()
                words.append(word[:-1] if word.endswith("s") and len(word) > 3 else word)
    return tuple(ids), tuple(words)


def json_files(folder: Path, prefix: str = "") -> Iterator[tuple[Path, str]]:
    """Every ``*.json`` file under ``folder``, never through a link, with its path relative to
    the export folder (``prefix``: the folder's own): a folder's files by name, then each of
    its folders by name (the order of ``os.walk``), with one ``scandir`` per folder and no
    ``stat`` per file. A folder that cannot be listed is passed over, as ``os.walk`` does."""
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name)
    except OSError:
        return
    folders = []
    for entry in entries:
        if _is(entry.is_dir):
            if not _is(entry.is_symlink):
                folders.append(entry.name)
        elif entry.name.lower().endswith(".json") and not _is(entry.is_symlink):
            yield folder / entry.name, prefix + entry.name
    for name in folders:
        yield from json_files(folder / name, f"{prefix}{name}/")


def _is(test: Callable[[], bool]) -> bool:
    try:
        return test()
    except OSError:
        return False


_PARSERS: dict[str, Callable[[Any], Any]] = {
    APP_USER_ROWS: parse_app_user,
    APP_GROUP_ROWS: parse_app_group,
    ROLE_BODIES: parse_role,
}


def preread(kind: str | None, pages: list[Any]) -> Preread | None:
    """What the reader takes from an object's file of this kind (every page a list), parsed
    now: the file is then read once. Parsers that need the whole org (a member not listed as
    a user) are left to the reader, which reads the file again."""
    if kind not in _PARSERS and kind not in (USER_BODIES, FACTOR_BODIES):
        return None
    items = [item for page in pages for item in page]
    if kind == USER_BODIES:
        return Preread(MEMBER_IDS, [raw.get("id") if _is_object(raw) else None for raw in items])
    if kind == FACTOR_BODIES:
        try:
            return Preread(parse_factor_kinds, parse_factor_kinds(items))
        except RecordError as exc:
            return Preread(parse_factor_kinds, exc)
    parse = _PARSERS[kind or ""]
    return Preread(parse, parse_each(items, parse))


def index_folder(
    folder: Path, skip: frozenset[Path] = frozenset(), by_name: frozenset[str] = frozenset()
) -> list[IndexedFile]:
    """Each JSON file read once and classified; an object's file (ids in its path) parsed
    as its part is (``Preread``), other files read again when used, so that a big org's raw
    files are never all held at once. ``by_name``: paths (relative, as in the layout) taken
    by their name whatever they hold, so not read here at all."""
    indexed = []
    for path, relative in json_files(folder):
        if path in skip:
            continue
        ids, words = path_tokens(relative)
        if relative in by_name:
            indexed.append(IndexedFile(path, relative, None, None, ids, words))
            continue
        error: BadFile | None = None
        kind: str | None = None
        pre: Preread | None = None
        try:
            pages = read_pages(path, read_source(path, "an Okta API response"))
            kind = content_kind(pages)
            if ids:
                pre = preread(kind, pages)
        except BadFile as exc:
            error = exc
        except OSError as exc:
            error = BadFile(path, f"cannot be read: {exc.strerror}")
        indexed.append(IndexedFile(path, relative, kind, error, ids, words, pre))
    return indexed
