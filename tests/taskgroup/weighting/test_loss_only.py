"""Methods flagged ``loss_only`` may be run on detached copies of the losses (lockstep training does
this): applying the factors d(total)/d(loss_t) they leave on the copies must give the same gradients
as running them on the real losses."""

from __future__ import annotations

import pytest
import torch

from taskgroup.weighting import WEIGHTINGS, build_weighting
from tests.taskgroup.weighting.properties import TASKS, ToyNet, step_context, task_losses, toy_data

OPTIONS = {"achievement": {"potentials": dict.fromkeys(TASKS, 0.95)}}


def test_the_loss_weighting_methods_are_loss_only_and_the_gradient_methods_are_not() -> None:
    flagged = {name for name in WEIGHTINGS.names() if WEIGHTINGS.get(name).loss_only}
    assert flagged == {"uniform", "uncertainty", "dwa", "dtp", "achievement"}


@pytest.mark.parametrize("name", [name for name in WEIGHTINGS.names() if WEIGHTINGS.get(name).loss_only])
def test_factors_on_detached_losses_reproduce_the_direct_gradients(name: str) -> None:
    x, targets = toy_data(64, seed=3)
    gradients = []
    for detached in (False, True):
        model = ToyNet()
        method = build_weighting(name, TASKS, **OPTIONS.get(name, {}))
        method.end_epoch({"sine": 1.0, "square": 2.0, "linear": 3.0})
        method.end_epoch({"sine": 0.5, "square": 1.9, "linear": 1.0})  # DWA now weighs unequally
        representation, predictions = model(x)
        losses = task_losses(predictions, targets)
        context = step_context(method, model, representation, losses, targets)
        if detached:
            copies = {task: loss.detach().requires_grad_() for task, loss in losses.items()}
            method.backward(copies, [], context)
            torch.autograd.backward([losses[task] for task in TASKS], grad_tensors=[copies[task].grad for task in TASKS])
        else:
            method.backward(losses, model.shared_parameters(), context)
        gradients.append([p.grad.clone() for p in [*model.parameters(), *method.parameters()]])
    for direct, via_factors in zip(*gradients):
        torch.testing.assert_close(via_factors, direct)
