"""Deprovisioning end to end, against live systems: a real slapd, a moto IAM, the local Okta
and Microsoft Graph, a real easy-rsa PKI and a WireGuard configuration file, with HR a CSV
file (see ``live_company``).

Each test starts from the same company, seeded afresh in every system, collected and
evaluated: Lena left two weeks ago and still has an account everywhere; Ada works on and
shares her groups and VPNs; Omar keeps the AWS break-glass account. A plan changes nothing;
applying it ends Lena's access in every system and proves it (steps, audit log, a second
collect); a second run is all noops; a failing system does not stop the others and
``resume`` finishes it; the mass, break-glass and stale-plan guards stop before any change.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from iam_gov import audit
from iam_gov.collect import collect
from iam_gov.deprovision.executor import Refused, RunResult
from iam_gov.deprovision.plan import Plan, Step, load_plan_file, save_plan
from iam_gov.model import ActionKind
from iam_gov.store import Store
from iam_gov.store.schema import deprovision_runs
from tests.connectors.aws.conftest import aws_env, moto_server
from tests.connectors.okta.test_connector import okta_env
from tests.deprovision.live_company import (
    ACTIVE,
    ACTOR,
    BREAK_GLASS,
    DOMAIN,
    ENTRA_ENGINEERING,
    KEYHOLDER,
    LEAVER,
    OTHER,
    VPN_PEOPLE,
    Employee,
    LiveCompany,
    Servers,
    WireGuardKeys,
    acme_org,
    add_vpn_clients,
    build_company,
    entra_id,
)
from tests.support.graph_server import CLIENT_SECRET, GraphServer, running_server
from tests.support.graph_tenant import SECRET_ENV
from tests.support.okta_server import OktaServer
from tests.support.pki import demo_pki
from tests.support.slapd import ThrowawaySlapd, person_dn, seeded_slapd
from tests.support.wireguard import keypair, require_wg

__all__ = ["aws_env", "moto_server", "okta_env"]

REASON = "left the company, ticket HR-1234"
LOCKED = "000001010000Z"
"""pwdAccountLockedTime of an account an administrator locked (until unlocked)."""
STAYING = (ACTIVE, KEYHOLDER, OTHER)

LEAVERS_PLAN = {
    # sign-in first: nobody can sign in any more, and sessions end
    ("okta", "disable-account", ""): "done",
    ("okta", "revoke-sessions", ""): "done",
    ("entra", "disable-account", ""): "done",
    ("entra", "revoke-sessions", ""): "done",
    ("ldap", "disable-account", ""): "done",
    # then the credentials that outlive it: each named credential first, then the account
    # as a whole, which finds nothing left to do
    ("aws", "deactivate-credential", "access_key_1"): "done",
    ("aws", "deactivate-credential", "password"): "done",
    ("aws", "disable-account", ""): "noop",
    ("openvpn", "disable-account", ""): "done",
    ("wireguard", "disable-account", ""): "done",
    # last the direct memberships (Okta's built-in Everyone is not one to remove)
    ("okta", "remove-grant", "Engineering"): "done",
    ("entra", "remove-grant", "Engineering"): "done",
    ("ldap", "remove-grant", "acme-engineering"): "done",
    ("aws", "remove-grant", "developers"): "done",
}
"""Lena's plan, step by step in order, and what applying it does."""


# --- the servers (once per module) and the company (once per test) ------------------------


@pytest.fixture(scope="module")
def graph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphServer]:
    yield from running_server(tmp_path_factory)


@pytest.fixture(scope="module")
def slapd() -> Iterator[ThrowawaySlapd]:
    with seeded_slapd() as server:
        yield server


@pytest.fixture(scope="module")
def servers(
    okta_env: None,
    aws_env: None,
    moto_server: str,
    graph_server: GraphServer,
    slapd: ThrowawaySlapd,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Servers]:
    require_wg()
    demo = demo_pki(tmp_path_factory, tmp_path_factory.mktemp("acme-pki") / "easy-rsa")
    serials = add_vpn_clients(demo.pki)
    server_private, _ = keypair()
    wireguard = WireGuardKeys(server_private, {p.login: keypair()[1] for p in VPN_PEOPLE})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_ENV, CLIENT_SECRET)
        yield Servers(slapd, graph_server, moto_server, demo.pki, serials, wireguard)


