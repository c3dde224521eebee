"""Account -> person matching: configurable methods in order, plus manual overrides."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from iam_gov.config import CorrelationSettings, MatchMethod
from iam_gov.errors import InputError
from iam_gov.model import Account, AccountKind, EmploymentStatus, Person
from iam_gov.policy import Policy
from iam_gov.yamlfile import load_yaml


class Confidence(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NONE = "none"


CONFIDENCE = {
    MatchMethod.EMPLOYEE_ID: Confidence.HIGH,
    MatchMethod.EMAIL: Confidence.HIGH,
    MatchMethod.LOGIN: Confidence.MEDIUM,
    MatchMethod.NAME: Confidence.LOW,
}


@dataclass(frozen=True, slots=True)
class AccountLink:
    """Whom an account belongs to, how we know, and what kind of account it is."""

    system: str
    account_id: str
    person_id: str | None
    kind: AccountKind
    method: str
    """A MatchMethod value, ``override``, or ``none``."""
    confidence: Confidence
    note: str = ""


# --- overrides file -----------------------------------------------------------------------


class OverrideLink(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str
    account: str = Field(min_length=1)
    """Login or native id (case ignored)."""
    person: str | None
    """Employee id or e-mail; null declares that the account is nobody's."""
    reason: str = Field(min_length=1)


class OverridesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    links: tuple[OverrideLink, ...] = ()


@dataclass(frozen=True)
class Overrides:
    links: dict[tuple[str, str], OverrideLink]
    where: dict[tuple[str, str], str]

    @classmethod
    def empty(cls) -> Overrides:
        return cls({}, {})

    def find(self, account: Account) -> tuple[OverrideLink, str] | None:
        for key in (
            (account.system, account.login.casefold()),
            (account.system, account.native_id.casefold()),
        ):
            if key in self.links:
                return self.links[key], self.where[key]
        return None


def load_overrides(path: Path | None) -> Overrides:
    if path is None:
        return Overrides.empty()
    doc = load_yaml(path)
    try:
        parsed = OverridesFile.model_validate(doc.data)
    except ValidationError as exc:
        raise InputError(doc.problems(exc)) from None
    links: dict[tuple[str, str], OverrideLink] = {}
    where: dict[tuple[str, str], str] = {}
    problems = []
    for i, link in enumerate(parsed.links):
        key = (link.system, link.account.casefold())
        here = doc.where(("links", i))
        if key in links:
            problems.append(
                f"{here}: links.{i}: account {link.account!r} is already linked at {where[key]}"
            )
        links[key] = link
        where[key] = here
    if problems:
        raise InputError(problems)
    return Overrides(links, where)


# --- matching -----------------------------------------------------------------------------


# Letters that NFKD leaves alone (a stroke or a ligature, not a combining accent): without
# these, "Søren" would become "s ren" and never match "Soren".
_UNDECOMPOSABLE = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ħ": "h"}
)


_WORD = re.compile(r"[a-z0-9]+")


def normalise_name(name: str) -> str:
    """Accents, case, punctuation and word order do not matter: 'Doe, Zoë' == 'zoe doe'."""
    if "," in name:
        last, _, first = name.partition(",")
        name = f"{first} {last}"
    if name.isascii():
        plain = name.casefold()  # nothing to decompose: the common case, made quick
    else:
        decomposed = unicodedata.normalize("NFKD", name)
        plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
        plain = plain.translate(_UNDECOMPOSABLE)
    return " ".join(sorted(_WORD.findall(plain)))


def _local_part(value: str) -> str:
    return value.casefold().partition("@")[0]


class _Index:
    """People by each key a method compares; a key shared by several people is ambiguous."""

    def __init__(self, people: Sequence[Person], settings: CorrelationSettings):
        self.domains = {d.casefold().lstrip("@") for d in settings.email_domains}
        self.by: dict[MatchMethod, dict[str, list[Person]]] = {
            m: defaultdict(list) for m in MatchMethod
        }
        for person in people:
            self.by[MatchMethod.EMPLOYEE_ID][person.employee_id.strip().casefold()].append(person)
            if person.email:
                self.by[MatchMethod.EMAIL][self._email_key(person.email)].append(person)
                self.by[MatchMethod.LOGIN][_local_part(person.email)].append(person)
            username = person.attributes.get("username")
            if username and _local_part(username) != (
                _local_part(person.email) if person.email else None
            ):
                self.by[MatchMethod.LOGIN][_local_part(username)].append(person)
            self.by[MatchMethod.NAME][normalise_name(person.name)].append(person)
        self.keys: dict[MatchMethod, Callable[[Account], str | None]] = {
            MatchMethod.EMPLOYEE_ID: lambda a: (
                a.employee_id.strip().casefold() if a.employee_id else None
            ),
            MatchMethod.EMAIL: lambda a: (
                self._email_key(a.email)
                if a.email
                else (self._email_key(a.login) if "@" in a.login else None)
            ),
            MatchMethod.LOGIN: lambda a: _local_part(a.login),
            MatchMethod.NAME: lambda a: normalise_name(a.display_name) if a.display_name else None,
        }

    def _email_key(self, email: str) -> str:
        local, _, domain = email.strip().casefold().partition("@")
        return f"{local}@*" if domain in self.domains else f"{local}@{domain}"

    def lookup(self, method: MatchMethod, account: Account) -> tuple[Person | None, str]:
        if method is MatchMethod.EMPLOYEE_ID and not account.employee_id:
            # An IdP-provisioned user (IAM Identity Center) may carry the employee id as one
            # of its external ids.
            for external in external_ids(account):
                found = self.by[method].get(external.strip().casefold(), [])
                if len(found) == 1:
                    return found[0], ""
        key = self.keys[method](account)
        if not key:
            return None, ""
        candidates = self.by[method].get(key, [])
        if len(candidates) == 1:
            return candidates[0], ""
        if len(candidates) > 1:
            # A rehire or a name twin: prefer the one person who still works here.
            current = [p for p in candidates if p.status is not EmploymentStatus.TERMINATED]
            if len(current) == 1:
                return current[0], f"{len(candidates)} HR records share this {method.value}"
            ids = ", ".join(sorted(p.employee_id for p in candidates))
            return None, f"{method.value} matches several people ({ids})"
        return None, ""


