"""Least-privilege rules: one module each, registered with their metadata on import."""

from __future__ import annotations

from iam_gov.rules.registry import RULES, Evidence, Hit, Rule, RuleParams, rule


def all_rules() -> dict[str, Rule]:
    """Every rule, by id: iam-gov's own and those of installed packages (entry point
    ``iam_gov.rules``); modules are imported on first use."""
    return RULES.all()


__all__ = ["RULES", "Evidence", "Hit", "Rule", "RuleParams", "all_rules", "rule"]
