"""Lockstep training equals training each candidate alone with the same seed."""

from __future__ import annotations

import pytest
import torch

from taskgroup.models import SizeSpec
from taskgroup.models.encoders import XceptionEncoder
from taskgroup.training import TrainConfig, train_candidate, train_lockstep
from taskgroup.training.batches import epoch_loader, to_device
from taskgroup.training.groups import SoloGroup, StackedGroup, make_groups
from taskgroup.training.run import CandidateRun


def _close(left: dict[str, float], right: dict[str, float]) -> None:
    assert left.keys() == right.keys()
    for task in left:
        assert left[task] == pytest.approx(right[task], rel=1e-4, abs=1e-5), task


@pytest.mark.parametrize("weighting", ["uniform", "uncertainty", "pcgrad"])
def test_lockstep_equals_alone(splits, size, weighting) -> None:
    config = TrainConfig(batch_size=8, max_epochs=2, seed=5, weighting=weighting)
    other_size = SizeSpec("tinier", width=0.125, cost=0.1)
    # depth and edge have the same shapes (one output channel): stacked; the others run alone.
    candidates = [(["depth"], size), (["edge"], size), (["depth", "normal"], size), (["depth"], other_size)]
    together = train_lockstep(candidates, splits, "cpu", config)
    for (tasks, candidate_size), outcome in zip(candidates, together):
        alone = train_candidate(tasks, candidate_size, splits, "cpu", config)
        assert outcome.tasks == alone.tasks and outcome.size == alone.size
        assert outcome.best_epoch == alone.best_epoch and outcome.steps == alone.steps
        for mine, theirs in zip(outcome.curve, alone.curve):
            _close(mine.train_losses, theirs.train_losses)
            _close(mine.val_losses, theirs.val_losses)
        _close(outcome.test_losses, alone.test_losses)


def test_same_shaped_loss_only_candidates_are_stacked(size) -> None:
    device = torch.device("cpu")
    uniform, pcgrad = TrainConfig(), TrainConfig(weighting="pcgrad")
    runs = [
        CandidateRun(["depth"], size, uniform, device),
        CandidateRun(["normal"], size, uniform, device),
        CandidateRun(["edge"], size, uniform, device),
        CandidateRun(["edge"], size, pcgrad, device),
    ]
    groups = make_groups(runs)
    assert [type(group) for group in groups] == [StackedGroup, SoloGroup, SoloGroup]
    assert groups[0].runs == [runs[0], runs[2]]
    assert [type(group) for group in make_groups(runs, allow_stacking=False)] == [SoloGroup] * 4


def test_candidate_that_stops_early_leaves_the_others_running(splits, size) -> None:
    # A rate this high makes training chaotic: stacking's float noise (1e-7) would grow to percents
    # within epochs. With the sequential init the stacked depth and edge networks start identical
    # (same shapes, same draws) and stay close enough to compare.
    config = TrainConfig(batch_size=8, max_epochs=5, seed=5, patience=1, lr=0.03, init="sequential")
    candidates = [["depth"], ["edge"], ["normal"]]
    outcomes = train_lockstep([(tasks, size) for tasks in candidates], splits, "cpu", config)
    alone = [train_candidate(tasks, size, splits, "cpu", config) for tasks in candidates]
    epochs = [outcome.epochs for outcome in outcomes]
    assert len(set(epochs)) > 1, "this setting should stop some candidates earlier than others"
    assert epochs == [outcome.epochs for outcome in alone]
    assert [outcome.stop_reason for outcome in outcomes] == [outcome.stop_reason for outcome in alone]
    for mine, theirs in zip(outcomes, alone):  # five epochs let float noise grow a little: up to 2.3e-3
        assert mine.test_losses == pytest.approx(theirs.test_losses, rel=5e-3)  # with SSE4.1's kernels


