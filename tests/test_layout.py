"""Architecture rules that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from iam_gov.connectors import Connector, connector_class, connector_types

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGE_DIR: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]
SOURCES = {
    "iam_gov": ROOT / "iam_gov",
    "iam_gov.connectors": ROOT / "connectors",
    "iam_gov.tui": ROOT / "tui",
}


def modules(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("where", ["iam_gov", "connectors"])
def test_the_core_and_connectors_never_import_the_tui(where: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            n
            for n in imported_names(path)
            if n.split(".")[0] == "textual" or n.startswith(("iam_gov.tui", "tui"))
        )
        for path in modules(ROOT / where)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_package_folder_is_installed(tmp_path: Path) -> None:
    """What a wheel of iam-gov holds: every package folder, found by setup.py, none listed.
    Built from a copy of the files git knows, as a clean checkout would build it."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    source = tmp_path / "source"
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation"]
        + ["--quiet", "--wheel-dir", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        declared = {
            name.rpartition("/")[0].replace("/", ".")
            for name in archive.namelist()
            if name.endswith("/__init__.py")
        }
    found = set()
    for prefix, root in SOURCES.items():
        assert PACKAGE_DIR[prefix] == str(root.relative_to(ROOT))
        for init in root.rglob("__init__.py"):
            relative = init.parent.relative_to(root)
            found.add(".".join([prefix, *relative.parts]))
    assert found == declared


def test_every_module_says_what_it_is_for() -> None:
    missing = [
        str(path.relative_to(ROOT))
        for root in SOURCES.values()
        for path in modules(root)
        if "versions" not in path.parts
        and path.stat().st_size
        and not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert missing == []


@pytest.mark.parametrize("type_name", connector_types())
def test_every_connector_declares_its_options_permissions_and_capabilities(type_name: str) -> None:
    cls = connector_class(type_name)
    assert issubclass(cls, Connector)
    assert cls.type_name == type_name
    assert cls.options_model.model_fields["type"].annotation is not str  # a Literal of its name
    assert cls.permissions.collect, "collect() needs at least one declared permission"
    if cls.capabilities:
        assert cls.permissions.apply, "a connector that acts declares the permissions it needs"
    else:
        assert not cls.permissions.apply
