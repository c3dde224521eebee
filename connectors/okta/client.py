"""Okta's Management API through the official SDK's client: rate limits, retries and paging.

The SDK (``okta`` 3.x) sends the requests: its configuration (the environment and okta.yaml
included), SSWS or OAuth 2.0 (private key JWT) authentication, aiohttp and the timeout. What
it does not do well for a full listing is left to this module, with the SDK's own retries
turned off (``maxRetries = 0``):

* it never paces requests, so a large org would run into 429s; here every endpoint's
  ``X-Rate-Limit-Remaining`` is tracked and requests wait for ``X-Rate-Limit-Reset`` before the
  limit is reached (keeping a tenth of it for the org's other integrations), measured on
  Okta's clock (``ServerClock``), so that no request is early and none waits needlessly;
* on a 429 it waits for ``reset - Date + 1`` seconds but only ``maxRetries`` times; here every
  request of that endpoint waits for the reset;
* it retries 503/504 at once, without backoff, and never 500/502 or a dropped connection;
  here they are retried with exponential backoff;
* it has no notion of a whole collect: here one ``iam_gov.retrying.Patience`` is shared by
  every request of a collect (or an apply), so that once its deadline has passed, or the
  server has stopped answering (three attempts in a row without an answer, or a gateway's
  502/503/504), no request is sent or retried any more: each raises ``GaveUp`` at once;
* its typed models reject any enum value they do not know (a factor type Okta adds next
  month would lose a whole page), so responses are read as plain JSON by the parsers in
  ``records``, the same ones the export mode uses.

Its response cache stays off: it would serve a user's status from before an action.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import email.utils
import json
import logging
import math
import random
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from iam_gov import progress
from iam_gov.errors import ConfigError
from iam_gov.retrying import GaveUp, Patience

SDK_LOGGER = "okta-sdk-python"
_RESERVE = 0.1
"""Part of each rate limit left to the org's other integrations."""
_MAX_RATE_LIMIT_WAITS = 10
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 30.0
_GATEWAY_DOWN = frozenset({502, 503, 504})
"""A gateway's answer that the server behind it is not answering: counts towards the circuit
breaker, as no answer at all does."""

T = TypeVar("T")


@dataclass(frozen=True)
class Auth:
    """How to authenticate; the secrets are plain strings here and go nowhere but the SDK."""

    org_url: str
    api_token: str | None = None
    client_id: str | None = None
    private_key: str | None = field(default=None, repr=False)
    key_id: str | None = None
    scopes: tuple[str, ...] = ()
    allow_http: bool = False
    """Turn off the SDK's https check (``allow_http``: the options allow it for a loopback
    address only)."""

    def __repr__(self) -> str:
        mode = "api_token" if self.api_token else f"client_id={self.client_id}"
        return f"Auth({self.org_url}, {mode})"


