"""Who is connected: OpenVPN status files (versions 1, 2, 3, written as OpenVPN writes them),
read in the server's time zone, with their mistakes reported line by line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.openvpn.connector import OpenVPNConnector, OpenVPNOptions
from iam_gov.errors import SourceError
from iam_gov.model import AccountStatus, SystemSnapshot

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STATUS_TIME = dt.datetime(2026, 3, 1, 11, 59, 30, tzinfo=UTC)
INDEX = (
    "V\t280101000000Z\t\t01\tunknown\t/CN=alice\n"
    "V\t280101000000Z\t\t02\tunknown\t/CN=bob\n"
    "R\t280101000000Z\t260225000000Z,cessationOfOperation\t03\tunknown\t/CN=carol\n"
    "V\t280101000000Z\t\t04\tunknown\t/CN=dave\n"
    "V\t280101000000Z\t\t05\tunknown\t/CN=dave\n"
)
TITLE = "OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [PKCS11] [AEAD]"
# (common name, real address, virtual address, connected since)
CLIENTS = [
    ("alice", "198.51.100.7:50123", "10.8.0.2", dt.datetime(2026, 3, 1, 11, 30, tzinfo=UTC)),
    ("bob", "203.0.113.9:41000", "10.8.0.3", dt.datetime(2026, 3, 1, 9, 15, tzinfo=UTC)),
    ("dave", "192.0.2.44:1194", "10.8.0.4", dt.datetime(2026, 2, 28, 22, 0, tzinfo=UTC)),
]


def _local(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def status_v1(*, ctime: bool = False) -> str:
    """As OpenVPN 2.4+ writes ``--status-version 1`` (2.3 and older: ctime() times)."""

    def when(moment: dt.datetime) -> str:
        return moment.strftime("%a %b %d %H:%M:%S %Y") if ctime else _local(moment)

    lines = [
        "OpenVPN CLIENT LIST",
        f"Updated,{when(STATUS_TIME)}",
        "Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since",
        *(f"{cn},{real},3716,3865,{when(since)}" for cn, real, _, since in CLIENTS),
        "ROUTING TABLE",
        "Virtual Address,Common Name,Real Address,Last Ref",
        *(f"{virtual},{cn},{real},{when(STATUS_TIME)}" for cn, real, virtual, _ in CLIENTS),
        "GLOBAL STATS",
        "Max bcast/mcast queue length,1",
        "END",
    ]
    return "\n".join(lines) + "\n"


def status_v2(separator: str = ",", extra_rows: tuple[str, ...] = ()) -> str:
    """As OpenVPN 2.6 writes ``--status-version 2`` (3: the same with tabs)."""
    t = int(STATUS_TIME.timestamp())
    rows = [
        ["TITLE", TITLE],
        ["TIME", _local(STATUS_TIME), str(t)],
        [
            "HEADER",
            "CLIENT_LIST",
            "Common Name",
            "Real Address",
            "Virtual Address",
            "Virtual IPv6 Address",
            "Bytes Received",
            "Bytes Sent",
            "Connected Since",
            "Connected Since (time_t)",
            "Username",
            "Client ID",
            "Peer ID",
            "Data Channel Cipher",
        ],
        *(
            [
                "CLIENT_LIST",
                cn,
                real,
                virtual,
                "",
                "3716",
                "3865",
                _local(since),
                str(int(since.timestamp())),
                "UNDEF",
                str(n),
                str(n),
                "AES-256-GCM",
            ]
            for n, (cn, real, virtual, since) in enumerate(CLIENTS)
        ),
        # still in the TLS handshake: no name yet
        [
            "CLIENT_LIST",
            "UNDEF",
            "192.0.2.99:5000",
            "",
            "",
            "0",
            "0",
            _local(STATUS_TIME),
            str(t),
            "UNDEF",
            "7",
            "7",
            "none",
        ],
        [
            "HEADER",
            "ROUTING_TABLE",
            "Virtual Address",
            "Common Name",
            "Real Address",
            "Last Ref",
            "Last Ref (time_t)",
        ],
        *(
            ["ROUTING_TABLE", virtual, cn, real, _local(STATUS_TIME), str(t)]
            for cn, real, virtual, _ in CLIENTS
        ),
        ["GLOBAL_STATS", "Max bcast/mcast queue length", "1"],
        ["GLOBAL_STATS", "dco_enabled", "0"],
    ]
    lines = [separator.join(row) for row in rows] + list(extra_rows) + ["END"]
    return "\r\n".join(lines) + "\r\n"


def collect(tmp_path: Path, **options: Any) -> SystemSnapshot:
    pki = tmp_path / "pki"
    pki.mkdir(exist_ok=True)
    (pki / "index.txt").write_text(INDEX)
    validated = OpenVPNOptions.model_validate(
        {"type": "openvpn", "pki_dir": pki, "timezone": "UTC", **options}
    )
    return OpenVPNConnector("vpn", validated, clock=lambda: NOW).collect()


def with_status(tmp_path: Path, text: str, **options: Any) -> SystemSnapshot:
    path = tmp_path / "openvpn-status.log"
    path.write_text(text, newline="")
    return collect(tmp_path, status_file=path, **options)


@pytest.mark.parametrize(
    "text",
    [status_v1(), status_v2(), status_v2("\t")],
    ids=["version-1", "version-2", "version-3"],
)
def test_a_status_file_shows_who_is_connected(tmp_path: Path, text: str) -> None:
    snapshot = with_status(tmp_path, text)

    assert snapshot.complete, snapshot.errors
    assert snapshot.source == "export:index.txt,openvpn-status.log"
    accounts = {a.native_id: a for a in snapshot.accounts}
    for cn, _, _, since in CLIENTS:
        assert accounts[cn].last_login_at == STATUS_TIME
        assert accounts[cn].attributes["connected"] == "true"
        assert accounts[cn].attributes["connected_since"] == since.isoformat()
    assert accounts["carol"].last_login_at is None
    assert snapshot.settings["observation"] == {"observed_since": STATUS_TIME.isoformat()}
    credentials = {c.credential_id: c for c in snapshot.credentials}
    # alice has one certificate, so her connection used it; dave has two: which is unknown.
    assert credentials["alice#cert-01"].last_used_at == STATUS_TIME
    assert credentials["dave#cert-04"].last_used_at is None
    assert credentials["dave#cert-05"].last_used_at is None


def test_version_1_from_openvpn_2_3_in_the_servers_time_zone(tmp_path: Path) -> None:
    snapshot = with_status(tmp_path, status_v1(ctime=True), timezone="Europe/Berlin")

    alice = next(a for a in snapshot.accounts if a.native_id == "alice")
    # Berlin is an hour ahead of UTC in March: the same wall-clock times, an hour earlier.
    assert alice.last_login_at == STATUS_TIME - dt.timedelta(hours=1)
    assert alice.attributes["connected_since"] == "2026-03-01T10:30:00+00:00"


def test_malformed_status_lines_are_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    text = status_v2(
        extra_rows=(
            "CLIENT_LIST,erin,192.0.2.5:1000,10.8.0.9",
            "CLIENT_LIST,frank,192.0.2.6:1000,10.8.0.10,,1,1,yesterday,noon,UNDEF,9,9,none",
            "SOMETHING_ELSE,1,2",
        )
    )
    path = tmp_path / "openvpn-status.log"

    snapshot = with_status(tmp_path, text)

    assert not snapshot.complete
    assert [str(e) for e in snapshot.errors if e.source == str(path)] == [
        f"{path}:14: a client line whose fields do not match its header",
        f"{path}:15: Connected Since: time 'yesterday' is not in a format OpenVPN writes",
        f"{path}:16: unknown line type 'SOMETHING_ELSE'",
    ]
    alice = next(a for a in snapshot.accounts if a.native_id == "alice")
    assert alice.last_login_at == STATUS_TIME


def test_files_that_are_not_server_status_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not an OpenVPN server status file"):
        with_status(tmp_path, "<html>status</html>\n")
    with pytest.raises(SourceError, match="the status file of an OpenVPN client"):
        with_status(tmp_path, "OpenVPN STATISTICS\nUpdated,2026-03-01 12:00:00\nEND\n")
    with pytest.raises(SourceError, match="no such file"):
        collect(tmp_path, status_file=tmp_path / "missing.log")


def test_a_connected_name_without_a_certificate_is_kept(tmp_path: Path) -> None:
    text = status_v2(
        extra_rows=(
            f"CLIENT_LIST,mallory,192.0.2.66:4000,10.8.0.66,,1,1,{_local(STATUS_TIME)},"
            f"{int(STATUS_TIME.timestamp())},UNDEF,9,9,AES-256-GCM",
        )
    )

    snapshot = with_status(tmp_path, text)

    mallory = next(a for a in snapshot.accounts if a.native_id == "mallory")
    assert mallory.status is AccountStatus.ACTIVE
    assert mallory.attributes["certificate_status"] == "unknown"
    assert "mallory" in {g.account_id for g in snapshot.grants}
    assert any(e.record == "mallory" and "no certificate" in e.message for e in snapshot.errors)


def test_usernames_as_common_names_are_matched_through_the_mapping(tmp_path: Path) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_text("identities:\n  - cn: alice\n    login: aarcher\n")
    text = status_v1().replace("\nalice,", "\naarcher,")

    snapshot = with_status(tmp_path, text, mapping=mapping)

    alice = next(a for a in snapshot.accounts if a.native_id == "alice")
    assert alice.login == "aarcher" and alice.last_login_at == STATUS_TIME
    assert "aarcher" not in {a.native_id for a in snapshot.accounts}
