"""Building methods by name, and the input checks every method shares."""

from __future__ import annotations

import pytest
import torch

from taskgroup.errors import InvalidInputError, UnknownNameError
from taskgroup.weighting import WEIGHTINGS, StepContext, build_weighting

EXPECTED = {
    "achievement",
    "connection_strength",
    "dtp",
    "dwa",
    "gradnorm",
    "mgda",
    "pcgrad",
    "uncertainty",
    "uniform",
}


def test_every_method_of_the_issue_is_registered() -> None:
    assert set(WEIGHTINGS.names()) == EXPECTED


def test_unknown_method_names_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="unknown weighting method 'softmax'.*pcgrad"):
        build_weighting("softmax", ["a", "b"])


def test_unknown_option_names_the_accepted_ones() -> None:
    with pytest.raises(InvalidInputError, match="'dwa' has no option 'temprature'.*temperature"):
        build_weighting("dwa", ["a", "b"], temprature=2.0)


@pytest.mark.parametrize("tasks, message", [([], "at least one task"), (["a", "b", "a"], "'a' is given more than once")])
def test_bad_task_lists_are_refused(tasks: list[str], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        build_weighting("uniform", tasks)


def test_losses_must_match_the_tasks() -> None:
    method = build_weighting("uniform", ["a", "b"])
    x = torch.ones(2, requires_grad=True)
    context = StepContext(step=0, epoch=0)
    with pytest.raises(InvalidInputError, match="no loss given for task 'b'"):
        method.backward({"a": x.sum()}, [x], context)
    with pytest.raises(InvalidInputError, match="task 'c', which is not one of a, b"):
        method.backward({"a": x.sum(), "b": x.sum(), "c": x.sum()}, [x], context)
    with pytest.raises(InvalidInputError, match="loss of task 'b' must be a scalar"):
        method.backward({"a": x.sum(), "b": x * 2}, [x], context)


def test_kpi_methods_say_what_is_missing_or_out_of_range() -> None:
    method = build_weighting("dtp", ["a", "b"])
    assert method.needs_kpis
    x = torch.ones(2, requires_grad=True)
    losses = {"a": x.sum(), "b": x.sum()}
    with pytest.raises(InvalidInputError, match="needs per-task KPIs"):
        method.backward(losses, [x], StepContext(step=0, epoch=0))
    with pytest.raises(InvalidInputError, match="no KPI given for task 'b'"):
        method.backward(losses, [x], StepContext(step=0, epoch=0, kpis={"a": 0.5}))
    with pytest.raises(InvalidInputError, match=r"KPI of task 'a' must lie in \[0, 1\], got 1.5"):
        method.backward(losses, [x], StepContext(step=0, epoch=0, kpis={"a": 1.5, "b": 0.5}))


def test_methods_are_modules_whose_state_round_trips() -> None:
    """The trainer checkpoints ``method.state_dict()``; a fresh method loads it back."""
    for name in WEIGHTINGS.names():
        options = {"potentials": {"a": 0.9, "b": 0.9}} if name == "achievement" else {}
        method = build_weighting(name, ["a", "b"], **options)
        fresh = build_weighting(name, ["a", "b"], **options)
        fresh.load_state_dict(method.state_dict())


def test_half_precision_losses_of_mixed_dtypes_are_combined_in_float32() -> None:
    x = torch.ones(2, requires_grad=True)
    for name in ("uniform", "uncertainty", "dwa"):
        method = build_weighting(name, ["a", "b"])
        method.backward({"a": (2 * x).sum().to(torch.bfloat16), "b": x.sum()}, [x], StepContext(step=0, epoch=0))
        assert x.grad is not None and x.grad.dtype == torch.float32 and torch.isfinite(x.grad).all()
        x.grad = None
