"""The evaluated state: what rules see (``state``), and how it is loaded from the store
(``load``). Running the rules over it is ``iam_gov.evaluation``, a layer above the rules."""

from iam_gov.engine.load import STALE_AFTER_DAYS, LoadedState, load_state
from iam_gov.engine.state import EvaluationState, SystemView, build_view

__all__ = [
    "STALE_AFTER_DAYS",
    "EvaluationState",
    "LoadedState",
    "SystemView",
    "build_view",
    "load_state",
]
