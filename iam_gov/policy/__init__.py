"""Policy as code: roles, privileged entitlements, exceptions and declared accounts, in YAML.

The policy is plain data. It knows the rules only as the settings models its caller passes in
(``load_policy(path, rules=all_rules())``), so rules may read the policy but never the other
way round."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from iam_gov.errors import PolicyError
from iam_gov.model import Account, AccountKind, Person
from iam_gov.policy.match import account_matches, person_field, person_matches
from iam_gov.policy.model import (
    DeclaredAccount,
    EntitlementOwner,
    Exception_,
    Pattern,
    PolicyFile,
    PrivilegedEntitlement,
    Role,
    SeparationOfDuties,
    SodException,
)
from iam_gov.yamlfile import YamlDocument, load_yaml

T = TypeVar("T")


@dataclass(frozen=True)
class Located(Generic[T]):
    """A policy element and where it is written, so evidence can point at ``file:line``."""

    item: T
    where: str


class KnownRule(Protocol):
    """What the policy needs to know of a rule: the model of its settings."""

    @property
    def params_model(self) -> type[BaseModel]: ...


@dataclass(frozen=True)
class RuleSettings:
    enabled: bool
    params: BaseModel
    """An instance of the rule's ``params_model``, checked when the policy was loaded."""


@dataclass(frozen=True)
class Policy:
    roles: dict[str, Located[Role]]
    privileged: dict[str, tuple[PrivilegedEntitlement, ...]]
    exceptions: tuple[Located[Exception_], ...]
    accounts: tuple[Located[DeclaredAccount], ...]
    rules: dict[str, RuleSettings]
    separation_of_duties: tuple[Located[SeparationOfDuties], ...]
    digest: str
    sources: tuple[Path, ...]
    owners: dict[str, tuple[EntitlementOwner, ...]] = field(default_factory=dict)
    """System name -> who owns which entitlements (for owner reviews)."""
    _closure: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _exception_index: dict[tuple[str, str, str], list[Located[Exception_]]] = field(
        default_factory=dict, repr=False
    )
    _roles_by_fields: dict[tuple[str | None, ...], tuple[str, ...]] = field(
        default_factory=dict, repr=False
    )

    def roles_of(self, person: Person) -> tuple[str, ...]:
        """Names of the roles a person has: matched on HR fields, plus what they include."""
        # Roles depend only on the HR fields the roles match on: people alike in those (most
        # of a department) have the same roles, worked out once.
        key = tuple(person_field(person, name) for name in self._match_fields)
        roles = self._roles_by_fields.get(key)
        if roles is None:
            roles = self._roles_by_fields[key] = self._match_roles(person)
        return roles

    @cached_property
    def _match_fields(self) -> tuple[str, ...]:
        return tuple(sorted({name for r in self.roles.values() for name in r.item.match}))

    def _match_roles(self, person: Person) -> tuple[str, ...]:
        names: list[str] = []
        for name, located in self.roles.items():
            if person_matches(located.item.match, person):
                for included in self._closure.get(name, (name,)):
                    if included not in names:
                        names.append(included)
        return tuple(names)

    def expected(self, role_names: Sequence[str], system: str) -> list[tuple[Pattern, str]]:
        """(pattern, role) pairs of what these roles bring in ``system``."""
        return [
            (pattern, name)
            for name in role_names
            for pattern in self.roles[name].item.grants.get(system, ())
        ]

    def requestable(self, role_names: Sequence[str], system: str) -> list[tuple[Pattern, str]]:
        """(pattern, role) pairs of what these roles may hold once approved."""
        return [
            (pattern, name)
            for name in role_names
            for pattern in self.roles[name].item.requestable.get(system, ())
        ]

    def declared(self, account: Account) -> Located[DeclaredAccount] | None:
        for located in self._declared_by_system.get(account.system, ()):
            if account_matches(located.item.login, account):
                return located
        return None

    @cached_property
    def _declared_by_system(self) -> dict[str, list[Located[DeclaredAccount]]]:
        # Asked of every account: each is compared with its own system's declarations only.
        found: dict[str, list[Located[DeclaredAccount]]] = {}
        for located in self.accounts:
            found.setdefault(located.item.system, []).append(located)
        return found

    @cached_property
    def exception_systems(self) -> frozenset[str]:
        """The systems some exception is for."""
        return frozenset(located.item.system for located in self.exceptions)

    def exceptions_for(
        self, system: str, person: Person | None, account: Account
    ) -> list[Located[Exception_]]:
        """Exceptions that may approve something for this person or account in ``system``."""
        index = self._exception_index
        if not index:
            index.update(_index_exceptions(self.exceptions))
        found: list[Located[Exception_]] = []
        if person is not None:
            found.extend(index.get((system, "person", person.employee_id), ()))
            if person.email:
                found.extend(index.get((system, "person", person.email.casefold()), ()))
        for located in index.get((system, "account", ""), ()):
            assert located.item.account is not None
            if account_matches(located.item.account, account):
                found.append(located)
        if len(found) < 2:
            return found  # asked of every account: most have none
        # An exception naming both a person and an account is found twice: listed once.
        return list({id(located): located for located in found}.values())

    def systems(self) -> set[str]:
        """Every system name the policy mentions (to check against the configuration)."""
        names = set(self.privileged)
        for located in self.roles.values():
            names.update(located.item.grants)
            names.update(located.item.requestable)
        for sod in self.separation_of_duties:
            for side in sod.item.sides:
                names.update(side)
        names.update(e.item.system for e in self.exceptions)
        names.update(a.item.system for a in self.accounts)
        names.update(self.owners)
        return names

    def rule_enabled(self, rule_id: str) -> bool:
        settings = self.rules.get(rule_id)
        return settings is None or settings.enabled


