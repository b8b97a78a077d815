"""What a training run returns: per-task losses of its best checkpoint and its learning curve."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class EpochRecord:
    """One point of the learning curve: mean training losses over the epoch's steps, validation losses
    after it, the learning rate it ran at and the mean weight the weighting method gave each task."""

    epoch: int
    steps: int
    lr: float
    train_losses: dict[str, float]
    val_losses: dict[str, float]
    task_weights: dict[str, float]

    @property
    def val_total(self) -> float:
        """The summed validation loss that picks the best checkpoint."""
        return sum(self.val_losses.values())


@dataclass(frozen=True)
class TrainOutcome:
    """Result of training one candidate at one stage.

    `val_losses` and `test_losses` come from the checkpoint with the lowest summed validation loss
    (`best_epoch`, 1-based); `epochs` and `steps` count what actually ran (an early-stopped or `early`
    stage run runs fewer than planned). `stop_reason` is `max_epochs`, `early_stopping` or `stage_end`.
    """

    tasks: tuple[str, ...]
    size: str
    stage: str
    val_losses: dict[str, float]
    test_losses: dict[str, float]
    best_epoch: int
    epochs: int
    steps: int
    planned_steps: int
    wall_time: float
    stop_reason: str
    curve: tuple[EpochRecord, ...]

    @property
    def candidate(self) -> str:
        """Canonical candidate name: tasks sorted and joined by `+`."""
        return "+".join(sorted(self.tasks))

    def to_dict(self) -> dict[str, Any]:
        """Plain data: JSON output and checkpoints (which only hold primitive containers)."""
        payload = asdict(self)
        payload["tasks"] = list(self.tasks)
        payload["curve"] = [asdict(record) for record in self.curve]
        return payload

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> TrainOutcome:
        """The inverse of `to_dict`."""
        fields = dict(payload)
        fields["tasks"] = tuple(fields["tasks"])
        fields["curve"] = tuple(EpochRecord(**record) for record in fields["curve"])
        return cls(**fields)
