"""Faults from the local servers, system by system: a slow answer, 500s, a connection reset in
the middle of an answer, truncated JSON, a next link back to a page already read, a next link
that 404s, 429 storms with and without their reset header.

For each cell: the requests the faulty endpoint met are counted (retries are bounded, so the
collect ends); the system ends incomplete or failed with a reason naming the fault; and
``iam-gov run`` on a company with that system and a healthy one exits 4 or 5, stores the
healthy system's snapshot, resolves no finding (one about a person on the part that was not
read stays open) and plans no deprovisioning from what is missing. A transient fault that a
retry mends gives the same snapshot as no fault at all. And a 2,000-user Okta collect keeps to
Okta's rate limit without losing a page (the 100,000-user run: benchmarks/).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pytest

from iam_gov.connectors import Connector
from iam_gov.connectors.entra.connector import EntraConnector, EntraOptions
from iam_gov.connectors.hr.connector import HRConnector, HROptions
from iam_gov.connectors.okta.connector import OktaConnector, OktaOptions
from tests.hardening.faults import (
    CELLS,
    EXPECTED,
    HELD,
    LEFT_ON,
    RETRIES,
    STORM_DEADLINE,
    TIMEOUT,
    Employee,
    Expect,
    hr_csv,
    write_company,
)
from tests.support import graph_server, hr_server
from tests.support.graph_server import CLIENT_ID, CLIENT_SECRET, Fault, GraphServer
from tests.support.graph_tenant import SECRET_ENV, demo_tenant
from tests.support.hr_server import ISU_PASSWORD, ISU_USER, RAAS_PATH, HRServer
from tests.support.okta_server import TOKEN, OktaServer, Org, example_org, generate

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OKTA_TOKEN_ENV = "IAM_GOV_TEST_FAULTS_OKTA_TOKEN"
WD_PASSWORD_ENV = "IAM_GOV_TEST_FAULTS_WD_PASSWORD"


class Hits(Protocol):
    hits: int


# --- the environment and the servers, shared by the module -------------------------------------


@pytest.fixture(scope="module")
def environment() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY",
                     "all_proxy", "IAM_GOV_CONFIG", "IAM_GOV_DATABASE_URL",
                     "OKTA_TESTING_TESTINGDISABLEHTTPSCHECK"):  # fmt: skip
            patch.delenv(name, raising=False)
        patch.setenv("NO_PROXY", "127.0.0.1,localhost")
        patch.setenv(OKTA_TOKEN_ENV, TOKEN)
        patch.setenv(SECRET_ENV, CLIENT_SECRET)
        patch.setenv(WD_PASSWORD_ENV, ISU_PASSWORD)
        yield


@pytest.fixture(scope="module")
def okta(environment: None) -> Iterator[OktaServer]:
    # Three users a page: the users list is three pages, the faults hit the second.
    with OktaServer(example_org(), max_page=3, window=1.0) as server:
        yield server


@pytest.fixture(scope="module")
def graph(environment: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphServer]:
    yield from graph_server.running_server(tmp_path_factory)


@pytest.fixture(scope="module")
def hr(environment: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HRServer]:
    yield from hr_server.running_server(tmp_path_factory)


# --- each system: its fault injection, its live options, its company ---------------------------


class Side(Protocol):
    """One system of the matrix, as its server and its configuration see it."""

    name: str
    leaver: str
    """Employee id of the leaver, whose account is on the part a fault leaves unread."""
    unread: tuple[str, str]
    """(rule, employee id) of a finding about someone on the part a fault leaves unread."""

    def prepare(self) -> None: ...
    def inject(self, fault: str) -> Hits: ...
    def options(self, fault: str | None) -> dict[str, Any]: ...
    def connector(self, fault: str | None) -> Connector[Any]: ...
    def company(self, root: Path, fault: str | None) -> Path: ...


def timeout(fault: str | None) -> float:
    """The client's timeout for one answer: short only where the fault is a slow answer."""
    return TIMEOUT if fault == "timeout" else 10.0


