"""CelebA's 40 binary face attributes, one task per attribute (`attr_smiling`, `attr_male`, ...).

One class holds the behaviour; a small subclass per attribute is registered here so that
`get_task("attr_smiling")` works like any other task and a study can group attributes freely.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from taskgroup.tasks.base import TASKS, Task

# The header of CelebA's list_attr_celeba.txt, in file order.
CELEBA_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows",
    "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones",
    "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin",
    "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair",
    "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace",
    "Wearing_Necktie", "Young",
)  # fmt: skip


def attribute_task_name(attribute: str) -> str:
    """Task name of a CelebA attribute column, e.g. `Smiling` -> `attr_smiling`."""
    return f"attr_{attribute.lower()}"


class AttributeTask(Task):
    """One binary image-level attribute, trained with binary cross-entropy on a logit.

    Label `batch["attr_<name>"]`: float32 [1] in {0, 1} (1 = attribute present). The head outputs
    one logit per image (`[B, 1]`), not a map. Metric: accuracy of `logit > 0` (higher is better).
    """

    attribute: ClassVar[str]
    channels = 1
    metric_name = "accuracy"
    higher_metric_is_better = True
    dense: ClassVar[bool] = False
    label_encoding: ClassVar[str] = "float32 [1] in {0,1}; 1 = attribute present."

    def loss(self, pred: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        target = batch[self.label].to(pred.dtype).reshape(pred.shape)
        return F.binary_cross_entropy_with_logits(pred, target)

    def metric(self, pred: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        with torch.no_grad():
            target = batch[self.label].reshape(pred.shape) > 0.5
            return ((pred > 0) == target).float().mean()

    def kpi(self, pred: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        """Accuracy, in [0, 1] (for Dynamic Task Prioritization)."""
        return self.metric(pred, batch)


def _register(attribute: str) -> type[AttributeTask]:
    name = attribute_task_name(attribute)
    cls = type(
        f"Attr{attribute.replace('_', '')}Task",
        (AttributeTask,),
        {"name": name, "label": name, "attribute": attribute, "__doc__": f"CelebA attribute `{attribute}`."},
    )
    return TASKS.register(name)(cls)


ATTRIBUTE_TASKS: dict[str, type[AttributeTask]] = {a: _register(a) for a in CELEBA_ATTRIBUTES}
