"""Higher-order approximation (HOA): predict big networks from pairwise ones, so only pairs need training.

The loss of task ``a`` in a network of three or more tasks is the mean, over the other tasks ``b``
of that network, of ``a``'s full-stage validation loss in the pair network ``{a, b}`` of the same
size. Single-task and pair networks keep their measured losses. A larger network is predicted
whenever all its pairs were measured at that size, whether or not it was itself trained. With no
pair measured it estimates nothing: singles alone are the one-per-task baseline, not HOA.
"""

from __future__ import annotations

from itertools import combinations

import pandas as pd

from taskgroup.estimators.base import ESTIMATE_COLUMNS, ESTIMATORS, Estimator, Evidence


@ESTIMATORS.register("hoa")
class HigherOrderEstimator(Estimator):
    """Singles and pairs as measured; larger networks as the mean of the pairwise losses."""

    name = "hoa"
    needs = "full-stage validation losses of the single-task networks and the pairs"

    def estimate(self, evidence: Evidence) -> pd.DataFrame:
        measured = evidence.losses("full", "val")
        width = measured["tasks"].str.count(r"\+") + 1
        small = measured[width <= 2]
        pair_loss = {
            (size, task, other): loss
            for tasks, size, task, loss in measured[width == 2].itertuples(index=False)
            for other in tasks.split("+")
            if other != task
        }
        if not pair_loss:
            return pd.DataFrame(columns=ESTIMATE_COLUMNS)
        rows = list(small.itertuples(index=False, name=None))
        for size in sorted(measured["size"].unique()):
            tasks = sorted({t for (s, t, _) in pair_loss if s == size})
            for k in range(3, len(tasks) + 1):
                for subset in combinations(tasks, k):
                    predicted = _mean_pair_losses(subset, size, pair_loss)
                    if predicted is not None:
                        name = "+".join(subset)
                        rows.extend((name, size, task, loss) for task, loss in predicted.items())
        return pd.DataFrame(rows, columns=ESTIMATE_COLUMNS)


def _mean_pair_losses(
    subset: tuple[str, ...], size: str, pair_loss: dict[tuple[str, str, str], float]
) -> dict[str, float] | None:
    """Each task's mean pairwise loss within `subset`, or None when a pair was not measured."""
    predicted = {}
    for task in subset:
        losses = [pair_loss.get((size, task, other)) for other in subset if other != task]
        if any(loss is None for loss in losses):
            return None
        predicted[task] = sum(losses) / len(losses)
    return predicted
