"""A tiny three-task network on seeded random data, and the assertions every weighting method must pass.

The toy problem: eight Gaussian features, a shared two-layer MLP, and three regression heads whose
targets differ in function and scale (so the tasks' losses are not interchangeable). It is small
enough to train for a few epochs on one CPU core in about a second.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from taskgroup.weighting import StepContext, WeightingMethod, build_weighting

TASKS = ("sine", "square", "linear")
FEATURES = 8
REPRESENTATION = 16


class ToyNet(nn.Module):
    """Shared MLP encoder and one small regression head per task."""

    def __init__(self, tasks: Sequence[str] = TASKS, seed: int = 0) -> None:
        super().__init__()
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        self.encoder = nn.Sequential(
            nn.Linear(FEATURES, 32), nn.ReLU(), nn.Linear(32, REPRESENTATION), nn.ReLU()
        )
        # Heads are built in sorted order so that the same seed gives the same weights whatever
        # order the tasks are listed in.
        self.heads = nn.ModuleDict(
            {task: nn.Sequential(nn.Linear(REPRESENTATION, 8), nn.ReLU(), nn.Linear(8, 1)) for task in sorted(tasks)}
        )
        torch.random.set_rng_state(generator_state)

    def forward(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        representation = self.encoder(x)
        return representation, {task: head(representation).squeeze(-1) for task, head in self.heads.items()}

    def shared_parameters(self) -> list[Tensor]:
        return list(self.encoder.parameters())

    def connections(self) -> dict[str, Tensor]:
        """Each head's first weight: its connection to the shared representation."""
        return {task: head[0].weight for task, head in self.heads.items()}


def toy_data(count: int, seed: int) -> tuple[Tensor, dict[str, Tensor]]:
    """Features and per-task targets; the target functions are fixed, only the samples vary with seed."""
    directions = torch.randn(3, FEATURES, generator=torch.Generator().manual_seed(1234))
    directions = directions / directions.norm(dim=1, keepdim=True)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(count, FEATURES, generator=generator)
    noise = 0.05 * torch.randn(3, count, generator=generator)
    targets = {
        "sine": torch.sin(x @ directions[0]) + noise[0],
        "square": 0.5 * (x @ directions[1]) ** 2 + noise[1],
        "linear": 3.0 * (x @ directions[2]) + noise[2],
    }
    return x, targets


def task_losses(predictions: Mapping[str, Tensor], targets: Mapping[str, Tensor]) -> dict[str, Tensor]:
    return {task: torch.mean((predictions[task] - targets[task]) ** 2) for task in predictions}


def kpis(losses: Mapping[str, Tensor], targets: Mapping[str, Tensor]) -> dict[str, float]:
    """Per-task R^2 clipped to [0, 1]: a KPI in [0, 1] where higher is better."""
    return {
        task: min(1.0, max(0.0, 1.0 - float(losses[task].detach()) / float(targets[task].var()))) for task in losses
    }


def step_context(
    method: WeightingMethod,
    model: ToyNet,
    representation: Tensor,
    losses: Mapping[str, Tensor],
    targets: Mapping[str, Tensor],
    step: int = 0,
    epoch: int = 0,
) -> StepContext:
    """The context a trainer would pass: only what the method says it needs."""
    return StepContext(
        step=step,
        epoch=epoch,
        kpis=kpis(losses, targets) if method.needs_kpis else None,
        shared_representation=representation if method.needs_representation else None,
        task_connections=model.connections() if method.needs_task_connections else None,
    )


@dataclass
class TrainingRun:
    """What a short training run produced."""

    val_loss_before: float
    val_loss_after: float
    weights: list[dict[str, float]] = field(default_factory=list)


def validation_loss(model: ToyNet, x: Tensor, targets: Mapping[str, Tensor]) -> float:
    with torch.no_grad():
        _, predictions = model(x)
        return math.fsum(float(loss) for loss in task_losses(predictions, targets).values())


