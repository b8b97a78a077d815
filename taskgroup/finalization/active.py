"""Active finalization: after any estimator, train the chosen networks fully, re-solve with their real
losses, and repeat until every chosen network's losses are real or a compute limit is reached.

An estimator's mistakes are of two kinds: a network predicted too good is chosen, and one predicted
too bad is not. Training the chosen networks corrects the first kind where it matters (the choice),
so re-solving moves away from networks that disappointed. The loop knows nothing of queues or
devices: it calls `train` with the networks to train and gets their result rows back, so the same
code serves a local run, the job scheduler, or a benchmark replaying stored results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from taskgroup.errors import InvalidInputError
from taskgroup.estimators import ESTIMATE_COLUMNS, Estimator, Evidence, get_estimator
from taskgroup.selection.select import Selection, Selector

NetworkKey = tuple[str, str]
"""(tasks joined by `+`, size label)"""
Trainer = Callable[[Sequence[NetworkKey]], pd.DataFrame]
"""Trains networks to convergence; returns their exchange-format rows (`full` stage, `val` and `test`)."""


class MeasuredFirst(Estimator):
    """Another estimator's predictions, with every fully trained network's real validation losses in
    place of its prediction (ESA and HOA would otherwise ignore a network trained by finalization)."""

    def __init__(self, inner: Estimator) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]  (reported as the estimator that chose)

    def estimate(self, evidence: Evidence) -> pd.DataFrame:
        measured = evidence.losses("full", "val")
        known = set(zip(measured["tasks"], measured["size"]))
        predicted = self.inner.estimate(evidence)
        keep = [key not in known for key in zip(predicted["tasks"], predicted["size"])]
        return pd.concat([predicted[keep], measured], ignore_index=True)[ESTIMATE_COLUMNS]


@dataclass(frozen=True)
class ActiveFinalization:
    """The final choice per budget, what was trained (in order, per round), and why the loop stopped
    (`stable`: every chosen network has real losses; `limit`: `max_trained` networks were trained)."""

    selections: dict[float, Selection]
    rounds: tuple[tuple[NetworkKey, ...], ...]
    stop_reason: str
    results: pd.DataFrame

    @property
    def trained(self) -> list[NetworkKey]:
        return [key for round_ in self.rounds for key in round_]


def choose_with_known(
    results: pd.DataFrame,
    estimator: str | Estimator,
    budgets: Sequence[float],
    *,
    extras: Mapping[str, pd.DataFrame] | None = None,
    tasks: Sequence[str] | None = None,
    costs: Mapping[NetworkKey, float] | None = None,
) -> dict[float, Selection]:
    """One round: select at every budget with `estimator`'s predictions, real full-stage validation
    losses in place of the predictions wherever a network was trained fully."""
    chooser = estimator if isinstance(estimator, MeasuredFirst) else MeasuredFirst(get_estimator(estimator))
    selector = Selector(results, chooser, tasks=tasks, extras=extras, costs=costs)
    return {budget: selector.select(budget) for budget in budgets}


def untrained(selections: Mapping[float, Selection], results: pd.DataFrame) -> list[NetworkKey]:
    """The chosen networks (over all budgets) without full-stage validation losses, smallest first."""
    measured = set(zip(*_full_val(results)))
    return sorted(
        {(n.name, n.size) for s in selections.values() for n in s.networks} - measured,
        key=lambda key: (key[0].count("+"), key),
    )


def finalize_actively(
    results: pd.DataFrame,
    estimator: str | Estimator,
    budgets: Sequence[float],
    train: Trainer,
    *,
    extras: Mapping[str, pd.DataFrame] | None = None,
    tasks: Sequence[str] | None = None,
    costs: Mapping[NetworkKey, float] | None = None,
    max_trained: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ActiveFinalization:
    """Select at every budget, train the chosen networks that lack full-stage losses, and repeat.

    Each round trains the union of the missing networks over all budgets (smallest first, cut at
    `max_trained` in total). `progress(trained, max_trained or 0)` is called after each round.
    """
    if not budgets:
        raise InvalidInputError("active finalization needs at least one budget")
    if max_trained is not None and max_trained < 0:
        raise InvalidInputError(f"the compute limit must be a number of networks >= 0, got {max_trained}")
    chooser = MeasuredFirst(get_estimator(estimator))
    known = results
    rounds: list[tuple[NetworkKey, ...]] = []
    while True:
        selections = choose_with_known(known, chooser, budgets, extras=extras, tasks=tasks, costs=costs)
        missing = untrained(selections, known)
        if not missing:
            return ActiveFinalization(selections, tuple(rounds), "stable", known)
        done = sum(len(round_) for round_ in rounds)
        room = len(missing) if max_trained is None else max_trained - done
        if room <= 0:
            return ActiveFinalization(selections, tuple(rounds), "limit", known)
        batch = missing[:room]
        new = train(batch)
        got = set(zip(*_full_val(new)))
        absent = [key for key in batch if key not in got]
        if absent:
            raise InvalidInputError(
                f"training {absent[0][0]} ({absent[0][1]}) returned no full-stage validation losses"
            )
        known = pd.concat([known, new], ignore_index=True)
        rounds.append(tuple(batch))
        if progress is not None:
            progress(done + len(batch), max_trained or 0)


def _full_val(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    rows = frame[(frame["stage"] == "full") & (frame["split"] == "val")]
    return rows["tasks"], rows["size"]
