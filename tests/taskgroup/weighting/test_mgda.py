"""MGDA-UB (Sener and Koltun, NeurIPS 2018).

The solver's answer is checked against an exact, independent solution of the quadratic program
min |sum_t a_t g_t|^2 over the simplex: for every support set S the KKT system on S (gradient
equal on S, weights summing to 1) is solved with numpy, and the best feasible solution is kept.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from taskgroup.errors import InvalidInputError
from taskgroup.weighting import StepContext, build_weighting
from taskgroup.weighting.min_norm import min_norm_weights
from tests.taskgroup.weighting.properties import TASKS, ToyNet, assert_common_properties, assert_trains, task_losses, toy_data


def exact_min_norm(vectors: np.ndarray) -> float:
    """Minimal squared norm of a convex combination of the rows, by enumerating supports."""
    gram = vectors @ vectors.T
    count = gram.shape[0]
    best = min(float(gram[i, i]) for i in range(count))
    for size in range(2, count + 1):
        for support in itertools.combinations(range(count), size):
            index = list(support)
            system = np.zeros((size + 1, size + 1))
            system[:size, :size] = gram[np.ix_(index, index)]
            system[:size, size] = 1.0
            system[size, :size] = 1.0
            rhs = np.zeros(size + 1)
            rhs[size] = 1.0
            solution, *_ = np.linalg.lstsq(system, rhs, rcond=None)
            weights = solution[:size]
            if weights.min() < -1e-12 or not math.isclose(weights.sum(), 1.0, abs_tol=1e-9):
                continue
            combination = weights @ vectors[index]
            best = min(best, float(combination @ combination))
    return best


vector_sets = st.integers(2, 4).flatmap(
    lambda count: st.lists(
        st.lists(st.floats(min_value=-5.0, max_value=5.0, allow_nan=False), min_size=4, max_size=4),
        min_size=count,
        max_size=count,
    )
).map(lambda rows: np.array(rows, dtype=np.float64))


def test_common_properties() -> None:
    assert_common_properties("mgda")
    assert_common_properties("mgda", {"normalization": "none"})


@pytest.mark.parametrize("normalization", ["loss+", "none"])
def test_trains_the_toy_network(normalization: str) -> None:
    assert_trains("mgda", {"normalization": normalization})


@settings(max_examples=150, deadline=None)
@given(vectors=vector_sets)
def test_solver_returns_a_convex_combination_of_minimal_norm(vectors: np.ndarray) -> None:
    alpha = min_norm_weights(torch.from_numpy(vectors @ vectors.T)).numpy()
    assert alpha.min() >= 0.0
    assert math.isclose(alpha.sum(), 1.0, rel_tol=1e-12)
    combination = alpha @ vectors
    scale = float((vectors**2).sum(axis=1).max()) + 1e-12
    assert float(combination @ combination) <= exact_min_norm(vectors) + 1e-9 * scale


@settings(max_examples=100, deadline=None)
@given(vectors=vector_sets.filter(lambda rows: rows.shape[0] == 2))
def test_two_vectors_match_the_closed_form(vectors: np.ndarray) -> None:
    v1, v2 = vectors
    difference = v1 - v2
    denominator = float(difference @ difference)
    gamma = 0.5 if denominator == 0 else min(1.0, max(0.0, float((v2 - v1) @ v2) / denominator))
    expected = gamma * v1 + (1 - gamma) * v2
    alpha = min_norm_weights(torch.from_numpy(vectors @ vectors.T)).numpy()
    combination = alpha @ vectors
    assert abs(float(combination @ combination) - float(expected @ expected)) <= 1e-9 * (1.0 + float((vectors**2).sum()))


def test_backward_uses_the_min_norm_weights_of_the_representation_gradients() -> None:
    """With no normalization the weights are the min-norm point of the gradients on the shared
    representation, and every parameter gets the gradient of sum_t alpha_t L_t."""
    model = ToyNet()
    x, targets = toy_data(64, seed=3)
    representation, predictions = model(x)
    losses = task_losses(predictions, targets)
    method = build_weighting("mgda", TASKS, normalization="none")
    rows = np.stack(
        [torch.autograd.grad(losses[task], representation, retain_graph=True)[0].reshape(-1).double().numpy() for task in method.tasks]
    )
    weights = method.backward(
        losses, model.shared_parameters(), StepContext(step=0, epoch=0, shared_representation=representation)
    )
    alpha = np.array([weights[task] for task in method.tasks])
    assert alpha.min() >= 0.0 and math.isclose(alpha.sum(), 1.0, rel_tol=1e-9)
    combination = alpha @ rows
    assert float(combination @ combination) <= exact_min_norm(rows) * (1 + 1e-5) + 1e-12
    assert float(combination @ combination) <= min(float(row @ row) for row in rows)
    model_again = ToyNet()
    _, predictions_again = model_again(x)
    losses_again = task_losses(predictions_again, targets)
    expected = torch.autograd.grad(sum(weights[task] * losses_again[task] for task in TASKS), list(model_again.parameters()))
    for parameter, gradient in zip(model.parameters(), expected):
        torch.testing.assert_close(parameter.grad, gradient, rtol=1e-5, atol=1e-7)


def test_without_a_representation_it_solves_on_the_shared_parameters() -> None:
    model = ToyNet()
    x, targets = toy_data(64, seed=3)
    _, predictions = model(x)
    losses = task_losses(predictions, targets)
    method = build_weighting("mgda", TASKS, normalization="none")
    shared = model.shared_parameters()
    rows = np.stack(
        [
            torch.cat([g.reshape(-1) for g in torch.autograd.grad(losses[task], shared, retain_graph=True)]).double().numpy()
            for task in method.tasks
        ]
    )
    weights = method.backward(losses, shared, StepContext(step=0, epoch=0))
    combination = np.array([weights[task] for task in method.tasks]) @ rows
    assert float(combination @ combination) <= exact_min_norm(rows) * (1 + 1e-5) + 1e-12


def test_unknown_normalization_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="unknown MGDA normalization 'l1'"):
        build_weighting("mgda", TASKS, normalization="l1")


@pytest.mark.parametrize("normalization", ["l2", "loss", "loss+"])
def test_normalized_update_is_the_min_norm_direction_of_the_normalized_gradients(normalization: str) -> None:
    model = ToyNet()
    x, targets = toy_data(64, seed=3)
    representation, predictions = model(x)
    losses = task_losses(predictions, targets)
    method = build_weighting("mgda", TASKS, normalization=normalization)
    rows = np.stack(
        [torch.autograd.grad(losses[task], representation, retain_graph=True)[0].reshape(-1).double().numpy() for task in method.tasks]
    )
    loss_values = np.array([float(losses[task].detach()) for task in method.tasks])
    norms = np.linalg.norm(rows, axis=1)
    scales = {"l2": norms, "loss": loss_values, "loss+": loss_values * norms}[normalization]
    weights = method.backward(
        losses, model.shared_parameters(), StepContext(step=0, epoch=0, shared_representation=representation)
    )
    w = np.array([weights[task] for task in method.tasks])
    alpha = w * scales / (w * scales).sum()  # the convex weights on the normalised gradients
    combination = alpha @ (rows / scales[:, None])
    assert alpha.min() >= 0.0
    assert float(combination @ combination) <= exact_min_norm(rows / scales[:, None]) * (1 + 1e-5) + 1e-12
