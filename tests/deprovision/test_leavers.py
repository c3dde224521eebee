"""`leavers report`, the table auditors sample: built on real history (a plan applied by the
executor, the systems collected again) and read as an auditor would: the termination time
and where it comes from, each account's off time and its evidence, the SLA verdict and the
exit code a scheduler alerts on; hostile names neutralised in every format."""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from iam_gov import cli_common
from iam_gov.cli_leavers import leavers_app
from iam_gov.collect import build_connector, collect
from iam_gov.config import load_config
from iam_gov.connectors import Connector
from iam_gov.deprovision.events import parse_event
from iam_gov.deprovision.executor import Executor, RunResult
from iam_gov.deprovision.leavers import (
    AccountOff,
    Leaver,
    LeaversError,
    LeaversReport,
    leavers_csv,
    leavers_from_json,
    leavers_json,
    leavers_report,
    leavers_text,
    table_rows,
)
from iam_gov.deprovision.outcome import StepResult
from iam_gov.deprovision.planner import Request, make_plan
from iam_gov.deprovision.service import handle_event
from iam_gov.evaluation import evaluate
from iam_gov.policy import load_policy
from iam_gov.rules import all_rules
from iam_gov.store import Store
from iam_gov.store.snapshots import latest_snapshots
from tests.deprovision.conftest import DEMO_NOW, LEAVER, Company, copy_demo

SINCE = date(2026, 9, 1)
ERIK_TERMINATED = datetime(2026, 9, 30, tzinfo=UTC)
"""E1019's last day is 2026-09-29 in HR; no event: the end of that day."""
SOREN = "E1002"
"""Søren Adeyemi: left 2026-11-07; Okta, AD, Entra and AWS already disabled in the exports
(2026-11-27); a WireGuard peer of his is added for the test (``with_soren_peer``)."""


def ticking(start: datetime) -> Callable[[], datetime]:
    """A clock for the executor: ``start``, then one second later at every call."""
    moments: Iterator[datetime] = (start + timedelta(seconds=n) for n in itertools.count())
    return lambda: next(moments)


def deprovision(company: Company, who: str, start: datetime, factory: Any = None) -> RunResult:
    plan = make_plan(
        company.store,
        company.config,
        company.policy,
        Request(who=[who], reason="left", trigger="cli", actor="it@example.com"),
        now=DEMO_NOW,
    )
    executor = Executor(
        company.store, company.config, actor="it@example.com", now=ticking(start), factory=factory
    )
    return executor.apply(plan, verify=False)


def step_on(run: RunResult, system: str) -> StepResult:
    [found] = [r for r in run.results if r.step.action.system == system and r.outcome != "skipped"]
    return found


def leaver(report: LeaversReport, employee_id: str) -> Leaver:
    [found] = [x for x in report.leavers if x.employee_id == employee_id]
    return found


def account(found: Leaver, system: str) -> AccountOff:
    [off] = [a for a in found.accounts if a.system == system]
    return off


