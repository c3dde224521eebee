"""What the parser fuzz tests share: hostile inputs made from valid samples, and the checks
that a rejected input was rejected with a typed, located, one-line-per-problem error that
quotes no more of the file than it must."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

from iam_gov.errors import InputError

CANARY = "sk_live_" + hashlib.sha256(b"iam-gov canary").hexdigest()[:72]
"""A secret-looking value placed on a line of each valid sample: 80 characters, longer than
any quote of file content a message may hold (60), so its tail never shows in one."""
CANARY_TAIL = CANARY[-20:]

HOSTILE = (
    "\x00",
    "\r",
    "\r\n",
    "\n\n",
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\ufeff",
    "\x1b[31m",
    "\u2028",
    "\\",
    '"',
    "'",
    "*)(uid=*",
    "\t",
    ":",
    ": ",
    "- ",
    "#",
    "[",
    "{",
    "}",
    "]",
    "=",
    ",",
    ";",
    "|",
    "&",
    "*",
    "%",
    "@",
    "!!python/object:os.system",
    "é",
    "e\u0301",
    "李",
    "🙂",
    "\udcff",  # a lone surrogate: written with surrogateescape, so not UTF-8
    "x" * 3000,  # a very long line
    "1e999",
    "-1",
    "null",
    "true",
    "2024-02-30",
)
"""Pieces that break parsers: line ends, NUL, bidi and escape sequences, quoting and
structure characters of CSV/JSON/YAML/TOML/LDIF, filter metacharacters, decomposed and
astral characters, a lone surrogate, a very long line, and values of the wrong type."""


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


@st.composite
def _mutation(draw: st.DrawFn, valid: bytes) -> bytes:
    """``valid`` with 1–3 of: cut at a point, a byte flipped, bytes or a hostile piece
    inserted, a line duplicated (a duplicate key, column or record), dropped or replaced."""
    data = valid
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(
                ["truncate", "flip", "insert_bytes", "insert_hostile", "dup", "drop", "replace"]
            )
        )
        at = draw(st.integers(0, len(data)))
        if kind == "truncate":
            data = data[:at]
        elif kind == "flip" and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
        elif kind == "insert_bytes":
            data = data[:at] + draw(st.binary(min_size=1, max_size=6)) + data[at:]
        elif kind == "insert_hostile":
            data = data[:at] + _encode(draw(st.sampled_from(HOSTILE))) + data[at:]
        else:
            lines = data.split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            if kind == "dup":
                lines.insert(i, lines[i])
            elif kind == "drop":
                del lines[i]
            else:
                pieces = draw(st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=3))
                lines[i] = _encode("".join(pieces))
            data = b"\n".join(lines)
    return data


def fuzzed(valid: bytes) -> st.SearchStrategy[bytes]:
    """Mostly mutations of ``valid``; some random bytes and random text (any code point)."""
    return st.one_of(
        _mutation(valid),
        _mutation(valid),
        _mutation(valid),
        st.binary(max_size=300),
        st.text(max_size=200).map(_encode),
    )


# --- the checks -----------------------------------------------------------------------------

_LOCATED = r"(?::\d+(?::\d+)?)?: \S"
"""After the file's name: ``:line`` (and ``:column``) or nothing, then ``: `` and the words."""


@dataclass
class Tally:
    """How many inputs a property tried, how many were read, how many refused."""

    accepted: int = 0
    rejected: int = 0
    messages: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.accepted + self.rejected} cases: {self.accepted} read, {self.rejected} refused"
        )


def check_refusal(
    exc: InputError,
    path: Path,
    *,
    whole_file: Sequence[str] = (),
    tally: Tally | None = None,
    located: Callable[[str], bool] | None = None,
    canary_whole: bool = True,
) -> None:
    """``exc`` is a typed refusal of ``path``: each problem one line starting with the file
    and a location — ``:line``, or a key path (``: roles.0.name:``) — unless it is one of the
    ``whole_file`` messages (said of the file as a whole: empty, not UTF-8 …); while the
    input holds the canary whole (``canary_whole``; a mutation may cut it into short values
    that a message may quote), no problem holds the canary's tail."""
    assert exc.problems, f"{type(exc).__name__} without problems"
    for problem in exc.problems:
        assert len(problem.splitlines()) == 1, f"problem spans lines: {problem!r}"
        assert problem.startswith(str(path)), f"problem does not name the file: {problem!r}"
        rest = problem[len(str(path)) :]
        assert re.match(_LOCATED, rest), f"no location: {problem!r}"
        has_line = re.match(r":\d+", rest) is not None
        if not has_line and not (located is not None and located(rest)):
            assert any(words in rest for words in whole_file), f"no line in {problem!r}"
        assert not canary_whole or CANARY_TAIL not in problem, (
            f"the file's content leaks: {problem!r}"
        )
    if tally is not None:
        tally.rejected += 1
        tally.messages.append(str(exc))


def canary_whole(data: bytes) -> bool:
    """Whether the canary is still in ``data`` in one piece, not cut by a mutation — and its
    tail nowhere on its own (a line cut from a copy of it may be quoted like any field)."""
    return CANARY.encode() in data and data.count(CANARY_TAIL.encode()) == data.count(
        CANARY.encode()
    )
