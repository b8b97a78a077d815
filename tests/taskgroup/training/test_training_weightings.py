"""Every registered weighting method trains a 3-task candidate and lowers its validation loss."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from taskgroup.training import TrainConfig, train_candidate
from taskgroup.training.engine import evaluate
from taskgroup.training.groups import make_groups
from taskgroup.training.run import CandidateRun
from taskgroup.weighting import WEIGHTINGS

TASKS = ["depth", "edge", "normal"]

# Options a method cannot run without (everything else keeps its defaults).
REQUIRED_OPTIONS: dict[str, dict[str, Any]] = {
    "achievement": {"potentials": {task: 0.95 for task in TASKS}},
}


@pytest.mark.parametrize("method", WEIGHTINGS.names())
def test_method_lowers_total_validation_loss(splits, size, method) -> None:
    config = TrainConfig(
        batch_size=8, max_epochs=3, seed=11, lr=3e-3, weighting=method, weighting_options=REQUIRED_OPTIONS.get(method, {})
    )
    untrained = CandidateRun(TASKS, size, config, torch.device("cpu"))
    before = evaluate(make_groups([untrained]), splits["val"], config, torch.device("cpu"))[id(untrained)]
    outcome = train_candidate(TASKS, size, splits, "cpu", config)
    assert set(outcome.val_losses) == set(TASKS)
    assert sum(outcome.val_losses.values()) < sum(before.values())
    assert all(weight >= 0 for record in outcome.curve for weight in record.task_weights.values())
