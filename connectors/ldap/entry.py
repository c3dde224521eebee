"""What the LDAP modules share: a directory entry as read live or from LDIF, DN comparison,
LDAP time syntaxes, the per-flavor semantics (AD, OpenLDAP) behind one interface, where a
collect searches and what it read."""

from __future__ import annotations

import fnmatch
import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from iam_gov.model import AccountKind, AccountStatus, SnapshotError

_T = TypeVar("_T")

# --- entries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One directory entry: its DN and raw values by lower-cased attribute name."""

    dn: str
    attributes: Mapping[str, tuple[bytes, ...]]
    line: int | None = None
    """Where the entry starts in an LDIF file."""
    by_dn: bool = False
    """An exported entry without its flavor's id attribute (``ldapsearch`` without ``+``, an
    ``ldifde`` that left objectGUID out): identified by its DN, see ``dn_id``."""

    # Called for every value read of every entry: each looks its name up itself.

    def values(self, name: str) -> tuple[bytes, ...]:
        return self.attributes.get(name.lower(), ())

    def has(self, name: str) -> bool:
        return bool(self.attributes.get(name.lower()))

    def raw(self, name: str) -> bytes | None:
        values = self.attributes.get(name.lower())
        return values[0] if values else None

    def text(self, name: str) -> str | None:
        values = self.attributes.get(name.lower())
        return decode_text(values[0]) if values else None

    def texts(self, name: str) -> tuple[str, ...]:
        return tuple(decode_text(value) for value in self.attributes.get(name.lower(), ()))


def decode_text(value: bytes) -> str:
    # Directory strings are UTF-8; a broken byte must not stop a whole collection. A NUL is
    # legal in LDAP but not in a PostgreSQL text column (``clean``, inlined: a hot path).
    return value.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def clean(text: str) -> str:
    """Text for the model: a NUL is legal in LDAP but not in a PostgreSQL text column."""
    return text.replace("\x00", "\ufffd")


_RANGE = re.compile(r"^(?P<base>[^;]+(?:;(?!range=)[^;]+)*);range=(?P<low>\d+)-(?P<high>\d+|\*)$")


def merge_ranges(
    attributes: Mapping[str, list[bytes]],
) -> tuple[dict[str, tuple[bytes, ...]], list[str]]:
    """Fold AD's ranged values (``member;range=0-1499``) into their attribute. Returns the
    attributes and the names of those whose last range is missing (the values are partial)."""
    merged: dict[str, list[bytes]] = {}
    partial: list[str] = []
    for name, values in attributes.items():
        match = _RANGE.match(name.lower())
        if match is None:
            merged.setdefault(name.lower(), []).extend(values)
            continue
        base = match["base"]
        merged.setdefault(base, []).extend(values)
        if match["high"] != "*":
            partial.append(base)
    return {name: tuple(values) for name, values in merged.items()}, sorted(set(partial))


# --- distinguished names ------------------------------------------------------------------

_HEX = re.compile(r"\\([0-9A-Fa-f]{2})|\\(.)", re.DOTALL)


def _unescape(value: str) -> str:
    raw = bytearray()
    position = 0
    for match in _HEX.finditer(value):
        raw += value[position : match.start()].encode("utf-8")
        if match[1] is not None:
            raw.append(int(match[1], 16))
        else:
            raw += match[2].encode("utf-8")
        position = match.end()
    raw += value[position:].encode("utf-8")
    return raw.decode("utf-8", errors="replace")


def _split(text: str, separators: str) -> list[str]:
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char in separators:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


_SEPARATORS = re.compile("[,;]")


