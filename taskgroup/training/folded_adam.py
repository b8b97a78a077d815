"""One Adam step for K candidates whose parameters share folded storage (see `folding.py`).

Why: K `torch.optim.Adam` steps over the same small tensors cost K times the per-tensor overhead
(about 1 ms per candidate for a quarter-width network on a CPU core); Adam is elementwise, so one
step over the folded tensors does the same arithmetic at once. Each candidate keeps its own
learning rate (its plateau schedule) and its own optimizer: the moment estimates live in the
folded storage and the candidates' `optimizer.state` holds views of them, so a checkpoint of any
candidate, or a later step on its own, continues exactly.

The arithmetic follows `torch.optim.Adam(foreach=True)` with L2 weight decay (`taskgroup`'s `adam`
optimizer). Other optimizers are stepped per candidate on views of the folded gradients.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

PLAIN_ADAM = {"amsgrad": False, "maximize": False, "capturable": False, "differentiable": False,
              "decoupled_weight_decay": False}  # fmt: skip


def supports(optimizers: Sequence[torch.optim.Optimizer], members: Sequence[Sequence[nn.Parameter]]) -> bool:
    """Plain Adam with one parameter group and the same betas, eps and weight decay for every
    candidate, each standing at the same step for every folded parameter."""
    if not all(type(optimizer) is torch.optim.Adam and len(optimizer.param_groups) == 1 for optimizer in optimizers):
        return False
    groups = [optimizer.param_groups[0] for optimizer in optimizers]
    same = {(group["betas"], group["eps"], group["weight_decay"]) for group in groups}
    plain = all(group.get(key, value) == value for group in groups for key, value in PLAIN_ADAM.items())
    steps = {_step(optimizer, parameter)
             for optimizer, row in zip(optimizers, members, strict=True) for parameter in row}
    return len(same) == 1 and plain and len(steps) == 1


class FoldedAdam:
    """Adam over `folded` parameters; `members[k][i]` is candidate k's view of `folded[i]`."""

    def __init__(
        self, optimizers: Sequence[torch.optim.Optimizer], folded: Sequence[Tensor], members: Sequence[Sequence[Tensor]]
    ) -> None:
        self.optimizers = list(optimizers)
        self.folded = list(folded)
        group = self.optimizers[0].param_groups[0]
        self.beta1, self.beta2 = group["betas"]
        self.eps, self.weight_decay = group["eps"], group["weight_decay"]
        self.step_count = int(_step(self.optimizers[0], members[0][0]))
        self.exp_avgs = [self._moment(parameter, members, index, "exp_avg") for index, parameter in enumerate(folded)]
        self.exp_avg_sqs = [self._moment(parameter, members, index, "exp_avg_sq") for index, parameter in enumerate(folded)]
        # Every candidate's per-parameter step counter, as views of one tensor: one add_ per step.
        self.steps = torch.full((len(members) * len(folded),), float(self.step_count))
        for k, row in enumerate(members):
            for index, member in enumerate(row):
                self.optimizers[k].state[member]["step"] = self.steps[k * len(folded) + index]
        self._scales: tuple[tuple[float, ...], list[Tensor]] | None = None

    def _moment(self, parameter: Tensor, members: Sequence[Sequence[Tensor]], index: int, key: str) -> Tensor:
        """The folded moment `key` of parameter `index`, made of the candidates' moments, which become views of it."""
        rows = members[0][index].shape[0]
        pieces = [self.optimizers[k].state[row[index]].get(key) for k, row in enumerate(members)]
        moment = torch.zeros_like(parameter)
        with torch.no_grad():
            for k, piece in enumerate(pieces):
                if piece is not None:
                    moment[k * rows : (k + 1) * rows].copy_(piece)
        for k, row in enumerate(members):
            state = self.optimizers[k].state[row[index]]
            state[key] = moment[k * rows : (k + 1) * rows]
        return moment

    @torch.no_grad()
    def step(self) -> None:
        """One Adam step of every candidate, each at its own learning rate."""
        indices = [index for index, parameter in enumerate(self.folded) if parameter.grad is not None]
        params = [self.folded[index] for index in indices]
        grads = [parameter.grad for parameter in params]
        exp_avgs = [self.exp_avgs[index] for index in indices]
        exp_avg_sqs = [self.exp_avg_sqs[index] for index in indices]
        self.step_count += 1
        self.steps.add_(1)
        if self.weight_decay != 0:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        torch._foreach_lerp_(exp_avgs, grads, 1 - self.beta1)
        torch._foreach_mul_(exp_avg_sqs, self.beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - self.beta2)
        correction1 = 1 - self.beta1**self.step_count
        correction2_sqrt = (1 - self.beta2**self.step_count) ** 0.5
        denominators = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_div_(denominators, correction2_sqrt)
        torch._foreach_add_(denominators, self.eps)
        rates = tuple(float(optimizer.param_groups[0]["lr"]) for optimizer in self.optimizers)
        if len(set(rates)) == 1:
            torch._foreach_addcdiv_(params, exp_avgs, denominators, -rates[0] / correction1)
            return
        updates = torch._foreach_div(exp_avgs, denominators)
        torch._foreach_mul_(updates, self._rate_scales(rates, indices))
        torch._foreach_div_(updates, -correction1)
        torch._foreach_add_(params, updates)

    def _rate_scales(self, rates: tuple[float, ...], indices: list[int]) -> list[Tensor]:
        """Per folded parameter, each candidate's learning rate repeated over its rows (cached per rates)."""
        if self._scales is None or self._scales[0] != rates:
            per_candidate = torch.tensor(rates, dtype=self.folded[0].dtype, device=self.folded[0].device)
            scales = [
                per_candidate.repeat_interleave(parameter.shape[0] // len(rates)).view(-1, *([1] * (parameter.dim() - 1)))
                for parameter in self.folded
            ]
            self._scales = (rates, scales)
        return [self._scales[1][index] for index in indices]


def _step(optimizer: torch.optim.Optimizer, parameter: Tensor) -> float:
    step = optimizer.state.get(parameter, {}).get("step", 0.0)
    return float(step)
