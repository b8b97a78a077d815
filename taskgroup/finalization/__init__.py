"""Active finalization: train what an estimator chose, re-solve with the real losses, repeat."""

from taskgroup.finalization.active import (
    ActiveFinalization,
    MeasuredFirst,
    NetworkKey,
    Trainer,
    choose_with_known,
    deployable_choices,
    feasible_budgets,
    finalize_actively,
    known_selector,
    untrained,
)
from taskgroup.finalization.explore import Exploration, next_to_explore

__all__ = [
    "ActiveFinalization", "Exploration", "MeasuredFirst", "NetworkKey", "Trainer", "choose_with_known",
    "deployable_choices", "feasible_budgets", "finalize_actively", "known_selector", "next_to_explore", "untrained",
]
