"""Shared encoders, registered by name in `ENCODERS` (the `ENCODER` of a size, see `sizes.py`).

Every encoder maps ``[B, in_channels, H, W]`` to ``[B, out_channels, ~H/output_stride, ~W/output_stride]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torchvision
from torch import Tensor, nn

from taskgroup.models.layers import ConvBNReLU, XceptionBlock, scaled
from taskgroup.registry import Registry


class Encoder(nn.Module):
    """Base of the shared trunk. Subclasses take `(in_channels, width)` and set `out_channels`."""

    scales_with_width: ClassVar[bool]
    output_stride: ClassVar[int]
    out_channels: int


ENCODERS: Registry[type[Encoder]] = Registry("encoder")


@ENCODERS.register("xception")
class XceptionEncoder(Encoder):
    """A compact Xception-style encoder (output stride 8), the paper's family at CPU scale.

    Width 1.0 has about 0.2 M parameters and 25 M multiply-accumulates on a 64x64 image; every
    channel count scales with `width`, so half width costs roughly a quarter.
    """

    scales_with_width = True
    output_stride = 8

    def __init__(self, in_channels: int = 3, width: float = 1.0) -> None:
        super().__init__()
        c32, c64, c128, c192 = (scaled(c, width) for c in (32, 64, 128, 192))
        self.layers = nn.Sequential(
            ConvBNReLU(in_channels, c32, stride=2),
            XceptionBlock(c32, c64, stride=2),
            XceptionBlock(c64, c128, stride=2),
            XceptionBlock(c128, c192),
            XceptionBlock(c192, c192),
        )
        self.out_channels = c192

    def forward(self, rgb: Tensor) -> Tensor:
        return self.layers(rgb)


class TorchvisionResNet(Encoder):
    """A torchvision ResNet trunk (stem and four stages, no pooling or classifier), randomly initialised.

    Built with ``weights=None``: nothing is ever downloaded. Its width is fixed.
    """

    scales_with_width = False
    output_stride = 32
    build: ClassVar[Callable[..., torchvision.models.ResNet]]

    def __init__(self, in_channels: int = 3, width: float = 1.0) -> None:
        super().__init__()
        net = type(self).build(weights=None)
        if in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.layers = nn.Sequential(
            net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4
        )
        self.out_channels = net.fc.in_features

    def forward(self, rgb: Tensor) -> Tensor:
        return self.layers(rgb)


@ENCODERS.register("resnet18")
class ResNet18Encoder(TorchvisionResNet):
    build = staticmethod(torchvision.models.resnet18)


@ENCODERS.register("resnet34")
class ResNet34Encoder(TorchvisionResNet):
    build = staticmethod(torchvision.models.resnet34)


@ENCODERS.register("resnet50")
class ResNet50Encoder(TorchvisionResNet):
    build = staticmethod(torchvision.models.resnet50)
