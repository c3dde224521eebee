"""OpenVPN actions with the real easy-rsa: revoke, regenerate the CRL, install it atomically
where the server reads it; checked with openssl. Re-runs are noops, and a run after a crash
between steps finishes the missing ones."""

from __future__ import annotations

import os
import shutil
import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.openvpn.connector import OpenVPNConnector, OpenVPNOptions
from iam_gov.connectors.shared.protocol import ActionNotSupported
from iam_gov.model import AccountStatus, Action, ActionKind, ActionOutcome, ActionResult
from tests.support.pki import (
    CA_PASSPHRASE,
    DemoPki,
    Pki,
    changed,
    iter_serials_in_crl_text,
    openssl,
    tree_state,
)

NO_MANAGEMENT = (
    "no management interface is configured, so a session already open lasts until its next "
    "TLS renegotiation (reneg-sec, an hour by default)"
)


@pytest.fixture
def server_crl(demo: DemoPki, tmp_path: Path) -> Path:
    """The CRL where the server reads it, readable by its group only (as some set-ups do)."""
    folder = tmp_path / "etc-openvpn"
    folder.mkdir()
    path = folder / "crl.pem"
    shutil.copy(demo.pki.crl, path)
    path.chmod(0o640)
    return path


def connector(pki: Pki, **extra: Any) -> OpenVPNConnector:
    options = OpenVPNOptions.model_validate({"type": "openvpn", "pki_dir": pki.dir, **extra})
    return OpenVPNConnector("vpn-prod", options)


def action(kind: ActionKind, account: str, reason: str = "leaver", **extra: Any) -> Action:
    return Action(kind=kind, system="vpn-prod", account_id=account, reason=reason, **extra)


def twice(vpn: OpenVPNConnector, planned: Action) -> tuple[ActionResult, ActionResult]:
    return vpn.apply(planned), vpn.apply(planned)


def crl_serials(path: Path) -> list[str]:
    return list(iter_serials_in_crl_text(openssl("crl", "-in", path, "-noout", "-text").stdout))


def verify(pki: Pki, crl: Path, certificate: Path) -> str:
    done = openssl(
        "verify",
        "-crl_check",
        "-CAfile",
        str(pki.dir / "ca.crt"),
        "-CRLfile",
        str(crl),
        str(certificate),
        check=False,
    )
    return done.stdout + done.stderr


def test_disable_revokes_regenerates_and_installs_the_crl(demo: DemoPki, server_crl: Path) -> None:
    pki, serial = demo.pki, demo.serials["alice"]
    alice_cert = pki.root / "alice-laptop.crt"
    shutil.copy(pki.dir / "issued" / "alice.crt", alice_cert)
    inode = server_crl.stat().st_ino
    vpn = connector(pki, crl_path=server_crl)
    before = tree_state(pki.root.parent)

    first, again = twice(vpn, action(ActionKind.DISABLE_ACCOUNT, "alice"))

    assert first.outcome is ActionOutcome.APPLIED, first.message
    assert first.message == (
        f"Revoked certificate {serial} (revoke alice), regenerated the CRL and installed the "
        f"CRL at {server_crl}; {NO_MANAGEMENT}."
    )
    assert first.details == {
        "revoked_serials": [serial],
        "crl_regenerated": True,
        "crl_installed": str(server_crl),
    }
    assert pki.status_of(serial) == "R"
    revoked = next(row for row in pki.index() if row[3] == serial)
    assert revoked[2].endswith(",cessationOfOperation")
    text = openssl("crl", "-in", server_crl, "-noout", "-text").stdout
    assert serial in crl_serials(server_crl) and "Cessation Of Operation" in text
    assert crl_serials(server_crl) == crl_serials(pki.crl)
    # Installed by a rename (a new file), with the mode the server's copy had.
    assert server_crl.stat().st_ino != inode
    assert stat.S_IMODE(server_crl.stat().st_mode) == 0o640
    assert not list(server_crl.parent.glob(".crl.pem.*"))  # no temporary file left behind
    assert "certificate revoked" in verify(pki, server_crl, alice_cert)
    assert verify(pki, server_crl, pki.dir / "issued" / "bob.crt").endswith("OK\n")
    # Only the PKI and the server's CRL changed.
    touched = changed(before, tree_state(pki.root.parent))
    assert touched and all(
        path.startswith(str(pki.dir) + "/") or path == str(server_crl) for path in touched
    )

    assert again.outcome is ActionOutcome.NOOP, again.message
    assert (
        again.message
        == "alice holds no valid certificate: 1 revoked and in the CRL the server reads."
    )
    snapshot = vpn.collect()
    alice = next(a for a in snapshot.accounts if a.native_id == "alice")
    assert alice.status is AccountStatus.DISABLED
    assert snapshot.settings["vpn"]["crl"]["missing_revoked_serials"] == []


