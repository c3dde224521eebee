"""The fast paths of the LDIF reader (issue 17) against the plain reading they replace: a plain
file read block by block gives the entries, lines and problems that reading it line by line
(the reader kept for folded, commented and CRLF files) gives; the shortcut DN key, GUID text
and paused collector give what the general code gives."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iam_gov.connectors.ldap.ad import guid_text
from iam_gov.connectors.ldap.entry import (
    decode_text,
    dn_key,
    dn_key_by_character,
    merge_ranges,
)
from iam_gov.connectors.ldap.export import _RecordError, _records, _value, read_ldif
from iam_gov.errors import SourceError

# --- an oracle: the reader as it was before the fast paths -----------------------------------


def _oracle(path: Path, data: bytes) -> Any:
    """Entries (dn, attributes, line) and problems (line, message), read line by line with
    ``_value`` for every line, as the reader did before issue 17; or the SourceError text."""
    try:
        records = _records(path, data.split(b"\n"))
    except SourceError as exc:
        return str(exc)
    entries, problems = [], []
    for index, record in enumerate(records):
        if index == 0 and record[0][1].lower().startswith(b"version:"):
            record = record[1:]
            if not record:
                continue
        number, line = record[0]
        head = line.split(b":", 1)[0].strip().lower()
        if head in (b"search", b"result", b"ref"):
            continue  # the generated files hold no trailers
        if head != b"dn":
            return "no dn"
        dn = "?"
        try:
            dn = decode_text(_value(path, number, line)[1])
            attributes: dict[str, list[bytes]] = {}
            for number, line in record[1:]:
                name, value = _value(path, number, line)
                attributes.setdefault(name.lower(), []).append(value)
        except _RecordError as exc:
            problems.append((exc.line, f"entry skipped: {exc}", dn))
            continue
        merged, partial = merge_ranges(attributes)
        problems += [(record[0][0], f"only part of {name}", dn) for name in partial]
        entries.append((dn, merged, record[0][0]))
    return entries, problems


def _read(path: Path, data: bytes) -> Any:
    path.write_bytes(data)
    try:
        result = read_ldif(path)
    except SourceError as exc:
        return str(exc)
    problems = [(e.line, e.message.split(" is in the export")[0], e.record) for e in result.errors]
    return [(e.dn, dict(e.attributes), e.line) for e in result.entries], problems


_NAMES = ["objectClass", "cn", "Mail", "member", "member;range=0-1", "member;range=2-*", "x-1"]
_TEXT = st.text(alphabet="ab é:<=,", max_size=12)


@st.composite
def _line(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from([*_NAMES, "bad name", "cn"]))
    kind = draw(st.sampled_from(["plain", "plain", "base64", "broken base64", "empty", "url"]))
    text = draw(_TEXT).strip(" :<")
    if kind == "base64":
        return f"{name}:: {base64.b64encode(text.encode()).decode()}"
    if kind == "url":  # refused: not a file:// URL in the export's folder
        return f"{name}:< http://169.254.169.254/{text}"
    if kind == "broken base64":
        return f"{name}:: {text}!"
    return f"{name}:" if kind == "empty" else f"{name}: {text}"


@st.composite
def _ldif(draw: st.DrawFn) -> bytes:
    """A few records, some folded, between runs of empty lines; a version line at times."""
    out = ["version: 1", ""] if draw(st.booleans()) else []
    out += [""] * draw(st.integers(0, 2))
    for _ in range(draw(st.integers(1, 4))):
        lines = [f"dn: cn={draw(_TEXT).strip(' :<')},dc=example"]
        lines += draw(st.lists(_line(), max_size=6))
        for line in lines:
            cut = draw(st.integers(0, len(line)))
            if draw(st.integers(0, 4)) == 0 and 0 < cut < len(line):
                out += [line[:cut], " " + line[cut:]]  # folded as ldapsearch folds
            else:
                out.append(line)
        out += [""] * draw(st.integers(1, 3))
    return "\n".join(out).encode()


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_ldif())
def test_a_plain_file_is_read_as_line_by_line(tmp_path: Path, data: bytes) -> None:
    """Block by block or line by line, the same entries, lines, values and problems."""
    assert b"\r" not in data and b"#" not in data  # the fast path's files
    assert _read(tmp_path / "x.ldif", data) == _oracle(tmp_path / "x.ldif", data)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_ldif())
def test_a_file_with_carriage_returns_and_comments_is_read_the_same(
    tmp_path: Path, data: bytes
) -> None:
    """The line-by-line reader (CRLF, comments) agrees with the oracle too."""
    data = b"# exported\n" + data.replace(b"\n", b"\r\n")
    assert _read(tmp_path / "x.ldif", data) == _oracle(tmp_path / "x.ldif", data)


def test_a_continuation_after_an_empty_line_names_its_line(tmp_path: Path) -> None:
    """A folded line that continues nothing (a block starting with a space) is refused at its
    line, on the fast path as on the line-by-line one."""
    data = b"dn: cn=a,dc=example\ncn: a\n\n\n continued\ncn: b\n"
    message = _read(tmp_path / "x.ldif", data)
    assert isinstance(message, str) and message.endswith(
        "x.ldif:5: a continued line (it starts with a space) follows nothing it could continue"
    )
    assert message == _oracle(tmp_path / "x.ldif", data)


def test_lines_are_numbered_across_runs_of_empty_lines(tmp_path: Path) -> None:
    """Entry lines count every empty line, however many separate the records."""
    data = b"\n\ndn: cn=a,dc=x\ncn: a\n\n\n\n\ndn: cn=b,dc=x\ncn:: !!\n\ndn: cn=c,dc=x\n"
    entries, problems = _read(tmp_path / "x.ldif", data)
    assert [(dn, line) for dn, _, line in entries] == [("cn=a,dc=x", 3), ("cn=c,dc=x", 12)]
    assert problems == [(10, "entry skipped: line 10: the base64 value is broken", "cn=b,dc=x")]


# --- DN keys, GUIDs, the collector -----------------------------------------------------------


@settings(max_examples=300)
@given(st.text(alphabet="aZé\u0301 \t=,;x\u212b\u00df", max_size=30))
def test_the_shortcut_dn_key_is_the_general_one(dn: str) -> None:
    """For a DN without escapes or multi-valued RDNs (ASCII or not), the shortcut gives what
    reading it character by character gives."""
    assert dn_key(dn) == dn_key_by_character(dn)


@settings(max_examples=200)
@given(st.binary(min_size=16, max_size=16))
def test_guid_text_is_the_uuid_library_s(raw: bytes) -> None:
    """objectGUID spelled without building a UUID is the UUID's little-endian spelling."""
    assert guid_text(raw) == str(uuid.UUID(bytes_le=raw))
