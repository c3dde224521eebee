"""Full against incremental collect of a large Entra tenant on the local Graph: time and
requests of each, and proof that the incremental snapshot is the full one.

    .venv/bin/python benchmarks/entra_incremental.py                      # 100,000 users
    .venv/bin/python benchmarks/entra_incremental.py --users 20000 --latency 0.05 --no-pim

The local Graph (tests/support/graph_server.py, in this process) answers every Graph request
``--latency`` seconds late: a live collect asks one request after the other, so Graph's own
latency (and its throttling, which a sequential reader rarely meets) is what a live collect's
time is made of. Pages are Graph's largest (999; 500 with signInActivity). The tenant has
``--users`` users, ``--groups`` groups with members (every user in a few), a handful of
directory roles and applications, and the MFA registration report. Then: an incremental
collect with no baseline (a full read, baseline written), ``--changes`` changes (users added,
renamed, disabled, deleted; memberships added and removed; groups added and deleted;
sign-ins), an incremental collect, and a plain full collect of the same tenant to compare.

Prints per collect the wall time and the Graph requests, and whether the incremental snapshot
equals the full one (exit 1 when not).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def tenant(users: int, groups: int, seed: int) -> Any:
    from tests.support.graph_server import Tenant, oid

    rng = random.Random(seed)
    t = Tenant()
    for number in range(users):
        user_id = oid(f"bench user {number}")
        t.users[user_id] = {
            "id": user_id,
            "userPrincipalName": f"user{number}@contoso.com",
            "mail": f"user{number}@contoso.com",
            "displayName": f"User {number}",
            "givenName": "User",
            "surname": str(number),
            "accountEnabled": rng.random() > 0.03,
            "userType": "Member",
            "employeeId": f"E{number:06d}",
            "department": rng.choice(["Sales", "Engineering", "Finance", "Support"]),
            "jobTitle": None,
            "createdDateTime": "2024-01-15T09:00:00Z",
            "onPremisesSyncEnabled": None,
            "lastPasswordChangeDateTime": "2025-11-02T10:00:00Z",
            "creationType": None,
            "externalUserState": None,
            "passwordPolicies": None,
            "signInActivity": {
                "lastSignInDateTime": f"2026-02-{rng.randrange(1, 28):02d}T08:00:00Z",
                "lastSuccessfulSignInDateTime": f"2026-02-{rng.randrange(1, 28):02d}T08:00:00Z",
                "lastNonInteractiveSignInDateTime": None,
            },
        }
        t.registrations[user_id] = {
            "id": user_id,
            "isMfaRegistered": rng.random() > 0.1,
            "methodsRegistered": ["microsoftAuthenticatorPush"],
            "defaultMfaMethod": "push",
        }
    ids = list(t.users)
    for number in range(groups):
        group_id = oid(f"bench group {number}")
        t.groups[group_id] = {
            "id": group_id,
            "displayName": f"Group {number}",
            "description": None,
            "groupTypes": [],
            "securityEnabled": True,
            "mailEnabled": False,
            "isAssignableToRole": False,
            "onPremisesSyncEnabled": None,
            "membershipRule": None,
        }
        t.members[group_id] = rng.sample(
            ids, min(len(ids), rng.randrange(1, 3 * users // groups + 2))
        )
    admin_role = "62e90394-69f5-4237-9190-012177145e10"
    t.role_definitions[admin_role] = {"id": admin_role, "displayName": "Global Administrator",
                                      "isBuiltIn": True, "templateId": admin_role}  # fmt: skip
    for number, user_id in enumerate(ids[:5]):
        t.role_assignments.append(
            {
                "id": f"ra-{number}",
                "principalId": user_id,
                "roleDefinitionId": admin_role,
                "directoryScopeId": "/",
            }
        )
    for number in range(20):
        sp_id = oid(f"bench sp {number}")
        t.service_principals[sp_id] = {"id": sp_id, "appId": oid(f"app {number}"),
                                       "displayName": f"App {number}", "appRoles": [],
                                       "servicePrincipalType": "Application"}  # fmt: skip
    t.domains = [{"id": "contoso.com", "authenticationType": "Managed", "isVerified": True}]
    return t


def change(server: Any, count: int, seed: int) -> None:
    from tests.support.graph_server import oid

    rng = random.Random(seed)
    tenant = server.tenant
    for step in range(count):
        users, groups = list(tenant.users), list(tenant.groups)
        user, group = rng.choice(users), rng.choice(groups)
        kind = step % 8
        if kind == 0:
            record = dict(tenant.users[user], id=oid(f"new user {step}"),
                          userPrincipalName=f"new{step}@contoso.com")  # fmt: skip
            server.add_user(record)
            server.add_member(group, record["id"])
        elif kind == 1:
            server.update_user(user, displayName=f"Renamed {step}")
        elif kind == 2:
            server.update_user(user, accountEnabled=False)
        elif kind == 3:
            server.delete_user(user)
        elif kind == 4 and user not in tenant.members[group]:
            server.add_member(group, user)
        elif kind == 5 and tenant.members[group]:
            server.remove_member(group, tenant.members[group][0])
        elif kind == 6:
            server.sign_in(user, "2026-02-28T12:00:00Z")
        elif step % 16 == 7:
            server.delete_group(group)
        else:
            server.add_group(dict(tenant.groups[group], id=oid(f"new group {step}"),
                                  displayName=f"New {step}"), members=(user,))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=2_000)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per Graph answer")
    parser.add_argument("--pim", action=argparse.BooleanOptionalAction, default=True)
    arguments = parser.parse_args()

    from tests.support.graph_server import Fault, GraphServer
    from tests.support.graph_tenant import live_connector

    with tempfile.TemporaryDirectory() as scratch:
        server = GraphServer(Path(scratch))
        server.start()
        # Trust the local Graph's private CA; no proxy between us and it.
        os.environ["SSL_CERT_FILE"] = str(server.ca_file)
        os.environ.pop("SSL_CERT_DIR", None)
        for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                     "all_proxy"):  # fmt: skip
            os.environ.pop(name, None)
        os.environ["NO_PROXY"] = "127.0.0.1,localhost"
        os.environ["IAM_GOV_TEST_ENTRA_SECRET"] = "unused: tokens are issued directly"
        generated = time.perf_counter()
        server.reset(tenant(arguments.users, arguments.groups, seed=17))
        generated = time.perf_counter() - generated
        server.page_size = 999
        server.faults.append(Fault("GET", r"/.*", 200, times=-1, delay=arguments.latency))
        state = Path(scratch) / "state"

        def collect(**extra: Any) -> tuple[Any, float, int]:
            server.requests.clear()
            connector = live_connector(server, token_provider=server.issue_token,
                                       pim=arguments.pim, **extra)  # fmt: skip
            started = time.perf_counter()
            snapshot = connector.collect()
            took = time.perf_counter() - started
            connector.close()
            return snapshot, took, len(server.graph_requests())

        print(
            f"Entra tenant: {arguments.users:,} users, {arguments.groups:,} groups "
            f"(generated in {generated:.1f} s), {arguments.latency * 1000:.0f} ms a Graph "
            f"answer, pim = {str(arguments.pim).lower()}"
        )
        first, took, requests = collect(incremental=True, state_folder=str(state))
        print(f"  full collect (baseline written): {took:7.1f} s  {requests:6,} requests  "
              f"({first.settings['collect']['why']})")  # fmt: skip
        change(server, arguments.changes, seed=18)
        second, took, requests = collect(incremental=True, state_folder=str(state))
        print(f"  incremental collect:             {took:7.1f} s  {requests:6,} requests  "
              f"(changes {second.settings['collect']['changes']}, {arguments.changes} "
              "made)")  # fmt: skip
        full, took, requests = collect()
        print(f"  plain full collect, to compare:  {took:7.1f} s  {requests:6,} requests")

        def comparable(snapshot: Any) -> Any:
            dumped = snapshot.model_dump(mode="json")
            dumped.pop("collected_at")
            dumped["settings"].pop("collect", None)
            return dumped

        same = second.settings["collect"]["mode"] == "incremental" and comparable(
            second
        ) == comparable(full)
        print(f"  incremental snapshot equals the full one: {'yes' if same else 'NO'}")
        server.stop()
        return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
