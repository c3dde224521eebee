"""The rule registry: each rule is one function registered under a stable kebab-case id."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from iam_gov.engine.state import EvaluationState
from iam_gov.model import Severity
from iam_gov.plugins import RULES_GROUP, Registry

RULE_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class RuleParams(BaseModel):
    """A rule's thresholds. Defaults live here and only here; the policy may override them.
    Each says what it does, in ``Field(description=…)`` or a docstring under it: that is what
    ``iam-gov rules RULE`` shows."""

    # Not ``use_attribute_docstrings``: pydantic would read every rule's source file at every
    # start-up; ``setting_descriptions`` reads them when the catalogue is printed.
    model_config = ConfigDict(extra="forbid", frozen=True)


def setting_descriptions(model: type[BaseModel]) -> dict[str, str]:
    """What each setting of a settings model does: its ``Field(description=…)``, else the
    docstring under the field in the class (or a base class), cleaned like a docstring."""
    docstrings: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if isinstance(cls, type) and issubclass(cls, BaseModel) and cls is not BaseModel:
            docstrings.update(_attribute_docstrings(cls))
    found: dict[str, str] = {}
    for name, info in model.model_fields.items():
        text = info.description or inspect.cleandoc(docstrings.get(name, ""))
        if text.strip():
            found[name] = text
    return found


def _attribute_docstrings(cls: type) -> dict[str, str]:
    """``name: type = default`` followed by a string, in the class's own source."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return {}
    node = tree.body[0] if tree.body else None
    if not isinstance(node, ast.ClassDef):
        return {}
    found: dict[str, str] = {}
    for statement, following in zip(node.body, node.body[1:], strict=False):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            found[statement.target.id] = following.value.value
    return found


class Evidence(BaseModel):
    """Typed evidence of one finding; each rule defines its own."""

    # Built when a rule first has a finding: most runs never need most rules' evidence
    model_config = ConfigDict(frozen=True, defer_build=True)


@dataclass(frozen=True)
class Hit:
    """What a rule reports; the engine turns it into a Finding with a stable id."""

    subject: str
    """Stable key of what is wrong, e.g. ``aws:arn:aws:iam::1:user/jdoe``."""
    message: str
    evidence: Evidence
    system: str | None = None
    person_id: str | None = None
    severity: Severity | None = None
    """Overrides the rule's severity for this hit (e.g. privileged access is worse)."""
    expected: str | None = None
    """Why the policy expects this (e.g. "a declared break-glass account"): then it is no
    finding; ``explain`` shows it and the summary counts it as expected by policy."""


ParamsT = TypeVar("ParamsT", bound=RuleParams)
RuleFunction = Callable[[EvaluationState, Any], Iterable[Hit]]


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    control: str
    """The promise of the security statement this rule enforces, in its words."""
    soc2: tuple[str, ...]
    iso27001: tuple[str, ...]
    remediation: str
    check: RuleFunction
    params_model: type[RuleParams]
    needs_complete_hr: bool = False
    """When HR data is incomplete, a person may be missing from it: rules that conclude
    something from a person's absence (orphans) do not run, rather than raise false alarms."""
    doc: str = field(default="")
    parts: Callable[[EvaluationState], Iterator[object]] | None = None
    """For rules that work system by system on an analysis too large to keep whole (an AWS
    organization): the parts to run them on, one after another. Rules with the same
    ``parts`` run together on each part (``run_rules``), and the work done for a part is let
    go before the next. Called with no part (a test, ``explain``), a rule covers everything."""

    def params(self, settings: dict[str, Any] | None = None) -> RuleParams:
        return self.params_model.model_validate(settings or {})


RULES: Registry[Rule] = Registry(
    "rule",
    group=RULES_GROUP,
    package="iam_gov.rules",
    skip=lambda name: name.startswith("_") or name == "registry",
)
"""Every rule, built in (a module of ``iam_gov.rules`` each) or from an installed package."""


def rule(
    *,
    id: str,
    title: str,
    severity: Severity,
    control: str,
    soc2: tuple[str, ...],
    iso27001: tuple[str, ...],
    remediation: str,
    needs_complete_hr: bool = False,
    parts: Callable[[EvaluationState], Iterator[object]] | None = None,
) -> Callable[[Callable[[EvaluationState, ParamsT], Iterable[Hit]]], Rule]:
    """Register a rule. Its parameters model is the type of its second argument."""

    def register(fn: Callable[[EvaluationState, ParamsT], Iterable[Hit]]) -> Rule:
        if not RULE_ID.match(id):
            raise ValueError(f"rule id {id!r} is not kebab-case")
        params_name = list(inspect.signature(fn).parameters)[1]
        params_model = typing.get_type_hints(fn)[params_name]
        if not (isinstance(params_model, type) and issubclass(params_model, RuleParams)):
            raise TypeError(
                f"rule {id!r}: the second argument of {fn.__qualname__} must be annotated "
                "with its RuleParams model"
            )
        registered = Rule(
            id=id,
            title=title,
            severity=severity,
            control=control,
            soc2=soc2,
            iso27001=iso27001,
            remediation=remediation,
            check=fn,
            params_model=params_model,
            needs_complete_hr=needs_complete_hr,
            doc=inspect.cleandoc(fn.__doc__ or ""),
            parts=parts,
        )
        return RULES.add(id, registered, fn.__module__)

    return register
