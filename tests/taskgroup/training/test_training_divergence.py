"""A diverging run fails with one clear error and leaves no result behind."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import Dataset

from taskgroup.errors import DivergenceError, InvalidInputError
from taskgroup.training import TrainConfig, TrainingInterrupted, train_candidate, train_lockstep

ABSURD = TrainConfig(batch_size=8, max_epochs=3, seed=3, optimizer="sgd", lr=1e12)


def test_absurd_learning_rate_raises_divergence_naming_task_epoch_and_step(tmp_path, splits, size) -> None:
    with pytest.raises(DivergenceError) as error:
        train_candidate(["depth", "normal"], size, splits, "cpu", ABSURD, checkpoint_dir=tmp_path)
    message = str(error.value)
    assert "diverged" in message and "depth+normal" in message
    assert "task 'depth'" in message or "task 'normal'" in message
    assert "epoch 1" in message and "step " in message and "learning rate 1e+12" in message
    saved = tmp_path / "last.pt"
    assert not saved.exists() or torch.load(saved, weights_only=True)["outcome"] is None


def test_divergence_in_lockstep_names_the_candidate(splits, size) -> None:
    with pytest.raises(DivergenceError, match=r"training of (depth|edge) \(tiny\) diverged"):
        train_lockstep([(["depth"], size), (["edge"], size)], splits, "cpu", ABSURD)


def test_a_finite_loss_that_explodes_is_a_divergence_too(tmp_path, splits, size) -> None:
    """Adam at learning rate 1 stays finite here but ends far worse than the untrained network: its
    results would otherwise be stored and chosen among as if it had trained."""
    exploding = TrainConfig(batch_size=8, max_epochs=3, seed=3, lr=1.0)
    with pytest.raises(DivergenceError) as error:
        train_candidate(["depth", "normal"], size, splits, "cpu", exploding, checkpoint_dir=tmp_path)
    message = str(error.value)
    assert "diverged: validation loss of task" in message and "x its" in message and "at the first step" in message
    assert "nan" not in message and "inf" not in message.replace("1000x", "")
    saved = tmp_path / "last.pt"
    assert not saved.exists() or torch.load(saved, weights_only=True)["outcome"] is None


def test_a_resumed_run_keeps_its_first_step_losses(tmp_path, splits, size, config) -> None:
    """The explosion check compares with the first step's losses, so a resumed run must keep them
    rather than take its first step after the resume for the untrained network's."""
    steps = iter(range(100))
    with pytest.raises(TrainingInterrupted):
        train_candidate(["depth"], size, splits, "cpu", config, checkpoint_dir=tmp_path, should_stop=lambda: next(steps) >= 6)
    interrupted = torch.load(tmp_path / "last.pt", weights_only=True)["run"]["initial_losses"]
    resumed = train_candidate(["depth"], size, splits, "cpu", config, checkpoint_dir=tmp_path)
    assert torch.load(tmp_path / "last.pt", weights_only=True)["run"]["initial_losses"] == interrupted
    assert resumed.epochs == config.max_epochs and 0 < resumed.val_losses["depth"] < 1000 * interrupted["depth"]


class _NaNDepth(Dataset):
    """A split whose depth labels are NaN: a dataset without per-item checks would hand this on."""

    def __init__(self, inner: Dataset) -> None:
        self.inner = inner

    def __len__(self) -> int:
        return len(self.inner)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = dict(self.inner[i])
        item["depth"] = torch.full_like(item["depth"], float("nan"))
        return item


def test_a_non_finite_loss_at_the_first_step_blames_the_data_not_the_learning_rate(splits, size, config) -> None:
    """Before any update the learning rate has done nothing: advice to lower it would send the user
    retrying settings that cannot help."""
    broken = {**splits, "train": _NaNDepth(splits["train"])}
    with pytest.raises(InvalidInputError) as error:
        train_candidate(["depth", "normal"], size, broken, "cpu", config)
    message = str(error.value)
    assert "loss of task 'depth' is nan at the first step, before any update" in message
    assert "taskgroup data check --all" in message and "lower the learning rate" not in message
