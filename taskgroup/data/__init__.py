"""Datasets: a registry of sources (synthetic, Taskonomy, NYUv2, CelebA) and one way to load them.

`load_splits(DatasetSpec("synthetic"), ["depth", "normal"])` returns `train`/`val`/`test` torch
datasets whose items are dicts of tensors in each task's canonical encoding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch.utils.data import Dataset

# Each module registers its source with @DATASETS.register when imported.
from taskgroup.data import celeba, nyuv2, synthetic, taskonomy  # noqa: F401  (imported for registration)
from taskgroup.data.source import DATASETS, SPLITS, DatasetSource, Progress
from taskgroup.data.spec import DatasetSpec
from taskgroup.errors import InvalidInputError

__all__ = ["DATASETS", "SPLITS", "DatasetSource", "DatasetSpec", "available_tasks", "check_same_data", "get_source",
           "image_shape", "load_splits", "split_sizes"]


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


def image_shape(spec: DatasetSpec, tasks: Sequence[str]) -> tuple[int, int, int]:
    """[C, H, W] of the images the networks train on, read from the data itself: a folder's images
    have its own size (a generated folder's meta.json, a real dataset's native one), not an option's."""
    splits = load_splits(spec, tasks)
    for split in SPLITS:
        if len(splits[split]):  # type: ignore[arg-type]
            channels, height, width = splits[split][0]["rgb"].shape
            return int(channels), int(height), int(width)
    raise InvalidInputError(f"the data at {spec.root} holds no images")


def split_sizes(splits: Mapping[str, Dataset]) -> dict[str, int]:
    """How many items each split holds: what a study records of its data to notice it change."""
    return {split: len(data) for split, data in splits.items()}  # type: ignore[arg-type]


def check_same_data(recorded: Mapping[str, int] | None, sizes: Mapping[str, int], spec: DatasetSpec) -> None:
    """Refuse data whose split sizes differ from those a study recorded when its runs first opened
    it: results on both would be compared as if from one dataset."""
    if recorded is None or dict(recorded) == dict(sizes):
        return
    where = f"the data at {spec.root}" if spec.root is not None else f"the {spec.name} data"

    def counts(values: Mapping[str, int]) -> str:
        return ", ".join(f"{split} {values.get(split, 0)}" for split in SPLITS)

    raise InvalidInputError(
        f"{where} changed since the study's first runs: they had {counts(recorded)} items, it now has "
        f"{counts(sizes)}; its results would mix the two. Restore the data, or create a new study for it"
    )
