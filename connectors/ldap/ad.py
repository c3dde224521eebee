"""Active Directory semantics: userAccountControl, FILETIME, objectGUID and objectSid, and the
groups that are privileged by nature."""

from __future__ import annotations

import contextlib
import struct
import uuid
from datetime import UTC, datetime, timedelta
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
from iam_gov.model import AccountKind, AccountStatus

# userAccountControl bits (MS-ADTS 2.2.16)
ACCOUNTDISABLE = 0x2
LOCKOUT = 0x10
PASSWD_NOTREQD = 0x20
NORMAL_ACCOUNT = 0x200
DONT_EXPIRE_PASSWORD = 0x10000
SMARTCARD_REQUIRED = 0x40000
PASSWORD_EXPIRED = 0x800000

# groupType: without this bit a group is a distribution list, which grants no access.
SECURITY_ENABLED = 0x80000000

_NEVER = {0, 0x7FFFFFFFFFFFFFFF}
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)

# Privileged by nature: domain groups by RID, BUILTIN (S-1-5-32) groups by alias RID.
PRIVILEGED_DOMAIN_RIDS = {
    512: "Domain Admins",
    518: "Schema Admins",
    519: "Enterprise Admins",
    520: "Group Policy Creator Owners",
    526: "Key Admins",
    527: "Enterprise Key Admins",
}
BUILTIN_DOMAIN = "S-1-5-32"
PRIVILEGED_BUILTIN_RIDS = {
    544: "Administrators",
    548: "Account Operators",
    549: "Server Operators",
    550: "Print Operators",
    551: "Backup Operators",
}
# DnsAdmins gets a RID when the DNS role is installed: it is known by name only.
PRIVILEGED_NAMES = frozenset(
    name.casefold()
    for name in (*PRIVILEGED_DOMAIN_RIDS.values(), *PRIVILEGED_BUILTIN_RIDS.values(), "DnsAdmins")
)
ADMINISTRATOR_RID = 500
SERVICE_RIDS = {501: "Guest", 502: "krbtgt"}
BUILT_IN_ACCOUNTS = {ADMINISTRATOR_RID: "Administrator", **SERVICE_RIDS}
# Every domain has these groups (MS-DTYP 2.4.2.4). Where an export carries no objectSid they
# are known by their names, which are the English defaults: a renamed or localized one is not.
WELL_KNOWN_DOMAIN_GROUPS = {
    512: "Domain Admins",
    513: "Domain Users",
    514: "Domain Guests",
    515: "Domain Computers",
    516: "Domain Controllers",
    517: "Cert Publishers",
    518: "Schema Admins",
    519: "Enterprise Admins",
    520: "Group Policy Creator Owners",
    521: "Read-only Domain Controllers",
    522: "Cloneable Domain Controllers",
    525: "Protected Users",
    526: "Key Admins",
    527: "Enterprise Key Admins",
}
_WELL_KNOWN_BY_NAME = {name.casefold(): rid for rid, name in WELL_KNOWN_DOMAIN_GROUPS.items()}

# The domain's password policy lives on the domain object (the naming context's root).
DOMAIN_FILTER = "(objectClass=domainDNS)"
DOMAIN_POLICY_ATTRIBUTES = (
    "minPwdLength",
    "pwdHistoryLength",
    "maxPwdAge",
    "lockoutThreshold",
    "pwdProperties",
)
DOMAIN_PASSWORD_COMPLEX = 0x1  # pwdProperties (MS-ADTS 3.1.1.5.3)
_NEVER_INTERVAL = {0, -0x8000000000000000}
_TICKS_PER_DAY = 864_000_000_000


def filetime(value: int) -> datetime | None:
    """A FILETIME (100-ns ticks since 1601); None for 0 and "never"."""
    if value in _NEVER or value < 0:
        return None
    try:
        return _FILETIME_EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None


def guid_text(raw: bytes) -> str:
    """objectGUID as AD tools show it: the first three fields are little-endian."""
    if len(raw) != 16:
        return str(uuid.UUID(bytes_le=raw))  # which says what is wrong
    # What str(uuid.UUID(bytes_le=raw)) gives, without building the UUID (once per entry).
    h = (raw[3::-1] + raw[5:3:-1] + raw[7:5:-1] + raw[8:]).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def guid_bytes(text: str) -> bytes:
    return uuid.UUID(text.strip("{}")).bytes_le


