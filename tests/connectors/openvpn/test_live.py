"""End to end with a real OpenVPN server and clients in a private network namespace: the
connector sees who is connected (management interface, status file, log), revokes alice
(easy-rsa, CRL installed, session killed) and the server refuses her while bob stays. Also
what collect and the actions touch, against what the connector declares."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.openvpn.connector import OpenVPNConnector, OpenVPNOptions
from iam_gov.errors import ConnectorError
from iam_gov.model import AccountStatus, Action, ActionKind, ActionOutcome, SystemSnapshot
from tests.support.openvpn_server import (
    MANAGEMENT_PASSWORD,
    NetworkNamespace,
    OpenVPNServer,
    network_namespace,
)
from tests.support.pki import DemoPki, changed, demo_pki, tree_state

PASSWORD_VARIABLE = "IAM_GOV_TEST_OVPN_MANAGEMENT"
REVOKED = re.compile(r"VERIFY ERROR: depth=0, error=certificate revoked: CN=(\S+),")


@dataclass
class Lab:
    demo: DemoPki
    namespace: NetworkNamespace
    server: OpenVPNServer
    mapping: Path

    def connector(self, **extra: Any) -> OpenVPNConnector:
        options: dict[str, Any] = {
            "type": "openvpn",
            "pki_dir": self.demo.pki.dir,
            "server_conf": self.server.conf_path,
            "management": self.server.management,
            "management_password": {"env": PASSWORD_VARIABLE},
            **extra,
        }
        return OpenVPNConnector("vpn-prod", OpenVPNOptions.model_validate(options))

    def collect(self, **extra: Any) -> SystemSnapshot:
        # Inside the namespace: 127.0.0.1 there is the server's loopback.
        return self.namespace.run(self.connector(**extra).collect)

    def disable(self, name: str, **extra: Any) -> Any:
        action = Action(
            kind=ActionKind.DISABLE_ACCOUNT, system="vpn-prod", account_id=name, reason="leaver"
        )
        return self.namespace.run(self.connector(**extra).apply, action)

    def wait_for_status(self, *names: str) -> None:
        """Until the server's status file (written every second) lists ``names``."""
        deadline = time.monotonic() + 10
        while True:
            text = self.server.status_path.read_text() if self.server.status_path.exists() else ""
            listed = {
                line.split(",")[1] for line in text.splitlines() if line.startswith("CLIENT_LIST,")
            }
            if set(names) <= listed:
                return
            assert time.monotonic() < deadline, f"status file never listed {names}:\n{text}"
            time.sleep(0.1)


@pytest.fixture
def lab(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Lab]:
    namespace = network_namespace()
    demo = demo_pki(tmp_path_factory, tmp_path / "easy-rsa")
    crl = tmp_path / "etc-openvpn" / "crl.pem"
    crl.parent.mkdir()
    crl.write_bytes(demo.pki.crl.read_bytes())
    crl.chmod(0o644)
    mapping = tmp_path / "vpn-identities.yaml"
    mapping.write_text("identities:\n  - cn: alice\n    employee_id: E001\n")
    server = OpenVPNServer(namespace, demo.pki, tmp_path / "server", crl)
    monkeypatch.setenv(PASSWORD_VARIABLE, MANAGEMENT_PASSWORD)
    try:
        server.start()
        yield Lab(demo, namespace, server, mapping)
    finally:
        server.stop()
        namespace.close()


def test_the_connector_sees_who_is_connected(lab: Lab) -> None:
    lab.server.client("alice").wait_connected()
    lab.server.client("bob").wait_connected()
    lab.wait_for_status("alice", "bob")

    live = lab.collect()
    files = lab.collect(
        management=None,
        management_password=None,
        status_file=lab.server.status_path,
        log_files=[lab.server.folder / "openvpn.log*"],
    )

    for snapshot in (live, files):
        assert snapshot.complete, snapshot.errors
        accounts = {a.native_id: a for a in snapshot.accounts}
        assert accounts["alice"].attributes["connected"] == "true"
        assert accounts["alice"].last_login_at is not None
        assert accounts["bob"].last_login_at is not None
        assert accounts["carol"].last_login_at is None
        assert "connected" not in accounts["dave"].attributes
        assert "server" not in accounts  # remote-cert-tls client in the server's conf
        assert snapshot.settings["vpn"]["crl"]["path"] == str(lab.server.crl_path)
    assert live.source == "live"
    first_line = lab.server.log().splitlines()[0]
    # The log goes back to the server's start: that is how far back connections are known.
    observed = files.settings["observation"]["observed_since"]
    assert observed[:10] + " " + observed[11:19] == first_line[:19]


