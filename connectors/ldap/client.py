"""The live side of the LDAP connector: connect with failover and TLS, bind, and search with
the simple paged results control and AD's ranged values."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import math
import re
import ssl
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from iam_gov.connectors.ldap.entry import Entry, merge_ranges
from iam_gov.errors import ConnectorError

log = logging.getLogger("iam_gov.connectors.ldap")

PAGED_RESULTS = "1.2.840.113556.1.4.319"
"""The simple paged results control (RFC 2696)."""

# Result codes after which another server would answer the same: the credential or the
# way it is presented is refused. Trying the next one would only add failed binds (and lock
# the account sooner).
_REFUSALS = {7, 8, 13, 48, 49, 50, 53}
NO_SUCH_ATTRIBUTE = 16
NO_SUCH_OBJECT = 32


@dataclass(frozen=True)
class Settings:
    """How to reach the directory; the secret is handed over only to ldap3."""

    urls: tuple[str, ...]
    bind_dn: str
    start_tls: bool
    ca_file: Path | None
    tls_verify: bool
    timeout: float
    allow_plaintext: bool = False
    """A simple bind over plain ldap:// to another host; loopback is always allowed."""


def is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def describe_result(result: Mapping[str, Any] | None) -> str:
    """``sizeLimitExceeded (what the server said)``; never the request."""
    if not result:
        return "no answer"
    text = str(result.get("description") or f"result {result.get('result')}")
    message = " ".join(str(result.get("message") or "").split())
    return f"{text} ({message})" if message else text


def describe_exception(exc: Exception) -> str:
    """One readable line from ldap3's exceptions, which nest reprs of tuples in their text."""
    text = " ".join(str(exc).split())
    untrusted = re.search(r"certificate verify failed: ([^(]*?)\s*\(_ssl", text)
    if untrusted:
        return (
            f"TLS: the server's certificate is not trusted ({untrusted[1]}); "
            "give ca_file, the CA certificate that issued it"
        )
    if "doesn't match any name in" in text:
        names = re.findall(r"\('(?:DNS|IP Address)', '([^']+)'\)", text)
        asked = re.search(r"any name in \['([^']*)'", text)
        return (
            f"TLS: the server's certificate is for {', '.join(names) or 'other names'}, "
            f"not {asked[1] if asked else 'the host in the URL'}"
        )
    return text.strip("()\"', ") or type(exc).__name__


class Directory:
    """One bound connection to one of the configured servers."""

    def __init__(self, connection: Any, url: str) -> None:
        self.connection = connection
        self.url = url

    def close(self) -> None:
        _quietly_close(self.connection)

    def __enter__(self) -> Directory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def search(
        self,
        base: str,
        search_filter: str,
        attributes: Sequence[str],
        *,
        page_size: int | None = None,
        scope: str = "SUBTREE",
    ) -> Iterator[Entry]:
        """Every entry, page by page. Raises ``SearchFailed`` after yielding what came before
        the failure, so that a caller keeps what it read and knows the rest is missing."""
        from ldap3.core.exceptions import LDAPException

        conn = self.connection
        cookie: bytes | None = None
        while True:
            try:
                conn.search(
                    base,
                    search_filter,
                    search_scope=scope,
                    dereference_aliases="NEVER",
                    attributes=list(attributes) or ["1.1"],
                    paged_size=page_size,
                    paged_cookie=cookie,
                )
            except LDAPException as exc:
                raise SearchFailed(describe_exception(exc)) from None
            result, response = conn.result, list(conn.response or [])
            for item in response:
                if item.get("type") == "searchResEntry":  # references (AD) are not followed
                    yield self._entry(item)
            if result is None or result.get("result") != 0:
                raise SearchFailed(describe_result(result), code=(result or {}).get("result"))
            if page_size is None:
                return
            control = (result.get("controls") or {}).get(PAGED_RESULTS) or {}
            cookie = (control.get("value") or {}).get("cookie")
            if not cookie:
                return

    def read(self, dn: str, attributes: Sequence[str]) -> Entry | None:
        """One entry by DN; None when it does not exist."""
        try:
            return next(self.search(dn, "(objectClass=*)", attributes, scope="BASE"), None)
        except SearchFailed as exc:
            if exc.code == NO_SUCH_OBJECT:
                return None
            raise

    def modify(
        self, dn: str, changes: Mapping[str, list[tuple[str, list[Any]]]]
    ) -> tuple[int, str]:
        """The result code and a description of it."""
        from ldap3.core.exceptions import LDAPException

        try:
            self.connection.modify(dn, dict(changes))
        except LDAPException as exc:
            return -1, describe_exception(exc)
        result = self.connection.result
        return int((result or {}).get("result", -1)), describe_result(result)

    def _entry(self, item: Mapping[str, Any]) -> Entry:
        raw: dict[str, list[bytes]] = {
            name: list(values) for name, values in (item.get("raw_attributes") or {}).items()
        }
        attributes, partial = merge_ranges(raw)
        for name in partial:
            # AD hands out at most MaxValRange (1500) values at a time: fetch the rest.
            attributes[name] += tuple(self._remaining_range(item["dn"], name, raw))
        return Entry(dn=item["dn"], attributes=attributes)

    def _remaining_range(self, dn: str, name: str, raw: Mapping[str, list[bytes]]) -> list[bytes]:
        high = max(
            int(key.rpartition("-")[2])
            for key in raw
            if key.lower().startswith(name + ";range=") and not key.endswith("*")
        )
        wanted = f"{name};range={high + 1}-*"
        try:
            # _entry() folds this range in, and fetches the ones after it the same way.
            entry = next(self.search(dn, "(objectClass=*)", [wanted], scope="BASE"), None)
        except SearchFailed as exc:
            raise SearchFailed(f"reading {name} of {dn} from value {high + 1}: {exc}") from None
        if entry is None:
            raise SearchFailed(f"{dn} disappeared while its {name} values were read")
        return list(entry.values(name))


