"""The settings file: validation with every problem at once, paths, secrets, store URL."""

from __future__ import annotations

import re
from pathlib import Path
from textwrap import dedent

import pytest
from pydantic import ValidationError

from iam_gov.config import (
    DATABASE_URL_ENV,
    Config,
    MatchMethod,
    check_files,
    database_url,
    load_config,
)
from iam_gov.configtypes import SecretRef, looks_like_secret_key
from iam_gov.connectors.aws.connector import AWSOptions
from iam_gov.connectors.hr.connector import HROptions
from iam_gov.errors import ConfigError

VALID = """\
[store]
url = "sqlite:///state/iam.db"

[policy]
path = "policy"

[correlation]
match = ["email", "employee_id"]
overrides = "overrides.yaml"
email_domains = ["example.com", "example.io"]

[systems.hr]
type = "hr"
path = "exports/hr.csv"
preset = "generic"

[systems.aws-prod]
type = "aws"
mode = "export"
authorization_details = "exports/aws/auth.json"
credential_report = "exports/aws/credential-report.csv"
password_policy = "exports/aws/password-policy.json"
"""

FILES = (
    "policy/roles.yaml",
    "overrides.yaml",
    "exports/hr.csv",
    "exports/aws/auth.json",
    "exports/aws/credential-report.csv",
    "exports/aws/password-policy.json",
)

MINIMAL = """\
[policy]
path = "policy.yaml"

[systems.hr]
type = "hr"
path = "hr.csv"
"""


@pytest.fixture(autouse=True)
def _no_database_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)


