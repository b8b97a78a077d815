"""GradNorm: learn task weights so that every task's gradient norm trains at a balanced rate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from taskgroup.errors import InvalidInputError
from taskgroup.weighting.base import WEIGHTINGS, StepContext, WeightingMethod

_SMALLEST_WEIGHT = 1e-4


@WEIGHTINGS.register("gradnorm")
class GradNorm(WeightingMethod):
    """Chen, Badrinarayanan, Lee and Rabinovich, "GradNorm: Gradient Normalization for Adaptive Loss
    Balancing in Deep Multitask Networks", ICML 2018.

    The model minimises ``sum_t w_t L_t``. The weights ``w`` (learnable, trained by the trainer's
    optimizer) get the gradient of ``sum_t |G_t - mean(G) * r_t^alpha|`` only, where ``G_t`` is the
    norm of the gradient of ``w_t L_t`` on the last shared layer, ``r_t`` the task's inverse training
    rate ``(L_t / L_t(0)) / mean_s(L_s / L_s(0))``, and the target is held constant. As in the paper
    the weights are renormalised to sum to the number of tasks; this happens at the start of each
    step (so after the optimizer's update), and they are kept positive.

    Options: ``alpha`` (restoring-force strength, default 1.5), ``layer``: ``last`` (default: the
    last shared parameter with two or more dimensions, i.e. the last shared layer's weight) or
    ``all`` (every shared parameter).
    """

    def __init__(self, tasks: Sequence[str], *, alpha: float = 1.5, layer: str = "last") -> None:
        super().__init__(tasks)
        if not float(alpha) >= 0.0:
            raise InvalidInputError(f"gradnorm alpha must be >= 0, got {alpha}")
        if layer not in ("last", "all"):
            raise InvalidInputError(f"gradnorm layer must be 'last' or 'all', got {layer!r}")
        self.alpha = float(alpha)
        self.layer = layer
        self.weights = nn.Parameter(torch.ones(len(self.tasks)))
        self.register_buffer("initial_losses", torch.zeros(len(self.tasks)))
        self.register_buffer("started", torch.zeros((), dtype=torch.bool))

    def norm_parameters(self, shared_parameters: Sequence[Tensor]) -> list[Tensor]:
        """The shared parameters whose gradient norms GradNorm balances."""
        shared = list(shared_parameters)
        if not shared:
            raise InvalidInputError("gradnorm needs the shared parameters, but none were given")
        if self.layer == "all":
            return shared
        matrices = [parameter for parameter in shared if parameter.dim() >= 2]
        return [matrices[-1] if matrices else shared[-1]]

    def backward(
        self,
        losses: Mapping[str, Tensor],
        shared_parameters: Sequence[Tensor],
        context: StepContext,
    ) -> dict[str, float]:
        stacked = torch.stack(self.ordered_losses(losses))
        with torch.no_grad():
            self.weights.clamp_(min=_SMALLEST_WEIGHT)
            self.weights.mul_(len(self.tasks) / self.weights.sum())
            if not bool(self.started):
                self.initial_losses.copy_(stacked.detach().clamp_min(1e-12))
                self.started.fill_(True)
        layer = self.norm_parameters(shared_parameters)
        norms = []
        for loss in stacked:
            grads = torch.autograd.grad(loss, layer, retain_graph=True, allow_unused=True)
            squares = [(grad * grad).sum() for grad in grads if grad is not None]
            norms.append(torch.stack(squares).sum().sqrt() if squares else stacked.new_zeros(()))
        raw_norms = torch.stack(norms).detach()
        weights = self.weights.to(stacked.device)
        weighted_norms = weights * raw_norms
        loss_ratios = stacked.detach() / self.initial_losses
        inverse_rates = loss_ratios / loss_ratios.mean()
        target = (weighted_norms.mean() * inverse_rates**self.alpha).detach()
        balance_loss = (weighted_norms - target).abs().sum()
        (weight_gradient,) = torch.autograd.grad(balance_loss, self.weights)
        (weights.detach() * stacked).sum().backward()
        self.weights.grad = weight_gradient if self.weights.grad is None else self.weights.grad + weight_gradient
        return self.as_weights(self.weights)
