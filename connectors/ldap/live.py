"""Reading a live directory through the client: users, groups, who has a password, and the
password policy, into what a collect works on. A search that fails keeps what it read and
makes the collect incomplete."""

from __future__ import annotations

from iam_gov import progress
from iam_gov.connectors.ldap.ad import (
    DOMAIN_FILTER,
    DOMAIN_POLICY_ATTRIBUTES,
    PSO_ATTRIBUTES,
    PSO_FILTER,
    PSO_UNKNOWN,
    domain_dn,
    pso_container_dn,
)
from iam_gov.connectors.ldap.client import NO_SUCH_OBJECT, Directory, SearchFailed
from iam_gov.connectors.ldap.entry import Collected, Entry, Scope, all_of, dn_key
from iam_gov.connectors.ldap.openldap import PPOLICY_ATTRIBUTES, PPOLICY_FILTER
from iam_gov.model import SnapshotError


def read_directory(
    directory: Directory,
    scope: Scope,
    *,
    base_dn: str,
    policy_dn: str | None,
    page_size: int,
    extra_attributes: tuple[str, ...] = (),
) -> Collected:
    """Everything a collect reads; ``policy_dn`` is the ``password_policy_dn`` option.
    ``extra_attributes`` are read from users and groups as well (an incremental collect's
    ``objectClass`` and ``modifyTimestamp``)."""
    reader = _Reader(directory, page_size)
    flavor = scope.flavor
    collected = reader.collected
    collected.users = reader.search(
        "users", scope.user_base, scope.user_filter, (*flavor.user_attributes(), *extra_attributes)
    )
    collected.groups = reader.search(
        "groups",
        scope.group_base,
        scope.group_filter,
        (*flavor.group_attributes(), *extra_attributes),
    )
    if flavor.name == "openldap":
        # Whether a user has a password, without reading it: a presence filter needs only
        # search access to userPassword, never read access to the hashes.
        holders = reader.search(
            "users with a password",
            scope.user_base,
            all_of(scope.user_filter, "(userPassword=*)"),
            (),
        )
        collected.password_holders = {dn_key(entry.dn) for entry in holders}
    reader.password_policy(flavor.name, base_dn, policy_dn)
    if flavor.name == "ad":
        reader.password_settings(base_dn)
    return collected


def read_password_policies(
    directory: Directory, scope: Scope, collected: Collected, *, base_dn: str, policy_dn: str | None
) -> None:
    """The password policy (and AD's PSOs) into ``collected``, as ``read_directory`` reads
    them: an incremental collect reads them whole every time (a few entries)."""
    reader = _Reader(directory, 0, collected)
    reader.password_policy(scope.flavor.name, base_dn, policy_dn)
    if scope.flavor.name == "ad":
        reader.password_settings(base_dn)


def search_all(
    directory: Directory,
    collected: Collected,
    what: str,
    base: str,
    search_filter: str,
    attributes: tuple[str, ...],
    page_size: int,
) -> list[Entry]:
    """Every entry, paged; a failure keeps what came before it, said in ``collected`` and
    making it incomplete."""
    return _Reader(directory, page_size, collected).search(what, base, search_filter, attributes)


class _Reader:
    def __init__(
        self, directory: Directory, page_size: int, collected: Collected | None = None
    ) -> None:
        self.directory = directory
        self.page_size = page_size
        self.collected = Collected() if collected is None else collected

    def search(
        self, what: str, base: str, search_filter: str, attributes: tuple[str, ...]
    ) -> list[Entry]:
        entries: list[Entry] = []
        try:
            with progress.phase(what):  # a paged search gives no total: the count moves
                found = self.directory.search(
                    base, search_filter, attributes, page_size=self.page_size
                )
                for entry in progress.counting(found):
                    entries.append(entry)
        except SearchFailed as exc:
            self.collected.complete = False
            self.collected.errors.append(
                SnapshotError(
                    source=self.directory.url,
                    record=base,
                    message=f"the search for {what} under {base} stopped after "
                    f"{len(entries)} entries: {exc}",
                )
            )
        return entries

    def password_policy(self, flavor: str, base: str, policy_dn: str | None) -> None:
        """AD: the domain object, read by its DN. OpenLDAP: the pwdPolicy entries under the
        base (or the one named). Failing to read it leaves the policy unknown, not the data
        incomplete: no access is concluded from a password policy."""
        collected = self.collected
        wanted: str | None
        attributes: tuple[str, ...]
        if flavor == "ad":
            wanted = policy_dn or domain_dn(base)
            where, search_filter, attributes = wanted, DOMAIN_FILTER, DOMAIN_POLICY_ATTRIBUTES
            scope = "BASE"
        else:
            wanted = policy_dn
            where, search_filter, attributes = wanted or base, PPOLICY_FILTER, PPOLICY_ATTRIBUTES
            scope = "BASE" if wanted else "SUBTREE"
        collected.policy_dn = wanted
        try:
            collected.policy_entries = list(
                self.directory.search(where, search_filter, attributes, scope=scope)
            )
        except SearchFailed as exc:
            if exc.code == NO_SUCH_OBJECT:
                return  # nothing there: said by build_snapshot
            collected.policy_read = False
            collected.errors.append(
                SnapshotError(
                    source=self.directory.url,
                    record=where,
                    message=f"the password policy could not be read ({exc}); it is not judged",
                )
            )

    def password_settings(self, base: str) -> None:
        """AD's fine-grained password policies. Every domain since Windows Server 2008 has
        their container, so not finding it means the credential may not see it: unknown,
        like a search that fails, and the snapshot is incomplete."""
        collected = self.collected
        where = pso_container_dn(base)
        try:
            collected.password_settings = list(
                self.directory.search(where, PSO_FILTER, PSO_ATTRIBUTES, scope="SUBTREE")
            )
        except SearchFailed as exc:
            collected.password_settings = []
            collected.password_settings_known = False
            collected.complete = False
            why = (
                "the container is not there or the credential may not see it"
                if exc.code == NO_SUCH_OBJECT
                else str(exc)
            )
            collected.errors.append(
                SnapshotError(
                    source=self.directory.url,
                    record=where,
                    message=f"the fine-grained password policies (PSOs) could not be read "
                    f"({why}); give the credential read access to {where}",
                    consequence=PSO_UNKNOWN,
                )
            )
