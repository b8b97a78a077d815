"""Active finalization: train what an estimator chose, re-solve with the real losses, repeat."""

from taskgroup.finalization.active import ActiveFinalization, MeasuredFirst, Trainer, finalize_actively

__all__ = ["ActiveFinalization", "MeasuredFirst", "Trainer", "finalize_actively"]
