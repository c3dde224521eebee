"""An AWS Organization as a snapshot describes it (``settings["organization"]``): which
service control policies fence each account, level by level, and how findings name an
account."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SERVICE_LINKED = ":role/aws-service-role/"
"""In the ARN of a service-linked role, which no SCP restricts."""


def account_of(arn: str) -> str:
    """The 12-digit account id an IAM ARN carries (``""`` when it carries none)."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


def label(account_id: str, name: str | None) -> str:
    """``prod (222222222222)``; the id alone when the name is unknown or the id itself."""
    if not name or name == account_id:
        return account_id
    return f"{name} ({account_id})"


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(v for v in value if isinstance(v, str))
    return ()


@dataclass(frozen=True)
class Organization:
    """The organization's accounts, their place in the tree and the SCPs attached on the way
    from the root down to each."""

    id: str
    management_account_id: str | None
    accounts: Mapping[str, Mapping[str, Any]]
    scp_targets: Mapping[str, tuple[str, ...]]
    scp_enabled: bool = True
    _levels: dict[str, tuple[tuple[str, ...], ...] | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Organization | None:
        """From a snapshot's settings; None for a single account (no ``organization``)."""
        raw = settings.get("organization")
        if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
            return None
        accounts = raw.get("accounts")
        targets = raw.get("scp_targets")
        management = raw.get("management_account_id")
        return cls(
            id=raw["id"],
            management_account_id=management if isinstance(management, str) else None,
            accounts={str(k): v for k, v in (accounts or {}).items() if isinstance(v, Mapping)}
            if isinstance(accounts, Mapping)
            else {},
            scp_targets={str(k): _strings(v) for k, v in targets.items()}
            if isinstance(targets, Mapping)
            else {},
            scp_enabled=raw.get("scp_enabled", True) is not False,
        )

    def is_member(self, account_id: str) -> bool:
        """The account belongs to the organization (collected or not)."""
        return account_id in self.accounts or account_id == self.management_account_id

    def collected(self, account_id: str) -> bool:
        """The snapshot holds the account's IAM (False: its principals are unknown)."""
        entry = self.accounts.get(account_id)
        return entry is None or entry.get("collected", True) is not False

    def name_of(self, account_id: str) -> str:
        entry = self.accounts.get(account_id)
        name = None if entry is None else entry.get("name")
        return name if isinstance(name, str) and name else account_id

    def scp_levels(self, account_id: str) -> tuple[tuple[str, ...], ...] | None:
        """The SCP ids attached at each level from the root down to the account itself (at
        every level one must allow an action and none deny it); None when no SCP restricts
        the account: the management account, SCPs not enabled, or an account the
        organization does not list."""
        if account_id in self._levels:
            return self._levels[account_id]
        levels: tuple[tuple[str, ...], ...] | None = None
        entry = self.accounts.get(account_id)
        if self.scp_enabled and entry is not None and account_id != self.management_account_id:
            path = [*reversed(_strings(entry.get("parents"))), account_id]
            levels = tuple(self.scp_targets.get(node, ()) for node in path)
        self._levels[account_id] = levels
        return levels


__all__ = ["SERVICE_LINKED", "Organization", "account_of", "label"]
