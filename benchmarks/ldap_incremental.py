"""LDAP incremental collect against a real slapd: a full read, then 1 % of the directory
changed and read incrementally (modifyTimestamp), and the snapshot compared with a fresh full
read of the same state.

    .venv/bin/python benchmarks/ldap_incremental.py                  # 5,000 users
    .venv/bin/python benchmarks/ldap_incremental.py --users 20000 --page-size 1000

Prints, for the full and the incremental collect: the wall time, the searches (LDAP
operations: one per page), the entries returned with their attributes and those returned as
names only (the pass that sees deletions). slapd has no rate limit; an LDAP read costs by
entries and bytes more than by requests. The entries are seconds old here, so the cursor's
5-minute overlap is set to 0 (else every entry would be read again); a real directory's
entries are older. Exits 1 when the incremental snapshot differs from the full one.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--group-size", type=int, default=25)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--changed", type=float, default=0.01, help="share of users changed")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    import iam_gov.connectors.ldap.incremental as ldap_incremental
    from iam_gov.connectors.ldap.connector import LDAPConnector
    from iam_gov.model import SystemSnapshot
    from tests.support.slapd import (
        ADMIN_PASSWORD,
        OPENLDAP_BASE,
        PASSWORD_ENV,
        SERVICE_PASSWORD,
        ThrowawaySlapd,
        admin,
        available,
        group_dn,
        live_options,
        person_dn,
        seed_openldap,
    )

    if not available():
        print("slapd not found: make system-deps installs it")
        return 1
    import os

    os.environ[PASSWORD_ENV] = SERVICE_PASSWORD
    os.environ["IAM_GOV_STATE_DIR"] = tempfile.mkdtemp(prefix="iam-gov-bench-state-")
    ldap_incremental.OVERLAP = timedelta(0)
    rng = random.Random(17)
    server = ThrowawaySlapd()
    server.start()
    try:
        started = time.perf_counter()
        seed_openldap(server)
        logins = [f"bench{number:06}" for number in range(args.users)]
        groups = [f"team{n:04}" for n in range(max(1, args.users // args.group_size))]
        records = [
            f"dn: {person_dn(login)}\nobjectClass: inetOrgPerson\nuid: {login}\ncn: {login}\n"
            f"sn: Bench\nmail: {login}@example.org\n"
            for login in logins
        ]
        for number, name in enumerate(groups):
            members = logins[number * args.group_size : (number + 1) * args.group_size]
            records.append(
                f"dn: {group_dn(name)}\nobjectClass: groupOfNames\ncn: {name}\n"
                + "".join(f"member: {person_dn(m)}\n" for m in members or ["alice"])
            )
        _ldapadd(server.url, f"cn=admin,{OPENLDAP_BASE}", ADMIN_PASSWORD, "\n".join(records))
        print(
            f"directory: {args.users:,} users, {len(groups):,} groups "
            f"(generated in {time.perf_counter() - started:.1f} s)"
        )
        time.sleep(2.1)  # a second apart from the baseline: timestamps have 1 s resolution

        def collect(incremental: bool) -> tuple[SystemSnapshot, float, tuple[int, int, int]]:
            options = live_options(server, incremental=incremental, page_size=args.page_size)
            mark = server.log_mark()
            begun = time.perf_counter()
            snapshot = LDAPConnector("bench", options).collect()
            took = time.perf_counter() - begun
            return snapshot, took, _operations(server.log_path, mark)

        first, full_time, full_ops = collect(True)
        conn = admin(server, OPENLDAP_BASE)
        changed = max(1, int(args.users * args.changed))
        for login in rng.sample(logins, changed):
            conn.modify(person_dn(login), {"title": [("MODIFY_REPLACE", ["Changed"])]})
        for login in rng.sample(logins, max(1, changed // 10)):
            conn.delete(person_dn(login))
        for number in range(max(1, changed // 10)):
            login = f"newhire{number:04}"
            conn.add(person_dn(login), ["inetOrgPerson"], {"uid": login, "cn": login, "sn": "N"})
            conn.modify(
                group_dn(rng.choice(groups)), {"member": [("MODIFY_ADD", [person_dn(login)])]}
            )
        conn.unbind()
        incremental, incremental_time, incremental_ops = collect(True)
        fresh, fresh_time, _ = collect(False)
    finally:
        server.stop()

    print(f"{'read':<12} {'seconds':>8} {'searches':>9} {'entries':>9} {'names only':>11}")
    for name, took, ops in (
        ("full", full_time, full_ops),
        ("incremental", incremental_time, incremental_ops),
    ):
        print(f"{name:<12} {took:>8.2f} {ops[0]:>9,} {ops[1]:>9,} {ops[2]:>11,}")
    how: dict[str, Any] = dict(incremental.settings["collect"])
    print(f"incremental: {how['mode']} ({how['why']}), changes {how['changes']}")
    print(f"a fresh full read without a baseline: {fresh_time:.2f} s")
    same = _comparable(incremental) == _comparable(fresh)
    print(f"incremental snapshot = fresh full snapshot: {same}")
    return 0 if same and how["mode"] == "incremental" and first.complete else 1


def _ldapadd(url: str, bind_dn: str, password: str, ldif: str) -> None:
    """Entries added by OpenLDAP's own client: much faster than one ldap3 call each."""
    binary = shutil.which("ldapadd")
    if binary is None:
        raise SystemExit("ldapadd not found: make system-deps installs ldap-utils")
    subprocess.run(
        [binary, "-x", "-H", url, "-D", bind_dn, "-w", password],
        input=ldif.encode(),
        stdout=subprocess.DEVNULL,
        check=True,
    )


def _comparable(snapshot: Any) -> dict[str, Any]:
    data: dict[str, Any] = snapshot.model_dump(mode="json")
    data.pop("collected_at")
    data["settings"].pop("collect", None)
    return data


def _operations(log: Path, mark: int) -> tuple[int, int, int]:
    """(searches, entries with attributes, entries as names only) from slapd's stats log."""
    text = log.read_bytes()[mark:].decode("utf-8", "replace")
    attributes: dict[str, list[str]] = {}
    for match in re.finditer(r"conn=(\d+) op=(\d+) SRCH attr=([^\n]*)", text):
        attributes.setdefault(f"{match[1]}/{match[2]}", []).extend(match[3].split())
    searches = values = names = 0
    for match in re.finditer(r"conn=(\d+) op=(\d+) SEARCH RESULT [^\n]*nentries=(\d+)", text):
        searches += 1
        if attributes.get(f"{match[1]}/{match[2]}", ["1.1"]) == ["1.1"]:
            names += int(match[3])
        else:
            values += int(match[3])
    return searches, values, names


if __name__ == "__main__":
    sys.exit(main())
