"""Task losses, metrics and KPIs against independent numpy/torch oracles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from taskgroup.errors import UnknownNameError
from taskgroup.tasks import TASKS, get_task
from taskgroup.tasks.attribute import CELEBA_ATTRIBUTES

DENSE_REGRESSION = ["depth", "normal", "edge", "occlusion", "keypoint", "reshade", "albedo", "shadow", "height"]


def dense_batch(name: str, seed: int, b: int = 2, size: int = 6, masked: bool = True) -> dict[str, torch.Tensor]:
    task = get_task(name)
    g = torch.Generator().manual_seed(seed)
    batch = {
        "rgb": torch.rand(b, 3, size, size, generator=g),
        task.label: torch.rand(b, task.channels, size, size, generator=g),
    }
    if masked:
        batch[task.mask_key] = torch.rand(b, 1, size, size, generator=g) > 0.3
    return batch


def test_builtin_tasks_are_registered_with_the_documented_shapes() -> None:
    expected = {"segment": 18, "depth": 1, "normal": 3, "edge": 1, "occlusion": 1, "keypoint": 1, "reshade": 1,
                "albedo": 3, "shadow": 1, "height": 1}
    for name, channels in expected.items():
        task = get_task(name)
        assert task.name == name and task.label == name
        assert task.channels == channels
        assert task.dense is True
        assert task.label_encoding  # every task documents its encoding


def test_one_attribute_task_per_celeba_column() -> None:
    assert len(CELEBA_ATTRIBUTES) == 40
    names = [n for n in TASKS.names() if n.startswith("attr_")]
    assert len(names) == 40
    smiling = get_task("attr_smiling")
    assert smiling.attribute == "Smiling" and smiling.label == "attr_smiling"
    assert smiling.channels == 1 and smiling.dense is False


def test_unknown_task_names_the_task_and_lists_known_ones() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_task("dpeth")
    assert "'dpeth'" in str(info.value) and "depth" in str(info.value)


@pytest.mark.parametrize("name", DENSE_REGRESSION)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_dense_loss_is_mean_abs_error_over_valid_pixels(name: str, seed: int) -> None:
    task = get_task(name)
    batch = dense_batch(name, seed)
    pred = torch.randn_like(batch[task.label])
    diff = (pred - batch[task.label]).abs().numpy()
    mask = np.broadcast_to(batch[task.mask_key].numpy(), diff.shape)
    expected = diff[mask].mean() if mask.any() else 0.0
    assert task.loss(pred, batch).item() == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert task.metric(pred, batch).item() == pytest.approx(expected, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("name", DENSE_REGRESSION)
def test_masked_pixels_do_not_affect_loss_or_gradient(name: str) -> None:
    task = get_task(name)
    batch = dense_batch(name, seed=3)
    pred = torch.randn_like(batch[task.label], requires_grad=True)
    loss = task.loss(pred, batch)
    loss.backward()
    invalid = ~batch[task.mask_key].expand_as(pred)
    assert torch.all(pred.grad[invalid] == 0)
    changed = pred.detach().clone()
    changed[invalid] += 100.0
    assert task.loss(changed, batch).item() == pytest.approx(loss.item(), rel=1e-6)


@pytest.mark.parametrize("name", DENSE_REGRESSION)
def test_no_mask_means_every_pixel_counts_and_perfect_prediction_scores_best(name: str) -> None:
    task = get_task(name)
    batch = dense_batch(name, seed=5, masked=False)
    target = batch[task.label]
    assert task.loss(target.clone(), batch).item() == 0.0
    assert task.kpi(target.clone(), batch).item() == pytest.approx(1.0)
    worse = target + 0.5
    assert task.loss(worse, batch).item() == pytest.approx(0.5, rel=1e-5)
    kpi_worse = task.kpi(worse, batch).item()
    assert 0.0 < kpi_worse < task.kpi(target + 0.1, batch).item() < 1.0


def test_segment_loss_is_cross_entropy_on_labelled_pixels_only() -> None:
    task = get_task("segment")
    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, 5, (2, 4, 4), generator=g)
    mask = torch.rand(2, 1, 4, 4, generator=g) > 0.4
    pred = torch.randn(2, 18, 4, 4, generator=g)
    batch = {"segment": target, "segment_mask": mask}
    logits = pred.permute(0, 2, 3, 1)[mask[:, 0]]
    expected = F.cross_entropy(logits, target[mask[:, 0]])
    assert task.loss(pred, batch).item() == pytest.approx(expected.item(), rel=1e-5)
    assert task.loss(pred, {"segment": target}).item() == pytest.approx(F.cross_entropy(pred, target).item(), rel=1e-5)


def test_segment_miou_and_pixel_accuracy_on_a_hand_worked_example() -> None:
    task = get_task("segment")
    target = torch.tensor([[[0, 0], [1, 1]]])
    guess = torch.tensor([[[0, 1], [1, 1]]])
    pred = F.one_hot(guess, 18).permute(0, 3, 1, 2).float()
    batch = {"segment": target}
    # class 0: inter 1, union 2 -> 0.5; class 1: inter 2, union 3 -> 2/3.
    assert task.metric(pred, batch).item() == pytest.approx((0.5 + 2 / 3) / 2)
    assert task.kpi(pred, batch).item() == pytest.approx(0.75)
    masked = {"segment": target, "segment_mask": torch.tensor([[[[True, False], [True, True]]]])}
    assert task.metric(pred, masked).item() == pytest.approx(1.0)


def test_segment_batch_without_labelled_pixels_gives_zero_loss_not_nan() -> None:
    task = get_task("segment")
    pred = torch.randn(1, 18, 2, 2, requires_grad=True)
    batch = {"segment": torch.zeros(1, 2, 2, dtype=torch.long), "segment_mask": torch.zeros(1, 1, 2, 2, dtype=torch.bool)}
    loss = task.loss(pred, batch)
    loss.backward()
    assert loss.item() == 0.0


def test_attribute_loss_is_bce_with_logits_and_metric_is_accuracy() -> None:
    task = get_task("attr_male")
    logits = torch.tensor([[2.0], [-1.0], [0.5], [-3.0]])
    target = torch.tensor([[1.0], [1.0], [0.0], [0.0]])
    batch = {"attr_male": target}
    assert task.loss(logits, batch).item() == pytest.approx(F.binary_cross_entropy_with_logits(logits, target).item())
    assert task.metric(logits, batch).item() == pytest.approx(0.5)
    assert task.kpi(logits, batch).item() == pytest.approx(0.5)
