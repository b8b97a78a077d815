"""Training one candidate: what it reports, determinism, the early (ESA) stage, early stopping."""

from __future__ import annotations

import math

import pytest
import torch

from taskgroup.errors import InvalidInputError
from taskgroup.training import TrainConfig, train_candidate
from taskgroup.training.run import CandidateRun


def test_reports_the_best_checkpoint_per_task(splits, size, config) -> None:
    outcome = train_candidate(["normal", "depth"], size, splits, "cpu", config)
    assert outcome.tasks == ("depth", "normal")
    assert outcome.candidate == "depth+normal"
    assert outcome.epochs == 3 and len(outcome.curve) == 3
    assert outcome.steps == outcome.planned_steps == 3 * 4  # 32 training images, batches of 8
    assert outcome.stop_reason == "max_epochs"
    totals = [record.val_total for record in outcome.curve]
    assert outcome.best_epoch == 1 + totals.index(min(totals))
    assert outcome.val_losses == outcome.curve[outcome.best_epoch - 1].val_losses
    assert set(outcome.test_losses) == {"depth", "normal"}
    assert all(math.isfinite(value) and value > 0 for value in outcome.test_losses.values())
    assert all(record.steps == 4 for record in outcome.curve)
    assert outcome.wall_time > 0


def test_same_seed_same_result_other_seed_other_result(splits, size, config) -> None:
    first = train_candidate(["depth", "edge"], size, splits, "cpu", config)
    second = train_candidate(["edge", "depth"], size, splits, "cpu", config)
    assert first.curve == second.curve
    assert first.test_losses == second.test_losses
    other = train_candidate(["depth", "edge"], size, splits, "cpu", TrainConfig(batch_size=8, max_epochs=3, seed=4))
    assert other.curve[0].val_losses != first.curve[0].val_losses


def test_early_stage_is_the_full_schedule_cut(splits, size) -> None:
    config = TrainConfig(batch_size=8, max_epochs=5, seed=3, stage_fraction=0.3)
    full = train_candidate(["depth"], size, splits, "cpu", config)
    early = train_candidate(["depth"], size, splits, "cpu", config, stage="early")
    assert early.planned_steps == math.ceil(0.3 * 5 * 4) == 6
    assert early.steps == 6 and early.stop_reason == "stage_end"
    # One full epoch, then the cut after two steps of the second: epoch one matches the full run.
    assert [record.steps for record in early.curve] == [4, 2]
    assert early.curve[0] == full.curve[0]
    assert early.curve[1].val_losses != full.curve[1].val_losses


def test_early_stopping_and_best_epoch_bookkeeping(size) -> None:
    config = TrainConfig(patience=2, plateau_patience=0, lr=1e-3)
    run = CandidateRun(["depth"], size, config, torch.device("cpu"))
    for epoch, loss in enumerate([3.0, 2.0, 2.5]):
        run.end_epoch(epoch, {"depth": loss}, config.patience)
        assert run.stop_reason is None
    assert run.best_epoch == 2
    assert run.lr == pytest.approx(5e-4)  # plateau: halved after an epoch without improvement
    run.end_epoch(3, {"depth": 2.1}, config.patience)
    assert run.stop_reason == "early_stopping"
    assert run.best_epoch == 2


def test_bad_input_is_refused(splits, size, config) -> None:
    with pytest.raises(InvalidInputError, match="stage"):
        train_candidate(["depth"], size, splits, "cpu", config, stage="late")
    with pytest.raises(InvalidInputError, match="'val'"):
        train_candidate(["depth"], size, {"train": splits["train"], "test": splits["test"]}, "cpu", config)
    with pytest.raises(InvalidInputError, match="batch_size"):
        TrainConfig(batch_size=0)
    with pytest.raises(InvalidInputError, match="stage_fraction"):
        TrainConfig(stage_fraction=1.5)
    with pytest.raises(InvalidInputError, match="init must be one of per-task, sequential"):
        TrainConfig(init="random")


def test_a_tasks_decoder_starts_the_same_in_every_candidate_unless_init_is_sequential(size) -> None:
    def depth_decoder(tasks: list[str], config: TrainConfig) -> list[torch.Tensor]:
        return list(CandidateRun(tasks, size, config, torch.device("cpu")).model.decoders["depth"].state_dict().values())

    def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
        return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))

    per_task = TrainConfig(seed=2)
    assert per_task.init == "per-task"
    assert same(depth_decoder(["depth"], per_task), depth_decoder(["albedo", "depth", "normal"], per_task))
    sequential = TrainConfig(seed=2, init="sequential")  # albedo's decoder is drawn before depth's
    assert not same(depth_decoder(["depth"], sequential), depth_decoder(["albedo", "depth", "normal"], sequential))
