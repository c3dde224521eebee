"""Policy as code: a valid policy loads; every mistake is ``file:line: what is wrong``."""

from __future__ import annotations

import glob
import string
from datetime import date
from pathlib import Path
from textwrap import dedent

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iam_gov.errors import PolicyError
from iam_gov.model import AccountKind
from iam_gov.policy import load_policy
from iam_gov.policy.match import wildcard
from iam_gov.rules import all_rules
from tests.support.world import account, person

VALID = dedent(
    """\
    version: 1
    roles:
      - name: employee
        description: everyone who works here
        grants:
          aws: ["policy:IAMUserChangePassword"]
      - name: engineer
        match:
          department: [Engineering, Platform*]
        includes: [employee]
        grants:
          aws: ["group:Developers"]
      - name: sre
        match: {title: "*Reliability*"}
        includes: [engineer]
        grants:
          aws: ["group:Ops"]
    privileged:
      aws: ["group:Admins", "policy:AdministratorAccess"]
    exceptions:
      - person: E7
        system: aws
        entitlement: group:Billing
        approver: cfo@example.com
        reason: quarter-end close
        expires: 2027-01-31
        ticket: SEC-12
    accounts:
      - system: aws
        login: svc-*
        kind: service
        owner: platform-team
        entitlements: ["policy:AmazonS3*"]
      - system: aws
        login: breakglass
        kind: break-glass
        owner: ciso
    rules:
      dormant-account:
        days: 60
        days_by_system: {aws: 30}
      mfa-missing: {enabled: false}
    """
)


def write(folder: Path, text: str, name: str = "policy.yaml") -> Path:
    path = folder / name
    path.write_text(dedent(text), encoding="utf-8")
    return path


def line_of(text: str, marker: str, nth: int = 1) -> int:
    """1-based number of the line holding the nth occurrence of ``marker``."""
    hits = [i for i, line in enumerate(dedent(text).splitlines(), 1) if marker in line]
    return hits[nth - 1]


def problems_of(path: Path) -> tuple[str, ...]:
    with pytest.raises(PolicyError) as raised:
        load_policy(path, rules=all_rules())
    return raised.value.problems


# --- a valid policy -----------------------------------------------------------------------


def test_valid_policy_loads(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)

    policy = load_policy(path, rules=all_rules())

    assert list(policy.roles) == ["employee", "engineer", "sre"]
    assert policy.roles["engineer"].where == f"{path}:{line_of(VALID, 'name: engineer')}"
    assert policy.roles["sre"].item.grants == {"aws": ("group:Ops",)}
    assert {s: [p.entitlement for p in specs] for s, specs in policy.privileged.items()} == {
        "aws": ["group:Admins", "policy:AdministratorAccess"]
    }
    assert policy.sources == (path,)
    assert policy.systems() == {"aws"}

    [exc] = policy.exceptions
    assert exc.item.person == "E7"
    assert exc.item.expires == date(2027, 1, 31)
    assert exc.where == f"{path}:{line_of(VALID, 'person: E7')}"

    assert policy.rules["dormant-account"].enabled
    assert policy.rules["dormant-account"].params.days == 60  # type: ignore[attr-defined]
    assert policy.rules["dormant-account"].params.days_by_system == {"aws": 30}  # type: ignore[attr-defined]
    assert not policy.rule_enabled("mfa-missing")
    assert policy.rule_enabled("orphan-account")  # not mentioned: on, with its defaults


def test_roles_match_hr_fields_with_wildcards_and_lists(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, VALID), rules=all_rules())

    sre = person("E1", department="Platform Engineering", title="Site Reliability Engineer")
    engineer = person("E2", department="engineering", title="Developer")
    sales = person("E3", department="Sales", title="Account Executive")

    assert sorted(policy.roles_of(sre)) == ["employee", "engineer", "sre"]
    assert sorted(policy.roles_of(engineer)) == ["employee", "engineer"]
    assert policy.roles_of(sales) == ("employee",)  # an empty match is everyone
    assert sorted(policy.expected(policy.roles_of(sre), "aws")) == [
        ("group:Developers", "engineer"),
        ("group:Ops", "sre"),
        ("policy:IAMUserChangePassword", "employee"),
    ]
    assert policy.expected(policy.roles_of(sre), "okta") == []


