"""The `shadow` task: where one surface casts its shadow onto another."""

from __future__ import annotations

from taskgroup.tasks.base import TASKS
from taskgroup.tasks.dense import DenseRegressionTask


@TASKS.register("shadow")
class ShadowTask(DenseRegressionTask):
    """Cast shadows: 1 on surfaces turned towards the light that another object hides from it, regressed with L1.

    Label `batch["shadow"]`: float32 [1,H,W] in [0,1]; may have `shadow_mask` bool [1,H,W].
    Metric: mean absolute error (lower is better).
    """

    name = "shadow"
    label = "shadow"
    channels = 1
    label_encoding = "float32 [1,H,W] in [0,1], 1 in a cast shadow; may have `shadow_mask` bool [1,H,W]."
