"""Tiny synthetic data and networks for training tests (16x16 images, quarter-width encoder)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from taskgroup.data import DatasetSpec, load_splits
from taskgroup.models import SizeSpec
from taskgroup.training import TrainConfig

TASKS = ("depth", "edge", "normal")


def synthetic_splits(cache: Path) -> dict[str, Dataset]:
    """40 synthetic 16x16 images (32 train, 4 val, 4 test) with every label the tests use."""
    spec = DatasetSpec(name="synthetic", options={"images": 40, "resolution": 16, "seed": 0, "cache_dir": str(cache)})
    return load_splits(spec, list(TASKS))


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """One intra-op thread: these networks are too small to gain from more, and on a shared machine
    extra threads only contend."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def splits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Dataset]:
    return synthetic_splits(tmp_path_factory.mktemp("synthetic-cache"))


@pytest.fixture
def size() -> SizeSpec:
    return SizeSpec("tiny", width=0.25, cost=0.25)


@pytest.fixture
def config() -> TrainConfig:
    return TrainConfig(batch_size=8, max_epochs=3, seed=3)


def model_weights(checkpoint_dir: Path) -> dict[str, torch.Tensor]:
    """The network weights stored in a run's latest checkpoint, read as a user would."""
    saved = torch.load(checkpoint_dir / "last.pt", weights_only=True)
    return saved["run"]["model"]


def assert_same_weights(left: dict[str, torch.Tensor], right: dict[str, torch.Tensor], atol: float = 0.0) -> None:
    assert left.keys() == right.keys()
    for key in left:
        if atol == 0.0:
            assert torch.equal(left[key], right[key]), key
        else:
            torch.testing.assert_close(left[key].double(), right[key].double(), atol=atol, rtol=atol, msg=key)
