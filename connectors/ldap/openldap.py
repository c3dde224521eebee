"""OpenLDAP semantics: entryUUID, groupOfNames / groupOfUniqueNames / posixGroup, the
password policy overlay (ppolicy) attributes that say whether and when a user can sign in, and
the ppolicy entry that holds the default password policy."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from iam_gov.connectors.ldap.entry import (
    Entry,
    Flavor,
    GroupFacts,
    PasswordFacts,
    UserFacts,
    Values,
    clean,
    dn_id,
    unique_names,
)
from iam_gov.model import AccountStatus

PERMANENTLY_LOCKED = "000001010000Z"
"""pwdAccountLockedTime set by an administrator: locked until an administrator unlocks it."""

# The default password policy is a ppolicy entry: the one slapd's ppolicy_default names
# applies to everyone without a pwdPolicySubentry of their own.
PPOLICY_FILTER = "(objectClass=pwdPolicy)"
PPOLICY_ATTRIBUTES = (
    "pwdAttribute",  # required in every ppolicy: seeing it shows the entry is readable
    "pwdMinLength",
    "pwdCheckQuality",
    "pwdInHistory",
    "pwdMaxAge",
    "pwdLockout",
    "pwdMaxFailure",
    "pwdCheckModule",
    "pwdUseCheckModule",
)

_UNIQUE_MEMBER_UID = re.compile(r"#'[01]*'B$")


def strip_unique_member_uid(value: str) -> str:
    """``uniqueMember`` is a DN with an optional ``#'0101'B`` uid after it."""
    return _UNIQUE_MEMBER_UID.sub("", value)


class OpenLDAP(Flavor):
    name = "openldap"
    id_attribute = "entryUUID"
    user_filter = "(|(objectClass=person)(objectClass=posixAccount))"
    group_filter = (
        "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))"
    )
    login_attribute = "uid"
    employee_id_attribute = "employeeNumber"
    group_member_attributes = ("member", "uniqueMember", "memberUid")
    policy_class = "pwdpolicy"

    def user_attributes(self) -> tuple[str, ...]:
        return unique_names(
            "entryUUID",
            self.login_attribute,
            "mail",
            "displayName",
            "cn",
            self.employee_id_attribute,
            "createTimestamp",
            "pwdAccountLockedTime",
            "pwdLastSuccess",
            "pwdChangedTime",
            "pwdReset",
        )

    def group_attributes(self) -> tuple[str, ...]:
        return ("entryUUID", "cn", "member", "uniqueMember", "memberUid", "description", "owner")

    def native_id(self, entry: Entry) -> str:
        if entry.by_dn:
            return dn_id(entry)
        value = entry.text("entryUUID")
        if value is None:
            raise ValueError("it has no entryUUID (an operational attribute: name it to get it)")
        if not value.strip():
            raise ValueError("its entryUUID is empty")
        return value.strip().lower()

    def id_value(self, native_id: str) -> str:
        return str(uuid.UUID(native_id))

    def is_user(self, object_classes: set[str]) -> bool:
        return bool(
            object_classes & {"person", "organizationalperson", "inetorgperson", "posixaccount"}
        )

    def is_group(self, object_classes: set[str]) -> bool:
        return bool(object_classes & {"groupofnames", "groupofuniquenames", "posixgroup"})

    def user(self, entry: Entry, *, has_password: bool, now: datetime) -> UserFacts:
        values = Values(entry)
        facts = self.new_user(entry, values)
        facts.created_at = values.time("createTimestamp")
        # pwdLastSuccess is kept by slapd's "lastbind on" (or the lastbind overlay).
        facts.last_login_at = values.time("pwdLastSuccess")
        locked = entry.text("pwdAccountLockedTime")
        if locked is not None:
            facts.attributes["pwd_account_locked_time"] = locked
            if locked.strip() == PERMANENTLY_LOCKED:
                facts.status = AccountStatus.LOCKED
            else:
                # A lockout after failed binds ends after pwdLockoutDuration: still usable.
                facts.attributes["locked_out"] = "true"
        if (entry.text("pwdReset") or "").upper() == "TRUE":
            facts.attributes["password_must_change"] = "true"
        changed = values.time("pwdChangedTime")
        if has_password or changed is not None:
            facts.password = PasswordFacts(created_at=changed, last_used_at=facts.last_login_at)
            if "password_must_change" in facts.attributes:
                facts.password.attributes["must_change"] = "true"
        return facts

    def group(self, entry: Entry) -> GroupFacts:
        name = entry.text("cn") or entry.dn
        members = [
            *entry.texts("member"),
            *(strip_unique_member_uid(value) for value in entry.texts("uniqueMember")),
        ]
        return GroupFacts(
            native_id=self.native_id(entry),
            name=name,
            privileged=self.matches_privileged_pattern(entry.dn, [name]),
            members=tuple(members),
            member_logins=entry.texts("memberUid"),
            owner=entry.text("owner"),
            description=entry.text("description"),
        )


def ppolicy_password_policy(entry: Entry) -> tuple[dict[str, Any] | None, list[str]]:
    """An OpenLDAP ppolicy entry normalized. An attribute that is absent has its documented
    default (slapo-ppolicy(5)): 0, "no limit" or FALSE."""
    values = Values(entry)

    def integer(name: str) -> int:
        return values.integer(name) or 0

    def flag(name: str) -> bool:
        return (entry.text(name) or "").strip().upper() == "TRUE"

    if not any(entry.has(name) for name in PPOLICY_ATTRIBUTES):
        return None, values.problems
    notes = []
    quality, min_length = integer("pwdCheckQuality"), integer("pwdMinLength")
    if min_length and not quality:
        # slapd checks the length only when asked to check quality at all.
        notes.append(f"pwdMinLength {min_length} is not enforced: pwdCheckQuality is 0")
    max_age = integer("pwdMaxAge")  # seconds; 0: never
    checked = entry.has("pwdCheckModule") or flag("pwdUseCheckModule")
    policy: dict[str, Any] = {
        "source": "openldap-ppolicy",
        "dn": clean(entry.dn),
        "min_length": min_length if quality else 0,
        "history": integer("pwdInHistory"),
        "max_age_days": round(max_age / 86400) if max_age else None,
        "lockout_threshold": integer("pwdMaxFailure") if flag("pwdLockout") else 0,
        # Character classes are only checked by a check module, whose rules are its own.
        "complexity": None if checked else False,
    }
    if notes:
        policy["notes"] = notes
    return policy, values.problems
