"""wg-quick files read as wg reads them, and one peer removed with every other byte kept."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iam_gov.connectors.wireguard.conf import is_key, parse_config, split_lines
from iam_gov.errors import SourceError
from tests.connectors.wireguard.office import Keys, accounts_of, exported

# --- a generator of configurations that knows which line belongs to which block ---------------


@dataclass(frozen=True)
class Line:
    data: bytes
    owner: int | None
    """Index of the section the line belongs to; None: to no section."""


KEYS = st.binary(min_size=32, max_size=32).map(lambda b: base64.b64encode(b).decode())
WS = st.sampled_from(["", " ", "  ", "\t", " \t"])
EOL = st.sampled_from([b"\n", b"\r\n"])
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\x00"),
    max_size=16,
)
NAMES = st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True)


@st.composite
def comment(draw: st.DrawFn) -> str:
    # "# " never starts a PiVPN "### end x ###" marker, which would close a block early.
    return draw(WS) + draw(st.sampled_from(["# ", "## ", "#\t"])) + draw(TEXT)


@st.composite
def setting(draw: st.DrawFn, key: str, value: str) -> str:
    spelled = draw(st.sampled_from([key, key.lower(), key.upper()]))
    line = f"{draw(WS)}{spelled}{draw(WS)}={draw(WS)}{value}{draw(WS)}"
    if draw(st.booleans()):
        line += " # " + draw(TEXT)
    return line


@st.composite
def header(draw: st.DrawFn, name: str) -> str:
    spelled = draw(st.sampled_from([name, name.lower(), name.upper(), f" {name} "]))
    line = f"{draw(WS)}[{spelled}]{draw(WS)}"
    if draw(st.booleans()):
        line += "# " + draw(TEXT)
    return line


def extra_settings(kind: str) -> st.SearchStrategy[tuple[str, str]]:
    if kind == "Interface":
        return st.sampled_from(
            [
                ("Address", "10.0.0.1/24, fd00::1/64"),
                ("DNS", "10.0.0.53"),
                ("PostUp", "iptables -A FORWARD -i %i -j ACCEPT; echo 'a=b'"),
                ("SaveConfig", "false"),
            ]
        )
    return st.sampled_from(
        [
            ("Endpoint", "198.51.100.7:51820"),
            ("PersistentKeepalive", "25"),
            ("PresharedKey", "ebsSXg2wtjSiaw3Y9Lq9rOjaj9+dHIqZdDvSzfO9CXg="),
            ("AllowedIPs", "10.0.0.9/32"),
        ]
    )


@st.composite
def section(
    draw: st.DrawFn, index: int, kind: str, key: str, followed: bool
) -> list[tuple[str, int | None]]:
    """Lines of one section: (text, owner). ``followed``: another section comes after it."""
    lines: list[tuple[str, int | None]] = []
    lead = draw(st.lists(comment(), max_size=2))
    if kind == "Peer" and draw(st.booleans()):
        lead.insert(0, f"### begin {draw(NAMES)} ###")
    lines += [(text, index) for text in lead]
    lines.append((draw(header(kind)), index))
    if kind == "Peer":
        required = [draw(setting("PublicKey", key))]
        last = draw(setting("AllowedIPs", "10.0.0.2/32, fd00::2/128"))
    else:
        required = [draw(setting("PrivateKey", key))]
        last = draw(setting("ListenPort", "51820"))
    extras = [draw(setting(*pair)) for pair in draw(st.lists(extra_settings(kind), max_size=2))]
    fillers = draw(
        st.lists(
            st.one_of(comment(), WS, st.sampled_from(["oops", "AllowedIPs 10.0.0.1/32", "]["])),
            max_size=3,
        )
    )
    body = draw(st.permutations(required + extras + fillers))
    lines += [(text, index) for text in [*body, last]]
    tail = draw(st.lists(comment(), max_size=2))
    closed = draw(st.booleans())
    if closed:
        tail.append(f"### end {draw(NAMES)} ###")
    blanks = draw(st.lists(WS, max_size=2))
    if followed and tail and not closed and not blanks:
        blanks = [""]  # else these comments would sit directly above the next header: its own
    lines += [(text, index) for text in [*tail, *blanks]]
    if (blanks or closed) and draw(st.booleans()):
        lines += free_lines(draw)
    return lines


def free_lines(draw: st.DrawFn) -> list[tuple[str, int | None]]:
    """Comments after a blank line and followed by one: a banner that belongs to no peer."""
    comments = draw(st.lists(comment(), min_size=1, max_size=2))
    blanks = draw(st.lists(WS, min_size=1, max_size=2))
    return [(text, None) for text in [*comments, *blanks]]


@dataclass(frozen=True)
class Generated:
    lines: tuple[Line, ...]
    keys: tuple[str | None, ...]
    """Each section's public key; None for [Interface]."""

    @property
    def data(self) -> bytes:
        return b"".join(line.data for line in self.lines)

    def without(self, key: str) -> bytes:
        return b"".join(
            line.data for line in self.lines if line.owner is None or self.keys[line.owner] != key
        )