def test_roles_bring_what_they_include_transitively(tmp_path: Path) -> None:
    text = """\
        version: 1
        roles:
          - name: base
            match: {department: Nobody}
            grants: {aws: ["policy:Base"]}
          - name: mid
            match: {department: Nobody}
            includes: [base]
          - name: top
            match: {title: "*Reliability*"}
            includes: [mid]
            grants: {aws: ["group:Ops"]}
        """
    policy = load_policy(write(tmp_path, text), rules=all_rules())

    sre = person("E1", department="Operations", title="Site Reliability Engineer")

    assert sorted(policy.roles_of(sre)) == ["base", "mid", "top"]
    assert sorted(p for p, _ in policy.expected(policy.roles_of(sre), "aws")) == [
        "group:Ops",
        "policy:Base",
    ]
    assert policy.roles_of(person("E2", department="Operations", title="Analyst")) == ()


def test_declared_accounts_match_by_login_wildcard(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    policy = load_policy(path, rules=all_rules())

    service = policy.declared(account("SVC-Backup"))
    assert service is not None
    assert service.item.kind is AccountKind.SERVICE
    assert service.where == f"{path}:{line_of(VALID, 'login: svc-*') - 1}"
    assert policy.declared(account("svc-backup", system="okta")) is None
    assert policy.declared(account("jane.doe")) is None
    breakglass = policy.declared(account("breakglass"))
    assert breakglass is not None and breakglass.item.kind is AccountKind.BREAK_GLASS


def test_digest_follows_the_content(tmp_path: Path) -> None:
    one = load_policy(write(tmp_path, VALID), rules=all_rules()).digest
    same = load_policy(write(tmp_path, VALID), rules=all_rules()).digest
    changed = load_policy(
        write(tmp_path, VALID.replace("days: 60", "days: 61")), rules=all_rules()
    ).digest

    assert one == same
    assert one != changed


def test_policy_folder_merges_its_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        "version: 1\nroles:\n  - name: employee\nprivileged:\n  aws: [group:Admins]\n",
        "a.yaml",
    )
    write(tmp_path, "version: 1\nroles:\n  - name: engineer\n    includes: [employee]\n", "b.yml")
    write(tmp_path, "privileged:\n  aws: [group:Ops]\n", "c.yaml")
    (tmp_path / "notes.txt").write_text("not: [policy", encoding="utf-8")

    policy = load_policy(tmp_path, rules=all_rules())

    assert set(policy.roles) == {"employee", "engineer"}
    assert policy.roles["engineer"].where == f"{tmp_path / 'b.yml'}:3"
    assert {s: [p.entitlement for p in specs] for s, specs in policy.privileged.items()} == {
        "aws": ["group:Admins", "group:Ops"]
    }
    assert len(policy.sources) == 3


# --- mistakes, each at its line -----------------------------------------------------------


def test_yaml_syntax_error(tmp_path: Path) -> None:
    text = """\
        version: 1
        roles:
          - name: dev
            description: a: b
        """
    path = write(tmp_path, text)

    [problem] = problems_of(path)

    assert problem == f"{path}:4: mapping values are not allowed here"


def test_duplicate_key(tmp_path: Path) -> None:
    text = """\
        version: 1
        roles:
          - name: dev
            match: {department: Engineering}
            name: ops
        """
    path = write(tmp_path, text)

    [problem] = problems_of(path)

    assert problem.startswith(f"{path}:5: ")
    assert 'duplicate key "name"' in problem