def toml_section(name: str, options: dict[str, Any]) -> str:
    lines = [f"[systems.{name}]"]
    for key, value in options.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
            lines.append(f"{key} = {{{inner}}}")
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def okta_people(org: Org) -> list[Employee]:
    """HR's view of the example org: everyone with an employee number; Erin has left."""
    people = []
    for user in org.users.values():
        if user.employee_number is None:
            continue
        name, email = f"{user.first} {user.last}", user.login
        if user.employee_number == "E005":
            people.append(Employee(user.employee_number, name, email, "terminated", LEFT_ON))
        else:
            people.append(Employee(user.employee_number, name, email))
    return people


@dataclass
class OktaSide:
    server: OktaServer
    name: str = "okta"
    leaver: str = "E005"  # Erin, on the second page of users
    unread: tuple[str, str] = ("mfa-missing", "E006")  # Frank, on the second page

    def prepare(self) -> None:
        self.server.faults.clear()

    def inject(self, fault: str) -> Hits:
        listed = sorted(u.id for u in self.server.org.users.values() if u.status != "DEPROVISIONED")
        page2 = rf"^/api/v1/users\?limit=3&after={listed[2]}$"
        fail = self.server.fail
        return {
            "timeout": lambda: fail("GET", page2, status=None, times=None, delay=HELD),
            "http-500": lambda: fail("GET", page2, status=500, times=None),
            "http-500-once": lambda: fail("GET", page2, status=500, times=1),
            "http-503-once": lambda: fail("GET", page2, status=503, times=1),
            "reset": lambda: fail("GET", page2, status=None, times=None, body="reset"),
            "reset-once": lambda: fail("GET", page2, status=None, times=1, body="reset"),
            "truncated-json": lambda: fail("GET", page2, status=None, times=None, body="truncate"),
            "repeated-page": lambda: fail("GET", page2, status=None, times=None, body="loop"),
            "missing-page": lambda: fail("GET", page2, status=404, times=None),
            "429-storm-reset-header": lambda: fail("GET", page2, status=429, times=None),
            "429-storm-no-header": lambda: fail(
                "GET", page2, status=429, times=None, rate_headers=False
            ),
        }[fault]()

    def options(self, fault: str | None) -> dict[str, Any]:
        storm = fault is not None and fault.startswith("429")
        return {
            "type": "okta",
            "mode": "live",
            "org_url": self.server.url,
            "allow_http": True,
            "api_token": {"env": OKTA_TOKEN_ENV},
            "request_timeout": timeout(fault),
            "max_retries": RETRIES,
            "deadline_seconds": STORM_DEADLINE if storm else 120.0,
        }

    def connector(self, fault: str | None) -> Connector[Any]:
        options = OktaOptions.model_validate(self.options(fault))
        return OktaConnector("okta", options, clock=lambda: NOW)

    def company(self, root: Path, fault: str | None) -> Path:
        (root / "hr.csv").write_text(hr_csv(okta_people(self.server.org)), encoding="utf-8")
        hr_file = toml_section("hr", {"type": "hr", "path": "hr.csv"})
        return write_company(root, hr_file + "\n" + toml_section("okta", self.options(fault)))


