"""Scale run for the Okta connector: list a 100,000-user org from a local Okta, live.

    .venv/bin/python benchmarks/okta_listing.py                      # 100,000 users
    .venv/bin/python benchmarks/okta_listing.py --users 20000 --rate-limit 600 --window 60

The local Okta (tests/support/okta_server.py) runs in a process of its own, so that its
memory and CPU do not count: it generates the org in memory (department groups, apps
assigned to groups and to users directly, factors, a few administrators) and enforces a rate
limit per endpoint, ``--rate-limit`` requests per ``--window`` seconds, with 429s past it.
Prints users per second, requests made, wall time and the peak memory (RSS) of the
collecting process.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def serve(users: int, rate_limit: int, window: float, pipe: Connection) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.support.okta_server import OktaServer, generate

    org = generate(users)
    with OktaServer(org, rate_limit=rate_limit, window=window, record=False) as server:
        pipe.send(server.url)
        pipe.recv()  # until told to stop
        pipe.send((server.requests, server.throttled))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rate-limit", type=int, default=1000, help="requests per window")
    parser.add_argument("--window", type=float, default=1.0, help="seconds")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    os.environ["IAM_GOV_BENCH_OKTA_TOKEN"] = "00Fake-SSWS-Token-For-Tests-Only_4e1f"
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    server = context.Process(
        target=serve, args=(args.users, args.rate_limit, args.window, theirs), daemon=True
    )
    started = time.perf_counter()
    server.start()
    url = ours.recv()
    generated = time.perf_counter() - started

    from iam_gov.connectors.okta.connector import OktaConnector, OktaOptions

    options = OktaOptions.model_validate(
        {
            "type": "okta",
            "mode": "live",
            "org_url": url,
            "allow_http": True,  # the local Okta is plain http on loopback
            "api_token": {"env": "IAM_GOV_BENCH_OKTA_TOKEN"},
            "concurrency": args.concurrency,
        }
    )
    connector = OktaConnector("okta", options)
    started = time.perf_counter()
    snapshot = connector.collect()
    wall = time.perf_counter() - started
    ours.send("stop")
    served, throttled = ours.recv()
    server.join(timeout=10)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"org generated and served in  {generated:8.1f} s (separate process)")
    print(
        f"rate limit                   {args.rate_limit} requests / {args.window:g} s per endpoint"
    )
    print(f"users listed                 {len(snapshot.accounts):8d}")
    print(f"grants / entitlements        {len(snapshot.grants):8d} / {len(snapshot.entitlements)}")
    print(f"complete                     {snapshot.complete} ({len(snapshot.errors)} problems)")
    print(
        f"requests made                {connector.requests_made:8d} "
        f"(server answered {served}, {throttled} of them 429)"
    )
    print(f"wall time                    {wall:8.1f} s")
    print(f"users per second             {len(snapshot.accounts) / wall:8.0f}")
    print(f"requests per second          {connector.requests_made / wall:8.0f}")
    print(f"peak memory (RSS)            {peak_mb:8.0f} MB")
    for error in snapshot.errors[:5]:
        print(f"  problem: {error}")


if __name__ == "__main__":
    main()
