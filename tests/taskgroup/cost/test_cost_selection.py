"""Measured costs change the optimal choice where they differ enough from the paper's unit costs."""

from __future__ import annotations

import pandas as pd
import pytest

from taskgroup.cost import candidate_costs, measure_candidates
from taskgroup.models import parse_sizes
from taskgroup.selection.select import select
from taskgroup.tasks import get_task

# Validation losses: each single-task network is best for its task, the shared network is worse for
# both, and half-size networks are a little worse than full-size ones.
LOSSES = {
    ("depth", "full"): {"depth": 0.10},
    ("edge", "full"): {"edge": 0.10},
    ("depth+edge", "full"): {"depth": 0.13, "edge": 0.13},
    ("depth", "half"): {"depth": 0.12},
    ("edge", "half"): {"edge": 0.11},
}
BUDGET = 1.4


def _results() -> pd.DataFrame:
    declared = {"full": 1.0, "half": 0.5}  # the paper's unit costs
    rows = [
        {"tasks": tasks, "size": size, "cost": declared[size], "stage": "full", "split": "val", "task": task, "loss": loss}
        for (tasks, size), losses in LOSSES.items()
        for task, loss in losses.items()
    ]
    return pd.DataFrame(rows)


def _names(selection: object) -> set[tuple[str, str]]:
    return {("+".join(n.tasks), n.size) for n in selection.networks}  # type: ignore[attr-defined]


def test_measured_costs_change_the_optimal_choice() -> None:
    sizes = {size.label: size for size in parse_sizes("full=1.0,half=0.5")}
    keys = list(LOSSES)
    measured = measure_candidates(
        [([get_task(t) for t in tasks.split("+")], sizes[size]) for tasks, size in keys], (3, 32, 32), "cpu",
        warmup=0, repeats=1, rounds=1,
    )
    # MACs, not latency, so the test does not depend on how busy the machine is.
    costs = candidate_costs(dict(zip(keys, measured)), "relative", basis="macs")

    # What the measurement shows: a half-width network costs about a quarter of a full one, not half,
    # so a full network plus a half one fits in 1.4 units, which the paper's unit costs (1.5) say it does not.
    assert costs[("depth", "full")] == pytest.approx(1.0)
    assert costs[("depth", "full")] + costs[("edge", "half")] <= BUDGET < 1.0 + 0.5

    # Paper's unit costs: within 1.4 the best affordable set is the two half-size networks (0.12 + 0.11).
    paper = select(_results(), BUDGET)
    assert _names(paper) == {("depth", "half"), ("edge", "half")}
    assert paper.val_loss == pytest.approx(0.23)
    assert paper.cost == pytest.approx(1.0)

    # Measured costs: the full-size depth network plus the half-size edge network fit (0.10 + 0.11).
    chosen = select(_results(), BUDGET, costs=costs)
    assert _names(chosen) == {("depth", "full"), ("edge", "half")}
    assert chosen.val_loss == pytest.approx(0.21)
    assert chosen.cost == pytest.approx(costs[("depth", "full")] + costs[("edge", "half")])
