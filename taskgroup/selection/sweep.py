"""Select at many budgets with several estimators, next to the baselines, for one table or JSON list."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from taskgroup.errors import InfeasibleError
from taskgroup.estimators import Estimator
from taskgroup.selection.baselines import BaselineRow, baselines
from taskgroup.selection.build import CandidateSpec
from taskgroup.selection.select import Selection, Selector

RANDOM_SAMPLES = 1000
"""Distinct random groupings the random baseline is over by default (every one, where there are fewer)."""


@dataclass(frozen=True)
class InfeasibleRow:
    """A (budget, estimator) with no feasible choice, and the reason (it states the cheapest budget)."""

    budget: float
    estimator: str
    error: str

    def to_json(self) -> dict[str, Any]:
        return {"budget": self.budget, "estimator": self.estimator, "error": self.error}


@dataclass(frozen=True)
class Sweep:
    """Selections per (budget, estimator), in budget order, and baseline rows per budget."""

    selections: list[Selection | InfeasibleRow] = field(default_factory=list)
    baselines: list[BaselineRow] = field(default_factory=list)

    def to_json(self) -> list[dict[str, Any]]:
        """The select objects (or ``{budget, estimator, error}``), then the baseline rows."""
        return [row.to_json() for row in self.selections] + [row.to_json() for row in self.baselines]


def sweep(
    results: pd.DataFrame,
    budgets: Sequence[float],
    estimators: Iterable[str | Estimator | Selector] = ("exact",),
    *,
    solver: str = "auto",
    weights: Mapping[str, float] | None = None,
    max_loss: Mapping[str, float] | None = None,
    require: Iterable[CandidateSpec] = (),
    forbid: Iterable[CandidateSpec] = (),
    max_networks: int | None = None,
    costs: Mapping[tuple[str, str], float] | None = None,
    tasks: Sequence[str] | None = None,
    extras: Mapping[str, pd.DataFrame] | None = None,
    with_baselines: bool = True,
    random_samples: int = RANDOM_SAMPLES,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Sweep:
    """Select at every budget with every estimator, plus the baselines at every budget (under the same
    constraints: `max_loss`, `require`, `forbid`, `max_networks`; `weights` steer the estimators only).

    An infeasible budget becomes an `InfeasibleRow` instead of stopping the sweep; bad options
    still raise. A `Selector` among `estimators` is used as prepared (the CLI builds them once to
    see which estimators can estimate). `progress(done, total)` is called after each step.
    """
    budgets = list(budgets)
    require, forbid = tuple(require), tuple(forbid)
    kwargs = dict(costs=costs, tasks=tasks, extras=extras)
    selectors = [e if isinstance(e, Selector) else Selector(results, e, **kwargs) for e in estimators]
    exact = next((s for s in selectors if s.estimator.name == "exact"), None) or Selector(results, "exact", **kwargs)
    total = len(budgets) * (len(selectors) + (1 if with_baselines else 0))
    done = 0
    outcome = Sweep()
    for budget in budgets:
        for selector in selectors:
            try:
                row: Selection | InfeasibleRow = selector.select(
                    budget,
                    solver=solver,
                    weights=weights,
                    max_loss=max_loss,
                    require=require,
                    forbid=forbid,
                    max_networks=max_networks,
                )
            except InfeasibleError as error:
                row = InfeasibleRow(budget, selector.estimator.name, str(error))
            outcome.selections.append(row)
            done += 1
            if progress is not None:
                progress(done, total)
        if with_baselines:
            outcome.baselines.extend(baselines(exact, budget, random_samples, seed, max_loss=max_loss, require=require,
                                               forbid=forbid, max_networks=max_networks))
            done += 1
            if progress is not None:
                progress(done, total)
    return outcome