def correlate(
    people: Sequence[Person],
    accounts: Iterable[Account],
    settings: CorrelationSettings,
    policy: Policy,
    overrides: Overrides,
) -> dict[tuple[str, str], AccountLink]:
    index = _Index(people, settings)
    by_id = {p.employee_id: p for p in people}
    by_email = {p.email.casefold(): p for p in people if p.email}
    links: dict[tuple[str, str], AccountLink] = {}
    by_external: list[Account] = []
    for account in accounts:
        declared = policy.declared(account)
        kind = declared.item.kind if declared is not None else account.kind
        link = _override_link(account, kind, overrides, by_id, by_email)
        if link is None and kind is not AccountKind.HUMAN:
            # A service or break-glass account is nobody's: matching it to a person by name
            # would make it look like theirs (and a leaver's when they go).
            how = (
                f"declared {kind.value} at {declared.where}"
                if declared
                else f"{kind.value} account"
            )
            link = AccountLink(
                account.system, account.native_id, None, kind, "none", Confidence.NONE, how
            )
        if link is None:
            link = _matched_link(account, kind, settings.match, index)
            if link.person_id is None and external_ids(account):
                by_external.append(account)
        links[(account.system, account.native_id)] = link
    if by_external:
        _link_by_external_id(by_external, links)
    return links


def external_ids(account: Account) -> list[str]:
    """The ids an identity provider gave the account (IAM Identity Center's ``ExternalIds``,
    kept as a JSON list of ``{"Issuer", "Id"}``); none when it has none or they are
    unreadable (the data comes from the system under review)."""
    raw = account.attributes.get("external_ids")
    if not raw:
        return []
    try:
        parsed = json.loads(raw)
    except ValueError:
        return []
    if not isinstance(parsed, list):
        return []
    return [
        item["Id"]
        for item in parsed
        if isinstance(item, dict) and isinstance(item.get("Id"), str) and item["Id"]
    ]


def _link_by_external_id(
    accounts: list[Account], links: dict[tuple[str, str], AccountLink]
) -> None:
    """An account no method matched, whose external id is the native id of an account in
    another system that is linked to a person (an Identity Center user provisioned from an
    Okta or Entra user by SCIM): the same person's, with that link's confidence."""
    wanted = {i.casefold() for account in accounts for i in external_ids(account)}
    linked: dict[str, list[AccountLink]] = {}
    for (_, native_id), link in links.items():
        if link.person_id is not None and native_id.casefold() in wanted:
            linked.setdefault(native_id.casefold(), []).append(link)
    for account in accounts:
        sources = [
            link
            for i in external_ids(account)
            for link in linked.get(i.casefold(), ())
            if link.system != account.system
        ]
        people = {link.person_id for link in sources}
        if len(people) != 1:
            continue
        source = sources[0]
        previous = links[(account.system, account.native_id)]
        links[(account.system, account.native_id)] = AccountLink(
            account.system,
            account.native_id,
            source.person_id,
            previous.kind,
            "external_id",
            source.confidence,
            f"its external id is {source.system} account {source.account_id}",
        )


def _override_link(
    account: Account,
    kind: AccountKind,
    overrides: Overrides,
    by_id: dict[str, Person],
    by_email: dict[str, Person],
) -> AccountLink | None:
    found = overrides.find(account)
    if found is None:
        return None
    link, where = found
    if link.person is None:
        return AccountLink(
            account.system,
            account.native_id,
            None,
            kind,
            "override",
            Confidence.HIGH,
            f"declared nobody's at {where}: {link.reason}",
        )
    person = by_id.get(link.person) or by_email.get(link.person.casefold())
    if person is None:
        return AccountLink(
            account.system,
            account.native_id,
            None,
            kind,
            "override",
            Confidence.NONE,
            f"override at {where} names {link.person}, who is not in HR",
        )
    return AccountLink(
        account.system,
        account.native_id,
        person.employee_id,
        kind,
        "override",
        Confidence.HIGH,
        f"linked by hand at {where}: {link.reason}",
    )


def _matched_link(
    account: Account, kind: AccountKind, methods: Sequence[MatchMethod], index: _Index
) -> AccountLink:
    notes: list[str] = []
    for method in methods:
        person, note = index.lookup(method, account)
        if note:
            notes.append(note)
        if person is not None:
            return AccountLink(
                account.system,
                account.native_id,
                person.employee_id,
                kind,
                method.value,
                CONFIDENCE[method],
                "; ".join(notes),
            )
    if account.employee_id:
        notes.append(f"carries employee id {account.employee_id}, which HR does not know")
    return AccountLink(
        account.system, account.native_id, None, kind, "none", Confidence.NONE, "; ".join(notes)
    )
