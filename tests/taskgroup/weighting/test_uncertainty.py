"""Uncertainty weighting (Kendall et al., CVPR 2018)."""

from __future__ import annotations

import math

import torch

from taskgroup.weighting import StepContext, build_weighting
from tests.taskgroup.weighting.properties import assert_common_properties, assert_trains


def test_common_properties() -> None:
    assert_common_properties("uncertainty")


def test_trains_the_toy_network() -> None:
    assert_trains("uncertainty")


def test_log_variances_move_toward_the_log_of_the_task_losses() -> None:
    """With the losses held fixed, the learned s_t approach log L_t (the objective's minimiser)."""
    fixed = {"a": 0.1, "b": 1.0, "c": 20.0}
    method = build_weighting("uncertainty", list(fixed))
    optimizer = torch.optim.SGD(method.parameters(), lr=0.05)
    targets = torch.tensor([math.log(fixed[task]) for task in method.tasks])
    distances = []
    for step in range(2000):
        losses = {task: torch.tensor(value, requires_grad=True) for task, value in fixed.items()}
        optimizer.zero_grad()
        weights = method.backward(losses, [], StepContext(step=step, epoch=0))
        optimizer.step()
        distances.append(float((method.log_variances.detach() - targets).abs().max()))
    assert distances[0] > 1.0
    assert all(later <= earlier + 1e-9 for earlier, later in zip(distances, distances[1:]))
    assert distances[-1] < 0.02
    for task, value in fixed.items():  # weight exp(-s) -> 1 / L
        assert math.isclose(weights[task], 1.0 / value, rel_tol=0.05)
