"""Steps of candidates that share a batch: alone, or many same-shaped networks batched with `vmap`.

A `SoloGroup` runs one candidate the ordinary way and supports every weighting method. A
`StackedGroup` runs K candidates whose networks have identical parameter shapes as one vectorised
forward and one backward: their parameters are stacked (`torch.stack`, so gradients flow back to
each candidate's own parameters), the network is called through `torch.func.functional_call`
under `torch.func.vmap`, and batch-norm statistics are written back to each candidate. Each
candidate keeps its own optimizer, schedule and weighting method, so it follows exactly the
trajectory it would follow alone, up to floating-point noise.

Weighting in a stacked group: the method's `backward` runs on detached copies of the candidate's
losses, which yields d(total)/d(loss_t) for every task (and the method's own parameter gradients);
one backward of the stacked graph then applies those factors (the chain rule). This is exact for
methods whose total loss is a function of the task losses alone (`loss_only`); gradient methods
(PCGrad, MGDA-UB, GradNorm, connection strength) need per-task gradients of one network and
therefore run in a `SoloGroup` within the same step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import Tensor
from torch.func import functional_call, vmap

from taskgroup.training.run import CandidateRun

Batch = Mapping[str, Tensor]


def mixed_precision(device: torch.device, enabled: bool) -> AbstractContextManager[object]:
    """bfloat16 autocast on CUDA GPUs that support it (no loss scaling needed: bfloat16 has float32's
    range, which keeps every weighting method exact); float32 everywhere else."""
    if enabled and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return nullcontext()


def can_stack(run: CandidateRun) -> bool:
    """Whether the run's weighting method depends on the task losses only (see module docstring)."""
    method = run.weighting
    return bool(getattr(method, "loss_only", False)) and not (
        method.needs_representation or method.needs_task_connections
    )


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


def make_groups(runs: Sequence[CandidateRun], allow_stacking: bool = True) -> list[SoloGroup | StackedGroup]:
    """Stack every set of two or more same-shaped candidates with loss-only weighting; the rest run alone.
    Groups keep the order of their first candidate in `runs`."""
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
        groups.append(StackedGroup(members) if len(members) > 1 else SoloGroup(run))
    return groups


class SoloGroup:
    """One candidate, trained the ordinary way."""

    def __init__(self, run: CandidateRun) -> None:
        self.runs = [run]

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
    """K same-shaped candidates run as one vectorised network (see module docstring)."""

    def __init__(self, runs: Sequence[CandidateRun]) -> None:
        self.runs = list(runs)
        self._base = self.runs[0].model
        self._forward = vmap(self._call, in_dims=(0, 0, None), randomness="error")

    def _call(self, parameters: dict[str, Tensor], buffers: dict[str, Tensor], rgb: Tensor) -> dict[str, Tensor]:
        return functional_call(self._base, (parameters, buffers), (rgb,))

    def _stacked(self, detach: bool) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Each parameter and buffer stacked over the candidates, matched by position (decoders of
        different tasks have different names) and named as in the first candidate's network."""
        parameter_names = [name for name, _ in self._base.named_parameters()]
        buffer_names = [name for name, _ in self._base.named_buffers()]
        parameters = [list(run.model.parameters()) for run in self.runs]
        buffers = [list(run.model.buffers()) for run in self.runs]
        stacked_parameters = {
            name: torch.stack([(member[index].detach() if detach else member[index]) for member in parameters])
            for index, name in enumerate(parameter_names)
        }
        stacked_buffers = {
            name: torch.stack([member[index] for member in buffers]) for index, name in enumerate(buffer_names)
        }
        return stacked_parameters, stacked_buffers

    def _unstack(self, outputs: Mapping[str, Tensor]) -> list[dict[str, Tensor]]:
        return [{name: output[index] for name, output in outputs.items()} for index in range(len(self.runs))]

    def train_step(self, batch: Batch, epoch: int, step: int) -> None:
        self._base.train()
        for run in self.runs:
            run.optimizer.zero_grad(set_to_none=True)
        parameters, buffers = self._stacked(detach=False)
        with _precision(self.runs[0]):
            per_run = self._unstack(self._forward(parameters, buffers, batch["rgb"]))
        with torch.no_grad():  # batch-norm running statistics were updated in the stacked copies
            for index, run in enumerate(self.runs):
                for buffer, stacked in zip(run.model.buffers(), buffers.values()):
                    buffer.copy_(stacked[index])
        all_losses: list[Tensor] = []
        all_factors: list[Tensor] = []
        for run, outputs in zip(self.runs, per_run):
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
        for run in self.runs:
            run.optimizer.step()

    @torch.no_grad()
    def predict(self, rgb: Tensor) -> list[dict[str, Tensor]]:
        self._base.eval()
        parameters, buffers = self._stacked(detach=True)
        with _precision(self.runs[0]):
            return self._unstack(self._forward(parameters, buffers, rgb))


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
