"""One lookahead measurement (Fifty et al., NeurIPS 2021): how a step on one task's loss alone
changes every task's loss.

For each task i, the shared parameters take one SGD step on task i's loss,
``theta_s' = theta_s - lr * grad_{theta_s} L_i``, and every task j's loss is evaluated again on the
same batch with the task-specific parameters unchanged. The affinity of i onto j is the relative
decrease ``(L_j(theta_s) - L_j(theta_s')) / |L_j(theta_s)|`` (that is ``1 - L_j(theta_s') / L_j(theta_s)`` for the
usual positive losses): positive when i's step helps j, negative when it
hurts.

The updated parameters only ever live in a dict passed to `torch.func.functional_call`, the
network's buffers are cloned for every forward (so batch-norm running statistics are untouched) and
every forward replays the same random-number state (same dropout masks, nothing consumed): the
model and the global generators are exactly as before the measurement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call

LossFunction = Callable[[Mapping[str, Tensor], Mapping[str, Tensor]], Mapping[str, Tensor]]
"""(network outputs, batch) -> each task's scalar loss, keyed by task name."""

_TINY = 1e-12


def lookahead_affinity(
    model: nn.Module,
    shared: Sequence[nn.Parameter],
    batch: Mapping[str, Tensor],
    loss_function: LossFunction,
    lr: float,
    input_key: str = "rgb",
) -> tuple[list[str], Tensor]:
    """Task names (in the order `loss_function` returns them) and the ``[n, n]`` matrix whose entry
    ``[i, j]`` is the affinity of task i onto task j on this batch (float64, on the CPU).

    `shared` are the parameters every task's loss flows through (e.g. `MultiTaskNet.shared_parameters()`);
    only they take the lookahead step. The model keeps its current train/eval mode.
    """
    parameters = dict(model.named_parameters())
    shared_ids = {id(parameter) for parameter in shared}
    shared_names = [name for name, parameter in parameters.items() if id(parameter) in shared_ids]
    buffers = dict(model.named_buffers())
    inputs = batch[input_key]
    devices = [inputs.device] if inputs.device.type == "cuda" else []
    rng_state = torch.get_rng_state()
    cuda_state = [torch.cuda.get_rng_state(device) for device in devices]

    def losses_with(values: Mapping[str, Tensor]) -> Mapping[str, Tensor]:
        torch.set_rng_state(rng_state)
        for device, state in zip(devices, cuda_state, strict=True):
            torch.cuda.set_rng_state(state, device)
        own_buffers = {name: buffer.clone() for name, buffer in buffers.items()}
        outputs = functional_call(model, ({**parameters, **values}, own_buffers), (inputs,))
        return loss_function(outputs, batch)

    with torch.random.fork_rng(devices=devices):
        before = losses_with({})
        names = list(before)
        before_values = torch.stack([before[name].detach().float() for name in names])
        gradients = [
            torch.autograd.grad(
                before[name], [parameters[p] for p in shared_names], retain_graph=True, allow_unused=True
            )
            for name in names
        ]
        rows = []
        with torch.no_grad():
            for task_gradients in gradients:
                stepped = {
                    p: parameters[p] - lr * g if g is not None else parameters[p]
                    for p, g in zip(shared_names, task_gradients, strict=True)
                }
                after = losses_with(stepped)
                after_values = torch.stack([after[name].float() for name in names])
                rows.append((before_values - after_values) / before_values.abs().clamp_min(_TINY))
    return names, torch.stack(rows).double().cpu()
