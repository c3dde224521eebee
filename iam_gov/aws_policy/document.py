"""IAM policy documents compiled once: statements with action bitmasks, resource matchers and
conditions, and per-document summaries that principals sharing the policy reuse."""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from iam_gov.aws_policy.catalog import Catalog


class Match(enum.IntEnum):
    NO = 0
    MAYBE = 1
    """Depends on something we cannot see (a policy variable we cannot fill in)."""
    YES = 2


@dataclass(frozen=True, slots=True, order=True)
class StatementRef:
    """Where a statement is: the policy's id (managed policy ARN or inline id) and position."""

    document_id: str
    index: int
    """0-based position in the document's Statement list."""
    sid: str | None = None

    def __str__(self) -> str:
        where = f"{self.document_id} statement {self.index + 1}"
        return f"{where} ({self.sid})" if self.sid else where


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
# ${*}, ${?} and ${$} stand for the literal characters: IAM's escape for them.
_LITERAL_VARIABLES = {"*": "\x00", "?": "\x01", "$": "$"}


@functools.lru_cache(maxsize=65536)
def resource_regex(pattern: str) -> re.Pattern[str]:
    out = []
    for char in pattern:
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "\x00":
            out.append(re.escape("*"))
        elif char == "\x01":
            out.append(re.escape("?"))
        else:
            out.append(re.escape(char))
    # ARNs are case-sensitive in policies; a wildcard may span ARN segments, as IAM does.
    return re.compile("".join(out), re.DOTALL)


@dataclass(eq=False)
class Resources:
    """A statement's ``Resource`` (or ``NotResource``) list."""

    patterns: tuple[str, ...]
    negated: bool = False
    everything: bool = field(init=False)
    """``Resource: "*"``: every resource, whatever it is."""
    has_variables: bool = field(init=False)
    _compiled: tuple[re.Pattern[str], ...] | None = field(init=False, default=None, repr=False)
    _cache: dict[tuple[str, tuple[tuple[str, str], ...]], Match] = field(
        init=False, default_factory=dict, repr=False
    )

    def __post_init__(self) -> None:
        self.everything = not self.negated and "*" in self.patterns
        self.has_variables = any("${" in p for p in self.patterns)

    def match(self, arn: str, context: Mapping[str, str] | None = None) -> Match:
        """Does the statement cover ``arn``? ``context`` fills policy variables
        (``aws:username``, lower-case keys)."""
        if self.everything:
            return Match.YES
        key = (arn, tuple(sorted(context.items())) if self.has_variables and context else ())
        cached = self._cache.get(key)
        if cached is None:
            cached = self._match(arn, context or {})
            self._cache[key] = cached
        return cached

    def _match(self, arn: str, context: Mapping[str, str]) -> Match:
        found = Match.NO
        for i, pattern in enumerate(self.patterns):
            hit = self._one(i, pattern, arn, context)
            found = max(found, hit)
            if found is Match.YES:
                break
        if not self.negated:
            return found
        # NotResource: everything but the listed; a "maybe" listed one stays a maybe.
        return {Match.YES: Match.NO, Match.NO: Match.YES}.get(found, Match.MAYBE)

    def _one(self, i: int, pattern: str, arn: str, context: Mapping[str, str]) -> Match:
        if "${" not in pattern:
            if self._compiled is None:
                self._compiled = tuple(
                    resource_regex(p) if "${" not in p else re.compile(r"(?!)")
                    for p in self.patterns
                )
            return Match.YES if self._compiled[i].fullmatch(arn) else Match.NO
        filled, unknown = _fill_variables(pattern, context)
        if not resource_regex(filled).fullmatch(arn):
            return Match.NO
        return Match.MAYBE if unknown else Match.YES

    def named(self, context: Mapping[str, str] | None = None) -> tuple[str, ...] | None:
        """The patterns, with policy variables filled in; None when the list is open-ended
        (``*``, ``NotResource``, or a variable we cannot fill)."""
        if self.everything or self.negated:
            return None
        if not self.has_variables:
            return self.patterns
        out = []
        for pattern in self.patterns:
            filled, unknown = _fill_variables(pattern, context or {})
            if unknown:
                return None
            out.append(filled)
        return tuple(out)

    def covered_by(self, deny: Resources) -> bool:
        """Every resource this list names is also in ``deny`` (a plain resource list)."""
        if deny.negated or deny.has_variables:
            return False
        if deny.everything:
            return True
        if self.negated or self.everything or self.has_variables:
            return False
        regexes = [resource_regex(p) for p in deny.patterns]
        return all(any(r.fullmatch(p) for r in regexes) for p in self.patterns)


@dataclass(eq=False)
class Conditions:
    """A statement's ``Condition`` block and the keys it tests; ``conditions.py`` decides
    it from what the snapshot knows."""

    block: Mapping[str, Any]
    keys: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        keys: set[str] = set()
        for tests in self.block.values():
            if isinstance(tests, Mapping):
                keys.update(str(k).lower() for k in tests)
        self.keys = tuple(sorted(keys))


@dataclass(eq=False, slots=True)
class Statement:
    ref: StatementRef
    allow: bool
    actions: int
    """Bitmask over the catalogue; a NotAction list is already turned into its complement."""
    resources: Resources
    conditions: Conditions | None
    """None when the statement has no condition."""

    @property
    def unconditional_everywhere(self) -> bool:
        return self.conditions is None and self.resources.everything


