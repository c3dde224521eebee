"""Extensions: the registry, and a rule and a connector shipped by a company's own package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest

from iam_gov.plugins import PluginError, Registry

# --- the registry ---------------------------------------------------------------------------


def write_package(root: Path, name: str, modules: dict[str, str]) -> None:
    package = root / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""A package for the test."""\n')
    for module, source in modules.items():
        (package / f"{module}.py").write_text(dedent(source))


def write_distribution(root: Path, name: str, entry_points: dict[str, dict[str, str]]) -> None:
    """An installed distribution as pip leaves it: a .dist-info folder on the path."""
    info = root / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in points.items())
            for group, points in entry_points.items()
        )
    )


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


REGISTERING = """\
from {registry_module} import REGISTRY
REGISTRY.add({name!r}, {name!r}.upper(), __name__)
"""


def test_built_in_modules_and_entry_points_register_and_are_found(on_path: Path) -> None:
    write_package(
        on_path,
        "builtins_a",
        {
            "registry_here": "from iam_gov.plugins import Registry\n"
            "REGISTRY = Registry('gadget', group='test.gadgets.a', package='builtins_a')\n",
            "one": REGISTERING.format(registry_module="builtins_a.registry_here", name="one"),
            "_private": "raise AssertionError('modules starting with _ are not imported')\n",
        },
    )
    write_package(
        on_path,
        "vendor_a",
        {"gadgets": REGISTERING.format(registry_module="builtins_a.registry_here", name="two")},
    )
    write_distribution(on_path, "vendor-a", {"test.gadgets.a": {"vendor": "vendor_a.gadgets"}})
    from builtins_a.registry_here import REGISTRY  # type: ignore[import-not-found]

    assert REGISTRY.all() == {"one": "ONE", "two": "TWO"}
    assert REGISTRY.origin("two") == "vendor_a.gadgets"
    assert "two" in REGISTRY
    with pytest.raises(KeyError, match=r"unknown gadget 'tow' \(known: one, two\); did you mean"):
        REGISTRY.get("tow")


def test_a_name_registered_twice_is_refused_naming_both(on_path: Path) -> None:
    registry: Registry[str] = Registry("gadget", group="test.gadgets.b", package="json")
    registry.add("x", "first", "pkg.one")

    with pytest.raises(PluginError, match="'x' is registered twice: by pkg.one and by pkg.two"):
        registry.add("x", "second", "pkg.two")
    assert registry._items == {"x": "first"}


def test_a_broken_plugin_is_named_not_a_traceback(on_path: Path) -> None:
    write_package(on_path, "builtins_c", {})
    write_package(on_path, "vendor_c", {"broken": "import does_not_exist\n"})
    write_distribution(on_path, "vendor-c", {"test.gadgets.c": {"broken": "vendor_c.broken"}})
    registry: Registry[str] = Registry("gadget", group="test.gadgets.c", package="builtins_c")

    with pytest.raises(PluginError) as caught:
        registry.all()
    assert str(caught.value) == (
        "entry point 'broken' = 'vendor_c.broken' (test.gadgets.c) cannot be loaded: "
        "ModuleNotFoundError: No module named 'does_not_exist'"
    )


# --- a company's own rule and read-only connector, through the real command ------------------

BADGES = '''\
"""The badge system's export: who may open which door. A read-only file connector."""

from __future__ import annotations

import json
from typing import ClassVar, Literal

from iam_gov.configtypes import RelPath
from iam_gov.connectors import Connector, ConnectorOptions, Permissions, connector
from iam_gov.model import (
    Account, AccountStatus, Entitlement, Grant, SnapshotError, SystemSnapshot,
)


class BadgeOptions(ConnectorOptions):
    type: Literal["badges"]
    path: RelPath


@connector
class BadgeConnector(Connector[BadgeOptions]):
    options_model: ClassVar[type[ConnectorOptions]] = BadgeOptions
    permissions: ClassVar[Permissions] = Permissions(collect=("read the badge export",))

    def collect(self) -> SystemSnapshot:
        records = json.loads(self.options.path.read_text())
        zones = sorted({zone for r in records for zone in r["zones"]})
        return SystemSnapshot(
            system=self.system,
            connector=self.type_name,
            source=f"export:{self.options.path.name}",
            collected_at=self.clock(),
            complete=True,
            accounts=tuple(
                Account(
                    system=self.system, native_id=r["badge"], login=r["badge"],
                    email=r["email"], status=AccountStatus.ACTIVE,
                )
                for r in records
            ),
            entitlements=tuple(
                Entitlement(system=self.system, entitlement_id=z, name=z, kind="zone")
                for z in zones
            ),
            grants=tuple(
                Grant(system=self.system, account_id=r["badge"], entitlement_id=z)
                for r in records
                for z in r["zones"]
            ),
        )
'''

