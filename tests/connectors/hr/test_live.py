"""The HR report read live over HTTPS from a local server with a private CA (Workday RaaS with
basic auth and OAuth, a CSV URL with basic auth, BambooHR's reports API): the same people as
the same content in a file; refused credentials, cut-off and wrong answers as one clear line;
no secret in the snapshot, the errors or the logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from iam_gov.connectors.hr.connector import HRConnector, HROptions
from iam_gov.connectors.hr.live import BAMBOOHR_FIELDS
from iam_gov.errors import ConnectorError, SourceError
from iam_gov.model import SystemSnapshot
from tests.connectors.hr.test_connector import by_id, write
from tests.support import hr_server
from tests.support.hr_server import (
    BAMBOO_CUSTOM,
    BAMBOO_KEY,
    BAMBOO_SAVED,
    CLIENT_ID,
    CLIENT_SECRET,
    CSV_PASSWORD,
    CSV_PATH,
    CSV_USER,
    ISU_PASSWORD,
    ISU_USER,
    RAAS_PATH,
    REFRESH_TOKEN,
    SECRETS,
    TOKEN_PATH,
    HRServer,
)

ENV = {
    "WD_PASSWORD": ISU_PASSWORD,
    "WD_CLIENT_SECRET": CLIENT_SECRET,
    "WD_REFRESH_TOKEN": REFRESH_TOKEN,
    "HR_CSV_PASSWORD": CSV_PASSWORD,
    "BAMBOOHR_API_KEY": BAMBOO_KEY,
}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HRServer]:
    yield from hr_server.running_server(tmp_path_factory)


@pytest.fixture
def server(running: HRServer, monkeypatch: pytest.MonkeyPatch) -> HRServer:
    running.reset()
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return running


class Waits(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def live(server: HRServer, **extra: Any) -> HROptions:
    raw: dict[str, Any] = {"type": "hr", "mode": "live", "ca_file": str(server.ca_file)}
    raw.update(extra)
    return HROptions.model_validate(raw)


def collect_live(server: HRServer, waits: Waits | None = None, **extra: Any) -> SystemSnapshot:
    return HRConnector(
        "hr", live(server, **extra), sleep=Waits() if waits is None else waits
    ).collect()


def workday_basic(server: HRServer, fmt: str = "json", **extra: Any) -> dict[str, Any]:
    return {
        "url": f"{server.url}{RAAS_PATH}?format={fmt}",
        "preset": "workday",
        "auth": "basic",
        "username": ISU_USER,
        "password": {"env": "WD_PASSWORD"},
        **extra,
    }


def workday_oauth(server: HRServer, fmt: str = "json", **extra: Any) -> dict[str, Any]:
    return {
        "url": f"{server.url}{RAAS_PATH}?format={fmt}",
        "preset": "workday",
        "auth": "oauth",
        "token_url": f"{server.url}{TOKEN_PATH}",
        "client_id": CLIENT_ID,
        "client_secret": {"env": "WD_CLIENT_SECRET"},
        **extra,
    }


def plain_csv(server: HRServer, **extra: Any) -> dict[str, Any]:
    return {
        "url": f"{server.url}{CSV_PATH}",
        "preset": "workday",
        "auth": "basic",
        "username": CSV_USER,
        "password": {"env": "HR_CSV_PASSWORD"},
        **extra,
    }


def bamboohr(server: HRServer, **extra: Any) -> dict[str, Any]:
    return {
        "bamboohr_subdomain": "acme",
        "bamboohr_api_key": {"env": "BAMBOOHR_API_KEY"},
        "bamboohr_api_url": server.url,
        **extra,
    }


def same_as_file(snapshot: SystemSnapshot, path: Path, **extra: Any) -> None:
    """The live snapshot holds what reading the same content from ``path`` gives."""
    from_file = HRConnector(
        "hr",
        HROptions.model_validate(
            {"type": "hr", "path": str(path), "exported_at": snapshot.collected_at, **extra}
        ),
    ).collect()
    assert snapshot.people == from_file.people
    assert snapshot.complete == from_file.complete
    assert [e.message for e in snapshot.errors] == [e.message for e in from_file.errors]
    assert snapshot.settings == from_file.settings
    assert snapshot.collected_at == from_file.collected_at


# --- each source gives the same people as the same content in a file -------------------------


def test_workday_raas_json_with_basic_auth(server: HRServer, tmp_path: Path) -> None:
    snapshot = collect_live(server, **workday_basic(server))
    assert snapshot.source == f"live:{server.url}{RAAS_PATH}"  # no query, no credentials
    people = by_id(snapshot)
    assert set(people) == {"1001", "1002", "1003", "1004"}
    assert people["1003"].status.value == "terminated"
    assert people["1002"].manager_id == "1001"
    same_as_file(snapshot, write(tmp_path, "workers.json", hr_server.raas_json().decode()),
                 preset="workday")  # fmt: skip
    [seen] = server.requests
    assert (seen.method, seen.authorization) == ("GET", "Basic")


@pytest.mark.parametrize("grant", ["client_credentials", "refresh_token"])
def test_workday_raas_csv_with_oauth(server: HRServer, tmp_path: Path, grant: str) -> None:
    extra = {"refresh_token": {"env": "WD_REFRESH_TOKEN"}} if grant == "refresh_token" else {}
    snapshot = collect_live(server, **workday_oauth(server, "csv", **extra))
    assert len(snapshot.people) == 4 and snapshot.complete
    same_as_file(snapshot, write(tmp_path, "workers.csv", hr_server.raas_csv().decode()),
                 preset="workday")  # fmt: skip
    token, report = server.requests
    assert (token.path, token.authorization) == (TOKEN_PATH, "Basic")
    assert json.dumps(token.body.decode()).count(f"grant_type={grant}") == 1
    assert (report.path, report.authorization, report.query) == (
        RAAS_PATH,
        "Bearer",
        {"format": ["csv"]},
    )


def test_a_csv_url_with_basic_auth(server: HRServer, tmp_path: Path) -> None:
    snapshot = collect_live(server, **plain_csv(server))
    assert snapshot.source == f"live:{server.url}{CSV_PATH}"
    same_as_file(snapshot, write(tmp_path, "people.csv", hr_server.raas_csv().decode()),
                 preset="workday")  # fmt: skip


def test_bamboohr_custom_report(server: HRServer, tmp_path: Path) -> None:
    snapshot = collect_live(server, **bamboohr(server))
    [seen] = server.requests
    assert (seen.method, seen.path, seen.authorization) == ("POST", BAMBOO_CUSTOM, "Basic")
    assert seen.query == {"format": ["JSON"], "onlyCurrent": ["false"]}
    assert json.loads(seen.body) == {"fields": list(BAMBOOHR_FIELDS)}
    people = by_id(snapshot)
    assert people["E-2"].manager_id == "E-1"  # supervisorEId 40 is E-1's EID
    assert people["E-3"].status.value == "terminated"
    assert snapshot.source == f"live:{server.url}{BAMBOO_CUSTOM}"
    body = hr_server.bamboo_report(list(BAMBOOHR_FIELDS)).decode()
    same_as_file(snapshot, write(tmp_path, "bamboo.json", body), preset="bamboohr")


def test_bamboohr_saved_report(server: HRServer) -> None:
    snapshot = collect_live(server, **bamboohr(server, bamboohr_report="7"))
    [seen] = server.requests
    assert (seen.method, seen.path) == ("GET", BAMBOO_SAVED)
    assert by_id(snapshot)["E-1"].attributes["location"] == "London"
    assert by_id(snapshot)["E-2"].manager_id == "E-1"


# --- refused, cut off, or not the report: one line, nothing read ------------------------------


@pytest.mark.parametrize(
    ("options", "env", "wrong", "says"),
    [
        (workday_basic, "WD_PASSWORD", "not-the-Passw0rd", "check username 'ISU_IAM@acme' and "
         "password (environment variable WD_PASSWORD)"),
        (plain_csv, "HR_CSV_PASSWORD", "wrong-csv-pass", "check username 'hr-reader' and "
         "password (environment variable HR_CSV_PASSWORD)"),
        (workday_oauth, "WD_CLIENT_SECRET", "wrong-client-secret", "check client_id "
         f"'{CLIENT_ID}' and client_secret (environment variable WD_CLIENT_SECRET)"),
        (lambda server: workday_oauth(server, refresh_token={"env": "WD_REFRESH_TOKEN"}),
         "WD_REFRESH_TOKEN", "wrong-refresh-token", "and refresh_token (environment variable "
         "WD_REFRESH_TOKEN) (the server says: invalid_grant)"),
        (bamboohr, "BAMBOOHR_API_KEY", "wrong-bamboo-key", "check bamboohr_api_key "
         "(environment variable BAMBOOHR_API_KEY) and bamboohr_subdomain (the server says: "
         "Invalid API key)"),
    ],
)  # fmt: skip
def test_wrong_credentials_are_one_line_naming_the_setting_not_the_secret(
    server: HRServer,
    monkeypatch: pytest.MonkeyPatch,
    options: Any,
    env: str,
    wrong: str,
    says: str,
) -> None:
    monkeypatch.setenv(env, wrong)
    with pytest.raises(ConnectorError) as caught:
        collect_live(server, **options(server))
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"hr: {server.url}/")
    assert ("HTTP 401" in message or "HTTP 400" in message) and says in message
    assert wrong not in message and "?" not in message
    assert not any(secret in message for secret in SECRETS)


@pytest.mark.parametrize("fault", ["cut", "chunk-cut"])
def test_a_download_cut_off_is_refused(server: HRServer, fault: str) -> None:
    server.fault(RAAS_PATH, fault, times=3)
    with pytest.raises(SourceError, match=r"the download was cut off .* after 2 attempt\(s\)"):
        collect_live(server, **workday_basic(server, max_retries=1))


def test_a_download_cut_off_once_is_fetched_again(server: HRServer) -> None:
    server.fault(RAAS_PATH, "cut")
    waits = Waits()
    snapshot = collect_live(server, waits, **workday_basic(server))
    assert len(snapshot.people) == 4 and len(waits) == 1


def test_json_cut_where_no_length_tells_is_refused_by_its_content(server: HRServer) -> None:
    server.fault(RAAS_PATH, "close")
    with pytest.raises(SourceError) as caught:
        collect_live(server, **workday_basic(server))
    message = str(caught.value)
    assert message.startswith(f"{server.url}{RAAS_PATH}:")
    assert "not valid JSON" in message and "looks cut off" in message


def test_a_sign_in_page_and_xml_are_not_the_report(server: HRServer) -> None:
    server.fault(CSV_PATH, "html")
    with pytest.raises(SourceError, match="the answer is an HTML page, not the report"):
        collect_live(server, **plain_csv(server))
    no_format = {**workday_basic(server), "url": f"{server.url}{RAAS_PATH}"}
    with pytest.raises(SourceError, match=r"is XML.*add \?format=json"):
        collect_live(server, **no_format)


def test_throttling_and_a_busy_server_are_waited_for(server: HRServer) -> None:
    server.fault(RAAS_PATH, 429, retry_after="7")
    server.fault(RAAS_PATH, 503, retry_after=None)
    waits = Waits()
    snapshot = collect_live(server, waits, **workday_basic(server))
    assert len(snapshot.people) == 4
    assert waits[0] == 7 and 0 < waits[1] <= 2  # Retry-After, then backoff


def test_retries_end_with_the_last_status(server: HRServer) -> None:
    server.fault(RAAS_PATH, 503, times=5)
    with pytest.raises(ConnectorError, match=r"HTTP 503 .* after 3 attempt\(s\)"):
        collect_live(server, **workday_basic(server, max_retries=2))


def test_an_answer_over_max_bytes_is_refused(server: HRServer) -> None:
    with pytest.raises(SourceError, match=r"announces \d+ bytes, more than max_bytes \(100\)"):
        collect_live(server, **workday_basic(server, max_bytes=100))


def test_the_private_ca_is_needed(server: HRServer) -> None:
    options = live(server, **workday_basic(server)).model_copy(update={"ca_file": None})
    with pytest.raises(ConnectorError, match=r"certificate is not trusted \(set ca_file"):
        HRConnector("hr", options).collect()


def test_a_missing_secret_is_named(server: HRServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WD_PASSWORD")
    with pytest.raises(Exception, match="password: environment variable WD_PASSWORD is not set"):
        collect_live(server, **workday_basic(server))
    assert server.requests == []


def test_no_secret_in_snapshots_errors_or_logs(
    server: HRServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    for options in (workday_basic, workday_oauth, plain_csv, bamboohr):
        shown.append(collect_live(server, **options(server)).model_dump_json())
    server.fault(CSV_PATH, "chunk-cut", times=5)
    server.fault(TOKEN_PATH, 401)
    for options in (plain_csv, workday_oauth):
        with pytest.raises((SourceError, ConnectorError)) as caught:
            collect_live(server, **options(server, max_retries=0))
        shown.append(str(caught.value))
    shown.extend(record.getMessage() for record in caplog.records)
    assert caplog.records  # httpx logged the requests
    text = "\n".join(shown)
    assert not [secret for secret in SECRETS if secret in text]


# --- options -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"url": "http://hr.example.com/people.csv"}, "url must be an https:// address"),
        ({"url": "https://u:p@hr.example.com/people.csv"}, "no user or password in the address"),
        ({"url": "https://hr.example.com/p.csv?api_token=x"}, "'api_token' looks like a secret"),
        ({}, "needs exactly one of url and bamboohr_subdomain"),
        ({"url": "https://hr.example.com/p.csv", "auth": "basic", "username": "u"},
         'auth = "basic" needs password'),
        ({"url": "https://hr.example.com/p.csv", "token": {"env": "T"}},
         'token do not apply to auth = "none"'),
        ({"url": "https://hr.example.com/p.csv", "path": "people.csv"},
         'path only apply to mode = "export"'),
        ({"bamboohr_subdomain": "acme"}, "needs bamboohr_api_key"),
        ({"bamboohr_subdomain": "acme", "bamboohr_api_key": {"env": "K"}, "auth": "basic"},
         "BambooHR is signed in to with bamboohr_api_key only"),
        ({"url": "https://hr.example.com/p.csv", "bamboohr_report": "7"},
         "only apply with bamboohr_subdomain"),
    ],
)  # fmt: skip
def test_bad_live_options(raw: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says.replace("(", r"\(").replace(")", r"\)")):
        HROptions.model_validate({"type": "hr", "mode": "live", **raw})


def test_export_options_stay_as_they_were() -> None:
    with pytest.raises(ValidationError, match='url only apply to mode = "live"'):
        HROptions.model_validate({"type": "hr", "path": "p.csv", "url": "https://h/p.csv"})
    assert HROptions.model_validate({"type": "hr", "path": "p.csv"}).mode == "export"


def test_bamboohr_reads_with_its_preset_unless_told() -> None:
    raw = {"type": "hr", "mode": "live", "bamboohr_subdomain": "acme",
           "bamboohr_api_key": {"env": "K"}}  # fmt: skip
    assert HROptions.model_validate(raw).preset == "bamboohr"
    assert HROptions.model_validate({**raw, "preset": "generic"}).preset == "generic"