def test_unknown_key(tmp_path: Path) -> None:
    text = """\
        version: 1
        roles:
          - name: dev
            grantz:
              aws: [group:Developers]
        """
    path = write(tmp_path, text)

    assert problems_of(path) == (f"{path}:4: roles.0.grantz: unknown key",)


def test_wrong_type(tmp_path: Path) -> None:
    text = """\
        version: 1
        exceptions:
          - person: E1
            system: aws
            entitlement: group:Billing
            approver: cfo
            reason: close
            expires: someday
        """
    path = write(tmp_path, text)

    [problem] = problems_of(path)

    assert problem.startswith(f"{path}:8: exceptions.0.expires: Input should be a valid date")


def test_missing_required_key(tmp_path: Path) -> None:
    text = """\
        version: 1
        roles:
          - name: dev
          - description: no name
        exceptions:
          - person: E1
            system: aws
            entitlement: group:Billing
            reason: close
            expires: 2027-01-01
        """
    path = write(tmp_path, text)

    assert problems_of(path) == (
        f"{path}:4: roles.1.name: required key is missing",
        f"{path}:6: exceptions.0.approver: required key is missing",
    )


def test_every_schema_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = """\
        version: 2
        roles:
          - name: dev
            includes: dev
            colour: blue
        accounts:
          - system: aws
            login: jdoe
            kind: human
            owner: it
        """
    path = write(tmp_path, text)

    problems = problems_of(path)

    assert [p.split(": ", 2)[:2] for p in problems] == [
        [f"{path}:1", "version"],
        [f"{path}:4", "roles.0.includes"],
        [f"{path}:5", "roles.0.colour"],
        [f"{path}:9", "accounts.0.kind"],
    ]


def test_unknown_rule_suggests_the_nearest(tmp_path: Path) -> None:
    text = """\
        version: 1
        rules:
          dormant-acount:
            days: 30
          no-such-thing: {}
        """
    path = write(tmp_path, text)

    assert problems_of(path) == (
        f"{path}:3: rules.dormant-acount: no such rule (did you mean dormant-account?)",
        f"{path}:5: rules.no-such-thing: no such rule",
    )


def test_bad_rule_parameters(tmp_path: Path) -> None:
    text = """\
        version: 1
        rules:
          dormant-account:
            days: 0
            dayz: 3
          stale-access-key:
            enabled: "no"
          orphan-account:
            include_disabled: maybe
        """
    path = write(tmp_path, text)

    problems = problems_of(path)

    assert problems[0] == (
        f"{path}:4: rules.dormant-account.days: Input should be greater than or equal to 1"
    )
    assert problems[1] == f"{path}:5: rules.dormant-account.dayz: unknown key"
    assert problems[2] == f"{path}:6: rules.stale-access-key.enabled: must be true or false"
    assert problems[3].startswith(f"{path}:9: rules.orphan-account.include_disabled: ")
    assert len(problems) == 4


def test_rule_settings_are_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\nrules:\n  dormant-account: 30\n")

    [problem] = problems_of(path)

    assert problem.startswith(f"{path}:3: rules.dormant-account: ")


def test_role_including_an_unknown_role(tmp_path: Path) -> None:
    text = """\
        version: 1
        roles:
          - name: employee
          - name: engineer
            includes: [employee, enginer]
        """
    path = write(tmp_path, text)

    assert problems_of(path) == (f"{path}:4: roles: 'engineer' includes unknown role 'enginer'",)


def test_roles_including_each_other(tmp_path: Path) -> None:
    text = """\
        version: 1
        roles:
          - name: a
            includes: [b]
          - name: b
            includes: [a]
          - name: narcissus
            includes: [narcissus]
        """
    path = write(tmp_path, text)

    assert problems_of(path) == (
        f"{path}:5: roles: roles include each other: a -> b -> a",
        f"{path}:7: roles: roles include each other: narcissus -> narcissus",
    )


