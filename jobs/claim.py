"""What a worker holds while it runs a job, and what the job's runner hands back."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from db.checkpoint_folders import safe_part


@dataclass(frozen=True)
class Claim:
    """A job this worker holds: what to train, and the (worker, attempt) pair that proves ownership."""

    job_id: int
    study: str
    worker: str
    attempt: int
    device: str
    tasks: tuple[str, ...]
    size: dict[str, Any]
    stage: str
    dataset: dict[str, Any]
    training: dict[str, Any]
    checkpoint_dir: Path
    reclaimed_from: str | None = None
    data_splits: dict[str, int] | None = None
    """The split sizes the study recorded of its data, which the job's data must match."""

    @property
    def label(self) -> str:
        """How logs and errors name the job: `job 7 depth+normal@full (early)`."""
        return f"job {self.job_id} {'+'.join(self.tasks)}@{self.size['label']} ({self.stage})"


@dataclass(frozen=True)
class JobOutput:
    """Per-task losses of a finished job (the best checkpoint's), with what the learning curve shows."""

    val_losses: dict[str, float]
    test_losses: dict[str, float]
    epochs: int | None = None
    best_epoch: int | None = None
    wall_time: float | None = None
    curve: list[dict[str, Any]] | None = field(default=None)

    @classmethod
    def of_training(cls, outcome: Any) -> JobOutput:
        """What a `TrainOutcome` hands back to the queue."""
        return cls(
            val_losses=dict(outcome.val_losses), test_losses=dict(outcome.test_losses), epochs=outcome.epochs,
            best_epoch=outcome.best_epoch, wall_time=outcome.wall_time, curve=outcome.to_dict()["curve"],
        )


class JobInterrupted(Exception):
    """The runner stopped because it was asked to, after checkpointing; the job can be resumed."""


def checkpoint_dir(root: Path, study_folder: str, job_id: int, run: dict[str, Any]) -> Path:
    """`root/<study folder>/job-<id>-<hash of run>`: one folder per job, kept across attempts so a
    reclaimed job resumes. `run` is everything that makes the job's training what it is (see
    `job_run_key`): changed training settings (e.g. a lower learning rate before `retry`) start afresh,
    and so does a job of a study deleted and created again under the same name, whose job ids start
    over (in a study's shared folder, see `Study.checkpoint_folder`)."""
    return settings_folder(root, study_folder, f"job-{job_id}", run)


def job_run_key(created: Any, dataset: dict[str, Any], tasks: str, size: dict[str, Any], stage: str,
                training: dict[str, Any]) -> dict[str, Any]:
    """What defines one job's run, for its checkpoint folder: the study's creation time, its dataset,
    the candidate's tasks and size, the stage and the training settings."""
    return {"created": str(created), "dataset": dataset, "tasks": tasks, "size": size, "stage": stage,
            "training": training}


def settings_folder(root: Path, study_folder: str, name: str, settings: dict[str, Any]) -> Path:
    """`root/<study folder>/<name>-<hash of settings>` (unsafe characters in `name` replaced): a run's
    checkpoint folder that the same run finds again and a run with other settings never shares."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return Path(root) / study_folder / f"{safe_part(name)}-{digest}"
