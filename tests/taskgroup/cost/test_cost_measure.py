"""Measuring a network's cost: MACs against hand counts, and the latency/memory record."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from taskgroup.cost import (
    CostMeasurement, combine_rounds, count_macs, count_params, measure_candidates, measure_cost,
)
from taskgroup.errors import InvalidInputError
from taskgroup.models import SizeSpec, build_model, parse_size
from taskgroup.tasks.base import Task


class _Depth(Task):
    name = "depth"
    label = "depth"
    channels = 1
    metric_name = "mse"

    def loss(self, pred: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        return pred.mean()

    def metric(self, pred: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        return pred.mean()


class _Normal(_Depth):
    name = "normal"
    label = "normal"
    channels = 3


def test_macs_of_a_small_network_match_a_hand_count() -> None:
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),  # 6*5 outputs x 8 channels x (3*3*3) = 6480
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8),  # depthwise: 6*5 x 8 x (1*3*3) = 2160
        nn.Conv2d(8, 4, 1, stride=2),  # 3*3 outputs x 4 x 8 = 288
        nn.Flatten(),
        nn.Linear(4 * 3 * 3, 10),  # 36 x 10 = 360
    )
    assert count_macs(net, (3, 6, 5)) == 6480 + 2160 + 288 + 360
    assert count_params(net) == (8 * 3 * 9) + (8 * 9 + 8) + (4 * 8 + 4) + (36 * 10 + 10)


@settings(max_examples=40, deadline=None)
@given(
    groups=st.integers(1, 3),
    in_per_group=st.integers(1, 4),
    out_per_group=st.integers(1, 4),
    kernel=st.sampled_from([1, 3, 5]),
    stride=st.integers(1, 3),
    height=st.integers(5, 12),
    width=st.integers(5, 12),
)
def test_conv_macs_equal_outputs_times_fan_in(
    groups: int, in_per_group: int, out_per_group: int, kernel: int, stride: int, height: int, width: int
) -> None:
    conv = nn.Conv2d(groups * in_per_group, groups * out_per_group, kernel, stride=stride, padding=kernel // 2, groups=groups)
    out_h = (height + 2 * (kernel // 2) - kernel) // stride + 1
    out_w = (width + 2 * (kernel // 2) - kernel) // stride + 1
    expected = out_h * out_w * groups * out_per_group * in_per_group * kernel * kernel
    assert count_macs(conv, (groups * in_per_group, height, width)) == expected


def test_measure_cost_on_cpu_records_every_field() -> None:
    model = build_model([_Depth(), _Normal()], parse_size("half=0.5"))
    model.train()
    measured = measure_cost(model, (3, 32, 32), "cpu", batch_size=2, warmup=1, repeats=5)
    assert measured.params == count_params(model)
    assert measured.macs == count_macs(model, (3, 32, 32))  # per image, whatever the batch size
    assert measured.latency_ms > 0
    assert measured.latency_spread_ms >= 0
    assert measured.peak_memory_bytes is None  # the CPU allocator reports no peak
    assert measured.device == "cpu"
    assert measured.batch_size == 2
    assert model.training  # the caller's mode is restored
    assert set(measured.as_dict()) >= {"params", "macs", "latency_ms", "latency_spread_ms", "peak_memory_bytes"}


def test_more_tasks_cost_more_macs_than_one_but_less_than_separate_networks() -> None:
    shape = (3, 32, 32)
    one = count_macs(build_model([_Depth()], SizeSpec("full")), shape)
    two = count_macs(build_model([_Depth(), _Normal()], SizeSpec("full")), shape)
    other = count_macs(build_model([_Normal()], SizeSpec("full")), shape)
    assert one < two < one + other


def test_measure_candidates_measures_in_rounds_and_reports_progress() -> None:
    calls: list[tuple[int, int]] = []
    size = parse_size("tiny=0.25")
    measured = measure_candidates(
        [([_Depth()], size), ([_Depth(), _Normal()], size)],
        (3, 16, 16),
        "cpu",
        warmup=0,
        repeats=2,
        rounds=2,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert len(measured) == 2
    assert measured[0].macs < measured[1].macs


def test_rounds_combine_to_the_median_of_their_medians() -> None:
    def run(latency: float, spread: float, peak: int | None) -> CostMeasurement:
        return CostMeasurement(params=10, macs=20, latency_ms=latency, latency_spread_ms=spread,
                               peak_memory_bytes=peak, device="cuda:0", batch_size=4)

    combined = combine_rounds([run(5.0, 1.0, 100), run(50.0, 9.0, 300), run(6.0, 2.0, 200)])
    assert combined.latency_ms == 6.0  # the round slowed down by other load does not count
    assert combined.latency_spread_ms == 2.0
    assert combined.peak_memory_bytes == 300
    assert (combined.params, combined.macs, combined.device, combined.batch_size) == (10, 20, "cuda:0", 4)
    assert combine_rounds([run(5.0, 1.0, None)]).peak_memory_bytes is None


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"device": "gpu7"}, "not a torch device"),
        ({"input_shape": (3, 32)}, "(channels, height, width)"),
        ({"input_shape": (3, 0, 32)}, "(channels, height, width)"),
        ({"batch_size": 0}, "batch_size"),
        ({"repeats": 0}, "repeats"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], fragment: str) -> None:
    arguments: dict[str, object] = {"input_shape": (3, 16, 16), "device": "cpu"} | kwargs
    with pytest.raises(InvalidInputError) as error:
        measure_cost(build_model([_Depth()], parse_size("tiny=0.25")), **arguments)  # type: ignore[arg-type]
    assert fragment in str(error.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_it_is_a_clear_error() -> None:
    with pytest.raises(InvalidInputError, match="CUDA is not available"):
        measure_cost(build_model([_Depth()], parse_size("tiny=0.25")), (3, 16, 16), "cuda:0")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available on this machine")
def test_measure_cost_on_cuda_reports_peak_memory() -> None:
    model = build_model([_Depth(), _Normal()], parse_size("half=0.5"))
    measured = measure_cost(model, (3, 32, 32), "cuda:0", warmup=1, repeats=5)
    assert measured.device == "cuda:0"
    assert measured.peak_memory_bytes is not None
    assert measured.peak_memory_bytes >= 4 * measured.params  # at least the float32 weights
    assert next(model.parameters()).device.type == "cuda"
