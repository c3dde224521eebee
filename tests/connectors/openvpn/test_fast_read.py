"""The fast paths of the OpenVPN offline read (issue 17) against what they replace: the log
reader against the line-by-line reader and the regular expressions, and the certificate
cache against parsing every file."""

from __future__ import annotations

import gzip
import json
import re
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iam_gov.connectors.openvpn import log, pki
from iam_gov.model import SnapshotError
from tests.support.pki import DemoPki

# --- the common name of a connection line ---------------------------------------------------

_PIECES = st.sampled_from(
    [
        "/",
        " ",
        "\t",
        "\u00a0",
        "alice",
        "10.0.0.1:1194",
        "[",
        "]",
        " MULTI_sva: pool returned ",
        " MULTI: primary virtual IP for ",
        " Peer Connection Initiated with ",
        "MULTI",
        "é",
    ]
)


@settings(max_examples=400)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_the_common_name_is_what_the_pattern_matches(message: str) -> None:
    """Finding "<cn>/<address> MULTI…" from the right gives the greedy regex's answer,
    including no answer, for any message."""
    for _marker, pattern, after in log._BY_MARKER:
        found = pattern.match(message)
        expected = None if found is None else found.group("cn")
        assert log._common_name(pattern, after, message) == expected


# --- lines ----------------------------------------------------------------------------------


class _Over(Exception):
    pass