@dataclass(eq=False)
class CompiledPolicy:
    """One policy document, compiled against one catalogue."""

    document_id: str
    statements: tuple[Statement, ...]
    problems: tuple[str, ...] = ()
    """What in the document IAM would have rejected, and how it was read anyway."""
    allow_any: int = field(init=False)
    """Actions some Allow statement grants, on some resource, maybe under a condition."""
    allow_full: int = field(init=False)
    """Actions an Allow statement grants on every resource without conditions."""
    deny_any: int = field(init=False)
    deny_full: int = field(init=False)
    has_variables: bool = field(init=False)
    _by_bit: dict[int, tuple[Statement, ...]] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.allow_any = self.allow_full = self.deny_any = self.deny_full = 0
        for statement in self.statements:
            if statement.allow:
                self.allow_any |= statement.actions
                if statement.unconditional_everywhere:
                    self.allow_full |= statement.actions
            else:
                self.deny_any |= statement.actions
                if statement.unconditional_everywhere:
                    self.deny_full |= statement.actions
        self.has_variables = any(s.resources.has_variables for s in self.statements)

    def statements_for(self, bit: int) -> tuple[Statement, ...]:
        """The statements (Allow and Deny) that name the action with this bit."""
        found = self._by_bit.get(bit)
        if found is None:
            found = tuple(s for s in self.statements if s.actions >> bit & 1)
            self._by_bit[bit] = found
        return found


def _strings(value: object) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def statement_list(document: Mapping[str, Any]) -> list[Any]:
    statements = document.get("Statement", [])
    if isinstance(statements, Mapping):
        return [statements]
    return statements if isinstance(statements, list) else []


def literal_actions(document: Mapping[str, Any]) -> Iterable[str]:
    """Actions the document names without wildcards (to extend the catalogue with)."""
    for statement in statement_list(document):
        if not isinstance(statement, Mapping):
            continue
        for key in ("Action", "NotAction"):
            for action in _strings(statement.get(key)) or ():
                if "*" not in action and "?" not in action:
                    yield action


def compile_policy(
    document_id: str, document: Mapping[str, Any], catalog: Catalog
) -> CompiledPolicy:
    """Compile a policy document. Malformed parts are skipped and described in ``problems``;
    they never raise (the documents come from the system under review)."""
    problems: list[str] = []
    compiled: list[Statement] = []
    raw = document.get("Statement")
    if not isinstance(raw, list | Mapping):
        problems.append("no Statement list")
    for index, statement in enumerate(statement_list(document)):
        where = f"statement {index + 1}"
        if not isinstance(statement, Mapping):
            problems.append(f"{where}: not an object; ignored")
            continue
        sid = statement.get("Sid")
        ref = StatementRef(document_id, index, sid if isinstance(sid, str) and sid else None)
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            problems.append(f"{where}: Effect is {effect!r}, not Allow or Deny; ignored")
            continue
        actions = _actions(statement, catalog, where, problems)
        if actions is None:
            continue
        resources = _resources(statement, where, problems)
        condition = statement.get("Condition")
        conditions = None
        if isinstance(condition, Mapping) and condition:
            conditions = Conditions(condition)
        elif condition not in (None, {}):
            # Unreadable: take it as a condition we cannot evaluate.
            problems.append(f"{where}: Condition is not an object")
            conditions = Conditions({"?": None})
        compiled.append(Statement(ref, effect == "Allow", actions, resources, conditions))
    return CompiledPolicy(document_id, tuple(compiled), tuple(problems))


def _actions(
    statement: Mapping[str, Any], catalog: Catalog, where: str, problems: list[str]
) -> int | None:
    if "Action" in statement:
        names = _strings(statement["Action"])
        if names is None:
            problems.append(f"{where}: Action is not a string or list of strings; ignored")
            return None
        return catalog.mask_of(names)
    if "NotAction" in statement:
        names = _strings(statement["NotAction"])
        if names is None:
            problems.append(f"{where}: NotAction is not a string or list of strings; ignored")
            return None
        return catalog.everything & ~catalog.mask_of(names)
    problems.append(f"{where}: neither Action nor NotAction; ignored")
    return None


def _resources(statement: Mapping[str, Any], where: str, problems: list[str]) -> Resources:
    for key, negated in (("Resource", False), ("NotResource", True)):
        if key in statement:
            names = _strings(statement[key])
            if names is not None:
                return Resources(tuple(names), negated)
            problems.append(f"{where}: {key} is not a string or list of strings")
            break
    else:
        problems.append(f"{where}: neither Resource nor NotResource")
    # IAM would reject it; reading it as every resource over-states access rather than
    # hiding it.
    return Resources(("*",))


def _fill_variables(pattern: str, context: Mapping[str, str]) -> tuple[str, bool]:
    """The pattern with its policy variables (``${aws:username}``) filled in from ``context``,
    the values taken literally (their wildcards kept apart); and whether some variable was
    unknown, in which case it matches anything (``*``)."""
    unknown = False

    def fill(found: re.Match[str]) -> str:
        nonlocal unknown
        name = found.group(1)
        if name in _LITERAL_VARIABLES:
            return _LITERAL_VARIABLES[name]
        value = context.get(name.lower())
        if value is None:
            unknown = True
            return "*"
        return value.replace("*", "\x00").replace("?", "\x01")

    return _VARIABLE.sub(fill, pattern), unknown
