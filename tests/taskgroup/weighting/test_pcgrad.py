"""PCGrad (Yu et al., NeurIPS 2020).

What is tested of the projection: for two tasks, the projected gradients have no negative inner
product with each other nor with the other task's original gradient (exact). For n tasks the
sequential projection guarantees less: each task's projected gradient has a non-negative inner
product with the original gradient of the *last* task it was projected against (an earlier
projection can be partly undone by a later one); and where no pair conflicts, PCGrad is the
plain sum.
"""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from taskgroup.weighting import StepContext, build_weighting
from taskgroup.weighting.pcgrad import project_conflicting
from tests.taskgroup.weighting.properties import TASKS, ToyNet, assert_common_properties, assert_trains, task_losses, toy_data

TOLERANCE = 1e-9


def gradient_matrices(rows: int, columns: int = 5):
    entries = st.floats(min_value=-10.0, max_value=10.0, allow_nan=False)
    return st.lists(
        st.lists(entries, min_size=columns, max_size=columns), min_size=rows, max_size=rows
    ).map(lambda values: torch.tensor(values, dtype=torch.float64))


def test_common_properties() -> None:
    assert_common_properties("pcgrad")


def test_trains_the_toy_network() -> None:
    assert_trains("pcgrad")


@settings(max_examples=100, deadline=None)
@given(gradients=gradient_matrices(2))
def test_two_tasks_leave_no_negative_inner_products(gradients: torch.Tensor) -> None:
    projected = project_conflicting(gradients, [[1], [0]])
    scale = float(gradients.norm(dim=1).prod()) + 1.0
    assert float(projected[0] @ projected[1]) >= -TOLERANCE * scale
    assert float(projected[0] @ gradients[1]) >= -TOLERANCE * scale
    assert float(projected[1] @ gradients[0]) >= -TOLERANCE * scale


@settings(max_examples=100, deadline=None)
@given(gradients=gradient_matrices(4), seed=st.integers(0, 10_000))
def test_n_tasks_do_not_conflict_with_the_last_task_projected_against(gradients: torch.Tensor, seed: int) -> None:
    orders = build_weighting("pcgrad", ["a", "b", "c", "d"], seed=seed).visiting_orders(step=0)
    assert all(sorted(order + [i]) == [0, 1, 2, 3] for i, order in enumerate(orders))
    projected = project_conflicting(gradients, orders)
    for i, order in enumerate(orders):
        last = order[-1]
        scale = float(gradients[i].norm() * gradients[last].norm()) + 1.0
        assert float(projected[i] @ gradients[last]) >= -TOLERANCE * scale


@settings(max_examples=50, deadline=None)
@given(gradients=gradient_matrices(3).map(torch.abs))
def test_without_conflicts_it_is_the_plain_sum(gradients: torch.Tensor) -> None:
    projected = project_conflicting(gradients, [[1, 2], [2, 0], [0, 1]])
    torch.testing.assert_close(projected, gradients)


def test_backward_writes_the_projected_sum_on_shared_and_plain_gradients_on_heads() -> None:
    model = ToyNet()
    x, targets = toy_data(64, seed=3)
    _, predictions = model(x)
    losses = task_losses(predictions, targets)
    method = build_weighting("pcgrad", TASKS, seed=4)
    shared = model.shared_parameters()
    ordered = [losses[task] for task in method.tasks]
    per_task = torch.stack(
        [torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, shared, retain_graph=True)]) for loss in ordered]
    )
    expected_shared = project_conflicting(per_task, method.visiting_orders(step=11)).sum(dim=0)
    head_parameters = list(model.heads.parameters())
    expected_heads = torch.autograd.grad(sum(ordered), head_parameters, retain_graph=True)
    assert min(float(per_task[i] @ per_task[j]) for i in range(3) for j in range(3)) < 0  # there is a conflict
    method.backward(losses, shared, StepContext(step=11, epoch=0))
    torch.testing.assert_close(torch.cat([p.grad.reshape(-1) for p in shared]), expected_shared)
    for parameter, gradient in zip(head_parameters, expected_heads):
        torch.testing.assert_close(parameter.grad, gradient)


def test_orders_are_reproducible_per_step_and_vary_across_steps() -> None:
    method = build_weighting("pcgrad", ["a", "b", "c", "d"], seed=1)
    again = build_weighting("pcgrad", ["a", "b", "c", "d"], seed=1)
    assert method.visiting_orders(5) == again.visiting_orders(5)
    assert len({str(method.visiting_orders(step)) for step in range(20)}) > 1
    before = torch.random.get_rng_state()
    method.visiting_orders(6)
    assert torch.equal(torch.random.get_rng_state(), before)  # the global RNG is untouched