class ApiError(Exception):
    """A call that failed for good (after retries). ``status`` is None without a response."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def refused(self) -> bool:
        return self.status in (401, 403)


def build_executor(auth: Auth, *, request_timeout: float) -> Any:
    """The SDK's request executor, configured as ``okta.client.Client`` configures it.

    ``Client`` itself is not built: importing it loads every API and model class of the SDK
    (three seconds), and none of them is used. Raises ``ValueError`` (the SDK's) when the SDK
    refuses the configuration."""
    from okta.cache.no_op_cache import NoOpCache
    from okta.config.config_setter import ConfigSetter
    from okta.config.config_validator import ConfigValidator
    from okta.request_executor import RequestExecutor

    config: dict[str, Any] = {
        "orgUrl": auth.org_url,
        "requestTimeout": request_timeout,
        "rateLimit": {"maxRetries": 0},
        "cache": {"enabled": False},
        "logging": {"enabled": False},
        "userAgent": "iam-gov",
    }
    if auth.api_token is not None:
        config.update(authorizationMode="SSWS", token=auth.api_token)
    else:
        config.update(
            authorizationMode="PrivateKey",
            clientId=auth.client_id,
            scopes=list(auth.scopes),
            privateKey=auth.private_key,
        )
        if auth.key_id:
            config["kid"] = auth.key_id
    # As Client does: defaults, then the environment and okta.yaml, then ours over them; the
    # https check too (its environment variable OKTA_TESTING_TESTINGDISABLEHTTPSCHECK is
    # overridden: whether http is allowed is the ``allow_http`` option's call alone).
    plain_http = auth.allow_http and auth.org_url.startswith("http://")
    setter = ConfigSetter()  # type: ignore[no-untyped-call]
    setter._apply_config({"client": config, "testing": {"testingDisableHttpsCheck": plain_http}})
    settings = setter._prune_config(setter.get_config())  # type: ignore[no-untyped-call]
    ConfigValidator(settings)  # type: ignore[no-untyped-call]
    # The SDK logs each request with its headers at DEBUG, the credential included; Client
    # keeps its logger disabled, and so do we.
    logging.getLogger(SDK_LOGGER).disabled = True
    return RequestExecutor(settings, NoOpCache())  # type: ignore[no-untyped-call]


def open_api(
    auth: Auth,
    *,
    request_timeout: float,
    max_retries: int,
    concurrency: int,
    patience: Patience | None = None,
) -> OktaApi:
    """The API client for ``auth``; ``ConfigError`` saying what the SDK refused."""
    try:
        executor = build_executor(auth, request_timeout=request_timeout)
    except ValueError as exc:
        # The SDK lists what it refused, one problem a line, HTML-escaped.
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = next((line for line in lines if line != "Errors:"), "refused")
        reason = reason.replace("&#39;", "'").replace("&quot;", '"')
        raise ConfigError(f"the Okta SDK refused the settings: {reason}") from None
    return OktaApi(
        executor,
        auth.org_url,
        max_retries=max_retries,
        concurrency=concurrency,
        patience=patience,
    )


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to the end from synchronous code, even when this thread already runs
    an event loop (the TUI): then in a thread of its own."""

    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(progress.carried(asyncio.run), main()).result()


@dataclass(frozen=True)
class Response:
    status: int
    body: Any
    next_url: str | None


@dataclass
class _Bucket:
    """What the last responses said about one endpoint's rate limit."""

    known: bool = False
    remaining: float = 1
    limit: float | None = None
    reset_at: float = 0.0
    """time.monotonic() at which the window resets."""
    in_flight: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class ServerClock:
    """Okta's clock, as its ``Date`` headers tell it: whole seconds, so one response says
    little, but ``our time - Date`` is never less than how far our clock is ahead of Okta's,
    and its smallest value over many responses is that lead, nearly to the millisecond.
    Waiting until ``reset + lead`` on our clock is waiting until the reset on Okta's."""

    def __init__(self) -> None:
        self.lead: float | None = None

    def observe(self, headers: Mapping[str, str], now: float) -> None:
        date = headers.get("Date")
        if not date:
            return
        try:
            sample = now - email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return
        self.lead = sample if self.lead is None else min(self.lead, sample)

    def forget(self) -> None:
        """After a 429: if our clock jumped, the lead learnt so far would be wrong."""
        self.lead = None

    def seconds_until(self, epoch: float, now: float) -> float:
        if self.lead is None:
            return max(epoch - now, 0.0) + 1.0  # no Date seen: our clock, a second to spare
        return max(epoch + self.lead - now, 0.0)


class RateLimits:
    """Paces requests per endpoint so that a window's budget is never overrun."""

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self.clock = ServerClock()

    def _bucket(self, name: str) -> _Bucket:
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = _Bucket()
        return bucket

    async def acquire(self, name: str) -> None:
        bucket = self._bucket(name)
        while True:
            now = time.monotonic()
            if bucket.known and now >= bucket.reset_at:
                bucket.known = False  # a new window: learn it from the next response
            if not bucket.known:
                # Nothing known yet: one request at a time until the headers say more.
                if bucket.in_flight == 0:
                    bucket.in_flight += 1
                    return
                wait: float | None = None
            elif bucket.remaining > _reserve(bucket.limit):
                bucket.remaining -= 1
                bucket.in_flight += 1
                return
            else:
                wait = bucket.reset_at - now
                progress.waiting(progress.after(wait), f"Okta's rate limit for {name}")
            bucket.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(bucket.changed.wait(), wait)

    def _limit(self, headers: Mapping[str, str]) -> tuple[float, float, float] | None:
        """(remaining, limit, time.monotonic() of the reset) of the tightest limit stated."""
        remaining = _header_numbers(headers, "X-Rate-Limit-Remaining")
        limits = _header_numbers(headers, "X-Rate-Limit-Limit")
        resets = _header_numbers(headers, "X-Rate-Limit-Reset")
        if not remaining or not resets:
            return None
        tightest = min(range(len(remaining)), key=lambda i: remaining[i])
        reset = resets[min(tightest, len(resets) - 1)]
        limit = limits[min(tightest, len(limits) - 1)] if limits else math.inf
        reset_in = self.clock.seconds_until(reset, time.time())
        return remaining[tightest], limit, time.monotonic() + reset_in

    def release(self, name: str, headers: Mapping[str, str] | None) -> None:
        """Learn from a response's headers (None: no response came)."""
        bucket = self._bucket(name)
        bucket.in_flight -= 1
        if headers is not None:
            self.clock.observe(headers, time.time())
        limit = self._limit(headers) if headers is not None else None
        if limit is not None:
            remaining, total, reset_at = limit
            others = bucket.in_flight  # started before this response, maybe not yet counted
            new_window = not bucket.known or reset_at > bucket.reset_at + 0.5
            if new_window:
                bucket.remaining = remaining - others
                bucket.reset_at = reset_at
            else:
                bucket.remaining = min(bucket.remaining, remaining - others)
                bucket.reset_at = max(reset_at, bucket.reset_at)
            bucket.known, bucket.limit = True, total
        elif headers is not None and not bucket.known:
            # An endpoint without rate-limit headers: do not serialise it; a 429 would tell.
            bucket.known, bucket.limit, bucket.remaining = True, None, math.inf
            bucket.reset_at = time.monotonic() + 60
        bucket.changed.set()

    def exhausted(self, name: str, headers: Mapping[str, str], fallback: float) -> None:
        """After a 429: nothing more until the reset (``fallback`` seconds if not given)."""
        self.clock.forget()
        self.clock.observe(headers, time.time())
        bucket = self._bucket(name)
        limit = self._limit(headers)
        bucket.known, bucket.remaining = True, 0
        if limit is not None:
            bucket.limit, bucket.reset_at = limit[1], limit[2]
        else:
            bucket.reset_at = time.monotonic() + fallback
        bucket.changed.set()


def _reserve(limit: float | None) -> float:
    return 0 if limit is None or math.isinf(limit) else math.floor(limit * _RESERVE)


def _header_numbers(headers: Mapping[str, str], name: str) -> list[float]:
    getall = getattr(headers, "getall", None)
    values: Sequence[str] = (
        getall(name, []) if getall is not None else ([headers[name]] if name in headers else [])
    )
    numbers = []
    for value in values:
        try:
            numbers.append(float(value))
        except ValueError:
            continue
    return numbers


def _describe(error: object) -> str:
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    text = " ".join(str(error).split())[:200]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def error_summary(status: int, text: str | None) -> str:
    """``HTTP 403 E0000006: You do not have permission …`` from an Okta error body."""
    summary = ""
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        code = body.get("errorCode") or body.get("error")
        message = body.get("errorSummary") or body.get("error_description")
        summary = " ".join(str(part) for part in (code, message) if part)
    summary = " ".join(summary.split())[:300]
    return f"HTTP {status} {summary}" if summary else f"HTTP {status}"


class OktaApi:
    """Requests through the SDK's request executor, paced, retried and paged."""

    def __init__(
        self,
        executor: Any,
        org_url: str,
        *,
        max_retries: int,
        concurrency: int,
        patience: Patience | None = None,
    ) -> None:
        self._executor = executor
        self.patience = patience or Patience(deadline_seconds=math.inf)
        self.org_url = org_url.rstrip("/")
        self._origin = urllib.parse.urlsplit(self.org_url)[:2]
        self._max_retries = max_retries
        self._semaphore = asyncio.Semaphore(concurrency)
        self.limits = RateLimits()
        self.requests = 0
        """HTTP requests sent, retries included."""

    def url(self, path: str, params: Mapping[str, str | int] | None = None) -> str:
        query = urllib.parse.urlencode(params or {}, quote_via=urllib.parse.quote)
        return f"{self.org_url}{path}" + (f"?{query}" if query else "")

    async def __aenter__(self) -> OktaApi:
        import aiohttp

        # One session (a connection pool) for the whole run, as ``async with Client()`` does.
        self._session = aiohttp.ClientSession()
        self._executor.set_session(self._session)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._session.close()

    async def request(
        self,
        method: str,
        url: str,
        *,
        bucket: str,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """One call; 429s wait for the reset, 5xx and lost connections are retried with
        backoff. Raises ``ApiError`` for any other error status, or when retries run out;
        ``GaveUp`` once the collect's patience is spent (then at once, without a request)."""
        attempt = rate_waits = 0
        while True:
            await self._acquire(bucket)
            response = None
            try:
                async with self._semaphore:
                    try:
                        request, error = await self._executor.create_request(
                            method, url, dict(body) if body else None, dict(headers or {})
                        )
                    except ValueError:
                        # The SDK signs the OAuth client assertion here; its message could
                        # quote the key, so only the kind of failure is told.
                        raise ApiError(
                            "the private key cannot sign the OAuth client assertion", 401
                        ) from None
                    if error is not None:
                        # Only the OAuth token request can fail here.
                        raise ApiError(f"no OAuth access token: {_describe(error)}", 401)
                    self.requests += 1
                    # fire_request_helper, not fire_request: the latter parses every body
                    # once more only to decide whether to cache it (the cache is off).
                    _, response, text, error = await self._executor.fire_request_helper(
                        request, 0, time.time()
                    )
            finally:
                self.limits.release(bucket, response.headers if response else None)
            if response is None:
                self.patience.failed(f"no response ({_describe(error)})")
                if attempt < self._max_retries:
                    attempt += 1
                    await self._sleep(self._delay(attempt))
                    continue
                raise ApiError(f"no response from Okta ({_describe(error)})")
            status = response.status
            if status in _GATEWAY_DOWN:
                self.patience.failed(error_summary(status, text))
            else:
                self.patience.succeeded()
            if status == 429:
                rate_waits += 1
                self.patience.noted(f"{error_summary(status, text)} ({rate_waits} in a row)")
                self.limits.exhausted(bucket, response.headers, self._delay(rate_waits))
                if rate_waits > _MAX_RATE_LIMIT_WAITS:
                    raise ApiError(
                        f"{error_summary(status, text)} (still rate limited after "
                        f"{_MAX_RATE_LIMIT_WAITS} waits for the reset)",
                        status,
                    )
                continue  # acquire() waits until the window resets
            if status >= 500:
                if attempt < self._max_retries:
                    attempt += 1
                    await self._sleep(self._delay(attempt))
                    continue
                raise ApiError(
                    f"{error_summary(status, text)} (after {attempt + 1} attempts)", status
                )
            if status >= 400:
                raise ApiError(error_summary(status, text), status)
            body = self._json(text, status)
            progress.page(len(body) if isinstance(body, list) else 0)
            return Response(status, body, self._next_link(response, body))

    async def _acquire(self, bucket: str) -> None:
        """The rate limit's turn, within the collect's patience."""
        self.patience.before_call()
        left = self.patience.remaining()
        if math.isinf(left):
            await self.limits.acquire(bucket)
            return
        try:
            await asyncio.wait_for(self.limits.acquire(bucket), max(left, 0.0))
        except TimeoutError:
            self.patience.before_call()  # the deadline passed while waiting: GaveUp
            last = self.patience.last_problem
            raise GaveUp(
                "the collect's deadline passed while waiting for a rate limit"
                + (f" (the last problem met: {last})" if last else "")
            ) from None

    async def _sleep(self, seconds: float) -> None:
        """A backoff wait, cut short at the deadline (the next ``before_call`` then gives up)."""
        allowed = self.patience.wait_allowed(seconds)
        if allowed:
            await asyncio.sleep(allowed)

    def _delay(self, attempt: int) -> float:
        delay: float = min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** (attempt - 1))
        return delay * (1 + random.random() / 4)

    @staticmethod
    def _json(text: str | None, status: int) -> Any:
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise ApiError(f"HTTP {status}: the response is not JSON", status) from None

    def _next_link(self, response: Any, body: Any) -> str | None:
        """The next page: the ``Link: <…>; rel="next"`` header, or ``_links.next.href`` in
        the body (as ``/api/v1/iam/assignees/users`` gives it)."""
        href: Any = None
        link = response.links.get("next")
        if link is not None:
            href = str(link.get("url"))
        elif isinstance(body, Mapping):
            links = body.get("_links")
            following = links.get("next") if isinstance(links, Mapping) else None
            href = following.get("href") if isinstance(following, Mapping) else None
        if not isinstance(href, str) or not href:
            return None
        # The credential goes with every request: never follow a link to another host.
        if urllib.parse.urlsplit(href)[:2] != self._origin:
            raise ApiError(f"the next-page link points outside {self.org_url}")
        return href

    async def pages(
        self,
        path: str,
        *,
        bucket: str,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[Any]:
        """Every page of a list, following the next links."""
        url = self.url(path, params)
        async for page in self.pages_from(url, bucket=bucket, headers=headers):
            yield page

    async def pages_from(
        self, url: str | None, *, bucket: str, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[Any]:
        seen: set[str] = set()
        while url is not None:
            if url in seen:
                raise ApiError("the next-page link repeats an earlier page")
            seen.add(url)
            response = await self.request("GET", url, bucket=bucket, headers=headers)
            yield response.body
            url = response.next_url
