"""The training loop shared by `train_candidate` (one candidate) and `train_lockstep` (many).

One stream of batches drives every candidate: each batch is loaded and moved to the device once,
then every group of candidates (see `groups.py`) takes its step on it. After each epoch (or at the
cut of an `early` stage run) every candidate is validated, may stop early, and is checkpointed;
a finished candidate is tested with its best weights and leaves the loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor
from torch.utils.data import Dataset

from taskgroup.errors import InvalidInputError
from taskgroup.models import SizeSpec
from taskgroup.training.batches import epoch_loader, evaluation_loader, steps_per_epoch, to_device
from taskgroup.training.checkpoint import checkpoint_path, load_checkpoint, save_checkpoint
from taskgroup.training.config import STAGES, TrainConfig
from taskgroup.training.groups import SoloGroup, StackedGroup, make_groups
from taskgroup.training.memory_format import training_memory_format
from taskgroup.training.outcome import TrainOutcome
from taskgroup.training.rng import RngStream
from taskgroup.training.run import CandidateRun

Candidate = tuple[Sequence[str], SizeSpec]
ProgressCallback = Callable[[int, int], None]
StepHook = Callable[[CandidateRun, Mapping[str, Tensor], int], None]
"""Called as `hook(run, batch, step)` before each candidate's step on `batch` (e.g. lookahead affinity)."""


@runtime_checkable
class StatefulHook(Protocol):
    """A step hook whose state (e.g. running sums) is checkpointed with the candidate it watches, so
    a resumed run continues the hook where the weights continue, not from scratch."""

    def __call__(self, run: CandidateRun, batch: Mapping[str, Tensor], step: int) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

CHECKPOINT_FORMAT = 1


class TrainingInterrupted(Exception):
    """`should_stop` asked the run to stop; every unfinished candidate was checkpointed first.
    Calling the trainer again with the same checkpoint directories continues where it stopped."""


@dataclass
class Position:
    """Where a run is in its schedule (shared by every candidate trained together)."""

    epoch: int = 0
    step_in_epoch: int = 0
    step: int = 0


@dataclass
class _Job:
    run: CandidateRun
    identity: dict[str, Any]
    directory: Path | None
    position: Position
    elapsed: float = 0.0
    data_rng: dict[str, Any] | None = None
    outcome: TrainOutcome | None = None
    hook_state: dict[str, Any] | None = None


def train_runs(
    candidates: Sequence[Candidate],
    splits: Mapping[str, Dataset],
    device: str | torch.device,
    config: TrainConfig,
    *,
    stage: str = "full",
    checkpoint_dirs: Sequence[Path | None] | None = None,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    allow_stacking: bool = True,
    step_hook: StepHook | None = None,
) -> list[TrainOutcome]:
    """Train `candidates` together on one batch stream and return their outcomes in order.
    `step_hook`, if given, sees every candidate and batch before the candidate's step on it; it must
    leave the model unchanged. A `StatefulHook` watches one candidate and is checkpointed with it."""
    if stage not in STAGES:
        raise InvalidInputError(f"unknown stage {stage!r} (known: {', '.join(STAGES)})")
    for split in ("train", "val", "test"):
        if split not in splits:
            raise InvalidInputError(f"training needs a {split!r} split; got {', '.join(sorted(splits)) or 'none'}")
    directories = list(checkpoint_dirs) if checkpoint_dirs is not None else [None] * len(candidates)
    if len(directories) != len(candidates):
        raise InvalidInputError(f"{len(candidates)} candidates but {len(directories)} checkpoint directories")
    device = torch.device(device)
    planned = config.planned_steps(steps_per_epoch(splits["train"], config.batch_size), stage)
    stateful = isinstance(step_hook, StatefulHook)
    if stateful and len(candidates) != 1:
        raise InvalidInputError(f"a stateful step hook watches one candidate; got {len(candidates)}")
    jobs = [
        _restore(_new_job(tasks, size, config, device, stage, planned, directory))
        for (tasks, size), directory in zip(candidates, directories, strict=True)
    ]
    if stateful and jobs[0].hook_state is not None:
        step_hook.load_state_dict(jobs[0].hook_state)  # type: ignore[union-attr]
    pending = [job for job in jobs if job.outcome is None]
    by_position: dict[tuple[int, int, int], list[_Job]] = {}
    for job in pending:
        key = (job.position.epoch, job.position.step_in_epoch, job.position.step)
        by_position.setdefault(key, []).append(job)
    loop = _Loop(splits, device, config, stage, planned, progress, should_stop, allow_stacking, step_hook)
    for together in by_position.values():
        loop.run(together)
    return [job.outcome for job in jobs]  # type: ignore[misc]


