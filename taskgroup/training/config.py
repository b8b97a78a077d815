"""How a candidate is trained: optimizer, schedule, early stopping, weighting method, seed."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from taskgroup.errors import InvalidInputError

MAX_LR = 1e30
"""Far above any rate that trains; larger ones overflow float32 inside the optimizer (torch's error, not ours)."""

STAGES = ("full", "early")
"""`full`: trained to convergence; `early`: the ESA run, the same schedule cut at `stage_fraction`."""

INITS = ("per-task", "sequential")
"""`per-task`: the encoder and each task's decoder start from weights of their own, drawn from `seed`
and the part's name, so a task's decoder starts the same in every candidate; `sequential`: the parts
draw one after another from one stream, so a decoder's start depends on the tasks drawn before it
(every study created before schema revision 0004)."""


@dataclass(frozen=True)
class TrainConfig:
    """Training settings shared by every candidate of a study.

    Defaults follow the spirit of Standley et al. (2020): Adam, the learning rate reduced when the
    validation loss plateaus, training stopped when it no longer improves. `amp` turns on mixed
    precision on CUDA only (bfloat16 autocast, see docs/training.md); CPU runs are always float32
    and deterministic for a given `seed`.
    """

    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batch_size: int = 16
    max_epochs: int = 30
    patience: int = 6
    plateau_factor: float = 0.5
    plateau_patience: int = 2
    weighting: str = "uniform"
    weighting_options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    stage_fraction: float = 0.2
    num_workers: int = 0
    amp: bool = True
    init: str = "per-task"

    def __post_init__(self) -> None:
        """Refuse a value of the wrong kind or range (options come from the CLI, TOML and the database)."""
        for name in ("optimizer", "weighting", "init"):
            if not isinstance(getattr(self, name), str):
                raise InvalidInputError(f"training option {name} must be a name, got {getattr(self, name)!r}")
        for name in ("lr", "momentum", "weight_decay", "plateau_factor", "stage_fraction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidInputError(f"training option {name} must be a number, got {value!r}")
        if not isinstance(self.amp, bool):
            raise InvalidInputError(f"training option amp must be true or false, got {self.amp!r}")
        if not isinstance(self.weighting_options, dict):
            raise InvalidInputError(f"training option weighting_options must be a table of options, got {self.weighting_options!r}")
        positive_ints = {"batch_size": self.batch_size, "max_epochs": self.max_epochs, "patience": self.patience}
        for name, value in positive_ints.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"training option {name} must be a positive integer, got {value!r}")
        for name in ("plateau_patience", "num_workers", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidInputError(f"training option {name} must be a non-negative integer, got {value!r}")
        if not (math.isfinite(self.lr) and 0 < self.lr <= MAX_LR):
            raise InvalidInputError(f"training option lr must be a positive number of at most {MAX_LR:g}, got {self.lr!r}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise InvalidInputError(f"training option weight_decay must be >= 0, got {self.weight_decay!r}")
        if not 0 <= self.momentum < 1:
            raise InvalidInputError(f"training option momentum must lie in [0, 1), got {self.momentum!r}")
        if not 0 < self.plateau_factor < 1:
            raise InvalidInputError(f"training option plateau_factor must lie in (0, 1), got {self.plateau_factor!r}")
        if self.init not in INITS:
            raise InvalidInputError(f"training option init must be one of {', '.join(INITS)}, got {self.init!r}")
        if not 0 < self.stage_fraction <= 1:
            raise InvalidInputError(f"training option stage_fraction must lie in (0, 1], got {self.stage_fraction!r}")

    def planned_steps(self, steps_per_epoch: int, stage: str) -> int:
        """Optimizer steps of a run at `stage`: the full schedule, or its first `stage_fraction`."""
        if stage not in STAGES:
            raise InvalidInputError(f"unknown stage {stage!r} (known: {', '.join(STAGES)})")
        full = self.max_epochs * steps_per_epoch
        return full if stage == "full" else max(1, math.ceil(self.stage_fraction * full))

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for checkpoints and `--json`)."""
        return asdict(self)
