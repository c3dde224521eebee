"""``config check --connect`` for the HR feed: the download's sign-in and the first bytes of
the report, through the collect's own client; or, for a file, that it can be read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from iam_gov.connectors.hr.client import Call, ReportClient, Settings, shown_url
from iam_gov.connectors.hr.live import LiveOptions, download_report
from iam_gov.connectors.shared.protocol import AccessCheck
from iam_gov.errors import ConnectorError, SourceError

if TYPE_CHECKING:
    import httpx

PROBE_BYTES = 64 * 1024
"""What the check reads of the report at most: enough to see it is the report."""


class _Watching(ReportClient):
    """The collect's client, noting the status of each answer it judges, so that a refusal
    of the sign-in (the token endpoint; a 401 of the report itself) is told from a report the
    signed-in credential may not read."""

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None]) -> None:
        super().__init__(settings, sleep=sleep)
        self.answers: list[tuple[str, int]] = []

    def _judge_status(self, response: httpx.Response, call: Call, where: str) -> None:
        self.answers.append((call.url, response.status_code))
        super()._judge_status(response, call, where)


def check_report(
    options: LiveOptions,
    settings: Settings,
    permission: str,
    *,
    oauth: bool,
    sleep: Callable[[float], None],
) -> AccessCheck:
    """The report asked for as a collect asks (same method, headers and sign-in), read up to
    ``PROBE_BYTES``. ``ConnectorError`` when the server cannot be reached or the sign-in is
    refused; a 403 of the report (or a 401 of it with a token just issued) is the permission
    missing."""
    settings.max_bytes = min(settings.max_bytes, PROBE_BYTES)
    client = _Watching(settings, sleep=sleep)
    try:
        report = download_report(options, client)
    except SourceError:
        # Only an answer that passed the status check is read: it is the report, cut short.
        url = client.answers[-1][0] if client.answers else ""
        return AccessCheck(
            permission,
            True,
            f"{shown_url(url)}: the report began to arrive (the check stops after "
            f"{settings.max_bytes} bytes or at an answer that is not a report)",
        )
    except ConnectorError as exc:
        last = client.answers[-1] if client.answers else None
        if last is None:
            raise
        url, status = last
        if options.token_url is not None and url == options.token_url:
            raise  # the sign-in itself refused
        if status == 403 or (status == 401 and oauth):
            return AccessCheck(permission, False, f"refused: {exc}")
        raise
    finally:
        client.close()
    download = report.download
    return AccessCheck(
        permission,
        True,
        f"{download.url}: read the report ({len(download.body)} bytes, "
        f"{download.media_type or 'no Content-Type'})",
    )


def check_files(permission: str, paths: list[Path]) -> AccessCheck:
    """Each file opened and its first byte read, as the collect's account."""
    for path in paths:
        try:
            with path.open("rb") as handle:
                handle.read(1)
        except OSError as exc:
            return AccessCheck(permission, False, f"{path}: cannot be read: {exc.strerror or exc}")
    return AccessCheck(permission, True, f"{', '.join(str(p) for p in paths)}: readable")