def _new_job(
    tasks: Sequence[str], size: SizeSpec, config: TrainConfig, device: torch.device, stage: str, planned: int,
    directory: Path | None,
) -> _Job:
    run = CandidateRun(tasks, size, config, device)
    identity = {
        "format": CHECKPOINT_FORMAT,
        "tasks": run.task_names,
        "size": str(size),
        "stage": stage,
        "planned_steps": planned,
        "config": config.to_dict(),
    }
    return _Job(run=run, identity=identity, directory=directory, position=Position())


def _restore(job: _Job) -> _Job:
    """Load the job's checkpoint if it has one written by the same candidate and settings."""
    if job.directory is None:
        return job
    saved = load_checkpoint(job.directory)
    if saved is None:
        return job
    if saved.get("identity") != job.identity:
        raise InvalidInputError(
            f"checkpoint {checkpoint_path(job.directory)} belongs to another run "
            f"({_differences(saved.get('identity'), job.identity)}); "
            "use a fresh checkpoint directory or the same settings"
        )
    job.hook_state = saved.get("hook")
    if saved.get("outcome") is not None:
        job.outcome = TrainOutcome.from_dict(saved["outcome"])
        return job
    job.run.load_state_dict(saved["run"])
    job.position = Position(**saved["position"])
    job.elapsed = float(saved["elapsed"])
    job.data_rng = saved["data_rng"]
    return job


def _differences(saved: Any, now: dict[str, Any]) -> str:
    """What differs between a checkpoint's run and this one, e.g. `lr 0.001 saved, 0.01 now`: the
    settings' names, so the user sees which one to change back (or why to start afresh)."""
    if not isinstance(saved, dict):
        return "written by another program or version"
    flat_saved = {**{k: v for k, v in saved.items() if k != "config"}, **(saved.get("config") or {})}
    flat_now = {**{k: v for k, v in now.items() if k != "config"}, **now["config"]}
    changed = [key for key in sorted(set(flat_saved) | set(flat_now)) if flat_saved.get(key) != flat_now.get(key)]
    return "; ".join(f"{key} {flat_saved.get(key)!r} saved, {flat_now.get(key)!r} now" for key in changed)


