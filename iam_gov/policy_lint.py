"""Policy lint: every name the policy declares, checked against the latest snapshots.

A role pattern, privileged pattern, declared account, exception or separation-of-duties side
that matches nothing collected is almost always a typo, and a silent one: a misspelt role
grant gives nobody the access the role expects and calls everyone's real access excess. A
system the policy names but the configuration does not is an error; everything else is a
warning, at the ``file:line`` of the pattern itself."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import ValidationError
from sqlalchemy import Connection

from iam_gov.config import Config
from iam_gov.errors import PolicyError
from iam_gov.model import Account, Entitlement
from iam_gov.policy import Policy
from iam_gov.policy.match import account_matches, entitlement_matches
from iam_gov.policy.model import PolicyFile, PrivilegedEntitlement
from iam_gov.store import Store
from iam_gov.store.snapshots import (
    SnapshotInfo,
    latest_snapshots,
    load_entitlements,
    load_snapshot,
)
from iam_gov.timeutil import as_utc
from iam_gov.yamlfile import YamlDocument, load_yaml

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class LintProblem:
    where: str
    """``file:line`` of the pattern (or of the key naming the system)."""
    what: str
    """The key path, e.g. ``roles.engineering.grants.okta``."""
    message: str
    severity: Severity = "warning"
    """"error" (a system that is not configured: refuse) or "warning" (matches nothing)."""

    def __str__(self) -> str:
        return f"{self.where}: {self.what}: {self.message}"


# What each kind of element loses when its pattern matches nothing.
_ROLE_GRANT = (
    "a misspelt name gives nobody the access the role expects "
    "and calls everyone's real access excess"
)
_REQUESTABLE = (
    "a misspelt name allows nothing, so the access it meant to allow is reported as excess"
)
_PRIVILEGED = (
    "if misspelt, the privileged entitlement it meant goes unwatched "
    "(a pattern for something not in use yet is fine)"
)
_DECLARED_LOGIN = (
    "the account it declares is gone or renamed; a renamed one is reported as an orphan"
)
_DECLARED_ENTITLEMENT = "the account is expected to hold something that does not exist"
_EXCEPTION = (
    "the exception approves nothing, and the access it meant to approve is reported as excess"
)
_SOD = "this side can never be held, so the rule cannot find the conflict it is for"
_OWNER = "the owner is asked to review nothing"

_WILDCARDS = frozenset("*?[")


@dataclass
class _SystemIndex:
    """One system's latest snapshot, loaded at most once, and each pattern matched once."""

    info: SnapshotInfo
    _load_entitlements: Callable[[], list[Entitlement]]
    _load_accounts: Callable[[], tuple[Account, ...]]
    _entitlements: list[Entitlement] | None = None
    _accounts: tuple[Account, ...] | None = None
    _ent_exact: set[str] = field(default_factory=set)
    _ent_names: set[str] = field(default_factory=set)
    _acc_exact: set[str] = field(default_factory=set)
    _seen: dict[tuple[str, str], bool] = field(default_factory=dict)

    @property
    def when(self) -> str:
        when = as_utc(self.info.collected_at).strftime("%Y-%m-%d %H:%M UTC")
        return when if self.info.complete else f"{when}, incomplete"

    def entitlement(self, pattern: str) -> bool:
        key = ("entitlement", pattern)
        if key not in self._seen:
            if self._entitlements is None:
                self._entitlements = self._load_entitlements()
                for e in self._entitlements:
                    self._ent_exact.update((e.ref.casefold(), e.entitlement_id.casefold()))
                    self._ent_names.add(e.name.casefold())
            if _WILDCARDS.isdisjoint(pattern):
                folded = pattern.casefold()
                found = folded in self._ent_exact or (
                    ":" not in pattern and folded in self._ent_names
                )
            else:
                found = any(entitlement_matches(pattern, e) for e in self._entitlements)
            self._seen[key] = found
        return self._seen[key]

    def account(self, pattern: str) -> bool:
        key = ("account", pattern)
        if key not in self._seen:
            if self._accounts is None:
                self._accounts = self._load_accounts()
                for a in self._accounts:
                    self._acc_exact.update((a.login.casefold(), a.native_id.casefold()))
            if _WILDCARDS.isdisjoint(pattern):
                found = pattern.casefold() in self._acc_exact
            else:
                found = any(account_matches(pattern, a) for a in self._accounts)
            self._seen[key] = found
        return self._seen[key]


def _index(conn: Connection, info: SnapshotInfo) -> _SystemIndex:
    return _SystemIndex(
        info,
        lambda: load_entitlements(conn, info.id, info.system),
        lambda: load_snapshot(conn, info.id, documents=False, with_grants=False).accounts,
    )


@dataclass(frozen=True)
class _Ref:
    """One name the policy declares: in which system, what kind, and what it loses."""

    system: str
    kind: Literal["entitlement", "account", "person"]
    pattern: str
    where: str
    what: str
    consequence: str


