"""What a worker runs for a job. `train` trains the candidate network; `dry` is the scheduler alone.

Runners are registered by name so a worker process can be told which one to use. `dry` makes up
deterministic losses in a few checkpointed steps without any network: it exercises the queue,
heartbeats, checkpoint resume and result writing at full speed, which is what the concurrency
tests and `benchmarks/scheduler.py` measure, and lets a user smoke-test a new database or cluster.
"""

from __future__ import annotations

import hashlib
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from jobs.claim import Claim, JobInterrupted, JobOutput
from jobs.training_options import checked_training, training_config
from taskgroup.errors import InvalidInputError
from taskgroup.registry import Registry

ShouldStop = Callable[[], bool]
Progress = Callable[[int, int], None]


class JobRunner(ABC):
    """Runs one claimed job to its losses, checkpointing into `claim.checkpoint_dir`.

    `run` raises `JobInterrupted` when `should_stop()` turns true (after checkpointing), and lets our
    own errors through (a `DivergenceError`, bad data or settings: the job fails at once, since
    another attempt would fail alike); any other exception costs an attempt.
    """

    name: ClassVar[str]
    option_kinds: ClassVar[Mapping[str, type[int] | type[float]]] = {}
    """The options the runner takes (`--runner-option KEY=VALUE`) and the kind of number each is."""

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options = {key: self._checked(key, value) for key, value in (options or {}).items()}

    def _checked(self, key: str, value: Any) -> int | float:
        """An option refused when it is built, before any job runs, rather than by every job."""
        if key not in self.option_kinds:
            takes = ", ".join(self.option_kinds) or "none"
            raise InvalidInputError(f"job runner {self.name!r} has no option {key!r} (its options: {takes})")
        kind = self.option_kinds[key]
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        if number is None or (kind is int and number != int(number)) or not 0 <= number < float("inf"):
            raise InvalidInputError(f"job runner {self.name!r} option {key} must be a non-negative "
                                    f"{'integer' if kind is int else 'number'}, got {value!r}")
        return kind(number)

    def check(self, dataset: Mapping[str, Any], training: Mapping[str, Any]) -> None:
        """Refuse a study this runner cannot run, cheaply (no data is read), so `run` can refuse it
        before it stores any plan or setting."""

    def prepare(self, dataset: Mapping[str, Any], tasks: list[str], training: Mapping[str, Any],
                progress: Progress | None = None) -> dict[str, int] | None:
        """Check a study can be run, and do once (before workers start) what they would all do; the
        split sizes of the data it opened, if it opened any."""
        self.check(dataset, training)
        return None

    @abstractmethod
    def run(self, claim: Claim, should_stop: ShouldStop, progress: Progress) -> JobOutput:
        """Train (or simulate) the claimed job and return its per-task losses."""


RUNNERS: Registry[type[JobRunner]] = Registry("job runner")


def build_runner(name: str, options: Mapping[str, Any] | None = None) -> JobRunner:
    """The runner registered as `name` (UnknownNameError lists the others)."""
    return RUNNERS.get(name)(options)


def dataset_spec(dataset: Mapping[str, Any]) -> Any:
    """The `DatasetSpec` of a study's stored dataset; refused for an import-only study."""
    from taskgroup.data import DatasetSpec

    if not dataset:
        raise InvalidInputError(
            "the study has no dataset (it holds imported results only); create a study with --dataset to train"
        )
    root = dataset.get("root")
    return DatasetSpec(name=dataset["name"], root=Path(root) if root else None, options=dict(dataset.get("options") or {}))


@RUNNERS.register("train")
class TrainingRunner(JobRunner):
    """Trains the candidate on the study's dataset with `train_candidate`, resuming from checkpoints."""

    name = "train"

    def check(self, dataset: Mapping[str, Any], training: Mapping[str, Any]) -> None:
        """Refuse import-only studies and bad training options."""
        checked_training(training)
        dataset_spec(dataset)

    def prepare(self, dataset: Mapping[str, Any], tasks: list[str], training: Mapping[str, Any],
                progress: Progress | None = None) -> dict[str, int]:
        """Check the study, then open its data (generating a synthetic dataset once, so workers do not
        all render it at the same moment); its split sizes."""
        from taskgroup.data import load_splits, split_sizes

        self.check(dataset, training)
        return split_sizes(load_splits(dataset_spec(dataset), tasks, progress))

    def run(self, claim: Claim, should_stop: ShouldStop, progress: Progress) -> JobOutput:
        from taskgroup.data import check_same_data, load_splits, split_sizes
        from taskgroup.models import SizeSpec
        from taskgroup.training import TrainingInterrupted, train_candidate

        spec = dataset_spec(claim.dataset)
        splits = load_splits(spec, list(claim.tasks))
        check_same_data(claim.data_splits, split_sizes(splits), spec)  # data changed on this worker's machine
        try:
            outcome = train_candidate(
                claim.tasks, SizeSpec(**claim.size), splits, claim.device, training_config(claim.training),
                stage=claim.stage, checkpoint_dir=claim.checkpoint_dir, progress=progress, should_stop=should_stop,
            )
        except TrainingInterrupted as stopped:
            raise JobInterrupted(str(stopped)) from stopped
        return JobOutput.of_training(outcome)


@RUNNERS.register("dry")
class DryRunner(JobRunner):
    """No training: `steps` checkpointed steps of `step_seconds` each, then losses derived from a hash
    of the candidate, stage, task and split (so any duplicated or mixed-up result shows)."""

    name = "dry"
    option_kinds = {"steps": int, "step_seconds": float}
    STATE_FILE = "dry.json"

    def run(self, claim: Claim, should_stop: ShouldStop, progress: Progress) -> JobOutput:
        steps = int(self.options.get("steps", 1))
        pause = float(self.options.get("step_seconds", 0.0))
        state_file = claim.checkpoint_dir / self.STATE_FILE
        done = json.loads(state_file.read_text())["step"] if state_file.exists() else 0
        while done < steps:
            if should_stop():
                raise JobInterrupted(f"stopped after step {done} of {steps}")
            time.sleep(pause)
            done += 1
            claim.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            temporary = state_file.with_suffix(".tmp")
            temporary.write_text(json.dumps({"step": done}))
            temporary.replace(state_file)
            progress(done, steps)
        name = "+".join(claim.tasks)
        return JobOutput(
            val_losses={task: dry_loss(name, claim.size["label"], claim.stage, task, "val") for task in claim.tasks},
            test_losses={task: dry_loss(name, claim.size["label"], claim.stage, task, "test") for task in claim.tasks},
            epochs=steps,
            best_epoch=steps,
        )


def dry_loss(tasks: str, size: str, stage: str, task: str, split: str) -> float:
    """A made-up loss in [0.5, 1.5) that depends only on where it belongs."""
    digest = hashlib.sha256(f"{tasks}|{size}|{stage}|{task}|{split}".encode()).digest()
    return 0.5 + int.from_bytes(digest[:8], "big") / 2**64
