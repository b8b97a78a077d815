"""Uniform (fixed) weights."""

from __future__ import annotations

import pytest
import torch

from taskgroup.errors import InvalidInputError
from taskgroup.weighting import StepContext, build_weighting
from tests.taskgroup.weighting.properties import TASKS, ToyNet, assert_common_properties, assert_trains, task_losses, toy_data


def test_common_properties() -> None:
    assert_common_properties("uniform")
    assert_common_properties("uniform", {"weights": {"sine": 2.0, "linear": 0.0}})


def test_trains_the_toy_network() -> None:
    assert_trains("uniform")


def test_gradient_is_that_of_the_weighted_sum() -> None:
    weights = {"sine": 2.0, "square": 0.0, "linear": 0.5}
    model = ToyNet()
    x, targets = toy_data(64, seed=3)
    _, predictions = model(x)
    losses = task_losses(predictions, targets)
    expected = torch.autograd.grad(
        sum(weight * losses[task] for task, weight in weights.items()), list(model.parameters()), retain_graph=True
    )
    method = build_weighting("uniform", TASKS, weights={"sine": 2.0, "square": 0.0, "linear": 0.5})
    used = method.backward(losses, model.shared_parameters(), StepContext(step=0, epoch=0))
    assert used == weights
    for parameter, gradient in zip(model.parameters(), expected):
        torch.testing.assert_close(parameter.grad, gradient)


def test_tasks_left_out_weigh_one() -> None:
    assert build_weighting("uniform", TASKS, weights={"sine": 3.0}).weights == {"sine": 3.0, "square": 1.0, "linear": 1.0}


@pytest.mark.parametrize(
    "weights, message",
    [({"depth": 1.0}, "task 'depth', which is not one of"), ({"sine": -1.0}, "weight of task 'sine' must be finite and >= 0")],
)
def test_bad_weights_are_refused(weights: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        build_weighting("uniform", TASKS, weights=weights)
