"""IAM policy ``Condition`` blocks judged against what a snapshot knows of a request: true,
false, or unknown — and which tests are left unknown, to show them in a finding."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MFA_PRESENT = "aws:multifactorauthpresent"
TIME_KEYS = frozenset({"aws:currenttime", "aws:tokenissuetime", "aws:epochtime"})
"""Keys whose value is a time no earlier than the snapshot: an attacker can always act later,
with a fresh session."""
PRINCIPAL_KEYS = frozenset(
    {
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principalorgid",
        "aws:principaltype",
        "aws:principalisawsservice",
        "aws:username",
        "aws:userid",
    }
)
PRINCIPAL_TAG = "aws:principaltag/"

_NEGATED = frozenset(
    {
        "stringnotequals",
        "stringnotequalsignorecase",
        "stringnotlike",
        "arnnotequals",
        "arnnotlike",
        "numericnotequals",
        "datenotequals",
    }
)


@dataclass(frozen=True)
class ConditionTest:
    """One key's test in a condition block, as the policy writes it."""

    operator: str
    key: str
    values: tuple[str, ...]

    def __str__(self) -> str:
        shown = self.values[0] if len(self.values) == 1 else "[" + ", ".join(self.values) + "]"
        return f"{self.operator} {self.key} {shown}"


@dataclass(frozen=True)
class Known:
    """What the snapshot knows of the request context: some keys' values, which keys are
    known to be absent, and a lower bound of the time."""

    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Lower-case key -> its values (several for a multi-valued key such as aws:TagKeys)."""
    closed_prefixes: tuple[str, ...] = ()
    """Keys under these prefixes (``aws:principaltag/`` when the principal's tags are known)
    that ``values`` lacks are absent from the request."""
    not_before: datetime | None = None
    """The snapshot's time: ``aws:CurrentTime`` and ``aws:TokenIssueTime`` can be any time
    from then on."""
    verdicts: dict[Any, Verdict] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    """Verdicts already reached in this context, shared by the policy sets that use it."""

    def with_facts(self, facts: Mapping[str, str]) -> Known:
        """The same, with request facts (``iam:passedtoservice``) added."""
        if not facts:
            return self
        values = {**self.values, **{k.lower(): (v,) for k, v in facts.items()}}
        return Known(values, self.closed_prefixes, self.not_before)

    @functools.cached_property
    def key(self) -> tuple[Any, ...]:
        """A hashable form, to share evaluations between equal contexts."""
        return (tuple(sorted(self.values.items())), self.closed_prefixes, self.not_before)


_ABSENT: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """How a condition block comes out: ``holds`` True, False or None (unknown), the tests
    left unknown, and whether it is MFA that decides it."""

    holds: bool | None
    unknown: tuple[ConditionTest, ...] = ()
    mfa: bool | None = None
    """When only MFA is unknown: how it comes out with MFA (None when something else is
    unknown too, or MFA is not involved)."""
    without_mfa: bool | None = None
    """Likewise without MFA (a console session without it, or an access key)."""


def evaluate(block: Mapping[str, Any], known: Known) -> Verdict:
    """Every operator's tests hold (AND), each key's test holds for one of its values (OR;
    none of them for a negated operator). Unknown when a test the others do not already
    decide needs a key the snapshot does not know."""
    holds, unknown = _block(block, known)
    if holds is not None or not unknown:
        return Verdict(holds, unknown)
    if all(t.key.lower() == MFA_PRESENT for t in unknown):
        with_mfa = _block(block, _set(known, MFA_PRESENT, ("true",)))[0]
        console = _block(block, _set(known, MFA_PRESENT, ("false",)))[0]
        access_key = _block(block, _set(known, MFA_PRESENT, _ABSENT))[0]
        without = console if console == access_key else None
        return Verdict(None, unknown, with_mfa, without)
    return Verdict(None, unknown)


def mentions_principal(block: Mapping[str, Any]) -> bool:
    """The block tests a key that depends on who the principal is (its ARN, tags …)."""
    for tests in block.values():
        if isinstance(tests, Mapping):
            for key in tests:
                k = str(key).lower()
                if k in PRINCIPAL_KEYS or k.startswith(PRINCIPAL_TAG):
                    return True
    return False


def _set(known: Known, key: str, values: tuple[str, ...]) -> Known:
    return Known({**known.values, key: values}, known.closed_prefixes, known.not_before)


def _block(block: Mapping[str, Any], known: Known) -> tuple[bool | None, tuple[ConditionTest, ...]]:
    unknown: list[ConditionTest] = []
    for operator, tests in block.items():
        if not isinstance(tests, Mapping):
            unknown.append(ConditionTest(str(operator), "?", ()))
            continue
        for key, wanted in tests.items():
            values = _values(wanted)
            test = ConditionTest(str(operator), str(key), values or ())
            result = None if values is None else _test(str(operator), str(key), values, known)
            if result is False:
                return False, ()
            if result is None:
                unknown.append(test)
    return (None, tuple(unknown)) if unknown else (True, ())


def _values(wanted: object) -> tuple[str, ...] | None:
    """The test's values as strings (JSON booleans and numbers as IAM reads them)."""
    items = wanted if isinstance(wanted, list) else [wanted]
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, (str, int, float)):  # noqa: UP038 (faster than a union)
            out.append(str(item))
        else:
            return None
    return tuple(out)


