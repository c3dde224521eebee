"""Bad input for the OpenVPN connector (issue 15): a damaged index.txt, status file, log,
server.conf, CRL, certificate or mapping file is read, refused with a typed error naming the
file, or read incomplete naming it — never another exception, never a silent partial read."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings

from iam_gov.connectors.openvpn.log import read_logs
from iam_gov.connectors.openvpn.status import parse_status
from iam_gov.errors import SourceError
from tests.hardening.fuzz_exports import (
    DAMAGED_FILES,
    DemoCopy,
    Mutation,
    _flip,
    byte_mutations,
    check_command,
    read_damaged,
    truncations,
)

INDEX = "openvpn/pki/index.txt"
STATUS = "openvpn/status.log"
FILES = DAMAGED_FILES["openvpn"]


@pytest.mark.parametrize("relative", FILES)
@settings(max_examples=12)
@given(mutation=byte_mutations())
def test_a_damaged_file_is_read_refused_or_incomplete(
    demo: DemoCopy, relative: str, mutation: Mutation
) -> None:
    """Truncated, a byte flipped, bytes inserted (NUL, bidi, CR, a 200 KB line) or deleted,
    or random: a typed error or problems naming the file; no account lost silently."""
    read_damaged(demo, "openvpn", relative, mutation)


@pytest.mark.parametrize(("at", "value"), [(0.393, 0x32), (0.438, 0x66)])
def test_a_ca_certificate_whose_subject_cannot_be_parsed_is_a_problem(
    demo: DemoCopy, at: float, value: int
) -> None:
    """The subject is parsed when first compared with the CRL's issuer: a damaged one was a
    ValueError there (found by benchmarks/fuzz_exports.py --seed 99)."""
    read_damaged(demo, "openvpn", "openvpn/pki/ca.crt", _flip(at, value))


@settings(max_examples=10)
@given(mutation=truncations())
def test_a_cut_off_index_is_never_read_as_complete(demo: DemoCopy, mutation: Mutation) -> None:
    """Cut anywhere, even at a line's end: the certificates it no longer lists say so."""
    outcome = read_damaged(demo, "openvpn", INDEX, mutation)
    assert outcome.kind != "read", mutation


@settings(max_examples=10)
@given(mutation=truncations())
def test_a_cut_off_status_file_is_never_read_as_complete(
    demo: DemoCopy, mutation: Mutation
) -> None:
    """A status file without its END line (copied while the server rewrote it) may lack
    sessions: incomplete, not a quiet "nobody else was connected"."""
    outcome = read_damaged(demo, "openvpn", STATUS, mutation)
    if outcome.kind == "read":
        kept = mutation.apply((demo.root / STATUS).read_bytes())
        assert kept.rstrip().endswith(b"\nEND"), mutation


def test_a_line_missing_from_the_index_names_its_certificate(demo: DemoCopy) -> None:
    """One whole line gone (the cut no parser can see): its certificate file still exists,
    and the snapshot says whose access is unknown."""
    lines = (demo.root / INDEX).read_bytes().splitlines(keepends=True)
    gone = lines[3].split(b"\t")
    serial, name = gone[3].decode(), gone[5].decode().strip().removeprefix("/CN=")
    with demo.changed(INDEX, b"".join(lines[:3] + lines[4:])):
        snapshot = demo.collect("openvpn")
    assert not snapshot.complete
    problem = next(e for e in snapshot.errors if e.record == serial)
    assert problem.source.endswith(f"certs_by_serial/{serial}.pem")
    assert f"certificate {serial} ({name}) is not among the lines read" in problem.message
    assert name not in {a.native_id for a in snapshot.accounts}


def test_a_last_line_without_its_end_is_left_out(demo: DemoCopy) -> None:
    """Cut inside the subject, the line still parses, with a shorter common name: it is a
    cut, not an identity."""
    data = (demo.root / INDEX).read_bytes()
    with demo.changed(INDEX, data[:-4]) as path:
        snapshot = demo.collect("openvpn")
    assert not snapshot.complete
    lines = data.count(b"\n")
    assert f"{path}:{lines}: the last line has no line end: index.txt is cut off here" in [
        str(e) for e in snapshot.errors
    ]
    cut = data.splitlines()[-1].split(b"/CN=")[1][:-4].decode()
    assert cut not in {a.native_id for a in snapshot.accounts}


