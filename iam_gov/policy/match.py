"""How policy patterns match entitlements, accounts and HR records (wildcards, case ignored)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection, Iterable, Mapping
from functools import lru_cache

from iam_gov.model import Account, Entitlement, Person


@lru_cache(maxsize=4096)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern.casefold()))


def wildcard(pattern: str, value: str | None) -> bool:
    """``*`` and ``?`` wildcards, case ignored; nothing matches a missing value."""
    return value is not None and _regex(pattern).match(value.casefold()) is not None


def entitlement_matches(pattern: str, entitlement: Entitlement) -> bool:
    """``kind:name`` or a native id; a bare name (no ``:``) matches the name of any kind."""
    if wildcard(pattern, entitlement.ref) or wildcard(pattern, entitlement.entitlement_id):
        return True
    return ":" not in pattern and wildcard(pattern, entitlement.name)


def account_matches(pattern: str, account: Account) -> bool:
    return wildcard(pattern, account.login) or wildcard(pattern, account.native_id)


PERSON_FIELDS = ("department", "title", "employment_type", "status", "manager_id", "email")


def person_field(person: Person, field: str) -> str | None:
    if field in PERSON_FIELDS:
        value = getattr(person, field)
        return None if value is None else str(value)
    return person.attributes.get(field)


def person_matches(match: Mapping[str, str | list[str]], person: Person) -> bool:
    """Every field must match one of its values; an empty match is everyone."""
    for field, wanted in match.items():
        value = person_field(person, field)
        options = [wanted] if isinstance(wanted, str) else wanted
        if not any(wildcard(option, value) for option in options):
            return False
    return True


DEFAULTED_FIELDS = ("employment_type", "status")
"""Person fields an HR export without their column fills with a default for everyone
(employee, active): matching on them is only meaningful when a column fills them."""


def unfilled_match_fields(
    matches: Iterable[tuple[str, str, Mapping[str, str | list[str]]]],
    people: Iterable[Person],
    mapped: Collection[str] | None = None,
) -> list[str]:
    """``where: roles.NAME.match.FIELD: …`` for every field a role matches on that no person
    in the HR data has a value for: a misspelt key, or one the HR mapping never fills, would
    otherwise match nobody, silently. ``matches`` are (where, role name, match) triples.
    ``mapped``: the person fields the HR export's columns filled (the HR snapshot's
    ``mapped_fields``), when known: a defaulted field (employment type, status) no column
    filled is unfilled too, though everyone holds its default — a preset that leaves the
    employment type out must not quietly make every contractor an employee."""
    wanted = {field for _, _, match in matches for field in match}
    if not wanted:
        return []
    unmapped = (
        {f for f in DEFAULTED_FIELDS if f not in mapped} & wanted if mapped is not None else set()
    )
    filled: set[str] = set()
    seen_fields: set[str] = set()
    for person in people:
        for field in wanted - filled - unmapped:
            if person_field(person, field):
                filled.add(field)
        seen_fields.update(person.attributes)
        if filled == wanted:
            return []
    known = sorted((set(PERSON_FIELDS) - unmapped) | seen_fields)
    problems = []
    for where, name, match in matches:
        for field in match:
            if field in unmapped:
                problems.append(
                    f"{where}: roles.{name}.match.{field}: the HR export has no {field} "
                    f"column, so everyone holds the default and the role cannot tell anyone "
                    f"apart (map the column with columns.{field} in the HR system's options)"
                )
            elif field not in filled:
                problems.append(
                    f"{where}: roles.{name}.match.{field}: no person in the HR data has a "
                    f"{field!r}, so the role matches nobody (fields the HR data fills: "
                    f"{', '.join(known)})"
                )
    return problems