def _refs(doc: YamlDocument, pf: PolicyFile) -> Iterator[_Ref]:
    for i, role in enumerate(pf.roles):
        for section, consequence in (("grants", _ROLE_GRANT), ("requestable", _REQUESTABLE)):
            for system, patterns in getattr(role, section).items():
                for j, pattern in enumerate(patterns):
                    yield _Ref(
                        system,
                        "entitlement",
                        pattern,
                        doc.where(("roles", i, section, system, j)),
                        f"roles.{role.name}.{section}.{system}",
                        consequence,
                    )
    for system, entries in pf.privileged.items():
        for j, entry in enumerate(entries):
            pattern = entry.entitlement if isinstance(entry, PrivilegedEntitlement) else entry
            where = doc.where(("privileged", system, j))
            yield _Ref(system, "entitlement", pattern, where, f"privileged.{system}", _PRIVILEGED)
    for i, acc in enumerate(pf.accounts):
        yield _Ref(
            acc.system,
            "account",
            acc.login,
            doc.where(("accounts", i, "login")),
            f"accounts.{i}.login",
            _DECLARED_LOGIN,
        )
        for j, pattern in enumerate(acc.entitlements):
            yield _Ref(
                acc.system,
                "entitlement",
                pattern,
                doc.where(("accounts", i, "entitlements", j)),
                f"accounts.{i}.entitlements",
                _DECLARED_ENTITLEMENT,
            )
    for i, sod in enumerate(pf.separation_of_duties):
        for k, side in enumerate(sod.sides):
            for system, patterns in side.items():
                for j, pattern in enumerate(patterns):
                    yield _Ref(
                        system,
                        "entitlement",
                        pattern,
                        doc.where(("separation_of_duties", i, "sides", k, system, j)),
                        f"separation_of_duties.{sod.name}.sides.{k}.{system}",
                        _SOD,
                    )
    for i, exc in enumerate(pf.exceptions):
        base = ("exceptions", i)
        if exc.person is not None:
            where = doc.where((*base, "person"))
            yield _Ref(
                exc.system, "person", exc.person, where, f"exceptions.{i}.person", _EXCEPTION
            )
        if exc.account is not None:
            where = doc.where((*base, "account"))
            yield _Ref(
                exc.system, "account", exc.account, where, f"exceptions.{i}.account", _EXCEPTION
            )
        where = doc.where((*base, "entitlement"))
        yield _Ref(
            exc.system,
            "entitlement",
            exc.entitlement,
            where,
            f"exceptions.{i}.entitlement",
            _EXCEPTION,
        )
    for system, owned in pf.owners.items():
        for j, owner in enumerate(owned):
            where = doc.where(("owners", system, j, "entitlement"))
            yield _Ref(system, "entitlement", owner.entitlement, where, f"owners.{system}", _OWNER)


def _parsed(sources: tuple[Path, ...]) -> Iterator[tuple[YamlDocument, PolicyFile]]:
    """The policy's files read again, for the line of every pattern (``Policy`` keeps the
    line of each element, not of each pattern in it)."""
    for path in sources:
        doc = load_yaml(path, PolicyError)
        try:
            yield doc, PolicyFile.model_validate(doc.data)
        except ValidationError as exc:  # changed since the policy was loaded
            raise PolicyError(doc.problems(exc)) from None


def lint_policy(store: Store, config: Config, policy: Policy) -> list[LintProblem]:
    """Every policy element that names an unconfigured system (severity "error") or matches
    nothing in the latest snapshot of its system ("warning"). Errors come first, then the
    warnings in the order of the policy's files."""
    refs = [ref for doc, pf in _parsed(policy.sources) for ref in _refs(doc, pf)]
    configured = set(config.systems)
    hr = config.hr_system
    errors: list[LintProblem] = []
    warnings: list[LintProblem] = []
    reported: set[str] = set()
    with store.reading() as conn:
        latest = latest_snapshots(conn)
        indexes: dict[str, _SystemIndex] = {}
        hr_people: tuple[set[str], set[str]] | None = None
        for ref in refs:
            # An exception's person is looked up in HR, not in the exception's system.
            system = hr if ref.kind == "person" else ref.system
            if ref.system not in configured:
                if ref.system not in reported:
                    reported.add(ref.system)
                    errors.append(_unconfigured(ref, configured))
                continue
            if system not in latest:
                if system not in reported:
                    reported.add(system)
                    warnings.append(
                        LintProblem(
                            ref.where,
                            ref.what,
                            f"{system} is not collected yet: what the policy names in it is "
                            "not checked (run `iam-gov collect`)",
                        )
                    )
                continue
            if system not in indexes:
                indexes[system] = _index(conn, latest[system])
            index = indexes[system]
            if ref.kind == "person":
                if hr_people is None:
                    people = load_snapshot(
                        conn, latest[hr].id, documents=False, with_grants=False
                    ).people
                    hr_people = (
                        {p.employee_id for p in people},
                        {p.email.casefold() for p in people if p.email},
                    )
                ids, emails = hr_people
                if ref.pattern in ids or ref.pattern.casefold() in emails:
                    continue
                message = (
                    f"{ref.pattern!r} is nobody in the HR data ({hr}'s latest snapshot, "
                    f"{index.when}): {ref.consequence}"
                )
            elif ref.kind == "account":
                if index.account(ref.pattern):
                    continue
                message = (
                    f"{ref.pattern!r} matches no account in {system}'s latest snapshot "
                    f"({index.when}): {ref.consequence}"
                )
            else:
                if index.entitlement(ref.pattern):
                    continue
                message = (
                    f"{ref.pattern!r} matches no entitlement in {system}'s latest snapshot "
                    f"({index.when}): {ref.consequence}"
                )
            warnings.append(LintProblem(ref.where, ref.what, message))
    return errors + warnings


def _unconfigured(ref: _Ref, configured: set[str]) -> LintProblem:
    near = difflib.get_close_matches(ref.system, sorted(configured), n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return LintProblem(
        ref.where,
        ref.what,
        f"the policy names system {ref.system!r}, which is not configured "
        f"(configured: {', '.join(sorted(configured))}){hint}",
        "error",
    )


__all__ = ["LintProblem", "lint_policy"]
