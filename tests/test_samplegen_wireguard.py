"""The generated WireGuard files stay valid for a company of any size: every peer address and
endpoint a real address (a 5,000-person company once had 10.20.0.648)."""

from __future__ import annotations

from datetime import UTC, datetime

from iam_gov.connectors.wireguard.conf import parse_config
from iam_gov.connectors.wireguard.dump import parse_dump
from iam_gov.samplegen.vpn_files import VpnData, wireguard_files


def test_a_thousand_peers_are_all_valid() -> None:
    seen = datetime(2026, 12, 1, tzinfo=UTC)
    data = VpnData(peers=[(f"peer{i}", f"iam-gov: login=p{i}", seen) for i in range(1000)])
    files = dict(wireguard_files(data, seed=7, as_of=seen))

    conf = parse_config(files["wg0.conf"].encode(), "wg0.conf")
    dump = parse_dump(files["wg0.dump"], "wg0.dump")

    assert conf.problems == ()
    assert len(conf.peers) == 1000
    assert len({tuple(p.allowed_ips) for p in conf.peers}) == 1000
    assert dump.problems == ()
    assert len(dump.peers) == 1000
