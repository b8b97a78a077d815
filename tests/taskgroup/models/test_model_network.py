"""Candidate networks: one shared encoder, one head per task, outputs at the input resolution."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import pytest
import torch
from torch import Tensor

from taskgroup.cost import count_macs, count_params
from taskgroup.errors import InvalidInputError
from taskgroup.models import MultiTaskNet, SizeSpec, build_model, parse_size
from taskgroup.tasks import TASKS, get_task
from taskgroup.tasks.base import Task

FULL = SizeSpec("full")
HALF = parse_size("half=0.5")


class _DenseTask(Task):
    """A stand-in per-pixel task with a chosen number of channels (not registered)."""

    label = "target"
    metric_name = "mse"

    def __init__(self, name: str, channels: int) -> None:
        self.name = name  # type: ignore[misc]
        self.channels = channels  # type: ignore[misc]

    def loss(self, pred: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        return pred.pow(2).mean()

    def metric(self, pred: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        return pred.pow(2).mean()


class _ImageLevelTask(_DenseTask):
    dense: ClassVar[bool] = False


def _tasks() -> list[Task]:
    return [_DenseTask("depth", 1), _DenseTask("normal", 3), _DenseTask("segment", 17)]


@pytest.mark.parametrize(
    ("size", "hw"),
    [(size, hw) for size in (FULL, HALF, parse_size("tiny=0.1")) for hw in ((16, 16), (32, 32), (64, 64), (33, 47))]
    + [(parse_size("r18=resnet18:1"), (16, 16)), (parse_size("r18=resnet18:1"), (33, 47))],
    ids=str,
)
def test_one_head_per_task_with_the_tasks_channels_at_the_input_resolution(size: SizeSpec, hw: tuple[int, int]) -> None:
    tasks = _tasks()
    model = build_model(tasks, size)
    outputs = model(torch.randn(2, 3, *hw))
    assert set(outputs) == {"depth", "normal", "segment"}
    assert set(model.decoders.keys()) == set(outputs)
    for task in tasks:
        assert outputs[task.name].shape == (2, task.channels, *hw)
        assert torch.isfinite(outputs[task.name]).all()


def test_image_level_task_gets_one_vector_per_image() -> None:
    model = build_model([_DenseTask("depth", 1), _ImageLevelTask("smiling", 2)], HALF)
    outputs = model(torch.randn(3, 3, 32, 32))
    assert outputs["depth"].shape == (3, 1, 32, 32)
    assert outputs["smiling"].shape == (3, 2)


def test_every_registered_task_gets_a_head_of_its_channels() -> None:
    tasks = [get_task(name) for name in TASKS.names()]
    outputs = build_model(tasks, parse_size("tiny=0.25"))(torch.randn(2, 3, 16, 16))
    for task in tasks:
        assert outputs[task.name].shape[:2] == (2, task.channels)


def test_single_channel_input() -> None:
    for size in (FULL, parse_size("r18=resnet18:1")):
        outputs = build_model(_tasks()[:1], size, in_channels=1)(torch.randn(2, 1, 32, 32))
        assert outputs["depth"].shape == (2, 1, 32, 32)


def test_shared_parameters_are_the_encoders_and_get_every_tasks_gradient() -> None:
    model = build_model(_tasks(), HALF)
    shared = model.shared_parameters()
    assert {id(p) for p in shared} == {id(p) for p in model.encoder.parameters()}
    decoder_ids = {id(p) for p in model.decoders.parameters()}
    assert decoder_ids.isdisjoint(id(p) for p in shared)
    assert len(shared) + len(decoder_ids) == len(list(model.parameters()))

    # One task's loss reaches the shared encoder and its own decoder, never another task's decoder.
    model(torch.randn(2, 3, 16, 16))["normal"].pow(2).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in shared if p.requires_grad)
    assert all(p.grad is not None for p in model.decoders["normal"].parameters())
    assert all(p.grad is None for p in model.decoders["depth"].parameters())


def test_half_size_encoder_costs_about_a_quarter_of_the_full_one() -> None:
    full = build_model(_tasks()[:1], FULL).encoder
    half = build_model(_tasks()[:1], HALF).encoder
    # Channel counts halve, so 1x1 and full convolutions cost a quarter; the depthwise 3x3 and the
    # 3-channel stem scale linearly, which puts the ratio a little above 0.25.
    mac_ratio = count_macs(half, (3, 64, 64)) / count_macs(full, (3, 64, 64))
    param_ratio = count_params(half) / count_params(full)
    assert 0.22 <= mac_ratio <= 0.32
    assert 0.22 <= param_ratio <= 0.32


def test_adding_a_task_adds_only_a_decoder() -> None:
    one = build_model(_tasks()[:1], FULL)
    three = build_model(_tasks(), FULL)
    assert count_params(three.encoder) == count_params(one.encoder)
    assert count_params(three) == count_params(one.encoder) + sum(count_params(d) for d in three.decoders.values())


def test_default_full_network_is_small_enough_for_cpu_training() -> None:
    params = count_params(build_model(_tasks()[:1], FULL))
    macs = count_macs(build_model(_tasks()[:1], FULL), (3, 64, 64))
    assert 100_000 <= params <= 1_000_000
    assert macs <= 60_000_000


def test_resnets_build_without_downloading(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model tried to download weights")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    for encoder in ("resnet18", "resnet34", "resnet50"):
        model = build_model(_tasks()[:1], SizeSpec(encoder, encoder=encoder))
        assert model(torch.randn(2, 3, 32, 32))["depth"].shape == (2, 1, 32, 32)


@pytest.mark.parametrize(
    ("tasks", "fragment"),
    [([], "at least one task"), ([_DenseTask("depth", 1), _DenseTask("depth", 1)], "'depth+depth'")],
)
def test_bad_task_lists_are_refused(tasks: list[Task], fragment: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        build_model(tasks, FULL)
    assert fragment in str(error.value)


def test_runs_on_cpu_and_trains() -> None:
    model = build_model(_tasks()[:2], parse_size("tiny=0.25"))
    assert isinstance(model, MultiTaskNet)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    batch = torch.randn(4, 3, 16, 16)
    target = torch.randn(4, 1, 16, 16)
    losses = []
    for _ in range(8):
        loss = (model(batch)["depth"] - target).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available on this machine")
def test_moves_to_cuda_when_present() -> None:
    model = build_model(_tasks(), HALF).to("cuda")
    outputs = model(torch.randn(2, 3, 32, 32, device="cuda"))
    assert all(out.device.type == "cuda" for out in outputs.values())
    assert all(p.device.type == "cuda" for p in model.shared_parameters())


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_with_a_seed_a_tasks_decoder_and_the_encoder_start_the_same_in_every_candidate() -> None:
    depth, normal, segment = _tasks()
    alone = build_model([depth], HALF, seed=3)
    grouped = build_model([normal, depth, segment], HALF, seed=3)
    assert _same(alone.decoders["depth"], grouped.decoders["depth"])
    assert _same(alone.encoder, grouped.encoder)
    assert _same(build_model([normal], HALF, seed=3).decoders["normal"], grouped.decoders["normal"])
    assert not _same(alone.decoders["depth"], build_model([depth], HALF, seed=4).decoders["depth"])


def test_without_a_seed_decoders_draw_one_after_another_from_the_global_generator() -> None:
    depth, normal, _ = _tasks()
    torch.manual_seed(3)
    alone = build_model([depth], HALF)
    torch.manual_seed(3)
    after_normal = build_model([normal, depth], HALF)  # normal's decoder is drawn before depth's
    assert _same(alone.encoder, after_normal.encoder)
    assert not _same(alone.decoders["depth"], after_normal.decoders["depth"])


def test_a_seeded_build_leaves_the_global_generator_where_it_was() -> None:
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    build_model(_tasks(), HALF, seed=1)
    assert torch.equal(torch.rand(3), expected)
