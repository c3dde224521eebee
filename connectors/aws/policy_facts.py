"""What an IAM policy grants, judged from its document alone: shared by the account, the
organization and the Identity Center parts of the AWS connector."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PRIVILEGED_AWS_POLICY = re.compile(
    r"^arn:aws[a-z-]*:iam::aws:policy/(AdministratorAccess|IAMFullAccess)$"
)
"""The AWS managed policies that make their holder an administrator."""


def grants_everything(document: Mapping[str, Any]) -> bool:
    """An Allow of ``*`` or ``iam:*`` on every resource: whoever holds it can do anything,
    or give themselves anything."""
    statements = document.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        return False
    for statement in statements:
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        actions = {a.lower() for a in _strings(statement.get("Action"))}
        if actions & {"*", "iam:*"} and "*" in _strings(statement.get("Resource")):
            return True
    return False


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []
