"""The rule registry: every rule carries its metadata and docs, and the policy tunes rules."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import iam_gov.rules
from iam_gov.evaluation import finding_id
from iam_gov.model import AccountStatus, Severity
from iam_gov.rules import Rule, all_rules
from iam_gov.rules.registry import RULE_ID, Hit, RuleParams, rule, setting_descriptions
from tests.support.world import World, account, days_ago, password, person

RULES_DIR = Path(iam_gov.rules.__file__).parent
NOT_RULES = {"__init__", "registry", "_common"}
RULES = all_rules()


def rule_modules() -> list[str]:
    return sorted(p.stem for p in RULES_DIR.glob("*.py") if p.stem not in NOT_RULES)


def test_every_rule_module_registers_a_rule() -> None:
    modules = rule_modules()
    defined_in = {r.check.__module__.rsplit(".", 1)[-1] for r in RULES.values()}

    assert modules  # the walk found the rules folder
    assert set(modules) == defined_in


@pytest.mark.parametrize("module", rule_modules())
def test_every_rule_module_has_its_test_file(module: str) -> None:
    assert (Path(__file__).parent / f"test_{module}.py").is_file()


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_metadata_is_complete(rule_id: str) -> None:
    r = RULES[rule_id]

    assert r.id == rule_id
    assert RULE_ID.match(r.id)
    assert isinstance(r.severity, Severity)
    for text in (r.title, r.control, r.remediation, r.doc):
        assert text.strip()
    assert r.soc2 and all(ref.startswith("CC") for ref in r.soc2)
    assert r.iso27001 and all(ref.startswith("A.") for ref in r.iso27001)
    assert inspect.getdoc(r.check) is not None


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_params_all_have_defaults(rule_id: str) -> None:
    r = RULES[rule_id]

    assert issubclass(r.params_model, RuleParams)
    for name, field in r.params_model.model_fields.items():
        assert not field.is_required(), f"{rule_id}: parameter {name} has no default"
    assert isinstance(r.params(), r.params_model)


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_every_rule_setting_says_what_it_does(rule_id: str) -> None:
    """A description (``Field(description=…)`` or a docstring under the field) is what
    ``iam-gov rules RULE`` shows next to the setting."""
    model = RULES[rule_id].params_model
    described = setting_descriptions(model)
    assert [name for name in model.model_fields if name not in described] == []


def test_rule_params_reject_unknown_settings() -> None:
    with pytest.raises(ValueError, match="dayz"):
        RULES["dormant-account"].params({"dayz": 3})


def _noop(state: object, params: RuleParams) -> list[Hit]:
    """Finds nothing."""
    return []


def test_rule_ids_must_be_kebab_case_and_unique() -> None:
    def register(rule_id: str) -> Rule:
        return rule(
            id=rule_id,
            title="t",
            severity=Severity.LOW,
            control="c",
            soc2=("CC6.1",),
            iso27001=("A.5.15",),
            remediation="r",
        )(_noop)  # type: ignore[arg-type]

    with pytest.raises(ValueError, match="not kebab-case"):
        register("Dormant_Account")
    with pytest.raises(ValueError, match="registered twice"):
        register("dormant-account")
    assert all_rules() == RULES


# --- the policy's ``rules:`` section --------------------------------------------------------


def mixed_world() -> World:
    jane = account("jane.doe", last_login_at=days_ago(60), mfa_factors=())
    return World(
        people=[person("E1", "Jane Doe")],
        accounts=[jane, account("ghost", status=AccountStatus.DISABLED)],
        credentials=[password(jane)],
    )


def test_a_rule_can_be_disabled_in_the_policy() -> None:
    world = mixed_world()
    assert "mfa-missing" in {f.rule_id for f in world.findings()}

    world.policy_yaml = "version: 1\nrules:\n  mfa-missing: {enabled: false}\n"
    findings, skipped = world.run()

    assert skipped == {"mfa-missing": "disabled in the policy"}
    assert "mfa-missing" not in {f.rule_id for f in findings}


def test_thresholds_in_the_policy_change_what_is_found() -> None:
    world = mixed_world()
    assert {f.rule_id for f in world.findings()} == {"mfa-missing"}

    world.policy_yaml = (
        "version: 1\nrules:\n"
        "  dormant-account: {days: 30}\n"
        "  orphan-account: {include_disabled: true, enabled: true}\n"
    )

    assert {f.rule_id for f in world.findings()} == {
        "mfa-missing",
        "dormant-account",
        "orphan-account",
    }


def test_findings_come_most_severe_first_with_stable_ids() -> None:
    world = mixed_world()
    world.policy_yaml = "version: 1\nrules:\n  dormant-account: {days: 30}\n"

    first = world.findings()
    again = world.findings()

    assert [f.severity for f in first] == [Severity.HIGH, Severity.MEDIUM]
    assert [f.finding_id for f in first] == [f.finding_id for f in again]
    assert all(f.finding_id == finding_id(f.rule_id, f.subject) for f in first)
    assert len({f.finding_id for f in first}) == len(first)
