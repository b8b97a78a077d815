"""Masked reductions shared by the dense tasks, so every task ignores invalid pixels the same way."""

from __future__ import annotations

import torch
from torch import Tensor


def valid_weights(target: Tensor, mask: Tensor | None) -> Tensor:
    """Float weights shaped like `target`: 1 on valid pixels, 0 elsewhere (a `[B,1,H,W]` mask broadcasts over channels)."""
    if mask is None:
        return torch.ones_like(target, dtype=torch.float32)
    return mask.to(torch.float32).expand_as(target)


def masked_mean(values: Tensor, weights: Tensor) -> Tensor:
    """Mean of `values` over the elements with weight 1; zero (not NaN) when nothing is valid."""
    return (values * weights).sum() / weights.sum().clamp_min(1.0)


def masked_l1(pred: Tensor, target: Tensor, mask: Tensor | None) -> Tensor:
    """Mean absolute error over valid elements only, so images with many invalid pixels are not down-weighted."""
    target = target.to(pred.dtype)
    return masked_mean((pred - target).abs(), valid_weights(target, mask))
