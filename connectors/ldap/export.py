"""LDIF (RFC 2849) as ``ldapsearch -LLL`` and ``ldifde`` write it: folded lines, comments,
base64 values, binary ids; read into entries with the line each starts on, and sorted into the
users, groups and password policy entries of one flavor of directory."""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import urllib.parse
import urllib.request
from binascii import a2b_base64
from dataclasses import dataclass, field, replace
from pathlib import Path

from iam_gov.connectors.ldap.ad import PSO_CLASS, PSO_CONTAINER_CLASS, PSO_UNKNOWN
from iam_gov.connectors.ldap.entry import (
    Collected,
    Entry,
    Flavor,
    decode_text,
    merge_ranges,
)
from iam_gov.connectors.shared.files import MAX_EXPORT_ENV, export_limit, read_source
from iam_gov.errors import SourceError, location
from iam_gov.gcpause import collector_paused
from iam_gov.model import SnapshotError
from iam_gov.yamlfile import TooLarge, read_limited

_NAME = re.compile(rb"^[A-Za-z0-9][A-Za-z0-9.;=*-]*$")  # a descriptor or OID, with options


@dataclass
class Ldif:
    entries: list[Entry] = field(default_factory=list)
    errors: list[SnapshotError] = field(default_factory=list)
    complete: bool = True

    def missing(self, path: Path, line: int, message: str, record: str | None = None) -> None:
        """Something of the directory is missing from the export: said, and incomplete."""
        self.complete = False
        self.errors.append(
            SnapshotError(source=str(path), line=line, record=record, message=message)
        )


