"""HR feed connector: reads an HR system's CSV or JSON export, from a file or downloaded live
from the HR system, into the people who work here.

The HR export is the source of truth for who works here, so this connector is strict about
the file as a whole and forgiving about single rows:

* a file that cannot be trusted as a whole (missing, empty, header only, cut off, not valid
  JSON, in another encoding, a required column missing, most rows bad, fewer people than
  ``min_people``) raises :class:`~iam_gov.errors.SourceError` with one line naming the file
  and, where known, the line;
* a bad row (no employee id, a duplicate id, a bad date, e-mail, status or employment type,
  the wrong number of fields) is left out and reported with its physical line number, and
  the snapshot is marked incomplete so that nobody's accounts look orphaned because their
  row could not be read.

Which columns mean what is set by a preset (see :mod:`iam_gov.connectors.hr.presets` for the
``generic``, ``bamboohr`` and ``workday`` mappings) and can be overridden per field with
``columns``. Every column that is not mapped is kept in ``Person.attributes`` so that roles can
match on any HR field. Example (``iam-gov.toml``)::

    [systems.hr]
    type = "hr"
    path = "exports/bamboohr-employees.csv"
    preset = "bamboohr"
    columns = { department = "Division" }
    status_values = { "garden leave" = "leave" }

``mode = "live"`` downloads the same report where the company keeps it, so that the nightly run
and the deprovisioning trigger see today's HR (see :mod:`iam_gov.connectors.hr.live`): a
Workday RaaS or any HTTPS CSV/JSON ``url`` (``auth`` none, basic, bearer or oauth), or
BambooHR's reports API (``bamboohr_subdomain`` and ``bamboohr_api_key``). The download is read
by the same code as the file, with the same presets, columns and checks; the snapshot's
source is ``live:`` and the address without credentials or query, and its time the download's::

    [systems.hr]
    type = "hr"
    mode = "live"
    url = "https://wd2-impl-services1.workday.com/ccx/service/customreport2/acme/ISU_IAM/IAM_Workers?format=json"
    preset = "workday"
    auth = "oauth"
    token_url = "https://wd2-impl-services1.workday.com/ccx/oauth2/acme/token"
    client_id = "NjA5ZTc2..."
    client_secret = { env = "WORKDAY_CLIENT_SECRET" }
    refresh_token = { env = "WORKDAY_REFRESH_TOKEN" }
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import Field, field_validator, model_validator

from iam_gov.configtypes import RelPath, SecretRef, looks_like_secret_key
from iam_gov.connectors.hr.access import check_files, check_report
from iam_gov.connectors.hr.client import ReportClient, Settings
from iam_gov.connectors.hr.export import read_people
from iam_gov.connectors.hr.history import HistoryField
from iam_gov.connectors.hr.live import AuthKind, download_report, people_of_report
from iam_gov.connectors.hr.presets import MappableField, PresetName
from iam_gov.connectors.shared.export_time import export_time
from iam_gov.connectors.shared.options import LiveOrExportOptions
from iam_gov.connectors.shared.protocol import AccessCheck, Connector, Permissions
from iam_gov.connectors.shared.registry import connector
from iam_gov.model import SystemSnapshot, UTCDateTime
from iam_gov.timeutil import utcnow

FileFormat = Literal["csv", "json"]

_FORMAT_BY_SUFFIX: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".json": "json",
}


class HROptions(LiveOrExportOptions):
    """Where the HR export is (a file, or downloaded live) and how to read it."""

    type: Literal["hr"]
    mode: Literal["live", "export"] = "export"
    """``export`` (the default) reads the file at ``path``; ``live`` downloads the report."""
    path: RelPath | None = None
    """The export file (mode = "export")."""
    format: FileFormat | None = None
    """Default: from the file extension (.csv, .tsv, .txt or .json); live: from the answer's
    Content-Type, else the address's extension."""
    preset: PresetName = "generic"
    columns: dict[MappableField, str] = Field(default_factory=dict)
    """Person field -> column (CSV) or key (JSON); overrides the preset. ``""`` unmaps a field."""
    status_values: dict[str, Literal["active", "leave", "terminated"]] = Field(default_factory=dict)
    """Export value -> status, merged over the preset's; case and spacing do not matter."""
    employment_type_values: dict[str, Literal["employee", "contractor", "intern", "other"]] = Field(
        default_factory=dict
    )
    date_format: str | None = None
    """strptime format, tried after ISO 8601 instead of the preset's formats."""
    delimiter: str | None = None
    """CSV delimiter; default: whichever of , ; tab | splits the file consistently."""
    encoding: str = "utf-8-sig"
    job_history: RelPath | None = None
    """A job-history export (CSV, several rows per person: employee id, effective date and
    department, title or manager), such as BambooHR's Job Information table: each person's
    latest job change is read from it (see :mod:`iam_gov.connectors.hr.history`)."""
    job_history_columns: dict[HistoryField, str] = Field(default_factory=dict)
    """Job-history field -> column; overrides the preset's names. ``""`` unmaps a field."""
    json_records: str | None = None
    """Key of the top-level JSON object holding the records; default: the preset's."""
    exported_at: UTCDateTime | None = None
    """When the export was taken; default: the file's modification time."""
    min_people: int = Field(default=1, ge=0)
    """Fewer valid people than this is an error: it guards against a half-empty export."""
    max_drop: float = Field(default=0.2, ge=0, le=1)
    """An export with this share fewer people than the last one stored is refused unless
    confirmed (``--accept-hr-drop``): a file cut at a line boundary reads cleanly, and would
    make every leaver's finding look resolved and everyone else's accounts orphans."""

    # live: any HTTPS address (Workday RaaS) ...
    url: str | None = None
    """The report's HTTPS address; no credentials in it (they go in the options below)."""
    auth: AuthKind = "none"
    username: str | None = None
    """auth = "basic": the user (Workday: the integration system user, ``ISU_IAM@acme``)."""
    password: SecretRef | None = None
    """auth = "basic"."""
    token: SecretRef | None = None
    """auth = "bearer": a static bearer token."""
    token_url: str | None = None
    """auth = "oauth": the token endpoint (Workday: ``https://HOST/ccx/oauth2/TENANT/token``)."""
    client_id: str | None = None
    client_secret: SecretRef | None = None
    refresh_token: SecretRef | None = None
    """auth = "oauth": use the refresh-token grant (Workday's API clients for integrations);
    without it, client credentials."""
    scope: str | None = None
    # ... or BambooHR's reports API
    bamboohr_subdomain: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9\-]*$")
    """The company's BambooHR subdomain (``acme`` of acme.bamboohr.com)."""
    bamboohr_api_key: SecretRef | None = None
    bamboohr_report: str | None = Field(default=None, pattern=r"^[0-9]+$")
    """A saved report's id; default: a custom report of the fields the preset reads."""
    bamboohr_fields: tuple[str, ...] | None = None
    """The custom report's fields (API names); default: those the bamboohr preset maps."""
    bamboohr_api_url: str = "https://api.bamboohr.com"
    # live: how to download
    ca_file: RelPath | None = None
    """PEM certificates of a private CA that issued the server's certificate."""
    timeout: float = Field(default=60.0, gt=0, le=3600)
    """Seconds to wait for the server to connect or send more of the answer."""
    max_retries: int = Field(default=4, ge=0, le=20)
    """Retries of a request that was throttled (429), met a busy server (502, 503, 504) or
    lost its connection."""
    max_bytes: int = Field(default=200_000_000, gt=0)
    """A larger answer is refused (a report of 100,000 people is some 30 MB)."""
    deadline: float = Field(default=900.0, gt=0)
    """Seconds the whole download may take, retries and waits included."""

    live_only: ClassVar[tuple[str, ...]] = (
        "url",
        "auth",
        "username",
        "password",
        "token",
        "token_url",
        "client_id",
        "client_secret",
        "refresh_token",
        "scope",
        "bamboohr_subdomain",
        "bamboohr_api_key",
        "bamboohr_report",
        "bamboohr_fields",
        "bamboohr_api_url",
        "ca_file",
        "timeout",
        "max_retries",
        "max_bytes",
        "deadline",
    )
    export_only: ClassVar[tuple[str, ...]] = ("path", "exported_at", "job_history")

    @model_validator(mode="before")
    @classmethod
    def _bamboohr_preset(cls, data: Any) -> Any:
        # BambooHR's API answers with its own field names: its preset, unless told otherwise.
        if isinstance(data, dict) and data.get("bamboohr_subdomain") and "preset" not in data:
            return {**data, "preset": "bamboohr"}
        return data

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and (len(value) != 1 or value in '"\r\n'):
            raise ValueError('a delimiter is one character, e.g. ";" or "\\t"')
        return value

    @field_validator("date_format")
    @classmethod
    def _strptime_format(cls, value: str | None) -> str | None:
        if value is not None and "%" not in value:
            raise ValueError('a strptime format, e.g. "%d/%m/%Y"')
        return value

    @model_validator(mode="after")
    def _fits_mode(self) -> HROptions:
        if self.mode == "export":
            if self.path is None:
                raise ValueError('needs path (the export file), or mode = "live" and url')
            if self.format is None and self.path.suffix.lower() not in _FORMAT_BY_SUFFIX:
                raise ValueError(
                    f"cannot tell the format of {self.path.name!r} from its extension: "
                    'set format = "csv" or "json" (save spreadsheets as CSV)'
                )
        else:
            self._check_live()
        self.check_mode()
        return self

    def _check_live(self) -> None:
        if (self.url is None) == (self.bamboohr_subdomain is None):
            raise ValueError('mode = "live" needs exactly one of url and bamboohr_subdomain')
        for key in ("url", "token_url", "bamboohr_api_url"):
            value = getattr(self, key)
            if value is not None and key in self.model_fields_set:
                _check_https(key, value)
        wanted: dict[str, tuple[str, ...]] = {
            "none": (),
            "basic": ("username", "password"),
            "bearer": ("token",),
            "oauth": ("token_url", "client_id", "client_secret"),
        }
        credentials = ("username", "password", "token", "token_url", "client_id",
                       "client_secret", "refresh_token", "scope")  # fmt: skip
        if self.bamboohr_subdomain is not None:
            if self.bamboohr_api_key is None:
                raise ValueError('bamboohr_subdomain needs bamboohr_api_key = { env = "VAR" }')
            extra = [k for k in ("auth", *credentials) if k in self.model_fields_set]
            if extra:
                raise ValueError(
                    f"{', '.join(extra)}: BambooHR is signed in to with bamboohr_api_key only"
                )
            return
        bamboo = [
            k for k in self.live_only if k.startswith("bamboohr") and k in self.model_fields_set
        ]
        if bamboo:
            raise ValueError(f"{', '.join(bamboo)} only apply with bamboohr_subdomain")
        missing = [k for k in wanted[self.auth] if getattr(self, k) is None]
        if missing:
            raise ValueError(f'auth = "{self.auth}" needs {" and ".join(missing)}')
        allowed = set(wanted[self.auth]) | (
            {"refresh_token", "scope"} if self.auth == "oauth" else set()
        )
        stray = [k for k in credentials if k not in allowed and getattr(self, k) is not None]
        if stray:
            raise ValueError(f'{", ".join(stray)} do not apply to auth = "{self.auth}"')

    @property
    def file_format(self) -> FileFormat:
        assert self.path is not None
        return self.format or _FORMAT_BY_SUFFIX[self.path.suffix.lower()]


