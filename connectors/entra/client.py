"""Microsoft Graph over httpx for the Entra connector: tokens from MSAL, paging, throttling."""

from __future__ import annotations

import os
import re
import ssl
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlsplit

from iam_gov import progress, retrying
from iam_gov.errors import ConfigError, ConnectorError
from iam_gov.retrying import Patience

if TYPE_CHECKING:
    import httpx

RETRY_STATUSES = frozenset({429, 503, 504})
"""What Graph asks callers to retry: throttling, and a service that is busy or timed out."""
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
RETRY_AFTER_MAX_SECONDS = 300.0
FAILURES_TO_OPEN = 3
"""Attempts in a row that do not reach Graph (refused, reset, timed out, 5xx after the
retries) before the collect stops asking: a server that is gone is gone for every call."""


def segment(value: str) -> str:
    """One URL path segment, quoted so that no value can walk to another endpoint."""
    return quote(value, safe="")


class GraphError(Exception):
    """Graph answered with an error, or could not be reached after the retries."""

    def __init__(
        self,
        method: str,
        path: str,
        *,
        status: int | None,
        code: str,
        message: str,
        request_id: str | None = None,
    ) -> None:
        self.method, self.path, self.status = method, path, status
        self.code, self.message, self.request_id = code, message, request_id
        super().__init__(self.describe())

    def describe(self) -> str:
        where = f"{self.method} {self.path}"
        status = f"{self.status} " if self.status is not None else ""
        text = f"{where}: {status}{self.code}"
        if self.message:
            text += f": {self.message}"
        if self.request_id:
            text += f" (request-id {self.request_id})"
        return text


TokenProvider = Callable[[], str]
Sleep = Callable[[float], None]


def http_client(timeout: float, ca_file: Path | None = None) -> httpx.Client:
    """The one HTTP client for signing in (MSAL is given it, ``MsalHttp``) and for Graph, so
    that both trust the same CAs and use the same proxy. The CAs trusted are the
    environment's (SSL_CERT_FILE, SSL_CERT_DIR, else certifi's bundle, as httpx does) and,
    with ``ca_file``, that file's too: a TLS-inspecting proxy's or a private CA, for this
    system only rather than for the whole process."""
    import httpx  # lazy: only live Entra systems need it

    verify: ssl.SSLContext | bool = True
    if ca_file is not None:
        verify = trust_with(ca_file)
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": "iam-gov"},
        follow_redirects=False,
        verify=verify,
    )


