"""The layers of iam-gov, written down: which part may import which, and no import cycles.

Every import counts: at module level, under ``TYPE_CHECKING`` and inside functions, so that a
forbidden dependency cannot hide in a lazy import. docs/architecture.md explains the layers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {
    "iam_gov": ROOT / "iam_gov",
    "iam_gov.connectors": ROOT / "connectors",
    "iam_gov.tui": ROOT / "tui",
}

# Bottom to top: a module may import its own layer and the layers below it, never above.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundation: the model, errors, time, config field types, YAML, plugins",
        (
            "iam_gov",
            "iam_gov.errors",
            "iam_gov.timeutil",
            "iam_gov.model",
            "iam_gov.configtypes",
            "iam_gov.yamlfile",
            "iam_gov.plugins",
            "iam_gov.textsafe",
            "iam_gov.files",
            "iam_gov.retrying",
            "iam_gov.progress",
            "iam_gov.gcpause",
            "iam_gov.exitcodes",
        ),
    ),
    ("connectors", ("iam_gov.connectors",)),
    ("the sample company generator", ("iam_gov.samplegen",)),
    ("configuration and policy", ("iam_gov.config", "iam_gov.policy")),
    ("correlation", ("iam_gov.correlate",)),
    ("store and audit log", ("iam_gov.store", "iam_gov.audit")),
    ("engine: the evaluated state", ("iam_gov.engine",)),
    ("AWS policy analysis", ("iam_gov.aws_policy",)),
    ("rules", ("iam_gov.rules",)),
    (
        "evaluation, collection, explanation",
        ("iam_gov.evaluation", "iam_gov.collect", "iam_gov.explain", "iam_gov.policy_lint"),
    ),
    (
        "campaigns, deprovisioning, drift",
        ("iam_gov.campaigns", "iam_gov.deprovision", "iam_gov.drift"),
    ),
    ("reports", ("iam_gov.reports",)),
    (
        "command line",
        (
            "iam_gov.cli",
            "iam_gov.cli_common",
            "iam_gov.cli_campaign",
            "iam_gov.cli_deprovision",
            "iam_gov.cli_webhook",
            "iam_gov.cli_leavers",
            "iam_gov.cli_drift",
            "iam_gov.cli_problems",
            "iam_gov.cli_export",
            "iam_gov.cli_config",
            "iam_gov.__main__",
        ),
    ),
    ("reviewer TUI", ("iam_gov.tui",)),
)

# Besides the order, what some parts must never import even though it is below them.
NEVER: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "iam_gov.rules",
        ("iam_gov.store", "iam_gov.audit", "iam_gov.connectors", "iam_gov.config"),
        "rules are pure functions of the evaluated state and the policy",
    ),
    (
        "iam_gov.aws_policy",
        ("iam_gov.store", "iam_gov.audit", "iam_gov.connectors", "iam_gov.config"),
        "the AWS analysis reads a snapshot view, nothing else",
    ),
    (
        "iam_gov.samplegen",
        ("iam_gov.connectors", "iam_gov.model"),
        "the demo's exports are written independently of the code that reads them",
    ),
)
SYSTEM_AGNOSTIC = ("iam_gov.connectors", "iam_gov.connectors.shared")
"""What the rest of iam-gov may import of the connectors: systems are found by the registry."""
NOT_IN_THE_CORE = ("textual", "iam_gov.tui")


@dataclass(frozen=True)
class Import:
    module: str
    target: str
    line: int
    path: Path

    def __str__(self) -> str:
        shown = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{shown}:{self.line}: {self.module} imports {self.target}"


def all_modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for prefix, root in SOURCES.items():
        for path in sorted(root.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = [p for p in path.relative_to(root).with_suffix("").parts if p != "__init__"]
            found[".".join([prefix, *parts])] = path
    return found


MODULES = all_modules()


def imports_of(module: str, path: Path) -> Iterator[Import]:
    """Every import in the file, resolved to a module of iam-gov where it names one (else the
    top-level name of the third-party package)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in sorted({resolve(name) for name in names} - {module}):
            yield Import(module, target, node.lineno, path)


def resolve(name: str) -> str:
    if not name.startswith("iam_gov"):
        return name.split(".")[0]
    while name not in MODULES and "." in name:
        name = name.rpartition(".")[0]
    return name


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def placed(module: str) -> tuple[int, str]:
    """The layer of a module and the entry of LAYERS that puts it there (the longest
    prefix); (-1, "") for a module no entry names."""
    best, owner = -1, ""
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if within(module, prefix) and len(prefix) > len(owner):
                best, owner = index, prefix
    return best, owner


