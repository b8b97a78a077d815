"""The `occlusion` task: Occlusion (3D) edges: depth discontinuities between surfaces, as Taskonomy's edge_occlusion."""

from __future__ import annotations

from taskgroup.tasks.base import TASKS
from taskgroup.tasks.dense import DenseRegressionTask


@TASKS.register("occlusion")
class OcclusionTask(DenseRegressionTask):
    """Occlusion (3D) edges: depth discontinuities between surfaces, as Taskonomy's edge_occlusion, regressed with L1 over valid pixels.

    Label `batch["occlusion"]`: float32 [1,H,W] in [0,1]; every pixel is valid.
    Metric: mean absolute error over valid pixels (lower is better).
    """

    name = "occlusion"
    label = "occlusion"
    channels = 1
    label_encoding = "float32 [1,H,W] in [0,1]; every pixel is valid."
