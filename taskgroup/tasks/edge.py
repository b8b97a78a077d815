"""The `edge` task: 2D texture edges (image-gradient strength, as Taskonomy's edge_texture)."""

from __future__ import annotations

from taskgroup.tasks.base import TASKS
from taskgroup.tasks.dense import DenseRegressionTask


@TASKS.register("edge")
class EdgeTask(DenseRegressionTask):
    """2D texture edges (image-gradient strength, as Taskonomy's edge_texture), regressed with L1 over valid pixels.

    Label `batch["edge"]`: float32 [1,H,W] in [0,1]; every pixel is valid.
    Metric: mean absolute error over valid pixels (lower is better).
    """

    name = "edge"
    label = "edge"
    channels = 1
    label_encoding = "float32 [1,H,W] in [0,1]; every pixel is valid."
