"""OpenLDAP semantics: entryUUID, groupOfNames / groupOfUniqueNames / posixGroup, and the
password policy overlay (ppolicy) attributes that say whether and when a user can sign in."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from iam_gov.connectors.ldap.entry import (
    Entry,
    Flavor,
    GroupFacts,
    PasswordFacts,
    UserFacts,
    clean,
    generalized_time,
)
from iam_gov.model import AccountStatus

PERMANENTLY_LOCKED = "000001010000Z"
"""pwdAccountLockedTime set by an administrator: locked until an administrator unlocks it."""

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

    def user_attributes(self) -> tuple[str, ...]:
        names = [
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
        ]
        return tuple(dict.fromkeys(names))

    def group_attributes(self) -> tuple[str, ...]:
        return ("entryUUID", "cn", "member", "uniqueMember", "memberUid", "description", "owner")

    def native_id(self, entry: Entry) -> str:
        value = entry.text("entryUUID")
        if value is None:
            raise ValueError("it has no entryUUID (an operational attribute: name it to get it)")
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
        problems: list[str] = []

        def time(name: str) -> datetime | None:
            text = entry.text(name)
            if text is None:
                return None
            try:
                return generalized_time(text)
            except ValueError as exc:
                problems.append(f"{name}: {exc}")
                return None

        facts = UserFacts(
            native_id=self.native_id(entry),
            login=self.login_of(entry),
            status=AccountStatus.ACTIVE,
            email=entry.text("mail"),
            display_name=entry.text("displayName") or entry.text("cn"),
            employee_id=entry.text(self.employee_id_attribute),
            created_at=time("createTimestamp"),
            # pwdLastSuccess is kept by slapd's "lastbind on" (or the lastbind overlay).
            last_login_at=time("pwdLastSuccess"),
            problems=problems,
        )
        facts.attributes["dn"] = clean(entry.dn)
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
        changed = time("pwdChangedTime")
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
