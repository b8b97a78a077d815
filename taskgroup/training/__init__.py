"""Training candidates: one at a time (`train_candidate`) or many in lockstep (`train_lockstep`),
at the `full` or `early` (ESA) stage, with atomic checkpoints and exact resume."""

from taskgroup.training.candidate import train_candidate
from taskgroup.training.config import INITS, STAGES, TrainConfig
from taskgroup.training.engine import TrainingInterrupted
from taskgroup.training.lockstep import train_lockstep
from taskgroup.training.outcome import EpochRecord, TrainOutcome

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
