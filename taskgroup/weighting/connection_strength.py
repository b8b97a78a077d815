"""Connection-strength task priority: learn which task each shared channel serves, then protect it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from taskgroup.errors import InvalidInputError
from taskgroup.weighting.base import WEIGHTINGS, StepContext, WeightingMethod
from taskgroup.weighting.gradients import backward_with_shared_gradient, task_gradients

_TINY = 1e-20


def channel_priorities(connections: Sequence[Tensor]) -> Tensor:
    """For each channel of the shared representation, the index of its top-priority task.

    ``connections[t]`` is task t's first task-specific weight, ``[out, C, ...]``. The strength of the
    connection from channel c to task t is the norm of ``connections[t][:, c]``; each task's
    strengths are normalised to sum to 1 over the channels (so a task with a larger head does not
    win every channel), and the task with the largest normalised strength owns the channel.
    """
    strengths = []
    for weight in connections:
        per_channel = weight.detach().transpose(0, 1).reshape(weight.shape[1], -1).norm(dim=1)
        strengths.append(per_channel / per_channel.sum().clamp_min(_TINY))
    return torch.stack(strengths).argmax(dim=0)


def project_onto_priority(gradients: Tensor, owners: Tensor) -> Tensor:
    """Sum of the task gradients after removing, row by row, any part that conflicts with the owner.

    ``gradients`` is ``[tasks, rows, numel]`` and ``owners[r]`` the top-priority task of row r. In
    each row the owner's gradient is kept; another task's gradient with a negative inner product
    with it is projected onto its normal plane. So the combined row never opposes its owner's
    gradient (its inner product with it is at least the owner's squared norm).
    """
    rows = torch.arange(gradients.shape[1], device=gradients.device)
    owner_gradients = gradients[owners, rows]  # [rows, numel]
    dots = torch.einsum("trk,rk->tr", gradients, owner_gradients)
    squared = (owner_gradients * owner_gradients).sum(dim=1).clamp_min(_TINY)
    coefficients = torch.where(dots < 0, dots / squared, torch.zeros_like(dots))
    projected = gradients - coefficients[:, :, None] * owner_gradients[None]
    return projected.sum(dim=0)


def last_layer_start(shared_parameters: Sequence[Tensor], channels: int) -> int:
    """Index of the first of the trailing shared parameters whose first dimension is `channels`
    (the layer producing the shared representation: its weight, bias and norm parameters)."""
    start = len(shared_parameters)
    while start > 0 and shared_parameters[start - 1].dim() > 0 and shared_parameters[start - 1].shape[0] == channels:
        start -= 1
    return start


@WEIGHTINGS.register("connection_strength")
class ConnectionStrength(WeightingMethod):
    """Jeong and Yoon, "Quantifying Task Priority for Multi-Task Optimization", CVPR 2024
    (connection strength-based optimization).

    Phase 1 (the first ``priority_epochs`` epochs) learns task priority: the summed loss trains the
    shared encoder through each task's own connection (the first layer of its head), so each head's
    weights grow on the shared channels that task relies on. (The paper updates the tasks one after
    another; with one optimizer step per batch we use their sum, the same first-order update.)
    Phase 2 measures priority by connection strength (see `channel_priorities`) and modifies the
    shared gradients so that it is preserved (see `project_onto_priority`): on the last shared layer
    (the trailing shared parameters whose first dimension is the representation's channel count;
    in a residual encoder, the last stage at that width, whose channels the skip connections keep
    aligned with the representation's) each channel follows its own top-priority task; on the rest of the encoder the top task
    is the one owning the most channels. Task-specific parameters get their ordinary gradients.

    Needs ``StepContext.task_connections``. Options: ``priority_epochs`` (default 1).
    """

    needs_task_connections = True

    def __init__(self, tasks: Sequence[str], *, priority_epochs: int = 1) -> None:
        super().__init__(tasks)
        if int(priority_epochs) < 0:
            raise InvalidInputError(f"priority_epochs must be >= 0, got {priority_epochs}")
        self.priority_epochs = int(priority_epochs)

    def ordered_connections(self, context: StepContext) -> list[Tensor]:
        """The task connections in ``self.tasks`` order, checked to read the same channels."""
        if context.task_connections is None:
            raise InvalidInputError("connection_strength needs each task's connection weight, but none were given")
        connections = []
        for task in self.tasks:
            if task not in context.task_connections:
                raise InvalidInputError(f"no connection weight given for task {task!r}")
            weight = context.task_connections[task]
            if weight.dim() < 2:
                raise InvalidInputError(
                    f"connection weight of task {task!r} must be [out, channels, ...], got shape {tuple(weight.shape)}"
                )
            connections.append(weight)
        channels = {weight.shape[1] for weight in connections}
        if len(channels) != 1:
            raise InvalidInputError(f"task connections read different channel counts: {sorted(channels)}")
        return connections

    def backward(
        self,
        losses: Mapping[str, Tensor],
        shared_parameters: Sequence[Tensor],
        context: StepContext,
    ) -> dict[str, float]:
        ordered = self.ordered_losses(losses)
        total = torch.stack(ordered).sum()
        if context.epoch < self.priority_epochs:
            total.backward()
            return {task: 1.0 for task in self.tasks}
        connections = self.ordered_connections(context)
        owners = channel_priorities(connections)
        shared = list(shared_parameters)
        channels = int(owners.numel())
        split = last_layer_start(shared, channels)
        gradients = task_gradients(ordered, shared)
        body_size = sum(parameter.numel() for parameter in shared[:split])
        body = gradients[:, :body_size]
        majority = torch.bincount(owners, minlength=len(self.tasks)).argmax()
        pieces = [project_onto_priority(body[:, None, :], majority.reshape(1)).reshape(-1)]
        offset = body_size
        for parameter in shared[split:]:
            block = gradients[:, offset : offset + parameter.numel()].reshape(len(self.tasks), channels, -1)
            pieces.append(project_onto_priority(block, owners.to(block.device)).reshape(-1))
            offset += parameter.numel()
        backward_with_shared_gradient(total, shared, torch.cat(pieces))
        return {task: 1.0 for task in self.tasks}
