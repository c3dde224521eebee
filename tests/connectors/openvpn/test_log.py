"""Who connected in the past: OpenVPN server logs (2.6, 2.4 and syslog time stamps, rotated and
compressed), alone and with a status file."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

from tests.connectors.openvpn.test_status import (
    NOW,
    STATUS_TIME,
    UTC,
    collect,
    status_v2,
    with_status,
)

# Real log lines are longer than our source lines: each is written in two pieces.
CURRENT_LOG = (
    "2026-02-27 08:00:00 OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4]\n"
    "2026-02-27 08:00:01 Initialization Sequence Completed\n"
    "2026-02-27 09:00:00 198.51.100.7:50123 TLS: Initial packet from [AF_INET]198.51.100.7:50123\n"
    "2026-02-27 09:00:00 198.51.100.7:50123 VERIFY OK: depth=0, CN=alice\n"
    "2026-02-27 09:00:00 198.51.100.7:50123 [alice] Peer Connection Initiated with "
    "[AF_INET]198.51.100.7:50123\n"
    "2026-02-27 09:00:00 alice/198.51.100.7:50123 MULTI_sva: pool returned IPv4=10.8.0.2, "
    "IPv6=(Not enabled)\n"
    "2026-02-27 09:00:00 alice/198.51.100.7:50123 MULTI: Learn: 10.8.0.2 -> "
    "alice/198.51.100.7:50123\n"
    "2026-02-27 09:00:00 alice/198.51.100.7:50123 MULTI: primary virtual IP for "
    "alice/198.51.100.7:50123: 10.8.0.2\n"
    "2026-02-28 17:45:12 us=123456 bob/203.0.113.9:41000 MULTI_sva: pool returned "
    "IPv4=10.8.0.3, IPv6=(Not enabled)\n"
    "2026-02-28 18:00:00 203.0.113.66:5000 VERIFY ERROR: depth=0, error=certificate revoked: "
    "CN=carol, serial=3\n"
    "2026-02-28 18:00:00 203.0.113.66:5000 TLS_ERROR: BIO read tls_read_plaintext error\n"
)
ROTATED_LOG = (
    "Mon Feb 23 10:00:00 2026 carol/192.0.2.30:2000 MULTI_sva: pool returned IPv4=10.8.0.5, "
    "IPv6=(Not enabled)\n"
    "Mon Feb 23 10:00:00 2026 carol/192.0.2.30:2000 MULTI: primary virtual IP for "
    "carol/192.0.2.30:2000: 10.8.0.5\n"
)
OLDEST_LOG = (
    "Fri Feb 20 07:00:00 2026 Initialization Sequence Completed\n"
    "Fri Feb 20 08:00:00 2026 mallory/192.0.2.1:1111 MULTI_sva: pool returned IPv4=10.8.0.9, "
    "IPv6=(Not enabled)\n"
    "Fri Feb 20 09:00:00 2026 alice/198.51.100.7:50000 MULTI_sva: pool returned "
    "IPv4=10.8.0.2, IPv6=(Not enabled)\n"
)
SYSLOG = (
    "Feb 26 06:30:00 vpn ovpn-server[811]: dave/192.0.2.44:1194 MULTI: primary virtual IP "
    "for dave/192.0.2.44:1194: 10.8.0.4\n"
    "2026-02-27T11:00:00+01:00 vpn ovpn-server[811]: 192.0.2.45:1194 [alice] Peer Connection "
    "Initiated with [AF_INET]192.0.2.45:1194\n"
)


def write_logs(folder: Path) -> None:
    (folder / "openvpn.log").write_text(CURRENT_LOG)
    (folder / "openvpn.log.1").write_text(ROTATED_LOG)
    with gzip.open(folder / "openvpn.log.2.gz", "wt") as stream:
        stream.write(OLDEST_LOG)
    (folder / "syslog").write_text(SYSLOG)


def test_logs_give_the_latest_connection_of_each_identity(tmp_path: Path) -> None:
    write_logs(tmp_path)

    snapshot = collect(
        tmp_path,
        log_files=[tmp_path / "openvpn.log*", tmp_path / "syslog", tmp_path / "gone-*.log"],
    )

    seen = {a.native_id: a.last_login_at for a in snapshot.accounts}
    assert seen == {
        "alice": dt.datetime(2026, 2, 27, 10, 0, tzinfo=UTC),
        "bob": dt.datetime(2026, 2, 28, 17, 45, 12, tzinfo=UTC),
        # refused on the 28th (revoked): that was no connection
        "carol": dt.datetime(2026, 2, 23, 10, 0, tzinfo=UTC),
        "dave": dt.datetime(2026, 2, 26, 6, 30, tzinfo=UTC),
    }
    assert snapshot.settings["observation"] == {"observed_since": "2026-02-20T07:00:00+00:00"}
    assert snapshot.source == "export:index.txt,4 log files"
    assert snapshot.complete
    assert [str(e) for e in snapshot.errors] == [
        f"{tmp_path / 'pki' / 'crl.pem'}: the CRL file does not exist",
        f"{tmp_path / 'gone-*.log'}: no log file matches this pattern",
        "log_files: 1 names connected in the past have no certificate in index.txt: mallory",
    ]


def test_status_and_logs_together(tmp_path: Path) -> None:
    write_logs(tmp_path)

    snapshot = with_status(tmp_path, status_v2(), log_files=[tmp_path / "openvpn.log*"])

    accounts = {a.native_id: a for a in snapshot.accounts}
    assert accounts["alice"].last_login_at == STATUS_TIME  # connected now beats the log
    assert accounts["carol"].last_login_at == dt.datetime(2026, 2, 23, 10, 0, tzinfo=UTC)
    assert snapshot.settings["observation"] == {"observed_since": "2026-02-20T07:00:00+00:00"}


def test_a_log_without_time_stamps_is_reported(tmp_path: Path) -> None:
    (tmp_path / "journal.txt").write_text(
        "alice/198.51.100.7:50123 MULTI_sva: pool returned IPv4=10.8.0.2, IPv6=(Not enabled)\n"
    )

    snapshot = collect(tmp_path, log_files=[tmp_path / "journal.txt"])

    assert all(a.last_login_at is None for a in snapshot.accounts)
    assert any("journalctl -o short-iso" in e.message for e in snapshot.errors)
    # Nothing dated was read: the watched window is empty.
    assert snapshot.settings["observation"] == {"observed_since": NOW.isoformat()}
