"""MGDA-UB: the minimum-norm convex combination of the task gradients, a common descent direction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from taskgroup.errors import InvalidInputError
from taskgroup.weighting.base import WEIGHTINGS, StepContext, WeightingMethod
from taskgroup.weighting.gradients import task_gradients
from taskgroup.weighting.min_norm import min_norm_weights

NORMALIZATIONS = ("none", "l2", "loss", "loss+")


@WEIGHTINGS.register("mgda")
class MGDAUB(WeightingMethod):
    """Sener and Koltun, "Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018.

    Finds convex weights ``alpha`` minimising ``|sum_t alpha_t g_t|`` with the Frank-Wolfe solver,
    where ``g_t`` is task t's gradient w.r.t. the shared representation (the paper's upper bound,
    "UB": one backward through the heads only), then backpropagates ``sum_t alpha_t L_t``. When the
    trainer passes no ``shared_representation``, the gradients on the shared parameters are used
    instead (plain MGDA, exact but one backward through the encoder per task).

    Options: ``normalization`` of each ``g_t`` before solving: ``loss+`` (default, as in the
    paper's experiments: divide by L_t times the norm), ``loss`` (divide by L_t), ``l2`` (unit
    norm) or ``none`` (raw gradients, which lets a task with tiny gradients take all the weight).
    The loss weights are ``alpha_t / scale_t`` rescaled to sum to 1, so the update is exactly the
    minimum-norm direction of the normalised gradients (the paper's code instead puts ``alpha_t``
    on the raw losses, which is the same only without normalisation).
    """

    needs_representation = True

    def __init__(self, tasks: Sequence[str], *, normalization: str = "loss+") -> None:
        super().__init__(tasks)
        if normalization not in NORMALIZATIONS:
            raise InvalidInputError(
                f"unknown MGDA normalization {normalization!r} (known: {', '.join(NORMALIZATIONS)})"
            )
        self.normalization = normalization

    def scales(self, gradients: Tensor, losses: Tensor) -> Tensor:
        """Per-task divisors applied to the gradients before solving."""
        norms = gradients.norm(dim=1)
        if self.normalization == "l2":
            scale = norms
        elif self.normalization == "loss":
            scale = losses
        elif self.normalization == "loss+":
            scale = losses * norms
        else:
            scale = torch.ones_like(norms)
        return scale.clamp_min(1e-12)

    def backward(
        self,
        losses: Mapping[str, Tensor],
        shared_parameters: Sequence[Tensor],
        context: StepContext,
    ) -> dict[str, float]:
        ordered = self.ordered_losses(losses)
        stacked = torch.stack(ordered)
        inputs = (
            [context.shared_representation]
            if context.shared_representation is not None
            else list(shared_parameters)
        )
        gradients = task_gradients(ordered, inputs).to(torch.float64)
        scales = self.scales(gradients, stacked.detach().to(torch.float64))
        normalized = gradients / scales[:, None]
        alpha = min_norm_weights(normalized @ normalized.T).to(scales.device)
        weights = alpha / scales
        weights = weights / weights.sum()
        total = (weights.to(stacked.dtype) * stacked).sum()
        total.backward()
        return self.as_weights(weights)
