"""Measuring a network's inference cost on a device: parameters, MACs, latency and peak memory.

MACs come from torch's own flop counter (`torch.utils.flop_counter.FlopCounterMode`), which counts
two FLOPs per multiply-accumulate of convolutions and matrix products; element-wise work
(batch norm, ReLU, resizing) is not counted. MACs are per image (batch of one).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from taskgroup.cost.measurement import CostMeasurement
from taskgroup.devices import resolve_device
from taskgroup.errors import InvalidInputError
from taskgroup.models import SizeSpec, build_model
from taskgroup.tasks.base import Task


def count_params(model: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of one forward pass of one image of shape `(C, H, W)`, on the model's device."""
    shape = _check_shape(input_shape)
    device = _model_device(model)
    with _eval_mode(model), torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *shape, device=device))
    # FlopCounterMode counts a multiply-accumulate as two FLOPs.
    return counter.get_total_flops() // 2


def measure_cost(
    model: nn.Module,
    input_shape: Sequence[int],
    device: str | torch.device,
    batch_size: int = 1,
    warmup: int = 5,
    repeats: int = 30,
) -> CostMeasurement:
    """Measure `model` on `device` (the model is moved there and left there).

    Runs `warmup` untimed forward passes (allocator, cuDNN autotuning and caches settle), then
    `repeats` timed ones under `torch.inference_mode()`, synchronising CUDA around each.
    """
    shape = _check_shape(input_shape)
    if batch_size < 1 or warmup < 0 or repeats < 1:
        raise InvalidInputError(
            f"batch_size and repeats must be at least 1 and warmup at least 0 "
            f"(got batch_size={batch_size}, warmup={warmup}, repeats={repeats})"
        )
    target = resolve_device(device)
    model.to(target)
    macs = count_macs(model, shape)
    batch = torch.randn(batch_size, *shape, device=target)
    with _eval_mode(model), torch.inference_mode():
        for _ in range(warmup):
            model(batch)
        times = [_timed_forward(model, batch, target) for _ in range(repeats)]
        peak = _peak_memory(model, batch, target)
    if len(times) >= 2:
        q1, _, q3 = statistics.quantiles(times, n=4, method="inclusive")
    else:
        q1 = q3 = times[0]
    return CostMeasurement(
        params=count_params(model),
        macs=macs,
        latency_ms=statistics.median(times),
        latency_spread_ms=q3 - q1,
        peak_memory_bytes=peak,
        device=str(target),
        batch_size=batch_size,
    )


def measure_candidates(
    candidates: Sequence[tuple[Sequence[Task], SizeSpec]],
    input_shape: Sequence[int],
    device: str | torch.device,
    batch_size: int = 1,
    warmup: int = 5,
    repeats: int = 10,
    rounds: int = 3,
    progress: Callable[[int, int], None] | None = None,
) -> list[CostMeasurement]:
    """Build and measure each `(tasks, size)` network; `progress(done, total)` after each measurement.

    Every network is measured once per round, in turn, so a change in machine load (other jobs on
    a shared machine) hits all networks alike instead of whichever was being timed; see
    `combine_rounds` for how the rounds are summarised.
    """
    shape = _check_shape(input_shape)
    if rounds < 1:
        raise InvalidInputError(f"rounds must be at least 1, got {rounds}")
    runs: list[list[CostMeasurement]] = [[] for _ in candidates]
    total = rounds * len(candidates)
    for round_index in range(rounds):
        for index, (tasks, size) in enumerate(candidates):
            # Rebuilt each round rather than kept: a study of large encoders would not fit in memory.
            model = build_model(tasks, size, in_channels=shape[0])
            runs[index].append(measure_cost(model, shape, device, batch_size, warmup, repeats))
            del model
            if progress is not None:
                progress(round_index * len(candidates) + index + 1, total)
    return [combine_rounds(network_runs) for network_runs in runs]


def combine_rounds(runs: Sequence[CostMeasurement]) -> CostMeasurement:
    """One measurement from several rounds of the same network: latency is the median of the rounds'
    medians, its spread the median of their interquartile ranges, peak memory the highest peak."""
    peaks = [run.peak_memory_bytes for run in runs if run.peak_memory_bytes is not None]
    return CostMeasurement(
        params=runs[0].params,
        macs=runs[0].macs,
        latency_ms=statistics.median(run.latency_ms for run in runs),
        latency_spread_ms=statistics.median(run.latency_spread_ms for run in runs),
        peak_memory_bytes=max(peaks) if peaks else None,
        device=runs[0].device,
        batch_size=runs[0].batch_size,
    )


def _timed_forward(model: nn.Module, batch: torch.Tensor, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    model(batch)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) * 1000.0


def _peak_memory(model: nn.Module, batch: torch.Tensor, device: torch.device) -> int | None:
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    model(batch)
    torch.cuda.synchronize(device)
    return int(torch.cuda.max_memory_allocated(device))


def _check_shape(input_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise InvalidInputError(f"input shape must be (channels, height, width) of positive sizes, got {tuple(input_shape)}")
    return shape  # type: ignore[return-value]


def _model_device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """The model in eval mode inside (batch norm uses running statistics), its previous mode restored after."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)