def write(folder: Path, text: str, files: tuple[str, ...] = ()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("x\n", encoding="utf-8")
    path = folder / "iam-gov.toml"
    path.write_text(dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    return raised.value.problems


# --- a valid file -------------------------------------------------------------------------


def test_valid_config_loads_with_paths_relative_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    write(conf, VALID, FILES)
    monkeypatch.chdir(tmp_path)  # relative to the config file, not to where we are

    config = load_config(Path("conf/iam-gov.toml"))

    assert config.path == conf / "iam-gov.toml"
    assert config.base_dir == conf
    assert config.policy.path == conf / "policy"
    assert config.correlation.overrides == conf / "overrides.yaml"
    assert config.correlation.match == (MatchMethod.EMAIL, MatchMethod.EMPLOYEE_ID)
    assert config.correlation.email_domains == ("example.com", "example.io")
    assert config.hr_system == "hr"
    hr = config.systems["hr"]
    aws = config.systems["aws-prod"]
    assert isinstance(hr, HROptions)
    assert hr.path == conf / "exports/hr.csv"
    assert isinstance(aws, AWSOptions)
    assert aws.authorization_details == conf / "exports/aws/auth.json"
    assert aws.password_policy == conf / "exports/aws/password-policy.json"
    assert check_files(config) == []


def test_defaults_when_sections_are_left_out(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))

    assert config.store.url is None
    assert config.correlation.match == tuple(MatchMethod)
    assert config.correlation.overrides is None


# --- mistakes -----------------------------------------------------------------------------


def test_missing_config_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"

    assert problems_of(path) == (f"{path}: no such file (pass --config or set IAM_GOV_CONFIG)",)


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[policy]\npath = "policy.yaml"\n\n[systems.hr]\ntype = \n')

    [problem] = problems_of(path)

    assert re.fullmatch(rf"{re.escape(str(path))}:5: .+ \(column \d+\)", problem), problem


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = """\
        [stor]
        url = "sqlite:///x.db"

        [correlation]
        match = ["email", "shoe_size"]

        [systems.hr]
        type = "hr"
        path = "hr.xlsx"

        [systems.aws]
        type = "aws"
        mode = "export"
        """
    path = write(tmp_path, text)

    problems = problems_of(path)

    keys = [p.removeprefix(f"{path}: ").split(": ", 1)[0] for p in problems]
    assert all(p.startswith(f"{path}: ") for p in problems)
    assert sorted(keys) == sorted(
        ["stor", "policy", "correlation.match.1", "systems.hr", "systems.aws"]
    )
    assert f"{path}: stor: unknown key" in problems
    assert f"{path}: policy: required key is missing" in problems
    assert any("cannot tell the format of 'hr.xlsx'" in p for p in problems)
    assert any('mode = "export" needs authorization_details' in p for p in problems)


def test_unknown_key_in_a_system(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + 'colour = "blue"\n', ("policy.yaml", "hr.csv"))

    assert problems_of(path) == (f"{path}: systems.hr.colour: unknown key",)


def test_unknown_connector_type(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '\n[systems.dir]\ntype = "ldapp"\n')

    [problem] = problems_of(path)
    assert problem.startswith(
        f"{path}: systems.dir.type: unknown connector type 'ldapp' (did you mean ldap? one of: "
    )
    assert "hr, aws" in problem


@pytest.mark.parametrize("bad_type", ['["hr"]', '{ name = "hr" }', "3"])
def test_connector_type_of_the_wrong_kind_is_reported(tmp_path: Path, bad_type: str) -> None:
    path = write(
        tmp_path, f'[policy]\npath = "p"\n\n[systems.hr]\ntype = {bad_type}\npath = "hr.csv"\n'
    )

    problems = problems_of(path)

    [problem] = problems
    assert problem.startswith(f"{path}: systems.hr.type: unknown connector type ")


def test_system_without_type(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '\n[systems.cloud]\nmode = "live"\n')

    [problem] = problems_of(path)

    assert problem.startswith(f"{path}: systems.cloud.type: required key is missing")


def test_system_names_are_lower_case(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("[systems.hr]", "[systems.HR]"))

    [problem] = problems_of(path)

    assert problem.startswith(f"{path}: systems.HR: a system name is lower-case letters")


def test_no_hr_system_is_fine_until_something_needs_it(tmp_path: Path) -> None:
    text = """\
        [policy]
        path = "policy.yaml"

        [systems.aws]
        type = "aws"
        mode = "live"
        """
    path = write(tmp_path, text)

    config = load_config(path)  # collecting AWS alone needs no HR

    assert config.hr_system_or_none is None
    with pytest.raises(ConfigError, match='no system of type "hr" is configured; evaluating'):
        _ = config.hr_system


def test_two_hr_systems(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '\n[systems.hr-old]\ntype = "hr"\npath = "old.csv"\n')

    [problem] = problems_of(path)

    assert problem.startswith(f'{path}: systems: at most one system of type "hr" (found 2)')


def test_no_systems_at_all(tmp_path: Path) -> None:
    path = write(tmp_path, '[policy]\npath = "policy.yaml"\n')

    assert problems_of(path) == (f"{path}: systems: required key is missing",)


# --- secrets ------------------------------------------------------------------------------

SECRET = "hunter2-Zq9"


def test_secret_written_under_a_system_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + f'bind_password = "{SECRET}"\n')

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert (
        f"{path}: systems.hr.bind_password: a secret must not be written in the config file; "
        'use bind_password = { env = "VARIABLE" } or bind_password = { keyring = "service/user" }'
    ) in raised.value.problems
    assert SECRET not in str(raised.value)


def test_store_url_with_a_password_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = write(tmp_path, f'[store]\nurl = "postgresql://iam:{SECRET}@db/iam"\n\n' + MINIMAL)

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    [problem] = raised.value.problems
    assert problem.startswith(f"{path}: store.url: the URL carries a password")
    assert SECRET not in str(raised.value)


def test_store_url_password_is_reported_alongside_other_mistakes(tmp_path: Path) -> None:
    path = write(tmp_path, f'[store]\nurl = "postgresql://iam:{SECRET}@db/iam"\n\n[systems]\n')

    problems = problems_of(path)

    assert any(p.startswith(f"{path}: store.url: the URL carries a password") for p in problems)
    assert any(p.startswith(f"{path}: policy: ") for p in problems)
    assert all(SECRET not in p for p in problems)


def test_store_password_written_in_the_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, f'[store]\npassword = "{SECRET}"\n\n' + MINIMAL)

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert any("store.password: a secret must not be written" in p for p in raised.value.problems)
    assert SECRET not in str(raised.value)


def test_store_url_for_an_unsupported_database(tmp_path: Path) -> None:
    path = write(tmp_path, '[store]\nurl = "mysql://db/iam"\n\n' + MINIMAL)

    assert problems_of(path) == (
        f"{path}: store.url: mysql is not supported (sqlite or postgresql)",
    )


