"""Who a WireGuard peer is: the mapping file, or the comments next to its ``[Peer]`` block.

Comment conventions (``comment_convention = "auto"``, the default), in a comment line that
belongs to the peer (directly above its ``[Peer]`` header, inside the block, or directly
after it):

* ``# iam-gov: login=jdoe email=jane.doe@example.com employee_id=E1001 kind=human
  name="Jane Doe"`` — explicit; any of the keys; quote values with spaces. Its values win
  over the other conventions. (``comment_convention = "iam-gov"`` reads only this one.)
* ``# Name = jdoe`` (also ``# friendly_name = jdoe``, as prometheus_wireguard_exporter reads
  it; ``#Name: jdoe``, ``# name=jdoe``, ``# user: jdoe``, ``# username``, ``# login``,
  wg-portal's ``# Display name: …``, optionally after its ``-WGP-`` marker): a login, an
  e-mail address, or, with spaces, a display name.
* ``# Email: jane.doe@example.com`` (also ``e-mail``, ``mail``), as WireGuard UI
  (ngoduykhanh/wireguard-ui) writes above each ``[Peer]`` with ``# Name: …``; a value that
  is not an e-mail address (empty, ``n/a``) is ignored.
* ``# jdoe@example.com``: a comment that is one e-mail address.
* ``### begin jdoe ###``: PiVPN's marker; the client name is the login.

and, in hand-written files, free text — read only from the comments that can only be this
peer's (``Peer.naming``: the trailing comment of its ``[Peer]`` or ``PublicKey`` line, the
comments at the top of its block, and the comments directly above its ``[Peer]`` with no
blank line between), nearest to the header first, and below all of the above:

* ``# jdoe``: one word that can be a login (not a word like ``clients`` or ``laptop``);
* ``# Jane Doe``: two to four capitalised words, a display name;
* ``# jane.doe@example.com phone``: an e-mail address, then a note;
* any of these followed by ``(laptop)`` or `` - laptop``: the note.

A comment after a blank line, in the middle or at the end of a block, or of the interface,
names nobody: ``# build runner`` two lines above a ``[Peer]`` (blank between), or a ``# ---``
separator, leave the peer named by its key.

The mapping file (YAML, shared with the OpenVPN connector, which reads the ``cn`` entries)
wins over all comments, field by field::

    identities:
      - public_key: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
        login: jdoe
        email: jane.doe@example.com
        employee_id: E1001
        kind: human          # or service
        note: laptop
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from iam_gov.connectors.shared.vpn_identities import read_identities
from iam_gov.connectors.wireguard.conf import ConfLine, ConfProblem, is_key

CommentConvention = Literal["auto", "iam-gov", "off"]

_IAM_GOV = re.compile(r"^#+\s*iam-gov\s*:(.*)$", re.IGNORECASE)
_NAME = re.compile(
    r"^#+\s*(?:-WGP-\s*)?(?:name|friendly_name|display[ _]?name|user|username|login)"
    r"\s*[=:]\s*(\S.*?)\s*$",
    re.IGNORECASE,
)
_EMAIL_KEY = re.compile(r"^#+\s*(?:-WGP-\s*)?(?:e-?mail|mail)\s*[=:]\s*(\S+)\s*$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")
_SHELL_QUOTING = re.compile(r"[\"'\\]")
_SHELL_SPACE = re.compile(r"[ \t\r\n]+")
_LOGIN = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,63}$")
_NOTE_IN_PARENS = re.compile(r"^(.*?)\s*\(([^()]*)\)$")
_NOTE_AFTER_DASH = re.compile(r"^(.*?)\s+[-\u2013\u2014]+\s+(.*)$")
_NOT_A_LOGIN = frozenset(
    {
        *("peer", "peers", "client", "clients", "user", "users", "device", "devices"),
        *("server", "servers", "interface", "vpn", "wireguard", "wg", "disabled", "enabled"),
        *("old", "new", "unused", "removed", "revoked", "deprecated", "todo", "fixme", "tbd"),
        *("laptop", "phone", "mobile", "desktop", "tablet", "router", "iphone", "android"),
    }
)
_EMAIL_COMMENT = re.compile(r"^#+\s*([^\s@]+@[^\s@]+\.[^\s@]+)\s*$")
_PIVPN_BEGIN = re.compile(r"^###\s*begin\s+(\S+)\s*###$", re.IGNORECASE)
_COMMENT_KEYS = {"login", "email", "employee_id", "kind", "name"}
_SAFE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class Identity:
    login: str | None = None
    email: str | None = None
    employee_id: str | None = None
    display_name: str | None = None
    kind: Literal["human", "service"] | None = None
    note: str | None = None
    source: str = "key"
    """``mapping``, ``comment`` or ``key`` (nothing names the peer)."""

    def over(self, other: Identity) -> Identity:
        """This identity, with what it lacks taken from ``other``."""
        return Identity(
            login=self.login or other.login,
            email=self.email or other.email,
            employee_id=self.employee_id or other.employee_id,
            display_name=self.display_name or other.display_name,
            kind=self.kind or other.kind,
            note=self.note or other.note,
            source=self.source if self.source != "key" else other.source,
        )


# --- the mapping file -------------------------------------------------------------------------


def load_identities(path: Path) -> dict[str, Identity]:
    """Public key -> identity; ``cn`` entries are the OpenVPN connector's and are skipped."""

    def check(value: str) -> str | None:
        return None if is_key(value) else "not a WireGuard public key (base64 of 32 bytes)"

    return {
        key: Identity(
            login=entry.login,
            email=entry.email,
            employee_id=entry.employee_id,
            kind=entry.kind,
            note=entry.note,
            source="mapping",
        )
        for key, entry in read_identities(path, "public_key", check).items()
    }


