"""The stream of training batches: one seeded shuffle per epoch, resumable at any step.

Each epoch's order is drawn from a generator seeded with (seed, epoch), so it does not depend on
what ran before: resuming at epoch e, step s replays exactly the batches an uninterrupted run
would have seen. The tail of the shuffled order that does not fill a batch is dropped (a batch of
one sample breaks batch normalisation), unless the split is smaller than one batch.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from taskgroup.errors import InvalidInputError
from taskgroup.training.config import TrainConfig

Batch = dict[str, Tensor]


def steps_per_epoch(dataset: Dataset, batch_size: int) -> int:
    """Optimizer steps in one epoch over `dataset`."""
    size = len(dataset)  # type: ignore[arg-type]
    if size == 0:
        raise InvalidInputError("the training split is empty")
    return max(1, size // batch_size)


def epoch_loader(dataset: Dataset, config: TrainConfig, epoch: int, start_step: int, device: torch.device) -> DataLoader:
    """The training batches of `epoch` from step `start_step` on."""
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
    order = torch.randperm(len(dataset), generator=generator)  # type: ignore[arg-type]
    used = min(len(order), steps_per_epoch(dataset, config.batch_size) * config.batch_size)
    indices = order[start_step * config.batch_size : used].tolist()
    return _loader(dataset, indices, config, device, generator)


def evaluation_loader(dataset: Dataset, config: TrainConfig, device: torch.device) -> DataLoader:
    """Every sample of an evaluation split, in order."""
    return _loader(dataset, list(range(len(dataset))), config, device, None)  # type: ignore[arg-type]


def to_device(
    batch: Mapping[str, Tensor], device: torch.device, memory_format: torch.memory_format = torch.channels_last
) -> Batch:
    """The batch on `device` (one transfer per tensor, shared by every candidate trained on it), the
    images in the networks' memory order (see `memory_format.py`)."""
    moved = {key: value.to(device, non_blocking=True) for key, value in batch.items()}
    if "rgb" in moved and moved["rgb"].dim() == 4:
        moved["rgb"] = moved["rgb"].contiguous(memory_format=memory_format)
    return moved


def _loader(
    dataset: Dataset, indices: list[int], config: TrainConfig, device: torch.device, generator: torch.Generator | None
) -> DataLoader:
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        sampler=indices,
        num_workers=config.num_workers,
        pin_memory=device.type == "cuda",
        generator=generator,
    )