def dn_key(dn: str) -> str:
    """A form of ``dn`` in which two spellings of one DN are equal: attribute types and values
    compared without case, insignificant spaces and escaping differences (``\\2C`` vs ``\\,``)."""
    if "\\" not in dn and "+" not in dn:
        # Nothing escaped and one value per RDN, as nearly every DN: no splitting by character,
        # and in ASCII, NFC changes nothing and casefold() is lower().
        if dn.isascii():
            return ",".join(
                f"{kind.strip()}={' '.join(value.split())}"
                for kind, _, value in (rdn.partition("=") for rdn in _SEPARATORS.split(dn.strip()))
            ).lower()
        return ",".join(
            f"{kind.strip().casefold()}="
            f"{unicodedata.normalize('NFC', ' '.join(value.split())).casefold()}"
            for kind, _, value in (rdn.partition("=") for rdn in _SEPARATORS.split(dn.strip()))
        )
    return dn_key_by_character(dn)


def dn_key_by_character(dn: str) -> str:
    """``dn_key`` for any DN: escapes and multi-valued RDNs read character by character."""
    rdns = []
    for rdn in _split(dn.strip(), ",;"):
        avas = []
        for ava in _split(rdn, "+"):
            kind, _, value = ava.partition("=")
            value = " ".join(_unescape(value.strip()).split())
            avas.append(
                f"{kind.strip().casefold()}={unicodedata.normalize('NFC', value).casefold()}"
            )
        rdns.append("+".join(sorted(avas)))
    return ",".join(rdns)


def dn_id(entry: Entry) -> str:
    """The native id of an entry identified by its DN: the DN as ``dn_key`` spells it, so
    that it is one id however a tool spells the DN. Never a UUID: the two cannot collide."""
    return dn_key(entry.dn)


def first_rdn_value(dn: str) -> str:
    rdn = _split(dn, ",;")[0]
    return _unescape(_split(rdn, "+")[0].partition("=")[2].strip())


def is_under(dn: str, base: str) -> bool:
    key, base_key = dn_key(dn), dn_key(base)
    return key == base_key or key.endswith("," + base_key)


# --- filters ------------------------------------------------------------------------------


def filter_value(value: str | bytes) -> str:
    """An assertion value safe to put in a filter: every ``*()\\`` and NUL escaped (RFC 4515),
    binary values byte by byte, and white space at the edges, which filter parsers would
    otherwise trim."""
    if isinstance(value, bytes):
        return "".join(f"\\{byte:02x}" for byte in value)
    # Imported here: ldap3 (and pyasn1 under it) is a good part of every command's start-up,
    # and only a configuration with an LDAP system ever gets here.
    from ldap3.utils.conv import escape_filter_chars

    escaped: str = escape_filter_chars(value, "utf-8")
    # ldap3's filter parser strips white space at the edges of a value, all that Python's
    # str.strip() does (tab, NBSP, U+001C-U+001F, U+0085 …): written there as escaped bytes.
    start = len(escaped) - len(escaped.lstrip())
    body = escaped[start:].rstrip()
    head, tail = escaped[:start], escaped[start + len(body) :]
    return _hex_bytes(head) + body + _hex_bytes(tail)


def _hex_bytes(text: str) -> str:
    return "".join(f"\\{byte:02x}" for byte in text.encode("utf-8"))


def equals(attribute: str, value: str | bytes) -> str:
    return f"({attribute}={filter_value(value)})"


def any_of(*filters: str) -> str:
    return filters[0] if len(filters) == 1 else f"(|{''.join(filters)})"


def all_of(*filters: str) -> str:
    return f"(&{''.join(filters)})"


# --- time syntaxes ------------------------------------------------------------------------

_GENERALIZED = re.compile(
    r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{2}(?:\d{2})?)$"
)


def generalized_time(text: str) -> datetime:
    """RFC 4517 GeneralizedTime (``20240115103000Z``, ``20240115103000.0Z``, with an offset)."""
    match = _GENERALIZED.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a generalized time")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    value = datetime(
        int(year), int(month), int(day), int(hour), int(minute or 0), int(second or 0), tzinfo=UTC
    )
    if fraction and second is not None:
        value += timedelta(microseconds=round(float("0." + fraction) * 1_000_000))
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5] or 0))
        value -= sign * offset
    return value


