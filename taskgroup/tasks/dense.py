"""The shared shape of Standley's dense regression tasks: an L1 loss over valid pixels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import torch
from torch import Tensor

from taskgroup.tasks.base import Task
from taskgroup.tasks.losses import masked_l1


class DenseRegressionTask(Task):
    """A per-pixel regression target in `[B, channels, H, W]`, trained and scored with masked L1.

    Subclasses only name their label and channels and document the encoding; the head outputs the
    label directly (no activation), as in Standley et al.
    """

    dense: ClassVar[bool] = True
    metric_name: ClassVar[str] = "abs error"
    higher_metric_is_better: ClassVar[bool] = False
    label_encoding: ClassVar[str]

    def loss(self, pred: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        return masked_l1(pred, batch[self.label], batch.get(self.mask_key))

    def metric(self, pred: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        with torch.no_grad():
            return masked_l1(pred, batch[self.label], batch.get(self.mask_key))

    def kpi(self, pred: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        """exp(-abs error): 1 for a perfect prediction, towards 0 as the error grows (for Dynamic Task Prioritization)."""
        return torch.exp(-self.metric(pred, batch))
