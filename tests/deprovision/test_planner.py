"""Plans for a leaver: every linked account in every system, the actions in order, the
reasons; protected accounts and unusable systems skipped with the reason; nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam_gov.deprovision.plan import PHASES, load_plan_file, save_plan
from iam_gov.deprovision.planner import PlanError, Request, make_plan
from iam_gov.model import ActionKind
from iam_gov.store import Store
from tests.deprovision.conftest import (
    DEMO_NOW,
    LEAVER,
    Company,
    break_glass_tunnel,
    company_in,
)


def request(*who: str, **extra: object) -> Request:
    return Request(
        who=list(who), reason="left on 2026-09-29", trigger="cli", actor="it@example.com", **extra
    )  # type: ignore[arg-type]


def test_a_leavers_plan_covers_every_system_in_order(company: Company) -> None:
    before = company.wg_conf.read_bytes()
    plan = make_plan(company.store, company.config, company.policy, request(LEAVER), now=DEMO_NOW)

    assert company.wg_conf.read_bytes() == before  # planning changes nothing
    assert [p.employee_id for p in plan.people] == [LEAVER] and plan.people[0].left
    by_system = {s.action.system for s in plan.steps}
    assert by_system == {"okta", "ad", "entra", "openvpn", "wireguard", "aws"}
    kinds = {(s.action.system, s.action.kind) for s in plan.steps}
    assert {
        ("okta", ActionKind.DISABLE_ACCOUNT),
        ("okta", ActionKind.REVOKE_SESSIONS),
        ("entra", ActionKind.DISABLE_ACCOUNT),
        ("entra", ActionKind.REVOKE_SESSIONS),
        ("ad", ActionKind.DISABLE_ACCOUNT),
        ("openvpn", ActionKind.DISABLE_ACCOUNT),
        ("wireguard", ActionKind.DISABLE_ACCOUNT),
        ("aws", ActionKind.DEACTIVATE_CREDENTIAL),
        ("aws", ActionKind.DISABLE_ACCOUNT),
        ("aws", ActionKind.REMOVE_GRANT),
    } <= kinds
    # his console password and his active key, each named
    credentials = {s.action.credential_id for s in plan.steps if s.action.credential_id}
    assert {c.rsplit("#", 1)[1] for c in credentials} == {"password", "access_key_1"}
    # sign-in first, long-lived credentials next, memberships last; numbered in that order
    assert [s.seq for s in plan.steps] == list(range(1, len(plan.steps) + 1))
    phases = [PHASES.index(s.phase) for s in plan.steps]
    assert phases == sorted(phases)
    aws = [s.action.kind for s in plan.steps if s.action.system == "aws"]
    assert aws.index(ActionKind.DEACTIVATE_CREDENTIAL) < aws.index(ActionKind.DISABLE_ACCOUNT)
    # Okta's built-in Everyone group nobody can leave is not planned
    assert "Everyone" not in {s.entitlement_name for s in plan.steps}
    assert all(s.action.reason.startswith("Erik Reyes (E1019) leaves") for s in plan.steps)


def test_exports_cannot_be_changed_and_the_plan_says_so(company: Company) -> None:
    plan = make_plan(company.store, company.config, company.policy, request(LEAVER), now=DEMO_NOW)

    skipped = {s.action.system for s in plan.steps if s.skip}
    assert skipped == {"okta", "ad", "entra", "aws"}
    assert {s.action.system for s in plan.active_steps()} == {"openvpn", "wireguard"}
    assert any(p.startswith("okta: an export cannot be changed") for p in plan.problems)


def test_a_break_glass_account_is_skipped_even_when_linked_to_the_leaver(
    store: Store, tmp_path: Path
) -> None:
    """His WireGuard tunnel declared break-glass (the on-call laptop) and linked to him by
    hand: the plan lists it, skipped as protected, and applying it leaves it alone."""
    from iam_gov.deprovision.executor import Executor

    company = break_glass_tunnel(tmp_path / "demo", store)
    root, config, policy = company.root, company.config, company.policy
    plan = make_plan(store, config, policy, request(LEAVER), now=DEMO_NOW)

    wireguard = [s for s in plan.steps if s.action.system == "wireguard"]
    assert wireguard and all(
        (s.skip or "").startswith("protected: a break-glass") for s in wireguard
    )
    before = (root / "wireguard" / "wg0.conf").read_bytes()
    run = Executor(store, config, actor="it@example.com").apply(plan, verify=False)
    assert {r.outcome for r in run.results if r.step.action.system == "wireguard"} == {"skipped"}
    assert (root / "wireguard" / "wg0.conf").read_bytes() == before


def test_old_data_is_not_acted_on(store: Store, tmp_path: Path) -> None:
    company = company_in(tmp_path / "demo", store, "[deprovision]\nmax_snapshot_age_hours = 24\n")
    plan = make_plan(company.store, company.config, company.policy, request(LEAVER))

    openvpn = [s for s in plan.steps if s.action.system == "openvpn"]
    assert openvpn and "hours old" in (openvpn[0].skip or "")
    assert any("openvpn: the latest snapshot is" in p for p in plan.problems)


def test_hr_decides_who_has_left_for_hr_triggers(company: Company) -> None:
    active = "E1001"  # the CEO, who has not left
    plan = make_plan(
        company.store,
        company.config,
        company.policy,
        request(active, LEAVER, only_leavers=True),
        now=DEMO_NOW,
    )
    assert [p.employee_id for p in plan.people] == [LEAVER]
    assert any("HR does not show them gone" in p for p in plan.problems)


def test_someone_hr_does_not_know_is_refused(company: Company) -> None:
    with pytest.raises(PlanError, match="does not know nobody@example.com"):
        make_plan(
            company.store,
            company.config,
            company.policy,
            request("nobody@example.com"),
            now=DEMO_NOW,
        )


def test_a_plan_saved_and_loaded_is_the_same_plan(company: Company, tmp_path: Path) -> None:
    plan = make_plan(
        company.store,
        company.config,
        company.policy,
        request("erik.reyes@example.com"),
        now=DEMO_NOW,
    )
    path = tmp_path / "plan.json"
    save_plan(plan, path)

    again = load_plan_file(path)
    assert again == plan and again.plan_id == plan.plan_id
    assert path.read_bytes().isascii()


def test_a_damaged_plan_file_names_the_field(tmp_path: Path) -> None:
    from iam_gov.errors import InputError

    path = tmp_path / "plan.json"
    path.write_text('{"version": 1, "kind": "deprovision", "made_at": "yesterday"}')
    with pytest.raises(InputError) as caught:
        load_plan_file(path)
    assert f"{path}: made_at" in str(caught.value)


def test_suspend_instead_of_deactivating_where_the_system_can(store: Store, tmp_path: Path) -> None:
    company = company_in(
        tmp_path / "demo",
        store,
        "[deprovision]\nmax_snapshot_age_hours = 1000000\nsuspend_where_possible = true\n",
    )
    plan = make_plan(company.store, company.config, company.policy, request(LEAVER), now=DEMO_NOW)

    kinds = {(s.action.system, s.action.kind) for s in plan.steps}
    assert ("okta", ActionKind.SUSPEND_ACCOUNT) in kinds
    assert ("okta", ActionKind.DISABLE_ACCOUNT) not in kinds
    assert ("entra", ActionKind.DISABLE_ACCOUNT) in kinds  # Entra has no suspension
