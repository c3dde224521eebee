"""The AWS connector's boto3 clients: a session from the profile (or the one given), a role
assumed when asked, its temporary credentials renewed before they expire, adaptive retries and
timeouts; and one line saying what AWS answered when a call fails."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from iam_gov.errors import ConnectorError
from iam_gov.retrying import GaveUp, Patience
from iam_gov.timeutil import as_utc, utcnow

if TYPE_CHECKING:
    from boto3.session import Session
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_iam.type_defs import AccessKeyMetadataTypeDef
    from mypy_boto3_sts import STSClient

_ROLE_SESSION_SECONDS = 3600
_RENEW_BEFORE_SECONDS = 300
_HTTP_ERRORS = ("ConnectionError", "HTTPClientError", "ReadTimeoutError", "ConnectTimeoutError")
_WIRE_LOGGERS = ("botocore.auth", "botocore.endpoint", "botocore.parsers")
"""botocore's debug records of what goes over the wire: the string it signs, each request's
headers and each answer's body. They carry the session token (``X-Amz-Security-Token``), and
a body can quote it back; so they are never emitted, whatever level the root logger has."""


def quiet_wire_logs() -> None:
    """Raise botocore's wire loggers to INFO (their records below it carry credentials)."""
    for name in _WIRE_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:
            logger.setLevel(logging.INFO)


