"""Incremental collects of an Entra tenant: users, groups and members from Graph's delta
queries applied to the baseline; sign-in activity and the short lists read again whole.

``GET /users/delta`` and ``GET /groups/delta?$select=…,members`` say what changed since a
``@odata.deltaLink``: users and groups created or updated (with at least the properties that
changed: merged into the stored record), removed (``@removed``, reason ``changed`` for a
deletion that can still be undone, ``deleted`` for a permanent one: either way gone), and
members added or removed (``members@delta``). A full read takes its delta links first with
``$deltatoken=latest`` ("sync from now"), so that what changes during the read is read again
next time; applying a change twice leaves the same record. A delta token Graph no longer
knows (410 Gone, ``syncStateNotFound``: kept 7 days) is ``ChangeFeedLost``: a full read.

Delta queries do not return ``signInActivity``: it is read again for every user (``GET
/users?$select=id,signInActivity``, 500 users a page, Graph's limit with that property), which
costs what the full read's user pages cost. Domains, directory roles and their assignments,
PIM's eligibilities, applications and their app role assignments, and the MFA registration
report are read again whole (``LiveReader.read_lists``): short lists, except PIM for Groups,
which Graph answers one group at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from iam_gov.connectors.entra.client import GraphClient, GraphError
from iam_gov.connectors.entra.dump import GROUPS, USERS
from iam_gov.connectors.entra.export import read_export
from iam_gov.connectors.entra.live import (
    GROUP_FIELDS,
    TOP_WITH_SIGN_IN,
    USER_FIELDS,
    LiveReader,
)
from iam_gov.connectors.entra.records import (
    DirectoryObject,
    GraphGroup,
    GraphUser,
    SignInActivity,
    TenantData,
    parse_records,
)
from iam_gov.connectors.entra.write_export import write_bodies
from iam_gov.connectors.shared.incremental import ChangeFeedLost

USERS_DELTA = "/users/delta"
GROUPS_DELTA = "/groups/delta"
DELTA_SELECT = {
    "users": ",".join(USER_FIELDS),
    "groups": ",".join((*GROUP_FIELDS, "members")),
}
LOST_CODES = frozenset({"syncStateNotFound", "syncStateInvalid", "resyncRequired"})
"""Graph's words for "this delta token cannot be continued: synchronise again"."""
CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#"


def delta_links_now(graph: GraphClient) -> dict[str, str]:
    """Where the users' and groups' change feeds stand now, without reading them."""
    links: dict[str, str] = {}
    for name, path in (("users", USERS_DELTA), ("groups", GROUPS_DELTA)):
        body = graph.get(path, {"$select": DELTA_SELECT[name], "$deltatoken": "latest"})
        link = body.get("@odata.deltaLink")
        if not isinstance(link, str) or not link:
            raise GraphError(
                "GET", path, status=200, code="BadResponse", message="no @odata.deltaLink"
            )
        links[name] = link
    return links


def full_read(graph: GraphClient, system: str, *, pim: bool) -> tuple[TenantData, dict[str, Any]]:
    """The full read, and the cursor taken before it."""
    data = TenantData()
    try:
        cursor: dict[str, Any] = dict(delta_links_now(graph))
    except GraphError as exc:
        cursor = {}
        data.note(
            USERS_DELTA,
            f"{exc.describe()}: the change feed's position is unknown: the next collect reads "
            "everything again",
        )
    LiveReader(graph, data, system, pim=pim).read()
    cursor["sign_in_activity"] = data.sign_in_activity
    return data, cursor


def _delta_round(graph: GraphClient, link: str) -> tuple[list[dict[str, Any]], str]:
    """Every change of one round, following its next links, and the round's new delta link."""
    records: list[dict[str, Any]] = []
    new_link: str | None = None
    try:
        for body in graph.bodies(link):
            records.extend(item for item in body["value"] if isinstance(item, dict))
            found = body.get("@odata.deltaLink")
            if isinstance(found, str) and found:
                new_link = found
    except GraphError as exc:
        if exc.status == 410 or exc.code in LOST_CODES:
            raise ChangeFeedLost(
                f"Graph no longer knows the delta token ({exc.status} {exc.code}: it keeps "
                "them 7 days)"
            ) from None
        raise
    if new_link is None:
        raise GraphError(
            "GET",
            link.split("?", 1)[0],
            status=200,
            code="BadResponse",
            message="the delta round ended without an @odata.deltaLink",
        )
    return records, new_link


def _raw(record: GraphUser | GraphGroup) -> dict[str, Any]:
    return record.model_dump(by_alias=True, mode="json")


def _changed(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("@") and "@" not in k}


def apply_users(data: TenantData, records: Iterable[dict[str, Any]]) -> tuple[int, set[str]]:
    """The users' changes merged into ``data``: how many, and the ids removed."""
    users = {user.id: user for user in data.users}
    removed: set[str] = set()
    count = 0
    for record in records:
        user_id = record.get("id")
        if not isinstance(user_id, str) or not user_id:
            continue
        count += 1
        if "@removed" in record:
            users.pop(user_id, None)
            removed.add(user_id)
            continue
        known = users.get(user_id)
        merged = {**(_raw(known) if known is not None else {}), **_changed(record)}
        parsed = parse_records([merged], GraphUser, USERS_DELTA, data)
        if parsed:
            users[user_id] = parsed[0]
        else:  # reported: left out, as the full read leaves it out
            users.pop(user_id, None)
    data.users = list(users.values())
    return count, removed


