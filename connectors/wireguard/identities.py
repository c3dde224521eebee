"""Who a WireGuard peer is: the mapping file, or the comments next to its ``[Peer]`` block.

Comment conventions (``comment_convention = "auto"``, the default), in a comment line that
belongs to the peer (directly above its ``[Peer]`` header, inside the block, or directly
after it):

* ``# iam-gov: login=jdoe email=jane.doe@example.com employee_id=E1001 kind=human
  name="Jane Doe"`` — explicit; any of the keys; quote values with spaces. Its values win
  over the other conventions. (``comment_convention = "iam-gov"`` reads only this one.)
* ``# Name = jdoe`` (also ``# friendly_name = jdoe``, as prometheus_wireguard_exporter reads
  it): a login, an e-mail address, or, with spaces, a display name.
* ``# jdoe@example.com``: a comment that is one e-mail address.
* ``### begin jdoe ###``: PiVPN's marker; the client name is the login.

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
_NAME = re.compile(r"^#+\s*(?:name|friendly_name)\s*[=:]\s*(\S.*?)\s*$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")
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
    comments: Iterable[ConfLine], convention: CommentConvention
) -> tuple[Identity, list[ConfProblem]]:
    """What the comment lines of one peer say about who it is."""
    explicit, implicit, problems = Identity(), Identity(), []
    if convention == "off":
        return Identity(), []
    for line in comments:
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
    found = explicit.over(implicit)
    if found != Identity():
        found = replace(found, source="comment")
    return found, problems


def _explicit(number: int, text: str) -> tuple[Identity, list[ConfProblem]]:
    def problem(message: str) -> ConfProblem:
        # Identity, not access: the peer is read all the same.
        return ConfProblem(number, f"iam-gov comment: {message}", incomplete=False)

    try:
        tokens = shlex.split(text, comments=False, posix=True)
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


def _implicit(text: str) -> Identity:
    match = _NAME.match(text)
    if match is not None:
        return _named(match.group(1))
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