def aws_failures() -> tuple[type[Exception], ...]:
    """Every way a boto3 call can fail that is AWS's or the network's, not a bug: what AWS
    answered (``ClientError``), what botocore met (``BotoCoreError``: connection, timeout,
    credentials), an answer it could not parse (``ResponseParserError``, e.g. an HTML error
    page from an endpoint that does not implement the call), and ``GaveUp`` (the collect's
    deadline passed or the server stopped answering)."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    return (BotoCoreError, ClientError, ResponseParserError, GaveUp)


def unreachable(exc: BaseException) -> bool:
    """Whether a failed call means the server is not answering (the circuit breaker counts
    these), rather than an answer about the request."""
    from botocore.exceptions import ClientError
    from botocore.parsers import ResponseParserError

    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return int(status) >= 500
    if isinstance(exc, ResponseParserError):
        return True
    return any(cls.__name__ in _HTTP_ERRORS for cls in type(exc).__mro__)


def describe_aws_error(exc: Exception, operation: str | None = None) -> str:
    """One line naming the API call and what AWS said; never the request or credentials."""
    from botocore.exceptions import ClientError, NoCredentialsError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or "error"
        message = " ".join(str(error.get("Message") or "").split())
        where = operation or f"iam:{exc.operation_name}"
        return f"{where}: {code}: {message}" if message else f"{where}: {code}"
    detail = " ".join(str(exc).split())
    if _is_parser_error(exc):
        # botocore quotes the whole body it could not read, and an endpoint's body can repeat
        # the request back, its X-Amz-Security-Token header included: never quote it.
        head = re.split(r"\sb['\"]", detail.split(_BODY_FOLLOWS, 1)[0], maxsplit=1)[0]
        detail = head.rstrip(" :.,") + " (the answer is not quoted)"
    if len(detail) > 300:
        detail = detail[:300] + " …"
    if isinstance(exc, NoCredentialsError):
        detail += " (boto3 looks in the environment, the AWS profile and the instance role)"
    return f"{operation}: {detail}" if operation else detail


_BODY_FOLLOWS = "Further retries may succeed"


def _is_parser_error(exc: Exception) -> bool:
    from botocore.parsers import ResponseParserError

    return isinstance(exc, ResponseParserError)


class AWSClients:
    """IAM and STS clients for one account, built when first needed. Credentials come only
    from boto3's own chain (environment, profile, instance role), then from ``role_arn``."""

    def __init__(
        self,
        system: str,
        *,
        profile: str | None,
        region: str,
        endpoint_url: str | None,
        role_arn: str | None,
        session: Session | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 4,
        deadline_seconds: float = 1800.0,
    ) -> None:
        """``session``: a boto3 session to use instead of one built from ``profile``.
        ``max_attempts`` counts the first try (botocore's ``total_max_attempts``);
        ``deadline_seconds`` is one collect's (or one action's) patience with the account as a
        whole."""
        self.system = system
        self.profile, self.region = profile, region
        self.endpoint_url, self.role_arn = endpoint_url, role_arn
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.max_attempts, self.deadline_seconds = max_attempts, deadline_seconds
        self._session = session
        self._iam: IAMClient | None = None
        self._sts: STSClient | None = None
        self._expire_at = float("inf")
        self._where: dict[str, Any] = {}
        self.patience = Patience(deadline_seconds=deadline_seconds)

    def start(self) -> Patience:
        """A fresh deadline and a closed circuit breaker, for one collect or action."""
        self.patience = Patience(deadline_seconds=self.deadline_seconds)
        return self.patience

    def _watch(self, client: Any) -> None:
        """Every call of ``client`` goes through the current ``Patience``."""
        watch(client, lambda: self.patience)

    def get(self) -> tuple[IAMClient, STSClient]:
        """The clients; ``ConnectorError`` when the profile or the role cannot be used."""
        if self._iam is None or self._sts is None or time.monotonic() >= self._expire_at:
            self._build()
        assert self._iam is not None and self._sts is not None
        return self._iam, self._sts

    def _build(self) -> None:
        from botocore.config import Config

        quiet_wire_logs()
        session = self._boto_session()
        where: dict[str, Any] = {
            "region_name": self.region,
            "endpoint_url": self.endpoint_url,
            # Few attempts and short connect timeouts: a dead endpoint must end the collect in
            # seconds (Patience then stops the calls after it); adaptive mode still paces
            # throttled calls. botocore's ``max_attempts`` counts the retries only (one more
            # try than asked); ``total_max_attempts`` counts the first try, as the option does.
            "config": Config(
                retries={"mode": "adaptive", "total_max_attempts": self.max_attempts},
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
                user_agent_extra="iam-gov",
            ),
        }
        expire_at = float("inf")
        if self.role_arn is not None:
            keys, expire_at = self._assume_role(session, where)
            where.update(keys)
        self._where = where
        self._iam = session.client("iam", **where)
        self._sts = session.client("sts", **where)
        self._watch(self._iam)
        self._watch(self._sts)
        self._expire_at = expire_at

    def client(self, service: str) -> Any:
        """A client of another service (Organizations, SSO Admin …) with the same
        credentials, endpoint, retries and timeouts as the IAM client."""
        self.get()
        client = self._boto_session().client(service, **self._where)  # type: ignore[call-overload]
        self._watch(client)
        return client

    def service_session(self) -> tuple[Session, Any]:
        """A boto3 session carrying the collect's credentials (the role's when one is
        assumed), and the botocore ``Config`` (retries, timeouts) its clients should use."""
        import boto3

        self.get()
        session = self._boto_session()
        keys = {k: v for k, v in self._where.items() if k.startswith("aws_")}
        if keys:
            session = boto3.Session(region_name=self.region, **keys)
        return session, self._where["config"]

    def _assume_role(self, session: Session, where: dict[str, Any]) -> tuple[dict[str, str], float]:
        """The role's temporary keys, and when (on ``time.monotonic``) to renew them."""
        from botocore.exceptions import BotoCoreError, ClientError

        assert self.role_arn is not None
        try:
            sts = session.client("sts", **where)
            self._watch(sts)
            credentials = sts.assume_role(
                RoleArn=self.role_arn,
                RoleSessionName="iam-gov",
                DurationSeconds=_ROLE_SESSION_SECONDS,
            )["Credentials"]
        except (BotoCoreError, ClientError, GaveUp) as exc:
            raise ConnectorError(
                f"{self.system}: cannot assume {self.role_arn}: "
                f"{describe_aws_error(exc, 'sts:AssumeRole')}"
            ) from None
        keys = {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }
        # Renew well before the temporary credentials expire.
        lifetime = (as_utc(credentials["Expiration"]) - utcnow()).total_seconds()
        return keys, time.monotonic() + max(lifetime - _RENEW_BEFORE_SECONDS, 0)

    def _boto_session(self) -> Session:
        if self._session is None:
            import boto3
            from botocore.exceptions import ProfileNotFound

            try:
                self._session = boto3.Session(profile_name=self.profile, region_name=self.region)
            except ProfileNotFound:
                raise ConnectorError(
                    f"{self.system}: AWS profile {self.profile!r} is not in the AWS config files"
                ) from None
        return self._session


def watch(client: Any, patience: Callable[[], Patience]) -> None:
    """Every call of ``client`` goes through ``patience()``: refused once its deadline passed
    or the server stopped answering, counted when it fails to reach the server."""

    def before(**_: Any) -> None:
        patience().before_call()

    def after(**_: Any) -> None:
        patience().succeeded()

    def failed(exception: BaseException | None = None, **_: Any) -> None:
        if exception is not None and unreachable(exception):
            patience().failed(describe_aws_error(_as_exception(exception)))

    client.meta.events.register("before-call", before)
    client.meta.events.register("after-call", after)
    client.meta.events.register("after-call-error", failed)


def _as_exception(exc: BaseException) -> Exception:
    return exc if isinstance(exc, Exception) else Exception(str(exc))


def access_keys(iam: IAMClient, user: str) -> list[AccessKeyMetadataTypeDef]:
    """The user's access keys, oldest first: the order in which the credential report numbers
    them (access key 1, access key 2)."""
    keys = [
        key
        for page in iam.get_paginator("list_access_keys").paginate(UserName=user)
        for key in page["AccessKeyMetadata"]
    ]
    return sorted(keys, key=lambda key: key["CreateDate"])
