"""Active finalization on exhaustive tables: the loop, its stopping rules, and an exact oracle."""

from __future__ import annotations

import math
from itertools import combinations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskgroup.affinity import affinity_frame
from taskgroup.errors import InvalidInputError
from taskgroup.estimators import ESTIMATE_COLUMNS, Estimator, Evidence
from taskgroup.estimators.lookahead import LookaheadEstimator, Scaling
from taskgroup.finalization import finalize_actively
from taskgroup.io.standley import read_standley
from taskgroup.selection.select import Selection, Selector


def table(losses: dict[tuple[str, str], float]) -> pd.DataFrame:
    """Exchange rows (full stage, equal val and test) of `{(tasks, task): loss}` networks at size `full`."""
    return pd.DataFrame(
        [
            (tasks, "full", 1.0, "full", split, task, loss)
            for (tasks, task), loss in losses.items()
            for split in ("val", "test")
        ],
        columns=["tasks", "size", "cost", "stage", "split", "task", "loss"],
    )


def replay(truth: pd.DataFrame, log: list, told: list | None = None):
    """A trainer that 'trains' by reading the exhaustive table, logging what it was asked for (and in
    `told`, what each round explored for)."""

    def train(keys, exploration):
        log.append(list(keys))
        if told is not None:
            told.append(exploration)
        wanted = set(keys)
        return truth[[key in wanted for key in zip(truth["tasks"], truth["size"])]]

    return train


TRUTH = {
    ("a", "a"): 2.0, ("b", "b"): 1.0, ("c", "c"): 4.0,
    ("a+b", "a"): 2.2, ("a+b", "b"): 1.1,      # a and b do not actually help each other
    ("a+c", "a"): 1.5, ("a+c", "c"): 3.0,      # a and c do
    ("b+c", "b"): 1.2, ("b+c", "c"): 4.4,
    ("a+b+c", "a"): 2.3, ("a+b+c", "b"): 1.2, ("a+b+c", "c"): 4.5,
}
SINGLES = {key: value for key, value in TRUTH.items() if "+" not in key[0]}
# Misleading affinities: a and b look very helpful to each other; c helps a a little.
# Normalised: r[b->a] = r[a->b] = 1, r[c->a] = 0.2, r[a->c] = -0.2, r[b->c] = -0.5, r[c->b] = -0.05.
MISLEADING = [[0.02, 0.02, -0.002], [0.02, 0.02, -0.005], [0.004, -0.001, 0.01]]
ESTIMATOR = LookaheadEstimator(Scaling(strength=0.5))


def test_wrong_choices_are_corrected_by_training_them() -> None:
    truth, log = table(TRUTH), []
    outcome = finalize_actively(
        table(SINGLES), ESTIMATOR, [2.0], replay(truth, log),
        extras={"affinity": affinity_frame(["a", "b", "c"], MISLEADING, "full")},
    )
    exact = Selector(truth, "exact").select(2.0)
    # Worked by hand from the module docstring's formula (strength 0.5):
    # round 1 picks {a+b, c} (predicted 1 + 0.5 + 4 = 5.5); a+b really scores 2.2 + 1.1 + 4 = 7.3;
    # round 2 picks {a+b+c, c} (predicted 1.4 + 0.7625 + 4); a+b+c really scores 7.5;
    # round 3 picks {a+c, b} (predicted 1.8 + 4.4 + 1 = 7.2); really 1.5 + 3 + 1 = 5.5, the optimum.
    assert log == [[("a+b", "full")], [("a+b+c", "full")], [("a+c", "full")]]
    chosen = outcome.selections[2.0]
    assert sorted(n.name for n in chosen.networks) == sorted(n.name for n in exact.networks) == ["a+c", "b"]
    assert chosen.val_loss == exact.val_loss == 1.5 + 1.0 + 3.0
    assert outcome.stop_reason == "stable"


def test_the_compute_limit_stops_the_loop() -> None:
    truth, log = table(TRUTH), []
    outcome = finalize_actively(
        table(SINGLES), ESTIMATOR, [2.0], replay(truth, log), max_trained=1,
        extras={"affinity": affinity_frame(["a", "b", "c"], MISLEADING, "full")},
    )
    assert outcome.stop_reason == "limit" and outcome.trained == [("a+b", "full")]
    assert sorted(n.name for n in outcome.selections[2.0].networks) == ["a+b+c", "c"]  # chosen, not trained
    assert outcome.selections[2.0].val_loss is None


