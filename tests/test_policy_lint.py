"""Policy lint: what the policy names but the latest snapshots do not have, at file:line."""

from __future__ import annotations

from pathlib import Path

from iam_gov.collect import collect
from iam_gov.config import load_config
from iam_gov.policy import load_policy
from iam_gov.policy_lint import LintProblem, lint_policy
from iam_gov.rules import all_rules
from iam_gov.store import Store
from tests.deprovision.conftest import copy_demo

ADDED_ROLE = """\
  - name: typo-role
    match: {department: Engineering}
    grants:
      okta: ["app:Jira*"]
      oktaa: ["group:Engineering"]
    requestable:
      okta: ["group:Engineering"]

privileged:
"""

ADDED_ACCOUNT = """\
accounts:
  - system: aws
    login: svc-nothing-*
    kind: service
    owner: platform@example.com
"""

ADDED_SIDE = """\
      - {okta: ["app:GitHub"], aws: ["group:Developers"]}
      - {aws: ["group:Nobody"]}
"""

ADDED_EXCEPTION = """\
exceptions:
  - person: "E9999"
    system: "aws"
    entitlement: "group:Nope"
    approver: "head.of.data@example.com"
    reason: "Nobody"
    expires: 2027-01-26
  - account: "ghost-*"
    system: "oktaa"
    entitlement: "group:Everyone"
    approver: "head.of.data@example.com"
    reason: "Named twice, reported once"
    expires: 2027-01-26
"""


def _edit(policy: Path) -> None:
    text = policy.read_text(encoding="utf-8")
    for old, new in (
        ("\nprivileged:\n", "\n" + ADDED_ROLE),
        (
            '    - {entitlement: "group:Domain Admins", employees_only: true}\n',
            '    - {entitlement: "group:Domain Admins", employees_only: true}\n'
            '    - "group:Domain Adminz"\n',
        ),
        ("accounts:\n", ADDED_ACCOUNT),
        ('      - {okta: ["app:GitHub"], aws: ["group:Developers"]}\n', ADDED_SIDE),
        ("exceptions:\n", ADDED_EXCEPTION),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    policy.write_text(text, encoding="utf-8")


def _line(policy: Path, needle: str) -> str:
    lines = policy.read_text(encoding="utf-8").splitlines()
    found = [n for n, line in enumerate(lines, 1) if needle in line]
    assert len(found) == 1, (needle, found)
    return f"{policy}:{found[0]}"


def _lint(
    root: Path, store: Store, *, edit: bool = False, run_collect: bool = True
) -> tuple[Path, list[LintProblem]]:
    config = load_config(copy_demo(root / "demo"))
    if edit:
        _edit(config.policy.path)
    policy = load_policy(config.policy.path, rules=all_rules())
    if run_collect:
        collect(config, store)
    return config.policy.path, lint_policy(store, config, policy)


def test_demo_policy_has_no_errors(store: Store, tmp_path: Path) -> None:
    path, problems = _lint(tmp_path, store)
    assert not [p for p in problems if p.severity == "error"]
    # The demo's one warning: no AWS account has IAMFullAccess attached, so the snapshot has
    # no such entitlement. A privileged pattern for something not in use is legitimate.
    assert [(p.where, p.what) for p in problems] == [
        (_line(path, '"policy:IAMFullAccess"'), "privileged.aws")
    ]
    assert "'policy:IAMFullAccess' matches no entitlement in aws's latest snapshot" in str(
        problems[0]
    )
    assert "(2026-11-27 09:00 UTC)" in problems[0].message


def test_everything_that_matches_nothing_is_reported(store: Store, tmp_path: Path) -> None:
    path, problems = _lint(tmp_path, store, edit=True)
    got = {(p.where, p.what, p.severity): p.message for p in problems}

    def message(needle: str, what: str, severity: str = "warning") -> str:
        key = (_line(path, needle), what, severity)
        assert key in got, (key, sorted(got))
        return got.pop(key)

    unconfigured = message('oktaa: ["group:Engineering"]', "roles.typo-role.grants.oktaa", "error")
    assert "names system 'oktaa', which is not configured (configured: " in unconfigured
    assert "did you mean 'okta'?" in unconfigured
    assert problems[0].severity == "error"  # errors first
    jira = message('"app:Jira*"', "roles.typo-role.grants.okta")
    assert jira.startswith("'app:Jira*' matches no entitlement in okta's latest snapshot (")
    assert "calls everyone's real access excess" in jira
    assert "matches no entitlement in ad's" in message('"group:Domain Adminz"', "privileged.ad")
    assert "matches no account in aws's" in message("svc-nothing-*", "accounts.0.login")
    assert "'E9999' is nobody in the HR data" in message('"E9999"', "exceptions.0.person")
    assert "'group:Nope' matches no entitlement in aws's" in message(
        '"group:Nope"', "exceptions.0.entitlement"
    )
    assert "can never be held" in message(
        '{aws: ["group:Nobody"]}', "separation_of_duties.pay-and-change-code.sides.2.aws"
    )
    message('"policy:IAMFullAccess"', "privileged.aws")  # the demo's own warning
    # The requestable pattern matches; the second mention of "oktaa" is not reported again.
    assert got == {}
    assert [p.severity for p in problems].count("error") == 1


def test_uncollected_systems_are_said_once(store: Store, tmp_path: Path) -> None:
    _, problems = _lint(tmp_path, store, run_collect=False)
    assert {p.severity for p in problems} == {"warning"}
    systems = [p.message.split(" ", 1)[0] for p in problems]
    assert sorted(systems) == ["ad", "aws", "entra", "hr", "okta", "openvpn", "wireguard"]
    assert all("is not collected yet" in p.message for p in problems)
