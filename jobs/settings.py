"""How workers behave: heartbeat and staleness timing, attempts, where checkpoints live."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from taskgroup.errors import InvalidInputError


def default_checkpoint_root() -> Path:
    """`checkpoints` under TASKGROUP_HOME (default ~/.taskgroup); TASKGROUP_CHECKPOINTS overrides it."""
    if env := os.environ.get("TASKGROUP_CHECKPOINTS"):
        return Path(env).expanduser()
    return Path(os.environ.get("TASKGROUP_HOME", Path.home() / ".taskgroup")).expanduser() / "checkpoints"


@dataclass(frozen=True)
class WorkerSettings:
    """Timing and limits shared by every worker of a run.

    A running job whose heartbeat is older than `grace` seconds (by the database's clock) is taken
    to be abandoned and may be reclaimed; `grace` must therefore be several `heartbeat` intervals.
    A job is `failed` once it has been claimed `max_attempts` times without finishing. Checkpoints
    go to `checkpoint_root/<study folder>/job-<id>-<hash>`: workers on several machines need it shared.
    """

    heartbeat: float = 10.0
    grace: float = 60.0
    max_attempts: int = 3
    poll: float = 2.0
    db_retry_deadline: float = 600.0
    checkpoint_root: Path = field(default_factory=default_checkpoint_root)
    runner: str = "train"

    def __post_init__(self) -> None:
        for name in ("heartbeat", "grace", "poll", "db_retry_deadline"):
            if not getattr(self, name) > 0:
                raise InvalidInputError(f"worker setting {name} must be positive, got {getattr(self, name)!r}")
        if self.grace < 2 * self.heartbeat:
            raise InvalidInputError(
                f"the grace period ({self.grace:g}s) must be at least twice the heartbeat interval "
                f"({self.heartbeat:g}s), or live jobs would be reclaimed"
            )
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise InvalidInputError(f"max attempts must be a positive integer, got {self.max_attempts!r}")
        object.__setattr__(self, "checkpoint_root", Path(self.checkpoint_root).expanduser())
