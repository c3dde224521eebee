"""`iam-gov export` of a running WireGuard interface (wireguard-go in a namespace of the
test's own): its configuration and `wg show <if> dump`, keys left out, read back with the
options the export gives, are the same snapshot."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from iam_gov.configtypes import BASE_DIR_KEY
from iam_gov.connectors.shared.protocol import ExportNotSupported
from iam_gov.connectors.wireguard.conf import REDACTED, parse_config, redacted_config
from iam_gov.connectors.wireguard.connector import WireGuardConnector, WireGuardOptions
from iam_gov.connectors.wireguard.dump import parse_dump, redacted_dump
from iam_gov.errors import ConnectorError
from iam_gov.model import SystemSnapshot
from tests.support.wireguard import (
    DumpPeer,
    Interface,
    Namespace,
    dump_text,
    keypair,
    namespace,
    preshared_key,
    require_live,
    require_wg,
    wg,
)

SYSTEM = "office-vpn"
NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


def connector(options: dict[str, Any], base: Path | None = None) -> WireGuardConnector:
    context = {BASE_DIR_KEY: base} if base is not None else None
    return WireGuardConnector(
        SYSTEM, WireGuardOptions.model_validate(options, context=context), clock=lambda: NOW
    )


def comparable(snapshot: SystemSnapshot) -> dict[str, Any]:
    """The snapshot without where it was read from: ``source``, the folders of the files its
    errors name, and whether handshakes came from wg or a dump (said by ``handshakes``)."""
    data = snapshot.model_dump(mode="json", exclude={"source"})
    for error in data["errors"]:
        error["source"] = Path(error["source"]).name
    del data["settings"]["wireguard"]["handshakes"]
    return data


@dataclass
class Lab:
    space: Namespace
    server: Interface
    client: Interface
    config: Path
    secrets: list[str]

    def options(self, **extra: Any) -> dict[str, Any]:
        return {"type": "wireguard", "config": self.config, "interface": self.server.name, **extra}


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    require_live()
    with namespace(tmp_path) as space:
        server = space.interface(listen_port=51830)
        client = space.interface(listen_port=51831)
        bob_private, bob = keypair()
        old_private, old = keypair()
        psk, old_psk, hook_key = preshared_key(), preshared_key(), keypair()[0]
        config = tmp_path / "etc" / f"{server.name}.conf"
        config.parent.mkdir()
        config.write_text(
            f"[Interface]\nPrivateKey = {server.private_key}\nListenPort = 51830\n"
            f"PostUp = wg set %i peer {bob} preshared-key <(echo {hook_key})\n\n"
            f"# iam-gov: login=alice email=alice@example.com\n[Peer]\n"
            f"PublicKey = {client.public_key}\nAllowedIPs = 10.99.0.2/32\n\n"
            f"# Name = bob\n[Peer]\nPublicKey = {bob}\nPresharedKey = {psk}  # rotated in May\n"
            f"AllowedIPs = 10.99.0.3/32\n\n"
            f"### begin olga ###\n#[disabled] [Peer]\n#[disabled] PublicKey = {old}\n"
            f"#[disabled] PresharedKey = {old_psk}\n#[disabled] AllowedIPs = 10.99.0.4/32\n"
            f"### end olga ###\n"
        )
        config.chmod(0o640)
        server.load(config)
        space.connect(client, server)
        secrets = [server.private_key, client.private_key, bob_private, old_private]
        yield Lab(space, server, client, config, [*secrets, psk, old_psk, hook_key])


def test_an_export_of_the_running_interface_reads_back_the_same(lab: Lab, tmp_path: Path) -> None:
    mapping = tmp_path / "vpn-identities.yaml"
    mapping.write_text(
        f'identities:\n  - public_key: "{lab.client.public_key}"\n    employee_id: E1\n'
    )
    options = lab.options(mapping=mapping, network_name="office", second_factor="none")
    live = connector(options).collect()
    out = tmp_path / "out"
    out.mkdir()

    written = connector(options).write_export(out)
    back = connector(dict(written.options), out).collect()

    assert back.source.startswith("export:")
    assert (live.settings["wireguard"]["handshakes"], back.settings["wireguard"]["handshakes"]) == (
        "live",
        "dump",
    )
    assert comparable(back) == comparable(live)
    assert back.settings["wireguard"]["config_mode"] == "0640"  # the server's file's, said
    assert written.problems == ()
    assert sorted(map(str, written.files)) == sorted(
        [lab.config.name, f"{lab.server.name}.dump", "vpn-identities.yaml"]
    )
    assert written.options["exported_at"] == NOW
    assert "wg_command" not in written.options
    peers = {a.login: a for a in back.accounts}
    assert peers["alice"].last_login_at is not None
    assert peers["alice"].employee_id == "E1"
    assert peers["bob"].attributes["preshared_key"] == "yes"
    # Every line where it was: a peer's config_line still points at its [Peer].
    assert (out / lab.config.name).read_text().count("\n") == lab.config.read_text().count("\n")
    for path in out.iterdir():
        text = path.read_text()
        for secret in lab.secrets:
            assert secret not in text, path.name
    assert REDACTED in (out / f"{lab.server.name}.dump").read_text()


def test_what_cannot_be_exported(lab: Lab, tmp_path: Path) -> None:
    dump = tmp_path / "wg0.dump"
    dump.write_text(lab.server.dump())
    with pytest.raises(ExportNotSupported, match="read a saved dump already"):
        connector({"type": "wireguard", "config": lab.config, "dump_file": dump}).write_export(
            tmp_path / "a"
        )
    with pytest.raises(ExportNotSupported, match="no interface"):
        connector({"type": "wireguard", "config": lab.config}).write_export(tmp_path / "b")
    with pytest.raises(ConnectorError, match="interface wgdown0 is not up"):
        connector(lab.options(interface="wgdown0")).write_export(tmp_path / "c")


def test_redacted_files_read_as_the_originals() -> None:
    require_wg()
    server_private, server_public = keypair()
    alice, bob = keypair()[1], keypair()[1]
    psk = preshared_key()
    text = (
        f"[Interface]\r\nPrivate Key = {server_private} # the server's\nListenPort = 51820\n\n"
        f"[Peer]\n# Email: alice@example.com\nPublicKey = {alice}\nPresharedKey={psk}\n"
        f"AllowedIPs = 10.0.0.2/32\n\n"
        f"# former key, kept in case: PrivateKey = {keypair()[0]}\n"
        f"[Peer]\nPublicKey = {bob}\nAllowedIPs = 10.0.0.3/32\n"
    ).encode()
    redacted = redacted_config(text)

    original, again = parse_config(text, "wg0.conf"), parse_config(redacted, "wg0.conf")
    assert [(p.public_key, p.line, p.preshared_key, p.allowed_ips) for p in again.peers] == [
        (p.public_key, p.line, p.preshared_key, p.allowed_ips) for p in original.peers
    ]
    assert again.problems == original.problems == ()
    assert redacted.count(b"\n") == text.count(b"\n") and b"\r\n" in redacted
    assert server_private.encode() not in redacted and psk.encode() not in redacted
    assert b"Private Key = (redacted) # the server's\n" in redacted
    assert b"PrivateKey = (redacted)\n" in redacted  # in the comment too

    dump = dump_text(
        server_private,
        server_public,
        51820,
        [DumpPeer(alice, preshared_key=psk, latest_handshake=1772442000), DumpPeer(bob)],
    )
    before, after = parse_dump(dump, "d"), parse_dump(redacted_dump(dump), "d")
    assert after == before
    assert server_private not in redacted_dump(dump) and psk not in redacted_dump(dump)
    assert "\t(none)\t" in redacted_dump(dump)  # bob has no preshared key: said as wg says it
    all_dump = "".join(f"wg0\t{line}\n" for line in dump.splitlines())
    assert parse_dump(redacted_dump(all_dump), "d", "wg0").peers == before.peers
    assert server_private not in redacted_dump(all_dump)
    assert wg("--version")  # the keys above are wg's own