def _lines_as_before(path: Path, limit: int, max_line: int) -> Iterator[bytes]:
    """The reader the chunked one replaces: readline, a long line's rest skipped, the
    limit checked at each line's end."""
    total = 0
    with path.open("rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if compressed else open
    with opener(path, "rb") as stream:
        while raw_line := stream.readline(max_line):
            total += len(raw_line)
            long_line = len(raw_line) == max_line and not raw_line.endswith(b"\n")
            while long_line and (rest := stream.readline(max_line)):
                total += len(rest)
                long_line = not rest.endswith(b"\n")
                if total > limit:
                    break
            if total > limit:
                raise _Over
            yield raw_line


def _read_all(lines: Iterator[bytes]) -> tuple[list[str], bool]:
    out: list[str] = []
    try:
        for line in lines:
            out.append(log._decode(line))
    except (_Over, log._OverLimit):
        return out, True
    return out, False


@settings(max_examples=300)
@given(
    data=st.lists(
        st.sampled_from([b"a", b"\n", b"\r", b"\r\n", b"\xc3\xa9", b"\xff", b"xyz"]), max_size=40
    ).map(b"".join),
    limit=st.integers(min_value=0, max_value=80),
    compressed=st.booleans(),
)
def test_chunked_lines_are_the_lines_read_one_by_one(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, limit: int, compressed: bool
) -> None:
    """With lines longer than the line limit, chunks ending mid-line and a size limit, the
    chunked reader gives the same lines and stops at the same place as readline did."""
    path = tmp_path_factory.mktemp("log") / "openvpn.log"
    path.write_bytes(gzip.compress(data) if compressed else data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(log, "MAX_LINE", 4)
        patch.setattr(log, "_CHUNK", 3)
        patch.setattr(log, "export_limit", lambda: limit)
        assert _read_all(log._raw_lines(path)) == _read_all(_lines_as_before(path, limit, 4))


def test_a_line_that_never_ends_stops_at_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compressed log of one endless line is given up once past the limit: an error, not
    a read of everything it expands to."""
    path = tmp_path / "openvpn.log.1.gz"
    path.write_bytes(gzip.compress(b"2026-01-01 00:00:00 x" + b"y" * 5_000_000))
    monkeypatch.setattr(log, "export_limit", lambda: 1_000_000)
    history = log.read_logs([path], UTC, datetime(2026, 2, 1, tzinfo=UTC))
    assert [e.message for e in history.errors] == [
        f"{log.TooLarge(None, 1_000_000, log.MAX_EXPORT_ENV)}; read no further"
    ]


# --- time stamps ----------------------------------------------------------------------------


@settings(max_examples=400)
@given(
    st.tuples(
        st.sampled_from(["0000", "0001", "1999", "2024", "2026", "9999"]),
        st.sampled_from(["00", "01", "02", "12", "13"]),
        st.sampled_from(["00", "01", "28", "29", "30", "31", "32"]),
        st.sampled_from(["00", "09", "23", "24"]),
        st.sampled_from(["00", "59", "60"]),
        st.sampled_from(["00", "59", "60", "61"]),
    ),
    st.sampled_from([UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")]),
)
def test_openvpn_time_stamps_read_as_strptime_reads_them(
    parts: tuple[str, str, str, str, str, str], zone: tzinfo
) -> None:
    """Any digits in OpenVPN's time stamp, valid or not, read as strptime read them, in UTC
    and in zones with summer time."""
    year, month, day, hour, minute, second = parts
    text = f"{year}-{month}-{day} {hour}:{minute}:{second}"
    expected: datetime | None
    try:
        local = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
        expected = local.astimezone(UTC)
    except (ValueError, OverflowError):
        expected = None
    parsed = log._stamp(f"{text} alice/1.2.3.4:5 MULTI: x", zone, datetime.now(UTC))
    assert (parsed[0] if parsed else None) == expected


def test_only_connection_lines_after_the_first_stamp_are_read(tmp_path: Path) -> None:
    """Lines that name no connection are skipped undecoded, yet the first time stamp (on
    such a line) still says since when the log knows, and a later line with a bad stamp
    counts for nothing."""
    path = tmp_path / "openvpn.log"
    path.write_bytes(
        b"no stamp here\n"
        b"2026-03-01 10:00:00 \xff OpenVPN 2.6 started\n"
        b"2026-03-01 10:05:00 alice/198.51.100.7:5000 MULTI: primary virtual IP for x\n"
        b"2026-02-30 10:06:00 bob/198.51.100.8:5000 MULTI: primary virtual IP for x\n"
        b"2026-03-01 10:07:00 198.51.100.9:5000 [carol] Peer Connection Initiated with x\n"
    )
    history = log.read_logs([path], UTC, datetime(2026, 4, 1, tzinfo=UTC))
    assert history.oldest == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert history.last_seen == {
        "alice": datetime(2026, 3, 1, 10, 5, tzinfo=UTC),
        "carol": datetime(2026, 3, 1, 10, 7, tzinfo=UTC),
    }


# --- the certificate cache ------------------------------------------------------------------


def _read(pki_dir: Path) -> tuple[dict[str, list[pki.CertificateFile]], list[SnapshotError]]:
    errors: list[SnapshotError] = []
    return pki.read_certificates(pki_dir, errors), errors


def _cache_file(folder: Path) -> Path:
    [found] = folder.glob("openvpn-certificates-*.json")
    return found


def test_cached_certificates_read_as_parsed_ones(
    demo: DemoPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second read, from the cache, gives what parsing every file gave; the cache is
    0600 in a 0700 folder."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("IAM_GOV_CACHE_DIR", str(cache))
    parsed = {
        serial: [pki.load_certificate(f.path) for f in files]
        for serial, files in _read(demo.pki.dir)[0].items()
    }
    first, first_errors = _read(demo.pki.dir)
    second, second_errors = _read(demo.pki.dir)
    assert first == second == parsed
    assert set(parsed) >= set(demo.serials.values())
    assert first_errors == second_errors == []
    assert stat.S_IMODE(_cache_file(cache).stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700


def test_the_cache_is_by_content(
    demo: DemoPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry is used for the bytes it was made from and no others: an entry changed by
    hand shows (the cache is read), and a file whose bytes change is parsed again."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("IAM_GOV_CACHE_DIR", str(cache))
    _read(demo.pki.dir)
    stored = json.loads(_cache_file(cache).read_text())
    alice = demo.pki.dir / "issued" / "alice.crt"
    key = pki.hashlib.sha256(alice.read_bytes()).hexdigest()
    stored["certificates"][key][3] = "not-alice"
    _cache_file(cache).write_text(json.dumps(stored))
    assert _read(demo.pki.dir)[0][demo.serials["alice"]][0].common_name == "not-alice"
    alice.write_bytes(alice.read_bytes() + b"\n")  # other bytes, the same certificate
    assert _read(demo.pki.dir)[0][demo.serials["alice"]][0].common_name == "alice"


@pytest.mark.parametrize(
    "damage",
    [
        b"{not json",
        b"[]",
        b'{"format": "something else", "certificates": {}}',
        json.dumps({"format": pki._CACHE_FORMAT, "certificates": []}).encode(),
        b"\x00" * 10,
    ],
)
def test_a_damaged_cache_is_rebuilt(
    demo: DemoPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: bytes
) -> None:
    """A cache that is not one reads as empty: the certificates are parsed, and the cache
    is written whole again."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("IAM_GOV_CACHE_DIR", str(cache))
    expected = _read(demo.pki.dir)
    _cache_file(cache).write_bytes(damage)
    assert _read(demo.pki.dir) == expected
    assert json.loads(_cache_file(cache).read_text())["format"] == pki._CACHE_FORMAT


def test_damaged_entries_are_parsed_again(
    demo: DemoPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry of the wrong shape (a time not in UTC, a wrong type, too short) is not
    used: that file is parsed again."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("IAM_GOV_CACHE_DIR", str(cache))
    expected = _read(demo.pki.dir)
    stored = json.loads(_cache_file(cache).read_text())
    entries = list(stored["certificates"].values())
    entries[0][1] = "2020-01-01T00:00:00+02:00"
    entries[1][5] = "yes"
    entries[2][:] = entries[2][:5]
    entries[3][1] = "yesterday"
    _cache_file(cache).write_text(json.dumps(stored))
    assert _read(demo.pki.dir) == expected


def test_a_cache_that_cannot_be_written_costs_nothing_but_time(
    demo: DemoPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache folder that cannot be made (a file in its place) leaves the read as it is."""
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    monkeypatch.setenv("IAM_GOV_CACHE_DIR", str(blocker / "cache"))
    found, errors = _read(demo.pki.dir)
    assert set(found) >= set(demo.serials.values())
    assert errors == []


def test_a_file_that_is_not_a_certificate_is_still_named(
    demo: DemoPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unreadable certificate file is a problem naming it, every time, cache or not."""
    monkeypatch.setenv("IAM_GOV_CACHE_DIR", str(tmp_path / "cache"))
    bad = demo.pki.dir / "issued" / "zz-broken.crt"
    bad.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    for _ in range(2):
        _, errors = _read(demo.pki.dir)
        assert [e.source for e in errors] == [str(bad)]
        assert re.match(r"not a readable certificate: ", errors[0].message)