class _RecordError(ValueError):
    """A problem confined to one record: skipping the record is safe."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def read_ldif(path: Path) -> Ldif:
    """Every entry of an LDIF file. A file that is not LDIF raises ``SourceError`` naming the
    line; a record that is broken inside is skipped, recorded, and makes the result incomplete."""
    data = read_source(path, "an LDIF export")  # under the export size limit
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        data = data.decode("utf-16").encode("utf-8")  # ldifde -u writes UTF-16
    data = data.removeprefix(codecs.BOM_UTF8)
    if b"\x00" in data:
        raise SourceError(f"{path}: is not a text file, so not LDIF")
    result = Ldif()
    reader = _RecordReader(path, result)
    with collector_paused():
        for index, (start, numbers, lines) in enumerate(_split_records(path, data)):
            reader.read(start, numbers, lines, first=index == 0)
    return result


# A record as read: the number of its first line, the numbers of its logical lines (None
# when they follow each other, as they do unless lines are folded or comments interleave)
# and the logical lines, unfolded and without comments.
_Record = tuple[int, list[int] | None, list[bytes]]

# Bytes that make a file need the line-by-line reader: carriage returns, comments, folded
# lines and lines that start with other white space (blank, or not, by what follows).
_NOT_PLAIN = (b"\r", b"\n#", b"\n\t", b"\n\x0b", b"\n\x0c")


def _split_records(path: Path, data: bytes) -> list[_Record]:
    """The records of ``data``: whole blocks between empty lines where the file is plain
    (no comments, no carriage returns), the line-by-line reader otherwise. Both give the
    same records; a plain file is only faster (one split per record, not a loop per line)."""
    if data[:1] in (b" ", b"#", b"\t", b"\x0b", b"\x0c") or any(b in data for b in _NOT_PLAIN):
        return [
            (record[0][0], [number for number, _ in record], [line for _, line in record])
            for record in _records(path, data.split(b"\n"))
        ]
    records: list[_Record] = []
    number = 1  # of the block's first line
    for block in data.split(b"\n\n"):
        body = block.lstrip(b"\n")
        first = number + len(block) - len(body)
        number += block.count(b"\n") + 2  # the next block's, after the two line ends
        body = body.rstrip(b"\n")
        if not body:
            continue
        if body[:1] == b" " or b"\n " in body:  # folded lines: read line by line
            for record in _records(path, body.split(b"\n"), first_number=first):
                numbers = [n for n, _ in record]
                records.append((numbers[0], numbers, [line for _, line in record]))
        else:
            records.append((first, None, body.split(b"\n")))
    return records


def read_export(path: Path, flavor: Flavor, policy_dn: str | None) -> Collected:
    """The users, groups and password policy entries of an LDIF export, by their object
    classes. ``SourceError`` when it holds no users or groups of this flavor. A user or group
    without the flavor's id attribute is read all the same, identified by its DN, and said
    once for the file: a warning, as nothing of the directory is missing."""
    ldif = read_ldif(path)
    collected = Collected(errors=ldif.errors, complete=ldif.complete, policy_dn=policy_dn)
    by_dn = 0
    container = False
    # Entries share a few sets of object classes: each read once.
    known: dict[tuple[bytes, ...], set[str]] = {}
    for entry in ldif.entries:
        raw = entry.values("objectClass")
        classes = known.get(raw)
        if classes is None:
            classes = known[raw] = {decode_text(c).casefold() for c in raw}
        if flavor.policy_class in classes:
            collected.policy_entries.append(entry)
        if flavor.name == "ad" and PSO_CLASS in classes:
            collected.password_settings.append(entry)
        container = container or PSO_CONTAINER_CLASS in classes
        group, user = flavor.is_group(classes), flavor.is_user(classes)
        if (group or user) and not entry.has(flavor.id_attribute):
            entry = replace(entry, by_dn=True)
            by_dn += 1
        if group:
            collected.groups.append(entry)
        elif user:
            collected.users.append(entry)
    if not collected.users and not collected.groups:
        raise SourceError(
            f"{path}: holds no {flavor.name} users or groups (each entry needs its "
            "objectClass values)"
        )
    if flavor.name == "ad" and not container and not collected.password_settings:
        # Said, not made incomplete: an export holds what its author chose, as with the
        # domain object (the access data in it is whole).
        collected.password_settings_known = False
        collected.errors.append(
            SnapshotError(
                source=str(path),
                message="no Password Settings Container (CN=Password Settings Container,"
                "CN=System,...) and no PSO (objectClass msDS-PasswordSettings) in the export: "
                "export them too, to have the fine-grained password policies judged",
                consequence=PSO_UNKNOWN,
            )
        )
    if by_dn:
        # Every entry is read: the export is as complete as it was, only its ids are weaker.
        collected.errors.append(SnapshotError(source=str(path), message=_by_dn(flavor, by_dn)))
    return collected


_KEEP_IDS = {
    "openldap": "export with ldapsearch ... '*' '+' (or name entryUUID) to keep them",
    "ad": "export with ldifde or ldapsearch without leaving objectGUID out to keep them",
}


def _by_dn(flavor: Flavor, count: int) -> str:
    entries, are = ("1 entry has", "it is") if count == 1 else (f"{count} entries have", "they are")
    why = " (an export without operational attributes)" if flavor.name == "openldap" else ""
    how = _KEEP_IDS.get(flavor.name, f"export {flavor.id_attribute} to keep them")
    return (
        f"{entries} no {flavor.id_attribute}{why}: {are} identified by DN, so a renamed "
        f"or moved account will look like a new one; {how}"
    )


def _records(
    path: Path, lines: list[bytes], first_number: int = 1
) -> list[list[tuple[int, bytes]]]:
    """Logical lines (unfolded, comments dropped) grouped into records, line by line."""
    records: list[list[tuple[int, bytes]]] = []
    record: list[tuple[int, bytes]] = []
    logical: bytearray | None = None
    start = 0
    in_comment = False

    def flush() -> None:
        nonlocal logical
        if logical is not None:
            record.append((start, bytes(logical)))
            logical = None

    for number, line in enumerate(lines, first_number):
        line = line.removesuffix(b"\r")
        if line.startswith(b" "):
            if in_comment:
                continue  # a folded comment
            if logical is None:
                raise SourceError(
                    f"{location(path, number)}: a continued line (it starts with a space) "
                    "follows nothing it could continue"
                )
            logical += line[1:]
            continue
        flush()
        in_comment = line.startswith(b"#")
        if in_comment:
            continue
        if not line.strip():
            if record:
                records.append(record)
                record = []
            continue
        logical, start = bytearray(line), number
    flush()
    if record:
        records.append(record)
    return records


class _RecordReader:
    """Records to entries. Attribute names repeat on every entry: each distinct one is
    checked once and kept with its lower-cased name."""

    def __init__(self, path: Path, result: Ldif) -> None:
        self.path, self.result = path, result
        self.names: dict[bytes, str] = {}
        """Attribute names (as written, before the colon) known good: their lower-cased form."""
        self.ranged: set[str] = set()
        """Lower-cased names of ranged values (``member;range=0-1499``)."""

    def read(
        self, start: int, numbers: list[int] | None, lines: list[bytes], *, first: bool
    ) -> None:
        path, result = self.path, self.result
        if first and lines[0][:8].lower() == b"version:":
            lines, start = lines[1:], start + 1
            if numbers is not None:
                numbers = numbers[1:]
                start = numbers[0] if numbers else start
            if not lines:
                return
        line = lines[0]
        head = line.split(b":", 1)[0].strip().lower()
        if head in (b"search", b"result"):
            _trailer(path, self._numbered(start, numbers, lines), result)
            return
        if head == b"ref":
            return  # a search continuation reference (ldapsearch -L): not an entry
        if head != b"dn":
            raise SourceError(
                f"{location(path, start)}: an entry must start with 'dn:', not "
                f"{decode_text(line[:40])!r}"
            )
        dn = "?"
        names = self.names
        attributes: dict[str, list[bytes]] = {}
        index = 0
        try:
            dn = decode_text(_value(path, start, line)[1])
            for index, line in enumerate(lines[1:], 1):
                name, colon, rest = line.partition(b":")
                key = names.get(name) if colon else None
                if key is None or rest[:1] == b"<":
                    number = start + index if numbers is None else numbers[index]
                    key = self._special(number, line)
                    if key is None:
                        continue
                    value = _value(path, number, line)[1]
                elif rest[:1] == b":":  # base64, as _value reads it
                    try:
                        value = a2b_base64(rest[1:].strip(), strict_mode=True)
                    except binascii.Error:
                        number = start + index if numbers is None else numbers[index]
                        raise _RecordError(
                            number, f"line {number}: the base64 value is broken"
                        ) from None
                else:
                    value = rest.lstrip(b" ")
                values = attributes.get(key)
                if values is None:
                    attributes[key] = [value]
                else:
                    values.append(value)
        except _RecordError as exc:
            result.missing(path, exc.line, f"entry skipped: {exc}", record=dn)
            return
        if self.ranged and not self.ranged.isdisjoint(attributes):
            merged, partial = merge_ranges(attributes)
        else:  # the names are lower-cased already, and none is ranged
            merged, partial = {key: tuple(values) for key, values in attributes.items()}, []
        entry = Entry(dn=dn, attributes=merged, line=start)
        for attribute in partial:
            # ldapsearch shows AD's first 1500 values of a big group as member;range=0-1499
            # and stops there; ldifde fetches the rest. The values shown are real, the rest
            # unknown.
            result.missing(
                path,
                start,
                f"only part of {attribute} is in the export (AD ranged retrieval): "
                "export with ldifde, which fetches every range",
                record=dn,
            )
        result.entries.append(entry)

    def _special(self, number: int, line: bytes) -> str | None:
        """The lower-cased attribute name of a line that is not a plain value of a name seen
        before (or ``_RecordError``); None for the lines that are no value (changetype: add,
        control). A good name is remembered."""
        name, value = _value(self.path, number, line)
        key = name.lower()
        if key == "changetype":
            kind = value.decode("ascii", "replace").strip().lower()
            if kind != "add":
                raise SourceError(
                    f"{location(self.path, number)}: changetype {kind}: a file of changes is "
                    "not an export of the directory"
                )
            return None
        if key == "control":
            return None
        self.names[line.partition(b":")[0]] = key
        if _RANGE_NAME in key:
            self.ranged.add(key)
        return key

    @staticmethod
    def _numbered(
        start: int, numbers: list[int] | None, lines: list[bytes]
    ) -> list[tuple[int, bytes]]:
        if numbers is None:
            return list(enumerate(lines, start))
        return list(zip(numbers, lines, strict=True))


_RANGE_NAME = ";range="


def _value(path: Path, number: int, line: bytes) -> tuple[str, bytes]:
    name, colon, rest = line.partition(b":")
    if not colon or not _NAME.match(name.strip()):
        raise _RecordError(number, f"line {number} is not 'attribute: value'")
    if rest.startswith(b":"):
        try:
            return name.strip().decode(), base64.b64decode(rest[1:].strip(), validate=True)
        except binascii.Error:
            raise _RecordError(number, f"line {number}: the base64 value is broken") from None
    if rest.startswith(b"<"):
        url = rest[1:].strip().decode("utf-8", "replace")
        return name.strip().decode(), _url_value(number, url, path.parent)
    return name.strip().decode(), rest.lstrip(b" ")


def _url_value(number: int, url: str, folder: Path) -> bytes:
    # ldapsearch -t writes binary values to files and names them as file:// URLs. Only a
    # regular file in the export's folder is read (ldapsearch -T FOLDER puts them there): an
    # export must not pull in whatever else this host can read (/etc/shadow, /dev/zero).
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "file":
        raise _RecordError(number, f"line {number}: only file:// URLs can be read, not {url!r}")
    try:
        target = Path(urllib.request.url2pathname(parsed.path)).resolve(strict=True)
        if not target.is_relative_to(folder.resolve()) or not target.is_file():
            raise _RecordError(
                number,
                f"line {number}: {url!r} is not a file in the export's folder, where "
                "ldapsearch -t -T FOLDER writes the values it leaves out of the LDIF",
            )
        return read_limited(target, export_limit(), MAX_EXPORT_ENV)
    except _RecordError:
        raise
    except TooLarge as exc:
        raise _RecordError(number, f"line {number}: {url!r} {exc}") from None
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise _RecordError(number, f"line {number}: {url!r} cannot be read ({why})") from None


def _trailer(path: Path, lines: list[tuple[int, bytes]], result: Ldif) -> None:
    """``ldapsearch -L`` ends with ``search: n`` / ``result: 0 Success``: anything but 0
    (a size or time limit, a dropped connection) means the export is cut short."""
    for number, line in lines:
        name, _, value = line.partition(b":")
        if name.strip().lower() != b"result":
            continue
        text = decode_text(value).strip()
        if text.split(" ", 1)[0] != "0":
            result.missing(path, number, f"ldapsearch reported {text!r}: the export is cut short")
