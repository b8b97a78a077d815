"""The `albedo` task: the surfaces' own colour, without light or shadow (an intrinsic image)."""

from __future__ import annotations

from taskgroup.tasks.base import TASKS
from taskgroup.tasks.dense import DenseRegressionTask


@TASKS.register("albedo")
class AlbedoTask(DenseRegressionTask):
    """Albedo (reflectance): the colour of each surface with light and shadows removed, regressed with L1 over valid pixels.

    Label `batch["albedo"]`: float32 [3,H,W] RGB in [0,1]; `albedo_mask` bool [1,H,W] marks valid pixels.
    Metric: mean absolute error over valid pixels (lower is better).
    """

    name = "albedo"
    label = "albedo"
    channels = 3
    label_encoding = "float32 [3,H,W] RGB in [0,1]; `albedo_mask` bool [1,H,W] marks valid pixels."
