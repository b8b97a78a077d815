"""Steps of candidates that share a batch: alone, or many same-shaped networks folded into one.

A `SoloGroup` runs one candidate the ordinary way and supports every weighting method. A
`StackedGroup` runs K candidates whose networks have identical shapes as ONE network K times as
wide (`folding.py`): one forward and one backward for all K, the first convolution reading the
input once for all of them, and (for Adam) one optimizer step over the folded tensors
(`folded_adam.py`). The candidates' parameters, buffers and Adam moments are views of the folded
storage, so each candidate keeps its own network, optimizer, schedule and weighting method and
follows the trajectory it would follow alone, up to floating-point noise. On a CPU this beats
`torch.func.vmap` over stacked parameters (measured in docs/benchmarks.md, Training).

Weighting in a stacked group: the method's `backward` runs on detached copies of the candidate's
losses, which yields d(total)/d(loss_t) for every task (and the method's own parameter gradients);
one backward of the folded graph then applies those factors (the chain rule). This is exact for
methods whose total loss is a function of the task losses alone (`loss_only`); gradient methods
(PCGrad, MGDA-UB, GradNorm, connection strength) need per-task gradients of one network and
therefore run in a `SoloGroup` within the same step.

Convolutional networks train in `channels_last` memory order (one-after-another and stacked
alike): on a CPU core it makes these small convolutions markedly faster. Networks with a layer that
oneDNN computes wrongly in that order train in the contiguous order (`memory_format.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import Tensor, nn

from taskgroup.training import folded_adam
from taskgroup.training.folded_adam import FoldedAdam
from taskgroup.training.folding import FoldedNetwork, foldable
from taskgroup.training.memory_format import training_memory_format
from taskgroup.training.run import CandidateRun

Batch = Mapping[str, Tensor]
CPU_FOLDED_ELEMENTS = 2**19


def mixed_precision(device: torch.device, enabled: bool) -> AbstractContextManager[object]:
    """bfloat16 autocast on CUDA GPUs that support it (no loss scaling needed: bfloat16 has float32's
    range, which keeps every weighting method exact); float32 everywhere else."""
    if enabled and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return nullcontext()


def can_stack(run: CandidateRun) -> bool:
    """Whether the run's weighting method depends on the task losses only (see module docstring)
    and its network is made of layers that fold exactly."""
    method = run.weighting
    loss_only = bool(getattr(method, "loss_only", False)) and not (
        method.needs_representation or method.needs_task_connections
    )
    return loss_only and foldable(run.model)


def shape_signature(run: CandidateRun) -> tuple[object, ...]:
    """Networks with equal signatures can be stacked: same parameter and buffer shapes in the same
    order, with each decoder named by its position rather than its task."""
    positions = {name: str(index) for index, name in enumerate(run.model.decoders.keys())}

    def positional(name: str) -> str:
        parts = name.split(".")
        if parts[0] == "decoders":
            parts[1] = positions[parts[1]]
        return ".".join(parts)

    tensors = list(run.model.named_parameters()) + list(run.model.named_buffers())
    return (
        type(run.model.encoder).__name__,
        tuple(type(decoder).__name__ for decoder in run.model.decoders.values()),
        tuple((positional(name), tuple(tensor.shape), tensor.dtype) for name, tensor in tensors),
    )


def stack_limit(run: CandidateRun, batch_shape: Sequence[int] | None) -> int | None:
    """How many candidates like `run` to fold into one group for input batches of `batch_shape`
    (None: no limit). On a CPU, folding pays while the folded layers stay small (it saves per-layer
    overhead); once a layer's output outgrows the caches, K separate ungrouped convolutions are
    faster. Measured on this project's CPU (docs/benchmarks.md, Training): the best group holds about
    `CPU_FOLDED_ELEMENTS` first-layer output values. GPUs are not limited."""
    if batch_shape is None or run.device.type != "cpu" or len(batch_shape) != 4:
        return None
    first = next(module for module in run.model.modules() if isinstance(module, nn.Conv2d))
    batch, _, height, width = batch_shape
    stride_h, stride_w = first.stride
    per_candidate = batch * first.out_channels * -(-height // stride_h) * -(-width // stride_w)
    return max(1, CPU_FOLDED_ELEMENTS // per_candidate)


def make_groups(
    runs: Sequence[CandidateRun], allow_stacking: bool = True, batch_shape: Sequence[int] | None = None
) -> list[SoloGroup | StackedGroup]:
    """Stack every set of two or more same-shaped candidates with loss-only weighting, at most
    `stack_limit` per group for input batches of `batch_shape`; the rest run alone. Groups keep the
    order of their first candidate in `runs`. Each call re-points the stacked candidates' tensors at
    fresh folded storage, so call it again whenever the set of runs changes."""
    memory_format = training_memory_format(run.model for run in runs)
    stackable = [run for run in runs if allow_stacking and can_stack(run)]
    signatures = {id(run): shape_signature(run) for run in stackable}
    by_signature: dict[object, list[CandidateRun]] = {}
    for run in stackable:
        by_signature.setdefault(signatures[id(run)], []).append(run)
    groups: list[SoloGroup | StackedGroup] = []
    placed: set[int] = set()
    for run in runs:
        if id(run) in placed:
            continue
        members = by_signature.get(signatures.get(id(run)), [run]) if id(run) in signatures else [run]
        placed.update(id(member) for member in members)
        size = stack_limit(members[0], batch_shape) or len(members)
        for chunk in (members[start : start + size] for start in range(0, len(members), size)):
            stacked = StackedGroup(chunk, memory_format) if len(chunk) > 1 else None
            if stacked is not None and stacked.exact:
                groups.append(stacked)
            else:
                groups.extend(SoloGroup(member, memory_format) for member in chunk)
    return groups


class SoloGroup:
    """One candidate, trained the ordinary way."""

    def __init__(self, run: CandidateRun, memory_format: torch.memory_format) -> None:
        self.runs = [run]
        run.model.to(memory_format=memory_format)

    def train_step(self, batch: Batch, epoch: int, step: int) -> None:
        run = self.runs[0]
        run.model.train()
        with run.rng.active():
            run.optimizer.zero_grad(set_to_none=True)
            with _capture_representation(run) as captured, _precision(run):
                outputs = run.model(batch["rgb"])
                losses = run.losses(outputs, batch)
            run.check_finite(losses, epoch, step)
            context = run.context(epoch, step, outputs, batch, captured.get("representation"))
            weights = run.weighting.backward(losses, run.model.shared_parameters(), context)
            run.optimizer.step()
        run.record_step(losses, weights)

    @torch.no_grad()
    def predict(self, rgb: Tensor) -> list[dict[str, Tensor]]:
        run = self.runs[0]
        run.model.eval()
        with _precision(run):
            return [run.model(rgb)]


class StackedGroup:
    """K same-shaped candidates run as one folded network (see module docstring). `exact` is False
    when the folded network does not reproduce the candidates' outputs (a layer folding cannot see,
    e.g. a channel concatenation in a forward); `make_groups` then trains them alone."""

    def __init__(self, runs: Sequence[CandidateRun], memory_format: torch.memory_format) -> None:
        self.runs = list(runs)
        self._folded = FoldedNetwork([run.model for run in self.runs], memory_format)
        self.exact = self._folded.matches(_probe(self.runs[0].model, self.runs[0].device, memory_format))
        if not self.exact:
            return
        self._parameters = list(self._folded.network.parameters())
        members = [list(run.model.parameters()) for run in self.runs]
        optimizers = [run.optimizer for run in self.runs]
        self._adam = FoldedAdam(optimizers, self._parameters, members) if folded_adam.supports(optimizers, members) else None
        self._members = members

    def train_step(self, batch: Batch, epoch: int, step: int) -> None:
        network = self._folded.network
        network.train()
        for run in self.runs:
            run.optimizer.zero_grad(set_to_none=True)
        for parameter in self._parameters:
            parameter.grad = None
        with _precision(self.runs[0]):
            per_run = self._folded.split(network(batch["rgb"]))
        all_losses: list[Tensor] = []
        all_factors: list[Tensor] = []
        for run, outputs in zip(self.runs, per_run, strict=True):
            with _precision(run):
                losses = run.losses(outputs, batch)
            run.check_finite(losses, epoch, step)
            surrogates = {name: loss.detach().requires_grad_() for name, loss in losses.items()}
            with run.rng.active():
                weights = run.weighting.backward(surrogates, [], run.context(epoch, step, outputs, batch))
            for name, loss in losses.items():
                factor = surrogates[name].grad
                if factor is not None:
                    all_losses.append(loss)
                    all_factors.append(factor)
            run.record_step(losses, weights)
        torch.autograd.backward(all_losses, grad_tensors=all_factors)
        self._folded.counters.add_(1)
        self._optimizer_step()

    def _optimizer_step(self) -> None:
        """One folded Adam step (the candidates' own optimizers then only step their weighting
        methods' parameters, if any); any other optimizer steps each candidate on its block of the
        folded gradients."""
        if self._adam is not None:
            self._adam.step()
            for run in self.runs:
                if any(parameter.grad is not None for parameter in run.weighting.parameters()):
                    run.optimizer.step()
            return
        for k, members in enumerate(self._members):
            for member, folded in zip(members, self._parameters, strict=True):
                if folded.grad is not None:
                    rows = member.shape[0]
                    member.grad = folded.grad[k * rows : (k + 1) * rows]
            self.runs[k].optimizer.step()

    @torch.no_grad()
    def predict(self, rgb: Tensor) -> list[dict[str, Tensor]]:
        self._folded.network.eval()
        with _precision(self.runs[0]):
            return self._folded.split(self._folded.network(rgb))


def _probe(model: nn.Module, device: torch.device, memory_format: torch.memory_format) -> Tensor:
    """A fixed small input for `FoldedNetwork.matches` (drawn from its own generator, so no
    candidate's random stream moves)."""
    first = next(module for module in model.modules() if isinstance(module, nn.Conv2d))
    generator = torch.Generator().manual_seed(0)
    rgb = torch.randn(2, first.in_channels, 32, 32, generator=generator)
    return rgb.to(device).contiguous(memory_format=memory_format)


def _precision(run: CandidateRun) -> AbstractContextManager[object]:
    return mixed_precision(run.device, run.config.amp)


class _capture_representation(AbstractContextManager[dict[str, Tensor]]):
    """Keeps the encoder's output of the next forward when the weighting method asks for it."""

    def __init__(self, run: CandidateRun) -> None:
        self._run = run
        self._captured: dict[str, Tensor] = {}
        self._handle: torch.utils.hooks.RemovableHandle | None = None

    def __enter__(self) -> dict[str, Tensor]:
        if self._run.weighting.needs_representation:
            self._handle = self._run.model.encoder.register_forward_hook(
                lambda module, inputs, output: self._captured.__setitem__("representation", output)
            )
        return self._captured

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.remove()
