"""The lookahead job: train one network with all tasks and measure task affinities along the way."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch.utils.data import Dataset

from taskgroup.affinity.recorder import AffinityRecorder
from taskgroup.errors import InvalidInputError
from taskgroup.models import SizeSpec
from taskgroup.training.config import TrainConfig
from taskgroup.training.engine import ProgressCallback, train_runs
from taskgroup.training.outcome import TrainOutcome

MEASUREMENTS_PER_TASK_STEP = 4
"""The default interval is this many steps per task: a measurement costs about one forward and one
backward per task (see docs/lookahead.md), so measuring every 4n steps keeps the overhead near 30%
of plain training whatever the number of tasks n."""


def default_interval(task_count: int) -> int:
    """Steps between lookahead measurements when none is given."""
    return MEASUREMENTS_PER_TASK_STEP * task_count


@dataclass(frozen=True)
class AffinityMeasurement:
    """The averaged affinity matrix (long form, `AFFINITY_COLUMNS`), how many lookahead measurements
    it averages, and the all-task network's ordinary training outcome (its losses are real results)."""

    affinity: pd.DataFrame
    measurements: int
    outcome: TrainOutcome


def measure_affinity(
    tasks: Sequence[str],
    size: SizeSpec,
    splits: Mapping[str, Dataset],
    device: str | torch.device,
    config: TrainConfig,
    *,
    every: int | None = None,
    lr_scale: float = 1.0,
    stage: str = "full",
    progress: ProgressCallback | None = None,
    checkpoint_dir: Path | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> AffinityMeasurement:
    """Train the network of all `tasks` at `size` as usual and, every `every` steps (default
    `default_interval`), take a lookahead step per task (see `lookahead.py`); return the affinities
    averaged over training (the first step is always measured).

    The training itself is unchanged by the measurement: the outcome equals `train_candidate`'s.
    With `checkpoint_dir`, the run and the running affinity sums are checkpointed together every
    epoch and when `should_stop` asks (raising `TrainingInterrupted`); calling again with the same
    directory resumes, and a finished measurement is returned at once.
    """
    if len(set(tasks)) < 2:
        raise InvalidInputError(f"affinity needs at least two tasks, got {', '.join(tasks) or 'none'}")
    recorder = AffinityRecorder(every=every or default_interval(len(set(tasks))), lr_scale=lr_scale)
    [outcome] = train_runs(
        [(tasks, size)], splits, device, config, stage=stage, progress=progress, step_hook=recorder,
        checkpoint_dirs=[checkpoint_dir], should_stop=should_stop,
    )
    return AffinityMeasurement(affinity=recorder.frame(), measurements=recorder.measurements, outcome=outcome)
