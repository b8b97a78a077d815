"""`OwnRunsOnly`: an estimator held to the results of its own training runs, as the report compares them."""

from __future__ import annotations

from itertools import combinations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.plans import PLANS
from taskgroup.affinity import affinity_frame
from taskgroup.estimators import ESTIMATORS, Evidence, get_estimator
from taskgroup.estimators.own_runs import OwnRunsOnly

TASKS = ["a", "b", "c"]
SIZES = {"full": 1.0, "half": 0.5}
SUBSETS = ["+".join(group) for k in range(1, len(TASKS) + 1) for group in combinations(TASKS, k)]
losses = st.floats(0.1, 10.0, allow_nan=False)


def exhaustive_study(data: st.DataObject) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Every subset at every size trained fully (val and test) and early (val), and an affinity matrix."""
    records = [
        {"tasks": tasks, "size": size, "cost": cost, "stage": stage, "split": split, "task": task, "loss": data.draw(losses)}
        for tasks in SUBSETS for size, cost in SIZES.items() for task in tasks.split("+")
        for stage, split in (("full", "val"), ("full", "test"), ("early", "val"))
    ]
    matrix = [[data.draw(st.floats(0.001, 0.05) if i == j else st.floats(-0.05, 0.05)) for j in range(3)] for i in range(3)]
    return pd.DataFrame(records), {"affinity": affinity_frame(TASKS, matrix, "full")}


def runs_of(name: str) -> frozenset[tuple[str, str, str]]:
    return frozenset(PLANS.get(name)().runs(TASKS, list(SIZES), affinity_sizes={"full"}))  # as the matrix


def estimated(estimator, results: pd.DataFrame, extras) -> pd.DataFrame:
    frame = estimator.estimate(Evidence(results, extras))
    return frame.sort_values(["tasks", "size", "task"]).reset_index(drop=True)


@settings(max_examples=25, deadline=None)
@given(data=st.data(), name=st.sampled_from(ESTIMATORS.names()))
def test_it_estimates_what_a_study_holding_only_its_runs_would(data, name) -> None:
    results, extras = exhaustive_study(data)
    runs = runs_of(name)
    own = results[[key in runs for key in zip(results["tasks"], results["size"], results["stage"])]]
    assert 0 < len(own) <= len(results)
    held = estimated(OwnRunsOnly(get_estimator(name), runs), results, extras)
    pd.testing.assert_frame_equal(held, estimated(get_estimator(name), own.reset_index(drop=True), extras))
    assert OwnRunsOnly(get_estimator(name), runs).name == name  # reported as the estimator that chose


@pytest.mark.parametrize("name", ["exact", "esa", "hoa"])
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_exact_esa_and_hoa_estimate_from_their_own_runs_anyway(name, data) -> None:
    """So for them the report's choices are what `select` prints; lookahead, which uses every trained
    network's real losses, is the one estimator the restriction changes."""
    results, extras = exhaustive_study(data)
    held = estimated(OwnRunsOnly(get_estimator(name), runs_of(name)), results, extras)
    pd.testing.assert_frame_equal(held, estimated(get_estimator(name), results, extras))
