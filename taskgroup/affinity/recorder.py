"""Averaging lookahead measurements over a training run into one affinity matrix.

`AffinityRecorder` is the training engine's step hook: called with a candidate run and the batch it
is about to step on, it measures every `every`-th step (from the parameters before that step, as in
Fifty et al.) and keeps a running sum, so memory does not grow with the length of training. The
sum is checkpointed with the run (`state_dict`), so an interrupted measurement resumes, not restarts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from taskgroup.affinity.frame import affinity_frame
from taskgroup.affinity.lookahead import lookahead_affinity
from taskgroup.errors import InvalidInputError
from taskgroup.training.run import CandidateRun


class AffinityRecorder:
    """Measures lookahead affinities every `every` steps of one candidate and averages them.

    `lr_scale` multiplies the optimizer's current learning rate for the lookahead step (1.0: the
    optimiser's rate, as in the paper).
    """

    def __init__(self, every: int = 10, lr_scale: float = 1.0) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise InvalidInputError(f"lookahead interval must be a positive integer number of steps, got {every!r}")
        if not lr_scale > 0:
            raise InvalidInputError(f"lookahead lr_scale must be a positive number, got {lr_scale!r}")
        self.every = every
        self.lr_scale = lr_scale
        self.tasks: list[str] = []
        self.size: str | None = None
        self.measurements = 0
        self._sum: Tensor | None = None

    def __call__(self, run: CandidateRun, batch: Mapping[str, Tensor], step: int) -> None:
        """The engine's step hook: measure on `batch` when `step` is due."""
        if step % self.every != 0:
            return
        # A measurement is of a training step, so batch norm uses the batch's statistics even where
        # the hook runs right after validation left the model in eval mode (the first step of an epoch).
        was_training = run.model.training
        run.model.train()
        try:
            names, matrix = lookahead_affinity(
                run.model, run.model.shared_parameters(), batch, run.losses, run.lr * self.lr_scale
            )
        finally:
            run.model.train(was_training)
        self.add(names, matrix, run.size.label)

    def add(self, tasks: Sequence[str], matrix: Tensor, size: str) -> None:
        """Add one measurement (rows: source task, columns: target task)."""
        if self._sum is None:
            self.tasks, self.size, self._sum = list(tasks), size, torch.zeros_like(matrix, dtype=torch.float64)
        elif list(tasks) != self.tasks or size != self.size:
            raise InvalidInputError("one affinity recorder measures one candidate; got a second one")
        self._sum += matrix.to(torch.float64)
        self.measurements += 1

    def mean(self) -> Tensor:
        """The average affinity matrix so far."""
        if self._sum is None:
            raise InvalidInputError("no lookahead measurement was taken; train for more steps or lower the interval")
        return self._sum / self.measurements

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps: the settings (a resumed run must measure the same way) and the sum."""
        return {
            "every": self.every, "lr_scale": self.lr_scale, "tasks": list(self.tasks), "size": self.size,
            "measurements": self.measurements, "sum": None if self._sum is None else self._sum.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint taken with the same interval and step size."""
        if state["every"] != self.every or state["lr_scale"] != self.lr_scale:
            raise InvalidInputError(
                f"the checkpointed measurement took a lookahead step every {state['every']} steps at lr scale "
                f"{state['lr_scale']:g}, now every {self.every} at {self.lr_scale:g}; use the same settings or a "
                "fresh checkpoint directory"
            )
        self.tasks, self.size, self.measurements = list(state["tasks"]), state["size"], int(state["measurements"])
        self._sum = None if state["sum"] is None else state["sum"].to(torch.float64)

    def frame(self) -> pd.DataFrame:
        """The average matrix in long form (AFFINITY_COLUMNS)."""
        return affinity_frame(self.tasks, self.mean().tolist(), self.size or "")

