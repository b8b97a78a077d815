"""GradNorm (Chen et al., ICML 2018)."""

from __future__ import annotations

import math
import statistics

import pytest
import torch

from taskgroup.errors import InvalidInputError
from taskgroup.weighting import StepContext, build_weighting
from tests.taskgroup.weighting.properties import TASKS, ToyNet, assert_common_properties, assert_trains, task_losses, toy_data


def test_common_properties() -> None:
    assert_common_properties("gradnorm")
    assert_common_properties("gradnorm", {"alpha": 0.5, "layer": "all"})


def test_trains_the_toy_network() -> None:
    assert_trains("gradnorm")


def weighted_gradient_norms(model: ToyNet, losses: dict[str, torch.Tensor], weights: dict[str, float]) -> list[float]:
    """||grad of w_t L_t|| on the last shared layer's weight, computed here independently."""
    layer = model.encoder[2].weight
    return [
        weights[task] * float(torch.autograd.grad(losses[task], layer, retain_graph=True)[0].norm()) for task in TASKS
    ]


def test_equalises_gradient_norms_over_steps() -> None:
    """The toy tasks start with gradient norms about 9x apart on the last shared layer; with
    alpha = 0 (target: equal norms) GradNorm's learned weights bring them together while the model
    trains."""
    model = ToyNet(seed=1)
    method = build_weighting("gradnorm", TASKS, alpha=0.0)
    optimizer = torch.optim.Adam(
        [{"params": model.parameters(), "lr": 1e-3}, {"params": method.parameters(), "lr": 0.005}]
    )
    x, targets = toy_data(256, seed=5)
    spreads = []
    for step in range(400):
        optimizer.zero_grad(set_to_none=True)
        _, predictions = model(x)
        losses = task_losses(predictions, targets)
        raw_norms = weighted_gradient_norms(model, losses, dict.fromkeys(TASKS, 1.0))
        used = method.backward(losses, model.shared_parameters(), StepContext(step=step, epoch=0))
        assert math.isclose(sum(used.values()), len(TASKS), rel_tol=1e-5)  # renormalised to sum to T
        norms = [used[task] * norm for task, norm in zip(TASKS, raw_norms)]
        spreads.append(max(norms) / min(norms))
        optimizer.step()
    assert spreads[0] > 5.0
    assert statistics.median(spreads[-100:]) < 1.3, spreads[-100:]
    assert max(spreads[-100:]) < 2.0, spreads[-100:]


def test_weights_are_trained_only_by_the_balance_loss() -> None:
    """The weights' gradient pushes the task with the largest weighted gradient norm down."""
    model = ToyNet()
    method = build_weighting("gradnorm", TASKS, alpha=0.0)
    x, targets = toy_data(64, seed=3)
    _, predictions = model(x)
    losses = {task: loss * (100.0 if task == "linear" else 1.0) for task, loss in task_losses(predictions, targets).items()}
    method.backward(losses, model.shared_parameters(), StepContext(step=0, epoch=0))
    gradient = dict(zip(method.tasks, method.weights.grad.tolist()))
    assert gradient["linear"] > 0.0  # a descent step lowers the dominant task's weight
    assert gradient["sine"] < 0.0 and gradient["square"] < 0.0


def test_bad_options_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="gradnorm layer must be 'last' or 'all'"):
        build_weighting("gradnorm", TASKS, layer="first")
    with pytest.raises(InvalidInputError, match="gradnorm alpha must be >= 0"):
        build_weighting("gradnorm", TASKS, alpha=-1.0)
