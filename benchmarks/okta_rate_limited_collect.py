"""Scale run for Okta under a rate limit: collect a 100,000-user org from a local Okta that
enforces a limit per endpoint, and prove that no page was lost and the limit was kept.

    .venv/bin/python benchmarks/okta_rate_limited_collect.py                 # 100,000 users
    .venv/bin/python benchmarks/okta_rate_limited_collect.py --users 20000 --rate-limit 300

The local Okta (tests/support/okta_server.py) runs in a process of its own. Every endpoint
family allows ``--rate-limit`` requests per ``--window`` seconds and says so in Okta's headers
(``X-Rate-Limit-Limit``, ``-Remaining``, ``-Reset``), answering 429 past it. The connector is
not told the limit: as against a real org, it learns it from those headers (and keeps a tenth
of it for the org's other integrations). It reads what a live collect reads: users (and the
deactivated ones), one factor call per user who can sign in, groups and their members and
roles, apps and their users and groups, administrators' roles, password policies.

Prints users, requests, pages, 429s received, the most requests any endpoint's window received
against the limit, pages lost (user ids and group memberships collected, compared with the
server's: must be 0) and the wall time. Exits 1 when a page was lost or the limit was overrun.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN_VARIABLE = "IAM_GOV_BENCH_OKTA_TOKEN"


def serve(users: int, rate_limit: int, window: float, pipe: Connection) -> None:
    """The local Okta, until told to stop; then what it saw and what it holds."""
    sys.path.insert(0, str(ROOT))
    from tests.support.okta_server import OktaServer, generate

    org = generate(users)
    with OktaServer(org, rate_limit=rate_limit, window=window, record=False) as server:
        pipe.send(server.url)
        pipe.recv()
        memberships = {(u, g.id) for g in org.groups.values() for u in g.members}
        pipe.send(
            {
                "requests": server.requests,
                "throttled": server.throttled,
                "pages": server.pages_served,
                "peaks": dict(server.peaks),
                "users": set(org.users),
                "groups": set(org.groups),
                "memberships": memberships,
            }
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rate-limit", type=int, default=600, help="requests per window")
    parser.add_argument("--window", type=float, default=1.0, help="seconds (Okta: 60)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-factors", action="store_true", help="skip the per-user calls")
    args = parser.parse_args()

    os.environ[TOKEN_VARIABLE] = "00Fake-SSWS-Token-For-Tests-Only_4e1f"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(name, None)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    server = context.Process(
        target=serve, args=(args.users, args.rate_limit, args.window, theirs), daemon=True
    )
    started = time.perf_counter()
    server.start()
    url = ours.recv()
    generated = time.perf_counter() - started

    sys.path.insert(0, str(ROOT))
    from iam_gov.connectors.okta.connector import OktaConnector, OktaOptions

    options = OktaOptions.model_validate(
        {
            "type": "okta",
            "mode": "live",
            "org_url": url,
            "allow_http": True,  # the local Okta is plain http on loopback
            "api_token": {"env": TOKEN_VARIABLE},
            "concurrency": args.concurrency,
            "collect_factors": not args.no_factors,
            "deadline_seconds": 86400,
        }
    )
    connector = OktaConnector("okta", options)
    started = time.perf_counter()
    snapshot = connector.collect()
    wall = time.perf_counter() - started
    ours.send("stop")
    seen = ours.recv()
    server.join(timeout=30)

    collected = {a.native_id for a in snapshot.accounts}
    users_lost = len(seen["users"] - collected)
    memberships = {
        (g.account_id, g.entitlement_id)
        for g in snapshot.grants
        if g.entitlement_id in seen["groups"] and g.via is None
    }
    memberships_lost = len(seen["memberships"] - memberships)
    peaks: dict[str, int] = seen["peaks"]
    busiest = max(peaks, key=lambda bucket: peaks[bucket])
    over = {bucket: n for bucket, n in peaks.items() if n > args.rate_limit}

    print(f"org generated and served in   {generated:8.1f} s (separate process)")
    print(
        f"rate limit                    {args.rate_limit} requests / {args.window:g} s per endpoint"
    )
    print(f"users                         {len(seen['users']):8d} ({len(collected)} collected)")
    print(f"complete                      {snapshot.complete} ({len(snapshot.errors)} problems)")
    print(
        f"requests                      {connector.requests_made:8d} sent "
        f"({seen['requests']} answered by the server)"
    )
    print(f"pages of listings served      {seen['pages']:8d}")
    print(f"429s received                 {seen['throttled']:8d}")
    print(
        f"most requests in one window   {peaks[busiest]:8d} of {args.rate_limit} allowed "
        f"({busiest})"
    )
    print(f"endpoints over the limit      {len(over):8d}")
    print(f"pages lost: users missing     {users_lost:8d}")
    print(f"pages lost: memberships       {memberships_lost:8d}")
    print(f"wall time                     {wall:8.1f} s")
    print(f"requests per second           {connector.requests_made / wall:8.0f}")
    for error in snapshot.errors[:5]:
        print(f"  problem: {error}")
    lost = users_lost or memberships_lost or not snapshot.complete
    return 1 if lost or over or seen["throttled"] else 0


if __name__ == "__main__":
    sys.exit(main())