class Values:
    """Typed values of one entry. A value that cannot be read is left unknown (None) and said
    in ``problems``, so that the rest of the entry is still used."""

    def __init__(self, entry: Entry) -> None:
        self.entry = entry
        self.problems: list[str] = []

    def integer(self, name: str) -> int | None:
        # _read, inlined: a user entry has seven of them.
        values = self.entry.attributes.get(name.lower())
        if not values:
            return None
        text = decode_text(values[0])
        try:
            return int(text)
        except ValueError:
            self.problems.append(f"{name} {text!r} is not a number")
            return None

    def time(self, name: str) -> datetime | None:
        return self._read(name, generalized_time, "{name}: {error}")

    def _read(self, name: str, parse: Callable[[str], _T], complaint: str) -> _T | None:
        text = self.entry.text(name)
        if text is None:
            return None
        try:
            return parse(text)
        except ValueError as error:
            self.problems.append(complaint.format(name=name, text=text, error=error))
            return None


# --- flavors ------------------------------------------------------------------------------


@dataclass
class PasswordFacts:
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class UserFacts:
    """What one user entry says, in the model's terms."""

    native_id: str
    login: str
    status: AccountStatus
    kind: AccountKind = AccountKind.HUMAN
    email: str | None = None
    display_name: str | None = None
    employee_id: str | None = None
    created_at: datetime | None = None
    last_login_at: datetime | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    password: PasswordFacts | None = None
    primary_group: tuple[str | None, int] | None = None
    """AD: (domain SID, RID) of the primary group, which ``member`` does not list; the
    domain SID is None when the user's objectSid is not known."""
    problems: list[str] = field(default_factory=list)
    """Values that could not be read; the rest of the entry is used."""


@dataclass
class GroupFacts:
    native_id: str
    name: str
    kind: str = "group"
    privileged: bool = False
    security: bool = True
    """False for AD distribution groups: membership confers no access and does not nest."""
    members: tuple[str, ...] = ()
    """Member DNs (``member``, ``uniqueMember`` without its optional uid)."""
    member_logins: tuple[str, ...] = ()
    """``memberUid`` of posixGroups: logins, not DNs."""
    owner: str | None = None
    description: str | None = None
    sid: tuple[str, int] | None = None
    """AD: (domain SID, RID)."""
    well_known_rid: int | None = None
    global_scope: bool | None = None
    """AD: a global group (groupType 0x2), the only scope a PSO applies through; None: not
    known."""
    """AD without an objectSid: the RID of the well-known domain group its name is."""
    problems: list[str] = field(default_factory=list)


