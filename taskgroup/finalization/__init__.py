"""Active finalization: train what an estimator chose, re-solve with the real losses, repeat."""

from taskgroup.finalization.active import (
    ActiveFinalization,
    MeasuredFirst,
    NetworkKey,
    Trainer,
    choose_with_known,
    finalize_actively,
    untrained,
)

__all__ = [
    "ActiveFinalization", "MeasuredFirst", "NetworkKey", "Trainer", "choose_with_known", "finalize_actively", "untrained",
]