def cli(company: Company, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """`iam-gov leavers …` as cli.py registers it; the exit code."""
    monkeypatch.setattr(cli_common.options, "config", company.config.path)
    monkeypatch.setattr(cli_common.options, "database_url", company.store.url)
    app = typer.Typer()
    app.add_typer(leavers_app, name="leavers")
    return CliRunner().invoke(app, ["leavers", *args]).exit_code


def test_a_leaver_with_accounts_still_on_is_over_the_sla(
    company: Company, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with company.store.reading() as conn:
        collected = latest_snapshots(conn)["wireguard"].collected_at  # the live file: now
    run = deprovision(company, LEAVER, collected + timedelta(minutes=1))
    removed = step_on(run, "wireguard")
    assert removed.outcome == "done"

    def later_clock(system: str, options: Any) -> Connector[Any]:
        connector = build_connector(system, options)
        connector.clock = lambda: collected + timedelta(minutes=30)
        return connector

    # a snapshot without the peer: still the run's step that says when it went
    collect(company.config, company.store, ["wireguard"], factory=later_clock)
    now = collected + timedelta(hours=1)
    report = leavers_report(company.store, company.config, company.policy, since=SINCE, now=now)

    erik = leaver(report, LEAVER)
    assert (erik.name, erik.terminated_at, erik.source, erik.event_id) == (
        "Erik Reyes",
        ERIK_TERMINATED,
        "hr-end-date",
        None,
    )
    wireguard = account(erik, "wireguard")
    assert (wireguard.state, wireguard.off_at, wireguard.exact) == ("off", removed.at, True)
    assert wireguard.how == f"deprovision run #{run.run_id}"
    assert wireguard.login == "erik.reyes"  # gone from the latest snapshot: from the step
    for system in ("okta", "entra", "aws"):  # the exports cannot be changed: skipped
        on = account(erik, system)
        assert (on.state, on.off_at) == ("active", None), system
        assert on.how.startswith("active in the latest snapshot (2026-11-27T09:00:00Z)")
        assert f"skipped in run #{run.run_id}" in on.how
    ad = account(erik, "ad")  # disabled in the export: the snapshot bounds it
    assert (ad.state, ad.exact) == ("off", False)
    assert ad.off_at == datetime(2026, 11, 27, 9, tzinfo=UTC)
    assert "first seen disabled in the snapshot of 2026-11-27T09:00:00Z" in ad.how
    assert erik.flags == ("over SLA", "still active")
    assert not erik.within_sla and erik.last_off_at is None
    assert erik.hours == pytest.approx((now - ERIK_TERMINATED).total_seconds() / 3600)
    assert not report.all_within_sla
    assert leavers_from_json(leavers_json(report)) == report
    assert "OVER SLA, still active" in leavers_text(report)

    out = tmp_path / "leavers.csv"
    assert (
        cli(company, monkeypatch, "report", "--since", "2026-09-01", "-f", "csv", "--out", str(out))
        == 1
    )
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert {r["system"] for r in rows if r["employee_id"] == LEAVER} >= {"okta", "wireguard"}
    assert {r["within_sla"] for r in rows if r["employee_id"] == LEAVER} == {"no"}
    assert cli(company, monkeypatch, "report", "--since", "29 Sep") == 2
    with pytest.raises(LeaversError, match="the period is empty"):
        leavers_report(
            company.store, company.config, company.policy, since=SINCE, until=date(2026, 8, 31)
        )


@pytest.fixture
def with_soren_peer(store: Store, tmp_path: Path) -> Company:
    """The demo without its OpenVPN (whose copied PKI easy-rsa cannot revoke in), and with a
    WireGuard peer of Søren's: his one account still on when HR's event arrives."""
    root = tmp_path / "demo"
    toml = copy_demo(root, without=("openvpn",))
    key = base64.b64encode(bytes(range(32))).decode()
    with (root / "wireguard" / "wg0.conf").open("a", encoding="utf-8") as conf:
        conf.write(
            "\n# iam-gov: login=soren.adeyemi email=soren.adeyemi@example.com "
            f"employee_id={SOREN}\n[Peer]\nPublicKey = {key}\nAllowedIPs = 10.20.0.99/32\n"
        )
    config = load_config(toml)
    policy = load_policy(config.policy.path, rules=all_rules())
    collect(config, store)
    evaluate(store, config, policy, now=DEMO_NOW)
    return Company(root, config, policy, store)


def test_a_leaver_whose_access_ended_within_a_day_is_within_the_sla(
    with_soren_peer: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    company = with_soren_peer
    # WireGuard is read live, at the wall clock's time: HR's event comes a minute after that
    with company.store.reading() as conn:
        read_at = latest_snapshots(conn)["wireguard"].collected_at
    effective = (read_at + timedelta(minutes=1)).replace(microsecond=0)
    body = json.dumps(
        {
            "event_id": "evt-77",
            "type": "employee.terminated",
            "employee": {"id": SOREN},
            "effective_at": effective.isoformat().replace("+00:00", "Z"),
        }
    ).encode()
    handled = handle_event(
        company.store,
        company.config,
        company.policy,
        parse_event(body, "test"),
        body,
        source="test",
        actor="hr",
        mode="plan",
        now=effective + timedelta(seconds=30),
    )
    assert handled.status == "planned"

    run = deprovision(company, SOREN, effective + timedelta(minutes=5))
    revoked = step_on(run, "wireguard")
    assert revoked.outcome == "done"
    report = leavers_report(
        company.store,
        company.config,
        company.policy,
        since=date(2026, 11, 1),
        now=effective + timedelta(hours=2),
    )

    assert [x.employee_id for x in report.leavers] == [SOREN]  # Erik left in September
    soren = report.leavers[0]
    assert (soren.terminated_at, soren.source, soren.event_id) == (effective, "hr-event", "evt-77")
    vpn = account(soren, "wireguard")
    assert (vpn.state, vpn.off_at, vpn.exact) == ("off", revoked.at, True)
    assert vpn.how == f"deprovision run #{run.run_id}"
    for system in ("okta", "ad", "entra", "aws"):  # disabled before the termination
        off = account(soren, system)
        assert (off.state, off.hours) == ("off-before", 0), system
        assert "before the termination" in off.how
    assert soren.last_off_at == revoked.at
    assert soren.hours == pytest.approx((revoked.at - effective).total_seconds() / 3600)
    assert soren.hours < 24
    assert (soren.within_sla, soren.flags) == (True, ())
    assert report.all_within_sla
    assert leavers_from_json(leavers_json(report)) == report
    assert cli(company, monkeypatch, "report", "--since", "2026-11-01") == 0


HOSTILE = '=HYPERLINK("http://evil.example","x")\x1b[2J'


def hostile_report() -> LeaversReport:
    at = datetime(2026, 11, 2, 10, 30, 15, 123456, tzinfo=UTC)
    return LeaversReport(
        since=date(2026, 11, 1),
        until=date(2026, 11, 30),
        generated_at=at + timedelta(days=3),
        sla_hours=24,
        hr_as_of=at,
        leavers=(
            Leaver(
                employee_id="E9\u202e9",
                name=HOSTILE,
                email="@evil.example",
                hr_status="terminated",
                end_date=date(2026, 11, 1),
                terminated_at=datetime(2026, 11, 2, tzinfo=UTC),
                source="hr-end-date",
                event_id=None,
                accounts=(
                    AccountOff(
                        system="okta",
                        account_id="00u1",
                        login="+cmd|' /C calc'!A0",
                        kind="human",
                        counted=True,
                        state="off",
                        off_at=at,
                        exact=True,
                        hours=10.504200,
                        how="deprovision run #1",
                    ),
                    AccountOff(
                        system="aws",
                        account_id="arn:aws:iam::1:user/bg",
                        login="-bg\r\nadmin",
                        kind="break-glass",
                        counted=False,
                        state="active",
                        off_at=None,
                        exact=False,
                        hours=None,
                        how="active in the latest snapshot",
                        note="break-glass account: listed, not counted towards the SLA",
                    ),
                ),
                last_off_at=at,
                hours=10.504200,
                within_sla=True,
                flags=(),
            ),
        ),
    )


def test_hostile_names_are_neutralised_and_json_reads_back() -> None:
    report = hostile_report()
    text = leavers_csv(report)
    assert "\x1b" not in text and "\u202e" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["system"] for r in rows] == ["okta", "aws"]
    for row in rows:
        assert row["name"] == "'" + HOSTILE.replace("\x1b", "\\x1b")
        assert row["email"].startswith("'@")
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row.values())
    assert rows[0]["account_login"].startswith("'+cmd")
    assert rows[1]["account_login"] == "'-bg\\r\\nadmin"
    assert (rows[1]["counts_towards_sla"], rows[1]["off_at"]) == ("no", "")
    assert rows[0]["off_at"] == "2026-11-02T10:30:15Z"
    for cells in (row.cells for row in table_rows(report)):
        assert not any(ch in cell for cell in cells for ch in "\x1b\u202e\r")
    assert "\x1b" not in leavers_text(report)
    assert "do not count towards the SLA" in leavers_text(report)

    written = leavers_json(report)
    assert written.isascii()
    assert json.loads(written)["leavers"][0]["name"] == HOSTILE  # the data, exactly
    assert leavers_from_json(written) == report


def test_a_state_already_loaded_gives_the_same_report(company: Company) -> None:
    """`iam-gov run` hands the state it has just evaluated to the drift report's leaver chart
    rather than load it again: the report must not differ."""
    from iam_gov.engine.load import load_state

    at = DEMO_NOW + timedelta(days=1)
    state = load_state(company.store, company.config, company.policy, now=at).state
    fresh = leavers_report(company.store, company.config, company.policy, since=SINCE, now=at)
    reused = leavers_report(
        company.store, company.config, company.policy, since=SINCE, now=at, state=state
    )
    assert reused == fresh and [x.employee_id for x in fresh.leavers] == [LEAVER, SOREN]