def sid_text(raw: bytes) -> str:
    """objectSid in its ``S-1-5-21-…`` form."""
    if len(raw) < 8:
        raise ValueError("too short for a SID")
    revision, count = raw[0], raw[1]
    if len(raw) != 8 + 4 * count:
        raise ValueError("length does not match its sub-authority count")
    authority = int.from_bytes(raw[2:8], "big")
    subs = struct.unpack(f"<{count}I", raw[8:])
    return "-".join(["S", str(revision), str(authority), *map(str, subs)])


def domain_dn(dn: str) -> str:
    """The domain a DN is in: its trailing ``DC=`` components (DNS labels hold no commas,
    so a plain split finds them even after RDNs with escaped ones)."""
    parts = [part.strip() for part in dn.split(",")]
    count = 0
    for rdn in reversed(parts):
        if rdn.partition("=")[0].strip().casefold() != "dc":
            break
        count += 1
    return ",".join(parts[len(parts) - count :])


def domain_password_policy(entry: Entry) -> tuple[dict[str, Any] | None, list[str]]:
    """The domain object's password policy in the normalized form the rules read, and the
    values that could not be read. None when the entry carries none of the attributes."""
    values = Values(entry)
    integer = values.integer
    if not any(entry.has(name) for name in DOMAIN_POLICY_ATTRIBUTES):
        return None, values.problems
    properties = integer("pwdProperties")
    policy: dict[str, Any] = {
        "source": "ad-domain",
        "dn": clean(entry.dn),
        "min_length": integer("minPwdLength"),
        "history": integer("pwdHistoryLength"),
        "lockout_threshold": integer("lockoutThreshold"),  # 0: accounts never lock
        "complexity": None if properties is None else bool(properties & DOMAIN_PASSWORD_COMPLEX),
    }
    _max_age(integer("maxPwdAge"), policy)
    return policy, values.problems


# Fine-grained password policies (PSOs, MS-ADTS 3.1.1.5.3.1.2): in one container of the domain,
# each applying to the users and global security groups its msDS-PSOAppliesTo names.
PSO_CONTAINER = "CN=Password Settings Container,CN=System"
PSO_FILTER = "(objectClass=msDS-PasswordSettings)"
PSO_CLASS = "msds-passwordsettings"
PSO_CONTAINER_CLASS = "msds-passwordsettingscontainer"
PSO_ATTRIBUTES = (
    "objectGUID",
    "cn",
    "msDS-PasswordSettingsPrecedence",
    "msDS-PSOAppliesTo",
    "msDS-MinimumPasswordLength",
    "msDS-PasswordHistoryLength",
    "msDS-PasswordComplexityEnabled",
    "msDS-MaximumPasswordAge",
    "msDS-LockoutThreshold",
)
PSO_UNKNOWN = (
    "fine-grained password policies unknown: weak-password-policy is not concluded for the "
    "accounts they may cover, and which accounts the domain policy covers is not known"
)
GLOBAL_GROUP = 0x2  # groupType: global scope, the only one a PSO applies through


def pso_container_dn(base: str) -> str:
    """Where the domain of ``base`` keeps its PSOs."""
    return f"{PSO_CONTAINER},{domain_dn(base)}"


def _max_age(value: int | None, policy: dict[str, Any]) -> None:
    # A negative interval in 100-ns ticks; 0 and the smallest int64 mean "never" (None).
    # Left out when unknown: a missing key is not judged, None would read as "never".
    if value is not None:
        policy["max_age_days"] = (
            None if value in _NEVER_INTERVAL else round(abs(value) / _TICKS_PER_DAY)
        )