@dataclass
class GraphSide:
    server: GraphServer
    name: str = "entra"
    leaver: str = "E004"  # Dave, on the second page of users
    unread: tuple[str, str] = ("leaver-active-access", "E004")

    def prepare(self) -> None:
        self.server.reset(demo_tenant())
        self.server.page_size = 2  # three pages of users: Alice, Bob | Carol, Dave | Eve, Frank

    def inject(self, fault: str) -> Hits:
        def on_page2(status: int, **extra: Any) -> Fault:
            fault = Fault("GET", "/users", status, query="skiptoken", **extra)
            self.server.faults.append(fault)
            return fault

        every = -1
        return {
            "timeout": lambda: on_page2(200, times=every, delay=HELD),
            "http-500": lambda: on_page2(500, times=every, code="UnknownError", message="oops"),
            "http-500-once": lambda: on_page2(500, code="UnknownError", message="oops"),
            "http-503-once": lambda: on_page2(503, code="ServiceUnavailable", message="busy"),
            "reset": lambda: on_page2(200, times=every, body="reset"),
            "reset-once": lambda: on_page2(200, body="reset"),
            "truncated-json": lambda: on_page2(200, times=every, body="truncate"),
            "repeated-page": lambda: on_page2(200, times=every, body="loop"),
            "missing-page": lambda: on_page2(
                404, times=every, code="Request_ResourceNotFound", message="no such page"
            ),
            "429-storm-reset-header": lambda: on_page2(
                429, times=every, headers={"Retry-After": "1"}
            ),
            "429-storm-no-header": lambda: on_page2(429, times=every),
        }[fault]()

    def options(self, fault: str | None) -> dict[str, Any]:
        return {
            "type": "entra",
            "mode": "live",
            "tenant_id": self.server.tenant_id,
            "client_id": CLIENT_ID,
            "client_secret": {"env": SECRET_ENV},
            "authority_host": self.server.url,
            "graph_url": self.server.url,
            "ca_file": str(self.server.ca_file),
            "timeout": timeout(fault),
            "max_retries": RETRIES,
        }

    def connector(self, fault: str | None) -> Connector[Any]:
        options = EntraOptions.model_validate(self.options(fault))
        return EntraConnector(
            "entra",
            options,
            clock=lambda: NOW,
            token_provider=self.server.issue_token,
            sleep=lambda seconds: None,
        )

    def company(self, root: Path, fault: str | None) -> Path:
        people = [
            Employee("E001", "Alice Archer", "alice@contoso.com"),
            Employee("E002", "Bob Baker", "bob@contoso.com"),
            Employee("E003", "Carol Cole", "carol@contoso.com"),
            Employee("E004", "Dave Dunn", "dave@corp.example.com", "terminated", LEFT_ON),
            Employee("E006", "Frank Fox", "frank@contoso.com"),
        ]
        (root / "hr.csv").write_text(hr_csv(people), encoding="utf-8")
        hr_file = toml_section("hr", {"type": "hr", "path": "hr.csv"})
        return write_company(root, hr_file + "\n" + toml_section("entra", self.options(fault)))


@dataclass
class HRSide:
    server: HRServer
    okta: OktaServer
    name: str = "hr"
    leaver: str = "E005"
    unread: tuple[str, str] = ("leaver-active-access", "E005")  # the whole report is the part

    def prepare(self) -> None:
        self.server.reset()
        self.okta.faults.clear()
        workers = []
        for person in okta_people(self.okta.org):
            worker = {
                "Employee_ID": person.employee_id,
                "Legal_Name": person.name,
                "Email_Address": person.email,
                "Supervisory_Organization": "Engineering",
                "Worker_Type": "Regular",
                "Worker_Status": "Terminated" if person.status == "terminated" else "Active",
                "Hire_Date": "2020-01-06-08:00",
            }
            if person.end_date is not None:
                worker["Termination_Date"] = f"{person.end_date.isoformat()}-08:00"
            workers.append(worker)
        self.server.workers = workers

    def inject(self, fault: str) -> Hits:
        every = 99
        fault_at = self.server.fault
        return {
            "timeout": lambda: fault_at(RAAS_PATH, "slow", every, delay=HELD),
            "http-500": lambda: fault_at(RAAS_PATH, 500, every),
            "http-500-once": lambda: fault_at(RAAS_PATH, 500, 1),
            "http-503-once": lambda: fault_at(RAAS_PATH, 503, 1),
            "reset": lambda: fault_at(RAAS_PATH, "reset", every),
            "reset-once": lambda: fault_at(RAAS_PATH, "reset", 1),
            "truncated-json": lambda: fault_at(RAAS_PATH, "truncate", every),
            "429-storm-reset-header": lambda: fault_at(RAAS_PATH, 429, every, retry_after="1"),
            "429-storm-no-header": lambda: fault_at(RAAS_PATH, 429, every, retry_after=None),
        }[fault]()

    def options(self, fault: str | None) -> dict[str, Any]:
        return {
            "type": "hr",
            "mode": "live",
            "url": f"{self.server.url}{RAAS_PATH}?format=json",
            "preset": "workday",
            "auth": "basic",
            "username": ISU_USER,
            "password": {"env": WD_PASSWORD_ENV},
            "ca_file": str(self.server.ca_file),
            "timeout": timeout(fault),
            "max_retries": RETRIES,
        }

    def connector(self, fault: str | None) -> Connector[Any]:
        options = HROptions.model_validate(self.options(fault))
        return HRConnector("hr", options, clock=lambda: NOW, sleep=lambda seconds: None)

    def company(self, root: Path, fault: str | None) -> Path:
        healthy = OktaSide(self.okta).options(None)
        return write_company(
            root, toml_section("hr", self.options(fault)) + "\n" + toml_section("okta", healthy)
        )