def test_stacked_candidates_keep_their_own_learning_rates(splits, size) -> None:
    """A plateau schedule lowers each candidate's learning rate at its own time; a stacked group
    must step each candidate at its own rate."""
    config = TrainConfig(batch_size=8, seed=5)
    device = torch.device("cpu")

    def two_runs() -> list[CandidateRun]:
        runs = [CandidateRun(["depth"], size, config, device), CandidateRun(["edge"], size, config, device)]
        for run, lr in zip(runs, (1e-3, 2.5e-4)):
            for group in run.optimizer.param_groups:
                group["lr"] = lr
        return runs

    stacked_runs, alone_runs = two_runs(), two_runs()
    [stacked] = make_groups(stacked_runs)
    assert isinstance(stacked, StackedGroup)
    alone = make_groups(alone_runs, allow_stacking=False)
    for step, raw in enumerate(epoch_loader(splits["train"], config, 0, 0, device)):
        batch = to_device(raw, device)
        stacked.train_step(batch, 0, step)
        for group in alone:
            group.train_step(batch, 0, step)
    for mine, theirs in zip(stacked_runs, alone_runs):
        for name, value in mine.model.state_dict().items():
            # Adam moves a weight by about its rate each step, so float noise can flip a gradient near 0
            # (1e-5 here); a wrong rate puts most weights 1e-3 off
            torch.testing.assert_close(value, theirs.model.state_dict()[name], rtol=1e-4, atol=1e-4, msg=name)


def test_lockstep_with_sgd_equals_alone(splits, size) -> None:
    config = TrainConfig(batch_size=8, max_epochs=2, seed=5, optimizer="sgd", lr=0.01)
    candidates = [(["depth"], size), (["edge"], size)]
    together = train_lockstep(candidates, splits, "cpu", config)
    for (tasks, candidate_size), outcome in zip(candidates, together):
        alone = train_candidate(tasks, candidate_size, splits, "cpu", config)
        _close(outcome.val_losses, alone.val_losses)
        _close(outcome.test_losses, alone.test_losses)


def test_lockstep_checkpoint_holds_only_its_candidate(tmp_path, splits, size) -> None:
    """Stacked candidates share storage while training; each checkpoint must still be the size of
    a checkpoint written by the candidate trained alone."""
    config = TrainConfig(batch_size=8, max_epochs=1, seed=5)
    candidates = [(["depth"], size), (["edge"], size)]
    train_lockstep(candidates, splits, "cpu", config, checkpoint_dirs=[tmp_path / "a", tmp_path / "b"])
    train_candidate(["depth"], size, splits, "cpu", config, checkpoint_dir=tmp_path / "alone")
    alone = (tmp_path / "alone" / "last.pt").stat().st_size
    for name in ("a", "b"):
        assert (tmp_path / name / "last.pt").stat().st_size == pytest.approx(alone, rel=0.05)


class _ChannelReversingEncoder(XceptionEncoder):
    """Reverses the feature channels: harmless for one network, but once K networks are folded it
    hands each candidate another candidate's features, which folding must notice."""

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return super().forward(rgb).flip(1)


def test_networks_that_do_not_fold_exactly_train_alone(size) -> None:
    device = torch.device("cpu")
    runs = [CandidateRun([task], size, TrainConfig(seed=seed), device) for seed, task in enumerate(("depth", "edge"))]
    assert [type(group) for group in make_groups(runs)] == [StackedGroup]
    for run in runs:
        run.model.encoder.__class__ = _ChannelReversingEncoder
    assert [type(group) for group in make_groups(runs)] == [SoloGroup, SoloGroup]


def test_large_inputs_fold_fewer_candidates_per_group_on_cpu(size) -> None:
    """Folding saves per-layer overhead; past a layer size, separate convolutions are faster on a CPU,
    so big batches split the candidates into smaller folded groups, and huge ones train them alone."""
    device = torch.device("cpu")
    runs = [CandidateRun([task], size, TrainConfig(seed=seed), device) for seed, task in enumerate(["depth", "edge"] * 2)]
    sizes = {shape: [len(group.runs) for group in make_groups(runs, batch_shape=shape)]
             for shape in [(8, 3, 16, 16), (16, 3, 90, 90), (16, 3, 512, 512)]}  # fmt: skip
    assert sizes == {(8, 3, 16, 16): [4], (16, 3, 90, 90): [2, 2], (16, 3, 512, 512): [1, 1, 1, 1]}
