"""What each estimator cost to obtain, and how far its choices landed from the exact optimum.

The paper's trade-off: cheaper estimators train fewer or shorter networks but choose worse sets.
Compute comes from the jobs table (epochs and device time of finished runs); which jobs
an estimator needed is a predicate the caller supplies (the planner knows it), so this module
stays free of any estimator's internals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from taskgroup.report.selections import SelectObject

JOB_COLUMNS = ["tasks", "size", "stage", "state", "epochs", "device", "started_at", "finished_at", "wall_time"]
NeedsJob = Callable[[str, str, str], bool]
"""(tasks, size, stage) -> whether the estimator needs that training run."""

EXACT = "exact"


def compute_spent(jobs: pd.DataFrame, needs: Mapping[str, NeedsJob]) -> pd.DataFrame:
    """Per estimator: finished jobs it needed, their candidate-epochs and device-hours.

    Failed runs count too (their time was spent); runs never started or still running do not.
    """
    finished = jobs[jobs["state"].isin(["done", "failed"])] if not jobs.empty else jobs
    rows = []
    for estimator, need in needs.items():
        mine = finished[[need(t, s, g) for t, s, g in finished[["tasks", "size", "stage"]].itertuples(index=False)]] if not finished.empty else finished
        seconds = _durations(mine)
        rows.append({
            "estimator": estimator,
            "jobs": int(len(mine)),
            "candidate_epochs": float(pd.to_numeric(mine["epochs"]).fillna(0).sum()) if len(mine) else 0.0,
            "device_hours": float(seconds.sum()) / 3600.0,
        })
    return pd.DataFrame(rows, columns=["estimator", "jobs", "candidate_epochs", "device_hours"])


def distance_from_exact(selections: Sequence[SelectObject]) -> pd.DataFrame:
    """Per (estimator, budget): its test loss minus the exact estimator's at that budget.

    Only budgets where the exact choice's test loss is known appear; 0 means the estimator found
    a set as good as the optimum on test data.
    """
    exact = {float(s["budget"]): s["test_loss"] for s in selections if s["estimator"] == EXACT and s.get("test_loss") is not None}
    rows = []
    for s in selections:
        budget = float(s["budget"])
        if budget not in exact or s.get("test_loss") is None:
            continue
        distance = float(s["test_loss"]) - float(exact[budget])
        rows.append({
            "estimator": s["estimator"], "budget": budget, "test_loss": float(s["test_loss"]),
            "exact_test_loss": float(exact[budget]), "distance": distance,
            "relative_distance": distance / float(exact[budget]) if exact[budget] else np.nan,
        })
    columns = ["estimator", "budget", "test_loss", "exact_test_loss", "distance", "relative_distance"]
    return pd.DataFrame(rows, columns=columns)


def compute_against_distance(compute: pd.DataFrame, distances: pd.DataFrame, estimators: Sequence[str]) -> pd.DataFrame:
    """One row per estimator: compute spent next to its mean and worst distance from the optimum."""
    rows = []
    spent = {row["estimator"]: row for row in compute.to_dict("records")}
    for estimator in estimators:
        mine = distances[distances["estimator"] == estimator]["distance"] if not distances.empty else pd.Series(dtype=float)
        cost = spent.get(estimator, {})
        rows.append({
            "estimator": estimator,
            "jobs": cost.get("jobs", 0),
            "candidate_epochs": cost.get("candidate_epochs", 0.0),
            "device_hours": cost.get("device_hours", 0.0),
            "budgets_compared": int(len(mine)),
            "mean_distance": float(mine.mean()) if len(mine) else np.nan,
            "max_distance": float(mine.max()) if len(mine) else np.nan,
        })
    columns = ["estimator", "jobs", "candidate_epochs", "device_hours", "budgets_compared", "mean_distance", "max_distance"]
    return pd.DataFrame(rows, columns=columns)


def _durations(jobs: pd.DataFrame) -> pd.Series:
    """Seconds of each job: its training's own wall time where recorded, else finish minus start.

    The span from claim to finish also holds what a worker does once, before its first job (torch's
    import and first kernels, opening the data): a few seconds that made the estimator whose jobs
    ran first look several times dearer in a small study."""
    if jobs.empty:
        return pd.Series(dtype=float)
    started = pd.to_datetime(jobs["started_at"], utc=True)
    finished = pd.to_datetime(jobs["finished_at"], utc=True)
    span = (finished - started).dt.total_seconds()
    own = pd.to_numeric(jobs["wall_time"], errors="coerce")
    return own.fillna(span).dropna().clip(lower=0)
