"""A real OpenVPN server and clients on the loopback of a private network namespace.

The namespace belongs to one worker thread: the processes it starts and the sockets it opens
live there, so the server's ports and tun device are invisible to the rest of the machine and
several test servers never clash. Run anything that must reach the server through ``run``.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from tests.support.pki import Pki, require_program
from tests.support.unavailable import unavailable

_CLONE_NEWNET = 0x40000000
T = TypeVar("T")

MANAGEMENT_PASSWORD = "mgmt-Secret-9f3"
SERVER_PORT = 1194
MANAGEMENT_PORT = 7505


class NetworkNamespace:
    """A worker thread in a network namespace of its own, with loopback up."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="netns")
        try:
            self._executor.submit(self._enter).result()
        except BaseException:
            self._executor.shutdown()
            raise

    @staticmethod
    def _enter() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        # unshare() moves only the calling thread: the test process stays where it was.
        if libc.unshare(_CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"unshare(CLONE_NEWNET): {os.strerror(errno)}")
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True, capture_output=True)

    def run(self, function: Callable[..., T], *args: object, **kwargs: object) -> T:
        return self._executor.submit(function, *args, **kwargs).result()

    def close(self) -> None:
        self._executor.shutdown()


def network_namespace() -> NetworkNamespace:
    """A namespace, or a skip naming what this machine lacks."""
    require_program("openvpn", "openvpn")
    require_program("ip", "iproute2")
    if not Path("/dev/net/tun").exists():
        unavailable("/dev/net/tun is missing: no tun devices for an OpenVPN server here")
    try:
        return NetworkNamespace()
    except (OSError, subprocess.CalledProcessError) as exc:
        unavailable(
            f"cannot make a network namespace here ({exc}): run as root, or with CAP_SYS_ADMIN"
        )


@dataclass
class OpenVPNClient:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_connected(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while "Initialization Sequence Completed" not in self.log():
            if self.process.poll() is not None:
                raise AssertionError(f"client {self.name} exited:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"client {self.name} did not connect:\n{self.log()[-3000:]}")
            time.sleep(0.05)

    def wait_exit(self, timeout: float = 20) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"client {self.name} is still running:\n{self.log()[-3000:]}"
            ) from None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@dataclass
class OpenVPNServer:
    """``openvpn`` in server mode over TCP on 127.0.0.1, with a status file (version 2), a log
    at verb 4 (management commands show there) and a password-protected management port."""

    namespace: NetworkNamespace
    pki: Pki
    folder: Path
    crl_path: Path
    password: str | None = MANAGEMENT_PASSWORD
    unix_socket: bool = False
    """The management interface on a Unix socket in ``folder`` rather than TCP."""
    extra: str = ""
    """More of server.conf, written after the rest (e.g. a ``config`` include)."""
    process: subprocess.Popen[bytes] | None = None
    clients: list[OpenVPNClient] = field(default_factory=list)

    @property
    def conf_path(self) -> Path:
        return self.folder / "server.conf"

    @property
    def log_path(self) -> Path:
        return self.folder / "openvpn.log"

    @property
    def status_path(self) -> Path:
        return self.folder / "openvpn-status.log"

    @property
    def management(self) -> str:
        if self.unix_socket:
            return f"unix:{self.folder / 'management.sock'}"
        return f"127.0.0.1:{MANAGEMENT_PORT}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.unix_socket:
            management = f"management {self.folder / 'management.sock'} unix"
        else:
            management = f"management 127.0.0.1 {MANAGEMENT_PORT}"
        if self.password is not None:
            secret = self.folder / "management.pw"
            secret.write_text(self.password + "\n")
            secret.chmod(0o600)
            management += f" {secret}"
        pki = self.pki.dir
        self.conf_path.write_text(
            f"""\
# written by tests/support/openvpn_server.py
dev tun
proto tcp-server
local 127.0.0.1
port {SERVER_PORT}
server 10.8.0.0 255.255.255.0
topology subnet
ca {pki}/ca.crt
cert {pki}/issued/server.crt
key {pki}/private/server.key
dh none
remote-cert-tls client
crl-verify {self.crl_path}
{management}
status {self.status_path} 1
status-version 2
keepalive 2 10
verb 4
log {self.log_path}
{self.extra}"""
        )
        self.process = self.namespace.run(
            subprocess.Popen,
            ["openvpn", "--config", str(self.conf_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while "Initialization Sequence Completed" not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"the OpenVPN server did not start:\n{self.log()[-3000:]}")
            time.sleep(0.05)

    def laptop(self, file_base: str) -> Path:
        """The client's own copy of its certificate and key, made on first use, as a user's
        laptop holds one that revoking in the PKI does not touch."""
        home = self.folder / "laptops" / file_base
        if not home.exists():
            home.mkdir(parents=True)
            shutil.copy(self.pki.dir / "issued" / f"{file_base}.crt", home / "client.crt")
            shutil.copy(self.pki.dir / "private" / f"{file_base}.key", home / "client.key")
            shutil.copy(self.pki.dir / "ca.crt", home / "ca.crt")
        return home

    def client(self, name: str, file_base: str | None = None) -> OpenVPNClient:
        """Start a client with the certificate ``issued/<file_base>.crt``."""
        keys = self.laptop(file_base or name)
        home = self.folder / "clients" / f"{name}-{len(self.clients)}"
        home.mkdir(parents=True)
        (home / "client.conf").write_text(
            f"""\
client
dev null
proto tcp-client
remote 127.0.0.1 {SERVER_PORT}
ca {keys}/ca.crt
cert {keys}/client.crt
key {keys}/client.key
remote-cert-tls server
nobind
ifconfig-noexec
route-noexec
connect-retry 1
connect-retry-max 1
tls-exit
verb 3
log {home}/client.log
"""
        )
        process = self.namespace.run(
            subprocess.Popen,
            ["openvpn", "--config", str(home / "client.conf")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = OpenVPNClient(name, process, home / "client.log")
        self.clients.append(client)
        return client

    def stop(self) -> None:
        for client in self.clients:
            client.stop()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