@pytest.fixture(scope="module")
def sides(okta: OktaServer, graph: GraphServer, hr: HRServer) -> dict[str, Side]:
    return {"okta": OktaSide(okta), "graph": GraphSide(graph), "hr": HRSide(hr, okta)}


# --- the command, in this process --------------------------------------------------------------


def iam_gov(config: Path, *args: str) -> int:
    """``iam-gov --config CONFIG ARGS…`` through the command's own entry point (``main``, as
    ``python -m iam_gov`` runs it), here rather than in a new interpreter: a tenth of the
    time. Its exit code."""
    from iam_gov.cli import main
    from iam_gov.cli_common import options

    saved, chosen = sys.argv, dict(vars(options))
    sys.argv = ["iam-gov", "--config", str(config), *args]
    try:
        main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        sys.argv = saved
        vars(options).clear()  # the global options as they were, for the tests after
        vars(options).update(chosen)
    return 0


@dataclass(frozen=True)
class Store:
    """What the store holds."""

    snapshots: dict[str, list[tuple[int, bool, str]]]
    """System -> (id, complete, its problems as JSON) of each snapshot, oldest first."""
    failures: dict[str, list[str]]
    """System -> the reasons of its failed collects."""
    open_findings: dict[str, tuple[str, str | None]]
    """Finding id -> (rule, employee id)."""
    resolved: list[str]


def read_store(config: Path) -> Store:
    with sqlite3.connect(config.parent / "iam-gov.db") as conn:
        snapshots: dict[str, list[tuple[int, bool, str]]] = {}
        for system, sid, complete, errors in conn.execute(
            "SELECT system, id, complete, errors FROM snapshots ORDER BY id"
        ):
            snapshots.setdefault(system, []).append((sid, bool(complete), errors))
        failures: dict[str, list[str]] = {}
        for system, reason in conn.execute("SELECT system, reason FROM collect_failures"):
            failures.setdefault(system, []).append(reason)
        findings = conn.execute(
            "SELECT finding_id, rule_id, person_id, resolved_at FROM findings"
        ).fetchall()
    return Store(
        snapshots,
        failures,
        {fid: (rule, person) for fid, rule, person, resolved in findings if resolved is None},
        [fid for fid, _, _, resolved in findings if resolved is not None],
    )