def train_toy(name: str, options: Mapping[str, Any] | None = None, epochs: int = 3, seed: int = 0) -> TrainingRun:
    """Train the toy network with the named method as a trainer would, and report validation loss."""
    model = ToyNet(seed=seed)
    method = build_weighting(name, TASKS, **dict(options or {}))
    optimizer = torch.optim.Adam([*model.parameters(), *method.parameters()], lr=1e-2)
    x_train, y_train = toy_data(512, seed=seed + 1)
    x_val, y_val = toy_data(256, seed=seed + 2)
    run = TrainingRun(val_loss_before=validation_loss(model, x_val, y_val), val_loss_after=math.nan)
    step = 0
    for epoch in range(epochs):
        sums = dict.fromkeys(TASKS, 0.0)
        batches = 0
        for start in range(0, 512, 32):
            x = x_train[start : start + 32]
            targets = {task: y[start : start + 32] for task, y in y_train.items()}
            optimizer.zero_grad(set_to_none=True)
            representation, predictions = model(x)
            losses = task_losses(predictions, targets)
            context = step_context(method, model, representation, losses, targets, step=step, epoch=epoch)
            weights = method.backward(losses, model.shared_parameters(), context)
            assert_weights_valid(weights)
            run.weights.append(weights)
            optimizer.step()
            for task, loss in losses.items():
                sums[task] += float(loss.detach())
            batches += 1
            step += 1
        method.end_epoch({task: total / batches for task, total in sums.items()})
    run.val_loss_after = validation_loss(model, x_val, y_val)
    return run


def assert_weights_valid(weights: Mapping[str, float], tasks: Sequence[str] = TASKS) -> None:
    """One finite, non-negative weight per task and nothing else."""
    assert sorted(weights) == sorted(tasks)
    for task, weight in weights.items():
        assert math.isfinite(weight), f"weight of {task} is {weight}"
        assert weight >= 0.0, f"weight of {task} is negative: {weight}"


def one_step(
    name: str, options: Mapping[str, Any], task_order: Sequence[str], loss_order: Sequence[str], epoch: int = 0
) -> tuple[dict[str, float], dict[str, Tensor]]:
    """One backward of a fresh method on a fresh toy model; returns the weights and every gradient."""
    model = ToyNet(tasks=task_order, seed=0)
    method = build_weighting(name, task_order, **dict(options))
    x, targets = toy_data(64, seed=7)
    representation, predictions = model(x)
    losses = task_losses(predictions, targets)
    ordered = {task: losses[task] for task in loss_order}
    context = step_context(method, model, representation, ordered, targets, step=3, epoch=epoch)
    weights = method.backward(ordered, model.shared_parameters(), context)
    gradients = {}
    for owner, module in (("model", model), ("method", method)):
        for parameter_name, parameter in module.named_parameters():
            assert parameter.grad is not None, f"{owner} parameter {parameter_name} got no gradient"
            assert torch.isfinite(parameter.grad).all(), f"{owner} parameter {parameter_name} has a non-finite gradient"
            gradients[f"{owner}.{parameter_name}"] = parameter.grad.clone()
    return weights, gradients


def assert_common_properties(name: str, options: Mapping[str, Any] | None = None, epoch: int = 0) -> None:
    """Weights valid; every model and method parameter gets a finite gradient; the result does not
    depend on the order in which tasks are listed or losses are given."""
    options = dict(options or {})
    weights, gradients = one_step(name, options, TASKS, TASKS, epoch=epoch)
    assert_weights_valid(weights)
    permuted = (TASKS[2], TASKS[0], TASKS[1])
    other_weights, other_gradients = one_step(name, options, permuted, tuple(reversed(TASKS)), epoch=epoch)
    assert other_weights.keys() == weights.keys()
    for task in TASKS:
        assert math.isclose(other_weights[task], weights[task], rel_tol=1e-6, abs_tol=1e-9)
    assert other_gradients.keys() == gradients.keys()
    for key, gradient in gradients.items():
        torch.testing.assert_close(other_gradients[key], gradient, rtol=1e-5, atol=1e-7, msg=f"gradient of {key}")


def assert_trains(name: str, options: Mapping[str, Any] | None = None, epochs: int = 3) -> TrainingRun:
    """A few epochs of training lower the total validation loss clearly."""
    run = train_toy(name, options, epochs=epochs)
    assert math.isfinite(run.val_loss_after)
    assert run.val_loss_after < 0.7 * run.val_loss_before, (run.val_loss_before, run.val_loss_after)
    return run
