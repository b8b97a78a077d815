"""Dynamic Task Prioritization (Guo et al., ECCV 2018)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from taskgroup.errors import InvalidInputError
from taskgroup.weighting import StepContext, build_weighting
from tests.taskgroup.weighting.properties import assert_common_properties, assert_trains

kpi_values = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


def test_common_properties() -> None:
    assert_common_properties("dtp")
    assert_common_properties("dtp", {"gamma": 2.0, "alpha": 0.5})


def test_trains_the_toy_network() -> None:
    assert_trains("dtp")


def step(method, kpis: dict[str, float], losses: dict[str, float] | None = None) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    leaves = {task: torch.tensor((losses or {}).get(task, 1.0), requires_grad=True) for task in kpis}
    weights = method.backward(leaves, [], StepContext(step=0, epoch=0, kpis=kpis))
    return weights, leaves


@settings(max_examples=80, deadline=None)
@given(low=kpi_values, high=kpi_values, gamma=st.floats(min_value=0.0, max_value=5.0))
def test_weight_falls_as_the_kpi_rises(low: float, high: float, gamma: float) -> None:
    """Between two tasks, the one with the higher (smoothed) KPI never weighs more, and strictly
    less when the KPIs differ and the lower one is below 1."""
    low, high = sorted((low, high))
    method = build_weighting("dtp", ["worse", "better"], gamma=gamma)
    weights, _ = step(method, {"worse": low, "better": high})
    assert weights["better"] <= weights["worse"]
    if high - low > 1e-6:
        assert weights["better"] < weights["worse"]


def test_weight_is_the_focal_term_of_the_moving_average() -> None:
    method = build_weighting("dtp", ["a"], gamma=2.0, alpha=0.25)
    average = None
    for kpi in [0.2, 0.6, 0.9, 0.4]:
        average = kpi if average is None else 0.25 * kpi + 0.75 * average
        weights, leaves = step(method, {"a": kpi})
        expected = -((1 - average) ** 2) * math.log(average)
        assert math.isclose(weights["a"], expected, rel_tol=1e-9)
        assert math.isclose(float(leaves["a"].grad), expected, rel_tol=1e-6)  # d(w L)/dL = w


def test_rising_kpi_lowers_the_weight_over_steps() -> None:
    method = build_weighting("dtp", ["a", "b"], alpha=0.5)
    history = [step(method, {"a": kpi, "b": 0.5})[0]["a"] for kpi in [0.1, 0.3, 0.5, 0.7, 0.9]]
    assert all(later < earlier for earlier, later in zip(history, history[1:]))


def test_bad_options_are_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"dtp alpha must lie in \(0, 1\]"):
        build_weighting("dtp", ["a"], alpha=0.0)
    with pytest.raises(InvalidInputError, match="dtp gamma must be >= 0"):
        build_weighting("dtp", ["a"], gamma=-1.0)
