"""Achievement-based weighting (Yun and Cho, ICCV 2023)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from taskgroup.errors import InvalidInputError
from taskgroup.weighting import StepContext, build_weighting
from tests.taskgroup.weighting.properties import TASKS, ToyNet, assert_common_properties, assert_trains, task_losses, toy_data

POTENTIALS = {task: 0.95 for task in TASKS}


def test_common_properties() -> None:
    assert_common_properties("achievement", {"potentials": POTENTIALS})
    assert_common_properties("achievement", {"potentials": {"sine": 0.5, "square": 0.8, "linear": 1.0}, "gamma": 2.0})


def test_trains_the_toy_network() -> None:
    assert_trains("achievement", {"potentials": POTENTIALS})


@settings(max_examples=60, deadline=None)
@given(
    kpis=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=3, max_size=3),
    losses=st.lists(st.floats(min_value=1e-3, max_value=1e3), min_size=3, max_size=3),
    potential=st.floats(min_value=0.1, max_value=1.0),
    gamma=st.floats(min_value=0.5, max_value=3.0),
)
def test_loss_is_the_weighted_geometric_mean_with_focal_weights(
    kpis: list[float], losses: list[float], potential: float, gamma: float
) -> None:
    tasks = ["a", "b", "c"]
    method = build_weighting("achievement", tasks, potentials=dict.fromkeys(tasks, potential), gamma=gamma)
    leaves = {task: torch.tensor(value, dtype=torch.float64, requires_grad=True) for task, value in zip(tasks, losses)}
    weights = method.backward(leaves, [], StepContext(step=0, epoch=0, kpis=dict(zip(tasks, kpis))))
    expected = [max(max(0.0, 1 - kpi / potential) ** gamma, 1e-3) for kpi in kpis]
    for task, value in zip(tasks, expected):
        assert math.isclose(weights[task], value, rel_tol=1e-9)
    total_weight = math.fsum(expected)
    mean = math.exp(math.fsum(w * math.log(loss) for w, loss in zip(expected, losses)) / total_weight)
    for task, w, loss in zip(tasks, expected, losses):  # d mean / d L_t = mean * (w_t / sum w) / L_t
        assert math.isclose(float(leaves[task].grad), mean * (w / total_weight) / loss, rel_tol=1e-6)


def test_weight_falls_as_achievement_rises() -> None:
    method = build_weighting("achievement", ["a"], potentials={"a": 0.8})
    history = []
    for kpi in [0.0, 0.2, 0.4, 0.6, 0.79]:
        history.append(method.backward({"a": torch.tensor(1.0, requires_grad=True)}, [], StepContext(0, 0, kpis={"a": kpi}))["a"])
    assert history[0] == 1.0
    assert all(later < earlier for earlier, later in zip(history, history[1:]))


def test_gradient_direction_does_not_depend_on_a_task_loss_scale() -> None:
    """The geometric mean makes the update direction blind to a task's loss scale: multiplying a
    task's loss by 1000 only rescales the whole gradient."""
    method = build_weighting("achievement", TASKS, potentials=POTENTIALS)
    kpis = {"sine": 0.3, "square": 0.6, "linear": 0.1}
    directions = []
    for scale in (1.0, 1000.0):
        model = ToyNet()
        x, targets = toy_data(64, seed=3)
        _, predictions = model(x)
        losses = task_losses(predictions, targets)
        losses["linear"] = losses["linear"] * scale
        method.backward(losses, model.shared_parameters(), StepContext(0, 0, kpis=kpis))
        directions.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
    cosine = torch.nn.functional.cosine_similarity(directions[0], directions[1], dim=0)
    assert float(cosine) > 1 - 1e-5
    assert float(directions[1].norm()) > 2 * float(directions[0].norm())


def test_bad_options_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="needs the single-task accuracy of task 'b'"):
        build_weighting("achievement", ["a", "b"], potentials={"a": 0.9})
    with pytest.raises(InvalidInputError, match=r"single-task accuracy of task 'a' must lie in \(0, 1\]"):
        build_weighting("achievement", ["a"], potentials={"a": 0.0})
    with pytest.raises(InvalidInputError, match="potential given for task 'z'"):
        build_weighting("achievement", ["a"], potentials={"a": 0.9, "z": 0.9})
