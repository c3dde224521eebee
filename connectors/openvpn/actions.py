"""The OpenVPN connector's actions: revoke with easy-rsa, install the CRL, end live sessions.

Certificates are revoked with easy-rsa, the CRL regenerated and installed where the server reads
it, then live sessions are ended through the management interface. Each step reads the state
first, so that a re-run after a crash finishes what is missing and an action already in effect
is a ``noop``."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from iam_gov.configtypes import SecretRef
from iam_gov.connectors.openvpn.client import ManagementClient, ManagementError
from iam_gov.connectors.openvpn.conf import read_server_conf
from iam_gov.connectors.openvpn.live import connected_now
from iam_gov.connectors.openvpn.pki import (
    PKI_CRL,
    IndexEntry,
    crl_location,
    load_certificate,
    read_crl,
    read_index,
)
from iam_gov.errors import IamGovError
from iam_gov.model import Action, ActionKind, ActionOutcome, ActionResult

DEFAULT_EASYRSA = Path("/usr/share/easy-rsa/easyrsa")
_EASYRSA_TIMEOUT_SECONDS = 120
_PASSIN_VARIABLE = "IAM_GOV_EASYRSA_PASSIN"
# Where easy-rsa keeps a certificate it can still revoke, and the command for each place:
# issued/ (all 3.x), renewed/issued/ (3.0.9-3.1.x renew), expired/ (3.2 expire).
_REVOKE_FROM = (
    ("issued", "revoke"),
    ("renewed/issued", "revoke-renewed"),
    ("expired", "revoke-expired"),
)
_COMPROMISED = re.compile(r"compromis|lost|stolen", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Server:
    """The OpenVPN server the actions change, as the connector's options describe it."""

    system: str
    pki_dir: Path
    crl_path: Path | None
    """Where the server reads its CRL, when not server.conf's crl-verify (see crl_location)."""
    server_conf: Path | None
    easyrsa: Path | None
    ca_passphrase: SecretRef | None
    management: str | None
    management_password: SecretRef | None
    zone: tzinfo
    """The server's time zone, for the times in the management interface's answers."""
    clock: Callable[[], datetime]


class _Failed(Exception):
    """A step failed; the message says which and why (never a secret)."""


def apply_action(server: Server, action: Action) -> ActionResult:
    if action.system != server.system:
        return _result(
            action, ActionOutcome.FAILED, f"this connector serves system {server.system!r}"
        )
    if _CONTROL.search(action.account_id):
        # A common name never holds one; on the management interface it would end the command.
        return _result(
            action, ActionOutcome.FAILED, "the account id holds control characters: refused."
        )
    serial = None
    if action.kind is ActionKind.DEACTIVATE_CREDENTIAL:
        owner, marker, serial = (action.credential_id or "").rpartition("#cert-")
        if not marker or owner != action.account_id or not serial:
            return _result(
                action,
                ActionOutcome.FAILED,
                f"credential {action.credential_id or '(none given)'} is not a certificate of "
                f"{action.account_id} (expected {action.account_id}#cert-<serial>).",
            )
        serial = serial.upper()
    revocation = _Revocation(server, action, action.account_id, serial)
    try:
        with _locked(server.pki_dir):
            return revocation.run()
    except (_Failed, IamGovError) as exc:
        return revocation.failed(str(exc))
    except OSError as exc:
        return revocation.failed(f"{exc.filename or 'file'}: {exc.strerror or exc}")