def load_policy(path: Path, *, rules: Mapping[str, KnownRule]) -> Policy:
    """Load a policy file or folder; every mistake is reported as ``file:line: message``.

    ``rules`` are the rules the ``rules:`` section may set, by id (``all_rules()``)."""
    files = _policy_files(path)
    documents = [load_yaml(f, PolicyError) for f in files]
    problems: list[str] = []
    parsed: list[tuple[YamlDocument, PolicyFile]] = []
    for doc in documents:
        if not isinstance(doc.data, dict):
            problems.append(f"{doc.path}:1: a policy file is a mapping (version, roles, …)")
            continue
        try:
            parsed.append((doc, PolicyFile.model_validate(doc.data)))
        except ValidationError as exc:
            problems.extend(doc.problems(exc))
    if problems:
        raise PolicyError(problems)
    policy = _merge(parsed, rules, problems)
    if problems:
        raise PolicyError(problems)
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return Policy(digest=digest.hexdigest(), sources=tuple(files), **policy)


def _policy_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        if not files:
            raise PolicyError(f"{path}: the policy folder has no .yaml files")
        return files
    if not path.exists():
        raise PolicyError(f"{path}: no such file")
    return [path]


def _merge(
    parsed: list[tuple[YamlDocument, PolicyFile]],
    known_rules: Mapping[str, KnownRule],
    problems: list[str],
) -> dict[str, Any]:
    roles: dict[str, Located[Role]] = {}
    privileged: dict[str, tuple[PrivilegedEntitlement, ...]] = {}
    exceptions: list[Located[Exception_]] = []
    separation: list[Located[SeparationOfDuties]] = []
    accounts: list[Located[DeclaredAccount]] = []
    rules: dict[str, RuleSettings] = {}
    rule_where: dict[str, str] = {}
    owners: dict[str, tuple[EntitlementOwner, ...]] = {}
    for doc, pf in parsed:
        for system, owned in pf.owners.items():
            owners[system] = owners.get(system, ()) + owned
        for i, role in enumerate(pf.roles):
            where = doc.where(("roles", i))
            if role.name in roles:
                problems.append(
                    f"{where}: roles.{i}.name: role {role.name!r} is already defined at "
                    f"{roles[role.name].where}"
                )
                continue
            roles[role.name] = Located(role, where)
        for system, entries in pf.privileged.items():
            privileged[system] = privileged.get(system, ()) + tuple(
                PrivilegedEntitlement(entitlement=e) if isinstance(e, str) else e for e in entries
            )
        separation.extend(
            Located(sod, doc.where(("separation_of_duties", i)))
            for i, sod in enumerate(pf.separation_of_duties)
        )
        exceptions.extend(
            Located(e, doc.where(("exceptions", i))) for i, e in enumerate(pf.exceptions)
        )
        accounts.extend(Located(a, doc.where(("accounts", i))) for i, a in enumerate(pf.accounts))
        for rule_id, raw in pf.rules.items():
            where = doc.where(("rules", rule_id))
            if rule_id not in known_rules:
                near = difflib.get_close_matches(rule_id, list(known_rules), n=1)
                hint = f" (did you mean {near[0]}?)" if near else ""
                problems.append(f"{where}: rules.{rule_id}: no such rule{hint}")
                continue
            if rule_id in rule_where:
                problems.append(f"{where}: rules.{rule_id}: already set at {rule_where[rule_id]}")
                continue
            rule_where[rule_id] = where
            settings = dict(raw)
            enabled = settings.pop("enabled", True)
            if not isinstance(enabled, bool):
                problems.append(f"{where}: rules.{rule_id}.enabled: must be true or false")
                continue
            try:
                params = known_rules[rule_id].params_model.model_validate(settings)
            except ValidationError as exc:
                problems.extend(doc.problems(exc, ("rules", rule_id)))
                continue
            rules[rule_id] = RuleSettings(enabled=enabled, params=params)
    closure = _role_closure(roles, problems)
    return {
        "roles": roles,
        "privileged": privileged,
        "exceptions": tuple(exceptions),
        "accounts": tuple(accounts),
        "rules": rules,
        "separation_of_duties": tuple(separation),
        "owners": owners,
        "_closure": closure,
    }


