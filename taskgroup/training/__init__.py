"""Training candidates: one at a time (`train_candidate`) or many in lockstep (`train_lockstep`),
at the `full` or `early` (ESA) stage, with atomic checkpoints and exact resume.

The options and outcomes are plain data; the training itself needs torch and is imported on first
use (lazy_loader), so commands that only read or check options start without loading it.
"""

import lazy_loader

from taskgroup.training.config import INITS, STAGES, TrainConfig
from taskgroup.training.outcome import EpochRecord, TrainOutcome

__getattr__, _, _ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "candidate": ["train_candidate"],
        "engine": ["TrainingInterrupted"],
        "lockstep": ["train_lockstep"],
    },
)

__all__ = [
    "INITS",
    "STAGES",
    "EpochRecord",
    "TrainConfig",
    "TrainOutcome",
    "TrainingInterrupted",
    "train_candidate",
    "train_lockstep",
]
