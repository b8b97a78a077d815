"""A diverging run fails with one clear error and leaves no result behind."""

from __future__ import annotations

import pytest
import torch

from taskgroup.errors import DivergenceError
from taskgroup.training import TrainConfig, train_candidate, train_lockstep

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
