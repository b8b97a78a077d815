"""The backend extension point: where worker slots run (local processes now; Ray, say, later).

A backend gets a `WorkRequest` (database, study, device slots, worker settings) and a stop event,
runs one `jobs.worker.Worker` per slot until the study has no open jobs or the event is set, and
returns what each worker did. Everything workers share goes through the database, so a backend
only has to start workers and pass the stop request on.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from jobs.settings import WorkerSettings
from jobs.worker import WorkerSummary
from taskgroup.errors import InvalidInputError
from taskgroup.registry import Registry


@dataclass(frozen=True)
class WorkRequest:
    """What to run: `per_device` worker slots on each of `devices`, for one study of one database.

    `log_dir` receives one log file per slot (None: workers log to stderr); `options` are the
    backend's own settings (e.g. a cluster address).
    """

    db_url: str
    study: str
    devices: tuple[str, ...]
    per_device: int = 1
    settings: WorkerSettings = field(default_factory=WorkerSettings)
    runner_options: dict[str, Any] = field(default_factory=dict)
    log_dir: Path | None = None
    log_level: int = logging.INFO
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.devices:
            raise InvalidInputError("no devices given; use e.g. --devices cpu or --devices cuda:0,cuda:1")
        if not isinstance(self.per_device, int) or self.per_device < 1:
            raise InvalidInputError(f"--per-device must be a positive integer, got {self.per_device!r}")

    @property
    def slots(self) -> list[str]:
        """One device name per worker: each device `per_device` times."""
        return [device for device in self.devices for _ in range(self.per_device)]


class Backend(ABC):
    """Runs the workers of a `WorkRequest`."""

    name: ClassVar[str]

    @classmethod
    def devices(cls, text: str | None) -> tuple[str, ...]:
        """The devices `--devices` names, checked where this backend runs workers (here: this machine)."""
        return parse_devices(text)

    @abstractmethod
    def run(self, request: WorkRequest, stop: threading.Event) -> list[WorkerSummary]:
        """Run one worker per slot until the study has no open jobs or `stop` is set; when `stop` is
        set, workers checkpoint and release their jobs before this returns."""


BACKENDS: Registry[type[Backend]] = Registry("backend")


def parse_devices(text: str | None) -> tuple[str, ...]:
    """`cpu`, `cuda:0,cuda:1`, ... checked against this machine; None means every GPU, else the CPU."""
    import torch

    from taskgroup.devices import resolve_device

    if text is None or text.strip() in ("", "auto"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        return tuple(f"cuda:{i}" for i in range(count)) or ("cpu",)
    devices = tuple(part.strip() for part in text.split(",") if part.strip())
    for name in devices:
        resolve_device(name)
    if len(set(devices)) != len(devices):
        raise InvalidInputError(f"--devices {text!r} lists a device twice; use --per-device for several workers each")
    return devices
