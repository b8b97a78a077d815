"""The paper's Table 4 (Taskonomy, full data): our selection on the published losses must reproduce it.

The expected numbers and sets are copied from shared/reference/standley2020/README.md (the
published oracle), not from this code's output.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from taskgroup.io.standley import read_standley
from taskgroup.selection import Selector

LETTERS = {"s": "segment", "d": "depth", "n": "normal", "k": "keypoint", "t": "edge"}
COLUMNS = list(LETTERS.values())  # file column order s, d, n, k, t; not sorted on purpose
BUDGETS = [1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5]
TABLE = {
    "exact": [0.50278, 0.46132, 0.45224, 0.44612, 0.44235, 0.43932, 0.43555, 0.43555, 0.43481],
    "esa": [0.50278, 0.48732, 0.46727, 0.46063, 0.45722, 0.45058, 0.45058, 0.44742, 0.44742],
    "hoa": [0.50278, 0.46132, 0.45474, 0.45050, 0.44875, 0.44489, 0.44112, 0.44552, 0.44196],
}
EXACT_SETS = {
    1: "sdnkt",
    1.5: "s/2 dnkt",
    2: "sdn nkt",
    2.5: "n/2 sdn nkt",
    3: "n sdn nkt",
    3.5: "n/2 snk dnk nkt",
    4: "n snk dnk nkt",
    4.5: "n snk dnk nkt",
    5: "n k snk dnk nkt",
}


def paper_set(text: str) -> set[tuple[str, str]]:
    """'n/2 sdn' -> {("normal", "half"), ("depth+normal+segment", "full")}."""
    networks = set()
    for word in text.split():
        letters, half = word.removesuffix("/2"), word.endswith("/2")
        networks.add(("+".join(sorted(LETTERS[c] for c in letters)), "half" if half else "full"))
    return networks


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    reference = Path(__file__).resolve().parents[4] / "shared" / "reference" / "standley2020"
    return read_standley(
        reference / "results.txt", reference / "results_test.txt", COLUMNS, early_path=reference / "results_20.txt"
    )


@pytest.mark.parametrize("solver", ["bnb", "bip"])
@pytest.mark.parametrize("estimator", ["exact", "esa", "hoa"])
def test_reproduces_the_papers_test_loss_totals(results: pd.DataFrame, estimator: str, solver: str) -> None:
    selector = Selector(results, estimator)
    totals = [round(selector.select(budget, solver=solver).test_loss, 5) for budget in BUDGETS]
    assert totals == pytest.approx(TABLE[estimator], abs=1e-9)


@pytest.mark.parametrize("solver", ["bnb", "bip"])
def test_exact_row_chooses_the_papers_sets(results: pd.DataFrame, solver: str) -> None:
    selector = Selector(results, "exact")
    for budget, expected in EXACT_SETS.items():
        chosen = selector.select(budget, solver=solver)
        assert {(n.name, n.size) for n in chosen.networks} == paper_set(expected), budget
        assert chosen.cost <= budget


def test_json_object_has_the_design_fields(results: pd.DataFrame) -> None:
    chosen = Selector(results, "exact").select(2.5).to_json()
    assert list(chosen) == ["budget", "estimator", "networks", "assignment", "cost", "predicted_loss", "val_loss", "test_loss"]
    assert chosen["budget"] == 2.5 and chosen["estimator"] == "exact" and chosen["cost"] == 2.5
    networks = {(tuple(n["tasks"]), n["size"], n["cost"]) for n in chosen["networks"]}
    assert networks == {(("normal",), "half", 0.5), (("depth", "normal", "segment"), "full", 1.0), (("edge", "keypoint", "normal"), "full", 1.0)}
    served_by = {task: chosen["networks"][i] for task, i in chosen["assignment"].items()}
    assert set(served_by) == set(COLUMNS)
    assert all(task in served_by[task]["tasks"] for task in COLUMNS)
    # Choosing on exact losses: the prediction is the validation total.
    assert chosen["predicted_loss"] == pytest.approx(chosen["val_loss"])
    assert round(chosen["test_loss"], 5) == TABLE["exact"][3]


def test_esa_predicts_early_losses_but_scores_real_ones(results: pd.DataFrame) -> None:
    chosen = Selector(results, "esa").select(1.0)
    # At budget 1 the only feasible choices are the all-task network or two half-size singles.
    assert [(n.name, n.size) for n in chosen.networks] == [("depth+edge+keypoint+normal+segment", "full")]
    assert chosen.predicted_loss == pytest.approx(0.2319 + 0.3658 + 0.1727 + 0.2396 + 0.3485)
    assert chosen.val_loss == pytest.approx(0.07854 + 0.1864 + 0.1 + 0.09814 + 0.04453)
