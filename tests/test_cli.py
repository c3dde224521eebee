"""The iam-gov command as a user runs it: output, formats, one-line errors, exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from iam_gov.samplegen import generate
from tests.support.progress_log import without_progress
from tests.support.world import AS_OF

IAM_GOV = [sys.executable, "-m", "iam_gov"]
FIRST_RUN = 1
"""A first `run` has no baseline to compare with: every open finding is new, and the generated
company's high ones make the exit code 1 (new findings at or above [drift] fail_on)."""


def iam_gov(*args: str, db: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IAM_GOV_DATABASE_URL": f"sqlite:///{db}", "COLUMNS": "200"}
    env.pop("IAM_GOV_CONFIG", None)
    return subprocess.run(
        [*IAM_GOV, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


@pytest.fixture
def company(tmp_path: Path) -> Path:
    out = tmp_path / "company"
    generate(out, people=30, seed=5, as_of=AS_OF)
    return out


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store" / "iam-gov.db"


def config(company: Path) -> str:
    return str(company / "iam-gov.toml")


def store_state(db: Path) -> tuple[bytes, ...]:
    """Everything in the store, to show that a failed command changed nothing."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return tuple(
            repr(sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall())).encode()
            for t in sorted(tables)
        )


def test_run_prints_a_summary_with_the_planted_problems(company: Path, db: Path) -> None:
    result = iam_gov("--config", config(company), "run", db=db)
    assert result.returncode == FIRST_RUN, result.stderr
    assert "Drift report: " in result.stdout
    assert "Collected" in result.stdout and "Findings:" in result.stdout
    assert "are no one's:" in result.stdout and "5 no owner" in result.stdout
    for rule in ("leaver-active-access", "orphan-account", "mfa-missing", "stale-access-key"):
        assert rule in result.stdout
    assert "Worst first" in result.stdout


def test_findings_as_json_and_csv(company: Path, db: Path) -> None:
    before = iam_gov("--config", config(company), "findings", db=db)
    assert before.returncode == 2 and "no evaluation yet" in before.stderr
    assert iam_gov("--config", config(company), "run", db=db).returncode == FIRST_RUN
    as_json = json.loads(
        iam_gov("--config", config(company), "findings", "-f", "json", db=db).stdout
    )
    rules = {f["rule_id"] for f in as_json}
    assert {"leaver-active-access", "orphan-account"} <= rules
    assert all(len(f["finding_id"]) == 32 and f["message"].endswith(".") for f in as_json)
    rows = list(
        csv.DictReader(
            io.StringIO(
                iam_gov("--config", config(company), "findings", "--format", "csv", db=db).stdout
            )
        )
    )
    assert {r["finding_id"] for r in rows} == {f["finding_id"] for f in as_json}
    high = json.loads(
        iam_gov(
            "--config", config(company), "findings", "-f", "json", "--severity", "high", db=db
        ).stdout
    )
    assert high and all(f["severity"] in ("high", "critical") for f in high)
    assert len(high) < len(as_json)
    only = json.loads(
        iam_gov(
            "--config", config(company), "findings", "-f", "json", "--rule", "orphan-account", db=db
        ).stdout
    )
    assert {f["rule_id"] for f in only} == {"orphan-account"}


def _rename_leaver(company: Path, new_name: str) -> None:
    planted = json.loads((company / "planted.json").read_text())
    login = next(p["login"] for p in planted if p["rule_id"] == "leaver-active-access")
    hr = company / "hr" / "workers.csv"
    rows = list(csv.reader(io.StringIO(hr.read_text(encoding="utf-8"))))
    for row in rows[1:]:
        if row[2].split("@")[0] == login:
            row[1] = new_name
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    hr.write_text(out.getvalue(), encoding="utf-8")


def test_untrusted_names_are_data_in_csv_and_on_the_terminal(company: Path, db: Path) -> None:
    _rename_leaver(company, '=HYPERLINK("http://evil","x")\x1b[31m')
    result = iam_gov("--config", config(company), "run", db=db)
    assert result.returncode == FIRST_RUN, result.stderr
    assert "\x1b[31m" not in result.stdout
    assert "\\x1b[31m" in result.stdout  # shown literally, escaped
    exported = iam_gov("--config", config(company), "findings", "--format", "csv", db=db).stdout
    rows = list(csv.DictReader(io.StringIO(exported)))
    [leaver] = [r for r in rows if r["rule_id"] == "leaver-active-access" and r["system"] == "aws"]
    assert leaver["message"].startswith("'=HYPERLINK(")


def test_a_malformed_hr_file_is_one_line_with_its_location_and_keeps_its_previous_snapshot(
    company: Path, db: Path
) -> None:
    assert iam_gov("--config", config(company), "run", db=db).returncode == FIRST_RUN
    before = latest_ids(db)
    hr = company / "hr" / "workers.csv"
    hr.write_text(hr.read_text(encoding="utf-8") + 'E9999,"Cut Off', encoding="utf-8")
    result = iam_gov("--config", config(company), "run", db=db)
    assert result.returncode == 5  # HR not collected: the previous snapshot is used
    assert "Traceback" not in result.stderr
    [line] = without_progress(result.stderr).strip().splitlines()
    assert line.startswith("error: hr: not collected: ") and "workers.csv" in line
    assert result.stdout.startswith("COLLECT FAILED: 1 of 7 system(s) could not be read")
    after = latest_ids(db)
    assert after["hr"] == before["hr"]  # HR keeps its previous snapshot; the others are new
    assert all(after[name] > before[name] for name in after if name != "hr")


def latest_ids(db: Path) -> dict[str, int]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT system, max(id) FROM snapshots GROUP BY system"))


def test_a_malformed_policy_names_file_and_line_and_changes_nothing(
    company: Path, db: Path
) -> None:
    assert iam_gov("--config", config(company), "run", db=db).returncode == FIRST_RUN
    before = store_state(db)
    policy = company / "policy.yaml"
    text = policy.read_text().replace(
        "  dormant-account: {days: 90}", "  dormant-account: {days: ninety}"
    )
    policy.write_text(text)
    line = text.splitlines().index("  dormant-account: {days: ninety}") + 1
    result = iam_gov("--config", config(company), "run", db=db)
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"error: {policy.resolve()}:{line}: rules.dormant-account.days: "
    )
    assert "Traceback" not in result.stderr
    assert store_state(db) == before


def test_a_malformed_config_names_file_and_key_and_changes_nothing(company: Path, db: Path) -> None:
    assert iam_gov("--config", config(company), "run", db=db).returncode == FIRST_RUN
    before = store_state(db)
    cfg = company / "iam-gov.toml"
    text = cfg.read_text()
    assert 'type = "aws"\nmode = "export"' in text
    cfg.write_text(text.replace('type = "aws"\nmode = "export"', 'type = "aws"\nmode = "exprot"'))
    result = iam_gov("--config", str(cfg), "run", db=db)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {cfg}: systems.aws.mode: ")
    assert "Traceback" not in result.stderr
    assert store_state(db) == before
    broken = company / "broken.toml"
    broken.write_text('[policy]\npath = "policy.yaml"\n[systems.hr\n')
    result = iam_gov("--config", str(broken), "config", "check", db=db)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {broken}:3: ")


def test_debug_shows_the_traceback(company: Path, db: Path) -> None:
    (company / "hr" / "workers.csv").write_text("")
    quiet = iam_gov("--config", config(company), "collect", db=db)
    loud = iam_gov("--debug", "--config", config(company), "collect", db=db)
    assert quiet.returncode == loud.returncode == 5
    assert "Traceback" not in quiet.stderr and "Traceback" in loud.stderr


def test_audit_verify_passes_then_names_a_tampered_record(company: Path, db: Path) -> None:
    assert iam_gov("--config", config(company), "run", db=db).returncode == FIRST_RUN
    ok = iam_gov("audit", "verify", db=db)  # an auditor needs only the store
    # 7 collects, 1 evaluation, the drift report, the retention prune
    assert ok.returncode == 0 and "audit log OK: 10 records" in ok.stdout
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2")
    broken = iam_gov("audit", "verify", db=db)
    assert broken.returncode == 3
    assert "record #2" in broken.stderr and "changed" in broken.stderr


def test_config_check_reports_ok_and_every_problem(company: Path, db: Path) -> None:
    ok = iam_gov("--config", config(company), "config", "check", db=db)
    assert ok.returncode == 0 and "configuration OK" in ok.stdout
    shutil.move(company / "aws" / "credential-report.json", company / "moved.json")
    (company / "policy.yaml").write_text(
        (company / "policy.yaml").read_text() + "privileged_extra: true\n"
    )
    bad = iam_gov("--config", config(company), "config", "check", db=db)
    assert bad.returncode == 2
    errors = bad.stderr.strip().splitlines()
    assert any("systems.aws.credential_report" in e and "does not exist" in e for e in errors)
    assert any("policy.yaml" in e and "privileged_extra: unknown key" in e for e in errors)


def test_explain_shows_each_grant_and_why(company: Path, db: Path) -> None:
    assert iam_gov("--config", config(company), "run", db=db).returncode == FIRST_RUN
    planted = json.loads((company / "planted.json").read_text())
    leaver = next(p["login"] for p in planted if p["rule_id"] == "leaver-active-access")
    result = iam_gov("--config", config(company), "explain", f"{leaver}@example.com", db=db)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Roles: " in out and "engineer" in out
    assert "✓ group:Developers — role engineer" in out
    assert "· policy:DeveloperSandbox — through group:Developers" in out
    assert "leaver-active-access" in out
    nobody = iam_gov("--config", config(company), "explain", "nobody@nowhere", db=db)
    assert nobody.returncode == 2 and "nobody in HR is 'nobody@nowhere'" in nobody.stderr


def test_policy_check_reports_contents_and_mistakes(company: Path, db: Path) -> None:
    ok = iam_gov("--config", config(company), "policy", "check", db=db)
    assert ok.returncode == 0, ok.stderr
    assert "policy OK" in ok.stdout and "separation:  1 separation-of-duties rules" in ok.stdout
    policy = company / "policy.yaml"
    policy.write_text(policy.read_text().replace("  - name: sre\n", "  - name: engineer\n", 1))
    bad = iam_gov("--config", config(company), "policy", "check", db=db)
    assert bad.returncode == 2
    assert "role 'engineer' is already defined at" in bad.stderr


def test_rules_lists_the_catalogue_and_shows_one_rule_in_full(tmp_path: Path) -> None:
    listing = iam_gov("rules", db=tmp_path / "unused.db")
    assert listing.returncode == 0, listing.stderr
    assert "leaver-active-access" in listing.stdout and "sod-conflict" in listing.stdout
    one = iam_gov("rules", "dormant-account", db=tmp_path / "unused.db")
    assert one.returncode == 0, one.stderr
    assert "Controls:    SOC 2 CC6.2" in one.stdout
    assert "Settings:    days: 90" in one.stdout
    typo = iam_gov("rules", "dormant-acount", db=tmp_path / "unused.db")
    assert typo.returncode == 2
    assert "no rule 'dormant-acount'; did you mean 'dormant-account'?" in typo.stderr


def test_findings_refuses_a_rule_that_does_not_exist(company: Path, db: Path) -> None:
    assert iam_gov("--config", config(company), "run", db=db).returncode == FIRST_RUN
    typo = iam_gov("--config", config(company), "findings", "--rule", "orphan-acount", db=db)
    assert typo.returncode == 2
    assert "--rule: no rule 'orphan-acount'; did you mean 'orphan-account'?" in typo.stderr


def test_findings_about_a_person_named_by_email_or_name(company: Path, db: Path) -> None:
    assert iam_gov("--config", config(company), "run", db=db).returncode == FIRST_RUN
    planted = json.loads((company / "planted.json").read_text())
    leaver = next(p["login"] for p in planted if p["rule_id"] == "leaver-active-access")
    args = ("--config", config(company), "findings", "--format", "json", "--person")
    by_email = iam_gov(*args, f"{leaver}@example.com", db=db)
    assert by_email.returncode == 0, by_email.stderr
    found = json.loads(by_email.stdout)
    assert found and len({f["person_id"] for f in found}) == 1
    by_id = iam_gov(*args, found[0]["person_id"], db=db)
    assert json.loads(by_id.stdout) == found
    nobody = iam_gov(*args, "nobody@nowhere", db=db)
    assert nobody.returncode == 2
    assert "--person: nobody in HR is 'nobody@nowhere'" in nobody.stderr


def test_a_finding_about_a_shared_cause_is_each_listed_persons(company: Path, db: Path) -> None:
    """The generated company's Admins group makes several people's AWS users admin: one
    finding, nobody's in person_id, that `findings --person` and `explain` give each of them."""
    assert iam_gov("--config", config(company), "run", db=db).returncode == FIRST_RUN
    every = json.loads(iam_gov("--config", config(company), "findings", "-f", "json", db=db).stdout)
    [shared] = [
        f
        for f in every
        if f["rule_id"] == "aws-admin-equivalent"
        and f["person_id"] is None
        and len({p["person_id"] for p in f["evidence"]["principals"]} - {None}) >= 2
    ]
    people = sorted({p["person_id"] for p in shared["evidence"]["principals"]} - {None})
    count = len(shared["evidence"]["principals"])
    for person in people:
        args = ("--config", config(company), "findings", "-f", "json", "--person", person)
        theirs = json.loads(iam_gov(*args, db=db).stdout)
        assert shared["finding_id"] in {f["finding_id"] for f in theirs}
        assert {f["person_id"] for f in theirs} <= {person, None}
        explained = iam_gov("--config", config(company), "explain", person, db=db)
        assert explained.returncode == 0, explained.stderr
        cause = shared["evidence"]["cause"]
        assert f"one of {count} principals; cause: {cause}" in explained.stdout
    outsider = next(f["person_id"] for f in every if f["person_id"] not in (*people, None))
    args = ("--config", config(company), "findings", "-f", "json", "--person", outsider)
    outsiders = json.loads(iam_gov(*args, db=db).stdout)
    assert outsiders and shared["finding_id"] not in {f["finding_id"] for f in outsiders}


def test_a_bad_choice_for_an_option_is_a_usage_error(tmp_path: Path) -> None:
    """Typer's own copy of click's errors: shown as a usage error, exit 2, not an internal
    error with exit 70."""
    done = iam_gov("rules", "--format", "xml", db=tmp_path / "unused.db")
    assert done.returncode == 2
    assert "Invalid value for '--format'" in done.stderr and "internal error" not in done.stderr


def test_policy_check_and_run_say_what_the_policy_names_that_nobody_has(
    company: Path, db: Path
) -> None:
    policy = company / "policy.yaml"
    text = policy.read_text(encoding="utf-8")
    marker = "  - name: everyone\n"
    assert marker in text
    policy.write_text(
        text.replace(
            marker,
            '  - name: jira-users\n    match: {}\n    grants:\n      okta: ["app:Jiraa*"]\n'
            + marker,
            1,
        ),
        encoding="utf-8",
    )
    before = iam_gov("--config", config(company), "policy", "check", db=db)
    assert before.returncode == 0 and "app:Jiraa" not in before.stdout  # no store yet: no lint
    assert not db.exists()  # and none created by a read-only command

    ran = iam_gov("--config", config(company), "run", db=db)
    assert "'app:Jiraa*' matches no entitlement in okta's latest snapshot" in ran.stdout

    checked = iam_gov("--config", config(company), "policy", "check", db=db)
    assert checked.returncode == 0
    assert f"{policy}:" in checked.stdout and "roles.jira-users.grants.okta" in checked.stdout


def test_run_refuses_a_policy_naming_a_system_that_is_not_configured(
    company: Path, db: Path
) -> None:
    policy = company / "policy.yaml"
    text = policy.read_text(encoding="utf-8")
    marker = "  - name: everyone\n"
    policy.write_text(
        text.replace(
            marker,
            '  - name: typo\n    match: {}\n    grants:\n      oktaa: ["group:X"]\n' + marker,
            1,
        ),
        encoding="utf-8",
    )
    ran = iam_gov("--config", config(company), "run", db=db)
    assert ran.returncode == 2 and "the policy names system 'oktaa'" in ran.stderr
    assert not db.exists()  # refused before anything is collected


def test_what_the_policy_expects_is_counted_and_listed_not_reported(
    company: Path, db: Path
) -> None:
    ran = iam_gov("--config", config(company), "run", db=db)
    assert ran.returncode == FIRST_RUN, ran.stderr
    assert "Expected by policy: " in ran.stdout

    expected = iam_gov("--config", config(company), "explain", "--expected", db=db)
    assert expected.returncode == 0, expected.stderr
    assert "declared break-glass" in expected.stdout and "breakglass-admin" in expected.stdout

    listed = iam_gov("--config", config(company), "findings", "--format", "json", db=db)
    assert "breakglass-admin holds privileged" not in listed.stdout

    nothing = iam_gov("--config", config(company), "explain", db=db)
    assert nothing.returncode == 2 and "--expected" in nothing.stderr


def test_collecting_one_system_needs_neither_hr_nor_the_policy(company: Path, db: Path) -> None:
    text = (company / "iam-gov.toml").read_text(encoding="utf-8")
    tables = text.split("\n[")
    kept = [t for t in tables if not t.startswith("systems.") or t.startswith("systems.aws]")]
    only_aws = company / "only-aws.toml"
    only_aws.write_text("\n[".join(kept), encoding="utf-8")
    (company / "policy.yaml").write_text("not: [a, valid policy", encoding="utf-8")

    collected = iam_gov("--config", str(only_aws), "collect", "-s", "aws", db=db)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert "│ aws " in collected.stdout

    ran = iam_gov("--config", str(only_aws), "run", db=db)
    assert ran.returncode == 2
    assert 'no system of type "hr" is configured' in ran.stderr