def pso_password_policy(entry: Entry) -> tuple[dict[str, Any], list[str]]:
    """One PSO in the normalized form the rules read (``source`` "ad-pso", with its
    ``precedence``), and the values that could not be read."""
    values = Values(entry)
    integer = values.integer
    complexity = entry.text("msDS-PasswordComplexityEnabled")
    if complexity is not None and complexity.upper() not in ("TRUE", "FALSE"):
        values.problems.append(f"msDS-PasswordComplexityEnabled {complexity!r} is not TRUE/FALSE")
        complexity = None
    policy: dict[str, Any] = {
        "source": "ad-pso",
        "name": entry.text("cn") or clean(entry.dn),
        "dn": clean(entry.dn),
        "precedence": integer("msDS-PasswordSettingsPrecedence"),
        "min_length": integer("msDS-MinimumPasswordLength"),
        "history": integer("msDS-PasswordHistoryLength"),
        "lockout_threshold": integer("msDS-LockoutThreshold"),
        "complexity": None if complexity is None else complexity.upper() == "TRUE",
    }
    _max_age(integer("msDS-MaximumPasswordAge"), policy)
    for name in ("msDS-PasswordSettingsPrecedence", "msDS-PSOAppliesTo"):
        if not entry.has(name):
            values.problems.append(f"{name} cannot be read (can the credential read it?)")
    return policy, values.problems


def split_sid(sid: str) -> tuple[str, int]:
    domain, _, rid = sid.rpartition("-")
    return domain, int(rid)