@st.composite
def configs(draw: st.DrawFn) -> Generated:
    pool = draw(st.lists(KEYS, min_size=1, max_size=4, unique=True))
    peers = draw(st.lists(st.sampled_from(pool), max_size=4))  # a key may repeat
    kinds: list[str | None] = list(peers)
    if draw(st.booleans()) or not kinds:
        kinds.insert(draw(st.integers(0, len(kinds))), None)
    texts: list[tuple[str, int | None]] = []
    if draw(st.booleans()):
        texts += free_lines(draw)
    for index, key in enumerate(kinds):
        followed = index + 1 < len(kinds)
        if key is None:
            private = draw(KEYS)
            texts += draw(section(index, "Interface", private, followed))
        else:
            texts += draw(section(index, "Peer", key, followed))
    lines = [Line(text.encode() + draw(EOL), owner) for text, owner in texts]
    if draw(st.booleans()):  # no newline at the end of the file
        last = lines[-1]
        lines[-1] = Line(last.data.rstrip(b"\r\n"), last.owner)
    return Generated(tuple(lines), tuple(kinds))


# --- properties -----------------------------------------------------------------------------
# No deadline: on a loaded CI machine one slow example would fail the test (a flaky failure
# that says nothing about the parser); max_examples bounds the time instead.


@settings(deadline=None)
@given(configs())
def test_peers_are_read_in_file_order(generated: Generated) -> None:
    assert b"".join(split_lines(generated.data)) == generated.data
    parsed = parse_config(generated.data, "wg0.conf")

    assert [p.public_key for p in parsed.peers] == [k for k in generated.keys if k is not None]
    assert parsed.has_interface == (None in generated.keys)


@settings(deadline=None)
@given(configs(), st.data())
def test_removing_a_peer_leaves_every_other_byte(generated: Generated, data: st.DataObject) -> None:
    keys = [key for key in generated.keys if key is not None]
    target = data.draw(st.sampled_from(keys)) if keys else data.draw(KEYS)

    result = parse_config(generated.data, "wg0.conf").without(target)

    assert result == generated.without(target)
    remaining = [k for k in keys if k != target]
    if any(key != target for key in generated.keys):  # else no section is left
        assert [p.public_key for p in parse_config(result, "wg0.conf").peers] == remaining


@settings(deadline=None)
@given(configs(), KEYS)
def test_removing_an_absent_peer_changes_nothing(generated: Generated, absent: str) -> None:
    if absent in generated.keys:
        return
    assert parse_config(generated.data, "wg0.conf").without(absent) == generated.data


# --- examples -------------------------------------------------------------------------------

A = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
B = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0="
C = "gN65BkIKy1eCE9pP1wdc8ROUtkHLF2PfAqYdyYBz6EA="
PRIVATE = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
PSK = "ebsSXg2wtjSiaw3Y9Lq9rOjaj9+dHIqZdDvSzfO9CXg="