@pytest.mark.parametrize(
    ("zone", "moment"),
    [("Etc/GMT-14", "0001-01-01 00:00:00"), ("Etc/GMT+12", "9999-12-31 23:00:00")],
)
def test_times_that_leave_the_calendar_in_utc_are_problems(
    tmp_path: Path, zone: str, moment: str
) -> None:
    """Year 1 at +14:00 or 9999 at -12:00 has no UTC time: a problem on its line (before,
    an OverflowError escaped from the status file's Updated line and from the logs)."""
    here = ZoneInfo(zone)
    updated = datetime.strptime(moment, "%Y-%m-%d %H:%M:%S").strftime("%a %b %d %H:%M:%S %Y")
    v1 = [
        "OpenVPN CLIENT LIST",
        f"Updated,{updated}",
        "Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since",
        f"alice,198.51.100.1:1194,1,1,{moment}",
        "END",
    ]
    report = parse_status(v1, "status.log", here)
    assert report.sessions == []
    assert [e.line for e in report.errors] == [2, 4]
    log = tmp_path / "openvpn.log"
    log.write_text(
        f"{moment} us=1 alice/198.51.100.1:1194 MULTI_sva: pool returned IPv4=10.8.0.2\n"
        "2026-11-27 09:00:00 bob/198.51.100.2:1194 MULTI_sva: pool returned IPv4=10.8.0.3\n"
    )
    history = read_logs([log], here, datetime(2026, 11, 28, tzinfo=UTC))
    assert list(history.last_seen) == ["bob"]


# --- size limits ------------------------------------------------------------------------------


def _sparse(path: Path, size: int) -> bytes:
    """Make ``path`` ``size`` bytes long without writing them; its former bytes."""
    before = path.read_bytes()
    with path.open("wb") as file:
        file.truncate(size)
    return before


@pytest.mark.parametrize(
    ("relative", "env", "refused"),
    [
        ("openvpn/pki/certs_by_serial/1007.pem", "IAM_GOV_MAX_EXPORT_MB", False),
        ("openvpn/pki/crl.pem", "IAM_GOV_MAX_EXPORT_MB", False),
        ("openvpn/pki/ca.crt", "IAM_GOV_MAX_EXPORT_MB", False),
        (INDEX, "IAM_GOV_MAX_EXPORT_MB", True),
        (STATUS, "IAM_GOV_MAX_EXPORT_MB", True),
        ("openvpn/server.conf", "IAM_GOV_MAX_EXPORT_MB", True),
        ("openvpn/mapping.yaml", "IAM_GOV_MAX_YAML_MB", True),
    ],
)
def test_every_pki_file_is_held_to_the_size_limit(
    demo: DemoCopy, monkeypatch: pytest.MonkeyPatch, relative: str, env: str, refused: bool
) -> None:
    """Certificates, the CRL and the CA certificate were read whole, whatever their size; now
    each input is refused from its size, unread, naming the file and the variable."""
    monkeypatch.setenv(env, "1")
    path = demo.root / relative
    before = _sparse(path, 50_000_000)
    tracemalloc.start()
    try:
        if refused:
            with pytest.raises(SourceError) as caught:
                demo.collect("openvpn")
            messages = [str(caught.value)]
        else:
            snapshot = demo.collect("openvpn")
            messages = [str(e) for e in snapshot.errors]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        path.write_bytes(before)
    assert peak < 20_000_000
    assert any(
        str(path) in m and f"is 50 MB, over the size limit of 1 MB (set {env}" in m
        for m in messages
    ), messages


def test_the_command_fails_or_marks_the_system_and_stores_nothing_partial(
    demo: DemoCopy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`iam-gov collect`: an index.txt that is no index exits 5 naming it, the store keeps
    the previous snapshot; one bad line exits 4 with an incomplete snapshot."""
    lines = (demo.root / INDEX).read_bytes().splitlines(keepends=True)
    check_command(
        demo,
        "openvpn",
        unusable=(INDEX, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\n"),
        partial=(INDEX, b"".join([lines[0], b"V\t2805\xff\x00\t\t\t\n", *lines[1:]])),
        db=tmp_path / "iam-gov.db",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
