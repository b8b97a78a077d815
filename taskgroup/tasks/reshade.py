"""The `reshade` task: Reshading: the scene's shading under a fixed light, without texture or shadows."""

from __future__ import annotations

from taskgroup.tasks.base import TASKS
from taskgroup.tasks.dense import DenseRegressionTask


@TASKS.register("reshade")
class ReshadeTask(DenseRegressionTask):
    """Reshading: the scene's shading under a fixed light, without texture or shadows, regressed with L1 over valid pixels.

    Label `batch["reshade"]`: float32 [1,H,W] in [0,1]; `reshade_mask` bool [1,H,W] marks valid pixels.
    Metric: mean absolute error over valid pixels (lower is better).
    """

    name = "reshade"
    label = "reshade"
    channels = 1
    label_encoding = "float32 [1,H,W] in [0,1]; `reshade_mask` bool [1,H,W] marks valid pixels."
