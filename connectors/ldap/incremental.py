"""Incremental collects from a directory: only the users and groups changed since the last
read (OpenLDAP ``modifyTimestamp``, AD ``uSNChanged``), applied to a baseline kept in the
export layout (the LDIF ``mode = "export"`` reads).

Each incremental collect reads, besides the changed entries with their attributes:
- the DNs only of every user and group in scope (``1.1``, paged), which is how deletions and
  entries leaving the scope are seen (neither timestamp nor USN shows a deleted entry, and AD's
  tombstones need rights a reader should not have);
- OpenLDAP: who has a password (the presence search a full read makes, DNs only);
- the password policy and AD's PSOs, whole (a few entries).

A membership change modifies the group entry, so the group is read again. OpenLDAP's cursor
is the newest ``modifyTimestamp`` held (the server's clock, not ours) less the time the read
took and a margin: a change made while reading is read again next time, never lost. AD's
cursor is the DC's ``highestCommittedUSN``, taken from the rootDSE before reading; USNs are
the DC's own, so another DC answering (``dsServiceName``, or another URL of the failover
list), a restore (``invocationId`` changed) or a USN lower than the cursor is a lost feed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from iam_gov.connectors.ldap.client import Directory, SearchFailed
from iam_gov.connectors.ldap.entry import (
    Collected,
    Entry,
    Scope,
    all_of,
    dn_key,
    filter_value,
    generalized_time,
)
from iam_gov.connectors.ldap.export import read_export
from iam_gov.connectors.ldap.live import read_directory, read_password_policies, search_all
from iam_gov.connectors.ldap.write_export import LDIF_NAME, DirectoryExport, Search
from iam_gov.connectors.shared.incremental import (
    BaselineStore,
    ChangeFeedLost,
    IncrementalRead,
    IncrementalSettings,
    Outcome,
    fingerprint,
)
from iam_gov.timeutil import utcnow


class LDAPOptions(IncrementalSettings, Protocol):
    """What an incremental read uses of the connector's ``LDAPOptions`` (a structural type:
    the connector's module imports this one)."""

    @property
    def base_dn(self) -> str | None: ...
    @property
    def bind_dn(self) -> str | None: ...
    @property
    def page_size(self) -> int: ...
    @property
    def password_policy_dn(self) -> str | None: ...


OVERLAP = timedelta(minutes=5)
"""OpenLDAP: changes this much older than the newest seen are read again (clock steps,
replicas applying changes late)."""
STAMP = "%Y%m%d%H%M%SZ"

# Operational attributes an incremental collect also reads and searches on; the bind DN needs
# them besides ``COLLECT_PERMISSIONS`` (AD: and the rootDSE and its NTDS Settings object).
INCREMENTAL_PERMISSIONS = (
    "openldap:read:user/objectClass",
    "openldap:read:group/objectClass",
    "openldap:read:user/modifyTimestamp",
    "openldap:read:group/modifyTimestamp",
    "openldap:search:user/modifyTimestamp",
    "openldap:search:group/modifyTimestamp",
    "ad:read:user/objectClass",
    "ad:read:group/objectClass",
    "ad:search:user/uSNChanged",
    "ad:search:group/uSNChanged",
    "ad:read:rootDSE/highestCommittedUSN",
    "ad:read:rootDSE/dsServiceName",
    "ad:read:ntdsDSA/invocationId",
)


def identity(options: LDAPOptions, scope: Scope) -> str:
    """What decides which entries and attributes are read: a baseline of other ones is not
    used. The URLs are not part of it (failover); the password policy is read every time."""
    return fingerprint(
        flavor=scope.flavor.name,
        base_dn=options.base_dn,
        user_base=scope.user_base,
        group_base=scope.group_base,
        user_filter=scope.user_filter,
        group_filter=scope.group_filter,
        login_attribute=scope.flavor.login_attribute,
        employee_id_attribute=scope.flavor.employee_id_attribute,
        bind_dn=options.bind_dn,
    )


def collect_incrementally(
    directory: Directory,
    scope: Scope,
    options: LDAPOptions,
    *,
    system: str,
    clock: Callable[[], datetime] = utcnow,
) -> Outcome[Collected]:
    """A full or an incremental read (``options`` are the connector's ``LDAPOptions``), the
    baseline replaced when the read was complete."""
    reader = _Incremental(directory, scope, options, clock)
    store = BaselineStore(system, options, identity=identity(options, scope))
    return IncrementalRead(
        store=store,
        full=reader.full,
        changes=reader.changes,
        read=reader.read,
        write=reader.write,
        complete=lambda collected: collected.complete and reader.keeps(collected),
        clock=clock,
    ).run()


