"""Per-task gradients on the shared parameters, and writing a combined gradient back.

Gradient methods (PCGrad, MGDA, GradNorm, connection strength) all need the same two steps: one
gradient vector per task on the shared parameters, and a backward pass that gives the task-specific
parameters their ordinary gradients while the shared ones receive the method's combination.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def task_gradients(losses: Sequence[Tensor], inputs: Sequence[Tensor]) -> Tensor:
    """A ``[tasks, numel]`` matrix: row t is the flattened gradient of ``losses[t]`` w.r.t. ``inputs``
    (zeros where a loss does not depend on an input). The graph is kept for a later backward."""
    inputs = list(inputs)
    device = losses[0].device
    rows = []
    for loss in losses:
        if not inputs:
            rows.append(torch.zeros(0, device=device))
            continue
        grads = torch.autograd.grad(loss, inputs, retain_graph=True, allow_unused=True)
        flat = [
            torch.zeros(tensor.numel(), device=tensor.device, dtype=tensor.dtype) if grad is None else grad.reshape(-1)
            for tensor, grad in zip(inputs, grads, strict=True)
        ]
        rows.append(torch.cat(flat))
    return torch.stack(rows)


def backward_with_shared_gradient(
    total_loss: Tensor, shared_parameters: Sequence[Tensor], shared_gradient: Tensor
) -> None:
    """Backpropagate `total_loss` to every parameter, then make the shared parameters' share of the
    gradient equal to the flat `shared_gradient` instead (any gradient they held before is kept)."""
    shared = list(shared_parameters)
    before = [None if parameter.grad is None else parameter.grad.clone() for parameter in shared]
    total_loss.backward()
    offset = 0
    for parameter, previous in zip(shared, before, strict=True):
        piece = shared_gradient[offset : offset + parameter.numel()].view_as(parameter).to(parameter.dtype)
        offset += parameter.numel()
        parameter.grad = piece.clone() if previous is None else previous + piece
