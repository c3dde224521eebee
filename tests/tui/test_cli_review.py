"""`iam-gov review` as a reviewer runs it: in a real terminal (a pseudo-terminal), keys in,
decisions in the store; and the one-line errors before the app starts."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select as sql_select

from iam_gov import audit
from iam_gov.campaigns.definition import CampaignDefinition
from iam_gov.store import Store
from iam_gov.store.schema import campaign_history, campaign_items
from tests.campaigns.conftest import DEMO
from tests.campaigns.seed import REVIEWER, seed_campaign
from tests.tui.conftest import review_items

CONFIG = str(DEMO / "iam-gov.toml")


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[str, int]:
    url = f"sqlite:///{tmp_path / 'iam-gov.db'}"
    with Store.open(url) as store:
        campaign = seed_campaign(
            store, review_items(), CampaignDefinition(name="Q1 access review", comment_required=())
        )
    return url, campaign


def environment(url: str, reviewer: str | None = REVIEWER) -> dict[str, str]:
    env = {**os.environ, "IAM_GOV_DATABASE_URL": url, "TERM": "xterm-256color"}
    env.pop("IAM_GOV_REVIEWER", None)
    if reviewer is not None:
        env["IAM_GOV_REVIEWER"] = reviewer
    return env


def wait_for(condition: Callable[[], bool], pump: Callable[[], None], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        pump()


def test_review_in_a_terminal_decides_into_the_store(seeded: tuple[str, int]) -> None:
    url, campaign = seeded
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "iam_gov", "--config", CONFIG, "review", str(campaign)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=environment(url),
        close_fds=True,
    )
    os.close(slave)
    shown = bytearray()

    def pump() -> None:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                shown.extend(os.read(master, 65536))
            except OSError:  # the app has exited and closed the terminal
                time.sleep(0.1)

    def decision() -> str | None:
        c = campaign_items.c
        with Store.open(url) as store, store.reading() as conn:
            found: str | None = conn.execute(
                sql_select(c.decision).where(c.campaign_id == campaign, c.item_id == 1)
            ).scalar_one()
        return found

    try:
        wait_for(lambda: b"Lena Leaver" in shown, pump, 60)
        os.write(master, b"r")
        wait_for(lambda: decision() == "revoke", pump, 20)
        os.write(master, b"q")
        wait_for(lambda: proc.poll() is not None, pump, 20)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(master)
    assert proc.returncode == 0, bytes(shown[-2000:])
    h = campaign_history.c
    with Store.open(url) as store, store.reading() as conn:
        row = conn.execute(sql_select(h.actor, h.acting_for, h.os_user, h.decision)).one()
    assert tuple(row) == (REVIEWER, None, audit.os_user_name(), "revoke")


def run(url: str, *args: str, reviewer: str | None = REVIEWER) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iam_gov", "--config", CONFIG, "review", *args],
        capture_output=True,
        text=True,
        env=environment(url, reviewer),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_review_of_a_campaign_that_does_not_exist_is_one_line(seeded: tuple[str, int]) -> None:
    url, _ = seeded
    done = run(url, "99")
    assert done.returncode == 2
    assert done.stderr.strip().endswith("there is no campaign #99 (iam-gov campaign list)")
    assert "Traceback" not in done.stderr


def test_review_needs_to_know_who_is_reviewing(seeded: tuple[str, int]) -> None:
    url, campaign = seeded
    done = run(url, str(campaign), reviewer=None)
    assert done.returncode == 2
    assert "IAM_GOV_REVIEWER" in done.stderr and "Traceback" not in done.stderr
    done = run(url, str(campaign), "--as", "someone@example.com")
    assert done.returncode == 2
    assert "acting for another reviewer needs an admin role" in done.stderr


def test_the_review_command_comes_from_the_tuis_entry_point() -> None:
    """The core never imports the TUI: `iam-gov review` is added through the
    ``iam_gov.commands`` entry point that iam-gov's own package declares."""
    from iam_gov.cli_common import COMMANDS

    assert COMMANDS.origin("review") == "iam_gov.tui.command"
    helped = subprocess.run(
        [sys.executable, "-m", "iam_gov", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
        timeout=60,
    )
    assert helped.returncode == 0 and "review" in helped.stdout
