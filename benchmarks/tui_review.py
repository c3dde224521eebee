"""Opening a big campaign in the reviewer TUI: time to the first screen and per key.

    .venv/bin/python benchmarks/tui_review.py                     # 100,000 items, then 1,000,000
    .venv/bin/python benchmarks/tui_review.py --items 100000 --items 1000000 --work .bench/tui

Builds a SQLite store with one open campaign of N items for one reviewer (rows written
directly with ``executemany``: the launch has its own benchmark), then drives the real app
through Textual's test pilot:

* first screen: from creating the app to the campaign screen showing its first rows;
* per key: each key's round trip through the pilot (press, then wait for the screen to be
  idle), minus the round trip of a key bound to nothing, which is what the pilot itself costs.
  Every key is pressed several times; the worst and the median are printed. The pilot finds
  "idle" in slices of 20 ms (``textual._wait``: a slice in which the process used less than
  1 ms of CPU), so these differences come in steps of about 20 ms: a key whose work and
  repaint fit in the first slice costs ~20 ms, one that spills over costs ~40 ms. The CPU
  time the process spent on the key (beyond the unbound key's) is printed too: it is what
  the key itself costs, without the pilot's quantisation.

Keys measured: moving down and up, page down, end and home (the far end of a big list),
next undecided, approve, revoke, undo, select several, and the filter applied through the
filter dialog (timed as the whole dialog, not one key).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REVIEWER = "manager@example.com"
NOW = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
SYSTEMS = ("okta", "entra", "ldap", "aws", "openvpn", "wireguard")
GROUPS = ("Engineering", "Finance", "Sales", "Admins", "Support", "Ops", "Legal", "VPN-Users")


def build_store(path: Path, items: int) -> str:
    """A SQLite store at ``path`` with one open campaign of ``items`` items; its URL."""
    from sqlalchemy import insert

    from iam_gov.campaigns.definition import CampaignDefinition
    from iam_gov.store import Store
    from iam_gov.store.schema import campaign_items, campaigns

    if path.exists():
        path.unlink()
    url = f"sqlite:///{path}"
    definition = CampaignDefinition(name=f"Benchmark review ({items:,} items)", comment_required=())
    rng = random.Random(7)
    with Store.open(url) as store, store.writing() as conn:
        campaign_id = conn.execute(
            insert(campaigns).values(
                name=definition.name,
                kind="periodic",
                status="open",
                definition=definition.model_dump(mode="json"),
                created_at=NOW - timedelta(days=3),
                created_by="bench",
                launched_at=NOW - timedelta(days=3),
                due_on=date(2025, 6, 14),
                item_count=items,
                population_hash="0" * 64,
            )
        ).inserted_primary_key[0]
        batch: list[dict[str, Any]] = []
        leavers = max(1, items // 100)
        for item_id in range(1, items + 1):
            person = item_id // 7
            leaver = item_id <= leavers
            privileged = rng.random() < 0.05
            used = None if rng.random() < 0.2 else NOW - timedelta(days=rng.randint(0, 400))
            unused = used is not None and (NOW - used).days >= 90
            system = SYSTEMS[item_id % len(SYSTEMS)]
            group = GROUPS[rng.randrange(len(GROUPS))]
            batch.append(
                {
                    "campaign_id": campaign_id,
                    "item_id": item_id,
                    "system": system,
                    "account_id": f"{system}-{person}",
                    "account_login": f"user{person}@example.com",
                    "account_kind": "human",
                    "account_status": "active",
                    "person_id": f"E{person:07d}",
                    "person_name": f"Person {person:07d}",
                    "person_email": f"user{person}@example.com",
                    "department": group,
                    "title": "Engineer",
                    "entitlement_id": f"group:{group}",
                    "entitlement_name": group,
                    "entitlement_kind": "group",
                    "via": "",
                    "via_ids": "",
                    "direct": True,
                    "privileged": privileged,
                    "leaver": leaver,
                    "mover": False,
                    "in_role": not leaver and rng.random() < 0.8,
                    "explanation": f"member of {group} (direct)",
                    "last_used_at": used,
                    "peers_holding": rng.randint(0, 20),
                    "peers_total": 20,
                    "finding_rules": "dormant-account" if unused else "",
                    "finding_severity": "medium" if unused else None,
                    "risk": 100 if leaver else (50 if privileged else 10),
                    "recommendation": "revoke" if leaver or unused else "approve",
                    "reviewer": REVIEWER,
                    "reviewer_rule": "manager",
                    "version": 0,
                }
            )
            if len(batch) == 20_000:
                conn.execute(insert(campaign_items), batch)
                batch = []
        if batch:
            conn.execute(insert(campaign_items), batch)
    return url


def item_count(url: str) -> int | None:
    """The number of items of the store's campaign, or None when there is none."""
    from sqlalchemy import select

    from iam_gov.store import Store
    from iam_gov.store.schema import campaigns

    with Store.open(url) as store, store.reading() as conn:
        found = conn.execute(
            select(campaigns.c.item_count, campaigns.c.definition).where(campaigns.c.id == 1)
        ).first()
    if found is None or found.definition.get("comment_required") != []:
        return None  # built by an older version of this script
    return int(found.item_count)


