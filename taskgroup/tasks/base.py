"""What a task is: its label, the channels its head outputs, its loss and its metric.

Datasets produce labels in the task's canonical encoding (documented on each task class), so one
task class serves every dataset that has that label. A batch is a dict of tensors: ``"rgb"`` is
the input image, ``batch[task.label]`` the target and ``batch.get(task.mask_key)`` an optional
boolean mask of valid pixels (``[B, 1, H, W]``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

from torch import Tensor

from taskgroup.registry import Registry


class Task(ABC):
    """One prediction target. Subclasses set the class variables and implement `loss` and `metric`."""

    name: ClassVar[str]
    label: ClassVar[str]
    channels: ClassVar[int]
    metric_name: ClassVar[str]
    higher_metric_is_better: ClassVar[bool] = False

    @property
    def mask_key(self) -> str:
        """Batch key of this task's valid-pixel mask."""
        return f"{self.label}_mask"

    @abstractmethod
    def loss(self, pred: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        """Scalar training loss of `pred` (the head's output) against the batch's labels."""

    @abstractmethod
    def metric(self, pred: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        """Scalar evaluation metric (see `metric_name`)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


TASKS: Registry[type[Task]] = Registry("task")
