"""PCGrad: remove the conflicting part of each task's gradient before summing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from taskgroup.weighting.base import WEIGHTINGS, StepContext, WeightingMethod
from taskgroup.weighting.gradients import backward_with_shared_gradient, task_gradients

_TINY = 1e-20  # guards the division for an all-zero gradient


def project_conflicting(gradients: Tensor, orders: Sequence[Sequence[int]]) -> Tensor:
    """PCGrad's projection: for each task i, visit the other tasks in ``orders[i]`` and, whenever the
    running gradient of i has a negative inner product with the original gradient of task j, remove
    its component along that gradient. Returns the projected ``[tasks, numel]`` gradients."""
    projected = gradients.clone()
    squared_norms = (gradients * gradients).sum(dim=1).clamp_min(_TINY)
    for i, order in enumerate(orders):
        for j in order:
            dot = projected[i] @ gradients[j]
            if dot < 0:
                projected[i] -= (dot / squared_norms[j]) * gradients[j]
    return projected


@WEIGHTINGS.register("pcgrad")
class PCGrad(WeightingMethod):
    """Yu, Kumar, Gupta, Levine, Hausman and Finn, "Gradient Surgery for Multi-Task Learning",
    NeurIPS 2020.

    On the shared parameters each task's gradient is projected onto the normal plane of every other
    task's gradient it conflicts with (negative inner product), visiting the others in a random
    order, and the projected gradients are summed. Task-specific parameters get their ordinary
    gradients. The order is drawn from a generator seeded by ``(seed, step)``, so a run is
    reproducible, resumes exactly and leaves the global RNG alone.

    Options: ``seed`` (default 0).
    """

    def __init__(self, tasks: Sequence[str], *, seed: int = 0) -> None:
        super().__init__(tasks)
        self.seed = int(seed)

    def visiting_orders(self, step: int) -> list[list[int]]:
        """For each task, the random order in which it is projected against the other tasks."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        count = len(self.tasks)
        orders = []
        for i in range(count):
            order = torch.randperm(count, generator=generator).tolist()
            orders.append([j for j in order if j != i])
        return orders

    def backward(
        self,
        losses: Mapping[str, Tensor],
        shared_parameters: Sequence[Tensor],
        context: StepContext,
    ) -> dict[str, float]:
        ordered = self.ordered_losses(losses)
        gradients = task_gradients(ordered, shared_parameters)
        projected = project_conflicting(gradients, self.visiting_orders(context.step))
        backward_with_shared_gradient(torch.stack(ordered).sum(), shared_parameters, projected.sum(dim=0))
        return {task: 1.0 for task in self.tasks}
