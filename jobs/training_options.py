"""A study's stored training options (`study.training`, a plain dict) turned into a `TrainConfig`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from taskgroup.errors import InvalidInputError

if TYPE_CHECKING:
    from taskgroup.training import TrainConfig


def divergence_advice(study: str) -> str:
    """The commands that change what a diverging run of `study` trains with: its stored options, since
    running it again as it is diverges again (said alike by `work`, `run` and `affinity measure`)."""
    return f"`taskgroup configure {study} --set lr=...` or `--set weighting=...`"


def training_keys() -> tuple[str, ...]:
    """The option names `TrainConfig` accepts."""
    from taskgroup.training import TrainConfig

    return tuple(f.name for f in dataclasses.fields(TrainConfig))


def training_config(options: Mapping[str, Any]) -> TrainConfig:
    """The `TrainConfig` for stored options; an unknown key or a bad value is one clear error.

    (Imported lazily: loading torch is only worth it for a worker that trains.)
    """
    from taskgroup.training import TrainConfig

    known = training_keys()
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise InvalidInputError(f"unknown training option {unknown[0]!r} (known: {', '.join(known)})")
    return TrainConfig(**dict(options))


def checked_training(options: Mapping[str, Any], tasks: Sequence[str] | None = None) -> TrainConfig:
    """`training_config`, with the optimizer and weighting method also looked up by name and the
    method's options checked: options are checked when they are stored, not when a worker first
    trains with them. With `tasks`, the method is built for them, so the options' values are
    checked too (a temperature of "hot", weights of a task the study lacks). (Loads torch, which
    the registries need; reading options does not.)"""
    from taskgroup.training.optim import OPTIMIZERS
    from taskgroup.weighting.build import build_weighting, check_weighting

    config = training_config(options)
    OPTIMIZERS.get(config.optimizer)
    check_weighting(config.weighting, config.weighting_options)
    if tasks is not None:
        build_weighting(config.weighting, list(tasks), **config.weighting_options)
    return config


def effective_training(options: Mapping[str, Any]) -> dict[str, Any]:
    """Every training option with the value a worker uses: the stored ones, and defaults for the rest."""
    return dataclasses.asdict(training_config(options))