class _Loop:
    """Trains jobs that stand at the same position of the schedule, to the end."""

    def __init__(
        self,
        splits: Mapping[str, Dataset],
        device: torch.device,
        config: TrainConfig,
        stage: str,
        planned: int,
        progress: ProgressCallback | None,
        should_stop: Callable[[], bool] | None,
        allow_stacking: bool,
        step_hook: StepHook | None = None,
    ) -> None:
        self.splits, self.device, self.config, self.stage = splits, device, config, stage
        self.planned, self.progress, self.should_stop = planned, progress, should_stop
        self.allow_stacking = allow_stacking
        self.step_hook = step_hook
        self.steps_per_epoch = steps_per_epoch(splits["train"], config.batch_size)
        self.batch_shape = _batch_shape(splits["train"], config.batch_size)

    def run(self, jobs: list[_Job]) -> None:
        position = jobs[0].position
        saved_rng = jobs[0].data_rng
        cuda = self.device.type == "cuda"
        data_rng = RngStream.from_checkpoint(saved_rng, cuda) if saved_rng else RngStream.from_seed(self.config.seed, cuda)
        started, before = time.perf_counter(), jobs[0].elapsed
        active = list(jobs)
        memory_format = training_memory_format(job.run.model for job in jobs)
        groups = make_groups([job.run for job in active], self.allow_stacking, self.batch_shape)
        while active:
            batches = iter(epoch_loader(self.splits["train"], self.config, position.epoch, position.step_in_epoch, self.device))
            while position.step_in_epoch < self.steps_per_epoch and position.step < self.planned:
                if self.should_stop is not None and self.should_stop():
                    for job in active:
                        self._save(job, position, data_rng, before + time.perf_counter() - started)
                    raise TrainingInterrupted(
                        f"stopped at epoch {position.epoch + 1}, step {position.step}; checkpoints written"
                    )
                with data_rng.active():
                    raw = next(batches)
                batch = to_device(raw, self.device, memory_format)
                if self.step_hook is not None:
                    for job in active:
                        self.step_hook(job.run, batch, position.step)
                for group in groups:
                    group.train_step(batch, position.epoch, position.step)
                position.step += 1
                position.step_in_epoch += 1
                if self.progress is not None:
                    self.progress(position.step, self.planned)
            validation = evaluate(groups, self.splits["val"], self.config, self.device)
            for job in active:
                job.run.end_epoch(position.epoch, validation[id(job.run)], self.config.patience)
                if job.run.stop_reason is None and position.step >= self.planned:
                    job.run.stop_reason = "max_epochs" if self.stage == "full" else "stage_end"
            position.epoch += 1
            position.step_in_epoch = 0
            elapsed = before + time.perf_counter() - started
            finished = [job for job in active if job.run.stop_reason is not None]
            for job in active:
                if job.run.stop_reason is None:
                    self._save(job, position, data_rng, elapsed)
            if finished:
                # When every candidate finishes at once, test them with the groups they trained in.
                self._finish(finished, position, data_rng, elapsed, groups if len(finished) == len(active) else None)
                active = [job for job in active if job.run.stop_reason is None]
                groups = make_groups([job.run for job in active], self.allow_stacking, self.batch_shape)

    def _finish(
        self, jobs: list[_Job], position: Position, data_rng: RngStream, elapsed: float,
        groups: list[SoloGroup | StackedGroup] | None = None,
    ) -> None:
        """Test each finished candidate with its best weights, then checkpoint it as done (with its
        final weights, so a finished run can still be inspected). `groups`, if given, hold exactly
        these candidates and are reused for the test pass (loading the best weights writes into them)."""
        payloads = {id(job): self._payload(job, position, data_rng, elapsed, clone=True) for job in jobs}
        for job in jobs:
            job.run.model.load_state_dict(job.run.best_state)  # type: ignore[arg-type]
        if groups is None:
            groups = make_groups([job.run for job in jobs], self.allow_stacking, self.batch_shape)
        tested = evaluate(groups, self.splits["test"], self.config, self.device)
        for job in jobs:
            run = job.run
            best = run.curve[run.best_epoch - 1]
            job.outcome = TrainOutcome(
                tasks=tuple(run.task_names),
                size=run.size.label,
                stage=self.stage,
                val_losses=dict(best.val_losses),
                test_losses=tested[id(run)],
                best_epoch=run.best_epoch,
                epochs=len(run.curve),
                steps=position.step,
                planned_steps=self.planned,
                wall_time=elapsed,
                stop_reason=run.stop_reason or "max_epochs",
                curve=tuple(run.curve),
            )
            if job.directory is not None:
                payload = payloads[id(job)]
                payload["outcome"] = job.outcome.to_dict()
                save_checkpoint(job.directory, payload)

    def _save(self, job: _Job, position: Position, data_rng: RngStream, elapsed: float) -> None:
        if job.directory is not None:
            save_checkpoint(job.directory, self._payload(job, position, data_rng, elapsed, clone=False))

    def _payload(self, job: _Job, position: Position, data_rng: RngStream, elapsed: float, clone: bool) -> dict[str, Any]:
        state = job.run.state_dict()
        if clone:
            state["model"] = {key: value.detach().clone() for key, value in state["model"].items()}
        return {
            "identity": job.identity,
            "position": {"epoch": position.epoch, "step_in_epoch": position.step_in_epoch, "step": position.step},
            "elapsed": elapsed,
            "data_rng": data_rng.to_checkpoint(),
            "run": state,
            "outcome": None,
            "hook": self.step_hook.state_dict() if isinstance(self.step_hook, StatefulHook) else None,
        }


def _batch_shape(dataset: Dataset, batch_size: int) -> tuple[int, ...] | None:
    """The shape of a training batch of images (how many candidates to fold depends on it), if the
    dataset's samples hold an `rgb` tensor."""
    sample = dataset[0]
    rgb = sample.get("rgb") if isinstance(sample, Mapping) else None
    if not isinstance(rgb, Tensor):
        return None
    return (min(batch_size, len(dataset)), *rgb.shape)  # type: ignore[arg-type]


def evaluate(
    groups: Sequence[SoloGroup | StackedGroup], dataset: Dataset, config: TrainConfig, device: torch.device
) -> dict[int, dict[str, float]]:
    """Mean loss per task of every candidate in `groups` over `dataset` (keyed by `id(run)`); each
    batch's loss is weighted by its number of samples."""
    runs = [run for group in groups for run in group.runs]
    sums: dict[int, dict[str, Tensor]] = {id(run): {} for run in runs}
    count = 0
    for raw in evaluation_loader(dataset, config, device):
        batch = to_device(raw, device)
        size = int(batch["rgb"].shape[0])
        for group in groups:
            for run, outputs in zip(group.runs, group.predict(batch["rgb"]), strict=True):
                for name, loss in run.losses(outputs, batch).items():
                    sums[id(run)][name] = sums[id(run)].get(name, 0.0) + loss * size  # type: ignore[operator]
        count += size
    if count == 0:
        raise InvalidInputError("an evaluation split is empty")
    return {key: {name: float(total) / count for name, total in losses.items()} for key, losses in sums.items()}
