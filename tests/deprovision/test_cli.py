"""`iam-gov deprovision` as IT runs it: a dry run prints the plan and changes nothing, a saved
plan is applied as it is, an HR event or an HR export triggers it; mistakes are clear errors
with exit code 2, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deprovision.conftest import copy_demo

ERIK_PEER = "# iam-gov: login=erik.reyes email=erik.reyes@example.com"


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """The demo without its OpenVPN PKI (whose copy easy-rsa cannot work on), collected and
    evaluated with `iam-gov run`; returns the configuration file."""
    toml = copy_demo(tmp_path / "demo", without=("openvpn",))
    run(toml, "run")
    return toml


def run(toml: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "IAM_GOV_ACTOR": "it@example.com"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "iam_gov",
            "--config",
            str(toml),
            "--database-url",
            f"sqlite:///{toml.parent / 'store.db'}",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=120,
        check=False,
    )


def test_a_dry_run_prints_the_plan_and_changes_nothing(demo: Path) -> None:
    wg = demo.parent / "wireguard" / "wg0.conf"
    before = wg.read_bytes()

    done = run(demo, "deprovision", "E1019", "--reason", "left on 2026-09-29")

    assert wg.read_bytes() == before
    assert done.returncode == 1, done.stderr  # the exports cannot be changed: said, and exit 1
    assert "dry run: nothing was changed" in done.stdout
    assert "who: Erik Reyes (E1019), terminated, last day 2026-09-29" in done.stdout
    assert "wireguard · erik.reyes" in done.stdout and "remove the peer" in done.stdout
    assert "deactivate access key 1" in done.stdout
    assert "okta: an export cannot be changed" in done.stdout
    assert 'iam-gov deprovision E1019 --reason "left on 2026-09-29" --apply' in done.stdout


def test_a_saved_plan_is_applied_as_saved(demo: Path) -> None:
    plan = demo.parent / "plan.json"
    saved = run(
        demo, "deprovision", "erik.reyes@example.com", "--reason", "left", "--plan-out", str(plan)
    )
    assert saved.returncode == 1 and plan.exists()
    assert json.loads(plan.read_text())["people"][0]["employee_id"] == "E1019"

    applied = run(demo, "deprovision", "--apply", "--plan", str(plan))

    assert ERIK_PEER not in (demo.parent / "wireguard" / "wg0.conf").read_text()
    assert "remove the peer (file and interface): done" in applied.stdout
    assert "run #1 partial" in applied.stdout  # the export systems are to be done by hand
    assert applied.returncode == 1

    again = run(demo, "deprovision", "--apply", "--plan", str(plan))
    assert (
        again.returncode == 2
        and "refused: the systems changed since the plan was made" in again.stderr
    )


def test_an_hr_event_from_standard_input(demo: Path) -> None:
    event = json.dumps({"id": "evt-7", "type": "employee.terminated", "employee_id": "E1019"})

    first = run(demo, "deprovision", "--event", "-", "--apply", stdin=event)
    assert ERIK_PEER not in (demo.parent / "wireguard" / "wg0.conf").read_text()
    assert "HR event evt-7" in first.stdout

    replay = run(demo, "deprovision", "--event", "-", "--apply", stdin=event)
    assert "was received before" in replay.stdout and replay.returncode == 1


def test_from_hr_acts_on_everyone_terminated_with_access(demo: Path) -> None:
    hr = demo.parent / "hr" / "workers.csv"

    done = run(demo, "deprovision", "--from-hr", str(hr))

    assert "Erik Reyes (E1019), terminated" in done.stdout
    assert "Diego Dubois" not in done.stdout  # the CEO has not left


def truncated(demo: Path) -> str:
    """The demo's HR export cut off in the middle of a record, as a failed transfer leaves it."""
    text = (demo.parent / "hr" / "workers.csv").read_text()
    return text[: text.index("\n", len(text) // 2) + 12]


@pytest.mark.parametrize(
    "content",
    ["", "Employee_ID,Legal_Name,Email_Address,Worker_Status\n", truncated],
    ids=["empty", "header-only", "truncated"],
)
def test_an_empty_or_broken_hr_export_deprovisions_nobody(demo: Path, content: object) -> None:
    hr = demo.parent / "broken.csv"
    hr.write_text(content(demo) if callable(content) else str(content))

    done = run(demo, "deprovision", "--from-hr", str(hr), "--apply")

    assert done.returncode == 2, done.stdout
    assert "nobody was deprovisioned" in done.stderr and "Traceback" not in done.stderr
    assert ERIK_PEER in (demo.parent / "wireguard" / "wg0.conf").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("E1019",), "give --reason"),
        (("E1019", "--reason", "x", "--from-hr", "hr.csv"), "in exactly one way"),
        (("--resume",), "add --apply"),
        (("nobody@example.com", "--reason", "x"), "does not know nobody@example.com"),
        (("E1019", "--reason", "x", "--even-if-active", "--campaign", "1"), "in exactly one way"),
        (("--plan", "missing.json"), "missing.json: cannot read the plan"),
    ],
)
def test_mistakes_are_clear_errors(demo: Path, args: tuple[str, ...], message: str) -> None:
    done = run(demo, "deprovision", *args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_someone_hr_shows_active_needs_even_if_active(demo: Path) -> None:
    """A mistyped employee id must not take an active colleague's access away."""
    wg = demo.parent / "wireguard" / "wg0.conf"
    hana = "# iam-gov: login=hana.sato email=hana.sato@example.com employee_id=E1027"

    refused = run(demo, "deprovision", "E1027", "--reason", "typo for E1019", "--apply")
    assert hana in wg.read_text()
    assert "HR does not show them gone yet" in refused.stdout
    assert "--even-if-active plans them anyway" in refused.stdout
    assert refused.returncode == 1

    done = run(
        demo, "deprovision", "E1027", "--reason", "dismissed today", "--even-if-active", "--apply"
    )
    assert hana not in wg.read_text(), done.stdout


def test_a_dry_run_plan_is_in_the_audit_log(demo: Path) -> None:
    run(demo, "deprovision", "E1019", "--reason", "left on 2026-09-29")

    import sqlite3

    with sqlite3.connect(demo.parent / "store.db") as db:
        action, details = db.execute(
            "SELECT action, details FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    assert action == "deprovision.plan"
    recorded = json.loads(details)
    assert recorded["people"] == ["E1019"] and recorded["reason"] == "left on 2026-09-29"
    assert {s["system"] for s in recorded["steps"]} >= {"wireguard", "okta"}
