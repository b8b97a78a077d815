"""What selection needs from a results frame: checked columns, candidate costs and real losses."""

from __future__ import annotations

from itertools import combinations

import math
from collections.abc import Mapping

import pandas as pd

from taskgroup.errors import InvalidInputError
from taskgroup.selection.names import candidate_label, canonical_tasks

RESULT_COLUMNS = ["tasks", "size", "cost", "stage", "split", "task", "loss"]

CandidateKey = tuple[str, str]
"""(canonical tasks, size), e.g. ("depth+normal", "full")."""


def check_results(results: pd.DataFrame) -> pd.DataFrame:
    """The frame with the exchange-CSV columns, after the checks selection relies on."""
    missing = [column for column in RESULT_COLUMNS if column not in results.columns]
    if missing:
        raise InvalidInputError(f"results lack the column(s) {', '.join(missing)} (expected {','.join(RESULT_COLUMNS)})")
    if results.empty:
        raise InvalidInputError("there are no results to select from")
    frame = results[RESULT_COLUMNS].copy()
    frame["tasks"] = frame["tasks"].astype(str)
    frame["size"] = frame["size"].astype(str)
    frame["task"] = frame["task"].astype(str)
    for column in ("cost", "loss"):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() | ~values.map(math.isfinite)
        if bad.any():
            row = frame[bad].iloc[0]
            raise InvalidInputError(
                f"{column} of {row['task']} in {candidate_label(row['tasks'], row['size'])} is not a finite number: {row[column]!r}"
            )
        frame[column] = values.astype(float)
    if (frame["cost"] <= 0).any():
        row = frame[frame["cost"] <= 0].iloc[0]
        raise InvalidInputError(f"cost of {candidate_label(row['tasks'], row['size'])} must be positive, got {row['cost']}")
    conflicting = frame.groupby(["tasks", "size"])["cost"].nunique()
    if (conflicting > 1).any():
        tasks, size = conflicting[conflicting > 1].index[0]
        raise InvalidInputError(f"candidate {candidate_label(tasks, size)} has more than one cost in the results")
    return frame


def candidate_costs(
    results: pd.DataFrame, estimated: set[CandidateKey], override: Mapping[tuple[str, str], float] | None
) -> dict[CandidateKey, float]:
    """Cost of each candidate: the override, else the results; an untrained candidate (e.g. predicted by
    HOA) gets its size's cost when every known candidate of that size costs the same, else none."""
    measured = {key: float(cost) for key, cost in results.groupby(["tasks", "size"])["cost"].first().items()}
    if override is not None:
        given = _check_override(override)
        unpriced = sorted(set(measured) - set(given))
        if unpriced:
            raise InvalidInputError(f"costs: no cost given for candidate {candidate_label(*unpriced[0])}")
        known = given
    else:
        known = measured
    by_size: dict[str, set[float]] = {}
    for (_, size), cost in known.items():
        by_size.setdefault(size, set()).add(cost)
    costs = dict(known)
    for key in estimated - set(known):
        size_costs = by_size.get(key[1], set())
        if len(size_costs) == 1:
            costs[key] = next(iter(size_costs))
    return costs


def _check_override(override: Mapping[tuple[str, str], float]) -> dict[CandidateKey, float]:
    checked = {}
    for key, cost in override.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise InvalidInputError(f"costs must be keyed by (tasks, size), got {key!r}")
        tasks, size = canonical_tasks(key[0]), str(key[1])
        if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not math.isfinite(cost) or cost <= 0:
            raise InvalidInputError(f"cost of {candidate_label(tasks, size)} must be a positive number, got {cost!r}")
        checked[tasks, size] = float(cost)
    return checked


def fully_trained(results: pd.DataFrame) -> set[tuple[str, str]]:
    """The (tasks, size) networks with a full-stage validation loss for every one of their tasks: those
    exact can choose (an import may hold only some of a network's tasks)."""
    rows = results[(results["stage"] == "full") & (results["split"] == "val")]
    served: dict[tuple[str, str], set[str]] = {}
    for tasks, size, task in rows[["tasks", "size", "task"]].itertuples(index=False):
        served.setdefault((tasks, size), set()).add(task)
    return {key for key, tasks in served.items() if tasks == set(key[0].split("+"))}


def every_pair_trained(results: pd.DataFrame) -> bool:
    """Whether, at some size, every pair of the results' tasks is fully trained: all HOA's plan asks for."""
    tasks = sorted(set(results["task"]))
    trained = fully_trained(results)
    return len(tasks) >= 2 and any(
        all(("+".join(pair), size) in trained for pair in combinations(tasks, 2)) for size in {size for _, size in trained}
    )


def full_losses(results: pd.DataFrame, split: str) -> dict[tuple[str, str, str], float]:
    """(tasks, size, task) -> loss of the fully trained network on `split`."""
    rows = results[(results["stage"] == "full") & (results["split"] == split)]
    return {(tasks, size, task): loss for tasks, size, task, loss in rows[["tasks", "size", "task", "loss"]].itertuples(index=False)}
