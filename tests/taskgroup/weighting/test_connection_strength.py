"""Connection-strength task priority (Jeong and Yoon, CVPR 2024)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from taskgroup.errors import InvalidInputError
from taskgroup.weighting import StepContext, build_weighting
from taskgroup.weighting.connection_strength import channel_priorities, last_layer_start, project_onto_priority
from tests.taskgroup.weighting.properties import (
    REPRESENTATION,
    TASKS,
    ToyNet,
    assert_common_properties,
    assert_trains,
    task_losses,
    toy_data,
)


def test_common_properties_in_both_phases() -> None:
    assert_common_properties("connection_strength", {"priority_epochs": 1}, epoch=0)
    assert_common_properties("connection_strength", {"priority_epochs": 1}, epoch=1)
    assert_common_properties("connection_strength", {"priority_epochs": 0}, epoch=0)


def test_trains_the_toy_network() -> None:
    assert_trains("connection_strength", {"priority_epochs": 1}, epochs=3)


def test_priority_goes_to_the_task_with_the_strongest_connection() -> None:
    """Task 0's head reads channels 0-3 strongly, task 1's channels 4-7; channel 8 reads both
    weakly but task 1 more. Task 1's head is 10x larger overall, which must not win it every channel."""
    generator = torch.Generator().manual_seed(0)
    first = 0.01 * torch.randn(5, 9, generator=generator)
    second = 0.1 * torch.randn(5, 9, generator=generator)
    first[:, 0:4] += 1.0
    second[:, 4:8] += 10.0
    second[:, 8] = 0.5
    first[:, 8] = 0.0
    assert channel_priorities([first, second]).tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 1]


def test_priority_reads_conv_connections() -> None:
    connection = torch.zeros(4, 3, 1, 1)
    connection[:, 2] = 1.0
    other = torch.ones(4, 3, 1, 1)
    assert channel_priorities([connection, other]).tolist() == [1, 1, 0]


matrices = st.lists(
    st.lists(st.lists(st.floats(-10, 10), min_size=4, max_size=4), min_size=5, max_size=5), min_size=3, max_size=3
).map(lambda values: torch.tensor(values, dtype=torch.float64))


@settings(max_examples=100, deadline=None)
@given(gradients=matrices, owners=st.lists(st.integers(0, 2), min_size=5, max_size=5))
def test_combined_row_never_opposes_its_owner(gradients: torch.Tensor, owners: list[int]) -> None:
    """Every row of the combined gradient has an inner product with the owner's gradient of at
    least the owner's squared norm: the owner's descent is never slowed by the other tasks."""
    combined = project_onto_priority(gradients, torch.tensor(owners))
    for row, owner in enumerate(owners):
        own = gradients[owner, row]
        assert float(combined[row] @ own) >= float(own @ own) - 1e-9 * (1 + float(gradients[:, row].norm() ** 2))


def test_rows_without_conflict_are_summed() -> None:
    gradients = torch.rand(3, 4, 6, dtype=torch.float64)
    torch.testing.assert_close(project_onto_priority(gradients, torch.tensor([0, 1, 2, 0])), gradients.sum(dim=0))


def step(epoch: int):
    model = ToyNet()
    x, targets = toy_data(64, seed=3)
    _, predictions = model(x)
    losses = task_losses(predictions, targets)
    method = build_weighting("connection_strength", TASKS, priority_epochs=1)
    shared = model.shared_parameters()
    per_task = {task: torch.autograd.grad(losses[task], shared, retain_graph=True) for task in method.tasks}
    context = StepContext(step=0, epoch=epoch, task_connections=model.connections())
    method.backward(losses, shared, context)
    return model, method, per_task


def test_first_phase_is_the_plain_summed_loss() -> None:
    model, method, per_task = step(epoch=0)
    for index, parameter in enumerate(model.shared_parameters()):
        torch.testing.assert_close(parameter.grad, sum(grads[index] for grads in per_task.values()))


def test_second_phase_keeps_each_last_layer_channel_aligned_with_its_owner() -> None:
    model, method, per_task = step(epoch=1)
    shared = model.shared_parameters()
    start = last_layer_start(shared, REPRESENTATION)
    assert [tuple(p.shape) for p in shared[start:]] == [(REPRESENTATION, 32), (REPRESENTATION,)]  # weight, bias
    owners = channel_priorities([model.connections()[task] for task in method.tasks])
    conflicts = 0
    for index in range(start, len(shared)):
        combined = shared[index].grad.reshape(REPRESENTATION, -1)
        for row in range(REPRESENTATION):
            own = per_task[method.tasks[int(owners[row])]][index].reshape(REPRESENTATION, -1)[row]
            assert float(combined[row] @ own) >= float(own @ own) * (1 - 1e-5) - 1e-12
            plain = sum(grads[index].reshape(REPRESENTATION, -1)[row] for grads in per_task.values())
            conflicts += int(float(plain @ own) < float(own @ own) - 1e-9)
    assert conflicts > 0  # the toy network does have rows where the other tasks pull against the owner


def test_missing_connections_are_an_error() -> None:
    model = ToyNet()
    x, targets = toy_data(16, seed=3)
    _, predictions = model(x)
    method = build_weighting("connection_strength", TASKS, priority_epochs=0)
    with pytest.raises(InvalidInputError, match="needs each task's connection weight"):
        method.backward(task_losses(predictions, targets), model.shared_parameters(), StepContext(step=0, epoch=0))
    with pytest.raises(InvalidInputError, match="priority_epochs must be >= 0"):
        build_weighting("connection_strength", TASKS, priority_epochs=-1)
