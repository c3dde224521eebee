"""Downloading an HR report over HTTPS: authentication, retries, a size limit and a deadline,
and a body that is whole before anything reads it.

One report is one request (Workday RaaS, BambooHR's reports API and a plain CSV or JSON URL
all answer with the whole report), so the client is small:

* credentials are resolved from their references only when the request is made, sent only to
  the configured address (redirects are not followed), and every message this module raises
  is scrubbed of them; addresses are shown without user, password or query (``shown_url``);
* 429, 502, 503 and 504 are retried, waiting for ``Retry-After`` when the server sends one and
  with exponential backoff otherwise; a dropped connection is retried the same way; all of it
  within one :class:`~iam_gov.retrying.Patience` (the collect's deadline and circuit breaker);
* the body is read to its end and no further than ``max_bytes``: a connection that closes
  before the announced length or the last chunk is a cut-off download (``SourceError``), never
  a shorter report.
"""

from __future__ import annotations

import json
import re
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn
from urllib.parse import urlsplit, urlunsplit

from iam_gov import progress, retrying
from iam_gov.errors import ConfigError, ConnectorError, SourceError
from iam_gov.retrying import GaveUp, Patience

if TYPE_CHECKING:
    import httpx

RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""Throttled, or a gateway or service that is busy: asked again after a wait."""
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
RETRY_AFTER_MAX_SECONDS = 120.0
_CHUNK = 64 * 1024
_OAUTH_ERROR = re.compile(r"[a-z_]{1,40}")

Sleep = Callable[[float], None]


def shown_url(url: str) -> str:
    """``url`` as messages and the snapshot show it: scheme, host, port and path only. A user,
    password or query (which may carry a token) never leaves this function."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass(frozen=True)
class Download:
    """A whole answer: its body and what the server said it is."""

    url: str
    """The address as shown (``shown_url``)."""
    body: bytes
    media_type: str
    """The Content-Type without parameters, lower case; ``""`` when not sent."""
    charset: str | None


@dataclass(frozen=True)
class Call:
    """One request for a report; ``check`` names the settings to check when it is refused."""

    method: Literal["GET", "POST"]
    url: str
    check: str
    """What a 401 or 403 tells the user to check, e.g. ``username and password (environment
    variable HR_PASSWORD)``: setting names and where the secret lives, never its value."""
    accept: str = "*/*"
    json: Any = None
    form: Mapping[str, str] | None = None
    refused: frozenset[int] = frozenset({401, 403})
    """Statuses that mean the credentials were refused (a token endpoint adds 400:
    ``invalid_grant``, ``invalid_client``)."""


Header = Callable[[], str | None]
"""The ``Authorization`` header to send (None: none), made when the request is made."""


@dataclass
class Settings:
    """How to talk to the server; the same for every call of one collect."""

    system: str
    ca_file: Path | None
    timeout: float
    max_retries: int
    max_bytes: int
    deadline: float
    secrets: list[str] = field(default_factory=list, repr=False)
    """Secret values resolved so far: scrubbed from every message raised."""


