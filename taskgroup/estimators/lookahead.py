"""Lookahead estimator: predict every network's losses from single-task losses and one affinity matrix.

The affinity matrix (``evidence.extras["affinity"]``, see `taskgroup.affinity`) holds A[i -> t], the
mean relative decrease of task t's loss after a lookahead step on task i's loss. Raw values scale
with the learning rate, so each is first made relative to the target's own step:

    r[i -> t] = clip(A[i -> t] / A[t -> t], -1, 1)        (0 when A[t -> t] <= 0: no information)

A network G of two or more tasks is predicted, for each of its tasks t, as

    loss_t(G) = single_t * max(0, 1 + offset - strength * m_t(G)),   m_t(G) = mean over i in G, i != t of r[i -> t]

where ``single_t`` is t's full-stage validation loss in its single-task network of the same size,
so tasks that help t (m > 0) lower its predicted loss and conflicting ones raise it; the mean over
the other tasks is the grouping score of Fifty et al. (2021). ``strength`` and ``offset`` (a fixed
cost of sharing a network) are fitted by least squares to every measured multi-task network
(normally at least the all-task network trained by the lookahead job), with ``strength >= 0``;
with fewer than two measured multi-task losses they are `DEFAULT_STRENGTH` and 0.

A `score` passed to the estimator replaces ``m_t(G)`` with another feature of the group, computed
from the same matrix and the single-task losses (the scaling is fitted to it the same way); the
search-quality benchmark tries alternatives through it.

Networks that were fully trained keep their measured losses (so re-solving after finalization uses
what is known). A size without its own matrix uses the mean matrix over the stored sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from taskgroup.affinity.frame import affinity_lookup
from taskgroup.errors import InvalidInputError
from taskgroup.estimators.base import ESTIMATE_COLUMNS, ESTIMATORS, Estimator, Evidence

DEFAULT_STRENGTH = 0.1
AffinityMatrix = Mapping[tuple[str, str], float]
GroupScore = Callable[[str, Sequence[str], AffinityMatrix, Mapping[str, float]], float]
"""(task, group, affinity matrix, each task's single-task loss) -> the feature `m_t(G)` the scaling reads."""


@dataclass(frozen=True)
class Scaling:
    """`loss_t(G) = single_t * max(0, 1 + offset - strength * m_t(G))` (see the module docstring).

    `fitted_on` is the number of measured multi-task losses it was fitted to (0: the defaults).
    Fitted with a strength of 0, the affinities did not explain those losses, and every untrained
    network is predicted at its singles plus the offset: the estimate then carries no grouping.
    """

    strength: float = DEFAULT_STRENGTH
    offset: float = 0.0
    fitted_on: int = 0

    @property
    def ignores_affinity(self) -> bool:
        """Fitted, and to a strength of 0: the measured networks contradicted the affinities."""
        return self.fitted_on > 0 and self.strength == 0.0

    def summary(self) -> str:
        """One sentence for users (CLI and reports): the values and what they were fitted to."""
        if self.fitted_on == 0:
            return (f"The lookahead scaling is not fitted yet (it needs the single-task networks' and at least one "
                    f"multi-task network's full-stage losses): strength {self.strength:g}, offset {self.offset:g} by "
                    "default.")
        return (f"The lookahead scaling is fitted to {self.fitted_on} multi-task losses: strength {self.strength:.3f}, "
                f"offset {self.offset:+.3f} (predicted loss = single x (1 + offset - strength x mean normalised "
                "affinity)).")

    def contradiction(self) -> str | None:
        """Why lookahead's choices carry no grouping information, when the fit gave the affinities no weight."""
        if not self.ignores_affinity:
            return None
        shift = f" {self.offset:+.1%}" if round(self.offset, 3) != 0 else ""  # not "-0.0%"
        return (f"The networks with real losses contradict the affinities (fitted strength 0), so lookahead predicts "
                f"every untrained network at its tasks' single-task losses{shift}: its choices carry no "
                "grouping information.")

    def factor(self, mean_affinity: float) -> float:
        return max(0.0, 1.0 + self.offset - self.strength * mean_affinity)


class MissingAffinityError(InvalidInputError):
    """The evidence has no affinity matrix. Its message says only that: how to get one depends on
    where the evidence came from (measured on a study's dataset, or imported), which the caller adds."""


@ESTIMATORS.register("lookahead")
class LookaheadEstimator(Estimator):
    """Singles as measured; larger networks scaled from them by the affinities of their other tasks."""

    name = "lookahead"
    needs = "full-stage validation losses of the single-task networks and an affinity matrix"

    def __init__(self, scaling: Scaling | None = None, score: GroupScore | None = None) -> None:
        self.scaling = scaling
        self.score = score or mean_score

    def estimate(self, evidence: Evidence) -> pd.DataFrame:
        lookup, measured, singles = _inputs(evidence)
        scaling = self._scaling(lookup, measured, singles)
        rows = list(measured.itertuples(index=False, name=None))
        known = set(zip(measured["tasks"], measured["size"], strict=True))
        for size in sorted({size for size, _ in singles}):
            matrix = _matrix_for(size, lookup)
            tasks = sorted(task for s, task in singles if s == size and (task, task) in matrix)
            scale = {task: singles[(size, task)] for task in tasks}
            for k in range(2, len(tasks) + 1):
                for group in combinations(tasks, k):
                    name = "+".join(group)
                    if (name, size) in known:
                        continue
                    rows.extend(
                        (name, size, task, singles[(size, task)] * scaling.factor(self.score(task, group, matrix, scale)))
                        for task in group
                    )
        return pd.DataFrame(rows, columns=ESTIMATE_COLUMNS)

    def without_singles(self, evidence: Evidence, tasks: Sequence[str]) -> list[str]:
        """The `tasks` without a single-task network's full-stage loss at any size: lookahead
        estimates no untrained network that holds one of them, so its choices for them are only
        among networks with results."""
        _, _, singles = _inputs(evidence)
        measured = {task for _, task in singles}
        return [task for task in tasks if task not in measured]

    def scaling_for(self, evidence: Evidence) -> Scaling:
        """The scaling `estimate` uses on `evidence`: the one given, else fitted to its measured networks."""
        return self._scaling(*_inputs(evidence))

    def _scaling(
        self, lookup: Mapping[str, AffinityMatrix], measured: pd.DataFrame, singles: Mapping[tuple[str, str], float]
    ) -> Scaling:
        if self.scaling is not None:
            return self.scaling
        width = measured["tasks"].str.count(r"\+") + 1
        return fit_scaling(measured[width >= 2], singles, lookup, self.score)


def study_scaling(results: pd.DataFrame, affinity: pd.DataFrame) -> Scaling:
    """The scaling `select --estimator lookahead` fits on a study's results and stored affinity table
    (what `affinity measure`/`show` and the report tell users)."""
    return LookaheadEstimator().scaling_for(Evidence(results, {"affinity": affinity}))


def _inputs(evidence: Evidence) -> tuple[dict[str, AffinityMatrix], pd.DataFrame, dict[tuple[str, str], float]]:
    """The affinity matrices by size, the measured full-stage validation losses, and the singles among them."""
    if "affinity" not in evidence.extras:
        raise MissingAffinityError("the lookahead estimator needs an affinity matrix")
    lookup = affinity_lookup(evidence.extras["affinity"])
    if not lookup:
        raise MissingAffinityError("the lookahead estimator needs an affinity matrix; the affinity table is empty")
    measured = evidence.losses("full", "val")
    width = measured["tasks"].str.count(r"\+") + 1
    singles = {(size, task): float(loss) for _, size, task, loss in measured[width == 1].itertuples(index=False)}
    return lookup, measured, singles


def normalized_affinity(source: str, target: str, matrix: AffinityMatrix) -> float:
    """A[source -> target] relative to A[target -> target], clipped to [-1, 1]; 0 when undefined."""
    own = matrix.get((target, target), 0.0)
    value = matrix.get((source, target))
    if own <= 0.0 or value is None:
        return 0.0
    return min(1.0, max(-1.0, value / own))


def mean_affinity_onto(task: str, group: Sequence[str], matrix: AffinityMatrix) -> float:
    """Mean normalised affinity onto `task` of the other tasks of `group` (0 for a single task)."""
    others = [other for other in group if other != task]
    if not others:
        return 0.0
    return sum(normalized_affinity(other, task, matrix) for other in others) / len(others)


def mean_score(task: str, group: Sequence[str], matrix: AffinityMatrix, scale: Mapping[str, float]) -> float:
    """The estimator's feature: `mean_affinity_onto` (the losses are not needed)."""
    return mean_affinity_onto(task, group, matrix)


def fit_scaling(
    multi: pd.DataFrame,
    singles: Mapping[tuple[str, str], float],
    lookup: Mapping[str, AffinityMatrix],
    score: GroupScore = mean_score,
) -> Scaling:
    """Least-squares `strength >= 0` and `offset` of `loss / single = 1 + offset - strength * m` over
    the measured multi-task rows (tasks, size, task, loss) whose single and affinities are known."""
    ratios, means = [], []
    for tasks, size, task, loss in multi.itertuples(index=False):
        single = singles.get((size, task))
        matrix = _matrix_for(size, lookup)
        group = tasks.split("+")
        if single is None or single == 0.0 or not all((other, task) in matrix for other in group):
            continue
        ratios.append(float(loss) / single - 1.0)
        scale = {t: singles.get((size, t), 0.0) for t in group}
        means.append(score(task, group, matrix, scale))
    if len(ratios) < 2:
        return Scaling()
    y, m = np.asarray(ratios), np.asarray(means)
    if np.ptp(m) < 1e-12:  # no spread in affinity: only the offset is identifiable
        return Scaling(strength=DEFAULT_STRENGTH, offset=float(np.mean(y + DEFAULT_STRENGTH * m)), fitted_on=len(y))
    slope, intercept = np.polyfit(m, y, 1)
    strength = max(0.0, -float(slope))
    offset = float(np.mean(y + strength * m)) if strength == 0.0 else float(intercept)
    return Scaling(strength=strength, offset=offset, fitted_on=len(y))


def _matrix_for(size: str, lookup: Mapping[str, AffinityMatrix]) -> AffinityMatrix:
    """The matrix measured at `size`, else the mean over every stored size."""
    if size in lookup:
        return lookup[size]
    pairs = {pair for matrix in lookup.values() for pair in matrix}
    return {
        pair: float(np.mean([matrix[pair] for matrix in lookup.values() if pair in matrix])) for pair in pairs
    }
