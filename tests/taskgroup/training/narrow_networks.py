"""Run as `python -m tests.taskgroup.training.narrow_networks`: trains networks whose strided 1x1
convolutions have few input channels on the CPU and prints, as JSON, how far their gradients and
losses are from a reference: the same network in float64 (which oneDNN does not compute), and the
same training without oneDNN.

A separate process, because the oneDNN bug these networks would meet (see
`taskgroup/training/memory_format.py`) corrupts the heap: the test must see an abort or a hang as a
failed run, not lose its own process. The test sets ONEDNN_MAX_CPU_ISA to reach AVX2's kernels.
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile

import torch
from torch import Tensor, nn

from taskgroup.data import DatasetSpec, load_splits
from taskgroup.models import SizeSpec
from taskgroup.models.encoders import ENCODERS, Encoder
from taskgroup.models.layers import scaled
from taskgroup.training import TrainConfig, train_candidate
from taskgroup.training.run import CandidateRun

TASKS = ["depth", "edge"]


@ENCODERS.register("narrow-resnet-test")
class NarrowResNet(Encoder):
    """A user's encoder with plain `nn.Conv2d(c, 2c, 1, stride=2)` shortcuts (4 and 8 input channels
    at width 0.125): the layer oneDNN gets wrong in channels_last order."""

    scales_with_width = True
    output_stride = 4

    def __init__(self, in_channels: int = 3, width: float = 1.0) -> None:
        super().__init__()
        c32, c64 = scaled(32, width), scaled(64, width)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c32, 3, padding=1, bias=False), nn.BatchNorm2d(c32), nn.ReLU())
        self.body = nn.Sequential(nn.Conv2d(c32, c64, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c64))
        self.shortcut = nn.Conv2d(c32, c64, 1, stride=2, bias=False)
        self.down = nn.Conv2d(c64, c64, 1, stride=2, bias=False)
        self.out_channels = c64

    def forward(self, rgb: Tensor) -> Tensor:
        x = self.stem(rgb)
        return self.down(torch.relu(self.body(x) + self.shortcut(x)))


def gradient_gap(width: float) -> float:
    """Largest relative difference (in norm) between the built-in network's parameter gradients in channels_last
    order (as training runs it) and in float64, on 32 images of 64x64."""
    model = CandidateRun(TASKS, SizeSpec("narrow", width=width), TrainConfig(seed=0), torch.device("cpu")).model
    reference = copy.deepcopy(model).double()
    images = torch.randn(32, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    model.to(memory_format=torch.channels_last)
    _backward(model, images.contiguous(memory_format=torch.channels_last))
    _backward(reference, images.double())
    gaps = [
        ((mine.grad.double() - theirs.grad).norm() / theirs.grad.norm().clamp_min(1e-12)).item()
        for mine, theirs in zip(model.parameters(), reference.parameters())
    ]
    return max(gaps)


def _backward(model: nn.Module, images: Tensor) -> None:
    model.train()
    sum(output.square().mean() for output in model(images).values()).backward()


def registered_loss_gap() -> float:
    """Largest relative difference between the test losses of a candidate with `NarrowResNet`
    trained as usual and trained without oneDNN."""
    spec = DatasetSpec(name="synthetic", options={"images": 40, "resolution": 32, "seed": 0, "cache_dir": tempfile.mkdtemp()})
    splits = load_splits(spec, TASKS)
    size = SizeSpec("narrow", encoder="narrow-resnet-test", width=0.125)
    config = TrainConfig(batch_size=8, max_epochs=2, seed=0)
    usual = train_candidate(TASKS, size, splits, "cpu", config).test_losses
    with torch.backends.mkldnn.flags(enabled=False):
        reference = train_candidate(TASKS, size, splits, "cpu", config).test_losses
    return max(abs(usual[task] - reference[task]) / abs(reference[task]) for task in TASKS)


if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    gaps = {f"xception@{width}": gradient_gap(width) for width in (0.125, 0.25)}
    gaps["registered"] = registered_loss_gap()
    print(json.dumps(gaps))
