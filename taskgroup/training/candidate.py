"""Train one candidate network."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset

from taskgroup.models import SizeSpec
from taskgroup.training.config import TrainConfig
from taskgroup.training.engine import ProgressCallback, train_runs
from taskgroup.training.outcome import TrainOutcome


def train_candidate(
    tasks: Sequence[str],
    size: SizeSpec,
    splits: Mapping[str, Dataset],
    device: str | torch.device,
    config: TrainConfig,
    *,
    stage: str = "full",
    checkpoint_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainOutcome:
    """Train the network for `tasks` at `size` on `splits["train"]` and report, per task, the
    validation loss of its best checkpoint (lowest summed validation loss) and that checkpoint's test
    loss, with the learning curve.

    `stage="early"` runs the same schedule cut after `config.stage_fraction` of the full run's steps.
    With `checkpoint_dir`, the run checkpoints every epoch and resumes from the directory's
    checkpoint; a finished run's checkpoint returns its outcome at once. `progress(done, total)` is
    called after every step; when `should_stop()` returns True between steps, the run checkpoints and
    raises `TrainingInterrupted`. A NaN or infinite loss raises `DivergenceError`.
    """
    return train_runs(
        [(tasks, size)],
        splits,
        device,
        config,
        stage=stage,
        checkpoint_dirs=[checkpoint_dir],
        progress=progress,
        should_stop=should_stop,
    )[0]
