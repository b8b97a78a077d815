"""Datasets: a registry of sources (synthetic, Taskonomy, NYUv2, CelebA) and one way to load them.

`load_splits(DatasetSpec("synthetic"), ["depth", "normal"])` returns `train`/`val`/`test` torch
datasets whose items are dicts of tensors in each task's canonical encoding.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch.utils.data import Dataset

# Each module registers its source with @DATASETS.register when imported.
from taskgroup.data import celeba, nyuv2, synthetic, taskonomy  # noqa: F401  (imported for registration)
from taskgroup.data.source import DATASETS, SPLITS, DatasetSource, Progress
from taskgroup.data.spec import DatasetSpec

__all__ = ["DATASETS", "SPLITS", "DatasetSource", "DatasetSpec", "available_tasks", "get_source", "load_splits"]


def get_source(name: str) -> DatasetSource:
    """The registered dataset source `name` (UnknownNameError lists the known ones)."""
    return DATASETS.get(name)()


def available_tasks(spec: DatasetSpec) -> list[str]:
    """Tasks the dataset named by `spec` has labels for."""
    return get_source(spec.name).tasks(spec)


def load_splits(spec: DatasetSpec, tasks: Sequence[str], progress: Progress | None = None) -> dict[str, Dataset]:
    """`train`, `val` and `test` datasets for `tasks`; unknown tasks, missing or corrupt files are
    refused with one error naming the task or path. `progress(done, total)` reports generation."""
    source = get_source(spec.name)
    source.check_options(spec)
    source.check_tasks(spec, tasks)
    return source.splits(spec, list(tasks), progress)
