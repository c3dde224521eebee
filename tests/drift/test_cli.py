"""`iam-gov run` as a scheduler calls it, and `iam-gov drift` / `baseline`: the report folder
written, the exit codes (0 nothing new, 1 new at or above --fail-on, 2 a system failed or is
stale, 3 a delivery failed), the failure leading the report."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deprovision.conftest import copy_demo


def iam_gov(
    toml: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
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
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=180,
        check=False,
    )


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return copy_demo(tmp_path / "demo")


def folders(toml: Path) -> list[Path]:
    root = toml.parent / "reports"
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())


def test_the_scheduled_run_writes_the_report_and_says_what_is_new(demo: Path) -> None:
    first = iam_gov(demo, "run")
    # no baseline yet: every open finding is new, and some are high
    assert first.returncode == 1, first.stdout + first.stderr
    [folder] = folders(demo)
    assert sorted(p.name for p in folder.iterdir()) == [
        "drift.html",
        "drift.json",
        "drift.md",
        "grants.csv",
    ]
    assert f"Drift report: {folder}/drift.html" in first.stdout
    assert (demo.parent / "reports" / "latest").resolve() == folder
    report = json.loads((folder / "drift.json").read_text())
    assert report["baseline"]["kind"] == "none" and report["exit_code"] == 1

    second = iam_gov(demo, "run")
    assert second.returncode == 0, second.stdout + second.stderr  # nothing new since
    latest = json.loads((folders(demo)[-1] / "drift.json").read_text())
    assert latest["baseline"]["kind"] == "previous"
    assert latest["summary"]["findings_new"] == 0

    shown = iam_gov(demo, "drift", "--format", "json", "--fail-on", "info")
    assert shown.returncode == 0 and json.loads(shown.stdout)["fail_on"] == "info"


def test_a_system_that_cannot_be_read_leads_the_report_and_exits_5(demo: Path) -> None:
    assert iam_gov(demo, "run").returncode == 1
    (demo.parent / "okta" / "users.json").unlink()  # the export is broken today

    broken = iam_gov(demo, "run")

    assert broken.returncode == 5
    assert broken.stdout.startswith("COLLECT FAILED")
    report = json.loads((folders(demo)[-1] / "drift.json").read_text())
    assert report["exit_code"] == 5 and report["failures"][0].startswith("okta:")
    okta = next(s for s in report["systems"] if s["system"] == "okta")
    assert okta["stale"] and not okta["compared"]
    assert not [a for a in report["accounts"] if a["system"] == "okta"]  # nothing "removed"
    markdown = (folders(demo)[-1] / "drift.md").read_text()
    assert markdown.index("okta") < markdown.index("## Summary")


def test_baselines_are_pinned_compared_with_and_unpinned(demo: Path) -> None:
    iam_gov(demo, "run")
    pinned = iam_gov(demo, "baseline", "pin", "q4-audit", "--note", "before the audit")
    assert pinned.returncode == 0 and "pinned baseline q4-audit" in pinned.stdout
    assert "q4-audit" in iam_gov(demo, "baseline", "list").stdout
    assert iam_gov(demo, "baseline", "pin", "q4-audit").returncode == 2  # taken

    compared = iam_gov(demo, "drift", "--baseline", "q4-audit", "--format", "json")
    assert json.loads(compared.stdout)["baseline"]["name"] == "q4-audit"

    assert iam_gov(demo, "baseline", "unpin", "q4-audit").returncode == 0
    missing = iam_gov(demo, "drift", "--baseline", "q4-audit")
    assert missing.returncode == 2 and "q4-audit" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_a_failed_delivery_keeps_the_report_and_exits_3(demo: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with demo.open("a", encoding="utf-8") as toml:
        toml.write(
            '\n[drift.webhook]\nurl = { env = "DRIFT_HOOK" }\nformat = "slack"\n'
            "timeout_seconds = 2\nretries = 0\n"
        )
    url = f"http://127.0.0.1:{port}/services/T000/B000/secret-token"

    done = iam_gov(demo, "run", env={"DRIFT_HOOK": url})

    assert done.returncode == 3, done.stdout + done.stderr
    assert "NOT SENT" in done.stdout and "secret-token" not in done.stdout + done.stderr
    [folder] = folders(demo)
    assert (folder / "drift.html").exists()


def test_mistakes_are_clear(demo: Path) -> None:
    iam_gov(demo, "run")
    for args, message in [
        (("drift", "--format", "pdf"), "unknown drift report format"),
        (("drift", "--fail-on", "severe"), "severe"),
        (("drift", "--baseline", "2026-02-30"), "2026-02-30"),
    ]:
        done = iam_gov(demo, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr
