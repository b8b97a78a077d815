"""What an estimator sees and returns, and the one registry of estimators.

An estimator predicts, for each candidate network it can judge, the loss each of its tasks would
reach when fully trained. Selection chooses on these predictions and then scores the choice with
the real full-stage losses. Estimators receive an `Evidence` bundle rather than bare arguments so
that new ones (e.g. lookahead, which also needs a task-affinity matrix) plug in without changing
the selection engines.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import pandas as pd

from taskgroup.registry import Registry

ESTIMATE_COLUMNS = ["tasks", "size", "task", "loss"]


@dataclass(frozen=True)
class Evidence:
    """Everything measured so far: the results frame (exchange CSV columns) and named extra tables.

    `extras` holds tables some estimators need beyond per-network losses, keyed by what they are
    (e.g. ``"affinity"`` for a task-affinity matrix); estimators that need none ignore it.
    """

    results: pd.DataFrame
    extras: Mapping[str, pd.DataFrame] = field(default_factory=dict)

    def losses(self, stage: str, split: str) -> pd.DataFrame:
        """Rows of one stage and split as (tasks, size, task, loss), one row per (tasks, size, task)."""
        frame = self.results
        rows = frame[(frame["stage"] == stage) & (frame["split"] == split)]
        return rows[ESTIMATE_COLUMNS].drop_duplicates(["tasks", "size", "task"], keep="last").reset_index(drop=True)


class Estimator(ABC):
    """Predicts fully trained validation losses; `estimate` returns (tasks, size, task, loss) rows."""

    name: ClassVar[str]
    needs: ClassVar[str] = "the results it estimates from"
    """What it estimates from, as a user would train it: said when a study has none of it."""

    @abstractmethod
    def estimate(self, evidence: Evidence) -> pd.DataFrame:
        """Predicted loss of each task in each candidate the estimator can judge (columns ESTIMATE_COLUMNS)."""


class EstimatorWrapper(Estimator):
    """Another estimator, its estimate changed by a subclass (never registered): reported under the
    inner estimator's name, as the estimator that chose, and needing what it needs."""

    def __init__(self, inner: Estimator) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self.needs = inner.needs  # type: ignore[misc]


ESTIMATORS: Registry[type[Estimator]] = Registry("estimator")


def get_estimator(estimator: str | Estimator) -> Estimator:
    """An estimator instance from a registered name (or the instance itself)."""
    if isinstance(estimator, Estimator):
        return estimator
    return ESTIMATORS.get(estimator)()