def test_duplicate_role_name(tmp_path: Path) -> None:
    text = """\
        version: 1
        roles:
          - name: dev
          - name: ops
          - name: dev
            description: again
        """
    path = write(tmp_path, text)

    assert problems_of(path) == (
        f"{path}:5: roles.2.name: role 'dev' is already defined at {path}:3",
    )


def test_duplicate_role_name_across_files_names_both(tmp_path: Path) -> None:
    first = write(tmp_path, "version: 1\nroles:\n  - name: employee\n  - name: dev\n", "a.yaml")
    second = write(tmp_path, "version: 1\n\nroles:\n  - name: ops\n  - name: dev\n", "b.yaml")

    assert problems_of(tmp_path) == (
        f"{second}:5: roles.1.name: role 'dev' is already defined at {first}:4",
    )


def test_rule_set_twice_across_files(tmp_path: Path) -> None:
    first = write(tmp_path, "version: 1\nrules:\n  dormant-account: {days: 30}\n", "a.yaml")
    second = write(tmp_path, "rules:\n  dormant-account: {days: 40}\n", "b.yaml")

    assert problems_of(tmp_path) == (
        f"{second}:2: rules.dormant-account: already set at {first}:3",
    )


def test_declared_account_cannot_be_human(tmp_path: Path) -> None:
    text = """\
        version: 1
        accounts:
          - system: aws
            login: jdoe
            owner: it
            kind: human
        """
    path = write(tmp_path, text)

    [problem] = problems_of(path)

    assert problem.startswith(f"{path}:6: accounts.0.kind: ")
    assert "humans come from HR" in problem


def test_exception_names_a_person_or_an_account(tmp_path: Path) -> None:
    text = """\
        version: 1
        exceptions:
          - system: aws
            entitlement: group:Billing
            approver: cfo
            reason: close
            expires: 2027-01-01
          - system: aws
            account: svc-report
            entitlement: group:Billing
            approver: cfo
            reason: close
            expires: 2027-01-01
        """
    path = write(tmp_path, text)

    [problem] = problems_of(path)

    assert problem.startswith(f"{path}:3: exceptions.0: ")
    assert "an exception names a person or an account" in problem


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing here yet\n")

    assert problems_of(path) == (f"{path}: the file is empty",)


def test_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- version: 1\n")

    [problem] = problems_of(path)

    assert problem.startswith(f"{path}:1: a policy file is a mapping")


def test_folder_without_yaml(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("policies go here", encoding="utf-8")

    assert problems_of(tmp_path) == (f"{tmp_path}: the policy folder has no .yaml files",)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"

    assert problems_of(path) == (f"{path}: no such file",)


# --- wildcards ----------------------------------------------------------------------------

ASCII = st.text(alphabet=string.ascii_letters + string.digits + "-_.:/@*?[]!", max_size=30)


@given(st.text(max_size=40))
def test_star_matches_everything(value: str) -> None:
    assert wildcard("*", value)
    assert not wildcard("*", None)


@given(st.text(max_size=40))
def test_escaped_value_matches_itself(value: str) -> None:
    assert wildcard(glob.escape(value), value)


@given(ASCII)
def test_case_is_ignored(value: str) -> None:
    assert wildcard(glob.escape(value).upper(), value.lower())
    assert wildcard(glob.escape(value.swapcase()), value)


@given(ASCII, ASCII)
def test_star_suffix_matches_any_continuation(prefix: str, rest: str) -> None:
    assert wildcard(glob.escape(prefix) + "*", prefix + rest)


@given(ASCII)
def test_question_mark_is_exactly_one_character(value: str) -> None:
    assert wildcard("?" * len(value), value)
    assert not wildcard("?" * (len(value) + 1), value)


@given(ASCII, st.sampled_from(string.ascii_letters))
def test_literal_pattern_does_not_match_a_longer_value(value: str, extra: str) -> None:
    assert not wildcard(glob.escape(value), value + extra)