class _Incremental:
    def __init__(
        self,
        directory: Directory,
        scope: Scope,
        options: LDAPOptions,
        clock: Callable[[], datetime],
    ) -> None:
        self.directory = directory
        self.scope = scope
        self.options = options
        self.clock = clock
        self.ad = scope.flavor.name == "ad"
        self._keys: dict[str, str] = {}
        # objectClass: the export reader sorts the baseline's entries by it.
        self.extra = ("objectClass",) if self.ad else ("objectClass", "modifyTimestamp")

    # --- full -----------------------------------------------------------------------------

    def full(self) -> tuple[Collected, dict[str, Any]]:
        started = time.monotonic()
        cursor = self._usn_cursor() if self.ad else {}
        options = self.options
        collected = read_directory(
            self.directory,
            self.scope,
            base_dn=options.base_dn or "",
            policy_dn=options.password_policy_dn,
            page_size=options.page_size,
            extra_attributes=self.extra,
        )
        if not self.ad:
            cursor = self._time_cursor(collected, time.monotonic() - started)
        return collected, cursor

    # --- changes --------------------------------------------------------------------------

    def changes(
        self, collected: Collected, cursor: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, int]]:
        started = time.monotonic()
        if self.ad:
            new_cursor = self._usn_cursor()
            self._check_usn(cursor, new_cursor)
            since = f"(uSNChanged>={filter_value(str(int(cursor['usn']) + 1))})"
        else:
            stamp = cursor.get("modified_since")
            if not isinstance(stamp, str):
                raise ChangeFeedLost("the baseline holds no modifyTimestamp to read changes from")
            since = f"(modifyTimestamp>={filter_value(stamp)})"
        scope, options = self.scope, self.options
        flavor = scope.flavor
        counts: dict[str, int] = {}
        kinds = (
            ("users", scope.user_base, scope.user_filter, flavor.user_attributes()),
            ("groups", scope.group_base, scope.group_filter, flavor.group_attributes()),
        )
        for what, base, search_filter, attributes in kinds:
            held: list[Entry] = getattr(collected, what)
            by_key = {self._key(entry.dn): entry for entry in held}
            changed = search_all(
                self.directory,
                collected,
                f"changed {what}",
                base,
                all_of(search_filter, since),
                (*attributes, *self.extra),
                options.page_size,
            )
            for entry in changed:
                by_key[self._key(entry.dn)] = entry
            present = self._dns(collected, what, base, search_filter)
            removed = 0
            if present is not None:
                removed = len([key for key in by_key if key not in present])
                by_key = {key: entry for key, entry in by_key.items() if key in present}
            setattr(collected, what, list(by_key.values()))
            counts[f"{what} changed"] = len(changed)
            counts[f"{what} removed"] = removed
        if not self.ad:
            holders = search_all(
                self.directory,
                collected,
                "users with a password",
                scope.user_base,
                all_of(scope.user_filter, "(userPassword=*)"),
                (),
                options.page_size,
            )
            collected.password_holders = {self._key(entry.dn) for entry in holders}
        read_password_policies(
            self.directory,
            scope,
            collected,
            base_dn=options.base_dn or "",
            policy_dn=options.password_policy_dn,
        )
        if not self.ad:
            new_cursor = self._time_cursor(collected, time.monotonic() - started)
        return new_cursor, counts

    def _dns(
        self, collected: Collected, what: str, base: str, search_filter: str
    ) -> set[str] | None:
        """The dn_keys of every entry in scope, or None when the search failed (then nothing
        is removed: a page that did not come is no deletion)."""
        failed = len(collected.errors)
        found = search_all(
            self.directory,
            collected,
            f"{what} (names only, to see deletions)",
            base,
            search_filter,
            (),
            self.options.page_size,
        )
        if len(collected.errors) > failed:
            return None
        return {self._key(entry.dn) for entry in found}

    def _key(self, dn: str) -> str:
        # The server spells a DN the same way each time: each spelling is normalized once.
        key = self._keys.get(dn)
        if key is None:
            key = self._keys[dn] = dn_key(dn)
        return key

    # --- cursors --------------------------------------------------------------------------

    def _time_cursor(self, collected: Collected, took: float) -> dict[str, Any]:
        """The newest modifyTimestamp held, less the read's duration and the overlap: the
        server's clock at the start of this read, or earlier."""
        newest: datetime | None = None
        for entry in (*collected.users, *collected.groups):
            text = entry.text("modifyTimestamp")
            if text is None:
                continue
            try:
                stamp = generalized_time(text)
            except ValueError:
                continue
            newest = stamp if newest is None or stamp > newest else newest
        if newest is None:
            return {}
        since = newest - OVERLAP - timedelta(seconds=took)
        return {"modified_since": since.astimezone(UTC).strftime(STAMP)}

    def _usn_cursor(self) -> dict[str, Any]:
        """Where this DC's change feed stands: read before the entries, so that a change made
        while reading has a higher USN and is read again next time."""
        directory = self.directory
        try:
            root = directory.read("", ["highestCommittedUSN", "dsServiceName"])
        except SearchFailed as exc:
            raise ChangeFeedLost(f"the rootDSE could not be read ({exc})") from None
        usn = root.text("highestCommittedUSN") if root is not None else None
        service = root.text("dsServiceName") if root is not None else None
        invocation: str | None = None
        if service:
            try:
                settings = directory.read(service, ["invocationId"])
            except SearchFailed:
                settings = None
            raw = settings.raw("invocationId") if settings is not None else None
            invocation = raw.hex() if raw is not None else None
        return {
            "usn": int(usn) if usn and usn.strip().isdigit() else None,
            "service": dn_key(service) if service else None,
            "invocation": invocation,
            "url": directory.url,
        }

    def _check_usn(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if old.get("usn") is None or new.get("usn") is None:
            raise ChangeFeedLost("the domain controller does not say its highestCommittedUSN")
        if old.get("url") != new.get("url"):
            raise ChangeFeedLost(
                f"another server answered ({new.get('url')}, the baseline is from "
                f"{old.get('url')}): USNs are each domain controller's own"
            )
        if old.get("service") != new.get("service"):
            raise ChangeFeedLost(
                "another domain controller answered (dsServiceName changed): USNs are each "
                "domain controller's own"
            )
        if old.get("invocation") != new.get("invocation"):
            raise ChangeFeedLost(
                "the domain controller's invocationId changed (restored from a backup)"
            )
        if int(new["usn"]) < int(old["usn"]):
            raise ChangeFeedLost(
                f"the domain controller's highestCommittedUSN {new['usn']} is lower than the "
                f"baseline's {old['usn']} (restored from a backup)"
            )

    # --- the baseline ---------------------------------------------------------------------

    def keeps(self, collected: Collected) -> bool:
        """Whether the baseline would read back as read: the export reader sorts entries by
        their object classes (a group first), where a collect trusts its filters. When the
        credential cannot see them (or an entry is both), no baseline is kept and every
        collect reads in full."""
        flavor = self.scope.flavor

        def classes(entry: Entry) -> set[str]:
            return {value.casefold() for value in entry.texts("objectClass")}

        return all(
            flavor.is_user(classes(entry)) and not flavor.is_group(classes(entry))
            for entry in collected.users
        ) and all(flavor.is_group(classes(entry)) for entry in collected.groups)

    def write(self, collected: Collected, out: Path) -> None:
        """Users and groups as the export writes them; the password policy is never kept
        (it is read whole every time)."""
        scope, flavor = self.scope, self.scope.flavor
        export = DirectoryExport(
            searches=[
                Search(
                    "users",
                    scope.user_base,
                    "subtree",
                    scope.user_filter,
                    (*self.extra, *flavor.user_attributes()),
                    entries=list(collected.users),
                ),
                Search(
                    "groups",
                    scope.group_base,
                    "subtree",
                    scope.group_filter,
                    (*self.extra, *flavor.group_attributes()),
                    entries=list(collected.groups),
                ),
            ],
            password_holders=collected.password_holders,
        )
        text = export.ldif(source=self.directory.url, read_at=self.clock())
        (out / LDIF_NAME).write_text(text, encoding="utf-8")

    def read(self, folder: Path) -> Collected:
        """The baseline's users and groups, as a live read holds them."""
        exported = read_export(folder / LDIF_NAME, self.scope.flavor, None)
        if not exported.complete:
            problems = "; ".join(error.message for error in exported.errors)
            raise ValueError(f"the baseline LDIF is not whole: {problems}")
        holders: set[str] | None = None if self.ad else set()

        def live(entry: Entry) -> Entry:
            # As a live read has it: no LDIF line, no password marker, an id only if read.
            if holders is not None and entry.has("userPassword"):
                holders.add(dn_key(entry.dn))
            attributes = {k: v for k, v in entry.attributes.items() if k != "userpassword"}
            return replace(entry, attributes=attributes, line=None, by_dn=False)

        users = [live(entry) for entry in exported.users]
        groups = [live(entry) for entry in exported.groups]
        return Collected(users=users, groups=groups, password_holders=holders)