def trust_with(ca_file: Path) -> ssl.SSLContext:
    """The environment's trusted CAs plus those of ``ca_file`` (PEM, one or more)."""
    import certifi

    if os.environ.get("SSL_CERT_FILE"):
        context = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    elif os.environ.get("SSL_CERT_DIR"):
        context = ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    else:
        context = ssl.create_default_context(cafile=certifi.where())
    try:
        context.load_verify_locations(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{ca_file}: cannot be read as PEM CA certificates ({reason})") from None
    return context


def certificate_problem(exc: BaseException) -> str | None:
    """The reason a TLS certificate was refused, when that is what ``exc`` (or its cause)
    is: no retry mends it, and the operator needs to know which setting does."""
    current: BaseException | None = exc
    for _ in range(6):
        if current is None:
            return None
        if isinstance(current, ssl.SSLCertVerificationError):
            return current.verify_message or str(current)
        text = str(current)
        if "CERTIFICATE_VERIFY_FAILED" in text:
            found = re.search(r"certificate verify failed: ([^(]+)", text)
            return found.group(1).strip() if found else "certificate verify failed"
        current = current.__cause__ or current.__context__
    return None


def untrusted(url: str, reason: str, setting: str) -> str:
    """One line: whose certificate, why, and what to set."""
    host = url.split("://", 1)[-1].split("/", 1)[0]
    return (
        f"the TLS certificate of {host} is not trusted ({reason}): when a private CA or a "
        f"TLS-inspecting proxy signs it, set {setting} to that CA's PEM file"
    )


class GraphClient:
    """Graph v1.0 for one tenant: every call retried on throttling, every list followed to its
    last page. The bearer token is only ever sent to ``graph_url``."""

    def __init__(
        self,
        http: httpx.Client,
        graph_url: str,
        token: TokenProvider,
        *,
        max_retries: int,
        sleep: Sleep = time.sleep,
        patience: Patience | None = None,
        ca_setting: str = "ca_file",
        where: str = "Microsoft Graph",
    ) -> None:
        """``patience``: the collect's deadline and circuit breaker (``begin`` sets a new
        one); ``ca_setting``: the option a certificate error names; ``where`` begins it."""
        self._http = http
        self._root = graph_url.rstrip("/") + "/v1.0"
        self._token = token
        self._max_retries = max_retries
        self._sleep = sleep
        self.patience = patience or Patience(deadline_seconds=float("inf"))
        self._ca_setting = ca_setting
        self._where = where

    def begin(self, deadline_seconds: float) -> None:
        """A new collect (or action): its own deadline, the breaker closed."""
        self.patience = Patience(
            deadline_seconds=deadline_seconds, failures_to_open=FAILURES_TO_OPEN
        )

    def _wait(self, seconds: float) -> None:
        """Wait before a retry, never past the deadline (``GaveUp`` then)."""
        allowed = self.patience.wait_allowed(seconds)
        if allowed is None:
            self.patience.before_call()  # raises: the deadline has passed
            return
        self._sleep(allowed)

    # --- single requests ----------------------------------------------------------------

    def get(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        response = self.request("GET", path, params=params, headers=headers)
        return _json_object(response, _shown_path(str(response.request.url), self._root))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """``path`` is relative to ``/v1.0`` (``/users``) or a full URL Graph gave us."""
        import httpx

        url = path if path.startswith(("https://", "http://")) else self._root + path
        shown = _shown_path(url, self._root)
        if not url.startswith(self._root + "/"):
            # A nextLink elsewhere would take our token with it.
            raise GraphError(
                method,
                shown,
                status=None,
                code="UnexpectedLink",
                message=f"Graph pointed outside {self._root}; not followed",
            )
        attempt = 0
        while True:
            # GaveUp (deadline passed, or the server is gone) ends the whole collect.
            self.patience.before_call()
            request_headers = {
                "Authorization": f"Bearer {self._token()}",
                "Accept": "application/json",
                "client-request-id": str(uuid.uuid4()),
                **(headers or {}),
            }
            # One answer never waits past the collect's deadline.
            timeout = min(self._http.timeout.read or 30.0, self.patience.remaining())
            try:
                response = self._http.request(
                    method,
                    url,
                    params=params,
                    headers=request_headers,
                    json=json,
                    timeout=httpx.Timeout(max(timeout, 0.1)),
                )
            except httpx.TransportError as exc:
                refused = certificate_problem(exc)
                if refused is not None:
                    raise ConnectorError(
                        f"{self._where}: {untrusted(url, refused, self._ca_setting)}"
                    ) from None
                self.patience.failed(f"{type(exc).__name__}: {_one_line(exc, 120)}")
                self.patience.before_call()  # gone: no wait for a retry that cannot help
                if attempt >= self._max_retries:
                    raise GraphError(
                        method,
                        shown,
                        status=None,
                        code=type(exc).__name__,
                        message=f"no answer after {attempt + 1} attempts: {_one_line(exc)}",
                    ) from None
                self._wait(backoff(attempt))
                attempt += 1
                continue
            if response.status_code < 400:
                self.patience.succeeded()
                return response
            if response.status_code in RETRY_STATUSES and attempt < self._max_retries:
                self.patience.noted(f"{response.status_code} from {shown}")
                wait = retry_after(response.headers.get("Retry-After"))
                wait = wait if wait is not None else backoff(attempt)
                progress.waiting(progress.after(wait), f"HTTP {response.status_code} from Graph")
                self._wait(wait)
                attempt += 1
                continue
            if response.status_code >= 500:
                self.patience.failed(f"{response.status_code} from {shown}")
            else:
                self.patience.succeeded()  # it answered: refusals are about this call only
            raise _error(method, shown, response)

    # --- lists --------------------------------------------------------------------------

    def pages(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Each page's ``value``, following ``@odata.nextLink`` (which carries the query)."""
        for body in self.bodies(path, params, headers):
            yield [item for item in body["value"] if isinstance(item, dict)]

    def bodies(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Each page as Graph sent it (``@odata.context``, ``value``, ``@odata.nextLink``),
        following the next links: what ``iam-gov export`` saves. A next link back to a page
        already read (a server's cursor bug) ends the list with an error, not a loop."""
        next_url: str | None = path
        first = True
        read: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        while next_url is not None:
            page = _page_key(next_url, self._root, params if first else None)
            if page in read:
                raise GraphError(
                    "GET",
                    _shown_path(next_url, self._root),
                    status=200,
                    code="RepeatedPage",
                    message="the @odata.nextLink leads back to a page already read; not followed",
                )
            read.add(page)
            body = self.get(next_url, params if first else None, headers)
            first = False
            if not isinstance(body.get("value"), list):
                raise GraphError(
                    "GET",
                    _shown_path(next_url, self._root),
                    status=200,
                    code="BadResponse",
                    message="the answer holds no value list",
                )
            progress.page(len(body["value"]))
            yield body
            link = body.get("@odata.nextLink")
            next_url = link if isinstance(link, str) and link else None

    def fetch_all(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        return [item for page in self.pages(path, params, headers) for item in page]


def backoff(attempt: int) -> float:
    return retrying.backoff(attempt, base=BACKOFF_BASE_SECONDS, ceiling=BACKOFF_MAX_SECONDS)


def retry_after(value: str | None) -> float | None:
    return retrying.retry_after(value, cap=RETRY_AFTER_MAX_SECONDS)


def _error(method: str, path: str, response: httpx.Response) -> GraphError:
    code, message = f"HTTP{response.status_code}", ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        code = str(error.get("code") or code)
        message = _one_line(error.get("message") or "")
    return GraphError(
        method,
        path,
        status=response.status_code,
        code=code,
        message=message,
        request_id=response.headers.get("request-id"),
    )


def _json_object(response: httpx.Response, path: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise GraphError(
            response.request.method,
            path,
            status=response.status_code,
            code="BadResponse",
            message="the answer is not a JSON object",
        )
    return body


def _page_key(
    url: str, root: str, params: Mapping[str, str] | None
) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Which page ``url`` (with ``params``) asks for, however its query is spelt."""
    full = url if url.startswith(("https://", "http://")) else root + url
    parts = urlsplit(full)
    query = parse_qsl(parts.query, keep_blank_values=True) + list((params or {}).items())
    return parts.path, tuple(sorted(query))


def _shown_path(url: str, root: str) -> str:
    """The path as errors show it: no host, no query (a skiptoken says nothing to a reader)."""
    without_query = url.split("?", 1)[0]
    return without_query[len(root) :] if without_query.startswith(root) else without_query


def _one_line(value: object, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- tokens -------------------------------------------------------------------------------


class MsalHttp:
    """MSAL's small HTTP client interface over our httpx client, so that signing in and Graph
    share one TLS and proxy set-up. MSAL hands some form values over as bytes (a signed
    client assertion), which requests encodes as text and httpx would not."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def post(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        **_: Any,
    ) -> httpx.Response:
        if isinstance(data, Mapping):
            form = {k: v.decode() if isinstance(v, bytes) else v for k, v in data.items()}
            return self._http.post(url, params=params, data=form, headers=headers)
        content = data.encode() if isinstance(data, str) else data
        return self._http.post(url, params=params, content=content, headers=headers)

    def get(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        **_: Any,
    ) -> httpx.Response:
        return self._http.get(url, params=params, headers=headers)


class MsalTokenProvider:
    """Client-credentials tokens for Graph from MSAL, with MSAL's own cache (a token is reused
    until shortly before it expires). The credential is held by MSAL only, never shown."""

    def __init__(
        self,
        *,
        system: str,
        tenant_id: str,
        client_id: str,
        authority_host: str,
        graph_url: str,
        credential: Callable[[], str | dict[str, str]],
        secret_text: Callable[[], list[str]],
        http: httpx.Client,
        ca_setting: str = "ca_file",
    ) -> None:
        """``credential`` builds what MSAL takes (a secret, or a key and its certificate);
        ``secret_text`` the strings that must never appear in an error we raise."""
        self._system, self._tenant = system, tenant_id
        self._client_id = client_id
        self._authority = f"{authority_host.rstrip('/')}/{tenant_id}"
        self._scope = f"{graph_url.rstrip('/')}/.default"
        self._credential = credential
        self._secret_text = secret_text
        self._http = http
        self._ca_setting = ca_setting
        self._app: Any = None

    def __repr__(self) -> str:
        return f"MsalTokenProvider(tenant={self._tenant!r}, client_id={self._client_id!r})"

    def __call__(self) -> str:
        app = self._application()
        try:
            result = app.acquire_token_for_client(scopes=[self._scope])
        except Exception as exc:  # MSAL and httpx raise many kinds: all mean "no token"
            raise self._failure("the token endpoint could not be used", exc) from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if isinstance(token, str) and token:
            return token
        raise ConnectorError(self._scrub(f"{self._where()}: {_msal_refusal(result)}"))

    def _application(self) -> Any:
        if self._app is None:
            import msal  # lazy: only live Entra systems need it

            credential = self._credential()  # a missing secret is a configuration error
            try:
                self._app = msal.ConfidentialClientApplication(
                    self._client_id,
                    client_credential=credential,
                    authority=self._authority,
                    # The authority comes from the operator's own configuration; MSAL's
                    # instance discovery would only ask login.microsoftonline.com to vouch
                    # for it (and cannot for a sovereign or test authority host).
                    instance_discovery=False,
                    http_client=MsalHttp(self._http),
                )
            except Exception as exc:  # tenant discovery happens here, over the network
                raise self._failure("the authority could not be used", exc) from None
        return self._app

    def _where(self) -> str:
        return f"{self._system}: Entra tenant {self._tenant} (client {self._client_id})"

    def _failure(self, what: str, exc: Exception) -> ConnectorError:
        import httpx

        chain: list[BaseException] = []
        current: BaseException | None = exc
        while current is not None and len(chain) < 5:
            chain.append(current)
            current = current.__cause__ or current.__context__
        # MSAL replaces Entra's answer (an AADSTS code and sentence) by its own advice, but
        # keeps it as the context of the error it raises.
        aad = next((m for e in chain if (m := re.search(r"AADSTS\d+", str(e)))), None)
        transport = next((e for e in chain if isinstance(e, httpx.TransportError)), None)
        refused = certificate_problem(exc)
        if refused is not None:
            reason = untrusted(self._authority, refused, self._ca_setting)
        elif transport is not None:
            detail = f"{type(transport).__name__}: {_one_line(transport)}"
            reason = f"{self._authority} cannot be reached ({detail})"
        elif aad is not None:
            reason = f"{aad.group(0)}: {_aad_sentence(aad.string, aad.start())}"
        else:
            reason = f"{type(exc).__name__}: {_one_line(exc)}"
        return ConnectorError(self._scrub(f"{self._where()}: {what}: {reason}"))

    def _scrub(self, text: str) -> str:
        for secret in self._secret_text():
            if secret:
                text = text.replace(secret, "**********")
        return text


# Unencrypted keys only: the keyring or the environment is what protects it.
_PEM_KEY = re.compile(
    r"-----BEGIN (?:RSA |EC )?PRIVATE KEY-----.+?-----END (?:RSA |EC )?PRIVATE KEY-----",
    re.DOTALL,
)
_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def certificate_credential(pem: str, thumbprint: str | None, key: str) -> dict[str, str]:
    """What MSAL takes for a certificate credential, from the PEM held under option ``key``."""
    private_key = _PEM_KEY.search(pem)
    if private_key is None:
        raise ConfigError(f"{key}: holds no unencrypted PEM private key")
    credential = {"private_key": private_key.group(0)}
    certificate = _PEM_CERT.search(pem)
    if thumbprint is not None:
        credential["thumbprint"] = thumbprint
    elif certificate is not None:
        # MSAL then signs with the certificate's SHA-256 thumbprint (x5t#S256) and sends x5c.
        credential["public_certificate"] = certificate.group(0)
    else:
        raise ConfigError(
            f"{key}: holds only a private key: add its certificate to the PEM, or give "
            "certificate_thumbprint"
        )
    return credential


def _msal_refusal(result: object) -> str:
    if not isinstance(result, dict):
        return "no token and no reason given"
    error = str(result.get("error") or "error")
    description = str(result.get("error_description") or "")
    codes = result.get("error_codes")
    match = re.search(r"AADSTS\d+", description)
    if match:
        code = match.group(0)
        sentence = _aad_sentence(description, match.start())
    elif isinstance(codes, list) and codes:
        code, sentence = f"AADSTS{codes[0]}", _one_line(description)
    else:
        code, sentence = "", _one_line(description)
    head = f"token refused: {error}" + (f" ({code})" if code else "")
    return f"{head}: {sentence}" if sentence else head


def _aad_sentence(text: str, start: int) -> str:
    """The first sentence of an AADSTS description; the rest is trace and correlation ids."""
    rest = " ".join(text[start:].split())
    rest = re.sub(r"^AADSTS\d+:\s*", "", rest)
    end = re.search(r"(?<=[.!?])\s", rest)
    return _one_line(rest[: end.start()] if end else rest, 200)
