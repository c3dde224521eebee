"""LDIF export mode: RFC 2849 as ldapsearch and ldifde write it, what is unusable as a whole
(SourceError with file:line), and what can be skipped (recorded, snapshot incomplete)."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iam_gov.connectors.ldap.connector import LDAPConnector, LDAPOptions
from iam_gov.connectors.ldap.export import read_ldif
from iam_gov.errors import SourceError

from .conftest import ALICE_UUID, BOB_UUID, STAFF_UUID, alice, bob, export, staff


def test_folding_comments_version_and_base64(tmp_path: Path) -> None:
    encoded_dn = base64.b64encode("uid=zoë,ou=people,dc=example,dc=org".encode()).decode()
    text = (
        "# extended LDIF\n"
        "#\n# a comment that goes on\n  on a folded line\n"
        "version: 1\n"
        "\n"
        f"dn:: {encoded_dn}\r\n"
        "objectClass: inetOrgPerson\n"
        "uid: zoe\n"
        "cn:: " + base64.b64encode("Zoë Zimmer".encode()).decode() + "\n"
        "description: a long value that ldapsearch folds at seventy-six colum\n"
        " ns, continued here\n"
        "# a comment inside an entry\n"
        "entryUUID: " + ALICE_UUID[:20] + "\n " + ALICE_UUID[20:] + "\n"
        "\n\n"
        "# pagedresults: cookie=\n"
    )
    path = tmp_path / "x.ldif"
    path.write_text(text)

    result = read_ldif(path)

    assert result.complete and result.errors == []
    (entry,) = result.entries
    assert entry.dn == "uid=zoë,ou=people,dc=example,dc=org" and entry.line == 7
    assert entry.text("cn") == "Zoë Zimmer"
    assert entry.text("description") == (
        "a long value that ldapsearch folds at seventy-six columns, continued here"
    )
    assert entry.text("entryUUID") == ALICE_UUID
    assert entry.texts("objectclass") == ("inetOrgPerson",)


def test_the_export_becomes_a_snapshot(tmp_path: Path) -> None:
    text = alice() + staff("uid=Alice, ou=People,dc=example,dc=org") + bob()

    snapshot = export(tmp_path, text).collect()

    assert snapshot.complete and snapshot.errors == ()
    assert snapshot.source == "export:directory.ldif"
    assert [a.login for a in snapshot.accounts] == ["alice", "bob"]
    # userPassword says a password exists; its value is never kept.
    assert {c.account_id for c in snapshot.credentials} == {ALICE_UUID, BOB_UUID}
    assert "SSHA" not in snapshot.model_dump_json()
    # The member DN is spelled differently from the entry's: it is the same DN.
    assert [(g.account_id, g.entitlement_id) for g in snapshot.grants] == [(ALICE_UUID, STAFF_UUID)]


def test_exported_at_defaults_to_the_file_time_and_says_so(tmp_path: Path) -> None:
    connector = export(tmp_path, alice())
    path = connector.options.path
    assert path is not None
    os.utime(path, (1767225600, 1767225600))  # 2026-01-01T00:00:00Z
    options = connector.options.model_copy(update={"exported_at": None})

    snapshot = LDAPConnector("ldap", options).collect()

    assert snapshot.collected_at.isoformat() == "2026-01-01T00:00:00+00:00"
    assert snapshot.complete
    (note,) = snapshot.errors
    assert "taken to be the file's modification time, 2026-01-01 00:00 UTC" in note.message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"users": []}\n', ":1: an entry must start with 'dn:', not '{\"users\": []}'"),
        (
            " folded\n" + alice(),
            ":1: a continued line (it starts with a space) follows nothing it could continue",
        ),
        (
            alice() + "dn: uid=x,dc=example,dc=org\nchangetype: modify\nreplace: cn\n",
            ":9: changetype modify: a file of changes is not an export of the directory",
        ),
        (alice() + "uid: stray\n\n", ":8: an entry must start with 'dn:', not 'uid: stray'"),
        (
            "# nothing but comments\n",
            ": holds no openldap users or groups (each entry needs its objectClass values)",
        ),
        (
            alice().replace("inetOrgPerson", "organizationalUnit"),
            ": holds no openldap users or groups (each entry needs its objectClass values)",
        ),
    ],
)
def test_unusable_as_a_whole_is_a_source_error(tmp_path: Path, text: str, problem: str) -> None:
    connector = export(tmp_path, text)

    with pytest.raises(SourceError) as raised:
        connector.collect()

    assert str(raised.value) == f"{connector.options.path}{problem}"


def test_binary_and_missing_files_are_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="is not a text file"):
        export(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00").collect()
    options = LDAPOptions.model_validate(
        {"type": "ldap", "flavor": "ad", "mode": "export", "path": tmp_path / "nope.ldf"}
    )
    with pytest.raises(SourceError, match=r"nope\.ldf: no such file \(an LDIF export\)"):
        LDAPConnector("corp", options).collect()


@pytest.mark.parametrize(
    ("broken", "line", "message"),
    [
        ("cn:: not*base64\n", 7, "line 7: the base64 value is broken"),
        ("just some words\n", 7, "line 7 is not 'attribute: value'"),
        ("photo:< https://example.org/a.jpg\n", 7, "only file:// URLs can be read"),
    ],
)
def test_a_broken_entry_is_skipped_and_the_rest_kept(
    tmp_path: Path, broken: str, line: int, message: str
) -> None:
    text = alice().rstrip("\n") + "\n" + broken + "\n" + bob()
    snapshot = export(tmp_path, text).collect()

    assert not snapshot.complete
    assert [a.login for a in snapshot.accounts] == ["bob"]
    (error,) = snapshot.errors
    assert error.source.endswith("directory.ldif")
    assert (error.line, error.record) == (line, "uid=alice,ou=people,dc=example,dc=org")
    assert error.message.startswith("entry skipped: ") and message in error.message


def test_file_urls_are_read(tmp_path: Path) -> None:
    (tmp_path / "cn.bin").write_bytes(b"Alice from a file")
    text = alice().replace("cn: Alice Archer", f"cn:< file://{tmp_path}/cn.bin")

    snapshot = export(tmp_path, text).collect()

    assert snapshot.accounts[0].display_name == "Alice from a file"


def test_an_ldapsearch_that_hit_a_limit_is_incomplete(tmp_path: Path) -> None:
    trailer = "# search result\nsearch: 2\nresult: 4 Size limit exceeded\n\n# numEntries: 1\n"

    snapshot = export(tmp_path, "version: 1\n\n" + alice() + trailer).collect()

    assert not snapshot.complete and len(snapshot.accounts) == 1
    (error,) = snapshot.errors
    assert error.line == 12  # the result: line
    assert error.message == "ldapsearch reported '4 Size limit exceeded': the export is cut short"
    ok = export(tmp_path, alice() + "search: 2\nresult: 0 Success\n").collect()
    assert ok.complete


def test_ranged_members_are_partial(tmp_path: Path) -> None:
    group = staff().replace(
        "\n\n", "\nmember;range=0-1499: uid=alice,ou=people,dc=example,dc=org\n\n"
    )

    snapshot = export(tmp_path, alice() + group).collect()

    assert not snapshot.complete
    (error,) = snapshot.errors
    assert "only part of member is in the export (AD ranged retrieval)" in error.message
    assert len(snapshot.grants) == 1  # the members shown are real
    final = staff().replace("\n\n", "\nmember;range=0-*: uid=alice,ou=people,dc=example,dc=org\n\n")
    assert export(tmp_path, alice() + final).collect().complete


def test_no_password_anywhere_is_said(tmp_path: Path) -> None:
    snapshot = export(tmp_path, alice().replace("userPassword", "description")).collect()

    assert snapshot.credentials == ()
    (note,) = snapshot.errors
    assert note.message.startswith("no user shows a password (userPassword or pwdChangedTime)")


def test_duplicate_ids_are_not_merged(tmp_path: Path) -> None:
    twin = alice().replace("uid=alice", "uid=alice2").replace("uid: alice", "uid: alice2")

    snapshot = export(tmp_path, alice() + twin).collect()

    assert [a.login for a in snapshot.accounts] == ["alice"] and not snapshot.complete
    assert snapshot.errors[0].message == f"user skipped: its id {ALICE_UUID} is another's too"


# --- property: whatever ldap3 writes, we read back --------------------------------------------

_names = st.sampled_from(["cn", "description", "objectGUID", "member", "userCertificate"])

_entries = st.lists(
    st.tuples(
        st.text(
            st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
            min_size=1,
            max_size=40,
        ),
        st.dictionaries(_names, st.lists(st.binary(max_size=120), min_size=1, max_size=3)),
    ),
    min_size=1,
    max_size=4,
)


@settings(
    max_examples=60,
    deadline=None,  # a loaded machine must not fail it
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(entries=_entries)
def test_reads_back_what_ldap3_writes(tmp_path: Path, entries: list[Any]) -> None:
    from ldap3.protocol.rfc2849 import add_ldif_header, operation_to_ldif

    response = [
        {"type": "searchResEntry", "dn": "cn=" + dn, "raw_attributes": attributes}
        for dn, attributes in entries
    ]
    lines = add_ldif_header(operation_to_ldif("searchResponse", response))
    path = tmp_path / "ldap3.ldif"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = read_ldif(path)

    assert result.complete and result.errors == []
    assert [(e.dn, dict(e.attributes)) for e in result.entries] == [
        ("cn=" + dn, {k.lower(): tuple(v) for k, v in attributes.items()})
        for dn, attributes in entries
    ]


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("20240115103000Z", "2024-01-15T10:30:00+00:00"),
        ("20240115103000.25Z", "2024-01-15T10:30:00.250000+00:00"),
        ("20240115113000+0100", "2024-01-15T10:30:00+00:00"),
        ("202401151030Z", "2024-01-15T10:30:00+00:00"),
    ],
)
def test_generalized_times(tmp_path: Path, written: str, meant: str) -> None:
    snapshot = export(tmp_path, alice(createTimestamp=written, pwdLastSuccess=written)).collect()

    (account,) = snapshot.accounts
    assert account.created_at is not None and account.created_at.isoformat() == meant
    assert account.last_login_at == account.created_at


def test_an_unreadable_time_is_left_unknown_and_said(tmp_path: Path) -> None:
    snapshot = export(tmp_path, alice(createTimestamp="yesterday")).collect()

    assert snapshot.accounts[0].created_at is None and not snapshot.complete
    assert snapshot.errors[0].message == (
        "createTimestamp: 'yesterday' is not a generalized time: left unknown"
    )