def test_deactivate_one_of_two_certificates(demo: DemoPki, server_crl: Path) -> None:
    old, kept = demo.serials["dave"], demo.serials["dave-laptop2"]
    vpn = connector(demo.pki, crl_path=server_crl)
    planned = action(
        ActionKind.DEACTIVATE_CREDENTIAL, "dave", "replaced", credential_id=f"dave#cert-{old}"
    )

    first, again = twice(vpn, planned)

    assert first.outcome is ActionOutcome.APPLIED, first.message
    assert first.message.startswith(f"Revoked certificate {old} (revoke dave), regenerated")
    assert (demo.pki.status_of(old), demo.pki.status_of(kept)) == ("R", "V")
    revoked = next(row for row in demo.pki.index() if row[3] == old)
    assert revoked[2].endswith(",superseded")
    assert old in crl_serials(server_crl) and kept not in crl_serials(server_crl)
    assert again.outcome is ActionOutcome.NOOP
    assert again.message == (
        f"Certificate {old} of dave is already revoked and in the CRL the server reads."
    )
    dave = next(a for a in vpn.collect().accounts if a.native_id == "dave")
    assert dave.status is AccountStatus.ACTIVE


def test_a_lost_laptop_is_revoked_as_a_key_compromise(demo: DemoPki, server_crl: Path) -> None:
    serial = demo.serials["bob"]
    vpn = connector(demo.pki, crl_path=server_crl)

    result = vpn.apply(
        action(
            ActionKind.DEACTIVATE_CREDENTIAL,
            "bob",
            "laptop stolen on 3 March",
            credential_id=f"bob#cert-{serial.lower()}",
        )
    )

    assert result.outcome is ActionOutcome.APPLIED, result.message
    assert next(r for r in demo.pki.index() if r[3] == serial)[2].endswith(",keyCompromise")


def test_a_rerun_after_a_crash_finishes_the_missing_steps(demo: DemoPki, server_crl: Path) -> None:
    pki = demo.pki
    vpn = connector(pki, crl_path=server_crl)
    pki.easyrsa("revoke", "bob")  # crashed before gen-crl

    bob = vpn.apply(action(ActionKind.DISABLE_ACCOUNT, "bob"))

    assert bob.outcome is ActionOutcome.APPLIED, bob.message
    assert bob.message == (
        f"Regenerated the CRL and installed the CRL at {server_crl}; {NO_MANAGEMENT}."
    )
    assert demo.serials["bob"] in crl_serials(server_crl)

    pki.easyrsa("revoke", "erin@example.com")
    pki.easyrsa("gen-crl")  # crashed before installing it

    erin = vpn.apply(action(ActionKind.DISABLE_ACCOUNT, "erin@example.com"))

    assert erin.outcome is ActionOutcome.APPLIED, erin.message
    assert erin.message == f"Installed the CRL at {server_crl}; {NO_MANAGEMENT}."
    assert demo.serials["erin@example.com"] in crl_serials(server_crl)


