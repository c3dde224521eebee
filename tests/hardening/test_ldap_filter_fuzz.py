"""LDAP filters built from fuzzed names, against a real slapd: entries whose uid, cn and mail
are made of filter metacharacters (``*``, ``(``, ``)``, ``\\``, NUL, ``*)(uid=*``), spaces
and non-ASCII text are each found, through the connector's own filter building (``equals``
within the scope's user filter, searched by its client), as exactly themselves: never
another entry, never all of them."""

from __future__ import annotations

import contextlib
import itertools
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from iam_gov.connectors.ldap.client import Directory, Settings, connect
from iam_gov.connectors.ldap.connector import LDAPConnector
from iam_gov.connectors.ldap.entry import Scope, all_of, equals
from tests.support.slapd import (
    OPENLDAP_BASE,
    SERVICE_PASSWORD,
    ThrowawaySlapd,
    admin,
    live_options,
    seeded_slapd,
)

FUZZ_BASE = f"ou=fuzz,{OPENLDAP_BASE}"

PIECES = (
    "*",
    "(",
    ")",
    "\\",
    "\x00",
    "*)(uid=*",
    "))(|(uid=*",
    "\\2a",
    "\\00",
    "=",
    "&",
    "|",
    "!",
    "~",
    ">=",
    ":dn:",
    " ",
    "  ",
    "a",
    "b",
    "z",
    "7",
    "é",
    "李",
    "🙂",
    "\u202e",
)
"""What names are made of: filter syntax and its escapes, spaces (which filters trim),
letters, non-ASCII and astral characters, a bidi override."""
ASCII_PIECES = tuple(p for p in PIECES if p.isascii() and p != "\x00")


def match_key(value: str) -> str:
    """When two values may be equal to the directory's matching rules (caseIgnoreMatch,
    caseIgnoreIA5Match: case, runs of spaces and edge spaces do not count; control and
    format characters are ignored; Unicode compatibility forms are one): names that differ
    here must never find each other."""
    folded = unicodedata.normalize("NFKC", value).casefold()
    kept = "".join(c for c in folded if unicodedata.category(c) not in ("Cc", "Cf"))
    return " ".join(kept.split())


names = st.one_of(
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=6).map("".join),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=10),
).filter(lambda name: match_key(name) != "")
mails = (
    st.lists(st.sampled_from(ASCII_PIECES), min_size=1, max_size=5)
    .map(lambda pieces: "".join(pieces) + "@example.org")
    .filter(lambda mail: mail.isprintable())
)
batches = st.lists(
    st.tuples(names, mails),
    min_size=3,
    max_size=8,
    unique_by=(lambda pair: match_key(pair[0]), lambda pair: match_key(pair[1])),
)

_numbers = itertools.count(1)


@contextlib.contextmanager
def fuzz_slapd() -> Iterator[ThrowawaySlapd]:
    """The seeded slapd with an empty ``ou=fuzz`` for the fuzzed entries."""
    with seeded_slapd() as server:
        conn = admin(server, OPENLDAP_BASE)
        conn.add(FUZZ_BASE, ["organizationalUnit"])
        conn.unbind()
        yield server


@pytest.fixture(scope="module")
def slapd() -> Iterator[ThrowawaySlapd]:
    with fuzz_slapd() as server:
        yield server


@contextlib.contextmanager
def connected(slapd: ThrowawaySlapd) -> Iterator[tuple[Directory, Scope]]:
    """The connector's client, bound as its service account, and its scope: users under
    ``ou=fuzz`` with the OpenLDAP flavor's user filter."""
    options = live_options(slapd, user_base="ou=fuzz")
    scope = LDAPConnector("ldap", options).scope()
    settings = Settings(
        urls=(slapd.url,),
        bind_dn=f"cn=iam-gov,{OPENLDAP_BASE}",
        start_tls=False,
        ca_file=None,
        tls_verify=True,
        timeout=10,
    )
    with connect(settings, SecretStr(SERVICE_PASSWORD), system="ldap", read_only=True) as found:
        yield found, scope


@pytest.fixture(scope="module")
def lookup(slapd: ThrowawaySlapd) -> Iterator[tuple[Directory, Scope]]:
    with connected(slapd) as found:
        yield found


def _found(directory: Directory, scope: Scope, attribute: str, value: str) -> list[str]:
    search_filter = all_of(scope.user_filter, equals(attribute, value))
    return sorted(entry.dn for entry in directory.search(scope.user_base, search_filter, []))


@settings(max_examples=20, suppress_health_check=[HealthCheck.too_slow])
@given(batch=batches)
@example(
    batch=[
        ("*", "*@example.org"),
        ("*)(uid=*", "*)(uid=*@example.org"),
        ("evil*()\\\x00name", "\\2a@example.org"),
        ("evil", " evil @example.org"),
        ("1\x1f", "1@example.org"),  # white space to Python at the edges: \x1f, NBSP, tab
        ("\xa0nbsp\t", "nbsp@example.org"),
    ]
)
def test_a_fuzzed_name_finds_exactly_its_own_entry(
    slapd: ThrowawaySlapd, lookup: tuple[Directory, Scope], batch: list[tuple[str, str]]
) -> None:
    """Each fuzzed uid, cn and mail, looked up as iam-gov builds the filter, finds its own
    entry and nothing else among the others of the batch (which include names that an
    unescaped filter would find: wildcards, closing parentheses, escapes written out)."""
    check_batch(slapd, *lookup, batch)


def check_batch(
    slapd: ThrowawaySlapd, directory: Directory, scope: Scope, batch: list[tuple[str, str]]
) -> int:
    """Add the batch's entries, look each up by uid, cn and mail, remove them; the number
    of lookups."""
    conn = admin(slapd, OPENLDAP_BASE)
    made: dict[str, tuple[str, str]] = {}
    lookups = 0
    try:
        for name, mail in batch:
            dn = f"employeeNumber={next(_numbers)},{FUZZ_BASE}"
            attributes: dict[str, Any] = {"uid": name, "cn": name, "sn": "fuzz", "mail": mail}
            assert conn.add(dn, ["inetOrgPerson"], attributes), conn.result
            made[dn.lower()] = (name, mail)
        for dn, (name, mail) in made.items():
            for attribute, value in (("uid", name), ("cn", name), ("mail", mail)):
                found = [d.lower() for d in _found(directory, scope, attribute, value)]
                assert found == [dn], (attribute, value, found)
                lookups += 1
    finally:
        for dn in made:
            conn.delete(dn)
        conn.unbind()
    return lookups
