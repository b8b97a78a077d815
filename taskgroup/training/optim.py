"""Optimizers by name (`TrainConfig.optimizer`) and the plateau learning-rate schedule."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from taskgroup.registry import Registry
from taskgroup.training.config import TrainConfig

OptimizerFactory = Callable[[Iterable[nn.Parameter], TrainConfig], torch.optim.Optimizer]

OPTIMIZERS: Registry[OptimizerFactory] = Registry("optimizer")


@OPTIMIZERS.register("adam")
def adam(parameters: Iterable[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    """Adam with L2 weight decay, the optimizer family of the paper."""
    return torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay, foreach=True)


@OPTIMIZERS.register("sgd")
def sgd(parameters: Iterable[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    """SGD with momentum."""
    return torch.optim.SGD(
        parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay, foreach=True
    )


def build_optimizer(parameters: Iterable[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer `config.optimizer` over `parameters`."""
    return OPTIMIZERS.get(config.optimizer)(parameters, config)


def build_plateau_schedule(
    optimizer: torch.optim.Optimizer, config: TrainConfig
) -> torch.optim.lr_scheduler.ReduceLROnPlateau:
    """Multiply the learning rate by `plateau_factor` after `plateau_patience` epochs without improvement."""
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=config.plateau_factor, patience=config.plateau_patience
    )
