"""Homoscedastic-uncertainty weighting: each task's weight is learned as a precision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from taskgroup.weighting.base import WEIGHTINGS, StepContext, WeightingMethod


@WEIGHTINGS.register("uncertainty")
class UncertaintyWeighting(WeightingMethod):
    """Kendall, Gal and Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses for Scene
    Geometry and Semantics", CVPR 2018.

    Minimises ``sum_t exp(-s_t) L_t + s_t`` with one learnable log-variance ``s_t`` per task (the
    common form of the paper's objective with the constant factors dropped). For fixed losses the
    optimum is ``s_t = log L_t``, so the weight ``exp(-s_t)`` tends to ``1 / L_t``: noisy or
    large-loss tasks are down-weighted. The trainer optimises ``s`` with the model.

    Options: ``initial_log_variance`` (default 0, i.e. weight 1).
    """

    loss_only = True

    def __init__(self, tasks: Sequence[str], *, initial_log_variance: float = 0.0) -> None:
        super().__init__(tasks)
        self.log_variances = nn.Parameter(torch.full((len(self.tasks),), float(initial_log_variance)))

    def backward(
        self,
        losses: Mapping[str, Tensor],
        shared_parameters: Sequence[Tensor],
        context: StepContext,
    ) -> dict[str, float]:
        stacked = torch.stack(self.ordered_losses(losses))
        log_variances = self.log_variances.to(stacked.device)
        total = (torch.exp(-log_variances) * stacked + log_variances).sum()
        total.backward()
        return self.as_weights(torch.exp(-self.log_variances))