def test_the_management_password_is_checked(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_VARIABLE, "not-the-password")
    with pytest.raises(ConnectorError) as wrong:
        lab.collect()
    with pytest.raises(ConnectorError) as missing:
        lab.collect(management_password=None)
    with pytest.raises(ConnectorError) as closed:
        lab.collect(management="127.0.0.1:7506")

    assert str(wrong.value) == (
        "vpn-prod: OpenVPN management interface 127.0.0.1:7505: the management interface "
        "refused the password"
    )
    assert str(missing.value).endswith("asks for a password; set management_password")
    assert str(closed.value) == (
        "vpn-prod: OpenVPN management interface 127.0.0.1:7506: cannot connect: Connection refused"
    )


def test_the_management_interface_on_a_unix_socket(lab: Lab) -> None:
    lab.server.stop()
    server = OpenVPNServer(
        lab.namespace,
        lab.demo.pki,
        lab.server.folder.parent / "unix",
        lab.server.crl_path,
        unix_socket=True,
    )
    server.start()
    try:
        server.client("bob").wait_connected()

        snapshot = lab.namespace.run(
            lab.connector(server_conf=server.conf_path, management=server.management).collect
        )
    finally:
        server.stop()

    bob = next(a for a in snapshot.accounts if a.native_id == "bob")
    assert bob.attributes["connected"] == "true"


def test_revoking_alice_ends_her_session_and_the_server_refuses_her(lab: Lab) -> None:
    alice = lab.server.client("alice")
    bob = lab.server.client("bob")
    alice.wait_connected()
    bob.wait_connected()

    result = lab.disable("alice")

    assert result.outcome is ActionOutcome.APPLIED, result.message
    assert result.message == (
        f"Revoked certificate {lab.demo.serials['alice']} (revoke alice), regenerated the CRL, "
        f"installed the CRL at {lab.server.crl_path} and ended alice's live sessions through "
        "the management interface."
    )
    # Killed, her client reconnects at once, and the server now refuses her certificate.
    assert alice.wait_exit() != 0
    assert "Peer Connection Initiated" in alice.log()
    refused = REVOKED.findall(lab.server.log())
    assert refused and set(refused) == {"alice"}
    again = lab.server.client("alice")
    assert again.wait_exit() != 0
    assert "Initialization Sequence Completed" not in again.log()
    assert len(REVOKED.findall(lab.server.log())) > len(refused)
    # bob was never disturbed, and connects anew under the new CRL.
    assert bob.process.poll() is None
    bob.stop()
    lab.server.client("bob").wait_connected()

    snapshot = lab.collect()
    accounts = {a.native_id: a for a in snapshot.accounts}
    assert accounts["alice"].status is AccountStatus.DISABLED
    assert "connected" not in accounts["alice"].attributes
    assert accounts["bob"].attributes["connected"] == "true"
    assert "alice" not in {g.account_id for g in snapshot.grants}
    rerun = lab.disable("alice")
    assert rerun.outcome is ActionOutcome.NOOP, rerun.message
    assert rerun.message == (
        "alice holds no valid certificate: 1 revoked and in the CRL the server reads; "
        "no live session."
    )


def test_a_session_is_kept_while_another_valid_certificate_remains(lab: Lab) -> None:
    dave = lab.server.client("dave")
    dave.wait_connected()
    spare = lab.demo.serials["dave-laptop2"]
    action = Action(
        kind=ActionKind.DEACTIVATE_CREDENTIAL,
        system="vpn-prod",
        account_id="dave",
        credential_id=f"dave#cert-{spare}",
        reason="replaced",
    )

    result = lab.namespace.run(lab.connector().apply, action)

    assert result.outcome is ActionOutcome.APPLIED, result.message
    assert result.message.endswith(
        "dave's sessions were kept: they still hold another valid certificate, and OpenVPN "
        "does not show which certificate a session uses."
    )
    time.sleep(0.5)
    assert dave.process.poll() is None
    assert "MANAGEMENT: CMD 'kill" not in lab.server.log()


# --- what it touches -------------------------------------------------------------------------

_WATCHED = {"open", "os.rename", "os.chmod", "os.chown", "os.scandir", "os.listdir", "os.remove"}
_events: list[tuple[str, tuple[Any, ...]]] = []
_recording = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _recording and (event in _WATCHED or event in ("subprocess.Popen", "socket.connect")):
        _events.append((event, args))


sys.addaudithook(_audit)  # audit hooks cannot be removed; this one records only when asked


