"""A deactivated Okta user holds no app: Okta removes their app assignments, direct and through
groups, while they stay members of their groups."""

from __future__ import annotations

import json
from pathlib import Path

from iam_gov.model import SystemSnapshot
from tests.support.okta_server import OktaServer, Org, example_org, write_export

from .test_connector import export, grants, live, okta_env

__all__ = ["okta_env"]


def deactivated_org() -> Org:
    """The example org (dave is deactivated, in Engineering and Everyone, whose apps are
    GitHub and Slack), dave also assigned Legacy CRM directly before he was deactivated."""
    org = example_org()
    org.assign_app(org.app("Legacy CRM"), org.user("dave@example.com"))
    return org


def apps_of(snapshot: SystemSnapshot, org: Org, login: str) -> set[tuple[str, str | None]]:
    return {g for g in grants(snapshot, org, login) if g[0].startswith("app:")}


def test_a_deactivated_user_holds_no_app_live(okta_env: None) -> None:
    org = deactivated_org()
    with OktaServer(org) as server:
        snapshot = live(server).collect()

    assert snapshot.complete, snapshot.errors
    assert apps_of(snapshot, org, "dave") == set()
    # Still a member of his groups, as Okta keeps him.
    assert {("group:Engineering", None), ("group:Everyone", None)} <= grants(snapshot, org, "dave")
    # The same groups' apps are granted to the active members.
    assert ("app:Slack", "Everyone") in apps_of(snapshot, org, "bob")
    assert ("app:GitHub", "Engineering") in apps_of(snapshot, org, "bob")


def test_an_export_listing_a_deactivated_user_for_an_app_is_not_believed(
    okta_env: None, tmp_path: Path
) -> None:
    # An export stitched together over time may still list him as an app's user.
    org = deactivated_org()
    dave = org.user("dave@example.com")
    legacy = org.app("Legacy CRM")
    with OktaServer(org) as server:
        write_export(server.url, tmp_path)
    rows = tmp_path / "app-users" / f"{legacy.id}.json"
    page = json.loads(rows.read_text())
    page.append({**page[0], "id": dave.id, "scope": "USER"})
    rows.write_text(json.dumps(page))

    snapshot = export(tmp_path).collect()

    assert snapshot.complete, snapshot.errors
    assert apps_of(snapshot, org, "dave") == set()
    (note,) = [e for e in snapshot.errors if e.record == dave.id]
    assert note.message == (
        "app Legacy CRM lists deactivated user dave@example.com, whose app assignments Okta "
        "removes: not taken as a grant"
    )
