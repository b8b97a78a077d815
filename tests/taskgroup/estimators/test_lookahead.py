"""The lookahead estimator on hand-made affinity matrices: documented numbers, fitting, invariances."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskgroup.affinity import AFFINITY_COLUMNS, affinity_frame
from taskgroup.errors import InvalidInputError
from taskgroup.estimators import Evidence, get_estimator
from taskgroup.estimators.lookahead import LookaheadEstimator, Scaling
from taskgroup.selection.select import Selector

TASKS = ["a", "b", "c"]
# A[i -> j]: row = source, column = target. Normalised by the target's own entry:
# r[b->a] = 0.5, r[c->a] = -2 -> clipped to -1, r[a->b] = 0.25, r[c->b] = 0.5, r[a->c] = -1, r[b->c] = 0.
MATRIX = [
    [0.02, 0.01, -0.01],
    [0.01, 0.04, 0.00],
    [-0.04, 0.02, 0.01],
]
SINGLES = {"a": 2.0, "b": 1.0, "c": 4.0}


def results(rows: list[tuple[str, str, float]], size: str = "full") -> pd.DataFrame:
    """Exchange-format frame of full-stage val (and equal test) losses."""
    records = [
        {"tasks": tasks, "size": size, "cost": 1.0, "stage": "full", "split": split, "task": task, "loss": loss}
        for tasks, task, loss in rows
        for split in ("val", "test")
    ]
    return pd.DataFrame(records)


def single_rows(size: str = "full") -> list[tuple[str, str, float]]:
    return [(task, task, loss) for task, loss in SINGLES.items()]


def estimates(estimator, results_frame: pd.DataFrame, affinity: pd.DataFrame) -> dict[tuple[str, str, str], float]:
    frame = estimator.estimate(Evidence(results_frame, {"affinity": affinity}))
    return {(t, s, task): loss for t, s, task, loss in frame.itertuples(index=False)}


def test_documented_numbers_with_a_fixed_scaling() -> None:
    got = estimates(LookaheadEstimator(Scaling(strength=0.2)), results(single_rows()), affinity_frame(TASKS, MATRIX, "full"))
    # loss_t(G) = single_t * (1 - 0.2 * mean over the other tasks of r[i -> t]), worked by hand:
    expected = {
        ("a", "a"): 2.0, ("b", "b"): 1.0, ("c", "c"): 4.0,
        ("a+b", "a"): 2.0 * (1 - 0.2 * 0.5), ("a+b", "b"): 1.0 * (1 - 0.2 * 0.25),
        ("a+c", "a"): 2.0 * (1 + 0.2), ("a+c", "c"): 4.0 * (1 + 0.2),
        ("b+c", "b"): 1.0 * (1 - 0.2 * 0.5), ("b+c", "c"): 4.0,
        ("a+b+c", "a"): 2.0 * (1 + 0.2 * 0.25), ("a+b+c", "b"): 1.0 * (1 - 0.2 * 0.375),
        ("a+b+c", "c"): 4.0 * (1 + 0.2 * 0.5),
    }
    assert got.keys() == {(tasks, "full", task) for tasks, task in expected}
    for (tasks, task), loss in expected.items():
        assert math.isclose(got[(tasks, "full", task)], loss, rel_tol=1e-12), (tasks, task)


def test_scaling_is_fitted_to_the_measured_all_task_network() -> None:
    # The all-task network measured exactly as strength 0.3 and offset 0.05 would predict it.
    measured = [("a+b+c", "a", 2.0 * (1.05 + 0.3 * 0.25)), ("a+b+c", "b", 1.0 * (1.05 - 0.3 * 0.375)),
                ("a+b+c", "c", 4.0 * (1.05 + 0.3 * 0.5))]
    got = estimates(get_estimator("lookahead"), results(single_rows() + measured), affinity_frame(TASKS, MATRIX, "full"))
    assert math.isclose(got[("a+b", "full", "a")], 2.0 * (1.05 - 0.3 * 0.5), rel_tol=1e-9)
    assert math.isclose(got[("a+b", "full", "b")], 1.0 * (1.05 - 0.3 * 0.25), rel_tol=1e-9)
    assert math.isclose(got[("b+c", "full", "c")], 4.0 * 1.05, rel_tol=1e-9)
    for tasks, task, loss in measured:  # measured networks keep their real losses
        assert got[(tasks, "full", task)] == loss


def test_affinities_that_predict_the_wrong_way_get_no_strength() -> None:
    # Measured losses rise with affinity: the fit refuses a negative strength, keeping only the offset.
    measured = [("a+b+c", "a", 2.0 * (1 - 0.25)), ("a+b+c", "b", 1.0 * (1 + 0.375)), ("a+b+c", "c", 4.0 * (1 - 0.5))]
    got = estimates(get_estimator("lookahead"), results(single_rows() + measured), affinity_frame(TASKS, MATRIX, "full"))
    offset = ((-0.25) + 0.375 + (-0.5)) / 3
    assert math.isclose(got[("a+b", "full", "a")], 2.0 * (1 + offset), rel_tol=1e-9)
    assert math.isclose(got[("a+c", "full", "c")], 4.0 * (1 + offset), rel_tol=1e-9)


def test_a_custom_score_replaces_the_mean_affinity_in_prediction_and_fit() -> None:
    # A score that sees the group and the single-task losses: -1 for every task sharing a network
    # with c (the largest single loss), else 0. The all-task network is measured as strength 0.4 and
    # offset 0.1 predict it under that score; the fit must recover them from it.
    seen: list[dict[str, float]] = []

    def near_c(task, group, matrix, scale) -> float:
        seen.append(dict(scale))
        return -1.0 if "c" in group and task != "c" else 0.0

    measured = [("a+b+c", "a", 2.0 * 1.5), ("a+b+c", "b", 1.0 * 1.5), ("a+b+c", "c", 4.0 * 1.1)]
    got = estimates(LookaheadEstimator(score=near_c), results(single_rows() + measured), affinity_frame(TASKS, MATRIX, "full"))
    assert math.isclose(got[("a+b", "full", "a")], 2.0 * 1.1, rel_tol=1e-9)
    assert math.isclose(got[("a+c", "full", "a")], 2.0 * 1.5, rel_tol=1e-9)
    assert math.isclose(got[("b+c", "full", "c")], 4.0 * 1.1, rel_tol=1e-9)
    assert all(scale[task] == SINGLES[task] for scale in seen for task in scale)


def test_selection_groups_the_tasks_that_help_each_other() -> None:
    selector = Selector(
        results(single_rows()), LookaheadEstimator(Scaling(strength=0.2)),
        extras={"affinity": affinity_frame(TASKS, MATRIX, "full")},
    )
    chosen = selector.select(2.0)
    # Each task is served by its best chosen network. {a+b, b+c}: a 1.8, b 0.9, c 4.0 = 6.7 beats
    # {a+b, c} = 6.75, {b+c, a} = 6.9, {a+b+c, b+c} = 7.0, {a+c, b} = 8.2 and the rest; a and c,
    # which hurt each other, never share a network.
    assert sorted("+".join(network.tasks) for network in chosen.networks) == ["a+b", "b+c"]
    assert chosen.assignment == {"a": 0, "b": 1, "c": 1}
    assert math.isclose(chosen.predicted_loss, 6.7, rel_tol=1e-12)


def test_a_size_without_its_own_matrix_uses_the_mean_of_the_others() -> None:
    half = [[2 * value for value in row] for row in MATRIX]
    affinity = pd.concat([affinity_frame(TASKS, MATRIX, "full"), affinity_frame(TASKS, half, "other")])
    one = estimates(LookaheadEstimator(Scaling(strength=0.2)), results(single_rows(), "half"), affinity)
    reference = estimates(LookaheadEstimator(Scaling(strength=0.2)), results(single_rows()), affinity_frame(TASKS, MATRIX, "full"))
    # Normalised affinities do not change when a matrix is scaled, so the mean matrix predicts the same.
    for (tasks, _, task), loss in reference.items():
        assert math.isclose(one[(tasks, "half", task)], loss, rel_tol=1e-12)


def test_missing_or_broken_affinity_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="^the lookahead estimator needs an affinity matrix$"):
        get_estimator("lookahead").estimate(Evidence(results(single_rows())))  # how to get one: the CLI's to say
    broken = affinity_frame(TASKS, MATRIX, "full")
    broken.loc[4, "affinity"] = float("nan")
    with pytest.raises(InvalidInputError, match="affinity of b onto b"):
        get_estimator("lookahead").estimate(Evidence(results(single_rows()), {"affinity": broken}))
    with pytest.raises(InvalidInputError, match="lacks column"):
        get_estimator("lookahead").estimate(Evidence(results(single_rows()), {"affinity": broken.drop(columns="target")}))


names = st.lists(st.sampled_from(list("pqrstu")), min_size=2, max_size=4, unique=True)


@settings(max_examples=40, deadline=None)
@given(
    tasks=names,
    data=st.data(),
)
def test_estimates_do_not_depend_on_task_or_row_order(tasks, data) -> None:
    n = len(tasks)
    values = st.floats(-0.05, 0.05, allow_nan=False)
    matrix = [[data.draw(values) for _ in range(n)] for _ in range(n)]
    singles = [data.draw(st.floats(0.1, 10.0)) for _ in range(n)]
    multi = [("+".join(sorted(tasks)), task, data.draw(st.floats(0.1, 10.0))) for task in tasks]
    frame = results([(t, t, loss) for t, loss in zip(tasks, singles)] + multi)
    affinity = affinity_frame(tasks, matrix, "full")
    order = data.draw(st.permutations(range(n)))
    shuffled_tasks = [tasks[i] for i in order]
    shuffled_matrix = [[matrix[i][j] for j in order] for i in order]
    shuffled_affinity = affinity_frame(shuffled_tasks, shuffled_matrix, "full").iloc[::-1]
    row_order = data.draw(st.permutations(range(len(frame))))
    estimator = get_estimator("lookahead")
    left = estimates(estimator, frame, affinity)
    right = estimates(estimator, frame.iloc[list(row_order)].reset_index(drop=True), shuffled_affinity)
    assert left.keys() == right.keys()
    for key, loss in left.items():
        assert math.isclose(loss, right[key], rel_tol=1e-9, abs_tol=1e-12), key
    assert len({k[0] for k in left}) == 2**n - 1
    assert list(affinity.columns) == AFFINITY_COLUMNS


def test_the_contradiction_note_states_the_offset_only_where_there_is_one() -> None:
    assert Scaling(strength=0.5, offset=0.1, fitted_on=3).contradiction() is None
    assert "single-task losses +4.0%: its choices" in Scaling(strength=0.0, offset=0.04, fitted_on=3).contradiction()
    assert "single-task losses: its choices" in Scaling(strength=0.0, offset=-1e-5, fitted_on=3).contradiction()  # not -0.0%
