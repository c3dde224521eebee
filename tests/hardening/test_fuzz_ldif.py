"""Hostile LDIF: fuzzed bytes and mutated ``ldapsearch`` exports are read (a broken record
skipped, said at its line, the snapshot incomplete) or refused with a ``SourceError`` naming
the file and line; never another exception, never the content of another line."""

from __future__ import annotations

import base64
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings

from iam_gov.connectors.ldap.connector import LDAPConnector, LDAPOptions
from iam_gov.errors import SourceError
from tests.connectors.ldap.conftest import ALICE_UUID, alice, bob, staff
from tests.hardening.fuzz import CANARY, CANARY_TAIL, Tally, canary_whole, check_refusal, fuzzed

VALID = (
    "version: 1\n\n"
    "# a comment that goes on\n  on a folded line\n"
    + alice(description=CANARY, mail="alice@example.org")
    + staff("uid=alice,ou=people,dc=example,dc=org", "uid=bob,ou=people,dc=example,dc=org")
    + bob()
    + "dn:: "
    + base64.b64encode("uid=zoë,ou=people,dc=example,dc=org".encode()).decode()
    + "\nobjectClass: inetOrgPerson\nuid: zoe\ncn:: "
    + base64.b64encode("Zoë Zimmer".encode()).decode()
    + "\nentryUUID: 3f1c2a4e-8d2b-1041-9a6e-5b9c1d2e3f43\n\n"
    + "# search result\nsearch: 2\nresult: 0 Success\n"
).encode()

WHOLE_FILE = ("is not a text file", "holds no openldap users or groups")
TALLY = Tally()


def _connector(path: Path) -> LDAPConnector:
    options = LDAPOptions.model_validate(
        {
            "type": "ldap",
            "flavor": "openldap",
            "mode": "export",
            "path": path,
            "exported_at": "2026-03-01T00:00:00Z",
        }
    )
    return LDAPConnector("ldap", options)


@settings(
    max_examples=80,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=fuzzed(VALID))
@example(data=VALID)
@example(data=VALID.replace(b"cn: staff", b"cn:: c3Rh!!"))
@example(data=VALID.replace(b"objectClass: groupOfNames", b" objectClass: groupOfNames"))
@example(data=VALID.replace(b"cn: Bob", b"cn:< http://169.254.169.254/latest/meta-data/"))
@example(data=VALID.replace(b"cn: Bob", b"cn:< file:///etc/shadow"))
@example(data=VALID.replace(b"result: 0 Success", b"result: 4 Size limit exceeded"))
@example(data=VALID.replace(b"uid: alice", b"changetype: delete"))
@example(data=VALID.replace(b"uid: alice", b"uid:").replace(b"cn: staff", b"cn: "))
@example(data=VALID.replace(b"entryUUID: 3f1c2a4e-8d2b-1041-9a6e-5b9c1d2e3f41", b"entryUUID:"))
@example(data=VALID.replace(b"entryUUID: 3f1c2a4e-8d2b-1041-9a6e-5b9c1d2e3f40", b"entryUUID: "))
@example(data=VALID.replace(b"uid: bob", b"uid: bob\nuid: bob2\nuid:: AA=="))
@example(data=b"\xff\xfe" + VALID.decode().encode("utf-16-le"))
def test_a_fuzzed_ldif_export_is_read_or_refused_with_its_line(tmp_path: Path, data: bytes) -> None:
    """Any bytes as an LDIF export, collected: a snapshot whose problems name the file and
    their line, or a SourceError naming file:line; no URL other than file:// is read, and the
    canary's tail is never quoted."""
    read_or_refuse(tmp_path / "directory.ldif", data, TALLY)


def read_or_refuse(path: Path, data: bytes, tally: Tally) -> None:
    """``data`` written to ``path`` and collected as an export: read, or refused as the fuzz
    tests demand."""
    path.write_bytes(data)
    whole = canary_whole(data)
    try:
        snapshot = _connector(path).collect()
    except SourceError as exc:
        check_refusal(exc, path, whole_file=WHOLE_FILE, tally=tally, canary_whole=whole)
        return
    tally.accepted += 1
    for problem in snapshot.errors:
        assert problem.source == str(path)
        shown = f"{problem.record} {problem.message}"
        assert len(shown.splitlines()) == 1, f"problem spans lines: {shown!r}"
        assert not whole or CANARY_TAIL not in shown, f"the file's content leaks: {shown!r}"
        # Said of the export as a whole (ids by DN, no password policy), or at a line.
        assert problem.line is not None or problem.record is None or "by DN" in shown, problem
    # An http:// value is refused with its entry, never fetched into an account.
    assert not any("169.254" in a.model_dump_json() for a in snapshot.accounts)


def test_the_valid_sample_is_read_whole(tmp_path: Path) -> None:
    """The sample the fuzzing mutates is a good export: what is refused is the mutation."""
    path = tmp_path / "directory.ldif"
    path.write_bytes(VALID)
    snapshot = _connector(path).collect()
    assert snapshot.complete
    assert sorted(a.login for a in snapshot.accounts) == ["alice", "bob", "zoe"]
    assert {a.native_id for a in snapshot.accounts} >= {ALICE_UUID}


def test_file_urls_outside_the_export_folder_are_not_read(tmp_path: Path) -> None:
    """``attr:< file://`` reads only a file beside the export: another file this host can
    read (a secret, /dev/zero that never ends) is not pulled into the snapshot; the entry
    is skipped, said at its line."""
    outside = tmp_path / "elsewhere" / "secret.bin"
    outside.parent.mkdir()
    outside.write_text(CANARY)
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "cn.bin").write_bytes(b"Alice from a file")
    (folder / "link.bin").symlink_to(outside)
    path = folder / "directory.ldif"
    for url, line in (
        (f"file://{outside}", 4),
        (f"file://{folder}/link.bin", 4),
        (f"file://{folder}/../elsewhere/secret.bin", 4),
        ("file:///dev/zero", 4),
    ):
        path.write_text(alice().replace("cn: Alice Archer", f"cn:< {url}") + bob())
        snapshot = _connector(path).collect()
        assert CANARY not in snapshot.model_dump_json()
        assert [a.login for a in snapshot.accounts] == ["bob"], url
        (problem,) = snapshot.errors
        assert problem.line == line and problem.message.endswith(
            "is not a file in the export's folder, where ldapsearch -t -T FOLDER writes the "
            "values it leaves out of the LDIF"
        )
    path.write_text(alice().replace("cn: Alice Archer", f"cn:< file://{folder}/cn.bin"))
    assert _connector(path).collect().accounts[0].display_name == "Alice from a file"
