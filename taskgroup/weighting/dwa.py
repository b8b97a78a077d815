"""Dynamic Weight Average: weigh tasks by how slowly their loss has been falling."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from taskgroup.errors import InvalidInputError
from taskgroup.weighting.base import WEIGHTINGS, StepContext, WeightingMethod


@WEIGHTINGS.register("dwa")
class DynamicWeightAverage(WeightingMethod):
    """Liu, Johns and Davison, "End-to-End Multi-Task Learning with Attention", CVPR 2019.

    ``w_t = T_count * softmax_t(r_t / temperature)`` with ``r_t = L_t(e-1) / L_t(e-2)``, the ratio of
    the task's mean training loss over the last two epochs (reported through `end_epoch`). Weights
    are 1 until two epochs have been seen and always sum to the number of tasks. The loss history
    is a buffer, so it is saved and restored with the method's ``state_dict``.

    Options: ``temperature`` (default 2.0, as in the paper; larger means softer weights).
    """

    loss_only = True

    def __init__(self, tasks: Sequence[str], *, temperature: float = 2.0) -> None:
        super().__init__(tasks)
        if not float(temperature) > 0.0:
            raise InvalidInputError(f"dwa temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.register_buffer("loss_history", torch.zeros(2, len(self.tasks), dtype=torch.float64))
        self.register_buffer("epochs_seen", torch.zeros((), dtype=torch.long))

    def current_weights(self) -> Tensor:
        """The weights for the coming epoch, in ``self.tasks`` order."""
        count = len(self.tasks)
        if int(self.epochs_seen) < 2:
            return torch.ones(count, dtype=torch.float64, device=self.loss_history.device)
        ratios = self.loss_history[1] / self.loss_history[0]
        return count * torch.softmax(ratios / self.temperature, dim=0)

    def backward(
        self,
        losses: Mapping[str, Tensor],
        shared_parameters: Sequence[Tensor],
        context: StepContext,
    ) -> dict[str, float]:
        ordered = self.ordered_losses(losses)
        weights = self.current_weights().tolist()
        total = torch.stack([weight * loss for weight, loss in zip(weights, ordered, strict=True)]).sum()
        total.backward()
        return self.as_weights(weights)

    def end_epoch(self, train_losses: Mapping[str, float]) -> None:
        values = []
        for task in self.tasks:
            if task not in train_losses:
                raise InvalidInputError(f"no epoch loss given for task {task!r}")
            value = float(train_losses[task])
            if not value > 0.0 or value == float("inf"):
                raise InvalidInputError(f"epoch loss of task {task!r} must be finite and > 0, got {value}")
            values.append(value)
        self.loss_history[0] = self.loss_history[1].clone()
        self.loss_history[1] = torch.tensor(values, dtype=torch.float64)
        self.epochs_seen += 1
