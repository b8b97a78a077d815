"""Dynamic Weight Average (Liu, Johns, Davison, CVPR 2019)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from taskgroup.errors import InvalidInputError
from taskgroup.weighting import StepContext, build_weighting
from tests.taskgroup.weighting.properties import TASKS, assert_common_properties, assert_trains

positive_losses = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False)


def test_common_properties() -> None:
    assert_common_properties("dwa")


def test_trains_the_toy_network() -> None:
    run = assert_trains("dwa", epochs=4)
    assert any(weights != dict.fromkeys(TASKS, 1.0) for weights in run.weights)  # it did reweigh


def backward_weights(method, tasks) -> dict[str, float]:
    x = torch.ones(1, requires_grad=True)
    return method.backward({task: x.sum() for task in tasks}, [x], StepContext(step=0, epoch=0))


@settings(max_examples=60, deadline=None)
@given(
    older=st.lists(positive_losses, min_size=3, max_size=3),
    newer=st.lists(positive_losses, min_size=3, max_size=3),
    temperature=st.floats(min_value=0.5, max_value=10.0),
)
@example(older=[0.5, 0.5, 1.0], newer=[177.0, 182.0, 1.0], temperature=0.5)  # weight of c underflows to 1.5e-315
def test_weights_follow_the_loss_ratio_formula(older: list[float], newer: list[float], temperature: float) -> None:
    tasks = ["a", "b", "c"]
    method = build_weighting("dwa", tasks, temperature=temperature)
    method.end_epoch(dict(zip(tasks, older)))
    method.end_epoch(dict(zip(tasks, newer)))
    weights = backward_weights(method, tasks)
    scaled = [(new / old) / temperature for old, new in zip(older, newer)]
    exps = [math.exp(value - max(scaled)) for value in scaled]  # softmax, shifted to avoid overflow
    for task, e in zip(tasks, exps):
        # abs_tol: a weight can underflow to a subnormal (e.g. 1.5e-315), where float64 keeps only a
        # few significant digits; next to weights that sum to 3 any such value is zero
        assert math.isclose(weights[task], 3 * e / math.fsum(exps), rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(math.fsum(weights.values()), 3.0, rel_tol=1e-9)


def test_weights_are_one_until_two_epochs_are_known_and_use_the_last_two() -> None:
    method = build_weighting("dwa", ["a", "b"])
    assert backward_weights(method, ["a", "b"]) == {"a": 1.0, "b": 1.0}
    method.end_epoch({"a": 1.0, "b": 1.0})
    assert backward_weights(method, ["a", "b"]) == {"a": 1.0, "b": 1.0}
    method.end_epoch({"a": 2.0, "b": 1.0})
    method.end_epoch({"a": 1.0, "b": 1.0})  # now a fell by half, b stayed: b gets more weight
    weights = backward_weights(method, ["a", "b"])
    expected_b = 2 * math.exp(1.0 / 2.0) / (math.exp(0.5 / 2.0) + math.exp(1.0 / 2.0))
    assert math.isclose(weights["b"], expected_b) and weights["b"] > weights["a"]


def test_history_survives_a_checkpoint() -> None:
    method = build_weighting("dwa", ["a", "b"])
    method.end_epoch({"a": 2.0, "b": 1.0})
    method.end_epoch({"a": 1.0, "b": 1.0})
    resumed = build_weighting("dwa", ["a", "b"])
    resumed.load_state_dict(method.state_dict())
    assert backward_weights(resumed, ["a", "b"]) == backward_weights(method, ["a", "b"])


def test_bad_input_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="temperature must be > 0"):
        build_weighting("dwa", ["a"], temperature=0.0)
    method = build_weighting("dwa", ["a", "b"])
    with pytest.raises(InvalidInputError, match="no epoch loss given for task 'b'"):
        method.end_epoch({"a": 1.0})
    with pytest.raises(InvalidInputError, match="epoch loss of task 'a' must be finite and > 0"):
        method.end_epoch({"a": float("nan"), "b": 1.0})