def test_a_crlf_file_keeps_its_line_endings() -> None:
    data = (
        "[Interface]\r\nPrivateKey = {p}\r\nListenPort = 51820  \r\n\r\n"
        "# Name = alice\r\n[Peer]\r\nPublicKey = {a}\r\nAllowedIPs = 10.0.0.2/32\r\n\r\n"
        "# Name = bob\r\n[Peer]\r\nPublicKey = {b}\r\nAllowedIPs = 10.0.0.3/32"
    )
    config = data.format(p=PRIVATE, a=A, b=B).encode()

    removed = parse_config(config, "wg0.conf").without(A)

    assert (
        removed
        == (
            f"[Interface]\r\nPrivateKey = {PRIVATE}\r\nListenPort = 51820  \r\n\r\n"
            f"# Name = bob\r\n[Peer]\r\nPublicKey = {B}\r\nAllowedIPs = 10.0.0.3/32"
        ).encode()
    )
    # The last peer, with no newline at the end: the blank line before it is alice's.
    assert (
        parse_config(config, "wg0.conf").without(B)
        == (
            f"[Interface]\r\nPrivateKey = {PRIVATE}\r\nListenPort = 51820  \r\n\r\n"
            f"# Name = alice\r\n[Peer]\r\nPublicKey = {A}\r\nAllowedIPs = 10.0.0.2/32\r\n\r\n"
        ).encode()
    )


PIVPN = f"""[Interface]
PrivateKey = {PRIVATE}
Address = 10.6.0.1/24
MTU = 1420
ListenPort = 51820
### begin alice ###
[Peer]
PublicKey = {A}
PresharedKey = {PSK}
AllowedIPs = 10.6.0.2/32
### end alice ###
### begin bob ###
#[disabled] [Peer]
#[disabled] PublicKey = {B}
#[disabled] PresharedKey = {PSK}
#[disabled] AllowedIPs = 10.6.0.3/32
### end bob ###
### begin carol ###
[Peer]
PublicKey = {C}
PresharedKey = {PSK}
AllowedIPs = 10.6.0.4/32
### end carol ###
"""


def test_pivpn_blocks_are_removed_from_begin_to_end() -> None:
    parsed = parse_config(PIVPN.encode(), "wg0.conf")

    assert [p.public_key for p in parsed.peers] == [A, C]
    assert [(p.public_key, p.disabled, p.line) for p in parsed.disabled] == [(B, True, 13)]
    lines = PIVPN.splitlines(keepends=True)
    assert parsed.without(A).decode() == "".join(lines[:5] + lines[11:])
    assert parsed.without(C).decode() == "".join(lines[:17])
    # A commented-out block is not a peer: there is nothing of it to remove.
    assert parsed.without(B) == PIVPN.encode()
    assert parsed.problems == ()


def test_every_block_of_a_key_defined_twice_is_removed() -> None:
    text = (
        f"[Interface]\nPrivateKey={PRIVATE}\n\n[Peer]\nPublicKey={A}\nAllowedIPs=10.0.0.2/32\n\n"
        f"[Peer]\nPublicKey={B}\nAllowedIPs=10.0.0.3/32\n\n[Peer]\nPublicKey={A}\n"
        "AllowedIPs=10.0.0.4/32\n"
    )
    parsed = parse_config(text.encode(), "wg0.conf")

    assert [p.line for p in parsed.peers] == [4, 8, 12]
    assert parsed.without(A).decode() == (
        f"[Interface]\nPrivateKey={PRIVATE}\n\n[Peer]\nPublicKey={B}\nAllowedIPs=10.0.0.3/32\n\n"
    )
    duplicate = [p for p in parsed.problems if p.record == A]
    assert [(p.line, p.message, p.incomplete) for p in duplicate] == [
        (12, "this peer is already defined at line 4; wg merges the two", False)
    ]


