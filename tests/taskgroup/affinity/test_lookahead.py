"""Lookahead affinity: what one measurement says, that it changes nothing, and what training averages."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import Tensor, nn

from taskgroup.affinity.lookahead import lookahead_affinity
from taskgroup.affinity.measure import measure_affinity
from taskgroup.affinity.recorder import AffinityRecorder
from taskgroup.errors import InvalidInputError
from taskgroup.models import ENCODERS, SizeSpec, build_model
from taskgroup.tasks import get_task
from taskgroup.training import TrainConfig, train_candidate

from .conftest import ALL_SYNTHETIC_TASKS


class SharedScalar(nn.Module):
    """A shared MLP trunk to one number, read as-is by three parameter-free heads: whatever helps one
    target moves the shared output for all of them."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(features, 16), nn.Tanh(), nn.Linear(16, 1))

    def forward(self, rgb: Tensor) -> dict[str, Tensor]:
        z = self.trunk(rgb).squeeze(-1)
        return {"t1": z, "t2": z, "t3": z}

    def shared_parameters(self) -> list[nn.Parameter]:
        return list(self.trunk.parameters())


def mse_losses(outputs, batch):
    return {name: ((output - batch[name]) ** 2).mean() for name, output in outputs.items()}


def shared_and_conflicting_batches(steps: int, seed: int = 0):
    """t1 = f(x); t2 = f(x) + small noise (shares t1's signal); t3 = -f(x) (conflicts with both)."""
    generator = torch.Generator().manual_seed(seed)
    direction = torch.randn(8, generator=generator)
    for _ in range(steps):
        x = torch.randn(32, 8, generator=generator)
        f = torch.sin(x @ direction)
        yield {"rgb": x, "t1": f, "t2": f + 0.05 * torch.randn(32, generator=generator), "t3": -f}


def test_shared_tasks_rank_above_a_conflicting_one_over_training() -> None:
    torch.manual_seed(0)
    model = SharedScalar(8)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    recorder = AffinityRecorder(every=2)
    for step, batch in enumerate(shared_and_conflicting_batches(40)):
        if step % recorder.every == 0:
            recorder.add(*lookahead_affinity(model, model.shared_parameters(), batch, mse_losses, lr=0.05), size="s")
        optimizer.zero_grad()
        sum(mse_losses(model(batch["rgb"]), batch).values()).backward()
        optimizer.step()
    assert recorder.measurements == 20
    a = recorder.frame().set_index(["source", "target"])["affinity"]
    for task in ("t1", "t2", "t3"):
        assert a[(task, task)] > 0, f"a step on {task} must lower {task}'s own loss"
    assert a[("t1", "t2")] > 0 and a[("t2", "t1")] > 0
    for other in ("t1", "t2"):
        assert a[("t3", other)] < 0 and a[(other, "t3")] < 0
        assert a[("t1", "t2") if other == "t1" else ("t2", "t1")] > a[("t3", other)]
    assert a[("t1", "t2")] > a[("t1", "t3")] and a[("t2", "t1")] > a[("t2", "t3")]


def test_one_measurement_matches_a_manual_sgd_step() -> None:
    torch.manual_seed(1)
    model = SharedScalar(8)
    batch = next(shared_and_conflicting_batches(1, seed=3))
    names, matrix = lookahead_affinity(model, model.shared_parameters(), batch, mse_losses, lr=0.1)
    assert names == ["t1", "t2", "t3"]
    for i, source in enumerate(names):
        stepped = copy.deepcopy(model)
        loss = mse_losses(stepped(batch["rgb"]), batch)[source]
        stepped.zero_grad()
        loss.backward()
        with torch.no_grad():
            for parameter in stepped.shared_parameters():
                parameter -= 0.1 * parameter.grad
        before = mse_losses(model(batch["rgb"]), batch)
        after = mse_losses(stepped(batch["rgb"]), batch)
        for j, target in enumerate(names):
            expected = 1 - float(after[target].detach()) / float(before[target].detach())
            assert math.isclose(float(matrix[i, j]), expected, rel_tol=1e-4, abs_tol=1e-7)


def _real_batch(tasks, splits, count=8):
    items = [splits["train"][i] for i in range(count)]
    return {key: torch.stack([item[key] for item in items]) for key in items[0]}


def _run_losses(task_names):
    tasks = [get_task(name) for name in task_names]

    def losses(outputs, batch):
        return {task.name: task.loss(outputs[task.name], batch).float() for task in tasks}

    return tasks, losses


ENCODER_CASES = [
    pytest.param(name, marks=pytest.mark.slow) if name in ("resnet34", "resnet50") else name
    for name in ENCODERS.names()
]


@pytest.mark.parametrize("encoder", ENCODER_CASES)
def test_every_registered_encoder_with_every_synthetic_head(encoder, splits) -> None:
    """Self-affinity is positive (for a step small enough to be first-order: ResNets on 16x16 images
    have large gradients at initialisation) and the measurement leaves weights, batch-norm statistics
    and the random generators exactly as they were."""
    scales = ENCODERS.get(encoder).scales_with_width
    width, lr = (0.25, 1e-3) if scales else (1.0, 1e-8)
    tasks, losses = _run_losses(ALL_SYNTHETIC_TASKS)
    torch.manual_seed(0)
    model = build_model(tasks, SizeSpec("s", encoder=encoder, width=width)).train()
    state = copy.deepcopy(model.state_dict())
    rng = torch.get_rng_state()
    names, matrix = lookahead_affinity(model, model.shared_parameters(), _real_batch(tasks, splits), losses, lr=lr)
    assert names == list(ALL_SYNTHETIC_TASKS)
    assert matrix.shape == (len(names), len(names))
    assert bool(torch.isfinite(matrix).all())
    assert bool((matrix.diagonal() > 0).all()), dict(zip(names, matrix.diagonal().tolist()))
    assert torch.equal(torch.get_rng_state(), rng)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert model.training


def test_measuring_during_training_leaves_the_training_unchanged(splits, size) -> None:
    tasks = ["depth", "edge", "normal"]
    config = TrainConfig(batch_size=8, max_epochs=1, seed=1)
    measured = measure_affinity(tasks, size, splits, "cpu", config, every=1)
    plain = train_candidate(tasks, size, splits, "cpu", config)
    assert measured.outcome.val_losses == plain.val_losses
    assert measured.outcome.test_losses == plain.test_losses
    assert measured.measurements == plain.steps
    matrix = measured.affinity.set_index(["source", "target"])["affinity"]
    assert set(measured.affinity["size"]) == {"tiny"}
    assert len(matrix) == 9
    assert all(matrix[(task, task)] > 0 for task in tasks)


def test_interval_sets_how_often_it_measures(splits, size) -> None:
    config = TrainConfig(batch_size=4, max_epochs=1, seed=0)
    measured = measure_affinity(["depth", "edge"], size, splits, "cpu", config, every=3)
    assert measured.measurements == math.ceil(measured.outcome.steps / 3)


@pytest.mark.parametrize("every", [0, -2, 1.5, True])
def test_bad_interval_is_refused(every) -> None:
    with pytest.raises(InvalidInputError, match="interval"):
        AffinityRecorder(every=every)


def test_one_task_is_refused(splits, size, config) -> None:
    with pytest.raises(InvalidInputError, match="at least two tasks"):
        measure_affinity(["depth"], size, splits, "cpu", config)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_runs_on_cuda(splits, size, config) -> None:
    measured = measure_affinity(["depth", "edge"], size, splits, "cuda", config, every=2)
    assert measured.measurements > 0
