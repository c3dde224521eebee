"""`config check --connect` for the HR feed against the local HR server: the download's sign-in
and the report's first bytes, for each source; a report the credential may not read is
missing, refused credentials or a dead server one clear error; a file is checked readable."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iam_gov.connectors.hr.access import PROBE_BYTES
from iam_gov.connectors.hr.connector import (
    BAMBOOHR_ACCESS,
    FILE_ACCESS,
    HTTPS_ACCESS,
    WORKDAY_ACCESS,
    HRConnector,
    HROptions,
)
from iam_gov.connectors.shared.protocol import AccessCheck
from iam_gov.errors import ConnectorError
from tests.support import hr_server
from tests.support.hr_server import RAAS_PATH, SECRETS, TOKEN_PATH, HRServer, raas_json
from tests.support.slapd import free_port

from .test_live import ENV, Waits, bamboohr, live, plain_csv, workday_basic, workday_oauth


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HRServer]:
    yield from hr_server.running_server(tmp_path_factory)


@pytest.fixture
def server(running: HRServer, monkeypatch: pytest.MonkeyPatch) -> HRServer:
    running.reset()
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return running


def check(server: HRServer, **extra: Any) -> AccessCheck:
    (only,) = HRConnector("hr", live(server, **extra), sleep=Waits()).check_access()
    assert not any(secret in only.detail for secret in SECRETS)
    return only


@pytest.mark.parametrize(
    ("source", "permission"),
    [
        (workday_basic, WORKDAY_ACCESS),
        (workday_oauth, WORKDAY_ACCESS),
        (plain_csv, HTTPS_ACCESS),
        (bamboohr, BAMBOOHR_ACCESS),
    ],
)
def test_each_source_signs_in_and_reads_the_report(
    server: HRServer, source: Any, permission: str
) -> None:
    result = check(server, **source(server))

    assert result.permission == permission
    assert result.ok is True, result.detail
    assert "read the report (" in result.detail


def test_a_report_larger_than_the_check_reads_is_granted_after_its_first_bytes(
    server: HRServer,
) -> None:
    many = [{**server.workers[0], "Employee_ID": f"E{n:05}"} for n in range(2000)]
    server.workers = many
    assert len(raas_json(many)) > PROBE_BYTES

    result = check(server, **workday_basic(server))

    assert result.ok is True
    assert "the report began to arrive" in result.detail


def test_a_report_the_signed_in_user_may_not_read_is_missing(server: HRServer) -> None:
    server.fault(RAAS_PATH, 403)

    result = check(server, **workday_basic(server))

    assert result.ok is False
    assert result.permission == WORKDAY_ACCESS
    assert "HTTP 403" in result.detail and "signed in, but not allowed" in result.detail


def test_an_oauth_token_the_report_refuses_is_missing(server: HRServer) -> None:
    # The token endpoint signed the client in; the report does not take its token.
    server.fault(RAAS_PATH, 401)

    result = check(server, **workday_oauth(server))

    assert result.ok is False
    assert "HTTP 401" in result.detail


def test_wrong_credentials_are_the_sign_in_refused_one_clear_error(
    server: HRServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WD_PASSWORD", "wrong")

    with pytest.raises(ConnectorError) as raised:
        check(server, **workday_basic(server))

    message = str(raised.value)
    assert "HTTP 401" in message and "the credentials were refused" in message
    assert "\n" not in message and "wrong" not in message


def test_a_client_the_token_endpoint_refuses_is_one_clear_error(
    server: HRServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WD_CLIENT_SECRET", "wrong")

    with pytest.raises(ConnectorError, match=f"hr: {server.url}{TOKEN_PATH}: HTTP 401"):
        check(server, **workday_oauth(server))
    # The report was not asked for.
    assert [seen.path for seen in server.requests] == [TOKEN_PATH]


def test_a_server_that_does_not_answer_is_one_clear_error(server: HRServer) -> None:
    options = workday_basic(server)
    options["url"] = f"https://127.0.0.1:{free_port()}{RAAS_PATH}?format=json"

    with pytest.raises(ConnectorError, match="cannot be reached"):
        check(server, **options, max_retries=0)


def test_a_file_is_checked_readable(tmp_path: Path) -> None:
    path = tmp_path / "workers.csv"
    path.write_text("employee_id,email\nE1,a@example.com\n", encoding="utf-8")
    options = HROptions.model_validate({"type": "hr", "path": str(path)})

    assert HRConnector("hr", options).check_access() == [
        AccessCheck(FILE_ACCESS, True, f"{path}: readable")
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_a_file_the_account_may_not_read_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "workers.csv"
    path.write_text("employee_id,email\nE1,a@example.com\n", encoding="utf-8")
    path.chmod(0)
    options = HROptions.model_validate({"type": "hr", "path": str(path)})

    (result,) = HRConnector("hr", options).check_access()

    assert result.ok is False
    assert result.detail == f"{path}: cannot be read: Permission denied"
