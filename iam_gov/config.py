"""The settings file (``iam-gov.toml``) and environment; secrets are never stored in the file."""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from iam_gov.configtypes import BASE_DIR_KEY, RelPath, SecretRef, looks_like_secret_key
from iam_gov.connectors import ConnectorOptions, connector_types, options_model
from iam_gov.connectors.shared.registry import is_connector_type
from iam_gov.errors import ConfigError
from iam_gov.yamlfile import MB, TooLarge, key_text, read_limited, size_limit

CONFIG_ENV = "IAM_GOV_CONFIG"
MAX_CONFIG_BYTES = 5 * MB
"""Default size limit of the settings file: it is checked before the file is read."""
MAX_CONFIG_ENV = "IAM_GOV_MAX_CONFIG_MB"
"""Environment variable that sets another size limit for the settings file, in MB."""
DATABASE_URL_ENV = "IAM_GOV_DATABASE_URL"
DEFAULT_CONFIG_NAME = "iam-gov.toml"
SYSTEM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreSettings(_Section):
    url: str | None = None
    """SQLAlchemy URL. Default: ``iam-gov.db`` (SQLite) next to the configuration file."""
    password: SecretRef | None = None
    """Database password, for a URL that does not carry one (it must not)."""


class PolicySettings(_Section):
    path: RelPath
    """A YAML policy file, or a folder of them."""


class MatchMethod(StrEnum):
    EMPLOYEE_ID = "employee_id"
    EMAIL = "email"
    LOGIN = "login"
    NAME = "name"


class CorrelationSettings(_Section):
    match: tuple[MatchMethod, ...] = (
        MatchMethod.EMPLOYEE_ID,
        MatchMethod.EMAIL,
        MatchMethod.LOGIN,
        MatchMethod.NAME,
    )
    """Methods tried in order; the first that finds exactly one person wins."""
    overrides: RelPath | None = None
    """YAML file of manual account -> person links (and accounts declared unlinked)."""
    email_domains: tuple[str, ...] = ()
    """Domains treated as equivalent when comparing e-mail addresses (e.g. an old domain)."""


class SmtpSettings(_Section):
    """The mail server that review reminders go through."""

    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    """``starttls`` (port 587), ``tls`` (implicit TLS, port 465), or ``none`` (a local relay)."""
    sender: str = Field(min_length=3)
    """The From: address."""
    username: str | None = None
    password: SecretRef | None = None
    timeout_seconds: float = Field(30, gt=0)


class ReviewSettings(_Section):
    """Access reviews: who the person at the keyboard is, who may act for others, reminders."""

    reviewers: dict[str, str] = Field(default_factory=dict)
    """OS account name -> the reviewer's e-mail address in HR."""
    admins: tuple[str, ...] = ()
    """E-mail addresses allowed to act for another reviewer (recorded as acting for them)."""
    fallback_reviewer: str | None = None
    """Reviews items nobody else can: no manager, no owner, or the reviewer's own access."""
    reminders_folder: RelPath | None = None
    """Write reminder e-mails here (one .eml per reviewer) instead of sending them."""
    smtp: SmtpSettings | None = None
    review_command: str = "iam-gov review"
    """How a reviewer opens the review, as reminders tell them."""


class DeprovisionSettings(_Section):
    """Deprovisioning: when a leaver is acted on, the guards, the proof."""

    grace_days: int = Field(0, ge=0, le=365)
    """``--from-hr`` acts on a termination this many days after its date (0: on the day)."""
    max_accounts: int = Field(25, ge=1)
    """Mass guard: a run that would disable more accounts than this stops before any change
    (``--allow-mass`` overrides it, and is audited)."""
    max_share: float = Field(0.05, gt=0, le=1)
    """Mass guard: likewise, more than this share of a system's active accounts."""
    max_snapshot_age_hours: float = Field(24, gt=0)
    """No action on a system whose latest snapshot is older than this (collect it first)."""
    sla_hours: float = Field(24, gt=0)
    """``leavers report`` flags a leaver whose last account went off later than this after
    the termination."""
    remove_memberships: bool = True
    """Also remove the leaver's direct group memberships (after disabling the account)."""
    suspend_where_possible: bool = False
    """Suspend (reversible, assignments kept) instead of deactivating where the system can
    (Okta); for companies that deactivate only after a waiting period."""
    action_timeout_seconds: float = Field(120, gt=0)
    """One action that takes longer is reported failed (and can be resumed)."""
    verify: bool = True
    """After applying, collect the systems acted on again and report access still present."""


