"""The dataset extension point: a class that lists a dataset's tasks and reads its splits."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from torch.utils.data import Dataset

from taskgroup.data.spec import DatasetSpec
from taskgroup.errors import InvalidInputError, UnknownNameError
from taskgroup.registry import Registry

Progress = Callable[[int, int], None]
SPLITS: tuple[str, ...] = ("train", "val", "test")
MIN_RESOLUTION = 8
MAX_RESOLUTION = 1024
"""Bounds of every dataset's `resolution` option: a much larger square does not fit in memory once
batched, and would only be found out when a worker is killed mid-training."""


class DatasetSource(ABC):
    """Reads one dataset's on-disk layout into `train`/`val`/`test` datasets of dict items.

    Every item is a dict of tensors: `rgb` float32 [3,H,W] in [0,1], and for each requested task
    `item[task.label]` in the task's canonical encoding plus `item[task.mask_key]` where the
    dataset has invalid pixels.
    """

    name: ClassVar[str]
    reads_from_disk: ClassVar[bool] = True
    """Whether the dataset needs a root directory (the synthetic one is generated when it has none)."""
    path_options: ClassVar[tuple[str, ...]] = ()
    """Options naming a folder: stored absolute, as the root is, so a worker started elsewhere finds it."""

    def absolute_options(self, options: dict[str, Any], base: Path) -> dict[str, Any]:
        """`options` with each folder option (`path_options`) made absolute against `base`."""
        def absolute(key: str, value: Any) -> Any:
            if key not in self.path_options or not isinstance(value, str) or not value.strip():
                return value  # check_options refuses what is not a folder path
            return os.path.abspath(base / Path(value).expanduser())

        return {key: absolute(key, value) for key, value in options.items()}

    @abstractmethod
    def tasks(self, spec: DatasetSpec) -> list[str]:
        """Names of the tasks this dataset has labels for (sorted)."""

    @abstractmethod
    def check_options(self, spec: DatasetSpec) -> None:
        """Refuse an unknown or malformed option: checked when a study is created, so a typo fails
        there instead of in every worker."""

    @abstractmethod
    def splits(
        self, spec: DatasetSpec, tasks: Sequence[str], progress: Progress | None = None
    ) -> dict[str, Dataset]:
        """The `train`, `val` and `test` datasets for `tasks` (tasks and options already checked)."""

    def check_tasks(self, spec: DatasetSpec, tasks: Sequence[str]) -> None:
        """Refuse an empty task list or any task this dataset has no labels for."""
        available = self.tasks(spec)
        if not tasks:
            raise InvalidInputError(f"no tasks given for dataset {self.name!r} (available: {', '.join(available)})")
        for task in tasks:
            if task not in available:
                raise UnknownNameError(
                    f"dataset {self.name!r} has no task {task!r} (available: {', '.join(available)})"
                )


def require_root(spec: DatasetSpec) -> Path:
    """The dataset directory, which must exist."""
    if spec.root is None:
        raise InvalidInputError(f"dataset {spec.name!r} needs a root directory")
    root = Path(spec.root).expanduser()
    if not root.is_dir():
        raise InvalidInputError(f"dataset {spec.name!r}: directory not found: {root}")
    return root


def reject_unknown_options(spec: DatasetSpec, known: Sequence[str]) -> None:
    """One clear error for a misspelt option instead of silently ignoring it."""
    unknown = sorted(set(spec.options) - set(known))
    if unknown:
        raise InvalidInputError(
            f"dataset {spec.name!r}: unknown option(s) {', '.join(unknown)} (known: {', '.join(known) or 'none'})"
        )


def check_resolution(dataset: str, value: Any) -> None:
    """Refuse a `resolution` option that is not an integer in [MIN_RESOLUTION, MAX_RESOLUTION]."""
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_RESOLUTION <= value <= MAX_RESOLUTION:
        raise InvalidInputError(
            f"{dataset} option resolution must be an integer >= {MIN_RESOLUTION} and <= {MAX_RESOLUTION}, got {value!r}"
        )


DATASETS: Registry[type[DatasetSource]] = Registry("dataset")
