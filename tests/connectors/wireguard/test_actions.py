"""WireGuard actions on the configuration file: the peer's lines go, every other byte stays,
the file is replaced atomically with its mode and owner; a peer already gone is a noop."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.shared.protocol import ActionNotSupported
from iam_gov.connectors.wireguard.actions import FileChanged, replace_file
from iam_gov.connectors.wireguard.connector import WireGuardConnector, WireGuardOptions
from iam_gov.model import AccountStatus, Action, ActionKind, ActionOutcome
from tests.support.wireguard import keypair, require_wg

SYSTEM = "office-vpn"


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    require_wg()
    private, _ = keypair()
    names = ("alice", "bob", "carol", "dave")
    return {"private": private, **{name: keypair()[1] for name in names}}


def _config(k: dict[str, str], eol: str = "\n") -> str:
    lines = [
        "# wg0 - office",
        "[Interface]",
        f"PrivateKey = {k['private']}",
        "ListenPort = 51820   ",
        "",
        "# iam-gov: login=alice",
        "[Peer]",
        "# her laptop",
        f"PublicKey = {k['alice']}",
        "AllowedIPs = 10.8.0.2/32",
        "",
        "[Peer]",
        f"PublicKey = {k['bob']}",
        "AllowedIPs = 10.8.0.3/32",
        "# bob's desktop, added 2025-01-02",
        "",
        "# ---- contractors ----",
        "",
        "### begin carol ###",
        "#[disabled] [Peer]",
        f"#[disabled] PublicKey = {k['carol']}",
        "#[disabled] AllowedIPs = 10.8.0.4/32",
        "### end carol ###",
        "# Name = dave",
        "[Peer]",
        f"PublicKey = {k['dave']}",
        "AllowedIPs = 10.8.0.5/32",
    ]
    return eol.join(lines) + eol


def _connector(config: Path, **extra: Any) -> WireGuardConnector:
    options = WireGuardOptions.model_validate({"type": "wireguard", "config": config, **extra})
    return WireGuardConnector(SYSTEM, options)


def _disable(key: str, kind: ActionKind = ActionKind.DISABLE_ACCOUNT) -> Action:
    return Action(kind=kind, system=SYSTEM, account_id=key, reason="left the company")


@pytest.fixture
def config(tmp_path: Path, keys: dict[str, str]) -> Path:
    path = tmp_path / "wg0.conf"
    path.write_text(_config(keys))
    path.chmod(0o600)
    return path


def test_disabling_removes_the_peer_with_its_comments(config: Path, keys: dict[str, str]) -> None:
    result = _connector(config).apply(_disable(keys["alice"]))

    assert result.outcome is ActionOutcome.APPLIED, result.message
    assert result.message == (
        f"Removed WireGuard peer {keys['alice']}: removed it from {config} (the [Peer] at line "
        "7). The running interface was not changed (no `interface` is configured): it keeps the "
        "peer until it is reloaded from the file (wg syncconf or wg-quick)."
    )
    assert result.details == {"config_lines": [7]}
    lines = _config(keys).splitlines(keepends=True)
    assert config.read_text() == "".join(lines[:5] + lines[11:])

    again = _connector(config).apply(_disable(keys["alice"]))
    assert again.outcome is ActionOutcome.NOOP
    assert again.message == (
        f"WireGuard peer {keys['alice']} is not in wg0.conf: it cannot connect; nothing to change."
    )


def test_a_trailing_comment_goes_with_its_peer_and_a_banner_stays(
    config: Path, keys: dict[str, str]
) -> None:
    _connector(config).apply(_disable(keys["bob"]))

    lines = _config(keys).splitlines(keepends=True)
    assert config.read_text() == "".join(lines[:11] + lines[16:])
    _connector(config).apply(_disable(keys["dave"]))
    assert config.read_text() == "".join(lines[:11] + lines[16:23])


def test_line_endings_mode_and_owner_are_kept(tmp_path: Path, keys: dict[str, str]) -> None:
    config = tmp_path / "wg0.conf"
    original = _config(keys, eol="\r\n").encode()
    config.write_bytes(original)
    config.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(config, 4321, 4322)
    before = config.stat()

    _connector(config).apply(_disable(keys["alice"]))

    after = config.stat()
    lines = original.splitlines(keepends=True)
    assert config.read_bytes() == b"".join(lines[:5] + lines[11:])
    assert after.st_mode == before.st_mode
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
    assert after.st_ino != before.st_ino  # a new file, renamed over the old one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wg0.conf"]


def test_a_symlinked_configuration_is_edited_where_it_lives(
    tmp_path: Path, config: Path, keys: dict[str, str]
) -> None:
    link = tmp_path / "etc" / "wg0.conf"
    link.parent.mkdir()
    link.symlink_to(config)

    _connector(link).apply(_disable(keys["alice"]))

    assert link.is_symlink() and keys["alice"] not in link.read_text()
    assert keys["alice"] not in config.read_text() and keys["bob"] in config.read_text()


def test_a_commented_out_peer_is_already_disabled(config: Path, keys: dict[str, str]) -> None:
    before = config.read_bytes()

    result = _connector(config).apply(_disable(keys["carol"]))

    assert result.outcome is ActionOutcome.NOOP
    assert "is commented out in wg0.conf" in result.message
    assert config.read_bytes() == before


def test_save_config_is_a_warning_without_an_interface(config: Path, keys: dict[str, str]) -> None:
    config.write_text(config.read_text().replace("ListenPort", "SaveConfig = true\nListenPort"))

    result = _connector(config).apply(_disable(keys["alice"]))

    assert result.message.endswith(
        "(wg syncconf or wg-quick); with SaveConfig = true, `wg-quick down` would write the peer "
        "back."
    )


def test_the_next_collect_sees_the_peer_gone(config: Path, keys: dict[str, str]) -> None:
    connector = _connector(config)
    assert keys["alice"] in {a.native_id for a in connector.collect().accounts}

    connector.apply(_disable(keys["alice"]))

    snapshot = connector.collect()
    assert snapshot.complete
    assert keys["alice"] not in {a.native_id for a in snapshot.accounts}
    statuses = {a.login: a.status for a in snapshot.accounts}
    assert statuses == {
        f"peer-{keys['bob'][:8]}": AccountStatus.ACTIVE,
        "carol": AccountStatus.DISABLED,
        "dave": AccountStatus.ACTIVE,
    }


def test_when_wg_fails_the_file_step_is_kept_and_reported(
    config: Path, keys: dict[str, str]
) -> None:
    connector = _connector(config, interface="wg0", wg_command=["false"])

    result = connector.apply(_disable(keys["alice"]))

    assert result.outcome is ActionOutcome.FAILED
    assert result.message == (
        f"`wg show wg0 peers` failed: exit status 1; the peer is already out of {config}."
    )
    assert keys["alice"] not in config.read_text()
    # Run again, it goes straight to the interface step, which fails again.
    assert connector.apply(_disable(keys["alice"])).message == (
        "`wg show wg0 peers` failed: exit status 1."
    )


@pytest.mark.parametrize(
    ("account_id", "extra", "problem"),
    [
        ("alice", {}, "'alice' is not a WireGuard public key"),
        (
            None,
            {"dump_file": "wg0.dump"},
            "a saved dump cannot be changed: actions need the server's own configuration "
            "(no dump_file)",
        ),
    ],
)
def test_refusals_are_failed_results(
    config: Path, keys: dict[str, str], account_id: str | None, extra: dict[str, Any], problem: str
) -> None:
    before = config.read_bytes()
    extra = {k: config.parent / v for k, v in extra.items()}

    result = _connector(config, **extra).apply(_disable(account_id or keys["alice"]))

    assert result.outcome is ActionOutcome.FAILED
    assert result.message == problem
    assert config.read_bytes() == before


def test_other_refusals(config: Path, keys: dict[str, str]) -> None:
    elsewhere = Action(
        kind=ActionKind.DISABLE_ACCOUNT, system="other", account_id=keys["alice"], reason="x"
    )
    assert _connector(config).apply(elsewhere).message == (
        "this connector serves system 'office-vpn'"
    )
    missing = _connector(config.with_name("wg9.conf")).apply(_disable(keys["alice"]))
    assert missing.outcome is ActionOutcome.FAILED
    assert (
        missing.message
        == f"{config.with_name('wg9.conf')}: cannot be read: No such file or directory"
    )
    with pytest.raises(ActionNotSupported):
        _connector(config).apply(_disable(keys["alice"], ActionKind.REMOVE_GRANT))


def test_a_file_changed_meanwhile_is_not_overwritten(config: Path) -> None:
    before = config.stat()
    config.write_text(config.read_text() + "# someone else's edit\n")
    edited = config.read_bytes()

    with pytest.raises(FileChanged):
        replace_file(config, b"[Interface]\n", before)

    assert config.read_bytes() == edited
    assert sorted(p.name for p in config.parent.iterdir()) == ["wg0.conf"]
