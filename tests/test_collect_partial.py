"""One system that cannot be read does not lose the others: each snapshot is stored as it is
read, the failed system keeps its previous snapshot (stale, with the reason and its age), the
evaluation says so and resolves nothing for it, and `iam-gov run` leads with it and exits 2."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from iam_gov import audit
from iam_gov.collect import build_connector, collect, collect_each
from iam_gov.config import Config, load_config
from iam_gov.connectors import Connector
from iam_gov.errors import SourceError
from iam_gov.evaluation import EvaluationReport, evaluate
from iam_gov.policy import load_policy
from iam_gov.rules import all_rules
from iam_gov.samplegen import generate
from iam_gov.store import Store
from iam_gov.store.findings import FindingFilter, list_findings
from iam_gov.store.schema import audit_log, collect_failures
from iam_gov.store.snapshots import latest_snapshots, stale_systems
from tests.support.okta_server import TOKEN, OktaServer, example_org
from tests.support.policy_edit import drop_systems_from_policy
from tests.support.progress_log import without_progress
from tests.support.world import AS_OF

SYSTEMS = ("hr", "okta", "aws")
OKTA_EXPORT = """[systems.okta]
type = "okta"
mode = "export"
path = "{folder}"
password_policies = "okta/policies-password.json"
exported_at = "2026-11-27T09:00:00Z"
"""
TOKEN_VARIABLE = "IAM_GOV_TEST_PARTIAL_OKTA_TOKEN"


@pytest.fixture
def company(tmp_path: Path) -> Path:
    """The demo company with three of its systems: an HR CSV, Okta and AWS (exports)."""
    out = tmp_path / "company"
    generate(out, people=30, seed=5, as_of=AS_OF)
    (out / "iam-gov.toml").rename(out / "demo.toml")
    write_config(out, OKTA_EXPORT.format(folder="okta"))
    return out


def write_config(company: Path, okta_section: str) -> None:
    """The demo's configuration with HR, the given Okta section and AWS."""
    head, *sections = (company / "demo.toml").read_text().split("\n[systems.")
    kept = {
        name: "[systems." + section
        for section in sections
        if (name := section.split("]", 1)[0]) in SYSTEMS
    }
    kept["okta"] = okta_section
    (company / "iam-gov.toml").write_text(head + "\n" + "\n".join(kept[name] for name in SYSTEMS))
    left_out = {section.split("]", 1)[0] for section in sections} - set(SYSTEMS)
    drop_systems_from_policy(company / "policy.yaml", left_out)


def configured(company: Path) -> Config:
    return load_config(company / "iam-gov.toml")


def evaluated(store: Store, config: Config) -> EvaluationReport:
    return evaluate(store, config, load_policy(config.policy.path, rules=all_rules()))


def open_okta_findings(store: Store) -> set[str]:
    with store.reading() as conn:
        return {f.finding_id for f in list_findings(conn, FindingFilter(systems=("okta",)))}


def latest_ids(store: Store) -> dict[str, int]:
    with store.reading() as conn:
        return {name: info.id for name, info in latest_snapshots(conn).items()}


def test_a_failed_system_keeps_its_previous_snapshot_and_the_others_are_stored(
    store: Store, company: Path
) -> None:
    config = configured(company)
    first = collect_each(config, store)
    assert first.ok and [c.system for c in first.collected] == list(SYSTEMS)
    evaluated(store, config)
    okta_findings = open_okta_findings(store)
    assert okta_findings  # the demo plants problems in Okta
    before = latest_ids(store)

    users = company / "okta" / "users.json"
    users.rename(company / "users.json.bak")  # an export that was not (fully) written
    result = collect_each(config, store)

    assert [c.system for c in result.collected] == ["hr", "aws"]
    [failed] = result.failed.values()
    assert failed.system == "okta" and failed.reason == f"{users}: file not found"
    after = latest_ids(store)
    assert after["okta"] == before["okta"]
    assert after["hr"] > before["hr"] and after["aws"] > before["aws"]

    with store.reading() as conn:
        stale = stale_systems(conn)
        assert list(stale) == ["okta"]
        info = stale["okta"]
        assert info.reason == failed.reason and info.failures == 1
        assert info.failed_at == info.last_failed_at == failed.failed_at
        assert info.snapshot is not None and info.snapshot.id == before["okta"]
        assert info.collected_at == AS_OF
        assert info.age is not None and info.age > timedelta(0)
        later = stale_systems(conn, now=AS_OF + timedelta(hours=5))
        assert later["okta"].age_words() == "5 hours"
        [record] = conn.execute(
            select(audit_log).where(audit_log.c.action == "collect.failed")
        ).all()
        assert (record.target, record.details["reason"]) == ("okta", failed.reason)
        assert record.details["previous_snapshot_id"] == before["okta"]
        assert audit.verify(conn).ok

    report = evaluated(store, config)
    assert report.snapshots["okta"].id == before["okta"]
    warning = report.warnings[0]
    assert warning.startswith(f"okta: the last collect failed ({users}: file not found) at ")
    assert re.search(
        r"the data used is the snapshot of 2026-11-27 09:00 UTC, \d+ days old$", warning
    )
    # Nothing the stale system would show is resolved: its findings stay open.
    assert report.recorded.resolved == 0
    assert open_okta_findings(store) == okta_findings
    with store.reading() as conn:
        everything = list_findings(conn, FindingFilter(include_resolved=True))
        assert [f.finding_id for f in everything if f.resolved_at is not None] == []

    # A successful collect clears it.
    (company / "users.json.bak").rename(users)
    assert collect_each(config, store, ["okta"]).ok
    with store.reading() as conn:
        assert stale_systems(conn) == {}
    assert not any("last collect failed" in w for w in evaluated(store, config).warnings)


