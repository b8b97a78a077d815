"""Building blocks shared by the encoders and decoders."""

from __future__ import annotations

from torch import Tensor, nn


def scaled(channels: int, width: float) -> int:
    """`channels` times the width multiplier, rounded, and never below 4 so tiny widths still build."""
    return max(4, int(round(channels * width)))


class ConvBNReLU(nn.Sequential):
    """A plain convolution followed by batch norm and ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class SeparableConv(nn.Sequential):
    """Xception's depthwise-separable convolution: a 3x3 per-channel conv, then a 1x1 conv mixing channels.

    It costs about ``9/out + 1/in`` of a full 3x3 convolution, which is why the Xception family is
    cheap enough to train dozens of candidates on a CPU.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


ONEDNN_WIDEST_BLOCK = 16
"""Input channels per group below which oneDNN's strided 1x1 convolution is unsafe in channels_last
order (AVX-512's vector block; AVX2's is 8): see `StridedPointwiseConv`."""


def onednn_unsafe(kernel_size: tuple[int, int], stride: tuple[int, int], in_channels_per_group: int) -> bool:
    """Whether oneDNN's CPU weight gradient of a convolution of this shape is unsafe in channels_last
    order (see `StridedPointwiseConv`): the one place that says which shapes are."""
    return kernel_size == (1, 1) and stride != (1, 1) and in_channels_per_group < ONEDNN_WIDEST_BLOCK


def shortcut_conv(in_channels: int, out_channels: int, stride: int) -> nn.Conv2d:
    """A bias-free 1x1 convolution with `stride`: oneDNN's own where it is safe (there the subsampling
    form takes up to 17% longer per training step, docs/benchmarks.md), else a `StridedPointwiseConv`."""
    if onednn_unsafe((1, 1), (stride, stride), in_channels):
        return StridedPointwiseConv(in_channels, out_channels, stride)
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


class StridedPointwiseConv(nn.Conv2d):
    """A 1x1 convolution with a stride, computed by keeping every `step`-th pixel and then convolving:
    the weights, initial draws and outputs of ``nn.Conv2d(in_channels, out_channels, 1, stride=step)``.

    Why: oneDNN (torch 2.14's CPU build) writes past its workspace in the weight gradient of a strided
    1x1 convolution in channels_last order whose input has fewer channels than its vector block
    (uxlfoundation/oneDNN#6035): the process aborts, hangs or gets wrong gradients. An unstrided 1x1
    convolution takes another path, and subsampling first is what oneDNN does internally anyway.
    """

    def __init__(self, in_channels: int, out_channels: int, step: int) -> None:
        super().__init__(in_channels, out_channels, 1, bias=False)
        self.step = step

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x[:, :, :: self.step, :: self.step])

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, step={self.step}"


class XceptionBlock(nn.Module):
    """Two separable convolutions, an optional stride-2 max-pool, and a residual shortcut (as in Xception)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            SeparableConv(in_channels, out_channels),
            SeparableConv(out_channels, out_channels),
            nn.MaxPool2d(3, stride=2, padding=1) if stride == 2 else nn.Identity(),
        )
        if in_channels == out_channels and stride == 1:
            self.shortcut: nn.Module = nn.Identity()
        else:
            self.shortcut = nn.Sequential(
                shortcut_conv(in_channels, out_channels, stride),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) + self.shortcut(x)
