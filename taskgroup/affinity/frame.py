"""The stored form of an affinity matrix: a long table, one row per (size, source task, target task).

`affinity` is the mean relative decrease of the target task's loss after a lookahead step on the
source task's loss (see `lookahead.py`). This module needs only pandas, so estimators and the CLI
can read matrices without importing torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from taskgroup.errors import InvalidInputError

AFFINITY_COLUMNS = ["size", "source", "target", "affinity"]


def affinity_frame(tasks: Sequence[str], matrix: Sequence[Sequence[float]], size: str) -> pd.DataFrame:
    """Long form of `matrix[i][j]`, the affinity of `tasks[i]` onto `tasks[j]` at `size`."""
    rows = [
        (size, source, target, float(matrix[i][j]))
        for i, source in enumerate(tasks)
        for j, target in enumerate(tasks)
    ]
    return pd.DataFrame(rows, columns=AFFINITY_COLUMNS)


def check_affinity_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` if it has the columns and finite values of an affinity table, else InvalidInputError."""
    missing = [column for column in AFFINITY_COLUMNS if column not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"affinity table lacks column(s) {', '.join(missing)} (expected {', '.join(AFFINITY_COLUMNS)})"
        )
    for row in frame[AFFINITY_COLUMNS].itertuples(index=False):
        if not math.isfinite(float(row.affinity)):
            raise InvalidInputError(
                f"affinity of {row.source} onto {row.target} (size {row.size}) is {row.affinity}, not a finite number"
            )
    return frame


def affinity_lookup(frame: pd.DataFrame) -> dict[str, dict[tuple[str, str], float]]:
    """Per size, `(source, target) -> affinity`; duplicates keep the last row."""
    lookup: dict[str, dict[tuple[str, str], float]] = {}
    for row in check_affinity_frame(frame)[AFFINITY_COLUMNS].itertuples(index=False):
        lookup.setdefault(str(row.size), {})[(str(row.source), str(row.target))] = float(row.affinity)
    return lookup


def matrix_table(frame: pd.DataFrame, size: str, tasks: Sequence[str]) -> pd.DataFrame:
    """The matrix at `size` as a square table (rows: source, columns: target), for `affinity show` and
    reports. Rows and columns follow `tasks` (the study's order, as the report's gain matrix does), so
    the two matrices line up; a task the matrix has and `tasks` lacks comes last rather than vanishing."""
    rows = check_affinity_frame(frame)
    rows = rows[rows["size"] == size]
    table = rows.pivot_table(index="source", columns="target", values="affinity", aggfunc="last")
    present = set(table.index) | set(table.columns)
    order = [task for task in tasks if task in present] + sorted(present - set(tasks))
    return table.reindex(index=order, columns=order)


def corner_label(rows: str, columns: str) -> str:
    """The top-left header of a square affinity table, naming what its rows and its columns are
    (`source \\ target`): one convention for `affinity show` and every matrix the report writes, whose
    two matrices are oriented differently."""
    return f"{rows} \\ {columns}"
