"""Full and incremental Okta collects of a large org on the local Okta, under a rate limit.

    .venv/bin/python benchmarks/okta_incremental.py                  # 100,000 users
    .venv/bin/python benchmarks/okta_incremental.py --users 20000 --changes 200

The local Okta (tests/support/okta_server.py) runs in a process of its own and enforces
``--rate-limit`` requests per ``--window`` seconds per endpoint (Okta's headers, 429s past
it; the connector learns the limit from the headers). First a full collect with
``incremental = true`` (it writes the baseline), then a night's changes in the org (sign-ins,
factor enrolments, new users joining a group, deactivations, an app assignment: ``--changes``
in all, each in the System Log and the ``lastUpdated`` stamps), then the incremental collect,
then a fresh full collect of the same state to check the incremental snapshot equals it.

Prints, for each collect, its wall time and requests, and the time both would take at a real
org's limit of ``--rate-limit`` requests per minute per endpoint (requests of the busiest
endpoint / limit, in minutes: the floor the rate limit sets). Exits 1 when the incremental
snapshot differs from the fresh full one.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOKEN_VARIABLE = "IAM_GOV_BENCH_OKTA_TOKEN"


def serve(users: int, rate_limit: int, window: float, pipe: Connection) -> None:
    """The local Okta, until told to stop; on ``changes``, a night's changes."""
    import random

    sys.path.insert(0, str(ROOT))
    from tests.support.okta_server import OktaServer, generate

    org = generate(users)
    with OktaServer(org, rate_limit=rate_limit, window=window) as server:
        pipe.send(server.url)
        while True:
            command = pipe.recv()
            if command == "stop":
                break
            if command == "count":
                buckets = Counter(s.route or "?" for s in server.seen)
                pipe.send(dict(buckets))
                server.seen.clear()
                continue
            changes = int(command)
            with server.lock:
                org.start_log()
                rng = random.Random(7)
                ids = sorted(org.users)
                groups = sorted(org.groups.values(), key=lambda g: g.id)
                app = sorted(org.apps.values(), key=lambda a: a.id)[0]
                for n in range(changes):
                    user = org.users[rng.choice(ids)]
                    step = n % 10
                    if step < 6:
                        org.sign_in(user)
                    elif step < 8:
                        org.enroll_factor(user, "webauthn")
                    elif step == 8:
                        new = org.add_user(f"joiner{n}@example.com", first="New")
                        org.add_member(rng.choice(groups), new)
                    elif user.status == "ACTIVE" and n % 20 == 9:
                        org.update_user(user, status="DEPROVISIONED")
                    else:
                        org.assign_app(app, user, at=org.now())
            pipe.send(len(org.events))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=500, help="changes between collects")
    parser.add_argument("--rate-limit", type=int, default=600, help="requests per window")
    parser.add_argument("--window", type=float, default=1.0, help="seconds (Okta: 60)")
    parser.add_argument("--concurrency", type=int, default=8)
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
    from iam_gov.model import SystemSnapshot

    def collect(state: Path, incremental: bool) -> tuple[SystemSnapshot, float, int, int]:
        options = OktaOptions.model_validate(
            {
                "type": "okta",
                "mode": "live",
                "org_url": url,
                "allow_http": True,  # the local Okta is plain http on loopback
                "api_token": {"env": TOKEN_VARIABLE},
                "concurrency": args.concurrency,
                "deadline_seconds": 86400,
                "incremental": incremental,
                "state_folder": state,
            }
        )
        connector = OktaConnector("okta", options)
        began = time.perf_counter()
        snapshot = connector.collect()
        wall = time.perf_counter() - began
        ours.send("count")
        buckets: dict[str, int] = ours.recv()
        return snapshot, wall, connector.requests_made, max(buckets.values(), default=0)

    def comparable(snapshot: SystemSnapshot) -> dict[str, Any]:
        dump = snapshot.model_dump(mode="json")
        dump.pop("collected_at")
        dump["settings"].pop("collect", None)
        return dump

    with tempfile.TemporaryDirectory(prefix="okta-incremental-") as folder:
        state = Path(folder)
        full, full_wall, full_requests, full_busiest = collect(state / "a", True)
        ours.send(str(args.changes))
        events = ours.recv()
        time.sleep(1.0)  # the changes' stamps fall strictly after the previous read began
        incremental, inc_wall, inc_requests, inc_busiest = collect(state / "a", True)
        fresh, _, _, _ = collect(state / "b", True)
    ours.send("stop")
    server.join(timeout=30)

    same = comparable(incremental) == comparable(fresh)
    how = incremental.settings["collect"]
    minute = args.rate_limit  # a real org: this many requests per minute per endpoint
    print(f"org generated and served in   {generated:8.1f} s (separate process)")
    print(f"users                         {len(full.accounts):8d}")
    print(
        f"rate limit                    {args.rate_limit} requests / {args.window:g} s per endpoint"
    )
    print(f"changes made (log events)     {args.changes:8d} ({events})")
    print(f"full collect                  {full_wall:8.1f} s {full_requests:8d} requests")
    print(f"incremental collect           {inc_wall:8.1f} s {inc_requests:8d} requests")
    print(f"  mode, changes               {how['mode']}, {how['changes']}")
    print(
        f"at {minute}/min per endpoint    full >= {full_busiest / minute:6.1f} min, "
        f"incremental >= {inc_busiest / minute:6.1f} min (busiest endpoint)"
    )
    print(f"requests ratio                {full_requests / max(inc_requests, 1):8.1f} x fewer")
    print(f"incremental = full            {same}")
    return 0 if same and how["mode"] == "incremental" else 1


if __name__ == "__main__":
    sys.exit(main())
