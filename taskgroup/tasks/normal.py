"""The `normal` task: Surface normals."""

from __future__ import annotations

from taskgroup.tasks.base import TASKS
from taskgroup.tasks.dense import DenseRegressionTask


@TASKS.register("normal")
class NormalTask(DenseRegressionTask):
    """Surface normals, regressed with L1 over valid pixels.

    Label `batch["normal"]`: float32 [3,H,W] in [-1,1], unit vectors in the camera frame (x right, y up, z towards the camera); `normal_mask` bool [1,H,W] marks valid pixels.
    Metric: mean absolute error over valid pixels (lower is better).
    """

    name = "normal"
    label = "normal"
    channels = 3
    label_encoding = "float32 [3,H,W] in [-1,1], unit vectors in the camera frame (x right, y up, z towards the camera); `normal_mask` bool [1,H,W] marks valid pixels."