def test_the_pki_crl_keeps_its_mode_when_the_server_reads_it_there(demo: DemoPki) -> None:
    # easy-rsa writes a new crl.pem only its owner can read; a server that dropped its
    # privileges would then refuse every client.
    demo.pki.crl.chmod(0o644)

    result = connector(demo.pki).apply(action(ActionKind.DISABLE_ACCOUNT, "alice"))

    assert result.outcome is ActionOutcome.APPLIED, result.message
    assert result.message.endswith(f"regenerated the CRL; {NO_MANAGEMENT}.")
    assert stat.S_IMODE(demo.pki.crl.stat().st_mode) == 0o644


def test_a_crl_folder_gets_an_empty_file_named_by_the_decimal_serial(demo: DemoPki) -> None:
    folder = demo.pki.root / "crl.d"
    folder.mkdir()
    conf = demo.pki.root / "server.conf"
    conf.write_text(f"port 1194\ncrl-verify {folder} dir\n")
    vpn = connector(demo.pki, server_conf=conf)

    first, again = twice(vpn, action(ActionKind.DISABLE_ACCOUNT, "alice"))

    assert first.outcome is ActionOutcome.APPLIED, first.message
    # Only this identity's serials: the action repairs what concerns it, nothing else.
    assert [p.name for p in folder.iterdir()] == [str(int(demo.serials["alice"], 16))]
    assert again.outcome is ActionOutcome.NOOP


def test_a_server_that_checks_no_crl_is_a_failure_to_remove_access(demo: DemoPki) -> None:
    conf = demo.pki.root / "server.conf"
    conf.write_text("port 1194\n")

    result = connector(demo.pki, server_conf=conf).apply(
        action(ActionKind.DISABLE_ACCOUNT, "alice")
    )

    assert result.outcome is ActionOutcome.FAILED
    assert result.message == (
        f"Revoked certificate {demo.serials['alice']} (revoke alice) and regenerated the CRL, "
        f"but {conf} has no crl-verify: OpenVPN does not check revocation, so alice's "
        "certificates can still connect."
    )
    assert demo.pki.status_of(demo.serials["alice"]) == "R"


def test_a_renewed_certificate_is_revoked_where_easy_rsa_keeps_it(
    demo: DemoPki, server_crl: Path
) -> None:
    old = demo.serials["alice"]
    demo.pki.easyrsa("--renew-days=1000", "renew", "alice", "nopass")
    new = demo.pki.serial("alice")
    assert (demo.pki.dir / "renewed" / "issued" / "alice.crt").exists()

    result = connector(demo.pki, crl_path=server_crl).apply(
        action(ActionKind.DEACTIVATE_CREDENTIAL, "alice", credential_id=f"alice#cert-{old}")
    )

    assert result.outcome is ActionOutcome.APPLIED, result.message
    assert result.message.startswith(f"Revoked certificate {old} (revoke-renewed alice)")
    assert (demo.pki.status_of(old), demo.pki.status_of(new)) == ("R", "V")


