"""Collect -> correlate -> evaluate -> findings, on a generated company, through the store."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from iam_gov import audit
from iam_gov.collect import collect
from iam_gov.config import load_config
from iam_gov.errors import IamGovError, SourceError
from iam_gov.evaluation import EvaluationReport, evaluate
from iam_gov.policy import load_policy
from iam_gov.rules import all_rules
from iam_gov.samplegen import generate
from iam_gov.store import Store
from iam_gov.store.findings import FindingFilter, list_findings
from iam_gov.store.schema import audit_log, snapshots
from iam_gov.store.snapshots import latest_snapshots, stale_systems
from tests.support.world import AS_OF

ORPHAN = "temp-contractor-2024"


@pytest.fixture
def company(tmp_path: Path) -> Path:
    out = tmp_path / "company"
    generate(out, people=40, seed=3, as_of=AS_OF)
    return out


def run(store: Store, company: Path) -> EvaluationReport:
    config = load_config(company / "iam-gov.toml")
    collect(config, store)
    return evaluate(store, config, load_policy(config.policy.path, rules=all_rules()))


def orphan_findings(report: EvaluationReport) -> list[str]:
    """The AWS orphan (the company has orphans in its other systems too)."""
    return [
        f.finding_id for f in report.findings if f.rule_id == "orphan-account" and f.system == "aws"
    ]


def drop_user_from_export(
    company: Path, user: str, *, from_report: bool, from_details: bool
) -> None:
    if from_details:
        path = company / "aws" / "authorization-details.json"
        details = json.loads(path.read_text())
        details["UserDetailList"] = [u for u in details["UserDetailList"] if u["UserName"] != user]
        path.write_text(json.dumps(details))
    if from_report:
        path = company / "aws" / "credential-report.json"
        report = json.loads(path.read_text())
        lines = base64.b64decode(report["Content"]).decode().splitlines(keepends=True)
        kept = [line for line in lines if not line.startswith(f"{user},")]
        assert len(kept) == len(lines) - 1
        report["Content"] = base64.b64encode("".join(kept).encode()).decode()
        path.write_text(json.dumps(report))


def counts(store: Store) -> tuple[int, int]:
    with store.reading() as conn:
        return (
            conn.execute(select(func.count()).select_from(snapshots)).scalar_one(),
            conn.execute(select(func.count()).select_from(audit_log)).scalar_one(),
        )


def test_findings_keep_their_ids_and_first_seen_across_runs(store: Store, company: Path) -> None:
    first = run(store, company)
    with store.reading() as conn:
        before = {f.finding_id: f.first_seen for f in list_findings(conn)}
    second = run(store, company)
    assert first.findings and [f.finding_id for f in first.findings] == [
        f.finding_id for f in second.findings
    ]
    assert (second.recorded.new, second.recorded.resolved) == (0, 0)
    assert second.recorded.still_open == len(first.findings)
    with store.reading() as conn:
        after = list_findings(conn)
        assert {f.finding_id: f.first_seen for f in after} == before
        assert all(f.last_seen and f.first_seen and f.last_seen > f.first_seen for f in after)
        assert audit.verify(conn).ok


def test_a_problem_that_is_fixed_is_resolved(store: Store, company: Path) -> None:
    [orphan] = orphan_findings(run(store, company))
    drop_user_from_export(company, ORPHAN, from_report=True, from_details=True)
    second = run(store, company)
    assert orphan_findings(second) == []
    assert second.recorded.resolved >= 1  # the orphan, and whatever else it alone caused
    with store.reading() as conn:
        everything = list_findings(conn, FindingFilter(include_resolved=True))
        [resolved] = [f for f in everything if f.finding_id == orphan]
        assert resolved.resolved_at is not None
        assert orphan not in {f.finding_id for f in list_findings(conn)}


def test_missing_data_in_an_incomplete_snapshot_never_counts_as_fixed(
    store: Store, company: Path
) -> None:
    [orphan] = orphan_findings(run(store, company))
    # The orphan vanishes from the export, but the export is now incomplete: another user is
    # in the authorization details without a credential-report row.
    drop_user_from_export(company, ORPHAN, from_report=True, from_details=True)
    drop_user_from_export(company, "ci-deployer", from_report=True, from_details=False)
    second = run(store, company)
    assert not second.snapshots["aws"].complete
    assert second.recorded.resolved == 0 and second.recorded.kept_open >= 1
    with store.reading() as conn:
        assert orphan in {f.finding_id for f in list_findings(conn)}
    assert any("incomplete" in w for w in second.warnings)


def test_orphans_are_not_judged_when_hr_is_incomplete(store: Store, company: Path) -> None:
    [orphan] = orphan_findings(run(store, company))
    hr = company / "hr" / "workers.csv"
    lines = hr.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3] = lines[3].replace("Active", "Retired-ish", 1)  # a status HR does not define
    hr.write_text("".join(lines), encoding="utf-8")
    second = run(store, company)
    assert not second.snapshots["hr"].complete
    assert "orphan-account" in second.skipped
    assert orphan_findings(second) == []
    with store.reading() as conn:
        assert orphan in {f.finding_id for f in list_findings(conn)}  # still open, not resolved


def test_an_unusable_hr_file_is_not_stored_and_the_others_are(store: Store, company: Path) -> None:
    run(store, company)
    before = counts(store)
    with store.reading() as conn:
        hr_before = latest_snapshots(conn)["hr"].id
    hr = company / "hr" / "workers.csv"
    hr.write_text(hr.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    config = load_config(company / "iam-gov.toml")
    with pytest.raises(SourceError) as caught:
        collect(config, store)
    assert "workers.csv" in str(caught.value)
    assert (
        str(caught.value)
        .splitlines()[-1]
        .endswith("not stored: hr (the previous snapshot stays the latest)")
    )
    others = len(config.systems) - 1
    # Each other system stored with its audit record; HR's failure recorded and audited.
    assert counts(store) == (before[0] + others, before[1] + others + 1)
    with store.reading() as conn:
        assert latest_snapshots(conn)["hr"].id == hr_before
        assert set(stale_systems(conn)) == {"hr"}


def test_evaluating_before_any_collect_is_a_clear_error(store: Store, company: Path) -> None:
    config = load_config(company / "iam-gov.toml")
    with pytest.raises(IamGovError, match="no HR data"):
        evaluate(store, config, load_policy(config.policy.path, rules=all_rules()))


def test_an_export_that_contradicts_itself_is_refused_whole(store: Store, company: Path) -> None:
    run(store, company)
    before = counts(store)
    with store.reading() as conn:
        aws_before = latest_snapshots(conn)["aws"].id
    path = company / "aws" / "authorization-details.json"
    details = json.loads(path.read_text())
    details["UserDetailList"].append(details["UserDetailList"][0])  # the same user twice
    path.write_text(json.dumps(details))
    config = load_config(company / "iam-gov.toml")
    with pytest.raises(SourceError, match="aws: the same account with native id .* appears twice"):
        collect(config, store)
    others = len(config.systems) - 1
    assert counts(store) == (before[0] + others, before[1] + others + 1)
    with store.reading() as conn:
        assert latest_snapshots(conn)["aws"].id == aws_before
        [stale] = stale_systems(conn).values()
    assert stale.system == "aws" and "appears twice" in stale.reason


def test_a_move_in_hr_makes_the_old_role_s_access_a_finding(store: Store, company: Path) -> None:
    config_path = company / "iam-gov.toml"
    text = config_path.read_text()
    exported = AS_OF.strftime("%Y-%m-%dT%H:%M:%SZ")
    hr_section = text.index("[systems.hr]")
    line = f'exported_at = "{exported}"'
    at = text.index(line, hr_section)

    def hr_exported(days_before: int) -> None:
        moment = (AS_OF - timedelta(days=days_before)).strftime("%Y-%m-%dT%H:%M:%SZ")
        config_path.write_text(text[:at] + f'exported_at = "{moment}"' + text[at + len(line) :])

    hr_exported(90)
    run(store, company)
    hr = company / "hr" / "workers.csv"
    rows = list(csv.reader(io.StringIO(hr.read_text(encoding="utf-8"))))
    [mover] = [r for r in rows[1:] if r[4] == "Software Engineer" and r[7] == "Active"][:1]
    mover[3], mover[4] = "Sales", "Account Executive"
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    hr.write_text(out.getvalue(), encoding="utf-8")
    hr_exported(45)

    report = run(store, company)
    moved = [f for f in report.findings if f.rule_id == "mover-access"]
    assert moved and {f.person_id for f in moved} == {mover[0]}
    assert {f.system for f in moved} >= {"aws", "okta", "ad", "entra"}
    assert all("department Engineering → Sales" in f.message for f in moved)
    excess = [
        f for f in report.findings if f.rule_id == "excess-access" and f.person_id == mover[0]
    ]
    assert all(
        f.evidence["entitlement"] not in {m.evidence["entitlement"] for m in moved} for f in excess
    )
