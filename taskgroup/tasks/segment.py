"""The `segment` task: semantic segmentation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from taskgroup.tasks.base import TASKS, Task

IGNORE_INDEX = -1


@TASKS.register("segment")
class SegmentTask(Task):
    """Semantic segmentation with per-pixel cross-entropy; invalid pixels are ignored.

    Label `batch["segment"]`: int64 [H,W] class indices in [0, 18) (18 channels, as Standley's
    Taskonomy heads; datasets with fewer classes leave the rest unused); optional `segment_mask`
    bool [1,H,W] marks labelled pixels (Taskonomy's class 0 and NYUv2's -1 are unlabelled).
    Metric: mean intersection-over-union over the classes present in target or prediction
    (higher is better).
    """

    name = "segment"
    label = "segment"
    channels = 18
    metric_name = "mIoU"
    higher_metric_is_better = True
    dense: ClassVar[bool] = True
    label_encoding: ClassVar[str] = (
        "int64 [H,W] class index in [0,18); `segment_mask` bool [1,H,W] (optional) marks labelled pixels."
    )

    def _target(self, batch: Mapping[str, Tensor]) -> Tensor:
        """Class indices with invalid pixels set to the ignore index."""
        target = batch[self.label].long()
        mask = batch.get(self.mask_key)
        if mask is not None:
            target = torch.where(mask[:, 0], target, torch.full_like(target, IGNORE_INDEX))
        return target

    def loss(self, pred: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        target = self._target(batch)
        if not bool((target != IGNORE_INDEX).any()):
            return pred.sum() * 0.0  # keeps the graph; nothing to learn from this batch
        return F.cross_entropy(pred, target, ignore_index=IGNORE_INDEX)

    def metric(self, pred: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        with torch.no_grad():
            target = self._target(batch)
            valid = target != IGNORE_INDEX
            guess = pred.argmax(dim=1)[valid]
            truth = target[valid]
            ious = []
            for cls in torch.unique(torch.cat([guess, truth])):
                inter = ((guess == cls) & (truth == cls)).sum()
                union = ((guess == cls) | (truth == cls)).sum()
                ious.append(inter.float() / union.float())
            if not ious:
                return torch.tensor(0.0, device=pred.device)
            return torch.stack(ious).mean()

    def kpi(self, pred: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        """Pixel accuracy over labelled pixels, in [0, 1] (for Dynamic Task Prioritization)."""
        with torch.no_grad():
            target = self._target(batch)
            valid = target != IGNORE_INDEX
            correct = (pred.argmax(dim=1) == target) & valid
            return correct.sum().float() / valid.sum().clamp_min(1).float()
