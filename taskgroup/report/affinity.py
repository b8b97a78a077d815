"""Pairwise task affinity (the paper's Tables 1-2): how much each task gains from a partner.

For task ``a`` trained with partner ``b`` at one size, the gain is
``(loss of a alone - loss of a in the pair {a, b}) / loss of a alone``, on fully trained networks'
losses of one split (test by default, as in the paper). Positive means the pair helps ``a``.
A pair's mutual gain is the mean of its two tasks' gains.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

GAIN_COLUMNS = ["size", "task", "partner", "loss_alone", "loss_together", "gain"]
PAIR_COLUMNS = ["size", "pair", "gain_first", "gain_second", "mutual_gain"]


def pair_gains(results: pd.DataFrame, *, split: str = "test", stage: str = "full") -> pd.DataFrame:
    """One row per (size, task, partner) where both the single-task and the pair network were measured."""
    rows = results[(results["stage"] == stage) & (results["split"] == split)]
    width = rows["tasks"].str.count(r"\+") + 1
    alone = {(size, task): loss for tasks, size, task, loss in rows[width == 1][["tasks", "size", "task", "loss"]].itertuples(index=False)}
    gains = []
    for tasks, size, task, loss in rows[width == 2][["tasks", "size", "task", "loss"]].itertuples(index=False):
        partner = next(other for other in tasks.split("+") if other != task)
        base = alone.get((size, task))
        if base is None or base == 0:
            continue
        gains.append((size, task, partner, float(base), float(loss), (base - loss) / base))
    frame = pd.DataFrame(gains, columns=GAIN_COLUMNS)
    return frame.sort_values(["size", "task", "partner"], ignore_index=True)


def gain_matrix(gains: pd.DataFrame, size: str, tasks: Sequence[str]) -> pd.DataFrame:
    """Rows: the task whose loss is measured; columns: its partner; NaN on the diagonal and where unmeasured."""
    at_size = gains[gains["size"] == size]
    matrix = at_size.pivot(index="task", columns="partner", values="gain")
    return matrix.reindex(index=list(tasks), columns=list(tasks)).astype(float)


def mutual_gains(gains: pd.DataFrame) -> pd.DataFrame:
    """One row per measured pair: each task's gain and their mean, best pairs first within a size."""
    lookup = {(size, task, partner): gain for size, task, partner, gain in gains[["size", "task", "partner", "gain"]].itertuples(index=False)}
    rows = []
    for (size, task, partner), gain in lookup.items():
        if task < partner and (size, partner, task) in lookup:
            other = lookup[(size, partner, task)]
            rows.append((size, f"{task}+{partner}", gain, other, (gain + other) / 2))
    frame = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    return frame.sort_values(["size", "mutual_gain", "pair"], ascending=[True, False, True], ignore_index=True)
