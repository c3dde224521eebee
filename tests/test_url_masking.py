"""A store URL's credentials never reach a screen: the password and every query parameter that
carries or locates one are masked wherever the URL is shown, and the configuration file refuses
a secret in the URL's query as it refuses one in its user info."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam_gov.config import load_config
from iam_gov.errors import ConfigError, StoreError
from iam_gov.samplegen import generate
from iam_gov.store import Store
from iam_gov.store.database import safe_url
from tests.support.world import AS_OF
from tests.test_cli import iam_gov

SECRET = "hunter2-Zq9"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://iam:{SECRET}@db/iamgov",
        f"postgresql://iam@db/iamgov?password={SECRET}",
        f"postgresql://iam@db/iamgov?sslpassword={SECRET}",
        f"postgresql://iam@db/iamgov?token={SECRET}",
        f"postgresql://iam@db/iamgov?client_secret={SECRET}",
        f"postgresql://iam@db/iamgov?sslkey=/home/iam/{SECRET}.key",
        f"postgresql://iam@db/iamgov?passphrase={SECRET}",
        f"postgresql://iam@db/iamgov?api_key={SECRET}",
        f"postgresql://iam@db/iamgov?passfile=/home/{SECRET}/.pgpass",
        f"postgresql://iam@db/iamgov?PASSWORD={SECRET}",
        f"postgresql://iam@db/iamgov?token=one&token={SECRET}",
    ],
)
def test_safe_url_masks_every_credential(url: str) -> None:
    shown = safe_url(url)
    assert SECRET not in shown
    assert "***" in shown
    assert shown.startswith("postgresql://iam")
    assert "@db/iamgov" in shown


def test_safe_url_keeps_what_is_no_secret() -> None:
    shown = safe_url(f"postgresql://iam@db/iamgov?sslmode=require&password={SECRET}")
    assert shown == "postgresql://iam@db/iamgov?sslmode=require&password=***"
    assert safe_url("sqlite:////srv/iam-gov.db") == "sqlite:////srv/iam-gov.db"


@pytest.mark.parametrize("parameter", ["password", "sslpassword", "token"])
def test_config_check_shows_the_store_url_masked(tmp_path: Path, parameter: str) -> None:
    company = tmp_path / "company"
    generate(company, people=10, seed=3, as_of=AS_OF)
    url = f"postgresql://iam@db.invalid/iamgov?sslmode=require&{parameter}={SECRET}"
    done = iam_gov(
        "--config",
        str(company / "iam-gov.toml"),
        "--database-url",
        url,
        "config",
        "check",
        db=tmp_path / "unused.db",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert f"{parameter}=***" in done.stdout
    assert "sslmode=require" in done.stdout


def test_an_error_opening_the_store_shows_the_url_masked() -> None:
    # Nothing listens on port 1: the connection fails, and the message names the store.
    url = f"postgresql://iam@127.0.0.1:1/iamgov?connect_timeout=2&sslpassword={SECRET}"
    with pytest.raises(StoreError) as raised:
        Store.open(url)
    message = str(raised.value)
    assert "sslpassword=***" in message
    assert SECRET not in message


MINIMAL = """
[policy]
path = "policy.yaml"

[systems.hr]
type = "hr"
path = "hr.csv"
"""


@pytest.mark.parametrize("parameter", ["password", "sslpassword", "token", "passphrase"])
def test_the_config_file_refuses_a_secret_in_the_url_query(tmp_path: Path, parameter: str) -> None:
    path = tmp_path / "iam-gov.toml"
    path.write_text(
        f'[store]\nurl = "postgresql://iam@db/iamgov?{parameter}={SECRET}"\n{MINIMAL}',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    problems = raised.value.problems
    assert any(
        f"store.url: the URL carries a secret in its {parameter!r} parameter" in p for p in problems
    ), problems
    assert all(SECRET not in p for p in problems)


@pytest.mark.parametrize("harmless", ["sslmode=require", "sslkey=/etc/iam/client.key"])
def test_the_config_file_accepts_query_parameters_that_are_no_secret(
    tmp_path: Path, harmless: str
) -> None:
    # A key file's path says where the secret is, not what it is: it may be written down.
    path = tmp_path / "iam-gov.toml"
    path.write_text(
        f'[store]\nurl = "postgresql://iam@db/iamgov?{harmless}"\n{MINIMAL}', encoding="utf-8"
    )
    try:
        load_config(path)
    except ConfigError as exc:
        assert not any("store.url" in p for p in exc.problems), exc.problems
