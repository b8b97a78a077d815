"""The memory order a network trains in: channels_last, unless oneDNN would compute it wrongly.

Why: on a CPU, channels_last makes small convolutions markedly faster (docs/benchmarks.md,
Training), but oneDNN (torch 2.14's CPU build) writes past its workspace in the weight gradient of a
strided 1x1 convolution in channels_last order whose input has fewer channels per group than its
vector block, 16 floats with AVX-512 and 8 with AVX2 (uxlfoundation/oneDNN#6035). Measured here:
`Conv2d(4, 8, 1, stride=2)` corrupts the heap at 8x8 inputs under AVX2 and at 64x64 under AVX-512;
the process aborts, hangs, or trains on wrong gradients. A network with such a layer trains in the
default (contiguous) order instead, which takes oneDNN's blocked path and is exact. The built-in
encoders have no such layer (`shortcut_conv`), so they keep channels_last.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from taskgroup.models.layers import onednn_unsafe


def unsafe_in_channels_last(module: nn.Module) -> bool:
    """Whether `module` is a CPU convolution oneDNN gets wrong in channels_last order (see module docstring)."""
    return (
        isinstance(module, nn.Conv2d)
        and module.weight.device.type == "cpu"
        and onednn_unsafe(module.kernel_size, module.stride, module.in_channels // module.groups)
    )


def training_memory_format(models: Iterable[nn.Module]) -> torch.memory_format:
    """channels_last, or the contiguous order when any of `models` has an unsafe layer."""
    if any(unsafe_in_channels_last(module) for model in models for module in model.modules()):
        return torch.contiguous_format
    return torch.channels_last