def test_settings_are_read_as_wg_reads_them() -> None:
    text = (
        "[ interface ]\nListen Port = 51820 # the port\nSaveConfig = true\n"
        f"[PEER]\n  public key = {A[:20]} {A[20:]}  \nallowedips=10.0.0.2/32,10.0.1.0/24\n"
        "Endpoint = [2001:db8::1]:51820\n"
    )
    parsed = parse_config(text.encode(), "wg0.conf")

    assert (parsed.listen_port, parsed.save_config, parsed.problems) == (51820, True, ())
    (peer,) = parsed.peers
    assert peer.public_key == A
    assert peer.allowed_ips == ("10.0.0.2/32", "10.0.1.0/24")
    assert peer.endpoint == "[2001:db8::1]:51820"
    assert not peer.preshared_key


def test_malformed_lines_are_problems_and_the_rest_is_read() -> None:
    text = (
        f"ListenPort = 1\n[Interface]\nPrivateKey {PRIVATE}\nColour = blue\n[Peer]\n"
        f"PublicKey = {A}\nAllowedIPs = 10.0.0.2/32, not-a-network\n[Peer]\n"
        "AllowedIPs = 10.0.0.3/32\n[Peer]\nPublicKey = tooshort\n[Tunnel]\nMode = fast\n"
        "[Peer]\nbroken line\n"
    )
    parsed = parse_config(text.encode(), "wg0.conf")

    assert [(p.line, p.message) for p in parsed.problems] == [
        (1, "a line before the first [Interface] or [Peer] section"),
        # The "key" here holds the private key (its base64 ends with "="): not repeated.
        (3, "unknown [Interface] setting a key: the line is not read"),
        (4, "unknown [Interface] setting colour: the line is not read"),
        (7, "AllowedIPs: an entry is not an IP network"),
        (8, "a [Peer] without PublicKey: nobody can use it"),
        (11, "PublicKey is not a WireGuard key (base64 of 32 bytes)"),
        (12, "unknown section [tunnel]: its settings are not read"),
        (14, "a [Peer] without PublicKey: nobody can use it"),
        (15, "not a [Section] header, a # comment or a Key = Value setting"),
    ]
    assert [(p.public_key, p.allowed_ips) for p in parsed.peers] == [(A, ("10.0.0.2/32",))]
    # Nothing of a line is ever repeated in a problem: it may hold a key.
    assert not any(PRIVATE in p.message for p in parsed.problems)


@pytest.mark.parametrize(
    "data",
    [b"", b"# only a comment\n\n", b'{"peers": []}\n', b"\x00\x01binary", b"PublicKey = x\n"],
)
def test_what_is_not_a_configuration_at_all(data: bytes) -> None:
    with pytest.raises(SourceError, match=r"^wg0\.conf: "):
        parse_config(data, "wg0.conf")


def test_keys() -> None:
    assert is_key(A) and is_key(PRIVATE)
    assert not is_key(A[:-1]) and not is_key(A[:-2] + "==") and not is_key("x" * 44)


# --- as collect reads it ----------------------------------------------------------------------


def test_a_malformed_config_line_is_named_and_the_rest_is_read(files: Path, keys: Keys) -> None:
    config = files / "wg0.conf"
    lines = config.read_text().splitlines(keepends=True)
    lines.insert(15, "AllowedIPs 10.8.0.3/32\n")  # in bob's block, without its "="
    lines.append("\n[Peer]\n# iam-gov: login=nokey\nAllowedIPs = 10.8.0.77/32\n")
    config.write_text("".join(lines))

    snapshot = exported(files).collect()

    assert not snapshot.complete
    assert [(e.source, e.line, e.message) for e in snapshot.errors] == [
        (str(config), 16, "not a [Section] header, a # comment or a Key = Value setting"),
        (str(config), 38, "a [Peer] without PublicKey: nobody can use it"),
    ]
    assert {keys.jane, keys.bob, keys.ci, keys.stranger} <= set(accounts_of(snapshot))
