"""The `keypoint` task: 2D keypoint heatmaps (Taskonomy's keypoints2d; corners in synthetic scenes)."""

from __future__ import annotations

from taskgroup.tasks.base import TASKS
from taskgroup.tasks.dense import DenseRegressionTask


@TASKS.register("keypoint")
class KeypointTask(DenseRegressionTask):
    """2D keypoint heatmaps (Taskonomy's keypoints2d; corners in synthetic scenes), regressed with L1 over valid pixels.

    Label `batch["keypoint"]`: float32 [1,H,W] in [0,1], 1 at a keypoint; every pixel is valid.
    Metric: mean absolute error over valid pixels (lower is better).
    """

    name = "keypoint"
    label = "keypoint"
    channels = 1
    label_encoding = "float32 [1,H,W] in [0,1], 1 at a keypoint; every pixel is valid."