def undecide(url: str) -> None:
    """Take back the decisions an earlier run made, so that every run starts the same."""
    from iam_gov.store import Store
    from iam_gov.store.schema import campaign_history, campaign_items, campaign_signoffs

    with Store.open(url) as store, store.writing() as conn:
        conn.execute(
            campaign_items.update()
            .where(campaign_items.c.version != 0)
            .values(
                decision=None,
                comment=None,
                decided_by=None,
                decided_at=None,
                acting_for=None,
                reviewer=REVIEWER,
                version=0,
            )
        )
        conn.execute(campaign_history.delete())
        conn.execute(campaign_signoffs.delete())
    with Store.open(url) as store, store.reading() as conn:
        # Not measured: the write-ahead log of the reset folded into the database now.
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


KEYS: tuple[tuple[str, int, str | None], ...] = (
    # (key, presses, a key pressed before each, not timed)
    ("down", 30, None),
    ("up", 30, None),
    ("pagedown", 15, None),
    ("pageup", 15, None),
    ("end", 5, "home"),
    ("home", 5, "end"),
    ("n", 15, None),
    ("a", 15, None),  # approves and moves on
    ("u", 10, "up"),  # takes back the approval just above
    ("r", 15, None),
    ("space", 15, None),
    ("r", 1, None),  # the 15 selected items at once (approving flagged ones asks first)
)
UNBOUND = "z"
"""Bound to nothing on the campaign screen: its round trip is what the pilot itself costs."""


