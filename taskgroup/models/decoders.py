"""Per-task decoders: a light upsampling decoder back to the input resolution for dense tasks, and a
pooled linear head for image-level tasks."""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from taskgroup.models.layers import ConvBNReLU, SeparableConv, scaled
from taskgroup.tasks.base import Task


class UpsamplingDecoder(nn.Module):
    """Project the features to 64·width channels; then, for each factor of two of the output stride
    but the last, upsample and a separable conv halving the channels (at least 16·width); then a 3x3
    conv to the task's channels at half the input resolution, resized bilinearly to the input size.

    Each decoder costs a small fraction of the encoder, as in the paper, so adding a task to a network
    is cheaper than a second network. Predicting at half resolution and resizing only the task's own
    channels avoids a full-resolution convolution, the costliest part per MAC on a CPU. The exact
    resize makes odd input sizes and any output stride work.
    """

    def __init__(self, in_channels: int, out_channels: int, output_stride: int, width: float = 1.0) -> None:
        super().__init__()
        channels = scaled(64, width)
        floor = scaled(16, width)
        stages: list[nn.Module] = [ConvBNReLU(in_channels, channels, kernel_size=1)]
        for _ in range(max(0, int(math.log2(output_stride)) - 1)):
            nxt = max(floor, channels // 2)
            stages += [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), SeparableConv(channels, nxt)]
            channels = nxt
        self.stages = nn.Sequential(*stages)
        self.head = nn.Conv2d(channels, out_channels, 3, padding=1)

    def forward(self, features: Tensor, size: tuple[int, int]) -> Tensor:
        prediction = self.head(self.stages(features))
        return F.interpolate(prediction, size=size, mode="bilinear", align_corners=False)


class PooledHead(nn.Module):
    """Head of an image-level task (e.g. a face attribute): global average pool, then a linear layer.

    Outputs ``[B, out_channels]`` (one logit per channel per image), not a map.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(in_channels, out_channels)

    def forward(self, features: Tensor, size: tuple[int, int]) -> Tensor:
        return self.linear(self.pool(features).flatten(1))


def decoder_for(task: Task, in_channels: int, output_stride: int, width: float) -> nn.Module:
    """The decoder a task needs: a dense upsampling decoder, or a pooled head for image-level tasks."""
    # Tasks are dense (per-pixel) unless they say otherwise with `dense = False`.
    if getattr(task, "dense", True):
        return UpsamplingDecoder(in_channels, task.channels, output_stride, width)
    return PooledHead(in_channels, task.channels)