def test_requests_that_cannot_be_carried_out(demo: DemoPki, tmp_path: Path) -> None:
    vpn = connector(demo.pki)
    bob = demo.serials["bob"]

    not_his = vpn.apply(
        action(ActionKind.DEACTIVATE_CREDENTIAL, "alice", credential_id=f"alice#cert-{bob}")
    )
    not_a_cert = vpn.apply(
        action(ActionKind.DEACTIVATE_CREDENTIAL, "alice", credential_id="alice#password")
    )
    elsewhere = vpn.apply(
        Action(kind=ActionKind.DISABLE_ACCOUNT, system="vpn-dr", account_id="alice", reason="x")
    )
    unknown = vpn.apply(action(ActionKind.DISABLE_ACCOUNT, "mallory"))
    no_easyrsa = connector(demo.pki, easyrsa=tmp_path / "no-easyrsa").apply(
        action(ActionKind.DISABLE_ACCOUNT, "alice")
    )
    (demo.pki.dir / "issued" / "bob.crt").unlink()
    no_file = vpn.apply(action(ActionKind.DISABLE_ACCOUNT, "bob"))

    assert not_his.outcome is ActionOutcome.FAILED
    assert not_his.message == f"certificate {bob} belongs to 'bob', not 'alice'."
    assert not_a_cert.outcome is ActionOutcome.FAILED
    assert "expected alice#cert-<serial>" in not_a_cert.message
    assert elsewhere.outcome is ActionOutcome.FAILED
    assert elsewhere.message == "this connector serves system 'vpn-prod'"
    assert unknown.outcome is ActionOutcome.NOOP
    assert unknown.message == "index.txt has no certificate for mallory: nothing to revoke."
    assert no_easyrsa.outcome is ActionOutcome.FAILED
    assert (
        no_easyrsa.message
        == f"easy-rsa is not at {tmp_path / 'no-easyrsa'} (set the easyrsa option)."
    )
    assert no_file.outcome is ActionOutcome.FAILED
    assert "easy-rsa cannot revoke it; revoke it with `openssl ca -revoke`" in no_file.message
    assert demo.pki.status_of(demo.serials["alice"]) == "V"
    with pytest.raises(ActionNotSupported):
        vpn.apply(action(ActionKind.REMOVE_GRANT, "alice", entitlement_id="vpn:vpn-prod"))


def test_a_ca_key_with_a_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pki = Pki(tmp_path / "easy-rsa")
    pki.root.mkdir()
    pki.easyrsa("init-pki")
    pki.easyrsa("--req-cn=locked CA", "build-ca", passphrase=CA_PASSPHRASE)
    pki.easyrsa("build-client-full", "alice", "nopass", passphrase=CA_PASSPHRASE)
    pki.easyrsa("gen-crl", passphrase=CA_PASSPHRASE)
    monkeypatch.setenv("VPN_CA_PASSPHRASE", CA_PASSPHRASE)
    planned = action(ActionKind.DISABLE_ACCOUNT, "alice")

    without = connector(pki).apply(planned)
    wrong_env = connector(pki, ca_passphrase={"env": "NO_SUCH_VARIABLE"}).apply(planned)
    done = connector(pki, ca_passphrase={"env": "VPN_CA_PASSPHRASE"}).apply(planned)

    assert without.outcome is ActionOutcome.FAILED
    assert without.message.startswith("easyrsa revoke failed:")
    assert wrong_env.outcome is ActionOutcome.FAILED
    assert wrong_env.message == "ca_passphrase: environment variable NO_SUCH_VARIABLE is not set"
    assert done.outcome is ActionOutcome.APPLIED, done.message
    for result in (without, wrong_env, done):
        assert CA_PASSPHRASE not in result.model_dump_json()
    assert CA_PASSPHRASE not in os.environ.get("EASYRSA_PASSIN", "")


def test_an_unreachable_management_interface_leaves_the_rest_done(
    demo: DemoPki, server_crl: Path
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    vpn = connector(demo.pki, crl_path=server_crl, management=f"127.0.0.1:{port}")

    first, again = twice(vpn, action(ActionKind.DISABLE_ACCOUNT, "alice"))

    serial = demo.serials["alice"]
    assert first.outcome is ActionOutcome.FAILED
    assert first.message == (
        f"Revoked certificate {serial} (revoke alice), regenerated the CRL and installed the CRL "
        f"at {server_crl}, but then: could not check alice's live sessions on the management "
        f"interface 127.0.0.1:{port}: cannot connect: Connection refused; run the action again "
        "to finish."
    )
    assert serial in crl_serials(server_crl)
    # The re-run has only the sessions left to do, and still cannot.
    assert again.outcome is ActionOutcome.FAILED
    assert again.message.startswith("could not check alice's live sessions")


def test_a_name_with_control_characters_is_refused(demo: DemoPki) -> None:
    result = connector(demo.pki).apply(action(ActionKind.DISABLE_ACCOUNT, "alice\nsignal SIGTERM"))

    assert result.outcome is ActionOutcome.FAILED
    assert result.message == "the account id holds control characters: refused."
