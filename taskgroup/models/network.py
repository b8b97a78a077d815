"""A candidate network: one shared encoder and one decoder per task, as in Standley et al. (2020)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from taskgroup.errors import InvalidInputError
from taskgroup.models.decoders import decoder_for
from taskgroup.models.encoders import ENCODERS, Encoder
from taskgroup.models.sizes import SizeSpec
from taskgroup.tasks.base import Task


class MultiTaskNet(nn.Module):
    """Shared `encoder` plus `decoders[task.name]`.

    `forward` returns each task's output: ``[B, task.channels, H, W]`` at the input size for dense
    tasks, ``[B, task.channels]`` for image-level tasks (``task.dense`` False).
    """

    def __init__(self, encoder: Encoder, decoders: dict[str, nn.Module]) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoders = nn.ModuleDict(decoders)

    @property
    def task_names(self) -> list[str]:
        """Names of the tasks this network serves, in the order it was built with."""
        return list(self.decoders.keys())

    def forward(self, rgb: Tensor) -> dict[str, Tensor]:
        features = self.encoder(rgb)
        size = (rgb.shape[-2], rgb.shape[-1])
        return {name: decoder(features, size) for name, decoder in self.decoders.items()}

    def shared_parameters(self) -> list[nn.Parameter]:
        """The encoder's parameters: those every task's gradient flows into (for PCGrad, GradNorm, MGDA)."""
        return list(self.encoder.parameters())


def build_model(tasks: Sequence[Task], size: SizeSpec, in_channels: int = 3, seed: int | None = None) -> MultiTaskNet:
    """The candidate network for `tasks` at `size`, randomly initialised (never downloads weights).

    With `seed`, the encoder and each task's decoder draw their initial weights from a generator of
    their own (seeded from `seed` and the part's name), so a task's decoder starts from the same
    weights in every candidate that has it: candidates then differ by their grouping, not by which
    other decoders were drawn before theirs. Without it, the parts draw one after another from
    torch's global generator.
    """
    names = [task.name for task in tasks]
    if not names:
        raise InvalidInputError("a network needs at least one task")
    if len(set(names)) != len(names):
        raise InvalidInputError(f"tasks {'+'.join(names)!r} list a task more than once")
    if in_channels < 1:
        raise InvalidInputError(f"in_channels must be at least 1, got {in_channels}")
    with _drawing(seed, "encoder"):
        encoder = ENCODERS.get(size.encoder)(in_channels=in_channels, width=size.width)
    decoders = {}
    for task in tasks:
        with _drawing(seed, f"decoder/{task.name}"):
            decoders[task.name] = decoder_for(task, encoder.out_channels, encoder.output_stride, size.width)
    return MultiTaskNet(encoder, decoders)


@contextmanager
def _drawing(seed: int | None, part: str) -> Iterator[None]:
    """Torch's global generator seeded for `part` inside the block (and restored after), or left as is."""
    if seed is None:
        yield
        return
    digest = hashlib.sha256(f"{seed}/{part}".encode()).digest()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int.from_bytes(digest[:8], "big") >> 1)
        yield
