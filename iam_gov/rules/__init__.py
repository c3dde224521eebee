"""Least-privilege rules: one module each, registered with their metadata on import."""

from __future__ import annotations

import importlib
import pkgutil

from iam_gov.rules.registry import Evidence, Hit, Rule, RuleParams, registered_rules, rule

_loaded = False


def all_rules() -> dict[str, Rule]:
    """Every rule shipped with iam-gov, by id (modules are imported on first use)."""
    global _loaded
    if not _loaded:
        for module in pkgutil.iter_modules(__path__):
            if module.name != "registry":
                importlib.import_module(f"{__name__}.{module.name}")
        _loaded = True
    return registered_rules()


__all__ = ["Evidence", "Hit", "Rule", "RuleParams", "all_rules", "rule"]
