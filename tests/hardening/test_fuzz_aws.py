"""Bad input for the AWS connector's export (issue 15): a damaged `get-account-authorization-
details` JSON, credential report, password policy or Access Advisor file is read, refused with
a typed error naming the file, or read incomplete naming it — never another exception, never a
principal dropped silently."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iam_gov.errors import SourceError
from tests.hardening.fuzz_exports import (
    DemoCopy,
    Mutation,
    byte_mutations,
    check_command,
    json_mutation,
    read_damaged,
)

DETAILS = "aws/authorization-details.json"
REPORT = "aws/credential-report.json"
ROOT = "arn:aws:iam::210987654321:root"
FILES = [DETAILS, REPORT, "aws/password-policy.json", "aws/last-accessed/user/ana.sato.json"]


@pytest.mark.parametrize("relative", FILES)
@settings(max_examples=12)
@given(mutation=byte_mutations())
def test_a_damaged_file_is_read_refused_or_incomplete(
    demo: DemoCopy, relative: str, mutation: Mutation
) -> None:
    """Truncated (never a complete read of fewer principals), a byte flipped, bytes inserted
    (NUL, bidi, CR, a 200 KB line) or deleted, or random: a typed error or problems naming
    the file."""
    read_damaged(demo, "aws", relative, mutation)


@pytest.mark.parametrize("relative", FILES)
@settings(max_examples=12)
@given(data=st.data())
def test_json_of_the_wrong_shape_is_refused_or_incomplete(
    demo: DemoCopy, relative: str, data: st.DataObject
) -> None:
    """A value of the wrong type anywhere (null, a number, a string where a list is, lists
    nested thousands deep), a key written twice, a deeply nested document."""
    mutation = data.draw(json_mutation((demo.root / relative).read_bytes()))
    read_damaged(demo, "aws", relative, mutation)


@settings(max_examples=12)
@given(data=st.data())
def test_a_damaged_credential_report_inside_its_json(demo: DemoCopy, data: st.DataObject) -> None:
    """The CSV inside ``Content`` damaged and encoded again: rows cut off or mangled leave
    users' credentials unknown, named; never a complete read without them."""
    document = json.loads((demo.root / REPORT).read_text())
    csv = base64.b64decode(document["Content"])
    inner = data.draw(byte_mutations())
    document["Content"] = base64.b64encode(inner.apply(csv)).decode()
    damaged = json.dumps(document).encode()
    # The root user is in the report only: its row damaged past recognition leaves the
    # report without a root row, incomplete; with the user column damaged it is kept, by ARN.
    read_damaged(demo, "aws", REPORT, Mutation(f"Content {inner!r}", lambda _old: damaged))


def test_the_root_row_is_the_root_user_by_its_arn_too(demo: DemoCopy) -> None:
    """A root row whose user column is damaged (``<root_acco\\0nt>``) was dropped, the
    account's root user gone from a complete snapshot; its ARN still says who it is."""
    document = json.loads((demo.root / REPORT).read_text())
    csv = base64.b64decode(document["Content"]).replace(b"<root_account>", b"<root_acco\0nt>")
    document["Content"] = base64.b64encode(csv).decode()
    with demo.changed(REPORT, json.dumps(document).encode()):
        snapshot = demo.collect("aws")
    root = next(a for a in snapshot.accounts if a.native_id == ROOT)
    assert root.attributes["principal_type"] == "root"


def test_the_report_without_its_root_row_is_incomplete(demo: DemoCopy) -> None:
    """The demo's report with the root row filtered out was a complete snapshot without the
    root user; now incomplete, naming the file, with what is unknown."""
    document = json.loads((demo.root / REPORT).read_text())
    lines = base64.b64decode(document["Content"]).splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(b"<root_account>,")]
    assert len(kept) == len(lines) - 1
    document["Content"] = base64.b64encode(b"".join(kept)).decode()
    with demo.changed(REPORT, json.dumps(document).encode()) as path:
        snapshot = demo.collect("aws")
    assert not snapshot.complete
    assert [str(e) for e in snapshot.errors if e.record == "<root_account>"] == [
        f"{path} (<root_account>): the credential report has no <root_account> row, which IAM "
        "always writes (cut short or filtered?) (the root user's MFA, keys and sign-ins are "
        "unknown)"
    ]
    assert ROOT not in {a.native_id for a in snapshot.accounts}


