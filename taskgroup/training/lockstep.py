"""Train many candidates in one process on one stream of batches."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset

from taskgroup.training.config import TrainConfig
from taskgroup.training.engine import Candidate, ProgressCallback, train_runs
from taskgroup.training.outcome import TrainOutcome


def train_lockstep(
    candidates: Sequence[Candidate],
    splits: Mapping[str, Dataset],
    device: str | torch.device,
    config: TrainConfig,
    *,
    stage: str = "full",
    checkpoint_dirs: Sequence[Path | None] | None = None,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[TrainOutcome]:
    """Train every `(tasks, size)` candidate on the same batches: each batch is loaded and moved to
    `device` once for all of them. Candidates whose networks have the same shapes and whose weighting
    method depends on the losses only are batched into one vectorised network (`torch.func.vmap`);
    the others (different shapes, or gradient methods such as PCGrad and MGDA-UB) take their step one
    after another on the same batch. Each outcome equals what `train_candidate` returns for that
    candidate with the same config, up to floating-point noise.

    A candidate that stops early leaves the group; the others continue. With `checkpoint_dirs` (one
    per candidate), candidates are checkpointed and resumed as in `train_candidate`.
    """
    return train_runs(
        candidates,
        splits,
        device,
        config,
        stage=stage,
        checkpoint_dirs=checkpoint_dirs,
        progress=progress,
        should_stop=should_stop,
    )