RULE = '''\
"""Who can open the server room: it should be nobody but the data-centre team."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from iam_gov.engine import EvaluationState
from iam_gov.model import Severity
from iam_gov.rules import Evidence, Hit, RuleParams, rule


class ServerRoomParams(RuleParams):
    zone: str = Field(default="server-room", description="The zone that is the server room.")


class ServerRoomEvidence(Evidence):
    badge: str


@rule(
    id="acme-server-room",
    title="Server-room badge",
    severity=Severity.HIGH,
    control="Physical access is restricted to authorised personnel.",
    soc2=("CC6.4",),
    iso27001=("A.7.2",),
    remediation="Take the zone off the badge.",
)
def check(state: EvaluationState, params: ServerRoomParams) -> Iterator[Hit]:
    """A badge that opens the server room."""
    for view, account, link, _person, _left in state.entries():
        grants = view.grants.get(account.native_id, ())
        if view.info.connector == "badges" and any(g.entitlement_id == params.zone for g in grants):
            yield Hit(
                subject=f"{view.name}:{account.native_id}",
                message=f"badge {account.login} opens the {params.zone}",
                evidence=ServerRoomEvidence(badge=account.login),
                system=view.name,
                person_id=link.person_id,
            )
'''

TICKETS = '''\
"""Findings as lines for the ticket system's import."""

from iam_gov.reports.formats import FindingsReport, findings_format
from iam_gov.textsafe import printable


@findings_format("tickets", "one line per finding for the ticket import")
def tickets(report: FindingsReport) -> str:
    return "".join(f"TICKET {f.rule_id}: {printable(f.message)}\\n" for f in report.findings)
'''

CONFIG = """\
[store]
url = "sqlite:///iam-gov.db"

[policy]
path = "policy.yaml"

[systems.hr]
type = "hr"
path = "hr.csv"

[systems.doors]
type = "badges"
path = "badges.json"
"""


@pytest.fixture
def company(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A throwaway distribution (rule + connector, entry points) and a company that uses it."""
    site = tmp_path / "site"
    site.mkdir()
    write_package(site, "acme_iam", {"badges": BADGES, "server_room": RULE, "tickets": TICKETS})
    write_distribution(
        site,
        "acme-iam",
        {
            "iam_gov.connectors": {"acme": "acme_iam.badges"},
            "iam_gov.rules": {"acme": "acme_iam.server_room"},
            "iam_gov.reports": {"acme": "acme_iam.tickets"},
        },
    )
    work = tmp_path / "company"
    work.mkdir()
    (work / "iam-gov.toml").write_text(CONFIG)
    (work / "policy.yaml").write_text("version: 1\n")
    (work / "hr.csv").write_text(
        "employee_id,name,email,status\n"
        "E1,Ada Lovelace,ada@example.com,active\n"
        "E2,Alan Turing,alan@example.com,active\n"
    )
    (work / "badges.json").write_text(
        json.dumps(
            [
                {"badge": "B-100", "email": "ada@example.com", "zones": ["lobby", "server-room"]},
                {"badge": "B-200", "email": "alan@example.com", "zones": ["lobby"]},
            ]
        )
    )
    env = {**os.environ, "PYTHONPATH": str(site), "IAM_GOV_CONFIG": str(work / "iam-gov.toml")}
    env.pop("IAM_GOV_DATABASE_URL", None)
    return work, env


def iam_gov(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iam_gov", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_rule_a_connector_and_a_format_from_another_package_work_without_editing_iam_gov(
    company: tuple[Path, dict[str, str]],
) -> None:
    work, env = company

    catalogue = iam_gov(env, work, "rules", "acme-server-room")
    assert catalogue.returncode == 0, catalogue.stderr
    assert "Server-room badge" in catalogue.stdout
    assert "The zone that is the server room." in catalogue.stdout

    checked = iam_gov(env, work, "config", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "doors (badges)" in checked.stdout

    run = iam_gov(env, work, "run")
    assert run.returncode == 1, run.stdout + run.stderr  # a first run: its high finding is new

    found = iam_gov(env, work, "findings", "--rule", "acme-server-room", "--format", "json")
    assert found.returncode == 0, found.stderr
    [finding] = json.loads(found.stdout)
    assert finding["system"] == "doors"
    assert finding["person_id"] == "E1"
    assert finding["message"] == "badge B-100 opens the server-room"

    tickets = iam_gov(env, work, "findings", "--rule", "acme-server-room", "--format", "tickets")
    assert tickets.returncode == 0, tickets.stderr
    assert tickets.stdout == "TICKET acme-server-room: badge B-100 opens the server-room\n"


def test_without_the_package_its_connector_type_is_unknown(
    company: tuple[Path, dict[str, str]],
) -> None:
    work, env = company
    env = {**env, "PYTHONPATH": ""}

    checked = iam_gov(env, work, "config", "check")

    assert checked.returncode == 2
    assert "unknown connector type 'badges'" in checked.stderr