@pytest.mark.parametrize(
    "key", ["password", "bind_password", "client_secret", "api_token", "API-KEY", "private_key"]
)
def test_keys_that_name_a_secret(key: str) -> None:
    assert looks_like_secret_key(key)


@pytest.mark.parametrize("key", ["password_policy", "token_url", "secret_name", "keyring", "path"])
def test_keys_that_merely_mention_one(key: str) -> None:
    assert not looks_like_secret_key(key)


def test_secret_ref_resolves_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IAM_GOV_TEST_SECRET", SECRET)

    value = SecretRef(env="IAM_GOV_TEST_SECRET").resolve("store.password")

    assert value.get_secret_value() == SECRET
    assert SECRET not in str(value)


@pytest.mark.parametrize("value", [None, ""])
def test_missing_secret_is_named_without_a_value(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("IAM_GOV_TEST_SECRET", raising=False)
    else:
        monkeypatch.setenv("IAM_GOV_TEST_SECRET", value)

    with pytest.raises(ConfigError) as raised:
        SecretRef(env="IAM_GOV_TEST_SECRET").resolve("store.password")

    assert raised.value.problems == (
        "store.password: environment variable IAM_GOV_TEST_SECRET is not set",
    )


def test_secret_ref_names_exactly_one_source() -> None:
    with pytest.raises(ValidationError):
        SecretRef()
    with pytest.raises(ValidationError):
        SecretRef(env="A", keyring="service/user")
    with pytest.raises(ValidationError):
        SecretRef(env="not a variable name")


# --- the store's URL ----------------------------------------------------------------------


def config_with_store(folder: Path, store: str = "") -> Config:
    return load_config(write(folder, f"[store]\n{store}\n\n" + MINIMAL))


def test_database_url_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_with_store(tmp_path, 'url = "sqlite:////srv/from-file.db"')

    assert database_url(config) == "sqlite:////srv/from-file.db"
    monkeypatch.setenv(DATABASE_URL_ENV, "sqlite:////srv/from-env.db")
    assert database_url(config) == "sqlite:////srv/from-env.db"
    assert database_url(config, "sqlite:////srv/from-flag.db") == "sqlite:////srv/from-flag.db"


def test_default_store_sits_next_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    config = config_with_store(conf)
    monkeypatch.chdir(tmp_path)

    assert database_url(config) == f"sqlite:///{conf / 'iam-gov.db'}"
    assert database_url(None) == f"sqlite:///{tmp_path / 'iam-gov.db'}"


def test_relative_sqlite_path_is_resolved_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    config = config_with_store(conf, 'url = "sqlite:///state/iam.db"')
    monkeypatch.chdir(tmp_path)

    assert database_url(config) == f"sqlite:///{conf / 'state' / 'iam.db'}"


def test_store_password_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_with_store(
        tmp_path,
        'url = "postgresql+psycopg://iam@db.internal/iam"\n'
        'password = { env = "IAM_GOV_TEST_DB_PW" }',
    )

    monkeypatch.setenv("IAM_GOV_TEST_DB_PW", "s3cret")
    assert database_url(config) == "postgresql+psycopg://iam:s3cret@db.internal/iam"

    monkeypatch.delenv("IAM_GOV_TEST_DB_PW")
    with pytest.raises(ConfigError, match="environment variable IAM_GOV_TEST_DB_PW is not set"):
        database_url(config)


# --- files named by the configuration -----------------------------------------------------


def test_check_files_reports_each_missing_file_by_key(tmp_path: Path) -> None:
    present = ("policy/roles.yaml", "exports/hr.csv", "exports/aws/auth.json")
    path = write(tmp_path, VALID, present)

    problems = check_files(load_config(path))

    assert problems == [
        f"{path}: correlation.overrides: {tmp_path / 'overrides.yaml'} does not exist",
        f"{path}: systems.aws-prod.credential_report: "
        f"{tmp_path / 'exports/aws/credential-report.csv'} does not exist",
        f"{path}: systems.aws-prod.password_policy: "
        f"{tmp_path / 'exports/aws/password-policy.json'} does not exist",
    ]


def test_check_files_reports_a_missing_policy(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL, ("hr.csv",))

    assert check_files(load_config(path)) == [
        f"{path}: policy.path: {tmp_path / 'policy.yaml'} does not exist"
    ]
