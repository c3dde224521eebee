"""A real easy-rsa PKI for the OpenVPN tests: built once per session with EC keys (fast),
copied for each test that changes it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from tests.support.unavailable import unavailable

EASYRSA = Path("/usr/share/easy-rsa/easyrsa")
CA_PASSPHRASE = "ca-Passphrase-42"


def require_program(path: Path | str, package: str) -> str:
    """The program's path; skip the test where it is missing (fail in CI, where the test
    set-up installs it)."""
    found = shutil.which(str(path)) if not Path(path).is_absolute() else str(path)
    if found and os.access(found, os.X_OK):
        return found
    unavailable(f"{path} not found (make test installs {package}: .ci/install-system-packages)")


@dataclass
class Pki:
    """An easy-rsa folder: ``root`` holds ``pki/`` as an administrator's set-up does."""

    root: Path

    @property
    def dir(self) -> Path:
        return self.root / "pki"

    @property
    def crl(self) -> Path:
        return self.dir / "crl.pem"

    def easyrsa(self, *args: str, passphrase: str | None = None) -> str:
        env = {
            **os.environ,
            "EASYRSA_PKI": str(self.dir),
            "EASYRSA_BATCH": "1",
            "EASYRSA_ALGO": "ec",
            "EASYRSA_CURVE": "prime256v1",
        }
        extra = (
            [f"--passin=pass:{passphrase}", f"--passout=pass:{passphrase}"] if passphrase else []
        )
        done = subprocess.run(
            [str(EASYRSA), "--batch", *extra, *args],
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"easyrsa {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def client(self, file_base: str, common_name: str | None = None) -> str:
        """A client certificate (no key passphrase); its serial."""
        if common_name is None:
            self.easyrsa("build-client-full", file_base, "nopass")
        else:
            self.easyrsa(f"--req-cn={common_name}", "gen-req", file_base, "nopass")
            self.easyrsa("sign-req", "client", file_base)
        return self.serial(file_base)

    def serial(self, file_base: str, folder: str = "issued") -> str:
        cert = x509.load_pem_x509_certificate((self.dir / folder / f"{file_base}.crt").read_bytes())
        text = f"{cert.serial_number:X}"
        return text if len(text) % 2 == 0 else "0" + text

    def index(self) -> list[list[str]]:
        return [line.split("\t") for line in (self.dir / "index.txt").read_text().splitlines()]

    def status_of(self, serial: str) -> str:
        return next(row[0] for row in self.index() if row[3] == serial)

    def copy(self, destination: Path) -> Pki:
        shutil.copytree(self.root, destination, symlinks=True)
        return Pki(destination)


@dataclass
class DemoPki:
    """The session's PKI and the serials in it."""

    pki: Pki
    serials: dict[str, str]
    """File base -> serial: server, alice, bob, carol (revoked), dave and dave-laptop2 (two
    valid certificates with CN dave), erin@example.com."""


def build_demo_pki(root: Path) -> DemoPki:
    require_program(EASYRSA, "easy-rsa")
    require_program("openssl", "openssl")
    pki = Pki(root)
    root.mkdir(parents=True, exist_ok=True)
    pki.easyrsa("init-pki")
    pki.easyrsa("--req-cn=iam-gov test CA", "build-ca", "nopass")
    pki.easyrsa("build-server-full", "server", "nopass")
    serials = {"server": pki.serial("server")}
    for name in ("alice", "bob", "carol", "dave", "erin@example.com"):
        serials[name] = pki.client(name)
    serials["dave-laptop2"] = pki.client("dave-laptop2", common_name="dave")
    pki.easyrsa("revoke", "carol", "keyCompromise")
    pki.easyrsa("gen-crl")
    return DemoPki(pki, serials)


_TEMPLATE: dict[str, DemoPki] = {}


def demo_pki(factory: pytest.TempPathFactory, destination: Path) -> DemoPki:
    """A copy of the session's demo PKI at ``destination`` (built on first use)."""
    template = _TEMPLATE.get("demo")
    if template is None:
        template = build_demo_pki(factory.mktemp("openvpn-template") / "easy-rsa")
        _TEMPLATE["demo"] = template
    return DemoPki(template.pki.copy(destination), dict(template.serials))


def tree_state(*roots: Path) -> dict[str, tuple[str, int, int]]:
    """Every file under ``roots``: content hash, mode and inode (a rename shows up too)."""
    state = {}
    for root in roots:
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            info = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            state[str(path)] = (digest, info.st_mode, info.st_ino)
    return state


def changed(
    before: dict[str, tuple[str, int, int]], after: dict[str, tuple[str, int, int]]
) -> set[str]:
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def openssl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["openssl", *args], capture_output=True, text=True, timeout=30, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {done.stderr}")
    return done


def iter_serials_in_crl_text(text: str) -> Iterator[str]:
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Serial Number:"):
            yield line.split(":", 1)[1].strip().upper()