# --- comments -------------------------------------------------------------------------------


def comment_identity(
    comments: Iterable[ConfLine],
    convention: CommentConvention,
    naming: Iterable[ConfLine] = (),
) -> tuple[Identity, list[ConfProblem]]:
    """What the comment lines of one peer say about who it is.

    ``comments``: all its comment lines; ``naming``: those that may name it by free text,
    nearest first (``Peer.naming``), read for every convention."""
    explicit, implicit, free, problems = Identity(), Identity(), Identity(), []
    if convention == "off":
        return Identity(), []
    naming = tuple(naming)
    read: set[int] = set()
    for line in (*comments, *naming):
        if line.number in read or not line.comment:
            continue
        read.add(line.number)
        text = line.comment
        match = _IAM_GOV.match(text)
        if match is not None:
            said, said_problems = _explicit(line.number, match.group(1))
            problems.extend(said_problems)
            explicit = explicit.over(said)
            continue
        if convention != "auto":
            continue
        implicit = implicit.over(_implicit(text))
    if convention == "auto":
        for line in naming:
            free = free.over(_free_text(line.comment))
    found = explicit.over(implicit).over(free)
    if found != Identity():
        found = replace(found, source="comment")
    return found, problems


def _explicit(number: int, text: str) -> tuple[Identity, list[ConfProblem]]:
    def problem(message: str) -> ConfProblem:
        # Identity, not access: the peer is read all the same.
        return ConfProblem(number, f"iam-gov comment: {message}", incomplete=False)

    try:
        tokens = _words(text)
    except ValueError:
        return Identity(), [problem("a quote is not closed")]
    values: dict[str, str] = {}
    problems = []
    for token in tokens:
        key, equals, value = token.partition("=")
        key = key.strip().lower()
        if not equals or key not in _COMMENT_KEYS:
            shown = key if _SAFE_KEY.match(key) else "a word"
            problems.append(
                problem(
                    f"{shown} is not one of {', '.join(f'{k}=' for k in sorted(_COMMENT_KEYS))}"
                )
            )
        elif not value.strip():
            problems.append(problem(f"{key}= has no value"))
        elif key == "kind" and value not in ("human", "service"):
            problems.append(problem("kind= is human or service"))
        elif key == "email" and not _EMAIL.match(value):
            problems.append(problem("email= is not an e-mail address"))
        else:
            values[key] = value.strip()
    kind = values.get("kind")
    return (
        Identity(
            login=values.get("login"),
            email=values.get("email"),
            employee_id=values.get("employee_id"),
            display_name=values.get("name"),
            kind="service" if kind == "service" else "human" if kind == "human" else None,
        ),
        problems,
    )


def _words(text: str) -> list[str]:
    """``shlex.split(text)``, without its character-by-character reading for the usual comment
    with no quote or backslash: then its words are what is between its white space (shlex's:
    space, tab, CR and LF only)."""
    if _SHELL_QUOTING.search(text) is None:
        return [word for word in _SHELL_SPACE.split(text) if word]
    return shlex.split(text, comments=False, posix=True)


def _implicit(text: str) -> Identity:
    match = _NAME.match(text)
    if match is not None:
        return _named(match.group(1))
    match = _EMAIL_KEY.match(text)
    if match is not None:
        return Identity(email=match.group(1)) if _EMAIL.match(match.group(1)) else Identity()
    match = _EMAIL_COMMENT.match(text)
    if match is not None:
        return Identity(email=match.group(1))
    match = _PIVPN_BEGIN.match(text)
    if match is not None:
        return _named(match.group(1))
    return Identity()


def _named(value: str) -> Identity:
    if any(c.isspace() for c in value):
        return Identity(display_name=value)
    if _EMAIL.match(value):
        return Identity(email=value)
    return Identity(login=value)


def _free_text(text: str) -> Identity:
    """A hand-written comment that is a name: ``# jdoe``, ``# Jane Doe (laptop)``, ``#
    jane.doe@example.com phone``."""
    body, note = text.lstrip("#").strip(), ""
    match = _NOTE_IN_PARENS.match(body) or _NOTE_AFTER_DASH.match(body)
    if match is not None:
        body, note = match.group(1).strip(), match.group(2).strip()
    words = body.split()
    if not words:
        return Identity()
    if _EMAIL.match(words[0]):
        rest = " ".join(words[1:]).strip(" -\u2013\u2014,;:")
        note = " ".join(part for part in (rest, note) if part)
        return Identity(email=words[0], note=note or None)
    if len(words) == 1 and _LOGIN.match(words[0]) and words[0].lower() not in _NOT_A_LOGIN:
        return Identity(login=words[0], note=note or None)
    if 2 <= len(words) <= 4 and all(_is_name_word(word) for word in words):
        return Identity(display_name=" ".join(words), note=note or None)
    return Identity()


def _is_name_word(word: str) -> bool:
    """``Jane``, ``O'Neil``, ``Jean-Luc``: capitalised, letters, and not an acronym."""
    return (
        word[0].isupper()
        and any(c.islower() for c in word)
        and all(c.isalpha() or c in "'-." for c in word)
    )