@pytest.fixture(scope="module")
def baselines(
    sides: dict[str, Side], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """Each system's company after one run without faults (made once, copied by each cell)."""
    made: dict[str, Path] = {}

    def baseline(system: str) -> Path:
        if system not in made:
            side = sides[system]
            side.prepare()
            root = tmp_path_factory.mktemp(f"baseline-{system}")
            config = side.company(root, None)
            code = iam_gov(config, "run")
            assert code == 1, f"the first run finds the planted problems, exit {code}"
            made[system] = root
        return made[system]

    return baseline


def holds(text: str, words: tuple[str, ...]) -> None:
    for word in words:
        assert word in text, f"{word!r} not in {text!r}"


def counted(hits: Hits, expect: Expect) -> None:
    """The faulty endpoint met a bounded number of requests: the collect ended."""
    if expect.requests is not None:
        assert hits.hits == expect.requests
    if expect.at_most is not None:
        assert 1 <= hits.hits <= expect.at_most


# --- the matrix ---------------------------------------------------------------------------------

LASTING = [(s, f) for s, f in CELLS if EXPECTED[s][f].outcome != "complete"]
TRANSIENT = [(s, f) for s, f in CELLS if EXPECTED[s][f].outcome == "complete"]


@pytest.mark.parametrize(("system", "fault"), LASTING)
def test_a_lasting_fault_leaves_the_system_incomplete_or_failed_and_nothing_concluded(
    system: str,
    fault: str,
    sides: dict[str, Side],
    baselines: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    """``iam-gov run`` with the fault: exit 4 or 5 with the reason stored, the requests
    bounded, the healthy system stored, no finding resolved, no action planned from the part
    that was not read."""
    side, expect = sides[system], EXPECTED[system][fault]
    root = tmp_path / "company"
    shutil.copytree(baselines(system), root, symlinks=True)
    side.prepare()
    config = side.company(root, fault)
    before = read_store(config)
    healthy = next(s for s in before.snapshots if s != side.name)

    hits = side.inject(fault)
    try:
        code = iam_gov(config, "run")
    finally:
        side.prepare()
    after = read_store(config)

    counted(hits, expect)
    assert code == (4 if expect.outcome == "incomplete" else 5)
    # The healthy system was read and stored all the same.
    assert len(after.snapshots[healthy]) == len(before.snapshots[healthy]) + 1
    assert after.snapshots[healthy][-1][1]
    kept = before.snapshots[side.name][-1]
    if expect.outcome == "incomplete":
        sid, complete, problems = after.snapshots[side.name][-1]
        assert sid != kept[0] and not complete
        holds(problems, expect.reason)
        assert after.failures.get(side.name, []) == []
    else:
        assert after.snapshots[side.name] == before.snapshots[side.name]  # nothing stored
        [reason] = after.failures[side.name]
        holds(reason, expect.reason)
    # No finding is resolved, that about someone on the part not read included.
    assert after.resolved == []
    assert set(before.open_findings) <= set(after.open_findings)
    assert side.unread in before.open_findings.values()

    plan_file = tmp_path / "plan.json"
    assert iam_gov(config, "deprovision", side.leaver, "--reason", "left", "--plan-out",
                   str(plan_file)) in (0, 1)  # fmt: skip
    plan = json.loads(plan_file.read_text(encoding="utf-8"))
    [person] = plan["people"]
    assert (person["employee_id"], person["left"]) == (side.leaver, True)
    own = [s for s in plan["steps"] if s["action"]["system"] == side.name]
    if expect.outcome == "incomplete":
        # Nothing is done on data that may be missing the leaver's accounts, and the plan says
        # so even where the leaver's account was on the part not read.
        assert all("incomplete" in (s["skip"] or "") for s in own)
        assert any(p.startswith(f"{side.name}: the latest snapshot") and "incomplete" in p
                   for p in plan["problems"])  # fmt: skip
    elif side.name != "hr":
        # From the snapshot before the failed collect, never from the failed one.
        bases = {b["system"]: b["snapshot_id"] for b in plan["basis"]}
        assert bases.get(side.name, kept[0]) == kept[0]


@pytest.mark.parametrize(("system", "fault"), TRANSIENT)
def test_a_transient_fault_mended_by_a_retry_gives_the_same_snapshot(
    system: str, fault: str, sides: dict[str, Side]
) -> None:
    """Within the retry budget: complete, and equal to the snapshot without the fault."""
    side = sides[system]
    side.prepare()
    clean = side.connector(None).collect()
    hits = side.inject(fault)
    try:
        mended = side.connector(fault).collect()
    finally:
        side.prepare()

    counted(hits, EXPECTED[system][fault])
    assert mended.complete, mended.errors
    assert clean.complete
    assert mended.model_dump() == clean.model_dump()


# --- Okta under its rate limit ----------------------------------------------------------------


def test_a_2000_user_okta_collect_keeps_to_the_rate_limit_and_loses_no_page(
    environment: None,
) -> None:
    """Every endpoint of the local Okta allows 20 requests a second, says so in Okta's headers
    and answers 429 past it: no window sees more, no 429 comes back, every user and group
    membership is read. (Without the per-user factor calls; all of it, for 100,000 users:
    benchmarks/okta_rate_limited_collect.py.)"""
    limit = 20
    org = generate(2000, groups=20, apps=4)
    with OktaServer(org, rate_limit=limit, window=1.0, max_page=100, record=False) as server:
        options = OktaSide(server).options(None) | {"concurrency": 8}
        connector = OktaConnector(
            "okta", OktaOptions.model_validate(options | {"collect_factors": False})
        )
        snapshot = connector.collect()

    assert snapshot.complete, snapshot.errors[:3]
    assert server.throttled == 0
    # The limit bound (the busiest endpoint needed several windows and used most of each)
    # and was never overrun.
    assert limit // 2 < max(server.peaks.values()) <= limit
    assert server.pages_served > 3 * limit
    assert {a.native_id for a in snapshot.accounts} == set(org.users)
    memberships = {
        (g.account_id, g.entitlement_id)
        for g in snapshot.grants
        if g.entitlement_id in org.groups and g.via is None
    }
    assert memberships == {(u, g.id) for g in org.groups.values() for u in g.members}