def test_repeated_failures_count_from_the_first_since_the_last_snapshot(
    store: Store, company: Path
) -> None:
    config = configured(company)
    collect_each(config, store)
    (company / "okta" / "groups.json").write_text('[{"id": "00g1", "profile": ')  # cut off
    first = collect_each(config, store, ["okta"]).failed["okta"]
    second = collect_each(config, store, ["okta"]).failed["okta"]
    with store.reading() as conn:
        info = stale_systems(conn)["okta"]
        assert len(conn.execute(select(collect_failures.c.id)).all()) == 2
    assert (info.failures, info.failed_at, info.last_failed_at) == (
        2,
        first.failed_at,
        second.failed_at,
    )
    assert "groups.json" in info.reason


def test_a_failed_hr_file_keeps_its_previous_snapshot_too(store: Store, company: Path) -> None:
    config = configured(company)
    collect_each(config, store)
    evaluated(store, config)
    with store.reading() as conn:
        open_before = {f.finding_id for f in list_findings(conn)}
    before = latest_ids(store)
    hr = company / "hr" / "workers.csv"
    hr.write_text(hr.read_text(encoding="utf-8") + 'E9999,"Cut Off', encoding="utf-8")

    result = collect_each(config, store)

    assert list(result.failed) == ["hr"] and "workers.csv" in result.failed["hr"].reason
    after = latest_ids(store)
    assert after["hr"] == before["hr"] and after["okta"] > before["okta"]
    report = evaluated(store, config)
    assert report.warnings[0].startswith("hr: the last collect failed (")
    assert report.recorded.resolved == 0
    with store.reading() as conn:
        assert {f.finding_id for f in list_findings(conn)} == open_before


def test_collect_stores_the_good_ones_then_raises_naming_the_failures(
    store: Store, company: Path
) -> None:
    config = configured(company)
    (company / "okta" / "users.json").unlink()
    with pytest.raises(SourceError) as caught:
        collect(config, store)
    lines = str(caught.value).splitlines()
    assert lines[0] == f"okta: {company / 'okta' / 'users.json'}: file not found"
    assert lines[-1] == (
        "stored: hr, aws; not stored: okta (the previous snapshot stays the latest)"
    )
    assert set(latest_ids(store)) == {"hr", "aws"}
    with pytest.raises(SourceError, match="nothing was stored"):
        collect(config, store, ["okta"])
    with store.reading() as conn:
        assert stale_systems(conn)["okta"].snapshot is None  # never collected


def test_each_system_is_stored_as_soon_as_it_is_read(store: Store, company: Path) -> None:
    """A collect that stops half-way (here, a bug in the last connector) keeps what it read."""

    def factory(system: str, options: Any) -> Connector[Any]:
        if system == "aws":
            raise RuntimeError("a bug")
        return build_connector(system, options)

    with pytest.raises(RuntimeError):
        collect_each(configured(company), store, factory=factory)
    assert set(latest_ids(store)) == {"hr", "okta"}


@pytest.fixture
def okta_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy from this machine (the local Okta is plain http: ``allow_http``)."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def okta(okta_env: None) -> Iterator[OktaServer]:
    with OktaServer(example_org()) as running:
        yield running


