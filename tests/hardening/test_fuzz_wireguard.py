"""Bad input for the WireGuard connector (issue 15): a damaged wg-quick configuration, saved
`wg show` dump or mapping file is read, refused with a typed error naming the file, or read
incomplete naming it — never another exception, never a peer dropped silently."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings

from iam_gov.errors import SourceError
from tests.hardening.fuzz_exports import (
    DemoCopy,
    Mutation,
    byte_mutations,
    check_command,
    read_damaged,
    truncations,
)

CONFIG = "wireguard/wg0.conf"
DUMP = "wireguard/wg0.dump"
MAPPING = "wireguard/mapping.yaml"


@pytest.mark.parametrize("relative", [CONFIG, DUMP, MAPPING])
@settings(max_examples=15)
@given(mutation=byte_mutations())
def test_a_damaged_file_is_read_refused_or_incomplete(
    demo: DemoCopy, relative: str, mutation: Mutation
) -> None:
    """Truncated, a byte flipped, bytes inserted (NUL, bidi, CR, a 200 KB line) or deleted,
    or random: a typed error or problems naming the file; no peer lost silently."""
    read_damaged(demo, "wireguard", relative, mutation)


@pytest.mark.parametrize("relative", [CONFIG, DUMP])
@settings(max_examples=8)
@given(mutation=truncations())
def test_a_cut_off_file_loses_no_peer_silently(
    demo: DemoCopy, relative: str, mutation: Mutation
) -> None:
    """Cut anywhere (at a [Peer] boundary too): the peers the other file still lists make
    the cut show; a complete read has every peer of the whole files."""
    outcome = read_damaged(demo, "wireguard", relative, mutation)
    if outcome.kind == "read":
        assert outcome.snapshot is not None
        whole = {a.native_id for a in demo.baseline("wireguard").accounts}
        assert whole <= {a.native_id for a in outcome.snapshot.accounts}, mutation


@pytest.mark.parametrize(
    ("relative", "env"),
    [
        (CONFIG, "IAM_GOV_MAX_EXPORT_MB"),
        (DUMP, "IAM_GOV_MAX_EXPORT_MB"),
        (MAPPING, "IAM_GOV_MAX_YAML_MB"),
    ],
)
def test_every_file_is_held_to_the_size_limit(
    demo: DemoCopy, monkeypatch: pytest.MonkeyPatch, relative: str, env: str
) -> None:
    """Each input is refused from its size, unread, naming the file and the variable."""
    monkeypatch.setenv(env, "1")
    path = demo.root / relative
    before = path.read_bytes()
    with path.open("wb") as file:
        file.truncate(50_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(SourceError) as caught:
            demo.collect("wireguard")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        path.write_bytes(before)
    assert peak < 20_000_000
    assert str(caught.value) == (
        f"{path}: is 50 MB, over the size limit of 1 MB (set {env} to raise it)"
    )


def test_the_command_fails_or_marks_the_system_and_stores_nothing_partial(
    demo: DemoCopy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`iam-gov collect`: a dump that is none exits 5 naming it, the store keeps the previous
    snapshot; a peer line cut short exits 4 with an incomplete snapshot."""
    dump = (demo.root / DUMP).read_bytes()
    head, peer, rest = dump.split(b"\n", 2)
    check_command(
        demo,
        "wireguard",
        unusable=(DUMP, b"interface: wg0\n  public key: \xe2\x80\xae(redacted)\n"),
        partial=(DUMP, b"\n".join([head, peer.split(b"\t")[0] + b"\t(none)", rest])),
        db=tmp_path / "iam-gov.db",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