def apply_groups(data: TenantData, records: Iterable[dict[str, Any]]) -> tuple[int, int, set[str]]:
    """The groups' changes and their members' merged into ``data``: how many groups, how many
    memberships, and the ids of groups removed."""
    groups = {group.id: group for group in data.groups}
    removed: set[str] = set()
    count = moved = 0
    for record in records:
        group_id = record.get("id")
        if not isinstance(group_id, str) or not group_id:
            continue
        count += 1
        if "@removed" in record:
            groups.pop(group_id, None)
            data.members.pop(group_id, None)
            removed.add(group_id)
            continue
        known = groups.get(group_id)
        merged = {**(_raw(known) if known is not None else {}), **_changed(record)}
        parsed = parse_records([merged], GraphGroup, GROUPS_DELTA, data)
        if not parsed:
            groups.pop(group_id, None)
            data.members.pop(group_id, None)
            continue
        groups[group_id] = parsed[0]
        members = {m.id: m for m in data.members.get(group_id, [])}
        delta = record.get("members@delta")
        for change in delta if isinstance(delta, list) else []:
            member_id = change.get("id") if isinstance(change, dict) else None
            if not isinstance(member_id, str) or not member_id:
                continue
            moved += 1
            if "@removed" in change:
                members.pop(member_id, None)
            else:
                kind = change.get("@odata.type")
                members[member_id] = DirectoryObject(
                    id=member_id, odata_type=kind if isinstance(kind, str) else None
                )
        data.members[group_id] = list(members.values())
    data.groups = list(groups.values())
    return count, moved, removed


def _forget(data: TenantData, gone: set[str]) -> None:
    """Memberships of objects removed: Graph reports them removed too, but never twice-told
    is better than a member that was not read."""
    if not gone:
        return
    for group_id, members in data.members.items():
        if any(member.id in gone for member in members):
            data.members[group_id] = [m for m in members if m.id not in gone]


def _sign_ins(graph: GraphClient, data: TenantData) -> None:
    """Every user's sign-in activity, read again (delta queries do not track it)."""
    path = "/users"
    params = {"$select": "id,signInActivity", "$top": TOP_WITH_SIGN_IN}
    found: dict[str, SignInActivity | None] = {}
    try:
        for body in graph.bodies(path, params):
            for item in body["value"]:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                    continue
                activity = item.get("signInActivity")
                try:
                    found[item["id"]] = (
                        SignInActivity.model_validate(activity) if activity is not None else None
                    )
                except ValueError:
                    data.note(path, "signInActivity not of the expected shape", item["id"])
    except GraphError as exc:
        if exc.status == 403 and not found:
            raise ChangeFeedLost(
                f"sign-in activity was refused ({exc.code}): read again with the users"
            ) from None
        data.problem(
            path,
            f"{exc.describe()}: the sign-in activity of the users after it is not read again",
            consequence=f"the users' last sign-in is not known: {USERS.consequence}",
        )
    data.users = [
        user.model_copy(update={"sign_in_activity": found[user.id]}) if user.id in found else user
        for user in data.users
    ]


def read_changes(
    graph: GraphClient, system: str, data: TenantData, cursor: dict[str, Any], *, pim: bool
) -> tuple[dict[str, Any], dict[str, int]]:
    """The baseline ``data`` brought up to date: the changes since ``cursor`` applied, the
    rest read again. The new cursor, and what changed."""
    if not isinstance(cursor.get("users"), str) or not isinstance(cursor.get("groups"), str):
        raise ChangeFeedLost("the last read kept no delta link")
    new_cursor = dict(cursor)
    counts: dict[str, int] = {}
    try:
        changes, new_cursor["users"] = _delta_round(graph, cursor["users"])
        counts["users"], gone = apply_users(data, changes)
        changes, new_cursor["groups"] = _delta_round(graph, cursor["groups"])
        counts["groups"], counts["memberships"], gone_groups = apply_groups(data, changes)
        _forget(data, gone | gone_groups)
    except GraphError as exc:
        data.problem(
            exc.path,
            f"{exc.describe()}: the changes to users and groups since the last collect are "
            "not all read",
            consequence=f"{USERS.consequence}; {GROUPS.consequence}",
        )
        return cursor, counts
    data.sign_in_activity = bool(cursor.get("sign_in_activity", True))
    if data.sign_in_activity:
        _sign_ins(graph, data)
    LiveReader(graph, data, system, pim=pim).read_lists()
    return new_cursor, counts


# --- the baseline: users, groups and members, in the export layout ----------------------


def write_baseline(data: TenantData, out: Path) -> None:
    """The users, groups and members as ``iam-gov export`` saves them (one page each)."""
    skip = None if data.sign_in_activity else {"sign_in_activity"}
    bodies: dict[str, list[dict[str, Any]]] = {
        "users": [
            {
                "@odata.context": CONTEXT + "users",
                "value": [
                    u.model_dump(by_alias=True, mode="json", exclude=skip) for u in data.users
                ],
            }
        ],
        "groups": [{"@odata.context": CONTEXT + "groups", "value": [_raw(g) for g in data.groups]}],
    }
    for group_id, members in data.members.items():
        bodies[f"group-members/{group_id}"] = [
            {
                "@odata.context": CONTEXT + "directoryObjects",
                "value": [m.model_dump(by_alias=True, mode="json") for m in members],
            }
        ]
    write_bodies(out, bodies)


def read_baseline(folder: Path) -> TenantData:
    """The users, groups and members back from ``write_baseline``'s files; only those (the
    rest is read again)."""
    exported, _ = read_export(folder, pim=False)
    missing = [g.id for g in exported.groups if g.id not in exported.members]
    if missing:
        raise ValueError(f"no members saved for {len(missing)} group(s)")
    return TenantData(
        users=exported.users,
        sign_in_activity=exported.sign_in_activity or not exported.users,
        groups=exported.groups,
        members=exported.members,
    )
