"""Fixed task weights: the baseline every other method is compared against."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from taskgroup.errors import InvalidInputError
from taskgroup.weighting.base import WEIGHTINGS, StepContext, WeightingMethod


@WEIGHTINGS.register("uniform")
class Uniform(WeightingMethod):
    """Minimise ``sum_i w_i L_i`` with fixed weights (default 1 for every task), as in the
    equal-weight baseline of Standley et al., "Which Tasks Should Be Learned Together in
    Multi-task Learning?", ICML 2020.

    Options: ``weights`` maps task names to non-negative weights; tasks left out weigh 1.
    """

    loss_only = True

    def __init__(self, tasks: Sequence[str], *, weights: Mapping[str, float] | None = None) -> None:
        super().__init__(tasks)
        given = dict(weights or {})
        for task, weight in given.items():
            if task not in self.tasks:
                raise InvalidInputError(
                    f"weight given for task {task!r}, which is not one of {', '.join(self.tasks)}"
                )
            if not float(weight) >= 0.0 or float(weight) == float("inf"):
                raise InvalidInputError(f"weight of task {task!r} must be finite and >= 0, got {weight}")
        self.weights = {task: float(given.get(task, 1.0)) for task in self.tasks}

    def backward(
        self,
        losses: Mapping[str, Tensor],
        shared_parameters: Sequence[Tensor],
        context: StepContext,
    ) -> dict[str, float]:
        ordered = self.ordered_losses(losses)
        total = torch.stack([self.weights[task] * loss for task, loss in zip(self.tasks, ordered, strict=True)]).sum()
        total.backward()
        return dict(self.weights)