@pytest.fixture
def okta(servers: Servers) -> Iterator[OktaServer]:
    """A new Okta for each test: the org is its state."""
    with OktaServer(acme_org()) as running:
        yield running


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path}/iam-gov.db") as opened:
        yield opened


@pytest.fixture
def company(servers: Servers, okta: OktaServer, sqlite_store: Store, tmp_path: Path) -> LiveCompany:
    """Acme on a SQLite store."""
    return build_company(tmp_path / "acme", sqlite_store, servers, okta)


@pytest.fixture
def any_company(servers: Servers, okta: OktaServer, store: Store, tmp_path: Path) -> LiveCompany:
    """Acme on SQLite, then on PostgreSQL."""
    return build_company(tmp_path / "acme", store, servers, okta)


# --- helpers ---------------------------------------------------------------------------------


def what(step: Step) -> tuple[str, str, str]:
    """(system, action, the group or credential it is about, or "")."""
    action = step.action
    detail = step.entitlement_name or (action.credential_id or "").rpartition("#")[2]
    return action.system, action.kind.value, detail


def outcomes(run: RunResult) -> dict[tuple[str, str, str], str]:
    return {what(r.step): r.outcome for r in run.results}


def of(state: dict[str, Any], *logins: str) -> dict[str, Any]:
    """The part of ``LiveCompany.state`` about these logins (or their e-mail addresses), in
    every system: to tell that a run left these people alone."""
    keys = {*logins, *(f"{login}@{DOMAIN}" for login in logins)}
    return {
        system: {k: v for k, v in held.items() if k in keys}
        for system, held in state.items()
        if isinstance(held, dict)
    }


def untouched(before: dict[str, Any], after: dict[str, Any]) -> None:
    staying = [p.login for p in STAYING] + [BREAK_GLASS]
    assert of(after, *staying) == of(before, *staying)


NO_WRITES: dict[str, list[str]] = {"okta": [], "entra": [], "ldap": []}
"""What ``LiveCompany.writes`` says when no server was written to."""


def okta_user(company: LiveCompany, person: Employee) -> Any:
    return company.okta.org.user(person.email)


