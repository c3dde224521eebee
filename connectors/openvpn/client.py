"""The client of OpenVPN's management interface, over TCP or a Unix socket, with a password.

The connector asks it who is connected (``status 3``); the actions end sessions (``kill``)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

from pydantic import SecretStr

_TIMEOUT_SECONDS = 10.0


class ManagementError(Exception):
    """The management interface could not be reached, refused us, or answered oddly. The
    message never holds the password."""


def parse_address(address: str) -> tuple[str, int] | str:
    """``host:port`` (``[v6]:port``) as a TCP address, or ``unix:/path`` as a socket path."""
    if address.startswith("unix:"):
        return address[len("unix:") :]
    host, _, port = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError('give "host:port" (e.g. "127.0.0.1:7505") or "unix:/path/to/socket"')
    return host, int(port)


class ManagementClient:
    """One connection to OpenVPN's management interface (a line protocol over TCP or a Unix
    socket): authenticate if asked, send commands, read their answers."""

    def __init__(
        self, address: str, password: SecretStr | None, *, timeout: float = _TIMEOUT_SECONDS
    ) -> None:
        self.address = address
        self._password = password
        self._timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = b""

    def __repr__(self) -> str:
        return f"ManagementClient({self.address!r})"

    def __enter__(self) -> ManagementClient:
        self.connect()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def connect(self) -> None:
        target = parse_address(self.address)
        try:
            if isinstance(target, str):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self._timeout)
                sock.connect(target)
            else:
                sock = socket.create_connection(target, timeout=self._timeout)
        except OSError as exc:
            raise ManagementError(f"cannot connect: {exc.strerror or exc}") from None
        self._sock = sock
        prompt = b"ENTER PASSWORD:"
        self._read_until(lambda data: prompt in data or b"\n" in data)
        if prompt not in self._buffer:
            return  # no password asked; the greeting is a ">INFO:" line, skipped later
        if self._password is None:
            self.close()
            raise ManagementError(
                "the management interface asks for a password; set management_password"
            )
        self._buffer = self._buffer.split(prompt, 1)[1]
        self._send(self._password.get_secret_value())
        # A wrong password is answered by the same prompt again, without a newline.
        self._read_until(lambda data: prompt in data or _has_line(data, b"SUCCESS:"))
        if not _has_line(self._buffer, b"SUCCESS:"):
            self.close()
            raise ManagementError("the management interface refused the password")
        self._buffer = self._buffer.split(b"SUCCESS:", 1)[1].split(b"\n", 1)[1]

    def status(self) -> list[str]:
        """``status 3``: the server's client list, tab-separated, up to ``END``."""
        self._send("status 3")
        lines = []
        while True:
            line = self._line()
            if line.startswith(">"):
                continue  # a real-time notification, not part of the answer
            if line.startswith("ERROR:"):
                raise ManagementError(f"status 3: {line}")
            lines.append(line)
            if line == "END":
                return lines

    def kill(self, common_name: str) -> tuple[bool, str]:
        """``kill <cn>``: end every session of that common name. (True, what the server
        said) when some were, (False, …) when none was connected."""
        self._send(f"kill {quote(common_name)}")
        while True:
            line = self._line()
            if line.startswith(">"):
                continue
            if line.startswith("SUCCESS:"):
                return True, line
            if line.startswith("ERROR:"):
                return False, line

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.sendall(b"quit\n")
            self._sock.close()
            self._sock = None

    def _send(self, command: str) -> None:
        assert self._sock is not None
        try:
            self._sock.sendall(command.encode("utf-8") + b"\n")
        except OSError as exc:
            raise ManagementError(f"connection lost: {exc.strerror or exc}") from None

    def _line(self) -> str:
        data = self._read_until(lambda buffered: b"\n" in buffered)
        line, _, self._buffer = data.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", errors="replace")

    def _read_until(self, done: Callable[[bytes], bool]) -> bytes:
        assert self._sock is not None
        while not done(self._buffer):
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                raise ManagementError(f"no answer within {self._timeout:.0f} s") from None
            except OSError as exc:
                raise ManagementError(f"connection lost: {exc.strerror or exc}") from None
            if not chunk:
                raise ManagementError("the server closed the connection")
            self._buffer += chunk
        return self._buffer


def _has_line(data: bytes, start: bytes) -> bool:
    """A whole line starting with ``start`` has arrived."""
    _, found, rest = data.partition(start)
    return bool(found) and b"\n" in rest


def quote(value: str) -> str:
    """A management-command argument: double-quoted, backslash-escaped."""
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        raise ValueError("a control character cannot be sent on the management interface")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