class ActiveDirectory(Flavor):
    name = "ad"
    id_attribute = "objectGUID"
    # objectCategory=person leaves out computers, which are users too in AD.
    user_filter = "(&(objectCategory=person)(objectClass=user))"
    group_filter = "(objectClass=group)"
    login_attribute = "sAMAccountName"
    employee_id_attribute = "employeeID"
    group_member_attributes = ("member",)
    policy_class = "domaindns"

    def user_attributes(self) -> tuple[str, ...]:
        return unique_names(
            "objectGUID",
            "objectSid",
            self.login_attribute,
            "userPrincipalName",
            "mail",
            "displayName",
            "cn",
            self.employee_id_attribute,
            "userAccountControl",
            "lockoutTime",
            "lastLogonTimestamp",
            "pwdLastSet",
            "accountExpires",
            "whenCreated",
            "adminCount",
            "primaryGroupID",
        )

    def group_attributes(self) -> tuple[str, ...]:
        return (
            "objectGUID",
            "objectSid",
            "sAMAccountName",
            "cn",
            "member",
            "groupType",
            "description",
            "managedBy",
        )

    def native_id(self, entry: Entry) -> str:
        if entry.by_dn:
            return dn_id(entry)
        raw = entry.raw("objectGUID")
        if raw is None:
            raise ValueError("it has no objectGUID")
        if len(raw) != 16:
            raise ValueError(f"its objectGUID is {len(raw)} bytes long, not 16")
        return guid_text(raw)

    def id_value(self, native_id: str) -> bytes:
        return guid_bytes(native_id)

    def is_user(self, object_classes: set[str]) -> bool:
        # Computers (and managed service accounts, which are computers) are users in AD.
        return "user" in object_classes and "computer" not in object_classes

    def is_group(self, object_classes: set[str]) -> bool:
        return "group" in object_classes

    def user(self, entry: Entry, *, has_password: bool, now: datetime) -> UserFacts:
        values = Values(entry)
        integer = values.integer
        facts = self.new_user(entry, values)
        attributes = facts.attributes
        if (upn := entry.text("userPrincipalName")) is not None:
            attributes["user_principal_name"] = upn
        sid = self._sid(entry, values.problems)
        primary = integer("primaryGroupID")
        rid: int | None = None
        if sid is not None:
            attributes["sid"] = sid
            domain, rid = split_sid(sid)
            if primary is not None:
                facts.primary_group = (domain, primary)
        else:
            # No SID (an export that left objectSid out): the built-in accounts by their
            # names, said on the account, and the primary group by its RID within the
            # domain of the user's DN (resolved against the groups by to_model).
            by_name = {name.casefold(): r for r, name in BUILT_IN_ACCOUNTS.items()}
            rid = by_name.get(facts.login.casefold())
            if rid is not None:
                attributes["built_in"] = (
                    f"{BUILT_IN_ACCOUNTS[rid]} (RID {rid}) recognised by its name: "
                    "no objectSid to confirm it"
                )
            if primary is not None:
                facts.primary_group = (None, primary)
        if rid == ADMINISTRATOR_RID:
            facts.kind = AccountKind.BREAK_GLASS  # the domain's built-in Administrator
        elif rid in SERVICE_RIDS:
            facts.kind = AccountKind.SERVICE
        facts.created_at = values.time("whenCreated")

        control = integer("userAccountControl")
        if control is not None:
            attributes["user_account_control"] = str(control)
            if control & ACCOUNTDISABLE:
                facts.status = AccountStatus.DISABLED
            # A lockout ends by itself and an expired password can be changed at sign-in:
            # both leave the account usable, so they stay ACTIVE with the fact kept here.
            if control & LOCKOUT:
                attributes["locked_out"] = "true"
            if control & PASSWORD_EXPIRED:
                attributes["password_expired"] = "true"
            if control & DONT_EXPIRE_PASSWORD:
                attributes["password_never_expires"] = "true"
            if control & PASSWD_NOTREQD:
                attributes["password_not_required"] = "true"
            if control & SMARTCARD_REQUIRED:
                attributes["smartcard_required"] = "true"
        lockout = integer("lockoutTime")
        if lockout and (locked_at := filetime(lockout)) is not None:
            attributes["locked_out"] = "true"
            attributes["lockout_time"] = locked_at.isoformat()
        expires = integer("accountExpires")
        if expires is not None and (expires_at := filetime(expires)) is not None:
            attributes["account_expires"] = expires_at.isoformat()
            if expires_at <= now:
                facts.status = AccountStatus.DISABLED
                attributes["expired"] = "true"
        if (admin_count := integer("adminCount")) is not None:
            attributes["admin_count"] = str(admin_count)
        # lastLogonTimestamp is replicated but only updated when it is older than
        # ms-DS-Logon-Time-Sync-Interval (9 to 14 days by default): it can be that stale.
        last_logon = integer("lastLogonTimestamp")
        facts.last_login_at = filetime(last_logon) if last_logon else None

        password_set = integer("pwdLastSet")
        password = PasswordFacts(last_used_at=facts.last_login_at)
        if password_set == 0:
            password.attributes["must_change"] = "true"
            attributes["password_must_change"] = "true"
        elif password_set is not None:
            password.created_at = filetime(password_set)
        if "password_never_expires" in attributes:
            password.attributes["never_expires"] = "true"
        facts.password = password  # every AD user has one, even if only a random one
        return facts

    def group(self, entry: Entry) -> GroupFacts:
        names = [n for n in (entry.text("sAMAccountName"), entry.text("cn")) if n]
        name = names[0] if names else entry.dn
        problems: list[str] = []
        sid = self._sid(entry, problems)
        facts = GroupFacts(
            native_id=self.native_id(entry),
            name=name,
            members=entry.texts("member"),
            owner=entry.text("managedBy"),
            description=entry.text("description"),
            problems=problems,
        )
        if sid is not None:
            facts.sid = split_sid(sid)
            domain, rid = facts.sid
            rids = PRIVILEGED_BUILTIN_RIDS if domain == BUILTIN_DOMAIN else PRIVILEGED_DOMAIN_RIDS
            facts.privileged = rid in rids
        else:
            facts.well_known_rid = next(
                (r for n in names if (r := _WELL_KNOWN_BY_NAME.get(n.casefold())) is not None),
                None,
            )
        # Without a SID the name is all there is; DnsAdmins has no well-known RID.
        if not facts.privileged and (sid is None or name.casefold() == "dnsadmins"):
            facts.privileged = any(n.casefold() in PRIVILEGED_NAMES for n in names)
        facts.privileged = facts.privileged or self.matches_privileged_pattern(entry.dn, names)
        group_type = entry.text("groupType")
        if group_type is not None:
            try:
                security = bool(int(group_type) & SECURITY_ENABLED)
            except ValueError:
                security = True  # unreadable: assume it grants access, the careful reading
            if not security:
                facts.security, facts.kind = False, "distribution-group"
            with contextlib.suppress(ValueError):
                facts.global_scope = bool(int(group_type) & GLOBAL_GROUP)
        return facts

    @staticmethod
    def _sid(entry: Entry, problems: list[str]) -> str | None:
        raw = entry.raw("objectSid")
        if raw is None:
            return None
        try:
            return sid_text(raw)
        except ValueError as exc:
            problems.append(f"objectSid: {exc}")
            return None
