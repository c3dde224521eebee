"""Reading the HR report where the company keeps it: a Workday RaaS report, BambooHR's reports
API, or any HTTPS address that serves CSV or JSON, downloaded whole and read by the same code
as the same content in a file.

* **url** (Workday RaaS: ``https://HOST/ccx/service/customreport2/TENANT/OWNER/REPORT?format=json``
  or ``format=csv``; or any CSV or JSON address): ``auth`` is ``none``, ``basic`` (``username``
  and ``password``), ``bearer`` (``token``) or ``oauth`` (``token_url``, ``client_id``,
  ``client_secret``, optional ``scope``; with ``refresh_token`` the refresh-token grant that
  Workday's API clients for integrations use, else client credentials). The client
  authenticates to the token endpoint with HTTP basic, as RFC 6749 recommends.
* **BambooHR** (``bamboohr_subdomain`` and ``bamboohr_api_key``, sent as BambooHR documents it:
  HTTP basic with the key as the user and ``x`` as the password): a saved report
  (``bamboohr_report``: ``GET /v1/reports/{id}?format=JSON&fd=yes``) or, by default, a custom
  report of the fields the ``bamboohr`` preset reads
  (``POST /v1/reports/custom?format=JSON&onlyCurrent=false`` with ``{"fields": [...]}``;
  future-dated values are included so that nobody whose record changes tomorrow is left out).
  Both answer ``{"title", "fields": [...], "employees": [...]}``.

The format is the ``format`` option, else the answer's Content-Type, else the address's
extension. An HTML page (a sign-in page served with 200), XML (a RaaS URL without
``format=``) or an empty answer is refused with what to change; nothing is stored.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath
from typing import Literal, Protocol
from urllib.parse import quote, urlsplit

from iam_gov.configtypes import SecretRef
from iam_gov.connectors.hr.client import Call, Download, Header, ReportClient
from iam_gov.connectors.hr.export import ExportOptions, read_downloaded_people
from iam_gov.connectors.hr.to_model import People
from iam_gov.errors import ConnectorError, SourceError

FileFormat = Literal["csv", "json"]
AuthKind = Literal["none", "basic", "bearer", "oauth"]

BAMBOOHR_FIELDS: tuple[str, ...] = (
    "employeeNumber",
    "firstName",
    "lastName",
    "workEmail",
    "department",
    "jobTitle",
    "supervisorEId",
    "supervisorEmail",
    "employmentHistoryStatus",
    "status",
    "hireDate",
    "terminationDate",
)
"""The API names of the fields the ``bamboohr`` preset maps (BambooHR adds ``id``, the EID,
to every report's records)."""

_BY_MEDIA_TYPE: dict[str, FileFormat] = {
    "application/json": "json",
    "text/json": "json",
    "text/csv": "csv",
    "application/csv": "csv",
    "text/comma-separated-values": "csv",
    "text/tab-separated-values": "csv",
}
_BY_SUFFIX: dict[str, FileFormat] = {".csv": "csv", ".tsv": "csv", ".json": "json"}


class LiveOptions(ExportOptions, Protocol):
    """What reading the report live reads of the connector's options."""

    @property
    def format(self) -> FileFormat | None: ...
    @property
    def url(self) -> str | None: ...
    @property
    def auth(self) -> AuthKind: ...
    @property
    def username(self) -> str | None: ...
    @property
    def password(self) -> SecretRef | None: ...
    @property
    def token(self) -> SecretRef | None: ...
    @property
    def token_url(self) -> str | None: ...
    @property
    def client_id(self) -> str | None: ...
    @property
    def client_secret(self) -> SecretRef | None: ...
    @property
    def refresh_token(self) -> SecretRef | None: ...
    @property
    def scope(self) -> str | None: ...
    @property
    def bamboohr_subdomain(self) -> str | None: ...
    @property
    def bamboohr_api_key(self) -> SecretRef | None: ...
    @property
    def bamboohr_report(self) -> str | None: ...
    @property
    def bamboohr_fields(self) -> Sequence[str] | None: ...
    @property
    def bamboohr_api_url(self) -> str: ...


@dataclass(frozen=True)
class LiveReport:
    """The report as downloaded, and the address to name it by (``live:`` + the address)."""

    download: Download

    @property
    def source(self) -> str:
        return f"live:{self.download.url}"


def download_report(options: LiveOptions, client: ReportClient) -> LiveReport:
    """The whole report, from wherever the options say it is."""
    if options.bamboohr_subdomain is not None:
        call, header = _bamboohr(options, client)
        return LiveReport(client.fetch(call, header, reauthorize=lambda: False))
    assert options.url is not None  # the options check that one of the two is given
    header, reauthorize = _authorization(options, client)
    call = Call("GET", options.url, _what_to_check(options), accept=_accept(options.format))
    return LiveReport(client.fetch(call, header, reauthorize=reauthorize))


def people_of_report(report: LiveReport, options: LiveOptions, as_of: date) -> People:
    """The people in the report, read as the same content in a file is read."""
    download = report.download
    file_format = report_format(download, options.format)
    text = decode(download, options.encoding)
    return read_downloaded_people(text, download.url, file_format, options, as_of)


def report_format(download: Download, given: FileFormat | None) -> FileFormat:
    """CSV or JSON: ``given``, else the Content-Type, else the address's extension. What is
    plainly neither (HTML, XML, nothing) is refused whatever ``given`` says."""
    where, media = download.url, download.media_type
    head = download.body[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not download.body.strip():
        raise SourceError(f"{where}: the answer is empty: no report to read")
    if media in ("text/html", "application/xhtml+xml") or head.startswith((b"<!doctype", b"<html")):
        raise SourceError(
            f"{where}: the answer is an HTML page, not the report (Content-Type "
            f"{media or 'not given'}): a sign-in or error page? check url and auth"
        )
    if media in ("application/xml", "text/xml") or media.endswith("+xml") or head.startswith(b"<"):
        raise SourceError(
            f"{where}: the answer is XML, which the HR connector does not read: ask for JSON "
            "or CSV (for Workday RaaS add ?format=json or ?format=csv to url)"
        )
    if given is not None:
        return given
    found = _BY_MEDIA_TYPE.get(media)
    if found is None and media.endswith("+json"):
        found = "json"
    if found is None:
        found = _BY_SUFFIX.get(PurePosixPath(urlsplit(where).path).suffix.lower())
    if found is None:
        raise SourceError(
            f"{where}: cannot tell whether the answer is CSV or JSON (Content-Type "
            f'{media or "not given"}): set format = "csv" or "json"'
        )
    return found


def decode(download: Download, encoding: str) -> str:
    """The body as text, in the charset the server names, else ``encoding``."""
    charset = download.charset or encoding
    if charset.replace("_", "-").lower() in ("utf-8", "utf8"):
        charset = "utf-8-sig"  # a BOM is not part of the first column's name
    try:
        return download.body.decode(charset)
    except LookupError:
        raise SourceError(
            f"{download.url}: the answer names an unknown charset {charset!r}"
        ) from None
    except UnicodeDecodeError as exc:
        line = download.body.count(b"\n", 0, exc.start) + 1
        raise SourceError(
            f"{download.url}:{line}: not {charset} text (byte {exc.start}); set encoding to "
            "the one the report uses"
        ) from None


# --- authentication -------------------------------------------------------------------------


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _secret(client: ReportClient, ref: SecretRef | None, key: str) -> str:
    assert ref is not None  # the options check that the credential of the auth is given
    return client.remember_secret(ref.resolve(key).get_secret_value())


def _authorization(options: LiveOptions, client: ReportClient) -> tuple[Header, Callable[[], bool]]:
    """The Authorization header for ``url``, and whether a 401 is worth a fresh token."""
    auth = options.auth
    if auth == "basic":
        assert options.username is not None
        user = options.username
        return (lambda: _basic(user, _secret(client, options.password, "password"))), _never
    if auth == "bearer":
        return (lambda: "Bearer " + _secret(client, options.token, "token")), _never
    if auth == "oauth":
        tokens = _OAuthTokens(options, client)
        return tokens.header, tokens.forget
    return (lambda: None), _never


def _never() -> bool:
    return False


class _OAuthTokens:
    """One access token from the token endpoint, fetched when first needed and once more if
    the report refuses it."""

    def __init__(self, options: LiveOptions, client: ReportClient) -> None:
        self._options, self._client = options, client
        self._token: str | None = None
        self._fresh = False

    def header(self) -> str:
        if self._token is None:
            self._token = self._client.remember_secret(self._fetch())
            self._fresh = True
        return f"Bearer {self._token}"

    def forget(self) -> bool:
        """After a 401: worth one more try only if the token was not just fetched."""
        retry = self._token is not None and not self._fresh
        self._token, self._fresh = None, False
        return retry

    def _fetch(self) -> str:
        options, client = self._options, self._client
        assert options.token_url is not None and options.client_id is not None
        secret = _secret(client, options.client_secret, "client_secret")
        form: dict[str, str] = {}
        if options.refresh_token is not None:
            form["grant_type"] = "refresh_token"
            form["refresh_token"] = _secret(client, options.refresh_token, "refresh_token")
        else:
            form["grant_type"] = "client_credentials"
        if options.scope:
            form["scope"] = options.scope
        check = (
            f"client_id {options.client_id!r} and client_secret "
            f"({_describe(options.client_secret)})"
        )
        if options.refresh_token is not None:
            check += f" and refresh_token ({_describe(options.refresh_token)})"
        call = Call(
            "POST",
            options.token_url,
            check,
            accept="application/json",
            form=form,
            refused=frozenset({400, 401, 403}),
        )
        client_id = options.client_id
        answer = client.fetch(call, lambda: _basic(client_id, secret), reauthorize=_never)
        try:
            body = json.loads(answer.body)
        except ValueError:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ConnectorError(
                f"{client.settings.system}: {answer.url}: the token endpoint answered without "
                "an access_token; check token_url"
            )
        self._fresh = True
        return token


# --- what to ask for ---------------------------------------------------------------------------


def _bamboohr(options: LiveOptions, client: ReportClient) -> tuple[Call, Header]:
    subdomain = quote(options.bamboohr_subdomain or "", safe="")
    base = f"{options.bamboohr_api_url.rstrip('/')}/api/gateway.php/{subdomain}/v1/reports"
    check = f"bamboohr_api_key ({_describe(options.bamboohr_api_key)}) and bamboohr_subdomain"
    if options.bamboohr_report is not None:
        url = f"{base}/{quote(options.bamboohr_report, safe='')}?format=JSON&fd=yes"
        call = Call("GET", url, check, accept="application/json")
    else:
        fields = list(options.bamboohr_fields or BAMBOOHR_FIELDS)
        url = f"{base}/custom?format=JSON&onlyCurrent=false"
        call = Call("POST", url, check, accept="application/json", json={"fields": fields})

    def header() -> str:
        # BambooHR: the API key is the user name, and the password is any string.
        return _basic(_secret(client, options.bamboohr_api_key, "bamboohr_api_key"), "x")

    return call, header


def _accept(given: FileFormat | None) -> str:
    if given == "json":
        return "application/json"
    if given == "csv":
        return "text/csv"
    return "application/json, text/csv;q=0.9, */*;q=0.1"


def _what_to_check(options: LiveOptions) -> str:
    auth = options.auth
    if auth == "basic":
        return f"username {options.username!r} and password ({_describe(options.password)})"
    if auth == "bearer":
        return f"token ({_describe(options.token)})"
    if auth == "oauth":
        return f"that client_id {options.client_id!r} may read the report (token from token_url)"
    return 'auth: the server wants credentials, and auth = "none"'


def _describe(ref: SecretRef | None) -> str:
    return ref.describe() if ref is not None else "not set"
