"""K same-shaped networks folded into one network K times as wide, sharing their storage.

Why: on a CPU, K small networks trained one after another (or under `vmap`) pay K times the
per-operator overhead of tiny convolutions; one network with K times the channels pays it once.
Every layer of the networks in `taskgroup.models` is either a convolution, a linear layer, a
batch norm or acts on each channel alone (ReLU, pooling, upsampling, residual sums), so:

- the first convolution, which every candidate applies to the same input image, becomes ONE
  ordinary convolution with K times the output channels (the input is read once);
- every later convolution becomes a grouped convolution (`groups` times K): candidate k's channels
  only ever see candidate k's channels;
- batch norm over K times the channels normalises each channel alone, exactly as in each network;
- a linear layer becomes a batched product over the K candidates (`GroupedLinear`).

Channel block k of every folded tensor is candidate k's tensor. The candidates' own parameters,
buffers (and, see `groups.py`, optimizer states) are re-pointed at those blocks, so the folded
network trains them in place: checkpoints, evaluation and the optimizer of each candidate see
its weights without any copying. Networks with other layers are not folded (`foldable`); folding
is also checked numerically against the candidates when it is built.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence

import torch
from torch import Tensor, nn

CHANNELWISE_LAYERS = (nn.ReLU, nn.Identity, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Upsample)
"""Layers without parameters that act on each channel alone (and draw no random numbers)."""
WIDENED_LAYERS = (nn.Conv2d, nn.BatchNorm2d, nn.Linear)


class GroupedLinear(nn.Module):
    """K linear layers applied to K blocks of the input features: ``[B, K*in] -> [B, K*out]``."""

    def __init__(self, k: int, linear: nn.Linear, weight: Tensor, bias: Tensor | None) -> None:
        super().__init__()
        self.k, self.in_features, self.out_features = k, linear.in_features, linear.out_features
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(bias) if bias is not None else None

    def forward(self, features: Tensor) -> Tensor:
        blocks = features.unflatten(1, (self.k, self.in_features))
        weight = self.weight.unflatten(0, (self.k, self.out_features))
        out = torch.einsum("bki,koi->bko", blocks, weight).flatten(1)
        return out if self.bias is None else out + self.bias


def foldable(model: nn.Module) -> bool:
    """Whether every layer of `model` is one `fold` knows how to widen exactly."""
    leaves = [module for module in model.modules() if not list(module.children())]
    convolutions = [module for module in leaves if isinstance(module, nn.Conv2d)]
    return (
        bool(convolutions)
        and convolutions[0].groups == 1
        and all(isinstance(module, CHANNELWISE_LAYERS + WIDENED_LAYERS) for module in leaves)
    )


class FoldedNetwork:
    """`models` (same shapes, `foldable`) as one wide `network` whose parameters and buffers hold
    theirs; `split` turns its outputs back into one output dict per candidate."""

    def __init__(self, models: Sequence[nn.Module], memory_format: torch.memory_format) -> None:
        self.k = len(models)
        self.models = list(models)
        self.network = copy.deepcopy(models[0])
        first_convolution = next(module for module in self.network.modules() if isinstance(module, nn.Conv2d))
        names = [name for name, _ in self.network.named_modules()]
        member_modules = [list(model.modules()) for model in models]  # matched by position, not name
        for index, (name, folded) in enumerate(zip(names, list(self.network.modules()), strict=True)):
            if isinstance(folded, WIDENED_LAYERS):
                originals = [modules[index] for modules in member_modules]
                replacement = self._widen(folded, originals, folded is first_convolution, memory_format)
                if replacement is not folded:
                    parent, _, leaf = name.rpartition(".")
                    setattr(self.network.get_submodule(parent), leaf, replacement)
        self.counters = self._bind_counters()

    def _widen(
        self, folded: nn.Module, originals: list[nn.Module], shared_input: bool, memory_format: torch.memory_format
    ) -> nn.Module:
        """Give `folded` the K originals' tensors stacked along the channels and re-point the originals."""
        k = self.k
        own = itertools.chain(folded.named_parameters(recurse=False), folded.named_buffers(recurse=False))
        tensors = {
            name: self._bind([getattr(module, name) for module in originals], memory_format)
            for name, value in own
            if value.dim() > 0
        }
        if isinstance(folded, nn.Linear):
            return GroupedLinear(k, folded, tensors["weight"], tensors.get("bias"))
        if isinstance(folded, nn.Conv2d):
            folded.out_channels *= k
            if not shared_input:
                folded.in_channels *= k
                folded.groups *= k
        else:
            folded.num_features *= k  # type: ignore[operator]
        for name, tensor in tensors.items():
            if isinstance(getattr(folded, name), nn.Parameter):
                setattr(folded, name, nn.Parameter(tensor))
            else:
                setattr(folded, name, tensor)
        return folded

    def _bind(self, tensors: list[Tensor], memory_format: torch.memory_format) -> Tensor:
        """One tensor holding `tensors` one after another along dim 0; each original becomes a view of its block."""
        stacked = torch.cat([tensor.detach() for tensor in tensors])
        if stacked.dim() == 4:
            stacked = stacked.contiguous(memory_format=memory_format)
        rows = tensors[0].shape[0]
        for index, tensor in enumerate(tensors):
            tensor.data = stacked[index * rows : (index + 1) * rows]
        return stacked

    def split(self, outputs: dict[str, Tensor]) -> list[dict[str, Tensor]]:
        """Candidate k's outputs (channel block k of each output), keyed by the first candidate's names."""
        pieces = {name: output.unflatten(1, (self.k, -1)).unbind(1) for name, output in outputs.items()}
        return [{name: piece[index] for name, piece in pieces.items()} for index in range(self.k)]

    def _bind_counters(self) -> Tensor:
        """One tensor holding every candidate's scalar buffers (batch-norm `num_batches_tracked`), which
        become views of its elements, so one `add_` counts a batch for all of them."""
        scalars = [buffer for model in self.models for buffer in model.buffers() if buffer.dim() == 0]
        if not scalars:
            return torch.zeros(0)
        counters = torch.stack([scalar.detach() for scalar in scalars])
        for index, scalar in enumerate(scalars):
            scalar.data = counters[index]
        return counters

    @torch.no_grad()
    def matches(self, rgb: Tensor) -> bool:
        """Whether the folded network computes every candidate's outputs (eval mode, on `rgb`)."""
        modes = [model.training for model in self.models]
        for model in [*self.models, self.network]:
            model.eval()
        try:
            together = self.split(self.network(rgb))
            for model, mine in zip(self.models, together, strict=True):
                for theirs, ours in zip(model(rgb).values(), mine.values(), strict=True):
                    if theirs.shape != ours.shape or not torch.allclose(theirs, ours, rtol=1e-4, atol=1e-5):
                        return False
            return True
        except RuntimeError:  # e.g. a forward that reshapes with fixed channel counts
            return False
        finally:
            for model, mode in zip(self.models, modes, strict=True):
                model.train(mode)

