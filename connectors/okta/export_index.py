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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iam_gov.connectors.shared.files import (
    BadFile,
    json_documents,
    read_source,
    read_source_text,
)

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


def read_pages(path: Path) -> list[Any]:
    """The response bodies in a file: one JSON document, or several one after the other.

    A single JSON array whose items are all arrays is taken to be a list of pages too (what
    ``jq -s`` makes of several)."""
    try:
        text = read_source_text(path, "an Okta API response")
    except BadFile:
        if path.exists():
            raise
        raise BadFile(path, "file not found") from None
    pages = json_documents(text, path)
    if not pages:
        raise BadFile(path, "the file is empty")
    single = pages[0] if len(pages) == 1 else None
    if isinstance(single, list) and single and all(isinstance(p, list) for p in single):
        return list(single)
    return pages


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


def _links(item: Mapping[str, Any]) -> Mapping[str, Any]:
    links = item.get("_links")
    return links if isinstance(links, Mapping) else {}


def item_kind(item: Any) -> str | None:
    """Which API call returns a body like this one, or None."""
    if not isinstance(item, Mapping):
        return None
    profile = item.get("profile")
    profile = profile if isinstance(profile, Mapping) else {}
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


@dataclass(frozen=True)
class IndexedFile:
    path: Path
    relative: str
    kind: str | None
    """The content's kind; None when unrecognised or unreadable (``error``)."""
    error: BadFile | None
    digest: str
    ids: tuple[str, ...]
    """Id-shaped tokens of the path, in order (folders first, then the file name)."""
    words: tuple[str, ...]
    """The path's words, closest to the file name first, in the singular and lower case."""

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


def json_files(folder: Path) -> Iterator[Path]:
    """Every ``*.json`` file under ``folder``, in a stable order, never through a link."""
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            if name.lower().endswith(".json") and not path.is_symlink():
                yield path


def index_folder(folder: Path, skip: frozenset[Path] = frozenset()) -> list[IndexedFile]:
    """Each JSON file read once, classified; its bodies are read again when used, so that a
    big org's files are never all held at once."""
    indexed = []
    for path in json_files(folder):
        if path in skip:
            continue
        relative = path.relative_to(folder).as_posix()
        ids, words = path_tokens(relative)
        error: BadFile | None = None
        kind: str | None = None
        digest = ""
        try:
            digest = hashlib.sha256(read_source(path, "an Okta API response")).hexdigest()
            kind = content_kind(read_pages(path))
        except BadFile as exc:
            error = exc
        except OSError as exc:
            error = BadFile(path, f"cannot be read: {exc.strerror}")
        indexed.append(IndexedFile(path, relative, kind, error, digest, ids, words))
    return indexed
