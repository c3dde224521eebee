"""Deprovisioning a leaver with a live OpenVPN session, end to end on a real server in a
private network namespace: collect, evaluate, plan, apply, verify. The plan revokes her
certificate; the run ends her session, the server refuses her certificate when her client
reconnects, and bob, who stays, is never disturbed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from iam_gov.collect import build_connector, collect
from iam_gov.config import load_config
from iam_gov.connectors import Connector
from iam_gov.connectors.openvpn.connector import OpenVPNConnector
from iam_gov.deprovision.executor import Executor
from iam_gov.deprovision.planner import Request, make_plan
from iam_gov.evaluation import evaluate
from iam_gov.model import AccountStatus, Action, ActionKind, ActionResult, SystemSnapshot
from iam_gov.policy import load_policy
from iam_gov.rules import all_rules
from iam_gov.store import Store
from iam_gov.store.snapshots import latest_snapshots, load_snapshot
from iam_gov.timeutil import utcnow
from tests.connectors.openvpn.test_live import PASSWORD_VARIABLE, REVOKED, Lab, lab
from tests.support.openvpn_server import NetworkNamespace

__all__ = ["lab"]  # the fixture, shared with tests/connectors/openvpn/test_live.py

SYSTEM = "vpn-prod"

WORKERS = """\
Employee_ID,Legal_Name,Email_Address,Supervisory_Organization,Business_Title,\
Manager_Employee_ID,Worker_Type,Worker_Status,Hire_Date,Termination_Date
E001,Alice Archer,alice@example.com,Engineering,Engineer,,Employee,Terminated,2021-03-01,2025-01-31
E002,Bob Baker,bob@example.com,Engineering,Engineer,,Employee,Active,2021-03-01,
"""


class InNamespace(Connector[Any]):
    """The real connector, its ``collect`` and ``apply`` run in the lab's namespace, where the
    management interface's 127.0.0.1 is the server's.

    The namespace is a worker thread of its own (``unshare`` moves only the calling thread,
    and threads inherit the namespace of the thread that starts them): the executor's
    ``action`` thread, started from the test's thread, is outside it. ``namespace.run``
    only hands the call to the namespace's thread and waits for it (``submit().result()``),
    which works from any thread, the executor's included."""

    type_name = OpenVPNConnector.type_name
    options_model = OpenVPNConnector.options_model
    permissions = OpenVPNConnector.permissions
    capabilities = OpenVPNConnector.capabilities

    def __init__(self, inner: Connector[Any], namespace: NetworkNamespace) -> None:
        super().__init__(inner.system, inner.options, clock=inner.clock)
        self.inner = inner
        self.namespace = namespace

    def collect(self) -> SystemSnapshot:
        return self.namespace.run(self.inner.collect)

    def apply(self, action: Action) -> ActionResult:
        return self.namespace.run(self.inner.apply, action)


def write_company(lab: Lab, root: Path, store_url: str) -> Path:
    """HR (alice gone, bob here), an empty policy, and the lab's OpenVPN server read live;
    the identity mapping says whose certificates alice's and bob's are."""
    root.mkdir()
    (root / "workers.csv").write_text(WORKERS)
    (root / "policy.yaml").write_text("version: 1\nroles: []\n")
    (root / "vpn-identities.yaml").write_text(
        "identities:\n  - cn: alice\n    employee_id: E001\n  - cn: bob\n    employee_id: E002\n"
    )
    toml = root / "iam-gov.toml"
    toml.write_text(
        f"""\
[store]
url = "{store_url}"

[policy]
path = "policy.yaml"

[deprovision]
max_snapshot_age_hours = 1000000

[systems.hr]
type = "hr"
path = "workers.csv"
preset = "workday"

[systems.{SYSTEM}]
type = "openvpn"
pki_dir = "{lab.demo.pki.dir}"
server_conf = "{lab.server.conf_path}"
management = "{lab.server.management}"
management_password = {{ env = "{PASSWORD_VARIABLE}" }}
mapping = "vpn-identities.yaml"
"""
    )
    return toml


def wait_for_status_to_list(lab: Lab, *names: str) -> None:
    """Until the server's status file (rewritten every second) lists exactly ``names``: read
    whole only (up to its ``END`` line), so that a file caught being rewritten is no answer."""
    deadline = time.monotonic() + 10
    while True:
        path = lab.server.status_path
        lines = path.read_text().splitlines() if path.exists() else []
        listed = {line.split(",")[1] for line in lines if line.startswith("CLIENT_LIST,")}
        if "END" in lines and listed == set(names):
            return
        assert time.monotonic() < deadline, f"the status file lists {listed}, not {names}"
        time.sleep(0.1)


def test_a_leavers_live_session_ends_and_her_certificate_is_refused(
    lab: Lab, tmp_path: Path
) -> None:
    alice = lab.server.client("alice")
    bob = lab.server.client("bob")
    alice.wait_connected()
    bob.wait_connected()
    lab.wait_for_status("alice", "bob")
    url = f"sqlite:///{tmp_path / 'iam-gov.db'}"
    config = load_config(write_company(lab, tmp_path / "company", url))
    policy = load_policy(config.policy.path, rules=all_rules())

    def factory(system: str, options: Any) -> Connector[Any]:
        built = build_connector(system, options)
        return InNamespace(built, lab.namespace) if options.type == "openvpn" else built

    with Store.open(url) as store:
        collect(config, store, factory=factory)
        evaluate(store, config, policy, now=utcnow())
        plan = make_plan(
            store,
            config,
            policy,
            Request(who=["E001"], reason="left", trigger="cli", actor="it@example.com"),
            now=utcnow(),
        )
        # One step: revoke alice's certificate on the VPN, not skipped (HR is not acted on).
        assert [
            (s.action.system, s.action.kind, s.action.account_id, s.skip) for s in plan.steps
        ] == [(SYSTEM, ActionKind.DISABLE_ACCOUNT, "alice", None)], plan.problems
        assert plan.problems == []
        assert [(p.employee_id, p.left) for p in plan.people] == [("E001", True)]

        run = Executor(store, config, actor="it@example.com", factory=factory).apply(plan)

        with store.reading() as conn:
            verified = load_snapshot(conn, latest_snapshots(conn)[SYSTEM].id)
    outcomes = [(r.step.action.system, r.outcome, r.message) for r in run.results]
    assert run.status == "done", (outcomes, run.still_present, run.unverified)
    assert run.still_present == [] and run.unverified == []
    [vpn] = run.results
    assert vpn.outcome == "done"
    assert vpn.message == (
        f"Revoked certificate {lab.demo.serials['alice']} (revoke alice), regenerated the CRL, "
        f"installed the CRL at {lab.server.crl_path} and ended alice's live sessions through "
        "the management interface."
    )
    # Verification read the server again, live: alice is off and not connected, bob is on.
    accounts = {a.native_id: a for a in verified.accounts}
    assert verified.source == "live"
    assert accounts["alice"].status is AccountStatus.DISABLED
    assert "connected" not in accounts["alice"].attributes
    assert accounts["bob"].attributes["connected"] == "true"
    # Killed, her client reconnected at once, and the server refused her certificate.
    assert alice.wait_exit() != 0
    refused = REVOKED.findall(lab.server.log())
    assert refused and set(refused) == {"alice"}
    assert alice.log().count("Initialization Sequence Completed") == 1  # never again
    wait_for_status_to_list(lab, "bob")
    # bob was never disturbed: still his first session.
    assert bob.process.poll() is None
    assert bob.log().count("Initialization Sequence Completed") == 1