async def drive(url: str, size: tuple[int, int]) -> dict[str, Any]:
    """Open the campaign in the app, time the first screen and the keys."""
    from iam_gov.campaigns.reviewer import Reviewer
    from iam_gov.store import Store
    from iam_gov.tui.app import ReviewApp
    from iam_gov.tui.screens.campaign import CampaignScreen
    from iam_gov.tui.screens.filter import FilterScreen

    reviewer = Reviewer(email=REVIEWER, actor=REVIEWER, os_user="bench", admin=False)
    figures: dict[str, Any] = {}
    with Store.open(url) as store:
        started = time.perf_counter()
        app = ReviewApp(store, reviewer, campaign_id=1, now=NOW)
        async with app.run_test(size=size) as pilot:
            while not (isinstance(app.screen, CampaignScreen) and app.screen.items.count):
                await pilot.pause()
            await pilot.pause()
            figures["first screen"] = time.perf_counter() - started
            screen = app.screen
            assert isinstance(screen, CampaignScreen)
            figures["rows"] = screen.items.count

            async def round_trip(key: str) -> tuple[float, float]:
                """Wall-clock time of the press, and the CPU time the process spent on it."""
                wall, cpu = time.perf_counter(), time.process_time()
                await pilot.press(key)
                return time.perf_counter() - wall, time.process_time() - cpu

            for _ in range(5):  # warm up
                await round_trip(UNBOUND)
            unbound = [await round_trip(UNBOUND) for _ in range(40)]
            base = statistics.median(wall for wall, _ in unbound)
            base_cpu = statistics.median(cpu for _, cpu in unbound)
            figures["unbound"] = (base, max(wall for wall, _ in unbound), base_cpu)
            keys: dict[str, tuple[float, float, float, float]] = {}
            for key, times, setup in KEYS:
                trips = []
                for _ in range(times):
                    if setup is not None:
                        await pilot.press(setup)
                    trips.append(await round_trip(key))
                if key in keys:
                    key = f"{key} (bulk)"
                extra = [wall - base for wall, _ in trips]
                extra_cpu = [cpu - base_cpu for _, cpu in trips]
                keys[key] = (
                    statistics.median(extra),
                    max(extra),
                    statistics.median(extra_cpu),
                    max(extra_cpu),
                )
            figures["keys"] = keys
            decided = screen.progress.decided if screen.progress else None
            figures["decided after the keys"] = decided

            await pilot.press("slash")
            assert isinstance(app.screen, FilterScreen)
            await pilot.press(*"person 00012")
            # Enter applies the filter: the list says "searching…" at once and a thread counts
            # the matches. The pilot waits until the whole process is idle, the thread included,
            # so this is the time until the matches are on the screen.
            before = time.perf_counter()
            await pilot.press("enter")
            while screen.items.searching is not None:
                await pilot.pause()
            figures["search"] = time.perf_counter() - before - base
            figures["search matches"] = screen.items.count
            before = time.perf_counter()
            screen.items.load(screen.items.filter)  # the same search again: the key returns...
            figures["search key"] = time.perf_counter() - before  # ...this fast
            while screen.items.searching is not None:
                await pilot.pause()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--items",
        type=int,
        action="append",
        help="campaign size; repeat for several (default: 100,000 and 1,000,000)",
    )
    parser.add_argument("--work", type=Path, default=ROOT / ".bench" / "tui")
    parser.add_argument("--size", default="120x40", help="terminal size, WIDTHxHEIGHT")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))
    args.work.mkdir(parents=True, exist_ok=True)
    for items in args.items or [100_000, 1_000_000]:
        path = args.work / f"bench-{items}.db"
        url = f"sqlite:///{path}"
        if path.exists() and item_count(url) == items:
            print(f"{items:,} items: reusing {path}")
            undecide(url)
        else:
            started = time.perf_counter()
            build_store(path, items)
            print(f"{items:,} items: store built in {time.perf_counter() - started:.1f} s")
        figures = asyncio.run(drive(url, (width, height)))
        print(f"  first screen: {figures['first screen'] * 1000:.0f} ms ({figures['rows']:,} rows)")
        base, worst, base_cpu = figures["unbound"]
        print(
            f"  pilot round trip of an unbound key: median {base * 1000:.1f} ms, "
            f"worst {worst * 1000:.1f} ms (CPU {base_cpu * 1000:.1f} ms)"
        )
        print("  per key, beyond that round trip:  wall median / worst    CPU median / worst")
        for key, (median, worst, cpu, cpu_worst) in figures["keys"].items():
            print(
                f"    {key:<9} {median * 1000:21.1f} / {worst * 1000:5.1f} ms"
                f"  {cpu * 1000:10.1f} / {cpu_worst * 1000:5.1f} ms"
            )
        print(
            f"  search 'person 00012': {figures['search matches']:,} matches on the screen "
            f"{figures['search'] * 1000:.0f} ms after Enter (beyond the round trip); counted "
            f"in a thread, the handler of the key returns in "
            f"{figures['search key'] * 1000:.1f} ms"
        )


if __name__ == "__main__":
    main()
