"""The one interface every loss-weighting and gradient method implements.

A method owns the backward pass of a multi-task step: loss-weighting methods combine the task
losses into one loss and backpropagate it; gradient methods compute per-task gradients on the
shared parameters, combine them and write ``.grad`` themselves. Either way the trainer only calls
`WeightingMethod.backward` and then steps its optimizer (which also holds ``method.parameters()``,
for methods that learn their weights).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from taskgroup.errors import InvalidInputError
from taskgroup.registry import Registry


@dataclass(frozen=True)
class StepContext:
    """What a method may need to know about the current step besides the losses.

    ``kpis`` are per-task key performance indicators in [0, 1], higher is better (e.g. accuracy, or
    a metric mapped to [0, 1]); the trainer fills them when the method's ``needs_kpis`` is True.
    ``shared_representation`` is the shared encoder's output for this batch, still attached to the
    graph; the trainer passes it when ``needs_representation`` is True (MGDA-UB takes its gradients
    there instead of on the shared parameters). ``task_connections`` maps each task to the weight of
    its first task-specific layer, the one reading the shared representation (shape
    ``[out, C_shared, ...]``, e.g. the 1x1 conv opening each decoder); the trainer passes them when
    ``needs_task_connections`` is True (connection-strength task priority measures them).
    """

    step: int
    epoch: int
    kpis: Mapping[str, float] | None = None
    shared_representation: Tensor | None = None
    task_connections: Mapping[str, Tensor] | None = None


class WeightingMethod(nn.Module):
    """Base class: subclasses override `backward` only (and `end_epoch` if they keep epoch state).

    Task names are stored sorted, so a method's behaviour never depends on the order in which the
    tasks (or the losses) are given. Methods with learnable weights register them as
    ``nn.Parameter``; the trainer moves the method with ``.to(device)`` and optimises them.
    """

    needs_kpis: ClassVar[bool] = False
    needs_representation: ClassVar[bool] = False
    needs_task_connections: ClassVar[bool] = False
    loss_only: ClassVar[bool] = False
    """True when `backward` only backpropagates a total computed from the task losses (and the
    method's own parameters), never per-task gradients: lockstep training can then batch the
    candidate with others (see taskgroup/training/groups.py)."""

    def __init__(self, tasks: Sequence[str]) -> None:
        super().__init__()
        names = list(tasks)
        if not names:
            raise InvalidInputError(f"{type(self).__name__} needs at least one task")
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise InvalidInputError(f"task {duplicates[0]!r} is given more than once")
        self.tasks: tuple[str, ...] = tuple(sorted(names))

    def backward(
        self,
        losses: Mapping[str, Tensor],
        shared_parameters: Sequence[Tensor],
        context: StepContext,
    ) -> dict[str, float]:
        """Backpropagate the step's task losses (setting ``.grad`` on every parameter that
        contributed, including the method's own) and return the weight used for each task."""
        raise NotImplementedError

    def end_epoch(self, train_losses: Mapping[str, float]) -> None:
        """Called by the trainer after each epoch with the mean training loss per task."""

    def ordered_losses(self, losses: Mapping[str, Tensor]) -> list[Tensor]:
        """The losses in ``self.tasks`` order (half precision raised to float32), after checking there
        is exactly one scalar per task."""
        missing = [task for task in self.tasks if task not in losses]
        if missing:
            raise InvalidInputError(f"no loss given for task {missing[0]!r}")
        extra = sorted(set(losses) - set(self.tasks))
        if extra:
            raise InvalidInputError(
                f"loss given for task {extra[0]!r}, which is not one of {', '.join(self.tasks)}"
            )
        ordered = [losses[task] for task in self.tasks]
        for task, loss in zip(self.tasks, ordered, strict=True):
            if loss.dim() != 0:
                raise InvalidInputError(
                    f"loss of task {task!r} must be a scalar, got shape {tuple(loss.shape)}"
                )
        # Under mixed precision, losses may come in half precision; weights and logs need float32.
        return [loss.float() if loss.dtype in (torch.float16, torch.bfloat16) else loss for loss in ordered]

    def ordered_kpis(self, context: StepContext) -> list[float]:
        """The context's KPIs in ``self.tasks`` order, each checked to lie in [0, 1]."""
        if context.kpis is None:
            raise InvalidInputError(f"{type(self).__name__} needs per-task KPIs, but none were given")
        values = []
        for task in self.tasks:
            if task not in context.kpis:
                raise InvalidInputError(f"no KPI given for task {task!r}")
            value = float(context.kpis[task])
            if not 0.0 <= value <= 1.0:
                raise InvalidInputError(f"KPI of task {task!r} must lie in [0, 1], got {value}")
            values.append(value)
        return values

    def as_weights(self, values: Tensor | Sequence[float]) -> dict[str, float]:
        """A per-task dict of floats from a vector in ``self.tasks`` order (for logging)."""
        floats = values.detach().cpu().tolist() if isinstance(values, Tensor) else list(values)
        return {task: float(value) for task, value in zip(self.tasks, floats, strict=True)}


WEIGHTINGS: Registry[type[WeightingMethod]] = Registry("weighting method")
"""Weighting-method registry. Importing `taskgroup.weighting` registers every built-in method."""