def test_a_trainer_that_returns_nothing_is_an_error() -> None:
    with pytest.raises(InvalidInputError, match="a\\+b \\(full\\) returned no full-stage"):
        finalize_actively(
            table(SINGLES), "lookahead", [2.0], lambda keys, exploration: table({}),
            extras={"affinity": affinity_frame(["a", "b", "c"], MISLEADING, "full")},
        )


class Optimistic(Estimator):
    """Predicts every network at or below its real loss (by a given slack per row)."""

    name = "optimistic"

    def __init__(self, truth: pd.DataFrame, slack: dict[tuple[str, str], float]) -> None:
        self.truth, self.slack = truth, slack

    def estimate(self, evidence: Evidence) -> pd.DataFrame:
        rows = self.truth[(self.truth["split"] == "val")][ESTIMATE_COLUMNS].copy()
        rows["loss"] = [loss - self.slack[(t, task)] for t, task, loss in zip(rows["tasks"], rows["task"], rows["loss"])]
        return rows


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_with_an_optimistic_estimator_the_stable_choice_is_the_exact_optimum(data) -> None:
    tasks = ["p", "q", "r", "s"]
    groups = ["+".join(g) for k in range(1, 5) for g in combinations(tasks, k)]
    loss = st.floats(0.5, 5.0, allow_nan=False)
    truth_losses = {(g, task): data.draw(loss) for g in groups for task in g.split("+")}
    slack = {key: data.draw(st.floats(0.0, 2.0)) for key in truth_losses}
    truth = table(truth_losses)
    budget = float(data.draw(st.integers(1, 4)))
    outcome = finalize_actively(table({k: v for k, v in truth_losses.items() if "+" not in k[0]}),
                                Optimistic(truth, slack), [budget], replay(truth, []))
    exact = Selector(truth, "exact").select(budget)
    assert outcome.stop_reason == "stable"
    assert math.isclose(outcome.selections[budget].val_loss, exact.val_loss, rel_tol=1e-12)


@pytest.mark.parametrize("estimator", ["esa", "hoa"])
def test_on_the_papers_taskonomy_losses_finalization_never_deploys_worse_than_the_estimate(reference_dir, estimator):
    """Real data where groupings differ: the estimate's own choice is trained in the first round, so
    the stable choice, every network of it trained, can only be as good or better on validation."""
    frame = read_standley(reference_dir / "results.txt", reference_dir / "results_test.txt", list("sdnkt"),
                          early_path=reference_dir / "results_20.txt")
    truth = frame[frame["stage"] == "full"].reset_index(drop=True)
    pairs = [(tasks, size) for tasks, size in zip(truth["tasks"], truth["size"]) if tasks.count("+") <= 1]
    evidence = frame[frame["stage"] == "early"] if estimator == "esa" else replay(truth, [])(pairs, None)
    budgets = [1.0 + 0.5 * k for k in range(9)]
    first = {budget: Selector(evidence, estimator).select(budget) for budget in budgets}
    outcome = finalize_actively(evidence, estimator, budgets, replay(truth, []))
    exact = Selector(truth, "exact")

    assert outcome.stop_reason == "stable"
    improved = 0
    for budget in budgets:
        final = outcome.selections[budget]
        first_real = real_val_total(truth, first[budget])
        assert final.val_loss <= first_real + 1e-12
        assert exact.select(budget).val_loss <= final.val_loss + 1e-12
        improved += final.val_loss < first_real - 1e-12
    assert improved > 0  # the estimates are wrong somewhere, and finalization finds out


def real_val_total(truth: pd.DataFrame, selection: Selection) -> float:
    """The validation total of `selection`'s networks on their real losses, each task served by the
    network with its lowest loss."""
    val = truth[truth["split"] == "val"]
    wanted = {(n.name, n.size) for n in selection.networks}
    chosen = val[[key in wanted for key in zip(val["tasks"], val["size"])]]
    return float(chosen.groupby("task")["loss"].min().sum())
