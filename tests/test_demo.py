"""The bundled demo company: it is what the generator writes, and the run finds what was planted."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iam_gov.collect import collect
from iam_gov.config import DATABASE_URL_ENV, database_url, load_config
from iam_gov.evaluation import evaluate
from iam_gov.policy import load_policy
from iam_gov.rules import all_rules
from iam_gov.samplegen import generate
from iam_gov.store import Store

DEMO = Path(__file__).resolve().parent.parent / "samples" / "demo"
# How samples/demo was made: `iam-gov samples generate --out samples/demo --people 50 --seed 7
# --store ../../.demo/iam-gov.db` with the export dated 2026-11-27 09:00 UTC (so that the demo
# does not age); `make demo` keeps its store in .demo/ at the top of the repository.
DEMO_AS_OF = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
DEMO_STORE = "../../.demo/iam-gov.db"


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_the_demo_names_its_store_where_make_demo_keeps_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """So that the commands `make demo` prints next work as printed, with nothing exported."""
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    config = load_config(DEMO / "iam-gov.toml")

    assert database_url(config) == f"sqlite:///{DEMO.parent.parent / '.demo' / 'iam-gov.db'}"


def test_the_bundled_demo_is_exactly_what_the_generator_writes(tmp_path: Path) -> None:
    generate(tmp_path, people=50, seed=7, as_of=DEMO_AS_OF, store=DEMO_STORE)
    committed = {k: v for k, v in files(DEMO).items() if not k.startswith(".")}
    assert committed == files(tmp_path)


@pytest.mark.parametrize("people, seed", [(50, 7), (400, 11)])
def test_every_planted_problem_is_found(
    store: Store, tmp_path: Path, people: int, seed: int
) -> None:
    if (people, seed) == (50, 7):
        company = DEMO
    else:
        company = tmp_path / "company"
        generate(company, people=people, seed=seed, as_of=DEMO_AS_OF)
    planted = json.loads((company / "planted.json").read_text())
    systems = {p["system"] for p in planted} - {""}  # "": about a person across systems
    assert systems == set(load_config(company / "iam-gov.toml").systems) - {"hr"}
    assert {p["rule_id"] for p in planted} >= {
        "leaver-active-access",
        "orphan-account",
        "excess-access",
        "dormant-account",
        "stale-access-key",
        "mfa-missing",
    }
    config = load_config(company / "iam-gov.toml")
    collect(config, store)
    report = evaluate(store, config, load_policy(config.policy.path, rules=all_rules()))
    found = {(f.rule_id, f.system, f.evidence.get("account_login")) for f in report.findings}
    found |= {(f.rule_id, f.system or "", "") for f in report.findings}  # "": any one of them
    # one finding per shared cause (a group, identical inline policies …) lists every account
    found |= {
        (f.rule_id, f.system, principal["login"])
        for f in report.findings
        for principal in f.evidence.get("principals", ())
    }
    missing = [p for p in planted if (p["rule_id"], p["system"], p["login"]) not in found]
    assert missing == []
    assert report.warnings == [] or all("days old" in w for w in report.warnings)
