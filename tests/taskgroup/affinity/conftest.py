"""Tiny synthetic data for lookahead tests (16x16 images, quarter-width encoder)."""

from __future__ import annotations

import pytest
from torch.utils.data import Dataset

from taskgroup.data import DatasetSpec, available_tasks, load_splits
from taskgroup.models import SizeSpec
from taskgroup.training import TrainConfig

ALL_SYNTHETIC_TASKS = tuple(available_tasks(DatasetSpec("synthetic")))


@pytest.fixture(scope="session")
def splits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Dataset]:
    """32 synthetic 16x16 images (train, val, test) with every synthetic label."""
    cache = tmp_path_factory.mktemp("synthetic-cache")
    spec = DatasetSpec("synthetic", options={"images": 32, "resolution": 16, "seed": 0, "cache_dir": str(cache)})
    return load_splits(spec, list(ALL_SYNTHETIC_TASKS))


@pytest.fixture
def size() -> SizeSpec:
    return SizeSpec("tiny", width=0.25, cost=0.25)


@pytest.fixture
def config() -> TrainConfig:
    return TrainConfig(batch_size=8, max_epochs=2, seed=1)
