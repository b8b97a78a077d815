"""Active finalization: after any estimator, train the chosen networks fully, re-solve with their real
losses, and repeat until every chosen network's losses are real or a compute limit is reached;
optionally spend the rest of the limit exploring (see `explore.py`).

An estimator's mistakes are of two kinds: a network predicted too good is chosen, and one predicted
too bad is not. Training the chosen networks corrects the first kind where it matters (the choice),
so re-solving moves away from networks that disappointed. The loop knows nothing of queues or
devices: it calls `train` with the networks to train and gets their result rows back, so the same
code serves a local run, the job scheduler, or a benchmark replaying stored results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from taskgroup.errors import InfeasibleError, InvalidInputError
from taskgroup.estimators import ESTIMATE_COLUMNS, Estimator, Evidence, get_estimator
from taskgroup.estimators.base import EstimatorWrapper
from taskgroup.finalization.explore import Exploration, NetworkKey, next_to_explore
from taskgroup.selection.build import CandidateSpec
from taskgroup.selection.results import fully_trained
from taskgroup.selection.select import Selection, Selector


class Trainer(Protocol):
    """Trains networks to convergence; returns their exchange-format rows (`full` stage, `val` and
    `test`). `exploration` is what the networks explore for, None when they were chosen (the job
    queue records it, so that the next `finalize --explore` continues the budgets' turns)."""

    def __call__(self, networks: Sequence[NetworkKey], exploration: Exploration | None) -> pd.DataFrame: ...


class MeasuredFirst(EstimatorWrapper):
    """Another estimator's predictions, with every fully trained network's real validation losses in
    place of its prediction (ESA and HOA would otherwise ignore a network trained by finalization)."""

    def estimate(self, evidence: Evidence) -> pd.DataFrame:
        measured = evidence.losses("full", "val")
        known = set(zip(measured["tasks"], measured["size"], strict=True))
        predicted = self.inner.estimate(evidence)
        keep = [key not in known for key in zip(predicted["tasks"], predicted["size"], strict=True)]
        return pd.concat([predicted[keep], measured], ignore_index=True)[ESTIMATE_COLUMNS]


@dataclass(frozen=True)
class ActiveFinalization:
    """The final choice per budget, what was trained (in order, per round), and why the loop stopped
    (`stable`: every chosen network has real losses; `limit`: `max_trained` networks were trained;
    `exhausted`: exploring, no untrained network could be chosen at any budget any more).

    `deployable` is, per budget, the best choice among the fully trained networks on their real
    losses (None if they cannot serve every task within the budget): what to deploy when the loop
    stopped at the limit with untrained networks still chosen, and equal to `selections` otherwise.

    `explorations` has one entry per round: None where the round trained chosen networks, else the
    exploration it trained (the budget it served and the optimism that networks needed to be
    chosen), so users can see why a network no budget chose was trained.
    """

    selections: dict[float, Selection]
    rounds: tuple[tuple[NetworkKey, ...], ...]
    stop_reason: str
    results: pd.DataFrame
    deployable: dict[float, Selection | None]
    explorations: tuple[Exploration | None, ...]

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
    selector = known_selector(results, estimator, extras=extras, tasks=tasks, costs=costs)
    return {budget: selector.select(budget) for budget in budgets}


def known_selector(
    results: pd.DataFrame,
    estimator: str | Estimator,
    *,
    extras: Mapping[str, pd.DataFrame] | None,
    tasks: Sequence[str] | None,
    costs: Mapping[NetworkKey, float] | None,
) -> Selector:
    """A selector on `estimator`'s predictions with the fully trained networks' real losses in their place."""
    chooser = estimator if isinstance(estimator, MeasuredFirst) else MeasuredFirst(get_estimator(estimator))
    return Selector(results, chooser, tasks=tasks, extras=extras, costs=costs)


def feasible_budgets(
    selector: Selector, budgets: Sequence[float], forbid: Iterable[CandidateSpec] = ()
) -> tuple[list[float], dict[float, str]]:
    """The budgets at which `selector` can choose at all without the `forbid` candidates, and why each
    other one cannot (e.g. below the cheapest feasible budget once costs are measured): finalization
    skips those, as `sweep` does. Raises the first budget's error when none is feasible."""
    feasible, skipped, first, forbid = [], {}, None, tuple(forbid)
    for budget in budgets:
        try:
            selector.select(budget, forbid=forbid)
        except InfeasibleError as error:
            skipped[budget], first = str(error), first or error
        else:
            feasible.append(budget)
    if not feasible and first is not None:
        if len(skipped) == 1:
            raise first
        raise InfeasibleError("no budget is feasible: " + "; ".join(skipped.values()))
    return feasible, skipped


def deployable_choices(
    results: pd.DataFrame,
    budgets: Sequence[float],
    *,
    tasks: Sequence[str] | None = None,
    costs: Mapping[NetworkKey, float] | None = None,
    forbid: Iterable[CandidateSpec] = (),
) -> dict[float, Selection | None]:
    """Per budget, the best choice among the fully trained networks of `results` (real validation
    losses) but the `forbid` ones, or None where they cannot serve every task within that budget."""
    rows = results[(results["stage"] == "full") & (results["split"] == "val")]
    covered = set(rows["task"])
    complete = not rows.empty and (tasks is None or covered.issuperset(tasks))
    selector = Selector(results[results["stage"] == "full"], "exact", tasks=tasks, costs=costs) if complete else None
    choices: dict[float, Selection | None] = {}
    for budget in budgets:
        try:
            choices[budget] = None if selector is None else selector.select(
                budget, forbid=selector.naming_choosable(forbid))  # a network never trained is no option anyway
        except InfeasibleError:
            choices[budget] = None
    return choices


def untrained(selections: Mapping[float, Selection], results: pd.DataFrame) -> list[NetworkKey]:
    """The chosen networks (over all budgets) without full-stage validation losses, smallest first."""
    measured = fully_trained(results)
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
    explore: bool = False,
    explored_last: float | None = None,
    forbid: Iterable[CandidateSpec] = (),
    progress: Callable[[int, int], None] | None = None,
) -> ActiveFinalization:
    """Select at every budget, train the chosen networks that lack full-stage losses, and repeat.

    Each round trains the union of the missing networks over all budgets (smallest first, cut at
    `max_trained` in total). With `explore` (which needs `max_trained`), a stable choice does not end
    the loop: the untrained networks closest to being chosen are trained next (`next_to_explore`, the
    budgets taking turns, from the budget after `explored_last`: the one an earlier run explored
    last), until the limit is reached or nothing untrained could be chosen. The `forbid` candidates
    are never chosen, explored or deployed. `progress(trained, max_trained or 0)` is called after each round.
    """
    if not budgets:
        raise InvalidInputError("active finalization needs at least one budget")
    if max_trained is not None and max_trained < 0:
        raise InvalidInputError(f"the compute limit must be a number of networks >= 0, got {max_trained}")
    if explore and max_trained is None:
        raise InvalidInputError("exploring needs a compute limit (a number of networks to train at most)")
    chooser = MeasuredFirst(get_estimator(estimator))
    forbid = tuple(forbid)
    known = results
    rounds: list[tuple[NetworkKey, ...]] = []
    explorations: list[Exploration | None] = []

    def finish(selections: dict[float, Selection], reason: str) -> ActiveFinalization:
        deployable = deployable_choices(known, budgets, tasks=tasks, costs=costs, forbid=forbid)
        return ActiveFinalization(selections, tuple(rounds), reason, known, deployable, tuple(explorations))

    while True:
        selector = known_selector(known, chooser, extras=extras, tasks=tasks, costs=costs)
        selections = {budget: selector.select(budget, forbid=forbid) for budget in budgets}
        missing = untrained(selections, known)
        done = sum(len(round_) for round_ in rounds)
        room = len(missing) if max_trained is None else max_trained - done
        exploration = None
        if not missing:
            if not explore:
                return finish(selections, "stable")
            if room <= 0:
                return finish(selections, "limit")
            # The budgets take turns: the next exploration is at the budget after the one explored last.
            explored = next((e.budget for e in reversed(explorations) if e is not None), explored_last)
            exploration = next_to_explore(selector, fully_trained(known), budgets, after=explored, forbid=forbid)
            if exploration is None:
                return finish(selections, "exhausted")
            missing = list(exploration.networks)
        if room <= 0:
            return finish(selections, "limit")
        batch = missing[:room]
        new = train(batch, exploration)
        got = fully_trained(new)
        absent = [key for key in batch if key not in got]
        if absent:
            raise InvalidInputError(
                f"training {absent[0][0]} ({absent[0][1]}) returned no full-stage validation losses"
            )
        known = pd.concat([known, new], ignore_index=True)
        rounds.append(tuple(batch))
        explorations.append(exploration)
        if progress is not None:
            progress(done + len(batch), max_trained or 0)
