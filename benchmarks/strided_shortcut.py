"""The Xception shortcut's strided 1x1 convolution: oneDNN's own against `StridedPointwiseConv`
(subsample, then an unstrided 1x1 convolution), side by side in one process.

`StridedPointwiseConv` avoids a oneDNN bug that corrupts memory when the convolution has fewer than
16 input channels (docs/training.md); this measures what it would cost where oneDNN is safe, to
decide where to use it. Each arm takes one training step (forward, backward, Adam) of the same
two-task network in channels_last order on one thread; the arms alternate for `--steps` steps and
the median step time counts (the first 10 are warm-up).

    .venv/bin/python benchmarks/strided_shortcut.py [--widths 0.25,0.5,1.0] [--resolution 64] [--batch 16] [--steps 60]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from torch import nn

from taskgroup.models import SizeSpec
from taskgroup.models.layers import StridedPointwiseConv, scaled
from taskgroup.training import TrainConfig
from taskgroup.training.run import CandidateRun


def with_shortcuts(model: nn.Module, strided_pointwise: bool) -> nn.Module:
    """A copy of `model` whose strided shortcut convolutions are all of one kind (same weights)."""
    model = copy.deepcopy(model)
    for name, module in list(model.named_modules()):
        strided = isinstance(module, StridedPointwiseConv) or (isinstance(module, nn.Conv2d) and module.stride != (1, 1))
        if strided and module.kernel_size == (1, 1):
            step = module.step if isinstance(module, StridedPointwiseConv) else module.stride[0]
            replacement = (
                StridedPointwiseConv(module.in_channels, module.out_channels, step)
                if strided_pointwise
                else nn.Conv2d(module.in_channels, module.out_channels, 1, stride=step, bias=False)
            )
            replacement.weight = module.weight
            parent, _, leaf = name.rpartition(".")
            setattr(model.get_submodule(parent), leaf, replacement)
    return model


def step_times(width: float, args: argparse.Namespace) -> dict[str, float]:
    """Median milliseconds per training step of each arm."""
    base = CandidateRun(["depth", "normal"], SizeSpec("s", width=width), TrainConfig(seed=0), torch.device("cpu")).model
    arms = {"oneDNN": with_shortcuts(base, False), "StridedPointwiseConv": with_shortcuts(base, True)}
    for model in arms.values():
        model.to(memory_format=torch.channels_last).train()
    optimizers = {name: torch.optim.Adam(model.parameters()) for name, model in arms.items()}
    images = torch.randn(args.batch, 3, args.resolution, args.resolution).contiguous(memory_format=torch.channels_last)
    times: dict[str, list[float]] = {name: [] for name in arms}
    for step in range(args.steps):
        for name, model in arms.items():
            started = time.perf_counter()
            optimizers[name].zero_grad()
            sum(output.square().mean() for output in model(images).values()).backward()
            optimizers[name].step()
            if step >= 10:
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) * 1e3 for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", default="0.25,0.5,1.0")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| width | shortcut input channels | oneDNN (ms/step) | StridedPointwiseConv (ms/step) | ratio |")
    print("| --- | --- | --- | --- | --- |")
    for width in (float(item) for item in args.widths.split(",")):
        times = step_times(width, args)
        channels = scaled(32, width)  # the first shortcut's input: the stem's output
        ratio = times["StridedPointwiseConv"] / times["oneDNN"]
        print(f"| {width} | {channels} | {times['oneDNN']:.1f} | {times['StridedPointwiseConv']:.1f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
