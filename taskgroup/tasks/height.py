"""The `height` task: how far above the ground each visible point lies."""

from __future__ import annotations

from taskgroup.tasks.base import TASKS
from taskgroup.tasks.dense import DenseRegressionTask


@TASKS.register("height")
class HeightTask(DenseRegressionTask):
    """Height above the ground plane in metres (0 on the ground), regressed with L1 over valid pixels.

    Label `batch["height"]`: float32 [1,H,W] in metres; `height_mask` bool [1,H,W] marks valid pixels.
    Metric: mean absolute error over valid pixels, in metres (lower is better).
    """

    name = "height"
    label = "height"
    channels = 1
    label_encoding = "float32 [1,H,W] metres above the ground plane; `height_mask` bool [1,H,W] marks valid pixels."