class ReportClient:
    """Fetches whole answers from one configured server, within one collect's patience."""

    def __init__(self, settings: Settings, *, sleep: Sleep = time.sleep) -> None:
        self.settings = settings
        self.patience = Patience(deadline_seconds=settings.deadline)
        self._sleep = sleep
        self._http: httpx.Client | None = None

    def __repr__(self) -> str:
        return f"ReportClient(system={self.settings.system!r})"

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def remember_secret(self, value: str) -> str:
        """``value`` (a resolved secret), remembered so that no message can show it."""
        if value and value not in self.settings.secrets:
            self.settings.secrets.append(value)
        return value

    def fetch(
        self, call: Call, authorization: Header, *, reauthorize: Callable[[], bool]
    ) -> Download:
        """The whole answer to ``call``. ``reauthorize()`` is asked once after a 401 whether a
        fresh credential is worth one more try (an OAuth token that expired early)."""
        attempt = 0
        tried_fresh = False
        where = f"{self.settings.system}: {shown_url(call.url)}"
        while True:
            try:
                self.patience.before_call()
            except GaveUp as exc:
                raise ConnectorError(self.scrub(f"{where}: {exc}")) from None
            try:
                download = self._once(call, authorization, where)
                progress.page()
                return download
            except _Refused as refused:
                if refused.status == 401 and not tried_fresh and reauthorize():
                    tried_fresh = True
                    continue
                raise ConnectorError(self.scrub(refused.message)) from None
            except _Retry as retry:
                if attempt >= self.settings.max_retries:
                    raise retry.final_error(self, attempt + 1) from None
                wait = retry.wait if retry.wait is not None else _backoff(attempt)
                allowed = self.patience.wait_allowed(wait)
                if allowed is None:
                    raise retry.final_error(self, attempt + 1) from None
                progress.waiting(progress.after(allowed), f"{shown_url(call.url)} asked to wait")
                self._sleep(allowed)
                attempt += 1

    def scrub(self, text: str) -> str:
        for secret in self.settings.secrets:
            text = text.replace(secret, "**********")
        return " ".join(text.split())

    # --- one request ----------------------------------------------------------------------

    def _once(self, call: Call, authorization: Header, where: str) -> Download:
        import httpx

        headers = {"Accept": call.accept}
        header = authorization()
        if header is not None:
            headers["Authorization"] = header
        received = 0
        try:
            with self._client().stream(
                call.method, call.url, headers=headers, json=call.json, data=call.form
            ) as response:
                self._judge_status(response, call, where)
                length = _content_length(response)
                limit = self.settings.max_bytes
                if length is not None and length > limit:
                    self._too_big(where, f"announces {length} bytes")
                chunks: list[bytes] = []
                for chunk in response.iter_bytes(_CHUNK):
                    received += len(chunk)
                    if received > limit:
                        self._too_big(where, f"sent more than {limit} bytes")
                    if self.patience.remaining() <= 0:
                        raise ConnectorError(
                            f"{where}: the download did not finish within the deadline of "
                            f"{self.settings.deadline:.0f} s ({received} bytes received)"
                        )
                    chunks.append(chunk)
                media_type, _, parameters = response.headers.get("Content-Type", "").partition(";")
                self.patience.succeeded()
                return Download(
                    url=shown_url(call.url),
                    body=b"".join(chunks),
                    media_type=media_type.strip().lower(),
                    charset=_charset(parameters),
                )
        except httpx.TransportError as exc:
            reason = f"{type(exc).__name__}: {_one_line(exc) or 'no detail'}"
            if _untrusted(exc):
                ca = self.settings.ca_file
                hint = f"ca_file {ca} did not issue it" if ca else "set ca_file to the private CA"
                raise ConnectorError(
                    self.scrub(f"{where}: the server's certificate is not trusted ({hint})")
                ) from None
            self.patience.failed(reason)
            if received or isinstance(exc, httpx.RemoteProtocolError):
                # The answer began and did not end: what arrived is not the report.
                raise _Retry(
                    None,
                    lambda tries: SourceError(
                        f"{where}: the download was cut off ({reason}) after {tries} "
                        "attempt(s): refused, nothing read from it"
                    ),
                ) from None
            raise _Retry(
                None,
                lambda tries: ConnectorError(
                    f"{where}: cannot be reached after {tries} attempt(s) ({reason})"
                ),
            ) from None

    def _judge_status(self, response: httpx.Response, call: Call, where: str) -> None:
        status = response.status_code
        if status < 300:
            return
        reason = f"HTTP {status} {response.reason_phrase}".strip()
        if status in RETRY_STATUSES:
            if status != 429:
                self.patience.failed(reason)
            wait = retrying.retry_after(
                response.headers.get("Retry-After"), cap=RETRY_AFTER_MAX_SECONDS
            )
            raise _Retry(
                wait,
                lambda tries: ConnectorError(f"{where}: {reason} after {tries} attempt(s)"),
            )
        if status in call.refused:
            what = (
                "signed in, but not allowed to read this report"
                if status == 403
                else "the credentials were refused"
            )
            detail = _server_says(response)
            raise _Refused(status, f"{where}: {reason}: {what}; check {call.check}{detail}")
        if 300 <= status < 400:
            target = response.headers.get("Location", "")
            shown = shown_url(str(response.url.join(target))) if target else "nowhere"
            raise ConnectorError(
                f"{where}: {reason}: redirected to {shown}, not followed (credentials are sent "
                "only to the configured address): set the report's own address, or check the "
                "authentication if that is a sign-in page"
            )
        raise ConnectorError(self.scrub(f"{where}: {reason}{_server_says(response)}"))

    def _too_big(self, where: str, what: str) -> NoReturn:
        raise SourceError(
            f"{where}: the answer {what}, more than max_bytes ({self.settings.max_bytes}): "
            "refused; raise max_bytes if the report is really this large"
        )

    def _client(self) -> httpx.Client:
        if self._http is None:
            import httpx  # lazy: only live HR reads need it

            self._http = httpx.Client(
                timeout=httpx.Timeout(self.settings.timeout),
                headers={"User-Agent": "iam-gov"},
                follow_redirects=False,
                verify=self._verify(),
            )
        return self._http

    def _verify(self) -> ssl.SSLContext | bool:
        ca_file = self.settings.ca_file
        if ca_file is None:
            return True  # the system's CAs (SSL_CERT_FILE when set)
        try:
            return ssl.create_default_context(cafile=str(ca_file))
        except (OSError, ssl.SSLError):
            raise ConfigError(
                f"{self.settings.system}: ca_file {ca_file} is not a readable file of PEM "
                "certificates"
            ) from None


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class _Retry(Exception):
    """Worth another try after ``wait`` seconds (None: backoff); ``final`` makes the error
    raised when no try is left, given the number of attempts made."""

    def __init__(self, wait: float | None, final: Callable[[int], Exception]) -> None:
        super().__init__()
        self.wait, self.final = wait, final

    def final_error(self, client: ReportClient, tries: int) -> Exception:
        error = self.final(tries)
        message = client.scrub(str(error))
        return type(error)(message)


def _backoff(attempt: int) -> float:
    return retrying.backoff(attempt, base=BACKOFF_BASE_SECONDS, ceiling=BACKOFF_MAX_SECONDS)


def _content_length(response: httpx.Response) -> int | None:
    if response.headers.get("Content-Encoding", "identity").lower() != "identity":
        return None  # the length of the compressed body
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _charset(parameters: str) -> str | None:
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return None


def _server_says(response: httpx.Response) -> str:
    """The server's reason for a refusal, short and on one line: BambooHR's header, or an
    OAuth error code (``invalid_grant``); nothing else of the body, which may echo input."""
    said = response.headers.get("X-BambooHR-Error-Message", "").strip()
    if not said and (_content_length(response) or 0) <= 4096:
        try:
            body = json.loads(response.read()[:4096])
        except (ValueError, UnicodeDecodeError):
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, str) and _OAUTH_ERROR.fullmatch(error):
            said = error
    return f" (the server says: {_one_line(said, 160)})" if said else ""


def _untrusted(exc: Exception) -> bool:
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(
            current
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


def _one_line(value: object, limit: int = 200) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
