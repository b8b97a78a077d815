"""Checkpoints: stopping (gracefully, or by killing the process) and resuming gives the same weights
as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from taskgroup.errors import InvalidInputError
from taskgroup.training import TrainConfig, TrainingInterrupted, train_candidate, train_lockstep

from tests.taskgroup.training.conftest import assert_same_weights, model_weights

ROOT = Path(__file__).resolve().parents[3]


def _stop_after(steps: int):
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > steps

    return should_stop


@pytest.mark.parametrize("stop_after_steps", [4, 6], ids=["epoch-boundary", "mid-epoch"])
def test_graceful_stop_and_resume_equals_uninterrupted(tmp_path, splits, size, config, stop_after_steps) -> None:
    reference = train_candidate(["depth", "normal"], size, splits, "cpu", config, checkpoint_dir=tmp_path / "ref")
    with pytest.raises(TrainingInterrupted):
        train_candidate(
            ["depth", "normal"], size, splits, "cpu", config,
            checkpoint_dir=tmp_path / "run", should_stop=_stop_after(stop_after_steps),
        )
    saved = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert saved["position"]["step"] == stop_after_steps and saved["outcome"] is None
    resumed = train_candidate(["depth", "normal"], size, splits, "cpu", config, checkpoint_dir=tmp_path / "run")
    assert_same_weights(model_weights(tmp_path / "run"), model_weights(tmp_path / "ref"))
    assert resumed.curve == reference.curve
    assert resumed.test_losses == reference.test_losses


def test_finished_run_returns_its_stored_outcome(tmp_path, splits, size, config) -> None:
    first = train_candidate(["edge"], size, splits, "cpu", config, checkpoint_dir=tmp_path)

    def must_not_train() -> bool:
        raise AssertionError("a finished run was trained again")

    again = train_candidate(["edge"], size, splits, "cpu", config, checkpoint_dir=tmp_path, should_stop=must_not_train)
    assert again == first


def test_checkpoint_of_other_settings_is_refused(tmp_path, splits, size, config) -> None:
    with pytest.raises(TrainingInterrupted):
        train_candidate(["edge"], size, splits, "cpu", config, checkpoint_dir=tmp_path, should_stop=_stop_after(2))
    other = TrainConfig(batch_size=8, max_epochs=3, seed=3, lr=0.01)
    with pytest.raises(InvalidInputError, match=r"last\.pt belongs to another run") as refused:
        train_candidate(["edge"], size, splits, "cpu", other, checkpoint_dir=tmp_path)
    assert f"lr {config.lr!r} saved, 0.01 now" in str(refused.value)  # which setting differs, and nothing else
    assert "batch_size" not in str(refused.value) and "tasks" not in str(refused.value)


def test_lockstep_resumes_every_candidate(tmp_path, splits, size, config) -> None:
    candidates = [(["depth"], size), (["edge"], size), (["depth", "normal"], size)]
    reference = train_lockstep(candidates, splits, "cpu", config)
    dirs = [tmp_path / str(index) for index in range(len(candidates))]
    with pytest.raises(TrainingInterrupted):
        train_lockstep(candidates, splits, "cpu", config, checkpoint_dirs=dirs, should_stop=_stop_after(5))
    resumed = train_lockstep(candidates, splits, "cpu", config, checkpoint_dirs=dirs)
    assert [outcome.curve for outcome in resumed] == [outcome.curve for outcome in reference]


def test_killed_process_resumes_to_the_uninterrupted_weights(tmp_path, splits, size, config) -> None:
    """SIGKILL a training process after its second epoch's checkpoint, resume in this process."""
    script = tmp_path / "child.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys, time
            from pathlib import Path
            import torch
            torch.set_num_threads(1)
            sys.path.insert(0, {str(ROOT)!r})
            from taskgroup.models import SizeSpec
            from taskgroup.training import TrainConfig, train_candidate
            from tests.taskgroup.training.conftest import synthetic_splits

            def hang_in_third_epoch(done, total):
                if done == 9:  # two epochs of 4 steps checkpointed, one step into the third
                    Path({str(tmp_path / "ready")!r}).touch()
                    time.sleep(600)

            train_candidate(
                ["depth", "normal"], SizeSpec("tiny", width=0.25, cost=0.25),
                synthetic_splits(Path({str(tmp_path / "cache")!r})), "cpu",
                TrainConfig(batch_size=8, max_epochs=3, seed=3),
                checkpoint_dir=Path({str(tmp_path / "run")!r}), progress=hang_in_third_epoch,
            )
            """
        )
    )
    child = subprocess.Popen([sys.executable, str(script)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 300
        while not (tmp_path / "ready").exists():
            assert child.poll() is None, "the training process ended before it could be killed"
            assert time.monotonic() < deadline, "the training process never reached its third epoch"
            time.sleep(0.2)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=True)["position"]["epoch"] == 2
    resumed = train_candidate(["depth", "normal"], size, splits, "cpu", config, checkpoint_dir=tmp_path / "run")
    reference = train_candidate(["depth", "normal"], size, splits, "cpu", config, checkpoint_dir=tmp_path / "ref")
    # Across processes PyTorch's CPU kernels may round differently (vectorised reductions depend
    # on memory alignment), so equality is up to float32 noise here; in-process resumes are bitwise.
    assert_same_weights(model_weights(tmp_path / "run"), model_weights(tmp_path / "ref"), atol=1e-5)
    assert resumed.epochs == reference.epochs == 3
    for mine, theirs in zip(resumed.curve, reference.curve):
        assert mine.val_losses == pytest.approx(theirs.val_losses, rel=1e-5)