@contextlib.contextmanager
def _locked(pki_dir: Path) -> Iterator[None]:
    # easy-rsa is not safe to run twice at once on one PKI. The lock is on the folder itself,
    # so nothing is created in the PKI for it.
    fd = os.open(pki_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _result(action: Action, outcome: ActionOutcome, message: str, **details: Any) -> ActionResult:
    return ActionResult(action=action, outcome=outcome, message=message, details=details)


@dataclass
class _Revocation:
    server: Server
    action: Action
    name: str
    serial: str | None
    done: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    crl_unchecked: bool = False
    """The server's configuration has no crl-verify: revocation does not stop it."""
    kept_sessions: bool = False

    @property
    def pki(self) -> Path:
        return self.server.pki_dir

    def failed(self, message: str) -> ActionResult:
        if self.done:
            message = f"{_sentence(self.done)}, but then: {message}"
        return _result(self.action, ActionOutcome.FAILED, message, **self.details)

    def run(self) -> ActionResult:
        mine = self._certificates()
        if not mine:
            return self._not_in_pki()
        targets = [e for e in mine if e.status == "V" and e.expires_at > self.server.clock()]
        for entry in targets:
            self._revoke(entry)
        revoked = self._revoked_serials()
        self.details["revoked_serials"] = sorted(revoked)
        if revoked:
            self._regenerate_crl(revoked)
            self._install_crl(revoked)
        still_valid = [
            e.serial
            for e in read_index(self.pki).entries
            if e.common_name == self.name and e.status == "V" and e.expires_at > self.server.clock()
        ]
        self._end_sessions(still_valid)
        return self._outcome(mine)

    # reading

    def _certificates(self) -> list[IndexEntry]:
        index = read_index(self.pki)
        mine = [e for e in index.entries if e.common_name == self.name]
        if self.serial is None:
            return mine
        entry = next((e for e in index.entries if e.serial == self.serial), None)
        if entry is not None and entry.common_name != self.name:
            raise _Failed(
                f"certificate {self.serial} belongs to {entry.common_name!r}, not {self.name!r}."
            )
        return [entry] if entry is not None else []

    def _revoked_serials(self) -> set[str]:
        return {e.serial for e in self._certificates() if e.status == "R"}

    def _not_in_pki(self) -> ActionResult:
        what = f"certificate {self.serial}" if self.serial else "certificate"
        sessions = self._sessions() if self.server.management else 0
        if sessions:
            return _result(
                self.action,
                ActionOutcome.FAILED,
                f"{self.name} is connected, but index.txt has no {what} with that common name: "
                "iam-gov cannot revoke access this PKI did not issue.",
            )
        return _result(
            self.action,
            ActionOutcome.NOOP,
            f"index.txt has no {what} for {self.name}: nothing to revoke.",
        )

    # step 1: revoke

    def _revoke(self, entry: IndexEntry) -> None:
        located = self._locate(entry.serial)
        if located is None:
            raise _Failed(
                f"the certificate file of serial {entry.serial} is in none of issued/, "
                "renewed/issued/ or expired/, so easy-rsa cannot revoke it; revoke it with "
                "`openssl ca -revoke` and run the action again."
            )
        command, base = located
        self._easyrsa(command, base, self._reason())
        if entry.serial not in self._revoked_serials():
            raise _Failed(f"easy-rsa {command} {base} left serial {entry.serial} valid.")
        self.done.append(f"revoked certificate {entry.serial} ({command} {base})")

    def _locate(self, serial: str) -> tuple[str, str] | None:
        for folder, command in _REVOKE_FROM:
            for path in sorted((self.pki / folder).glob("*.crt")):
                try:
                    found = load_certificate(path).serial
                except (OSError, ValueError):
                    continue
                if found == serial:
                    return command, path.name[: -len(".crt")]
        return None

    def _reason(self) -> str:
        if _COMPROMISED.search(self.action.reason):
            return "keyCompromise"
        if self.action.kind is ActionKind.DISABLE_ACCOUNT:
            return "cessationOfOperation"
        return "superseded"

    def _easyrsa(self, *args: str) -> None:
        server = self.server
        program = server.easyrsa or _default_easyrsa()
        env = {**os.environ, "EASYRSA_PKI": str(self.pki), "EASYRSA_BATCH": "1"}
        command = [str(program), "--batch"]
        if server.ca_passphrase is not None:
            secret: SecretStr = server.ca_passphrase.resolve("ca_passphrase")
            # Through the environment, never the command line, which any user can read.
            env[_PASSIN_VARIABLE] = secret.get_secret_value()
            command.append(f"--passin=env:{_PASSIN_VARIABLE}")
        try:
            # From the folder holding the PKI, as an administrator runs it, so that the vars
            # file there (EASYRSA_CRL_DAYS …) applies.
            done = subprocess.run(
                [*command, *args],
                cwd=self.pki.parent,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=_EASYRSA_TIMEOUT_SECONDS,
                check=False,
            )
        except FileNotFoundError:
            raise _Failed(f"easy-rsa is not at {program} (set the easyrsa option).") from None
        except subprocess.TimeoutExpired:
            raise _Failed(
                f"easyrsa {args[0]} did not finish within {_EASYRSA_TIMEOUT_SECONDS} s "
                "(is the CA key protected by a passphrase? set ca_passphrase)."
            ) from None
        if done.returncode != 0:
            raise _Failed(f"easyrsa {args[0]} failed: {_easyrsa_error(done.stdout, done.stderr)}")

    # step 2: the CRL in the PKI

    def _regenerate_crl(self, revoked: set[str]) -> None:
        path = self.pki / PKI_CRL
        crl = read_crl(path, [])
        if crl.readable and revoked <= crl.serials:
            return
        before = _mode_and_owner(path)
        self._easyrsa("gen-crl")
        # easy-rsa writes a fresh file with its own (private) mode; a server reading the
        # PKI's crl.pem directly, after dropping privileges, must still be able to.
        _restore(path, before)
        if not revoked <= read_crl(path, []).serials:
            raise _Failed(f"easyrsa gen-crl wrote {path} without serials {sorted(revoked)}.")
        self.done.append("regenerated the CRL")
        self.details["crl_regenerated"] = True

    # step 3: where the server reads it

    def _install_crl(self, revoked: set[str]) -> None:
        server = self.server
        conf = read_server_conf(server.server_conf) if server.server_conf is not None else None
        location = crl_location(server.crl_path, server.pki_dir, conf)
        source = self.pki / PKI_CRL
        if location is None:
            self.crl_unchecked = True
            return
        target, is_dir = location
        if is_dir:
            missing = sorted(revoked - read_crl(target, [], directory=True).serials)
            for serial in missing:
                # crl-verify DIR dir: an empty file named by the decimal serial revokes it.
                (target / str(int(serial, 16))).touch(mode=0o644)
            if missing:
                self.done.append(f"added {len(missing)} serials to the CRL folder {target}")
            return
        if _same_file(target, source):
            return
        installed = read_crl(target, [])
        if installed.readable and revoked <= installed.serials:
            return
        _install(source, target)
        self.done.append(f"installed the CRL at {target}")
        self.details["crl_installed"] = str(target)

    # step 4: live sessions

    def _end_sessions(self, still_valid: list[str]) -> None:
        # Revoked first, killed second: a client killed before its certificate is revoked
        # and the CRL installed reconnects at once, and the server lets it back in.
        if self.server.management is None:
            return
        if still_valid:
            # Which session uses which certificate is not shown by OpenVPN: with another
            # valid certificate left, ending them all would cut off legitimate access.
            self.kept_sessions = True
            return
        killed = self._sessions(kill=True)
        if killed:
            self.done.append(f"ended {self.name}'s live sessions through the management interface")
            self.details["sessions_ended"] = True

    def _sessions(self, *, kill: bool = False) -> int:
        server = self.server
        assert server.management is not None
        password = (
            server.management_password.resolve("management_password")
            if server.management_password is not None
            else None
        )
        try:
            with ManagementClient(server.management, password) as client:
                report = connected_now(client, server.zone)
                connected = [s for s in report.sessions if s.common_name == self.name]
                if connected and kill:
                    ended, answer = client.kill(self.name)
                    if not ended:
                        raise _Failed(f"the management interface answered: {answer}")
        except ManagementError as exc:
            raise _Failed(
                f"could not check {self.name}'s live sessions on the management interface "
                f"{server.management}: {exc}; run the action again to finish."
            ) from None
        return len(connected)

    # the result

    def _outcome(self, mine: list[IndexEntry]) -> ActionResult:
        server = self.server
        if self.crl_unchecked:
            # Revocation is recorded, but this server would not look at it.
            what = f"certificate {self.serial}" if self.serial else f"{self.name}'s certificates"
            done = _sentence(self.done) if self.done else "Nothing was left to revoke"
            return self._result(
                ActionOutcome.FAILED,
                f"{done}, but {server.server_conf} has no crl-verify: OpenVPN does not check "
                f"revocation, so {what} can still connect.",
            )
        if not self.done:
            return self._result(ActionOutcome.NOOP, self._already(mine))
        notes = []
        if server.management is None:
            notes.append(
                "no management interface is configured, so a session already open lasts until "
                "its next TLS renegotiation (reneg-sec, an hour by default)"
            )
        elif self.kept_sessions:
            notes.append(
                f"{self.name}'s sessions were kept: they still hold another valid certificate, "
                "and OpenVPN does not show which certificate a session uses"
            )
        return self._result(ActionOutcome.APPLIED, "; ".join([_sentence(self.done), *notes]) + ".")

    def _already(self, mine: list[IndexEntry]) -> str:
        revoked = sum(1 for e in mine if e.status == "R")
        expired = len(mine) - revoked
        parts = []
        if revoked:
            parts.append(f"{revoked} revoked and in the CRL the server reads")
        if expired:
            parts.append(f"{expired} expired")
        subject = (
            f"Certificate {self.serial} of {self.name} is"
            if self.serial
            else (f"{self.name} holds no valid certificate:")
        )
        if self.serial:
            state = "revoked and in the CRL the server reads" if revoked else "expired"
            message = f"{subject} already {state}"
        else:
            message = f"{subject} {' and '.join(parts)}"
        if self.server.management is not None and not self.kept_sessions:
            message += "; no live session"
        return message + "."

    def _result(self, outcome: ActionOutcome, message: str) -> ActionResult:
        return _result(self.action, outcome, message, **self.details)


def _sentence(steps: list[str]) -> str:
    text = ", ".join(steps[:-1]) + (" and " if len(steps) > 1 else "") + steps[-1]
    return text[0].upper() + text[1:]


def _default_easyrsa() -> Path:
    found = shutil.which("easyrsa")
    return Path(found) if found else DEFAULT_EASYRSA


def _easyrsa_error(stdout: str, stderr: str) -> str:
    text = stderr or stdout
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if "Easy-RSA error:" in lines:
        lines = lines[lines.index("Easy-RSA error:") + 1 :]
    return " ".join(lines[:4])[:400] or "no message"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _mode_and_owner(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


def _restore(path: Path, before: tuple[int, int, int] | None) -> None:
    mode, uid, gid = before if before is not None else (0o644, -1, -1)
    os.chmod(path, mode)
    if uid != -1 and os.geteuid() == 0:
        os.chown(path, uid, gid)


def _install(source: Path, target: Path) -> None:
    """Copy ``source`` over ``target`` atomically (a temporary file in the same folder, then
    a rename), keeping the target's mode and owner; 0644 when there was none."""
    # OpenVPN re-reads the CRL whenever the file changes: it must never see half of one.
    before = _mode_and_owner(target)
    data = source.read_bytes()
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        _restore(Path(temporary), before)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    folder = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
