"""What a run reports of each step, shared by the executor and the verification."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from iam_gov.connectors import Connector

from .plan import Step

ConnectorFactory = Callable[[str, Any], Connector[Any]]
"""Builds a system's connector from its name and options (default: the registry's)."""


@dataclass(frozen=True)
class StepResult:
    step: Step
    outcome: str
    """done, noop, failed, skipped."""
    message: str
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)
