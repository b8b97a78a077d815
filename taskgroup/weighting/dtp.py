"""Dynamic Task Prioritization: focus training on the tasks that are currently performing worst."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from taskgroup.errors import InvalidInputError
from taskgroup.weighting.base import WEIGHTINGS, StepContext, WeightingMethod

_SMALLEST_KPI = 1e-6  # keeps -log(k) finite for a task whose KPI is still 0


@WEIGHTINGS.register("dtp")
class DynamicTaskPrioritization(WeightingMethod):
    """Guo, Haque, Huang, Yeung and Fei-Fei, "Dynamic Task Prioritization for Multitask Learning",
    ECCV 2018 (task-level prioritisation).

    Each task's KPI ``k_t`` (in [0, 1], higher is better, given by the trainer every step) is smoothed
    by an exponential moving average ``kbar_t <- alpha * k_t + (1 - alpha) * kbar_t`` (started at the
    first KPI seen), and the task's weight is the focal term ``-(1 - kbar_t)^gamma * log(kbar_t)``:
    it falls as the task gets better, so hard tasks dominate the summed loss. The average is a
    buffer, saved with the method's ``state_dict``.

    Options: ``gamma`` (focusing strength, default 1.0), ``alpha`` (weight of the newest KPI in the
    moving average, default 0.1).
    """

    loss_only = True

    needs_kpis = True

    def __init__(self, tasks: Sequence[str], *, gamma: float = 1.0, alpha: float = 0.1) -> None:
        super().__init__(tasks)
        if not float(gamma) >= 0.0:
            raise InvalidInputError(f"dtp gamma must be >= 0, got {gamma}")
        if not 0.0 < float(alpha) <= 1.0:
            raise InvalidInputError(f"dtp alpha must lie in (0, 1], got {alpha}")
        self.gamma = float(gamma)
        self.alpha = float(alpha)
        self.register_buffer("kpi_average", torch.zeros(len(self.tasks), dtype=torch.float64))
        self.register_buffer("started", torch.zeros((), dtype=torch.bool))

    def focal_weight(self, kpi: float) -> float:
        """``-(1 - k)^gamma * log(k)`` for one smoothed KPI."""
        kpi = max(kpi, _SMALLEST_KPI)
        return -((1.0 - kpi) ** self.gamma) * math.log(kpi)

    def backward(
        self,
        losses: Mapping[str, Tensor],
        shared_parameters: Sequence[Tensor],
        context: StepContext,
    ) -> dict[str, float]:
        ordered = self.ordered_losses(losses)
        kpis = torch.tensor(self.ordered_kpis(context), dtype=torch.float64, device=self.kpi_average.device)
        if bool(self.started):
            self.kpi_average.mul_(1.0 - self.alpha).add_(self.alpha * kpis)
        else:
            self.kpi_average.copy_(kpis)
            self.started.fill_(True)
        weights = [self.focal_weight(kpi) for kpi in self.kpi_average.tolist()]
        total = torch.stack([weight * loss for weight, loss in zip(weights, ordered, strict=True)]).sum()
        total.backward()
        return self.as_weights(weights)
