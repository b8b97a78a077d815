"""The `depth` task: Z-buffer depth (distance along the camera axis)."""

from __future__ import annotations

from taskgroup.tasks.base import TASKS
from taskgroup.tasks.dense import DenseRegressionTask


@TASKS.register("depth")
class DepthTask(DenseRegressionTask):
    """Z-buffer depth (distance along the camera axis), regressed with L1 over valid pixels.

    Label `batch["depth"]`: float32 [1,H,W], metres, >= 0; `depth_mask` bool [1,H,W] marks valid pixels (sky / missing range are invalid and hold 0).
    Metric: mean absolute error over valid pixels (lower is better).
    """

    name = "depth"
    label = "depth"
    channels = 1
    label_encoding = "float32 [1,H,W], metres, >= 0; `depth_mask` bool [1,H,W] marks valid pixels (sky / missing range are invalid and hold 0)."