def layer_of(module: str) -> int:
    return placed(module)[0]


def system_of(module: str) -> str | None:
    """``okta`` for ``iam_gov.connectors.okta.client``; None outside the system packages."""
    if not within(module, "iam_gov.connectors") or within(module, "iam_gov.connectors.shared"):
        return None
    parts = module.split(".")
    return parts[2] if len(parts) > 2 else None


def problems(imports: Iterator[Import]) -> list[str]:
    found = []
    for imp in imports:
        module, target = imp.module, imp.target
        if not target.startswith("iam_gov"):
            if target in NOT_IN_THE_CORE and not within(module, "iam_gov.tui"):
                found.append(f"{imp}: only the TUI imports Textual")
            continue
        if any(within(target, p) for p in NOT_IN_THE_CORE) and not within(module, "iam_gov.tui"):
            found.append(f"{imp}: nothing below the TUI imports it")
            continue
        here, there = layer_of(module), layer_of(target)
        if there > here:
            found.append(f"{imp}: {LAYERS[here][0]!r} is below {LAYERS[there][0]!r}")
            continue
        for part, forbidden, why in NEVER:
            if within(module, part) and any(within(target, f) for f in forbidden):
                found.append(f"{imp}: {why}")
        system, other = system_of(module), system_of(target)
        if within(target, "iam_gov.connectors") and not within(module, "iam_gov.connectors"):
            if target not in SYSTEM_AGNOSTIC and not within(target, "iam_gov.connectors.shared"):
                found.append(f"{imp}: only the registry names a system's connector")
        elif other is not None and other != system:
            where = f"the {system} connector" if system else "the connectors' shared parts"
            found.append(f"{imp}: {where} must not import the {other} connector")
    return found


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if layer_of(m) < 0] == []


@pytest.mark.parametrize("part", [prefix for _, prefixes in LAYERS for prefix in prefixes])
def test_imports_follow_the_layers(part: str) -> None:
    inside = {m: p for m, p in MODULES.items() if placed(m)[1] == part}
    found = problems(imp for m, p in inside.items() for imp in imports_of(m, p))
    assert found == []


def test_no_import_cycles() -> None:
    graph = {
        m: {imp.target for imp in imports_of(m, p) if imp.target in MODULES}
        for m, p in MODULES.items()
    }
    assert strongly_connected(graph) == []


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other (Tarjan), iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        cycles.append(sorted(group))
    return cycles


# --- the checker itself must catch what it is there for ------------------------------------


def check_source(module: str, source: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "module.py"
    path.write_text(source)
    return problems(imports_of(module, path))


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("iam_gov.rules.dormant_account", "from iam_gov.store import Store\n", "pure functions"),
        (
            "iam_gov.rules.dormant_account",
            "def f():\n    from iam_gov.connectors.okta import client\n",
            "pure functions",
        ),
        ("iam_gov.policy", "from iam_gov.rules import all_rules\n", "is below 'rules'"),
        ("iam_gov.model", "from iam_gov.engine.state import SystemView\n", "is below"),
        (
            "iam_gov.connectors.okta.client",
            "from iam_gov.connectors.aws import connector\n",
            "must not import the aws connector",
        ),
        ("iam_gov.connectors.okta.client", "from iam_gov.store import Store\n", "is below"),
        ("iam_gov.collect", "from iam_gov.connectors.okta import connector\n", "the registry"),
        ("iam_gov.reports.findings", "import textual\n", "only the TUI"),
        (
            "iam_gov.cli",
            "import typing\nif typing.TYPE_CHECKING:\n    from iam_gov.tui import app\n",
            "below the TUI",
        ),
    ],
)
def test_a_forbidden_import_is_reported(
    module: str, source: str, expected: str, tmp_path: Path
) -> None:
    found = check_source(module, source, tmp_path)
    assert found
    assert any(expected in problem for problem in found), found


def test_an_allowed_import_is_not_reported(tmp_path: Path) -> None:
    source = "from iam_gov.engine.state import EvaluationState\nfrom iam_gov.model import Account\n"
    assert check_source("iam_gov.rules.dormant_account", source, tmp_path) == []


def test_a_cycle_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(graph) == [["a", "b", "c"]]