def _lookup(key: str, known: Known) -> tuple[str, ...] | None:
    """The key's values; ``()`` when known to be absent; None when unknown."""
    found = known.values.get(key)
    if found is not None:
        return found
    if any(key.startswith(p) for p in known.closed_prefixes):
        return _ABSENT
    return None


def _test(operator: str, key: str, wanted: tuple[str, ...], known: Known) -> bool | None:
    op = operator.lower()
    qualifier = ""
    for prefix in ("foranyvalue:", "forallvalues:"):
        if op.startswith(prefix):
            qualifier, op = prefix[:-1], op.removeprefix(prefix)
    if_exists = op.endswith("ifexists")
    op = op.removesuffix("ifexists")
    lk = key.lower()
    if op == "null":
        present = _lookup(lk, known)
        if present is None:
            if lk in TIME_KEYS and known.not_before is not None:
                present = ("now",)
            else:
                return None
        wants_absent = {w.lower() for w in wanted}
        if wants_absent not in ({"true"}, {"false"}):
            return None
        return (not present) == ("true" in wants_absent)
    if lk in TIME_KEYS and lk not in known.values and op.startswith("date"):
        if known.not_before is None:
            return None
        return _date_bound(op, wanted, known.not_before)
    values = _lookup(lk, known)
    if values is None:
        return None
    negated = op in _NEGATED
    if not values:
        # A key absent from the request: an ...IfExists test and a negated test hold, as does
        # every value of an empty set; anything else does not.
        if if_exists or qualifier == "forallvalues":
            return True
        return negated and qualifier != "foranyvalue"
    match = _matcher(op)
    if match is None:
        return None
    results: list[bool | None] = []
    for value in values:
        hit = _any([match(value, w) for w in wanted])
        results.append(None if hit is None else hit != negated)
    if qualifier == "forallvalues":
        return _all(results)
    return _any(results)


def _all(results: list[bool | None]) -> bool | None:
    if False in results:
        return False
    return None if None in results else True


def _any(results: list[bool | None]) -> bool | None:
    if True in results:
        return True
    return None if None in results else False


Matcher = Any


def _matcher(op: str) -> Matcher | None:
    """A function (value, wanted) -> bool | None for the operator without its negation."""
    base = op.replace("not", "", 1) if op in _NEGATED else op
    if base == "stringequals":
        return lambda v, w: v == w
    if base == "stringequalsignorecase":
        return lambda v, w: v.lower() == w.lower()
    if base == "stringlike":
        return lambda v, w: _glob(w).fullmatch(v) is not None
    if base in ("arnequals", "arnlike"):
        return _arn_like
    if base == "bool":
        return lambda v, w: v.lower() == w.lower()
    if base.startswith("numeric"):
        compare = _COMPARE.get(base.removeprefix("numeric"))
        return None if compare is None else _numeric(compare)
    if base.startswith("date"):
        compare = _COMPARE.get(base.removeprefix("date"))
        return None if compare is None else _dated(compare)
    return None  # IpAddress, Binary…: values the snapshot never knows


_COMPARE: dict[str, Any] = {
    "equals": lambda a, b: a == b,
    "lessthan": lambda a, b: a < b,
    "lessthanequals": lambda a, b: a <= b,
    "greaterthan": lambda a, b: a > b,
    "greaterthanequals": lambda a, b: a >= b,
}


def _numeric(compare: Any) -> Matcher:
    def match(value: str, wanted: str) -> bool | None:
        try:
            a, b = float(value), float(wanted)
        except ValueError:
            return None
        if math.isnan(a) or math.isnan(b):
            return None
        return bool(compare(a, b))

    return match


def _dated(compare: Any) -> Matcher:
    def match(value: str, wanted: str) -> bool | None:
        a, b = parse_time(value), parse_time(wanted)
        return None if a is None or b is None else bool(compare(a, b))

    return match


def _date_bound(op: str, wanted: tuple[str, ...], not_before: datetime) -> bool | None:
    """A date test on a time that is ``not_before`` or any time after (the time of a request
    made from now on, or of a session's token issued from now on): decided only when every
    such time gives the same answer."""
    results: list[bool | None] = []
    negated = op == "datenotequals"
    for raw in wanted:
        at = parse_time(raw)
        if at is None:
            results.append(None)
        elif op == "datelessthan":
            results.append(False if not_before >= at else None)
        elif op == "datelessthanequals":
            results.append(False if not_before > at else None)
        elif op == "dategreaterthan":
            results.append(True if not_before > at else None)
        elif op == "dategreaterthanequals":
            results.append(True if not_before >= at else None)
        elif op in ("dateequals", "datenotequals"):
            results.append(False if not_before > at else None)
        else:
            results.append(None)
    found = _any(results)
    return (None if found is None else not found) if negated else found


def parse_time(raw: str) -> datetime | None:
    """An ISO 8601 time or epoch seconds, as IAM accepts; naive times are UTC."""
    try:
        if re.fullmatch(r"\d+(\.\d+)?", raw):
            return datetime.fromtimestamp(float(raw), UTC)
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL)


def _arn_like(value: str, wanted: str) -> bool:
    """ArnLike/ArnEquals: each of the six colon-separated parts matched on its own, with
    wildcards."""
    have, want = value.split(":", 5), wanted.split(":", 5)
    if len(have) != 6 or len(want) != 6:
        return False
    return all(_glob(w).fullmatch(h) is not None for h, w in zip(have, want, strict=True))


__all__ = [
    "MFA_PRESENT",
    "Known",
    "ConditionTest",
    "Verdict",
    "evaluate",
    "mentions_principal",
    "parse_time",
]