class WebhookSettings(_Section):
    """``iam-gov hr-webhook``: the HTTP receiver for HR systems that push events."""

    listen: str = "127.0.0.1"
    port: int = Field(8787, ge=1, le=65535)
    secret: SecretRef
    """The shared secret of the HMAC-SHA256 signature every request carries."""
    tolerance_seconds: int = Field(300, ge=10, le=3600)
    """A request whose signed timestamp is further from now than this is refused."""
    mode: Literal["hold", "apply"] = "hold"
    """``apply``: each event's plan is applied at once; ``hold``: the plan is saved in
    ``held_folder`` for a human to apply, with a notice."""
    held_folder: RelPath | None = None
    """Where held plans (and, without ``[review.smtp]``, the notices) are written."""
    notify: tuple[str, ...] = ()
    """Who gets the notice of a held plan or a failed run (through ``[review.smtp]``)."""
    max_body_bytes: int = Field(65536, ge=1024, le=10_485_760)


class DriftWebhook(_Section):
    """Where `iam-gov run` / `drift --deliver` POSTs the report."""

    url: SecretRef
    """The webhook's URL: Slack's and Teams' carry their token, so it is a secret."""
    format: Literal["json", "slack", "teams"] = "json"
    """``json``: the report itself; ``slack`` / ``teams``: a message those accept."""
    timeout_seconds: float = Field(10, gt=0, le=300)
    retries: int = Field(3, ge=0, le=10)


class DriftEmail(_Section):
    """E-mail the HTML report through ``[review.smtp]``."""

    to: tuple[str, ...] = Field(min_length=1)
    subject_prefix: str = "[iam-gov]"


class RetentionSettings(_Section):
    """What `iam-gov run` prunes: snapshots and reports older than ``keep_days`` beyond the
    newest ``keep_runs``; never what a kept report, a pinned baseline, a campaign or a
    deprovisioning run refers to; never the audit log."""

    keep_days: int = Field(90, ge=1)
    keep_runs: int = Field(30, ge=1)


class DriftSettings(_Section):
    """Scheduled runs and their drift reports."""

    reports_folder: RelPath | None = None
    """Where each run's report folder goes (default: ``reports`` beside the configuration)."""
    fail_on: Literal["critical", "high", "medium", "low", "info"] = "high"
    """A new finding at or above this severity makes the exit code 1."""
    expiring_within_days: int = Field(30, ge=0, le=365)
    """Exceptions that expire within this many days are listed."""
    webhook: DriftWebhook | None = None
    email: DriftEmail | None = None
    retention: RetentionSettings = Field(default_factory=RetentionSettings)


