"""Live collection from an Okta org: the listings, then the per-object calls in a worker pool.

Cost, for an org of U users, G groups, A apps and R administrators: U/200 pages of users;
one factor call per user who can sign in (there is no bulk factor API; suspended, staged and
deactivated users are not asked, their MFA stays unknown); G/200 pages of groups, then per
group its members (paged) and one role call; A/200 pages of apps, then per app its users and
its groups (paged); and one role call per user that ``/api/v1/iam/assignees/users`` lists:
R calls, not U. Roles held through a group come from the group's roles and its members. A
role Okta can scope (USER_ADMIN, HELP_DESK_ADMIN, GROUP_MEMBERSHIP_ADMIN: groups; APP_ADMIN:
apps) costs one more call for its targets. And one call (paged if the org has very many) for
the password policies.

Where the assignee list does not exist (a 404: older orgs, some tiers, proxies that do not
pass it), the roles of every user who is not deactivated are read instead (U calls): roles
are never lost silently; if those cannot be read either, they are unknown and the snapshot
incomplete.

A 404 on one object's part (members, app users, factors, roles) says "Not found" (E0000007)
both when the object was deleted while we were reading and when the endpoint is not there
(a proxy, a tier): the object itself is asked for again to tell the two apart. Deleted: no
gap. Still there: the part is not available, said once for that kind of call, which is not
asked again; unknown, with its consequence.

The collect shares one ``Patience`` (``client``): once it gives up (the deadline, or a server
that stopped answering), every call left ends at once, and ``run`` raises ``GaveUp``: the
collect fails as a whole (``ConnectorError``), it does not store a snapshot with holes in
random places.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import iam_gov.connectors.okta.layout as layout
from iam_gov.connectors.okta.client import ApiError, OktaApi
from iam_gov.connectors.okta.records import (
    UNKNOWN_APPS,
    UNKNOWN_GROUPS,
    UNKNOWN_ROLE_TARGETS,
    UNKNOWN_ROLES,
    UNKNOWN_USERS,
    OktaData,
    OktaPasswordPolicy,
    OktaRole,
    OktaUser,
    RecordError,
    RoleTarget,
    assignee_ids,
    member_ids,
    parse_app,
    parse_app_group,
    parse_app_target,
    parse_app_user,
    parse_factor_kinds,
    parse_group,
    parse_group_target,
    parse_items,
    parse_member,
    parse_password_policy,
    parse_roles,
    parse_user,
)
from iam_gov.model import SnapshotError
from iam_gov.retrying import GaveUp

PAGE = 200
USERS = "/api/v1/users"
GROUPS = "/api/v1/groups"
APPS = "/api/v1/apps"
ASSIGNEES = "/api/v1/iam/assignees/users"
POLICIES = "/api/v1/policies"
PASSWORD_POLICIES = f"{POLICIES}?type=PASSWORD"
# Rate-limit buckets: Okta counts each endpoint family separately.
B_USERS = "/api/v1/users"
B_FACTORS = "/api/v1/users/{id}/factors"
B_USER_ROLES = "/api/v1/users/{id}/roles"
B_GROUPS = "/api/v1/groups"
B_MEMBERS = "/api/v1/groups/{id}/users"
B_GROUP_ROLES = "/api/v1/groups/{id}/roles"
B_APPS = "/api/v1/apps"
B_APP_USERS = "/api/v1/apps/{id}/users"
B_APP_GROUPS = "/api/v1/apps/{id}/groups"
B_ASSIGNEES = "/api/v1/iam/assignees/users"
B_POLICIES = "/api/v1/policies"
B_USER = "/api/v1/users/{id}"
B_GROUP = "/api/v1/groups/{id}"
B_APP = "/api/v1/apps/{id}"
B_USER_TARGETS = "/api/v1/users/{id}/roles/{roleId}/targets"
B_GROUP_TARGETS = "/api/v1/groups/{id}/roles/{roleId}/targets"
# "Unknown" in messages: what a failed call leaves unknown.
_UNKNOWN = {
    B_FACTORS: "MFA factors",
    B_USER_ROLES: "admin roles",
    B_MEMBERS: "group members",
    B_GROUP_ROLES: "admin roles held through groups",
    B_APP_USERS: "app assignments",
    B_APP_GROUPS: "app assignments to groups",
}
# Each per-object call's part of an export, and what leaving it unknown keeps from being
# concluded.
_PART = {
    B_FACTORS: layout.FACTORS,
    B_USER_ROLES: layout.ROLES,
    B_MEMBERS: layout.MEMBERS,
    B_GROUP_ROLES: layout.GROUP_ROLES,
    B_APP_USERS: layout.APP_USERS,
    B_APP_GROUPS: layout.APP_GROUPS,
}
_LISTING_CONSEQUENCE = {
    USERS: UNKNOWN_USERS,
    GROUPS: UNKNOWN_GROUPS,
    APPS: UNKNOWN_APPS,
    ASSIGNEES: UNKNOWN_ROLES,
}
# Where a per-object call's object is read on its own: a 404 on both is a deletion.
_OWNER = {
    B_FACTORS: (USERS, B_USER, "user"),
    B_USER_ROLES: (USERS, B_USER, "user"),
    B_MEMBERS: (GROUPS, B_GROUP, "group"),
    B_GROUP_ROLES: (GROUPS, B_GROUP, "group"),
    B_APP_USERS: (APPS, B_APP, "app"),
    B_APP_GROUPS: (APPS, B_APP, "app"),
}
_NOT_FOUND = 404
# The assignee list is not there (older orgs, some tiers, proxies).
_ABSENT = frozenset({404, 405, 501})
_DEPROVISIONED = 'status eq "DEPROVISIONED"'
# Saves Okta building, and us parsing, the credential-change links of every user.
_USER_LIST_HEADERS = {"Content-Type": "application/json; okta-response=omitCredentialsLinks"}


T = TypeVar("T")


async def _chain(first: T, rest: AsyncIterator[T]) -> AsyncIterator[T]:
    yield first
    async for item in rest:
        yield item


class Recorder(Protocol):
    """Keeps the response bodies a collection reads (``iam-gov export``), by file of the
    export layout: each page as it comes, the file kept only once its call has ended well."""

    def page(self, name: str, body: Any) -> None: ...

    def done(self, name: str) -> None: ...


class Unreachable(Exception):
    """The first call failed for good: Okta cannot be reached, refused the credential, or
    kept failing."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class LiveCollector:
    """One collection: listings feed a queue of per-object calls that ``workers`` tasks run."""

    api: OktaApi
    employee_id_attribute: str
    collect_factors: bool
    workers: int
    collect_password_policies: bool = True
    recorder: Recorder | None = None
    """When given, every body read is kept too, in the export layout."""
    data: OktaData = field(default_factory=OktaData)
    _jobs: asyncio.Queue[Callable[[], Awaitable[None]]] = field(init=False)
    _refused: dict[str, str] = field(default_factory=dict)
    """Kinds of call (buckets) refused or not available: said once, not asked again."""
    _crash: BaseException | None = None
    _gave_up: GaveUp | None = None

    def _user(self, raw: Any) -> OktaUser:
        return parse_user(raw, self.employee_id_attribute)

    def _page(self, name: str, body: Any) -> None:
        if self.recorder is not None:
            self.recorder.page(name, body)

    def _done(self, name: str) -> None:
        if self.recorder is not None:
            self.recorder.done(name)

    def _member(self, raw: Any) -> OktaUser | str:
        return parse_member(raw, self.data.users, self.employee_id_attribute)

    async def run(self) -> OktaData:
        self._jobs = asyncio.Queue(maxsize=self.workers * 4)
        first_url = self.api.url(USERS, {"limit": PAGE})
        try:
            first = await self.api.request(
                "GET", first_url, bucket=B_USERS, headers=_USER_LIST_HEADERS
            )
        except ApiError as exc:
            # Nothing read yet: no snapshot to mark incomplete, but an org we cannot use.
            raise Unreachable(exc) from None
        await self._with_workers(self._lists(first.body, first.next_url))
        for user_id, user in self.data.member_users.items():
            if user_id not in self.data.users and self.data.users_complete:
                self.data.problem(
                    USERS,
                    f"user {user.login} is a group member but was not in the user list "
                    "(created while it was read?)",
                    record=user_id,
                    incomplete=False,
                )
        return self.data

    async def _lists(self, first: Any, next_url: str | None) -> None:
        # Users first: members and assignees listed after them are then known users.
        listed = await asyncio.gather(
            self._listing(self._users(first, next_url), USERS),
            self._listing(self._deprovisioned(), USERS),
        )
        self.data.users_complete = self.data.users_complete and all(listed)
        await asyncio.gather(
            self._listing(self._groups(), GROUPS),
            self._listing(self._apps(), APPS),
            self._listing(self._assignees(), ASSIGNEES),
            self._password_policies(),
        )

    # --- the worker pool ----------------------------------------------------------------

    async def _with_workers(self, reading: Coroutine[Any, Any, None]) -> None:
        """Run ``reading`` (which queues per-object jobs) with the workers taking the jobs;
        return when every job is done, raising what made one give up or crash."""
        workers = [asyncio.create_task(self._work()) for _ in range(self.workers)]
        try:
            await reading
            await self._jobs.join()
            if self._gave_up is not None:
                raise self._gave_up
            if self._crash is not None:
                raise self._crash
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            job = await self._jobs.get()
            try:
                await job()
            except GaveUp as exc:
                self._gave_up = self._gave_up or exc
            except Exception as exc:  # a bug: keep the pool draining, raise it at the end
                self._crash = self._crash or exc
            finally:
                self._jobs.task_done()

    async def _enqueue(
        self, bucket: str, record: str, call: Callable[[str], Awaitable[None]]
    ) -> None:
        """Have a worker run ``call(record)``, once the queue has room."""
        await self._jobs.put(self._per_object(bucket, record, call))

    async def _listing(self, listing: Awaitable[None], source: str) -> bool:
        """A whole listing; when a page fails for good, what it and later pages held is
        missing, so the snapshot is incomplete. False then."""
        try:
            await listing
        except GaveUp as exc:
            self._gave_up = self._gave_up or exc
            return False
        except ApiError as exc:
            self.data.problem(
                source, f"the listing stopped: {exc}", consequence=_LISTING_CONSEQUENCE[source]
            )
            return False
        return True

    def _per_object(
        self, bucket: str, record: str, call: Callable[[str], Awaitable[None]]
    ) -> Callable[[], Awaitable[None]]:
        """``call(record)``, a call about one object whose failure leaves only that object's
        part unknown."""

        part = _PART[bucket]

        def unknown(message: str, object_id: str | None) -> None:
            if bucket == B_APP_GROUPS:
                # The app's users may tell its groups: decided once both are read (to_model).
                error = SnapshotError(source=bucket, record=object_id, message=message)
                self.data.app_groups_unread.append((object_id, error))
            else:
                self.data.problem(bucket, message, record=object_id, consequence=part.consequence)

        async def job() -> None:
            if bucket in self._refused:
                return
            try:
                await call(record)
            except ApiError as exc:
                what = _UNKNOWN[bucket]
                if exc.refused:
                    # The credential may not read this kind at all: say it once, not per object.
                    if bucket in self._refused:
                        return
                    self._refused[bucket] = str(exc)
                    unknown(f"refused, so {what} are unknown: {exc}", None)
                elif exc.status == _NOT_FOUND:
                    owner = await self._still_there(bucket, record)
                    if owner is None:
                        self.data.problem(
                            bucket,
                            f"deleted while being read: {exc}",
                            record=record,
                            incomplete=False,
                        )
                        # An export of it says what the live read concluded: nothing to hold.
                        self._page(part.file(record), [])
                        self._done(part.file(record))
                    elif bucket not in self._refused:
                        # The object is there, this call for it is not: the endpoint is
                        # missing (a proxy, a tier), for every object alike.
                        self._refused[bucket] = str(exc)
                        unknown(
                            f"not available ({exc}, although {owner} {record} exists), so "
                            f"{what} are unknown",
                            None,
                        )
                else:
                    unknown(f"{what} unknown: {exc}", record)
            except RecordError as exc:
                unknown(f"{_UNKNOWN[bucket]} unknown: {exc}", record)

        return job

    async def _still_there(self, bucket: str, record: str) -> str | None:
        """After a 404 on one object's part: ``user``, ``group`` or ``app`` when the object
        is there (or cannot be told: not taken as deleted), None when it answers 404 too."""
        listing, owner_bucket, owner = _OWNER[bucket]
        try:
            await self.api.request("GET", self.api.url(f"{listing}/{record}"), bucket=owner_bucket)
        except ApiError as exc:
            if exc.status == _NOT_FOUND:
                return None
        return owner

    async def _listed(
        self, path: str, bucket: str, parse: Callable[[Any], T], what: str, name: str
    ) -> AsyncIterator[T]:
        """Each object of a listing, parsed page by page; a page that is not a list stops it."""
        async for page in self.api.pages(path, bucket=bucket, params={"limit": PAGE}):
            if not isinstance(page, list):
                raise ApiError(f"a page of {what} is not a JSON array")
            self._page(name, page)
            consequence = _LISTING_CONSEQUENCE[path]
            for item in parse_items(page, parse, self.data, path, consequence=consequence):
                yield item
        self._done(name)

    async def _parsed(
        self, path: str, bucket: str, parse: Callable[[Any], T], record: str
    ) -> list[T]:
        """Every page of a list, each parsed as it comes: a big group's raw pages are never
        all held at once."""
        part = _PART[bucket]
        parsed: list[T] = []
        async for page in self.api.pages(path, bucket=bucket, params={"limit": PAGE}):
            if not isinstance(page, list):
                raise RecordError("a page is not a JSON array")
            self._page(part.file(record), page)
            consequence = part.consequence
            parsed.extend(parse_items(page, parse, self.data, path, consequence=consequence))
        self._done(part.file(record))
        return parsed

    async def _one(self, path: str, bucket: str, record: str) -> Any:
        response = await self.api.request("GET", self.api.url(path), bucket=bucket)
        name = _PART[bucket].file(record)
        self._page(name, response.body)
        self._done(name)
        return response.body

    # --- users --------------------------------------------------------------------------

    async def _users(self, body: Any, next_url: str | None) -> None:
        await self._user_page(body, USERS, layout.USERS)
        pages = self.api.pages_from(next_url, bucket=B_USERS, headers=_USER_LIST_HEADERS)
        async for page in pages:
            await self._user_page(page, USERS, layout.USERS)
        self._done(layout.USERS)

    async def _deprovisioned(self) -> None:
        params: dict[str, str | int] = {"filter": _DEPROVISIONED, "limit": PAGE}
        pages = self.api.pages(USERS, bucket=B_USERS, params=params, headers=_USER_LIST_HEADERS)
        name = layout.DEPROVISIONED_USERS
        async for page in pages:
            await self._user_page(page, f"{USERS}?filter={_DEPROVISIONED}", name)
        self._done(name)

    async def _user_page(self, page: Any, source: str, name: str) -> None:
        if not isinstance(page, list):
            self.data.problem(
                source, "a page of users is not a JSON array", consequence=UNKNOWN_USERS
            )
            self.data.users_complete = False
            return
        self._page(name, page)
        users = parse_items(page, self._user, self.data, source, consequence=UNKNOWN_USERS)
        self.data.add_users(users)
        self.data.users_complete = self.data.users_complete and len(users) == len(page)
        if not self.collect_factors:
            return
        for user in users:
            if user.can_sign_in:
                await self._enqueue(B_FACTORS, user.id, self._factors)

    async def _factors(self, user_id: str) -> None:
        body = await self._one(f"{USERS}/{user_id}/factors", B_FACTORS, user_id)
        self.data.factors[user_id] = parse_factor_kinds(body)

    # --- groups -------------------------------------------------------------------------

    async def _groups(self) -> None:
        async for group in self._listed(GROUPS, B_GROUPS, parse_group, "groups", layout.GROUPS):
            self.data.groups[group.id] = group
            await self._enqueue(B_MEMBERS, group.id, self._members)
            await self._enqueue(B_GROUP_ROLES, group.id, self._group_roles)

    async def _members(self, group_id: str) -> None:
        path = f"{GROUPS}/{group_id}/users"
        members = await self._parsed(path, B_MEMBERS, self._member, group_id)
        self.data.members[group_id] = member_ids(members, self.data)

    async def _group_roles(self, group_id: str) -> None:
        body = await self._one(f"{GROUPS}/{group_id}/roles", B_GROUP_ROLES, group_id)
        roles = parse_roles(body)
        self.data.group_roles[group_id] = roles
        await self._targets(f"{GROUPS}/{group_id}", B_GROUP_TARGETS, roles)

    # --- apps ---------------------------------------------------------------------------

    async def _apps(self) -> None:
        async for app in self._listed(APPS, B_APPS, parse_app, "apps", layout.APPS):
            self.data.apps[app.id] = app
            await self._enqueue(B_APP_USERS, app.id, self._app_users)
            await self._enqueue(B_APP_GROUPS, app.id, self._app_groups)

    async def _app_users(self, app_id: str) -> None:
        path = f"{APPS}/{app_id}/users"
        self.data.app_users[app_id] = await self._parsed(path, B_APP_USERS, parse_app_user, app_id)

    async def _app_groups(self, app_id: str) -> None:
        path = f"{APPS}/{app_id}/groups"
        self.data.app_groups[app_id] = await self._parsed(
            path, B_APP_GROUPS, parse_app_group, app_id
        )

    # --- admin roles --------------------------------------------------------------------

    async def _assignees(self) -> None:
        seen: set[str] = set()
        params = {"limit": PAGE}
        pages = self.api.pages(ASSIGNEES, bucket=B_ASSIGNEES, params=params)
        try:
            first = await anext(pages)
        except StopAsyncIteration:
            return
        except ApiError as exc:
            if exc.status not in _ABSENT:
                raise
            await self._roles_of_every_user(exc)
            return
        async for page in _chain(first, pages):
            self._page(layout.ROLE_ASSIGNEES, page)
            try:
                ids = assignee_ids(page)
            except RecordError as exc:
                self.data.problem(
                    ASSIGNEES, f"a page cannot be read: {exc}", consequence=UNKNOWN_ROLES
                )
                continue
            for user_id in ids:
                if user_id not in seen:
                    seen.add(user_id)
                    await self._enqueue(B_USER_ROLES, user_id, self._user_roles)
        self._done(layout.ROLE_ASSIGNEES)

    async def _roles_of_every_user(self, why: ApiError) -> None:
        """Without the assignee list, who is an administrator is only known by asking every
        user: each who is not deactivated (suspended and staged users keep their roles and
        can come back; a deactivated user can sign in nowhere)."""
        users = sorted(u for u, user in self.data.users.items() if user.status != "DEPROVISIONED")
        self.data.problem(
            ASSIGNEES,
            f"not available ({why}): the admin roles are read for each of the {len(users)} "
            "users who are not deactivated instead",
            incomplete=False,
        )
        for user_id in users:
            await self._enqueue(B_USER_ROLES, user_id, self._user_roles)

    async def _user_roles(self, user_id: str) -> None:
        body = await self._one(f"{USERS}/{user_id}/roles", B_USER_ROLES, user_id)
        roles = parse_roles(body)
        self.data.user_roles[user_id] = roles
        # A role held through a group has its targets read from the group.
        own = [r for r in roles if r.assignment_type == "USER"]
        await self._targets(f"{USERS}/{user_id}", B_USER_TARGETS, own)

    async def _targets(self, owner: str, bucket: str, roles: list[OktaRole]) -> None:
        """The targets of each scoped role of one user or group (``owner``: its API path):
        a role whose targets cannot be read is unknown, taken as org-wide, and said."""
        for role in roles:
            kind = role.target_kind
            if kind is None:
                continue
            path = f"{owner}/roles/{role.assignment_id}/targets/" + (
                "groups" if kind == "groups" else "catalog/apps"
            )
            parse = parse_group_target if kind == "groups" else parse_app_target
            targets: list[RoleTarget] = []
            try:
                async for page in self.api.pages(path, bucket=bucket, params={"limit": PAGE}):
                    if not isinstance(page, list):
                        raise RecordError("a page is not a JSON array")
                    for item in page:
                        targets.append(parse(item))
            except (ApiError, RecordError) as exc:
                self.data.role_targets_unread.add(role.assignment_id)
                self.data.problem(
                    path,
                    f"the targets of admin role {role.name} are unknown: {exc}",
                    record=role.assignment_id,
                    consequence=UNKNOWN_ROLE_TARGETS,
                )
                continue
            self.data.role_targets[role.assignment_id] = tuple(targets)

    # --- password policies --------------------------------------------------------------

    async def _password_policies(self) -> None:
        """Failing to read them (a token without okta.policies.read: 403) leaves them unknown
        and not judged, not the access data incomplete: no access is concluded from them."""
        data = self.data
        if not self.collect_password_policies:
            data.problem(
                PASSWORD_POLICIES,
                "not read (collect_password_policies = false); they are not judged",
                incomplete=False,
            )
            return
        policies: list[OktaPasswordPolicy] = []
        # No limit: Okta documents paging for this list but not its page sizes; the next
        # links are followed all the same.
        pages = self.api.pages(POLICIES, bucket=B_POLICIES, params={"type": "PASSWORD"})
        try:
            async for page in pages:
                if not isinstance(page, list):
                    raise ApiError("a page of policies is not a JSON array")
                self._page(layout.PASSWORD_POLICIES, page)
                parsed = parse_items(
                    page, parse_password_policy, data, PASSWORD_POLICIES, incomplete=False
                )
                policies.extend(parsed)
        except GaveUp as exc:
            self._gave_up = self._gave_up or exc
            return
        except ApiError as exc:
            what = "were refused" if exc.refused else "could not be read"
            data.problem(
                PASSWORD_POLICIES,
                f"the password policies {what} ({exc}); they are not judged",
                incomplete=False,
            )
            return
        self._done(layout.PASSWORD_POLICIES)
        data.password_policies = policies
