"""Real WireGuard for the tests: keys made by ``wg``, and running interfaces in a private
network namespace, made with wireguard-go (userspace WireGuard, which ``wg`` drives through
the same configuration protocol as the kernel's and prints in the same formats).

Why not the kernel's: the machines this suite runs on have no wireguard module (``ip link
add … type wireguard`` answers "Unknown device type"), and a kernel interface inside a
namespace is visible to ``wg`` only from inside it, while a userspace one answers on its
control socket in /var/run/wireguard from anywhere, as on a real server.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tests.support.unavailable import unavailable

SOCKET_DIR = Path("/var/run/wireguard")
_counter = itertools.count()


def wg(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["wg", *args], input=stdin, capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout


def keypair() -> tuple[str, str]:
    """(private, public), from ``wg genkey | wg pubkey``."""
    private = wg("genkey").strip()
    return private, wg("pubkey", stdin=private + "\n").strip()


def public_key() -> str:
    return keypair()[1]


def preshared_key() -> str:
    return wg("genpsk").strip()


def require_wg() -> None:
    if shutil.which("wg") is None:
        unavailable("wg not found (make test installs wireguard-tools)")


def require_live() -> None:
    """Skip (fail on CI) unless interfaces can be made here."""
    require_wg()
    if os.geteuid() != 0:
        unavailable("running WireGuard interfaces need root (network namespaces, /dev/net/tun)")
    if shutil.which("wireguard-go") is None:
        unavailable(
            "wireguard-go not found (the kernel here has no WireGuard; make test installs the "
            "userspace implementation: .ci/install-system-packages)"
        )
    if shutil.which("ip") is None:
        unavailable("ip not found (make test installs iproute2)")
    if not Path("/dev/net/tun").exists():
        unavailable("no /dev/net/tun: userspace WireGuard cannot make interfaces here")


@dataclass
class Interface:
    name: str
    private_key: str
    public_key: str
    listen_port: int
    started_at: datetime
    process: subprocess.Popen[bytes]

    def load(self, config: Path) -> None:
        """What ``wg-quick up`` does with the file's wg settings (wg-quick's own are dropped)."""
        stripped = subprocess.run(
            ["wg-quick", "strip", str(config)], capture_output=True, check=True, timeout=30
        ).stdout
        plain = config.with_name(f".{self.name}.stripped")
        plain.write_bytes(stripped)
        plain.chmod(0o600)
        wg("syncconf", self.name, str(plain))

    def dump(self) -> str:
        return wg("show", self.name, "dump")

    def peers(self) -> set[str]:
        return set(wg("show", self.name, "peers").split())

    def handshakes(self) -> dict[str, int]:
        lines = wg("show", self.name, "latest-handshakes").splitlines()
        return {key: int(seconds) for key, seconds in (line.split("\t") for line in lines)}


@dataclass
class Namespace:
    """A network namespace of its own; interfaces made in it are stopped with it."""

    name: str
    folder: Path
    interfaces: list[Interface] = field(default_factory=list)

    def ip(self, *args: str) -> None:
        subprocess.run(["ip", "-n", self.name, *args], check=True, timeout=30)

    def interface(self, listen_port: int, private_key: str | None = None) -> Interface:
        """A running interface with its key and port and no peers yet."""
        name = f"iw{os.getpid() % 100000}x{next(_counter)}"
        if private_key is None:
            private_key, public = keypair()
        else:
            public = wg("pubkey", stdin=private_key + "\n").strip()
        started = datetime.now(UTC)
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.name, "wireguard-go", "-f", name],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "LOG_LEVEL": "error"},
        )
        interface = Interface(name, private_key, public, listen_port, started, process)
        self.interfaces.append(interface)
        _wait_for(lambda: (SOCKET_DIR / f"{name}.sock").exists(), f"{name} to start")
        key_file = self.folder / f"{name}.key"
        key_file.write_text(private_key + "\n")
        key_file.chmod(0o600)
        wg("set", name, "private-key", str(key_file), "listen-port", str(listen_port))
        self.ip("link", "set", name, "up")
        return interface

    def connect(self, client: Interface, server: Interface) -> None:
        """Make ``server`` a peer of ``client`` (which ``server`` must already know) on the
        loopback, and wait for their handshake: a persistent keepalive starts one at once."""
        wg(
            "set",
            client.name,
            "peer",
            server.public_key,
            "allowed-ips",
            "10.99.0.1/32",
            "endpoint",
            f"127.0.0.1:{server.listen_port}",
            "persistent-keepalive",
            "1",
        )
        _wait_for(
            lambda: server.handshakes().get(client.public_key, 0) > 0,
            f"a handshake between {client.name} and {server.name}",
        )

    def stop(self) -> None:
        for interface in self.interfaces:
            if interface.process.poll() is None:
                interface.process.send_signal(signal.SIGTERM)
                try:
                    interface.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    interface.process.kill()
                    interface.process.wait(timeout=5)
        subprocess.run(["ip", "netns", "del", self.name], check=False, timeout=30)


@contextmanager
def namespace(folder: Path) -> Iterator[Namespace]:
    name = f"iamgov-wg-{os.getpid()}-{next(_counter)}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
    space = Namespace(name, folder)
    try:
        space.ip("link", "set", "lo", "up")
        yield space
    finally:
        space.stop()


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.05)


@dataclass(frozen=True)
class DumpPeer:
    public_key: str
    allowed_ips: str = "(none)"
    endpoint: str = "(none)"
    latest_handshake: int = 0
    preshared_key: str = "(none)"
    keepalive: str = "off"


def dump_text(private_key: str, public: str, port: int, peers: list[DumpPeer]) -> str:
    """What ``wg show <interface> dump`` prints (tab-separated; see wg(8), ``show … dump``)."""
    lines = [f"{private_key}\t{public}\t{port}\toff"]
    for n, peer in enumerate(peers):
        lines.append(
            "\t".join(
                [
                    peer.public_key,
                    peer.preshared_key,
                    peer.endpoint,
                    peer.allowed_ips,
                    str(peer.latest_handshake),
                    str(1000 * n),
                    str(2000 * n),
                    peer.keepalive,
                ]
            )
        )
    return "\n".join(lines) + "\n"