def _role_closure(
    roles: dict[str, Located[Role]], problems: list[str]
) -> dict[str, tuple[str, ...]]:
    """Each role with every role it includes, transitively; unknown names and cycles are errors."""
    closure: dict[str, tuple[str, ...]] = {}

    def visit(name: str, path: tuple[str, ...]) -> tuple[str, ...]:
        if name in closure:
            return closure[name]
        located = roles[name]
        out = [name]
        for included in located.item.includes:
            if included not in roles:
                problems.append(
                    f"{located.where}: roles: {name!r} includes unknown role {included!r}"
                )
                continue
            if included in path:
                cycle = " -> ".join((*path, included))
                problems.append(f"{located.where}: roles: roles include each other: {cycle}")
                continue
            out.extend(r for r in visit(included, (*path, included)) if r not in out)
        closure[name] = tuple(out)
        return closure[name]

    for name in roles:
        visit(name, (name,))
    return closure


def _index_exceptions(
    exceptions: Sequence[Located[Exception_]],
) -> dict[tuple[str, str, str], list[Located[Exception_]]]:
    """By (system, "person", employee id or e-mail), and (system, "account", "") for the
    account patterns, which are matched one by one."""
    index: dict[tuple[str, str, str], list[Located[Exception_]]] = {}
    for located in exceptions:
        exc = located.item
        if exc.person is not None:
            key = exc.person if "@" not in exc.person else exc.person.casefold()
            index.setdefault((exc.system, "person", key), []).append(located)
        if exc.account is not None:
            index.setdefault((exc.system, "account", ""), []).append(located)
    return index


def exception_valid(exc: Exception_ | SodException, on: date) -> bool:
    """An exception explains access up to and including its expiry date."""
    return on <= exc.expires


def declared_kind(policy: Policy, account: Account) -> AccountKind | None:
    located = policy.declared(account)
    return None if located is None else located.item.kind


__all__ = [
    "KnownRule",
    "Located",
    "Policy",
    "RuleSettings",
    "exception_valid",
    "load_policy",
]
