"""Applying a plan on the demo company, whose WireGuard server is read from its own file:
the peer goes, every step is recorded and audited, the systems are read again; a stale plan
and a mass change are refused before anything changes; a failure is finished by --resume; a
system that does not answer in time is a failure, not a hang."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from iam_gov import audit
from iam_gov.collect import collect
from iam_gov.deprovision.executor import Executor, Refused
from iam_gov.deprovision.plan import Plan
from iam_gov.deprovision.planner import Request, make_plan
from iam_gov.store import Store
from iam_gov.store.schema import audit_log, deprovision_runs, deprovision_steps
from tests.deprovision.conftest import (
    DEMO_NOW,
    LEAVER,
    Company,
    break_glass_tunnel,
    company_in,
)

ERIK_PEER = "# iam-gov: login=erik.reyes email=erik.reyes@example.com"


def plan_for(company: Company, *who: str) -> Plan:
    return make_plan(
        company.store,
        company.config,
        company.policy,
        Request(who=list(who or [LEAVER]), reason="left", trigger="cli", actor="it@example.com"),
        now=DEMO_NOW,
    )


def executor(company: Company) -> Executor:
    return Executor(company.store, company.config, actor="it@example.com", os_user="it")


def outcomes(run_results: list, system: str) -> list[str]:  # type: ignore[type-arg]
    return [r.outcome for r in run_results if r.step.action.system == system]


def test_apply_removes_the_peer_records_and_audits_each_step(company: Company) -> None:
    plan = plan_for(company)
    assert ERIK_PEER in company.wg_conf.read_text()

    run = executor(company).apply(plan)

    assert ERIK_PEER not in company.wg_conf.read_text()
    assert outcomes(run.results, "wireguard") == ["done"]
    assert set(outcomes(run.results, "okta")) == {"skipped"}  # an export: by hand
    # the demo's PKI copy has no easy-rsa configuration: OpenVPN fails, the rest goes on
    assert outcomes(run.results, "openvpn") == ["failed"]
    assert run.status == "partial"
    # read again: the peer is gone from the new snapshot, nothing still present there
    assert not [s for s in run.still_present if s.startswith("wireguard")]
    with company.store.reading() as conn:
        steps = conn.execute(
            select(deprovision_steps).where(deprovision_steps.c.run_id == run.run_id)
        ).all()
        assert len(steps) == len(plan.steps)
        wg = next(s for s in steps if s.system == "wireguard")
        assert (wg.outcome, wg.person_id, wg.kind) == ("done", LEAVER, "disable-account")
        runs = conn.execute(select(deprovision_runs)).all()
        assert [(r.status, r.actor, r.os_user, r.plan_id) for r in runs] == [
            ("partial", "it@example.com", "it", plan.plan_id)
        ]
        records = conn.execute(
            select(audit_log.c.action, audit_log.c.target, audit_log.c.details).where(
                audit_log.c.action.like("deprovision.%")
            )
        ).all()
        assert [r.action for r in records][0] == "deprovision.start"
        assert [r.action for r in records][-1] == "deprovision.finish"
        actions = [r for r in records if r.action == "deprovision.action"]
        assert len(actions) == len(plan.steps)
        peer = next(r for r in actions if r.target.startswith("wireguard:"))
        assert peer.details["outcome"] == "done" and peer.details["reason"].endswith("left")
        assert audit.verify(conn).ok


def test_a_stale_saved_plan_is_refused_and_changes_nothing(company: Company) -> None:
    plan = plan_for(company)
    # someone takes his peer out by hand meanwhile: the plan no longer describes wg0.conf
    lines = company.wg_conf.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith(ERIK_PEER))
    end = next(i for i in range(at + 2, len(lines)) if not lines[i].strip())
    company.wg_conf.write_text("".join(lines[:at] + lines[end:]))
    collect(company.config, company.store, ["wireguard"])
    before = company.wg_conf.read_bytes()

    with pytest.raises(Refused, match="wireguard: the plan was made from the snapshot"):
        executor(company).apply(plan)

    assert company.wg_conf.read_bytes() == before
    with company.store.reading() as conn:
        assert conn.execute(select(deprovision_runs)).all() == []
        refused = conn.execute(
            select(audit_log.c.details).where(audit_log.c.action == "deprovision.refused")
        ).scalar_one()
    assert "changed since the plan was made" in refused["why"]


def test_a_mass_change_needs_allow_mass_and_is_audited(store: Store, tmp_path: Path) -> None:
    company = company_in(
        tmp_path / "demo",
        store,
        "[deprovision]\nmax_snapshot_age_hours = 1000000\nmax_accounts = 1\n",
    )
    plan = plan_for(company)  # disables his OpenVPN and WireGuard accounts: two
    before = company.wg_conf.read_bytes()

    with pytest.raises(Refused, match="would disable 2 accounts, more than max_accounts = 1"):
        executor(company).apply(plan)
    assert company.wg_conf.read_bytes() == before

    run = executor(company).apply(plan, allow_mass=True)
    assert outcomes(run.results, "wireguard") == ["done"]
    with company.store.reading() as conn:
        start = conn.execute(
            select(audit_log.c.details).where(audit_log.c.action == "deprovision.start")
        ).scalar_one()
        assert conn.execute(select(deprovision_runs.c.allow_mass)).scalar_one() is True
    assert "more than max_accounts = 1" in start["allow_mass"]


def test_resume_finishes_only_what_is_left(company: Company) -> None:
    plan = plan_for(company)
    saved = company.wg_conf.read_bytes()
    company.wg_conf.unlink()
    company.wg_conf.symlink_to(company.root / "nowhere.conf")  # the file cannot be read

    first = executor(company).apply(plan, verify=False)
    assert outcomes(first.results, "wireguard") == ["failed"]
    assert "cannot be read" in next(
        r.message for r in first.results if r.step.action.system == "wireguard"
    )
    assert first.status == "partial"

    company.wg_conf.unlink()
    company.wg_conf.write_bytes(saved)
    second = executor(company).apply(plan, resume=True, verify=False)

    assert outcomes(second.results, "wireguard") == ["done"]
    assert ERIK_PEER not in company.wg_conf.read_text()
    with company.store.reading() as conn:
        resumes = conn.execute(
            select(deprovision_runs.c.resumes).where(deprovision_runs.c.id == second.run_id)
        ).scalar_one()
    # nothing settled in the first run (the rest was skipped or failed): resumes names none
    assert resumes is None
    third = executor(company).apply(plan, resume=True, verify=False)
    wg = next(r for r in third.results if r.step.action.system == "wireguard")
    assert (wg.outcome, wg.message) == ("noop", f"done in run #{second.run_id} (resumed)")


def test_a_system_that_does_not_answer_is_a_failure_not_a_hang(
    store: Store, tmp_path: Path
) -> None:
    """WireGuard with a running interface whose `wg` never answers: the action is reported
    failed after action_timeout_seconds, and the run goes on."""
    wg = tmp_path / "slow-wg"
    wg.write_text("#!/bin/sh\nsleep 30\n")
    wg.chmod(wg.stat().st_mode | stat.S_IXUSR)
    company = company_in(
        tmp_path / "demo",
        store,
        "[deprovision]\nmax_snapshot_age_hours = 1000000\naction_timeout_seconds = 1\n",
    )
    options = company.config.systems["wireguard"].model_copy(
        update={"interface": "wg0", "wg_command": (os.fspath(wg),)}
    )
    config = company.config.model_copy(
        update={"systems": {**company.config.systems, "wireguard": options}}
    )
    plan = plan_for(company)

    run = Executor(store, config, actor="it@example.com").apply(plan, verify=False)

    wg_result = next(r for r in run.results if r.step.action.system == "wireguard")
    assert wg_result.outcome == "failed"
    assert "no answer from wireguard within 1 s" in wg_result.message
    assert run.results[-1].step.seq == len(plan.steps)  # the steps after it still ran


def test_a_plan_file_edited_to_touch_another_account_is_refused(
    company: Company, tmp_path: Path
) -> None:
    plan = plan_for(company)
    hana = "WZLkS/+PjiBrXNVzzNMjkbVZWkmJYXLVVD9VO1CFiGs="  # a colleague's peer, not his
    steps = [
        s.model_copy(update={"action": s.action.model_copy(update={"account_id": hana})})
        if s.action.system == "wireguard"
        else s
        for s in plan.steps
    ]
    edited = plan.model_copy(update={"steps": steps})
    before = company.wg_conf.read_bytes()

    with pytest.raises(Refused, match="was the plan file edited"):
        executor(company).apply(edited)
    assert company.wg_conf.read_bytes() == before


def test_a_protected_account_stays_protected_whatever_the_plan_file_says(
    store: Store, tmp_path: Path
) -> None:
    """His WireGuard peer is declared break-glass in the policy and linked to him by hand: a
    plan file with that step's ``skip`` taken out still leaves it alone."""
    company = break_glass_tunnel(tmp_path / "demo", store)
    root, config, policy = company.root, company.config, company.policy
    plan = make_plan(
        store,
        config,
        policy,
        Request(who=[LEAVER], reason="left", trigger="cli", actor="it@example.com"),
        now=DEMO_NOW,
    )
    unskipped = plan.model_copy(
        update={
            "steps": [
                s.model_copy(update={"skip": None}) if s.action.system == "wireguard" else s
                for s in plan.steps
            ]
        }
    )
    before = (root / "wireguard" / "wg0.conf").read_bytes()

    run = Executor(store, config, actor="it@example.com").apply(unskipped, verify=False)

    [wg] = [r for r in run.results if r.step.action.system == "wireguard"]
    assert wg.outcome == "skipped" and wg.message.startswith("protected: a break-glass account")
    assert (root / "wireguard" / "wg0.conf").read_bytes() == before