def _record(call: Any, *args: Any) -> list[tuple[str, tuple[Any, ...]]]:
    global _recording
    _events.clear()
    _recording = True
    try:
        call(*args)
    finally:
        _recording = False
    return list(_events)


def _path(value: Any) -> str | None:
    if isinstance(value, int):
        return None  # an already-open descriptor
    return os.fsdecode(os.fspath(value))


def _used(lab: Lab, events: list[tuple[str, tuple[Any, ...]]], log_before: str) -> set[str]:
    """The declared-permission vocabulary for what happened: files opened (under the test's
    folders), programs run, and management commands the server logged."""
    pki = str(lab.demo.pki.dir)
    crl = str(lab.server.crl_path)
    crl_dir = str(lab.server.crl_path.parent)
    certificates = (
        "file:read:pki_dir certificates (issued/, certs_by_serial/, revoked/, renewed/, expired/)"
    )
    used: set[str] = set()
    root = str(lab.server.folder.parent)
    for event, args in events:
        if event == "subprocess.Popen":
            command = next(a for a in list(args[1])[1:] if not str(a).startswith("--"))
            used.add(
                "exec:easyrsa revoke* (revoke, revoke-renewed, revoke-expired)"
                if str(command).startswith("revoke")
                else f"exec:easyrsa {command}"
            )
            continue
        if event == "socket.connect":
            assert args[1] == ("127.0.0.1", 7505), args
            continue
        path = _path(args[0])
        if path is None or not path.startswith(root):
            continue
        if event == "open":
            writes = bool((args[2] or 0) & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        else:
            writes = event not in ("os.scandir", "os.listdir")
        if event == "open" and path == pki and args[2] & os.O_DIRECTORY:
            used.add("file:lock:pki_dir")
        elif path in (crl, crl_dir) or path.startswith(crl_dir + "/.crl.pem."):
            used.add("file:write:crl_path" if writes or path == crl_dir else "file:read:crl_path")
        elif path == f"{pki}/index.txt" and not writes:
            used.add("file:read:pki_dir/index.txt")
        elif path == f"{pki}/ca.crt" and not writes:
            used.add("file:read:pki_dir/ca.crt")
        elif path == f"{pki}/crl.pem":
            used.add("file:write:pki_dir/crl.pem" if writes else "file:read:pki_dir/crl.pem")
        elif path.startswith(pki + "/") and "/private" not in path and not writes:
            used.add(certificates)
        elif path == str(lab.server.conf_path) and not writes:
            used.add("file:read:server_conf")
        elif path == str(lab.server.status_path) and not writes:
            used.add("file:read:status_file")
        elif path.startswith(str(lab.server.log_path)) or path == str(lab.server.folder):
            used.add("file:read:log_files")
        elif path == str(lab.mapping) and not writes:
            used.add("file:read:mapping")
        else:
            used.add(f"UNDECLARED {event} {path} {args[1:]}")
    log = lab.server.log()[len(log_before) :]
    for command in re.findall(r"MANAGEMENT: CMD '(\w+)", log):
        if command != "quit":  # how the connector says goodbye
            used.add(f"management:{command}")
    return used


def test_declared_permissions_are_exactly_the_ones_used(lab: Lab) -> None:
    lab.server.client("alice").wait_connected()
    lab.wait_for_status("alice")
    files = [lab.demo.pki.root, lab.server.crl_path, lab.mapping, lab.server.conf_path]
    connector = lab.connector(
        status_file=lab.server.status_path,
        log_files=[lab.server.folder / "openvpn.log*"],
        mapping=lab.mapping,
    )
    action = Action(
        kind=ActionKind.DISABLE_ACCOUNT, system="vpn-prod", account_id="alice", reason="leaver"
    )

    before, log_before = tree_state(*files), lab.server.log()
    collect_events = _record(lab.namespace.run, connector.collect)
    collect_used = _used(lab, collect_events, log_before)
    after_collect, log_before = tree_state(*files), lab.server.log()
    apply_events = _record(lab.namespace.run, connector.apply, action)
    apply_used = _used(lab, apply_events, log_before)

    assert changed(before, after_collect) == set()  # collect only reads
    assert not any("/private" in str(args[0]) for _, args in collect_events if args)
    assert collect_used == set(OpenVPNConnector.permissions.collect)
    assert apply_used == set(OpenVPNConnector.permissions.apply)
    touched = changed(after_collect, tree_state(*files))
    pki = str(lab.demo.pki.dir) + "/"
    assert touched and all(p.startswith(pki) or p == str(lab.server.crl_path) for p in touched)
