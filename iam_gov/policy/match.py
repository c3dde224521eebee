"""How policy patterns match entitlements, accounts and HR records (wildcards, case ignored)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
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
