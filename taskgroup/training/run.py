"""One candidate being trained: its network, weighting method, optimizer, schedule, random stream and
the bookkeeping that picks its best checkpoint and decides when it stops.

The training loop (`engine.py`) drives one or many of these on one stream of batches; everything a
candidate needs to continue exactly after a crash is in `state_dict`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from taskgroup.errors import DivergenceError, InvalidInputError
from taskgroup.models import MultiTaskNet, SizeSpec, build_model
from taskgroup.tasks import Task, get_task
from taskgroup.training.config import TrainConfig
from taskgroup.training.optim import build_optimizer, build_plateau_schedule
from taskgroup.training.outcome import EpochRecord
from taskgroup.training.rng import RngStream
from taskgroup.weighting import StepContext, WeightingMethod, build_weighting

DIVERGENCE_ADVICE = "lower the learning rate or pick another weighting method"
EXPLOSION_RATIO = 1000.0
"""A validation loss this many times a task's loss at the first step (the untrained network's) is a
divergence, though finite: measured on the synthetic scenes, runs at learning rates of 0.1 to 1e6
reached 1e3 to 1e12 times it, while sound runs stay within 1.1 times it (docs/training.md)."""


class CandidateRun:
    """Training state of one candidate (tasks at a size). Tasks are kept sorted by name, so a
    candidate trains the same whatever order its tasks were given in."""

    def __init__(self, task_names: Sequence[str], size: SizeSpec, config: TrainConfig, device: torch.device) -> None:
        self.tasks: list[Task] = [get_task(name) for name in sorted(task_names)]
        self.size = size
        self.config = config
        self.device = device
        self.rng = RngStream.from_seed(config.seed, cuda=device.type == "cuda")
        with self.rng.active():
            model = build_model(self.tasks, size, seed=config.seed if config.init == "per-task" else None)
            weighting = build_weighting(config.weighting, self.task_names, **config.weighting_options)
        self.model: MultiTaskNet = model.to(device)
        self.weighting: WeightingMethod = weighting.to(device)
        self.optimizer = build_optimizer(list(self.model.parameters()) + list(self.weighting.parameters()), config)
        self.schedule = build_plateau_schedule(self.optimizer, config)
        self.curve: list[EpochRecord] = []
        self.best_total = math.inf
        self.best_epoch = 0
        self.best_state: dict[str, Tensor] | None = None
        self.epochs_without_improvement = 0
        self.stop_reason: str | None = None
        self.initial_losses: dict[str, float] | None = None
        """Each task's loss at the first step, the reference of `EXPLOSION_RATIO`."""
        self._reset_epoch_sums()

    @property
    def task_names(self) -> list[str]:
        return [task.name for task in self.tasks]

    @property
    def name(self) -> str:
        """Canonical candidate name with its size, for messages."""
        return f"{'+'.join(self.task_names)} ({self.size.label})"

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    # --- one step -------------------------------------------------------------------------------

    def losses(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Each task's loss (float32) of `outputs`, keyed by task name in this run's task order."""
        return {task.name: task.loss(output, batch).float()
                for task, output in zip(self.tasks, outputs.values(), strict=True)}

    def check_finite(self, losses: Mapping[str, Tensor], epoch: int, step: int) -> None:
        """Raise `DivergenceError` naming the task, epoch and step of the first non-finite loss; at the
        first step (`step` counts from the start of training) the data is to blame, not training."""
        values = torch.stack([loss.detach() for loss in losses.values()])
        if bool(torch.isfinite(values).all()):
            return
        for task, value in zip(losses, values.tolist(), strict=True):
            if math.isfinite(value):
                continue
            if step == 0:
                raise InvalidInputError(
                    f"training of {self.name}: loss of task {task!r} is {value} at the first step, before any "
                    "update, so no learning rate or weighting causes it: a label or image of the first batch is "
                    "not a finite number or out of range (read every item with `taskgroup data check --all`)"
                )
            raise DivergenceError(
                f"training of {self.name} diverged: loss of task {task!r} is {value} at epoch {epoch + 1}, "
                f"step {step + 1} (learning rate {self.lr:g}); {DIVERGENCE_ADVICE}"
            )

    def context(
        self,
        epoch: int,
        step: int,
        outputs: Mapping[str, Tensor],
        batch: Mapping[str, Tensor],
        representation: Tensor | None = None,
    ) -> StepContext:
        """What the weighting method asked for: KPIs on this training batch, the shared representation,
        the task connections (the first weight of each decoder)."""
        kpis = None
        if self.weighting.needs_kpis:
            with torch.no_grad():
                kpis = {
                    task.name: min(1.0, max(0.0, float(task.kpi(output.float(), batch))))
                    for task, output in zip(self.tasks, outputs.values(), strict=True)
                }
        connections = None
        if self.weighting.needs_task_connections:
            connections = {name: first_weight(decoder) for name, decoder in self.model.decoders.items()}
        return StepContext(
            step=step, epoch=epoch, kpis=kpis, shared_representation=representation, task_connections=connections
        )

    def record_step(self, losses: Mapping[str, Tensor], weights: Mapping[str, float]) -> None:
        """Add the step's losses (kept on the device, no synchronisation after the first step) and
        weights to the epoch means."""
        if self.initial_losses is None:
            self.initial_losses = {name: float(loss.detach()) for name, loss in losses.items()}
        for name, loss in losses.items():
            self._loss_sums[name] = self._loss_sums[name] + loss.detach()
            self._weight_sums[name] += float(weights.get(name, 0.0))
        self._steps_in_epoch += 1

    # --- end of an epoch ------------------------------------------------------------------------

    def end_epoch(self, epoch: int, val_losses: Mapping[str, float], patience: int) -> None:
        """Record the epoch, keep the weights if they are the best so far, step the schedule and
        decide on early stopping. A non-finite validation loss is a divergence, and so is one that
        exploded to `EXPLOSION_RATIO` times the task's loss at the first step."""
        for task, value in val_losses.items():
            if not math.isfinite(value):
                raise DivergenceError(
                    f"training of {self.name} diverged: validation loss of task {task!r} is {value} after "
                    f"epoch {epoch + 1} (learning rate {self.lr:g}); {DIVERGENCE_ADVICE}"
                )
            first = (self.initial_losses or {}).get(task, 0.0)
            if first > 0 and value > EXPLOSION_RATIO * first:
                raise DivergenceError(
                    f"training of {self.name} diverged: validation loss of task {task!r} is {value:.6g} after "
                    f"epoch {epoch + 1}, over {EXPLOSION_RATIO:g}x its {first:.4g} at the first step (learning "
                    f"rate {self.lr:g}); {DIVERGENCE_ADVICE}"
                )
        steps = max(1, self._steps_in_epoch)
        train = {name: float(total) / steps for name, total in self._loss_sums.items()}
        record = EpochRecord(
            epoch=epoch + 1,
            steps=self._steps_in_epoch,
            lr=self.lr,
            train_losses=train,
            val_losses=dict(val_losses),
            task_weights={name: total / steps for name, total in self._weight_sums.items()},
        )
        self.curve.append(record)
        self.weighting.end_epoch(train)
        total = record.val_total
        if total < self.best_total:
            self.best_total, self.best_epoch = total, epoch + 1
            self.best_state = {key: value.detach().to("cpu", copy=True) for key, value in self.model.state_dict().items()}
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        self.schedule.step(total)
        if self.epochs_without_improvement >= patience:
            self.stop_reason = "early_stopping"
        self._reset_epoch_sums()

    def _reset_epoch_sums(self) -> None:
        self._loss_sums: dict[str, Tensor] = {name: torch.zeros((), device=self.device) for name in self.task_names}
        self._weight_sums: dict[str, float] = {name: 0.0 for name in self.task_names}
        self._steps_in_epoch = 0

    # --- checkpoints ----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: tensors and primitive containers only."""
        return {
            "model": self.model.state_dict(),
            "weighting": self.weighting.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "rng": self.rng.to_checkpoint(),
            "curve": [record.__dict__ for record in self.curve],
            "best_total": self.best_total,
            "best_epoch": self.best_epoch,
            "best_state": self.best_state,
            "epochs_without_improvement": self.epochs_without_improvement,
            "stop_reason": self.stop_reason,
            "initial_losses": self.initial_losses,
            "epoch_sums": {
                "losses": {name: value.cpu() for name, value in self._loss_sums.items()},
                "weights": dict(self._weight_sums),
                "steps": self._steps_in_epoch,
            },
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from `state_dict()` output."""
        self.model.load_state_dict(state["model"])
        self.weighting.load_state_dict(state["weighting"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.rng = RngStream.from_checkpoint(state["rng"], cuda=self.device.type == "cuda")
        self.curve = [EpochRecord(**record) for record in state["curve"]]
        self.best_total = float(state["best_total"])
        self.best_epoch = int(state["best_epoch"])
        self.best_state = state["best_state"]
        self.epochs_without_improvement = int(state["epochs_without_improvement"])
        self.stop_reason = state["stop_reason"]
        self.initial_losses = state.get("initial_losses")  # absent from checkpoints of earlier versions
        sums = state["epoch_sums"]
        self._loss_sums = {name: value.to(self.device) for name, value in sums["losses"].items()}
        self._weight_sums = dict(sums["weights"])
        self._steps_in_epoch = int(sums["steps"])


def first_weight(decoder: nn.Module) -> Tensor:
    """The weight of a decoder's first layer, the one that reads the shared representation."""
    return next(parameter for parameter in decoder.parameters() if parameter.dim() >= 2)
