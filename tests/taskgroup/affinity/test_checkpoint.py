"""An interrupted affinity measurement resumes from its checkpoint with the same result."""

from __future__ import annotations

import pytest

from taskgroup.affinity.measure import measure_affinity
from taskgroup.errors import InvalidInputError
from taskgroup.training import TrainConfig
from taskgroup.training.engine import TrainingInterrupted

TASKS = ["depth", "edge", "normal"]
CONFIG = TrainConfig(batch_size=4, max_epochs=2, seed=3)


def stop_after(calls: int):
    """A `should_stop` that asks to stop at its `calls`-th question (one question per training step)."""
    asked = 0

    def should_stop() -> bool:
        nonlocal asked
        asked += 1
        return asked > calls

    return should_stop


@pytest.mark.parametrize("stop_at", [3, 6], ids=["mid-epoch", "epoch boundary"])  # 6 steps per epoch here
def test_a_resumed_measurement_equals_an_uninterrupted_one(splits, size, tmp_path, stop_at) -> None:
    whole = measure_affinity(TASKS, size, splits, "cpu", CONFIG, every=2)
    with pytest.raises(TrainingInterrupted):
        measure_affinity(TASKS, size, splits, "cpu", CONFIG, every=2, checkpoint_dir=tmp_path,
                         should_stop=stop_after(stop_at))
    resumed = measure_affinity(TASKS, size, splits, "cpu", CONFIG, every=2, checkpoint_dir=tmp_path)

    assert whole.outcome.steps == 2 * 6
    assert resumed.measurements == whole.measurements == 6
    assert resumed.outcome.val_losses == pytest.approx(whole.outcome.val_losses, rel=1e-6)
    got = resumed.affinity.set_index(["source", "target"])["affinity"]
    expected = whole.affinity.set_index(["source", "target"])["affinity"]
    assert got.to_dict() == pytest.approx(expected.to_dict(), rel=1e-5, abs=1e-9)


def test_a_finished_measurement_is_returned_without_training_again(splits, size, tmp_path) -> None:
    first = measure_affinity(TASKS, size, splits, "cpu", CONFIG, every=2, checkpoint_dir=tmp_path)
    steps: list[int] = []
    again = measure_affinity(TASKS, size, splits, "cpu", CONFIG, every=2, checkpoint_dir=tmp_path,
                             progress=lambda done, total: steps.append(done))
    assert steps == []
    assert again.measurements == first.measurements
    assert again.affinity.equals(first.affinity)


def test_other_measurement_settings_are_refused(splits, size, tmp_path) -> None:
    with pytest.raises(TrainingInterrupted):
        measure_affinity(TASKS, size, splits, "cpu", CONFIG, every=2, checkpoint_dir=tmp_path, should_stop=stop_after(2))
    with pytest.raises(InvalidInputError, match="every 2 steps .* now every 3"):
        measure_affinity(TASKS, size, splits, "cpu", CONFIG, every=3, checkpoint_dir=tmp_path)


def test_a_stateful_hook_watches_one_candidate(splits, size) -> None:
    from taskgroup.affinity.recorder import AffinityRecorder
    from taskgroup.training.engine import train_runs

    with pytest.raises(InvalidInputError, match="watches one candidate; got 2"):
        train_runs([(["depth", "edge"], size), (["depth", "normal"], size)], splits, "cpu", CONFIG,
                   step_hook=AffinityRecorder(every=2))