def live_okta(server_url: str) -> str:
    return f"""[systems.okta]
type = "okta"
mode = "live"
org_url = "{server_url}"
allow_http = true
api_token = {{env = "{TOKEN_VARIABLE}"}}
max_retries = 0
"""


def test_an_expired_okta_token_is_that_system_s_failure(
    store: Store, company: Path, okta: OktaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    collect_each(configured(company), store)  # Okta from its export, until now
    before = latest_ids(store)
    write_config(company, live_okta(okta.url))
    expired = "00Expired-" + TOKEN[10:]
    monkeypatch.setenv(TOKEN_VARIABLE, expired)

    result = collect_each(configured(company), store)

    assert [c.system for c in result.collected] == ["hr", "aws"]
    reason = result.failed["okta"].reason
    assert reason == (f"cannot read Okta at {okta.url}: HTTP 401 E0000011 Invalid token provided")
    with store.reading() as conn:
        kept = stale_systems(conn)["okta"].snapshot
        assert kept is not None and kept.id == before["okta"]
        recorded = conn.execute(select(collect_failures.c.reason)).scalars().all()
        details = conn.execute(select(audit_log.c.details)).scalars().all()
    assert recorded == [reason]
    assert expired not in repr(details) and expired not in reason

    # The token renewed: the next collect reads Okta live and clears the failure.
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    assert collect_each(configured(company), store, ["okta"]).ok
    with store.reading() as conn:
        assert stale_systems(conn) == {}


def test_a_missing_secret_is_that_system_s_failure(
    store: Store, company: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_VARIABLE, raising=False)
    write_config(company, live_okta("http://127.0.0.1:9"))
    result = collect_each(configured(company), store)
    assert [c.system for c in result.collected] == ["hr", "aws"]
    assert TOKEN_VARIABLE in result.failed["okta"].reason
    assert "is not set" in result.failed["okta"].reason


# --- the command --------------------------------------------------------------------------


def iam_gov(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IAM_GOV_DATABASE_URL": f"sqlite:///{db}", "COLUMNS": "200"}
    env.pop("IAM_GOV_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "iam_gov", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def snapshot_ids(db: Path) -> dict[str, list[int]]:
    with sqlite3.connect(db) as conn:
        ids: dict[str, list[int]] = {}
        for system, sid in conn.execute("SELECT system, id FROM snapshots ORDER BY id"):
            ids.setdefault(system, []).append(sid)
        return ids


def test_run_leads_with_the_failure_evaluates_what_there_is_and_exits_5(
    company: Path, tmp_path: Path
) -> None:
    db = tmp_path / "store" / "iam-gov.db"
    cfg = str(company / "iam-gov.toml")
    assert iam_gov("--config", cfg, "run", db=db).returncode == 1  # first run: all is new
    before = snapshot_ids(db)
    # Okta's export folder is now one whose name is markup: shown as it is, never styled.
    write_config(company, OKTA_EXPORT.format(folder="okta-[bold]x[/bold]"))

    result = iam_gov("--config", cfg, "run", db=db)

    assert result.returncode == 5, result.stderr
    assert "Traceback" not in result.stderr
    missing = company / "okta-[bold]x[/bold]"
    lines = result.stdout.splitlines()
    assert lines[0] == "COLLECT FAILED: 1 of 3 system(s) could not be read"
    assert lines[1].startswith(f"  okta: {missing}")
    assert re.fullmatch(
        r"    its previous snapshot of 2026-11-27 09:00 UTC stays the latest \(\d+ days old\)",
        lines[2],
    )
    assert "Findings:" in result.stdout  # evaluated all the same
    assert "STALE: its last collect failed" in result.stdout
    assert "warning: okta: the last collect failed (" in result.stdout
    [error] = without_progress(result.stderr).strip().splitlines()
    assert error.startswith(f"error: okta: not collected: {missing}")
    after = snapshot_ids(db)
    assert after["okta"] == before["okta"]
    assert len(after["hr"]) == len(after["aws"]) == 2

    collected = iam_gov("--config", cfg, "collect", db=db)
    assert collected.returncode == 5
    assert collected.stdout.startswith("COLLECT FAILED: 1 of 3 system(s) could not be read")
    assert re.search(r"\(\d+ days old\); failing since \S+ \S+ UTC \(2 tries\)", collected.stdout)

    write_config(company, OKTA_EXPORT.format(folder="okta"))
    healed = iam_gov("--config", cfg, "run", db=db)
    assert healed.returncode == 0, healed.stderr
    assert "COLLECT FAILED" not in healed.stdout and "STALE" not in healed.stdout