def _check_https(key: str, value: str) -> None:
    """An address the report or a token is fetched from: HTTPS, no credentials in it."""
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"{key} must be an https:// address (credentials and HR data cross it)")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f'{key}: no user or password in the address; use auth = "basic" with username and '
            'password = { env = "VAR" }'
        )
    secret_like = [name for name, _ in parse_qsl(parts.query) if looks_like_secret_key(name)]
    if secret_like:
        raise ValueError(
            f"{key}: query parameter {secret_like[0]!r} looks like a secret, which must not be "
            'written in the config file: use auth = "bearer" with token = { env = "VAR" }'
        )


FILE_ACCESS = "read access to the HR export file"
WORKDAY_ACCESS = (
    "live, Workday: an integration system user (or API client) allowed to get the "
    "custom report published as a web service (RaaS), and nothing else"
)
BAMBOOHR_ACCESS = (
    "live, BambooHR: an API key of a user whose access level can read the report's "
    "fields, read-only"
)
HTTPS_ACCESS = "live, another HTTPS address: read access to the report"
_WORKDAY_RAAS = "/ccx/service/customreport2/"


@connector
class HRConnector(Connector[HROptions]):
    """Reads the HR export; people only, and no actions: HR is read, never written."""

    options_model = HROptions
    permissions = Permissions(collect=(FILE_ACCESS, WORKDAY_ACCESS, BAMBOOHR_ACCESS, HTTPS_ACCESS))

    def __init__(
        self,
        system: str,
        options: HROptions,
        *,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``sleep``: how to wait before a retry (a test records the waits instead)."""
        super().__init__(system, options, clock=clock)
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"HRConnector(system={self.system!r}, mode={self.options.mode!r})"

    def collect(self) -> SystemSnapshot:
        options = self.options
        # A path wins: ``leavers_of_file`` points the configured HR system, live or not, at
        # the file it was given.
        if options.mode == "live" and options.path is None:
            return self._collect_live()
        assert options.path is not None  # the options of an export have one
        # Only the time: the problems of an HR snapshot are those of its rows, so a time taken
        # from the file is not noted as a guess.
        collected_at = export_time(options.exported_at, [options.path]).at
        found = read_people(options, as_of=collected_at.date())
        return SystemSnapshot(
            system=self.system,
            connector=self.type_name,
            source=f"export:{options.path.name}",
            collected_at=collected_at,
            complete=found.complete,
            errors=found.errors,
            people=found.people,
            settings={"mapped_fields": list(found.mapped_fields)},
        )

    def check_access(self) -> list[AccessCheck]:
        """Live: the report asked for as a collect asks, with its sign-in (``ConnectorError``
        when the server cannot be reached, the token endpoint refuses the client, or the
        report refuses the credentials with a 401), and its first 64 KiB read: the one
        permission of the source the options name, False when the signed-in credential may
        not read the report (403). A file: that it (and ``job_history``) can be opened and
        read, which ``config check`` without ``--connect`` does not ask on its own account
        (it reads the whole file) — the file is this connector's system."""
        options = self.options
        if options.path is not None:
            paths = [options.path, *([options.job_history] if options.job_history else [])]
            return [check_files(FILE_ACCESS, paths)]
        if options.bamboohr_subdomain is not None:
            permission = BAMBOOHR_ACCESS
        elif _WORKDAY_RAAS in (options.url or ""):
            permission = WORKDAY_ACCESS
        else:
            permission = HTTPS_ACCESS
        return [
            check_report(
                options,
                self._settings(),
                permission,
                oauth=options.auth == "oauth" and options.bamboohr_subdomain is None,
                sleep=self._sleep,
            )
        ]

    def _settings(self) -> Settings:
        options = self.options
        return Settings(
            system=self.system,
            ca_file=options.ca_file,
            timeout=options.timeout,
            max_retries=options.max_retries,
            max_bytes=options.max_bytes,
            deadline=options.deadline,
        )

    def _collect_live(self) -> SystemSnapshot:
        options = self.options
        client = ReportClient(self._settings(), sleep=self._sleep)
        try:
            report = download_report(options, client)
        finally:
            client.close()
        # The report is what HR says at the moment it was downloaded.
        collected_at = self.clock()
        found = people_of_report(report, options, as_of=collected_at.date())
        return SystemSnapshot(
            system=self.system,
            connector=self.type_name,
            source=report.source,
            collected_at=collected_at,
            complete=found.complete,
            errors=found.errors,
            people=found.people,
            settings={"mapped_fields": list(found.mapped_fields)},
        )
