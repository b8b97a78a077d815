"""Estimators: what each one predicts from a small hand-made results frame."""

from __future__ import annotations

import pandas as pd
import pytest

from taskgroup.errors import UnknownNameError
from taskgroup.estimators import ESTIMATORS, Evidence, get_estimator
from taskgroup.selection import select

COLUMNS = ["tasks", "size", "cost", "stage", "split", "task", "loss"]


def frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def predictions(estimator: str, results: pd.DataFrame) -> dict[tuple[str, str, str], float]:
    table = get_estimator(estimator).estimate(Evidence(results))
    return {(t, s, task): loss for t, s, task, loss in table.itertuples(index=False)}


PAIRS = frame(
    [
        ("a", "full", 1.0, "full", "val", "a", 1.0),
        ("b", "full", 1.0, "full", "val", "b", 2.0),
        ("c", "full", 1.0, "full", "val", "c", 3.0),
        ("a+b", "full", 1.0, "full", "val", "a", 0.5),
        ("a+b", "full", 1.0, "full", "val", "b", 1.5),
        ("a+c", "full", 1.0, "full", "val", "a", 0.9),
        ("a+c", "full", 1.0, "full", "val", "c", 2.0),
        ("b+c", "full", 1.0, "full", "val", "b", 2.5),
        ("b+c", "full", 1.0, "full", "val", "c", 4.0),
        # a trained triple: HOA must ignore its measured losses and predict from the pairs
        ("a+b+c", "full", 1.0, "full", "val", "a", 9.0),
        ("a+b+c", "full", 1.0, "full", "val", "b", 9.0),
        ("a+b+c", "full", 1.0, "full", "val", "c", 9.0),
        # half size: only singles and one pair, so no triple can be predicted there
        ("a", "half", 0.5, "full", "val", "a", 1.2),
        ("a+b", "half", 0.5, "full", "val", "a", 0.7),
        ("a+b", "half", 0.5, "full", "val", "b", 1.9),
    ]
)


def test_hoa_averages_pairwise_losses_for_three_or_more_tasks() -> None:
    predicted = predictions("hoa", PAIRS)
    assert predicted["a+b+c", "full", "a"] == pytest.approx((0.5 + 0.9) / 2)
    assert predicted["a+b+c", "full", "b"] == pytest.approx((1.5 + 2.5) / 2)
    assert predicted["a+b+c", "full", "c"] == pytest.approx((2.0 + 4.0) / 2)


def test_hoa_keeps_singles_and_pairs_as_measured() -> None:
    predicted = predictions("hoa", PAIRS)
    assert predicted["a", "full", "a"] == 1.0
    assert predicted["b+c", "full", "c"] == 4.0
    assert predicted["a+b", "half", "b"] == 1.9
    assert not any(key[0] == "a+b+c" and key[1] == "half" for key in predicted)


def test_hoa_predicts_untrained_networks_priced_by_their_size() -> None:
    untrained = PAIRS[PAIRS["tasks"] != "a+b+c"]
    assert predictions("hoa", untrained)["a+b+c", "full", "b"] == pytest.approx(2.0)
    # Budget 1 at full size: only the predicted triple serves all three tasks; it was never trained.
    chosen = select(untrained[untrained["size"] == "full"], 1.0, estimator="hoa")
    assert [n.name for n in chosen.networks] == ["a+b+c"]
    assert chosen.cost == 1.0
    assert chosen.predicted_loss == pytest.approx(0.7 + 2.0 + 3.0)
    assert chosen.val_loss is None and chosen.test_loss is None


def test_hoa_without_pairs_estimates_nothing() -> None:
    """Singles and the all-task network (a lookahead study): no pair, so nothing HOA could add."""
    no_pairs = PAIRS[PAIRS["tasks"].str.count(r"\+") != 1]
    assert set(no_pairs["tasks"]) == {"a", "b", "c", "a+b+c"} and predictions("hoa", no_pairs) == {}


def test_exact_and_esa_read_their_own_stage() -> None:
    results = frame(
        [
            ("a", "full", 1.0, "full", "val", "a", 0.3),
            ("a", "full", 1.0, "full", "test", "a", 0.4),
            ("a", "full", 1.0, "early", "val", "a", 0.9),
        ]
    )
    assert predictions("exact", results) == {("a", "full", "a"): 0.3}
    assert predictions("esa", results) == {("a", "full", "a"): 0.9}


def test_esa_chooses_on_early_losses_and_is_scored_on_full_ones() -> None:
    results = frame(
        [
            ("a", "full", 1.0, "full", "val", "a", 0.2),
            ("a", "full", 1.0, "early", "val", "a", 0.8),
            ("a", "half", 0.5, "full", "val", "a", 0.5),
            ("a", "half", 0.5, "early", "val", "a", 0.6),
        ]
    )
    # Early losses favour the half network (0.6 < 0.8); fully trained, the full one is better.
    assert [n.size for n in select(results, 1.0, estimator="esa").networks] == ["half"]
    esa = select(results, 1.0, estimator="esa")
    assert esa.predicted_loss == pytest.approx(0.6) and esa.val_loss == pytest.approx(0.5)
    assert [n.size for n in select(results, 1.0, estimator="exact").networks] == ["full"]


def test_unknown_estimator_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown estimator 'oracle' \(known: esa, exact, hoa"):
        select(PAIRS, 1.0, estimator="oracle")
    assert {"exact", "esa", "hoa"} <= set(ESTIMATORS.names())


@pytest.mark.parametrize("name", ESTIMATORS.names())
def test_every_estimator_says_what_it_estimates_from(name: str) -> None:
    """`select` quotes it when a study has none of it; an estimator registered without it would fail there."""
    needs = getattr(ESTIMATORS.get(name), "needs", "")
    assert isinstance(needs, str) and "loss" in needs
