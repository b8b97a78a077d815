"""Achievement-based weighting: slow down tasks that are close to their single-task accuracy."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from taskgroup.errors import InvalidInputError
from taskgroup.weighting.base import WEIGHTINGS, StepContext, WeightingMethod

_SMALLEST_WEIGHT = 1e-3  # a task at or past its single-task accuracy keeps a little weight
_SMALLEST_LOSS = 1e-12  # log of the loss must stay finite


@WEIGHTINGS.register("achievement")
class AchievementWeighting(WeightingMethod):
    """Yun and Cho, "Achievement-Based Training Progress Balancing for Multi-Task Learning",
    ICCV 2023.

    A task's achievement is its current KPI ``acc_t`` (in [0, 1], from the trainer) divided by its
    single-task accuracy ``p_t`` (the ``potentials`` option). Its weight is the focal term
    ``(1 - acc_t / p_t)^gamma`` (floored at a small positive value once a task reaches ``p_t``), and
    the loss is the weighted geometric mean ``exp(sum_t w_t log L_t / sum_t w_t)`` rather than a
    weighted sum, so no task dominates through the scale of its loss.

    Options: ``potentials`` (task -> single-task accuracy in (0, 1], required for every task),
    ``gamma`` (default 1.0).
    """

    loss_only = True

    needs_kpis = True

    def __init__(
        self, tasks: Sequence[str], *, potentials: Mapping[str, float] | None = None, gamma: float = 1.0
    ) -> None:
        super().__init__(tasks)
        given = dict(potentials or {})
        for task in self.tasks:
            if task not in given:
                raise InvalidInputError(
                    f"achievement weighting needs the single-task accuracy of task {task!r} (option potentials)"
                )
            if not 0.0 < float(given[task]) <= 1.0:
                raise InvalidInputError(
                    f"single-task accuracy of task {task!r} must lie in (0, 1], got {given[task]}"
                )
        extra = sorted(set(given) - set(self.tasks))
        if extra:
            raise InvalidInputError(f"potential given for task {extra[0]!r}, which is not one of {', '.join(self.tasks)}")
        if not float(gamma) >= 0.0:
            raise InvalidInputError(f"achievement gamma must be >= 0, got {gamma}")
        self.potentials = {task: float(given[task]) for task in self.tasks}
        self.gamma = float(gamma)

    def focal_weight(self, task: str, kpi: float) -> float:
        """``(1 - acc / p)^gamma`` for one task, at least a small positive floor."""
        shortfall = max(0.0, 1.0 - kpi / self.potentials[task])
        return max(shortfall**self.gamma, _SMALLEST_WEIGHT)

    def backward(
        self,
        losses: Mapping[str, Tensor],
        shared_parameters: Sequence[Tensor],
        context: StepContext,
    ) -> dict[str, float]:
        ordered = self.ordered_losses(losses)
        kpis = self.ordered_kpis(context)
        weights = [self.focal_weight(task, kpi) for task, kpi in zip(self.tasks, kpis, strict=True)]
        log_losses = torch.stack([torch.log(loss.clamp_min(_SMALLEST_LOSS)) for loss in ordered])
        exponents = torch.tensor(weights, dtype=log_losses.dtype, device=log_losses.device) / math.fsum(weights)
        total = torch.exp((exponents * log_losses).sum())
        total.backward()
        return self.as_weights(weights)