class Flavor(ABC):
    """The semantics of one kind of directory."""

    name: str
    id_attribute: str
    user_filter: str
    group_filter: str
    login_attribute: str
    employee_id_attribute: str
    group_member_attributes: tuple[str, ...]
    """Where a group lists its members; ``memberUid`` holds logins, the others DNs."""
    policy_class: str
    """The (lower-cased) object class of the entries holding the password policy."""

    def __init__(
        self,
        *,
        login_attribute: str | None = None,
        employee_id_attribute: str | None = None,
        privileged_groups: Iterable[str] = (),
    ) -> None:
        self.login_attribute = login_attribute or self.login_attribute
        self.employee_id_attribute = employee_id_attribute or self.employee_id_attribute
        self.privileged_patterns = tuple(p.casefold() for p in privileged_groups)

    @abstractmethod
    def user_attributes(self) -> tuple[str, ...]:
        """Every attribute collect() reads from a user entry."""

    @abstractmethod
    def group_attributes(self) -> tuple[str, ...]:
        """Every attribute collect() reads from a group entry."""

    @abstractmethod
    def native_id(self, entry: Entry) -> str:
        """The entry's stable id; ValueError when it has none or an unreadable one."""

    @abstractmethod
    def id_value(self, native_id: str) -> str | bytes:
        """The value to look ``native_id`` up by in ``id_attribute``; ValueError if malformed."""

    def id_filter(self, native_id: str) -> str:
        return equals(self.id_attribute, self.id_value(native_id))

    @abstractmethod
    def is_user(self, object_classes: set[str]) -> bool:
        """For an export: is an entry of these (lower-cased) object classes a user?"""

    @abstractmethod
    def is_group(self, object_classes: set[str]) -> bool: ...

    @abstractmethod
    def user(self, entry: Entry, *, has_password: bool, now: datetime) -> UserFacts: ...

    @abstractmethod
    def group(self, entry: Entry) -> GroupFacts: ...

    def matches_privileged_pattern(self, dn: str, names: Iterable[str]) -> bool:
        """``privileged_groups``: a name (``Helpdesk Admins``, ``*-admins``) or a DN pattern
        (``cn=*,ou=admin groups,dc=example,dc=org``), without case."""
        key = dn_key(dn)
        folded = [name.casefold() for name in names]
        for pattern in self.privileged_patterns:
            if "=" in pattern:
                if fnmatch.fnmatchcase(key, dn_key(pattern)):
                    return True
            elif any(fnmatch.fnmatchcase(name, pattern) for name in folded):
                return True
        return False

    def login_of(self, entry: Entry) -> str:
        # A login is required by the model; an entry without one keeps its RDN value, which
        # is what people type when the login attribute is missing.
        return entry.text(self.login_attribute) or clean(first_rdn_value(entry.dn))

    def new_user(self, entry: Entry, values: Values) -> UserFacts:
        """What every flavor reads the same way from a user entry; the flavor adds the rest."""
        facts = UserFacts(
            native_id=self.native_id(entry),
            login=self.login_of(entry),
            status=AccountStatus.ACTIVE,
            email=entry.text("mail"),
            display_name=entry.text("displayName") or entry.text("cn"),
            employee_id=entry.text(self.employee_id_attribute),
            problems=values.problems,
        )
        facts.attributes["dn"] = clean(entry.dn)
        return facts


def unique_names(*names: str) -> tuple[str, ...]:
    """Attribute names without repeats, compared without case as LDAP does: a configured
    login or employee id attribute may be one that is read anyway."""
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.lower(), name)
    return tuple(seen.values())


# --- what a collect searches and reads --------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Where users and groups are searched, with which filters: the same for a collect and
    for the actions, which must find entries where the collect found them."""

    flavor: Flavor
    user_base: str
    group_base: str
    user_filter: str
    group_filter: str

    @property
    def ad(self) -> bool:
        return self.flavor.name == "ad"

    @property
    def group_name_attributes(self) -> tuple[str, ...]:
        return ("sAMAccountName", "cn") if self.ad else ("cn",)

    @property
    def member_dn_attributes(self) -> tuple[str, ...]:
        return tuple(a for a in self.flavor.group_member_attributes if a != "memberUid")


@dataclass
class Collected:
    """What was read, live or from an export, before it becomes the model."""

    users: list[Entry] = field(default_factory=list)
    groups: list[Entry] = field(default_factory=list)
    password_holders: set[str] | None = None
    """dn_keys of users that have a password (live: a presence search); None: the entries
    themselves say, by carrying userPassword (an export)."""
    errors: list[SnapshotError] = field(default_factory=list)
    complete: bool = True
    policy_entries: list[Entry] = field(default_factory=list)
    """Entries that may hold the password policy (AD domain objects, OpenLDAP ppolicies)."""
    policy_dn: str | None = None
    """The one wanted, when known: ``password_policy_dn``, or live AD's domain."""
    policy_read: bool = True
    """False when reading it failed (already said in errors): its absence then says nothing."""
    password_settings: list[Entry] = field(default_factory=list)
    """AD: the fine-grained password policies (PSOs) read."""
    password_settings_known: bool = True
    """AD: False when the PSOs could not be read or the export does not hold them (said in
    errors)."""