class _ConfigFile(_Section):
    store: StoreSettings = Field(default_factory=StoreSettings)
    policy: PolicySettings
    correlation: CorrelationSettings = Field(default_factory=CorrelationSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    deprovision: DeprovisionSettings = Field(default_factory=DeprovisionSettings)
    hr_webhook: WebhookSettings | None = None
    drift: DriftSettings = Field(default_factory=DriftSettings)
    systems: dict[str, dict[str, Any]] = Field(min_length=1)


class Config(BaseModel):
    """The validated configuration, with every path made absolute."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    path: Path
    store: StoreSettings
    policy: PolicySettings
    correlation: CorrelationSettings
    systems: dict[str, ConnectorOptions]
    review: ReviewSettings = ReviewSettings()
    deprovision: DeprovisionSettings = DeprovisionSettings()
    hr_webhook: WebhookSettings | None = None
    drift: DriftSettings = DriftSettings()

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def hr_system(self) -> str:
        """The HR system's name; a ``ConfigError`` when none is configured (collecting one
        system needs no HR; evaluating, reviewing and deprovisioning do)."""
        name = self.hr_system_or_none
        if name is None:
            raise ConfigError(
                f'{self.path}: systems: no system of type "hr" is configured; evaluating '
                "needs one, since the HR feed is the source of truth for who works here"
            )
        return name

    @property
    def hr_system_or_none(self) -> str | None:
        return next((name for name, opts in self.systems.items() if opts.type == "hr"), None)


def find_config(explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env)
    return Path(DEFAULT_CONFIG_NAME)


def load_config(path: Path) -> Config:
    """Read and validate the file; every problem is reported at once, as ``file: key: what``."""
    display = str(path)
    try:
        raw_text = read_limited(path, size_limit(MAX_CONFIG_ENV, MAX_CONFIG_BYTES), MAX_CONFIG_ENV)
    except FileNotFoundError:
        raise ConfigError(f"{display}: no such file (pass --config or set {CONFIG_ENV})") from None
    except TooLarge as exc:
        raise ConfigError(f"{display}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{display}: cannot be read: {exc.strerror}") from None
    try:
        text = raw_text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{display}: not UTF-8 text (byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_problem(display, str(exc), text)) from None

    base_dir = path.resolve().parent
    context = {BASE_DIR_KEY: base_dir}
    problems = [f"{display}: {p}" for p in _secret_problems(data)]
    top: _ConfigFile | None = None
    try:
        top = _ConfigFile.model_validate(data, context=context)
    except ValidationError as exc:
        problems.extend(f"{display}: {p}" for p in format_validation_errors(exc))

    systems: dict[str, ConnectorOptions] = {}
    raw_systems = data.get("systems")
    if isinstance(raw_systems, dict):
        for name, raw in raw_systems.items():
            problems.extend(f"{display}: {p}" for p in _system_problems(name, raw))
            if not isinstance(raw, dict) or not _known_type(raw.get("type")):
                continue
            try:
                systems[name] = options_model(raw["type"]).model_validate(raw, context=context)
            except ValidationError as exc:
                problems.extend(
                    f"{display}: {p}" for p in format_validation_errors(exc, ("systems", name))
                )
        hr_count = sum(
            1 for raw in raw_systems.values() if isinstance(raw, dict) and raw.get("type") == "hr"
        )
        if hr_count > 1:
            problems.append(
                f'{display}: systems: at most one system of type "hr" (found {hr_count}); '
                "the HR feed is the one source of truth for who works here"
            )
    # From the raw data, so that a URL carrying a password is reported even when another part
    # of the file is wrong too.
    raw_store = data.get("store")
    raw_url = raw_store.get("url") if isinstance(raw_store, dict) else None
    if isinstance(raw_url, str) and raw_url:
        problems.extend(f"{display}: {p}" for p in _store_url_problems(raw_url))
    if problems or top is None:
        raise ConfigError(problems)
    return Config(
        path=path.resolve(),
        store=top.store,
        policy=top.policy,
        correlation=top.correlation,
        systems=systems,
        review=top.review,
        deprovision=top.deprovision,
        hr_webhook=top.hr_webhook,
        drift=top.drift,
    )


def check_files(config: Config) -> list[str]:
    """Files named by the configuration that do not exist, as ``file: key: problem``."""
    display = str(config.path)
    problems: list[str] = []
    if not config.policy.path.exists():
        problems.append(f"{display}: policy.path: {config.policy.path} does not exist")
    overrides = config.correlation.overrides
    if overrides is not None and not overrides.exists():
        problems.append(f"{display}: correlation.overrides: {overrides} does not exist")
    for name, options in config.systems.items():
        for key, value in _path_fields(options):
            if not value.exists():
                problems.append(f"{display}: systems.{name}.{key}: {value} does not exist")
    return problems


def database_url(config: Config | None, override: str | None = None) -> str:
    """Where the store lives: ``--database-url``, then the environment, then the file."""
    if override:
        return override
    from_env = os.environ.get(DATABASE_URL_ENV)
    if from_env:
        return from_env
    if config is not None and config.store.url:
        return _with_password(_resolve_sqlite_path(config.store.url, config.base_dir), config)
    base = config.base_dir if config is not None else Path.cwd()
    return f"sqlite:///{base / 'iam-gov.db'}"


def format_validation_errors(exc: ValidationError, prefix: Sequence[str | int] = ()) -> list[str]:
    """Pydantic errors as ``key.path: message``; input values are never echoed (secrets)."""
    out = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = [*prefix, *error["loc"]]
        key = ".".join(key_text(part) for part in loc) or "(top level)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "missing":
            message = "required key is missing"
        out.append(f"{key}: {message}")
    return out


def _toml_problem(display: str, message: str, text: str) -> str:
    match = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if match:
        what = message[: match.start()].strip()
        return f"{display}:{match.group(1)}: {what} (column {match.group(2)})"
    if message.endswith("(at end of document)"):
        # tomllib names no line there: the end of the file is on its last line.
        what = message.removesuffix("(at end of document)").strip()
        last_line = text.count("\n") + 1
        return f"{display}:{last_line}: {what} (at the end of the file)"
    return f"{display}: {message}"


def _secret_problems(data: Mapping[str, Any], path: tuple[str, ...] = ()) -> Iterator[str]:
    for key, value in data.items():
        here = (*path, key)
        if isinstance(value, dict):
            yield from _secret_problems(value, here)
        elif looks_like_secret_key(key) and isinstance(value, str):
            yield (
                f"{'.'.join(key_text(k) for k in here)}: a secret must not be written in the "
                "config file; "
                f'use {key} = {{ env = "VARIABLE" }} or {key} = {{ keyring = "service/user" }}'
            )


def _system_problems(name: str, raw: Any) -> Iterator[str]:
    name = key_text(name)  # as a message names it: the file may hold anything here
    if not SYSTEM_NAME.match(name):
        yield (
            f"systems.{name}: a system name is lower-case letters, digits, - and _ "
            "(at most 40 characters)"
        )
    if not isinstance(raw, dict):
        yield f"systems.{name}: must be a table"
        return
    if "type" not in raw:
        yield f"systems.{name}.type: required key is missing (one of: {', '.join(_types())})"
    elif not _known_type(raw["type"]):
        near = difflib.get_close_matches(str(raw["type"]), _types(), n=1)
        hint = f"did you mean {near[0]}? " if near else ""
        yield (
            f"systems.{name}.type: unknown connector type {raw['type']!r} "
            f"({hint}one of: {', '.join(_types())})"
        )


def _types() -> list[str]:
    """Connector types as a user reads them: HR first (every configuration has one)."""
    return sorted(connector_types(), key=lambda name: (name != "hr", name))


def _known_type(value: Any) -> bool:
    # A list or table here is a mistake to report, not a TypeError (unhashable) to crash on.
    return isinstance(value, str) and is_connector_type(value)


def _store_url_problems(url: str) -> Iterator[str]:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        yield "store.url: not a database URL (e.g. sqlite:///iam-gov.db or postgresql+psycopg://host/db)"
        return
    if parsed.password:
        yield (
            "store.url: the URL carries a password; remove it and use "
            'store.password = { env = "VARIABLE" } (or set IAM_GOV_DATABASE_URL)'
        )
    for name in secret_url_parameters(url):
        # ``?password=`` or ``?sslpassword=`` is as much a secret as ``user:password@``
        yield (
            f"store.url: the URL carries a secret in its {name!r} parameter; remove it and "
            "use store.password, the environment (IAM_GOV_DATABASE_URL) or libpq's PGPASSFILE"
        )
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        yield f"store.url: {parsed.get_backend_name()} is not supported (sqlite or postgresql)"


# A query parameter whose value is itself a secret: ``password``, libpq's ``sslpassword`` (the
# passphrase of ``sslkey``), a ``token``.
_SECRET_URL_PARAMETER = re.compile(
    r"(password|passwd|pwd|passphrase|secret|token|api[_-]?key|private[_-]?key)$", re.IGNORECASE
)


def secret_url_parameters(url: str) -> list[str]:
    """The names of the URL's query parameters that carry a secret (``?password=…``)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return []
    return sorted(key for key in parsed.query if _SECRET_URL_PARAMETER.search(key))


def _resolve_sqlite_path(url: str, base_dir: Path) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        db_path = Path(parsed.database).expanduser()
        if not db_path.is_absolute():
            # Lexically: `../store/iam-gov.db` is shown and opened as the folder it names.
            parsed = parsed.set(database=os.path.normpath(base_dir / db_path))
    return parsed.render_as_string(hide_password=False)


def _with_password(url: str, config: Config) -> str:
    if config.store.password is None:
        return url
    from sqlalchemy.engine import make_url

    secret = config.store.password.resolve("store.password")
    return (
        make_url(url).set(password=secret.get_secret_value()).render_as_string(hide_password=False)
    )


def _path_fields(options: BaseModel) -> Iterator[tuple[str, Path]]:
    for key in type(options).model_fields:
        value = getattr(options, key)
        if isinstance(value, Path):
            yield key, value