def test_a_list_written_twice_is_refused_not_the_last_kept(demo: DemoCopy) -> None:
    """`"UserDetailList": [...], …, "UserDetailList": []` read as json does would be an
    account without users, complete: refused, naming the key."""
    text = (demo.root / DETAILS).read_text()
    doubled = text.replace('"UserDetailList": [', '"UserDetailList": [], "UserDetailList": [', 1)
    with demo.changed(DETAILS, doubled.encode()) as path, pytest.raises(SourceError) as caught:
        demo.collect("aws")
    assert str(caught.value).startswith(f"{path}:1: not valid JSON (key 'UserDetailList' twice")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[]", "no page of `aws iam get-account-authorization-details` output in it"),
        ("[" * 100_000 + "]" * 100_000, "1: JSON nested too deep to read"),
    ],
)
def test_documents_without_pages_or_too_deep(demo: DemoCopy, content: str, problem: str) -> None:
    """An empty list of pages was a complete account without principals; a deep one raised
    RecursionError."""
    with demo.changed(DETAILS, content.encode()) as path, pytest.raises(SourceError) as caught:
        demo.collect("aws")
    assert str(caught.value) in (f"{path}: {problem}", f"{path}:{problem}")


def test_a_report_whose_content_is_not_ascii(demo: DemoCopy) -> None:
    """base64 of non-ASCII text raised ValueError; now the file's one-line error."""
    content = json.dumps({"Content": "dXNlc\u202e"}).encode()
    with demo.changed(REPORT, content) as path, pytest.raises(SourceError) as caught:
        demo.collect("aws")
    assert str(caught.value) == f"{path}: Content is not base64-encoded UTF-8 CSV"


def test_a_principal_name_too_long_for_a_file_name(demo: DemoCopy) -> None:
    """Access Advisor files are named after principals: a name past the file system's limit
    raised OSError (ENAMETOOLONG); now its data is unknown, said of that principal."""
    long = "a" * 300
    text = (demo.root / DETAILS).read_text().replace("user/ana.sato", f"user/{long}")
    with demo.changed(DETAILS, text.encode()):
        snapshot = demo.collect("aws")
    assert not snapshot.complete
    assert any(
        e.record == f"arn:aws:iam::210987654321:user/{long}" and "last accessed" in e.message
        for e in snapshot.errors
    )


def test_the_command_fails_or_marks_the_system_and_stores_nothing_partial(
    demo: DemoCopy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`iam-gov collect`: authorization details cut short exit 5 naming the file, the store
    keeps the previous snapshot; an IsTruncated last page exits 4, incomplete."""
    text = (demo.root / DETAILS).read_text()
    truncated = json.loads(text) | {"IsTruncated": True, "Marker": "next-page"}
    check_command(
        demo,
        "aws",
        unusable=(DETAILS, text[: len(text) // 2].encode()),
        partial=(DETAILS, json.dumps(truncated).encode()),
        db=tmp_path / "iam-gov.db",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )


def test_an_access_advisor_value_nested_too_deep_is_refused(
    demo: DemoCopy,
) -> None:
    """Deeper than any Access Advisor answer: refused before normalising it, which recursed
    until Python gave up on a file nested 1,851 deep that JSON still read (found by
    benchmarks/fuzz_exports.py --seed 7)."""
    deep = "[" * 40 + "]" * 40
    mutation = Mutation(
        "ServiceName nested 40 deep",
        lambda data: data.replace(b'"Amazon EC2"', deep.encode(), 1),
    )
    outcome = read_damaged(demo, "aws", "aws/last-accessed/user/ana.sato.json", mutation)
    assert outcome.kind == "incomplete"
    assert outcome.snapshot is not None
    assert any("nested deeper than the API" in e.message for e in outcome.snapshot.errors)