class SearchFailed(Exception):
    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def connect(settings: Settings, password: SecretStr, *, system: str, read_only: bool) -> Directory:
    """A bound connection to the first server that answers. ``ConnectorError`` when none does
    or the credential is refused; the message never holds the password."""
    import ldap3
    from ldap3.core.exceptions import LDAPException

    if not settings.tls_verify:
        log.warning(
            "%s: tls_verify = false: the directory's certificate is NOT verified, so anyone "
            "on the network path can pose as the directory and receive the bind password",
            system,
        )
    try:
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED if settings.tls_verify else ssl.CERT_NONE,
            ca_certs_file=str(settings.ca_file) if settings.ca_file else None,
        )
    except LDAPException:
        raise ConnectorError(
            f"{system}: ca_file {settings.ca_file} is not a readable file of PEM certificates"
        ) from None
    problems: list[str] = []
    for url in settings.urls:
        if not settings.start_tls and url.lower().startswith("ldap:") and not is_loopback(url):
            if not settings.allow_plaintext:
                # The options refuse this already; a caller building Settings itself too.
                raise ConnectorError(
                    f"{system}: {url} would receive the bind password in clear text: use "
                    "ldaps://, start_tls = true, or allow_plaintext = true to accept that"
                )
            log.warning(
                "%s: allow_plaintext = true: binding to %s without TLS sends the bind password "
                "in clear text; use ldaps:// or start_tls = true",
                system,
                url,
            )
        server = ldap3.Server(url, get_info=ldap3.NONE, tls=tls, connect_timeout=settings.timeout)
        connection = ldap3.Connection(
            server,
            user=settings.bind_dn,
            password=password.get_secret_value(),
            authentication=ldap3.SIMPLE,
            auto_bind=ldap3.AUTO_BIND_NONE,
            raise_exceptions=False,
            read_only=read_only,
            # Referrals would be followed with our credential to whatever host they name.
            auto_referrals=False,
            # Ranges are fetched by Directory, which reports a failure instead of dropping it.
            auto_range=False,
            check_names=False,
            auto_escape=False,
            return_empty_attributes=False,
            receive_timeout=math.ceil(settings.timeout),  # ldap3 packs it as an int
        )
        try:
            connection.open()
            if settings.start_tls:
                connection.start_tls()
            bound = connection.bind()
        except LDAPException as exc:
            problems.append(f"{url}: {describe_exception(exc)}")
            _quietly_close(connection)
            continue
        if bound:
            return Directory(connection, url)
        result = connection.result
        _quietly_close(connection)
        if (result or {}).get("result") in _REFUSALS:
            raise ConnectorError(
                f"{system}: {url} refused the bind as {settings.bind_dn}: {describe_result(result)}"
            )
        problems.append(f"{url}: bind failed: {describe_result(result)}")
    raise ConnectorError(f"{system}: cannot connect to the directory: {'; '.join(problems)}")


def _quietly_close(connection: Any) -> None:
    from ldap3.core.exceptions import LDAPException

    with contextlib.suppress(LDAPException):  # already gone: nothing to release
        connection.unbind()
