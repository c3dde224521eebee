"""A finding judged by another system's data too (a VPN user's second factor, held by the IdP
behind the VPN's RADIUS plugin) is not resolved while that system's data is incomplete."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from iam_gov.collect import collect
from iam_gov.config import load_config
from iam_gov.evaluation import EvaluationReport, evaluate
from iam_gov.policy import load_policy
from iam_gov.rules import all_rules
from iam_gov.samplegen import generate
from iam_gov.store import Store
from iam_gov.store.findings import list_findings
from tests.support.world import AS_OF

RULE = "vpn-without-mfa"


@pytest.fixture
def company(tmp_path: Path) -> Path:
    out = tmp_path / "company"
    generate(out, people=40, seed=3, as_of=AS_OF)
    conf = out / "openvpn" / "server.conf"
    conf.write_text(
        conf.read_text(encoding="utf-8")
        + "plugin /usr/lib/openvpn/radiusplugin.so /etc/openvpn/radiusplugin.cnf\n",
        encoding="utf-8",
    )
    for factors in (out / "okta" / "factors").iterdir():
        factors.write_text("[]\n", encoding="utf-8")  # nobody has enrolled a factor
    config = out / "iam-gov.toml"
    text = config.read_text(encoding="utf-8")
    assert "[systems.openvpn]\n" in text
    config.write_text(
        text.replace("[systems.openvpn]\n", '[systems.openvpn]\nmfa_from = "okta"\n', 1),
        encoding="utf-8",
    )
    return out


def run(store: Store, company: Path) -> EvaluationReport:
    config = load_config(company / "iam-gov.toml")
    collect(config, store)
    return evaluate(store, config, load_policy(config.policy.path, rules=all_rules()))


def test_a_vpn_finding_stays_open_while_the_idp_s_factors_are_unknown(
    store: Store, company: Path
) -> None:
    first = run(store, company)
    judged = [
        f.finding_id
        for f in first.findings
        if f.rule_id == RULE and f.system == "openvpn" and f.severity.value == "high"
    ]
    assert judged, [f.message for f in first.findings if f.rule_id == RULE]

    shutil.rmtree(company / "okta" / "factors")  # Okta's factors now unknown
    second = run(store, company)

    assert not second.snapshots["okta"].complete
    assert second.snapshots["openvpn"].complete
    with store.reading() as conn:
        still_open = {f.finding_id for f in list_findings(conn)}
    assert set(judged) <= still_open
    assert second.recorded.kept_open >= len(set(judged) - {f.finding_id for f in second.findings})