def cli(company: LiveCompany, *args: str) -> subprocess.CompletedProcess[str]:
    """``iam-gov`` run as a user runs it, on this company's configuration and store; the
    live systems' secrets come from the environment, as the fixtures set it."""
    script = Path(sys.executable).with_name("iam-gov")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "iam_gov"]
    env = {**os.environ, "IAM_GOV_ACTOR": ACTOR, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [
            *command,
            "--config",
            str(company.config_file),
            "--database-url",
            company.store.url,
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


# --- the tests -------------------------------------------------------------------------------


def test_one_leaver_is_deprovisioned_in_every_system(any_company: LiveCompany) -> None:
    """Lena's plan covers every system; making it changes nothing; applying it disables
    each account, ends its sessions and credentials, removes her direct memberships, leaves
    everyone else alone, re-reads the systems to prove it, and records and audits each
    step."""
    company = any_company
    before = company.state()

    plan = company.plan(LEAVER, reason=REASON)

    assert company.writes() == NO_WRITES
    assert company.state() == before
    assert [p.employee_id for p in plan.people] == [LEAVER.employee_id]
    assert plan.people[0].left and plan.problems == []
    assert [what(s) for s in plan.steps] == list(LEAVERS_PLAN)
    assert all(s.skip is None and s.person_id == LEAVER.employee_id for s in plan.steps)
    assert {b.system for b in plan.basis} == {
        "okta", "entra", "ldap", "aws", "openvpn", "wireguard"
    }  # fmt: skip

    run = company.executor().apply(plan)

    assert outcomes(run) == LEAVERS_PLAN, [r.message for r in run.results]
    assert (run.status, run.still_present, run.unverified) == ("done", [], [])
    after = company.state()
    untouched(before, after)
    # Okta: deactivated, every session ended and OAuth token revoked, out of Engineering
    lena = okta_user(company, LEAVER)
    assert lena.status == "DEPROVISIONED"
    assert lena.sessions_revoked == [True]
    sessions = [s for s in company.okta.seen if s.method == "DELETE" and "sessions" in s.path]
    assert [(s.path, s.query, s.status) for s in sessions] == [
        (f"/api/v1/users/{lena.id}/sessions", {"oauthTokens": "true"}, 204)
    ]
    assert after["okta"][LEAVER.email][1] == ["Everyone"]
    # Entra: sign-in blocked, sessions revoked, out of Engineering
    lena_id = entra_id(LEAVER)
    assert company.writes()["entra"] == [
        f"PATCH /users/{lena_id}",
        f"POST /users/{lena_id}/revokeSignInSessions",
        f"DELETE /groups/{ENTRA_ENGINEERING}/members/{lena_id}/$ref",
    ]
    enabled, valid_from, groups = after["entra"][LEAVER.email]
    assert enabled is False and groups == []
    assert valid_from != before["entra"][LEAVER.email][1]
    # LDAP: locked by an administrator, out of acme-engineering
    assert after["ldap"][LEAVER.login] == [LOCKED]
    assert after["ldap"]["acme-engineering"] == [person_dn(ACTIVE.login).lower()]
    assert after["ldap"]["acme-oncall"] == before["ldap"]["acme-oncall"]
    # AWS: no console password, every access key inactive, out of developers
    aws = after["aws"][LEAVER.login]
    assert aws["password"] is False and aws["groups"] == []
    assert [status for _, status in aws["keys"]] == ["Inactive"]
    # OpenVPN: revoked in the PKI's index and listed in the CRL the server reads
    serial = company.servers.serials[LEAVER.login]
    assert company.pki.status_of(serial) == "R"
    assert serial in company.crl_serials()
    assert company.pki.status_of(company.servers.serials[ACTIVE.login]) == "V"
    assert company.servers.serials[ACTIVE.login] not in company.crl_serials()
    # WireGuard: her peer is out of the file, Ada's is not
    conf = company.wg_conf.read_text()
    keys = company.servers.wireguard.peers
    assert keys[LEAVER.login] not in conf and keys[ACTIVE.login] in conf

    # Every step recorded, and audited with who, why and what came of it
    (row,) = company.runs()
    assert (row.id, row.plan_id, row.status, row.actor) == (run.run_id, plan.plan_id, "done", ACTOR)
    assert (row.reason, row.trigger, row.allow_mass, row.resumes) == (REASON, "cli", False, None)
    assert row.finished_at is not None
    steps = company.steps_of(run.run_id)
    assert [(s.step_id, s.outcome) for s in steps] == [
        (r.step.step_id, r.outcome) for r in run.results
    ]
    assert {s.person_id for s in steps} == {LEAVER.employee_id}
    assert all(s.message for s in steps)
    actions = company.audit("deprovision.action")
    assert [(a.details["step"], a.details["outcome"]) for a in actions] == [
        (r.step.step_id, r.outcome) for r in run.results
    ]
    for record in actions:
        assert record.actor == audit.attributed(ACTOR)
        assert record.details["run_id"] == run.run_id
        assert record.details["person_id"] == LEAVER.employee_id
        assert record.details["reason"].startswith(f"Lena Leaver (E100) leaves: {REASON}")
    (start,) = company.audit("deprovision.start")
    (finish,) = company.audit("deprovision.finish")
    assert start.details["reason"] == REASON and start.details["people"] == ["E100"]
    assert start.seq < actions[0].seq and actions[-1].seq < finish.seq
    assert finish.details["status"] == "done"
    assert (finish.details["done"], finish.details["noop"], finish.details["failed"]) == (13, 1, 0)
    with company.store.reading() as conn:
        verified = audit.verify(conn)
    assert verified.ok, verified.problem


def test_the_same_run_again_is_all_noop(company: LiveCompany) -> None:
    """After Lena's run, a new plan for her (from the snapshots the run's verification took)
    finds her accounts off: nothing is skipped, sessions are not ended again (no system can
    say whether there are any, so asking again would "apply" every time), every step is a
    noop and no system is written to."""
    first = company.executor().apply(company.plan(LEAVER))
    assert first.status == "done"
    company.mark()
    before = company.state()

    again = company.plan(LEAVER)

    # WireGuard has no peer of hers left; the rest still know a (disabled) account
    assert {s.action.system for s in again.steps} == {"okta", "entra", "ldap", "aws", "openvpn"}
    assert {s.action.kind for s in again.steps} == {ActionKind.DISABLE_ACCOUNT}
    assert again.problems == [] and all(s.skip is None for s in again.steps)

    run = company.executor().apply(again)

    assert [r.outcome for r in run.results] == ["noop"] * len(again.steps), [
        r.message for r in run.results
    ]
    assert (run.status, run.still_present, run.unverified) == ("done", [], [])
    assert "already deactivated" in run.results[0].message
    assert company.writes() == NO_WRITES
    assert company.state() == before


def test_a_failing_system_does_not_stop_the_others_and_resume_finishes_it(
    company: LiveCompany,
) -> None:
    """Okta answers every change with 503: its steps fail, every other system is done and
    the run is partial. Once Okta is back, resuming the stored plan carries out only the
    Okta steps; the others are noops naming the earlier run, and nothing else is written.
    (Without verification here; ``test_resume_after_a_verified_partial_run`` has it.)"""
    plan = company.plan(LEAVER)
    company.okta.fail("POST", ".", status=503, times=None)
    company.okta.fail("DELETE", ".", status=503, times=None)

    first = company.executor().apply(plan, verify=False)

    assert first.status == "partial"
    failed = {what(r.step): r.message for r in first.results if r.outcome == "failed"}
    assert set(failed) == {k for k in LEAVERS_PLAN if k[0] == "okta"}
    assert all("HTTP 503" in message for message in failed.values())
    others = {k: o for k, o in outcomes(first).items() if k[0] != "okta"}
    assert others == {k: o for k, o in LEAVERS_PLAN.items() if k[0] != "okta"}
    lena = okta_user(company, LEAVER)
    assert lena.status == "ACTIVE" and lena.sessions_revoked == []
    assert company.state()["okta"][LEAVER.email][1] == ["Engineering", "Everyone"]
    assert company.state()["entra"][LEAVER.email][0] is False

    company.okta.faults.clear()
    company.mark()
    before = company.state()
    with company.store.reading() as conn:
        stored = Plan.model_validate(
            conn.execute(
                select(deprovision_runs.c.plan).where(deprovision_runs.c.id == first.run_id)
            ).scalar_one()
        )
    assert stored.plan_id == plan.plan_id

    resumed = company.executor().apply(stored, resume=True)

    assert (resumed.status, resumed.still_present, resumed.unverified) == ("done", [], [])
    for result in resumed.results:
        if result.step.action.system == "okta":
            assert result.outcome == "done", result.message
        else:
            assert result.outcome == "noop"
            assert result.message.endswith(f"in run #{first.run_id} (resumed)")
            assert result.details == {"settled_in_run": first.run_id}
    assert lena.status == "DEPROVISIONED" and lena.sessions_revoked == [True]
    assert company.writes() == {
        "okta": [
            f"POST /api/v1/users/{lena.id}/lifecycle/deactivate",
            f"DELETE /api/v1/users/{lena.id}/sessions",
            f"DELETE /api/v1/groups/{company.okta.org.group('Engineering').id}/users/{lena.id}",
        ],
        "entra": [],
        "ldap": [],
    }
    after = company.state()
    assert {k: v for k, v in after.items() if k != "okta"} == {
        k: v for k, v in before.items() if k != "okta"
    }
    runs = company.runs()
    assert [(r.id, r.status, r.resumes) for r in runs] == [
        (first.run_id, "partial", None),
        (resumed.run_id, "done", first.run_id),
    ]


def test_resume_after_a_verified_partial_run(company: LiveCompany) -> None:
    """What ``iam-gov deprovision --apply`` then ``--apply --resume`` do: the failing run is
    verified (the default), and the resumption must still finish Okta."""
    plan = company.plan(LEAVER)
    company.okta.fail("POST", ".", status=503, times=None)
    company.okta.fail("DELETE", ".", status=503, times=None)
    first = company.executor().apply(plan)
    assert first.status == "partial"
    company.okta.faults.clear()

    resumed = company.executor().apply(plan, resume=True)

    assert resumed.status == "done"
    assert okta_user(company, LEAVER).status == "DEPROVISIONED"


def test_a_mass_change_is_refused_unless_allowed(company: LiveCompany) -> None:
    """With ``max_accounts = 2``, Lena's six accounts are a mass change: refused before
    anything is touched (and the refusal audited); with ``allow_mass`` it goes ahead, and
    the run's audit record says it was allowed and why."""
    config = company.with_deprovision(max_accounts=2)
    plan = company.plan(LEAVER)
    before = company.state()

    with pytest.raises(Refused) as refused:
        company.executor(config).apply(plan)

    message = str(refused.value)
    assert message.startswith("refused: a mass change; nothing was changed")
    assert "would disable 6 accounts, more than max_accounts = 2" in message
    assert "--allow-mass" in message
    assert company.writes() == NO_WRITES
    assert company.state() == before
    assert company.runs() == []
    (record,) = company.audit("deprovision.refused")
    assert record.actor == audit.attributed(ACTOR) and record.details["why"] == "a mass change"

    run = company.executor(config).apply(plan, allow_mass=True)

    assert (run.status, run.still_present) == ("done", [])
    assert outcomes(run) == LEAVERS_PLAN
    (row,) = company.runs()
    assert row.allow_mass is True
    (start,) = company.audit("deprovision.start")
    assert start.actor == audit.attributed(ACTOR)
    assert start.details["allow_mass"].startswith("the run would disable 6 accounts")


def test_a_break_glass_account_is_never_touched(company: LiveCompany) -> None:
    """Omar keeps the AWS break-glass account, declared ``kind: break-glass`` in the policy
    and linked to him by hand: his plan lists it, every step of it skipped as protected, and
    applying the plan disables his own accounts but leaves the break-glass one as it was."""
    plan = company.plan(KEYHOLDER)

    glass = [s for s in plan.steps if s.account_login == BREAK_GLASS]
    assert [what(s)[1:] for s in glass] == [
        ("deactivate-credential", "access_key_1"),
        ("deactivate-credential", "password"),
        ("disable-account", ""),
        ("remove-grant", "admins"),
    ]
    assert all((s.skip or "").startswith("protected: a break-glass account") for s in glass)
    own = [s for s in plan.steps if s.account_login != BREAK_GLASS]
    assert {s.action.system for s in own} == {"okta", "entra", "ldap", "aws"}
    assert all(s.skip is None for s in own)
    before = company.state()

    run = company.executor().apply(plan)

    skipped = [r for r in run.results if r.outcome == "skipped"]
    assert [r.step.step_id for r in skipped] == [s.step_id for s in glass]
    assert all(r.message.startswith("protected: a break-glass") for r in skipped)
    assert all(r.outcome in {"done", "noop"} for r in run.results if r not in skipped)
    # a protected account left alone is what the plan means: the run is done, not partial
    assert run.status == "done" and run.still_present == []
    after = company.state()
    assert after["aws"][BREAK_GLASS] == before["aws"][BREAK_GLASS]
    assert after["aws"][BREAK_GLASS]["password"] is True
    assert [s for _, s in after["aws"][BREAK_GLASS]["keys"]] == ["Active"]
    assert after["aws"][BREAK_GLASS]["groups"] == ["admins"]
    assert after["aws"][KEYHOLDER.login]["password"] is False
    assert okta_user(company, KEYHOLDER).status == "DEPROVISIONED"


def test_a_saved_plan_the_systems_moved_away_from_is_refused(
    company: LiveCompany, tmp_path: Path
) -> None:
    """A plan saved, then Lena gets a new AWS access key and AWS is collected again: the
    saved plan no longer describes her accounts, so applying it is refused, naming AWS,
    before anything is changed anywhere. A new plan covers the new key."""
    path = tmp_path / "plan.json"
    save_plan(company.plan(LEAVER), path)
    new_key = company.iam.create_access_key(UserName=LEAVER.login)["AccessKey"]["AccessKeyId"]
    collect(company.config, company.store, ["aws"])
    company.mark()
    before = company.state()
    saved = load_plan_file(path)

    with pytest.raises(Refused) as refused:
        company.executor().apply(saved)

    lines = str(refused.value).splitlines()
    assert lines[0] == "refused: the systems changed since the plan was made; nothing was changed"
    assert [line.split(":")[0] for line in lines[1:-1]] == ["aws"]
    assert "shows a different state of the accounts it touches" in lines[1]
    assert lines[-1] == "make a new plan (without --plan) and check it"
    assert company.writes() == NO_WRITES
    assert company.state() == before
    assert (new_key, "Active") in before["aws"][LEAVER.login]["keys"]
    assert company.runs() == []
    (record,) = company.audit("deprovision.refused")
    assert record.details["why"] == "the systems changed since the plan was made"

    fresh = company.plan(LEAVER)
    credentials = [w for w in map(what, fresh.steps) if w[1] == "deactivate-credential"]
    assert sorted(c[2] for c in credentials) == ["access_key_1", "access_key_2", "password"]


def test_the_cli_plans_applies_and_resumes_with_exit_codes(
    servers: Servers, okta: OktaServer, sqlite_store: Store, tmp_path: Path
) -> None:
    """``iam-gov deprovision`` as an operator runs it: a dry run saves the plan and changes
    nothing (exit 0); applying it while Okta fails is partial (exit 1); ``--apply --resume``
    then finishes it (exit 0), the systems read again after each run; the audit log
    verifies."""
    company = build_company(tmp_path / "acme", sqlite_store, servers, okta)
    plan_file = tmp_path / "lena.json"
    before = company.state()

    dry = cli(
        company, "deprovision", LEAVER.email, "--reason", REASON, "--plan-out", str(plan_file)
    )

    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "dry run: nothing was changed" in dry.stdout
    assert "14 action(s): 14 to carry out, 0 skipped" in dry.stdout
    assert f"to carry it out: iam-gov deprovision --apply --plan {plan_file}" in dry.stdout
    assert company.writes() == NO_WRITES
    assert company.state() == before
    assert load_plan_file(plan_file).reason == REASON

    okta.fail("POST", ".", status=503, times=None)
    okta.fail("DELETE", ".", status=503, times=None)
    partial = cli(company, "deprovision", "--apply", "--plan", str(plan_file))

    assert partial.returncode == 1, partial.stdout + partial.stderr
    assert "run #1 partial: 10 done, 1 noop, 3 failed" in partial.stdout
    assert "`iam-gov deprovision --apply --resume` finishes what is left" in partial.stdout
    assert okta_user(company, LEAVER).status == "ACTIVE"
    assert company.state()["entra"][LEAVER.email][0] is False

    okta.faults.clear()
    resumed = cli(company, "deprovision", "--apply", "--resume")

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "run #2 done: 3 done, 11 noop" in resumed.stdout
    assert okta_user(company, LEAVER).status == "DEPROVISIONED"
    assert [(r.status, r.resumes, r.actor) for r in company.runs()] == [
        ("partial", None, ACTOR),
        ("done", 1, ACTOR),
    ]

    verified = cli(company, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit log OK" in verified.stdout