def test_an_audit_log_that_cannot_be_written_stops_the_run_before_any_change(
    company: Company,
) -> None:
    plan = plan_for(company)
    with company.store.writing() as conn:  # the log refuses the first action's record
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER full_disk BEFORE INSERT ON audit_log "
                "WHEN NEW.action = 'deprovision.intent' "
                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.action = 'deprovision.intent' THEN "
                "RAISE EXCEPTION 'database or disk is full'; END IF; RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER full_disk BEFORE INSERT ON audit_log "
                "FOR EACH ROW EXECUTE FUNCTION full_disk()"
            )

    with pytest.raises(Exception, match="database or disk is full"):
        executor(company).apply(plan)

    assert ERIK_PEER in company.wg_conf.read_text()  # the system was not touched
    with company.store.reading() as conn:
        done = conn.execute(
            select(deprovision_steps.c.outcome).where(deprovision_steps.c.outcome == "done")
        ).all()
    assert done == []


def test_a_step_announced_by_a_run_that_stopped_is_said_to_be_taken_again(
    company: Company,
) -> None:
    """A run that stops between announcing an action and recording its outcome (killed,
    power cut): the resumed run takes the step again and says the system may have had it
    twice, naming the run that stopped."""
    plan = plan_for(company)
    with company.store.writing() as conn:  # WireGuard's outcome cannot be recorded
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER cut BEFORE INSERT ON deprovision_steps "
                "WHEN NEW.system = 'wireguard' "
                "BEGIN SELECT RAISE(ABORT, 'the power went'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION cut() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.system = 'wireguard' THEN "
                "RAISE EXCEPTION 'the power went'; END IF; RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER cut BEFORE INSERT ON deprovision_steps "
                "FOR EACH ROW EXECUTE FUNCTION cut()"
            )
    with pytest.raises(Exception, match="the power went"):
        executor(company).apply(plan, verify=False)
    assert ERIK_PEER not in company.wg_conf.read_text()  # it was taken, not recorded
    with company.store.writing() as conn:
        conn.exec_driver_sql(
            "DROP TRIGGER cut" + ("" if conn.dialect.name == "sqlite" else " ON deprovision_steps")
        )
        stopped = conn.execute(select(deprovision_runs.c.id)).scalar_one()

    resumed = executor(company).apply(plan, resume=True, verify=False)

    wg = next(r for r in resumed.results if r.step.action.system == "wireguard")
    assert wg.details["cut_short_in_run"] == stopped
    assert f"taken again: run #{stopped} announced it" in wg.message
    others = [r for r in resumed.results if r.step.action.system != "wireguard"]
    assert others and all("cut_short_in_run" not in r.details for r in others)
    # a later resume finds it settled, and says nothing about a cut
    again = executor(company).apply(plan, resume=True, verify=False)
    wg = next(r for r in again.results if r.step.action.system == "wireguard")
    assert wg.outcome == "noop" and "cut_short_in_run" not in wg.details
