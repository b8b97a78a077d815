"""Options, parsers, error messages and sweeps of selection, on small hand-made results."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from taskgroup.errors import InfeasibleError, InvalidInputError, UnknownNameError
from taskgroup.io.standley import read_standley
from taskgroup.selection import (
    BudgetTooSmallError, Selector, TooFarApartError, parse_budgets, parse_task_values, select, sweep,
)

COLUMNS = ["tasks", "size", "cost", "stage", "split", "task", "loss"]


def results() -> pd.DataFrame:
    """Three tasks; the pair a+b is good for a, the triple is cheap per task but worse."""
    losses = {
        ("a", "full"): {"a": 1.0},
        ("b", "full"): {"b": 1.0},
        ("c", "full"): {"c": 1.0},
        ("a", "half"): {"a": 1.2},
        ("a+b", "full"): {"a": 0.6, "b": 1.1},
        ("a+b+c", "full"): {"a": 1.3, "b": 1.3, "c": 1.3},
    }
    cost = {"full": 1.0, "half": 0.5}
    rows = [
        (tasks, size, cost[size], "full", split, task, loss + (0.01 if split == "test" else 0.0))
        for (tasks, size), served in losses.items()
        for task, loss in served.items()
        for split in ("val", "test")
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def chosen(selection) -> list[str]:
    return [n.label for n in selection.networks]


def test_budget_range_is_inclusive_and_float_safe() -> None:
    assert parse_budgets("1:5:0.5") == [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]
    assert parse_budgets("0.1:0.3:0.1") == [0.1, 0.2, 0.3]
    assert parse_budgets("1,2.5") == [1.0, 2.5] and parse_budgets("3") == [3.0]
    assert parse_budgets("2,1,2.0") == [1.0, 2.0]  # ascending, each once


@pytest.mark.parametrize("text", ["1:5", "1:5:0", "5:1:1", "a:2:1", "0:1:1", "1,x", "-1", "1:inf:1"])
def test_bad_budgets_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid budgets"):
        parse_budgets(text)


def test_task_values_parse_and_refuse_bad_input() -> None:
    assert parse_task_values(["depth=2", "normal=0.5,edge=1"], "--weight") == {"depth": 2.0, "normal": 0.5, "edge": 1.0}
    for bad, message in [("depth", "expected TASK=VALUE"), ("depth=x", "not a number"), ("=2", "expected TASK=VALUE"),
                         ("depth=nan", "finite"), ("d=1,d=2", "given twice")]:
        with pytest.raises(InvalidInputError, match=message):
            parse_task_values(bad, "--weight")


def test_plain_selection_and_budget_trade_off() -> None:
    assert chosen(select(results(), 1.0)) == ["a+b+c@full"]
    assert chosen(select(results(), 2.0)) == ["a+b@full", "c@full"]
    assert select(results(), 2.0).val_loss == pytest.approx(0.6 + 1.1 + 1.0)
    assert select(results(), 2.0).test_loss == pytest.approx(0.61 + 1.11 + 1.01)


def test_weights_change_the_choice() -> None:
    # b is served better alone (1.0) than in a+b (1.1): with b weighted heavily that is worth a network
    heavy_b = select(results(), 3.0, weights={"b": 10})
    assert chosen(heavy_b) == ["a+b@full", "b@full", "c@full"]
    assert heavy_b.objective == pytest.approx(0.6 + 10 * 1.0 + 1.0)
    assert heavy_b.predicted_loss == pytest.approx(0.6 + 1.0 + 1.0)


def test_caps_require_forbid_and_max_networks() -> None:
    # Without a+b, three choices tie at loss 3.6 and cost 2: name order picks a + a+b+c.
    assert chosen(select(results(), 2.0, forbid=["a+b"])) == ["a@full", "a+b+c@full"]
    forbid_pair = select(results(), 2.0, forbid=["b+a"])
    assert "a+b@full" not in chosen(forbid_pair)
    required = select(results(), 2.0, require=["a@half"])
    assert "a@half" in chosen(required) and required.cost <= 2.0
    one = select(results(), 3.0, max_networks=1)
    assert chosen(one) == ["a+b+c@full"]
    capped = select(results(), 3.0, max_loss={"c": 1.0})
    assert capped.assignment["c"] == [n.label for n in capped.networks].index("c@full")


def test_tie_break_prefers_lower_cost() -> None:
    frame = results()
    frame.loc[(frame["tasks"] == "a") & (frame["size"] == "half"), "loss"] = 1.0  # as good as the full a
    picked = select(frame[frame["tasks"] == "a"], 5.0)
    assert chosen(picked) == ["a@half"] and picked.cost == 0.5


def test_infeasible_budget_states_the_cheapest_one() -> None:
    with pytest.raises(BudgetTooSmallError, match="budget 0.5 is infeasible: the cheapest feasible budget is 1$") as raised:
        select(results(), 0.5)
    assert raised.value.cheapest_budget == 1.0
    with pytest.raises(BudgetTooSmallError, match="cheapest feasible budget is 1.5"):
        select(results(), 1.0, require=["a@half"])
    with pytest.raises(BudgetTooSmallError, match="^budget 1e-12 is infeasible"):  # as given, not rounded to 0
        select(results(), 1e-12)


def test_other_infeasible_constraints_are_named() -> None:
    with pytest.raises(InfeasibleError, match="task c cannot be served: its max loss excludes") as capped:
        select(results(), 5.0, max_loss={"c": 0.5}, weights={"c": 4.0})
    # the lowest is c's own network's 1.0, unweighted: what a cap is compared with
    assert str(capped.value).endswith("(the cap applies to the estimator's predicted losses, in its own scale; the "
                                      "lowest predicted for it is 1)")
    with pytest.raises(InfeasibleError, match="task c cannot be served: every candidate that could serve it is forbidden"):
        select(results(), 5.0, forbid=["c", "a+b+c"])
    with pytest.raises(InfeasibleError, match=r"at most 1 network serves every task \(at least 2 are needed"):
        select(results(), 5.0, max_networks=1, forbid=["a+b+c"])
    with pytest.raises(InfeasibleError, match="2 candidates are required but at most 1 network is allowed"):
        select(results(), 5.0, max_networks=1, require=["a@half", "c"])


def test_bad_options_are_refused() -> None:
    with pytest.raises(UnknownNameError, match="weight given for unknown task 'z'"):
        select(results(), 1.0, weights={"z": 1})
    with pytest.raises(InvalidInputError, match="must not be negative"):
        select(results(), 1.0, weights={"a": -1})
    with pytest.raises(InvalidInputError, match="exists at several sizes"):
        select(results(), 1.0, require=["a"])
    with pytest.raises(UnknownNameError, match="no candidate b@half"):
        select(results(), 1.0, require=["b@half"])
    with pytest.raises(UnknownNameError, match=r"forbid: a\+z has unknown task 'z' \(tasks: a, b, c\)"):
        select(results(), 1.0, forbid=["a+z"])
    with pytest.raises(InvalidInputError, match="both required and forbidden"):
        select(results(), 3.0, require=["c"], forbid=["c@full"])
    for budget in (0, math.inf, math.nan):
        with pytest.raises(InvalidInputError, match="budget must be a finite positive number"):
            select(results(), budget)
    with pytest.raises(UnknownNameError, match=r"unknown solver 'simplex' \(known: auto, bip, bnb\)"):
        select(results(), 1.0, solver="simplex")
    with pytest.raises(InvalidInputError, match="lack the column"):
        select(results().drop(columns="stage"), 1.0)
    with pytest.raises(InvalidInputError, match="no results"):
        select(results().iloc[0:0], 1.0)


def test_a_huge_budget_keeps_costs_exact() -> None:
    """Any budget above the total cost affords the same choices; it must not round the costs to 0."""
    everything = select(results(), 100.0)
    huge = select(results(), 1e20)
    assert chosen(huge) == chosen(everything) and huge.cost == everything.cost == 3.0


def test_numbers_too_far_apart_to_compare_exactly_are_refused() -> None:
    """One mistyped cost or diverged loss would otherwise round every other value to 0 and break the budget."""
    latency = {("a", "full"): 1.0, ("b", "full"): 1.0, ("c", "full"): 1.0, ("a", "half"): 0.5, ("a+b", "full"): 1.0,
               ("a+b+c", "full"): 1e16}
    with pytest.raises(InvalidInputError, match=r"costs are too far apart .*a\+b\+c@full has cost 1e\+16 and a@half") as refused:
        select(results(), 1.0, costs=latency)
    assert "mistyped cost" in str(refused.value) and "--max-loss" not in str(refused.value)  # a loss cap cannot help
    assert chosen(select(results(), 2.0, costs=latency, forbid=["a+b+c"])) == ["a+b@full", "c@full"]
    swept = sweep(results(), [2.0, 3.0], costs=latency, forbid=["a+b+c"], random_samples=50)  # baselines too
    used = {network.label for row in swept.baselines for network in row.networks or ()}
    assert "a+b+c@full" not in used and {"a+b@full", "c@full"} <= used
    assert next(row for row in swept.baselines if row.baseline == "all-in-one").networks is None  # it was forbidden

    diverged = results()
    diverged.loc[(diverged["tasks"] == "a+b") & (diverged["task"] == "b"), "loss"] = 1e14
    with pytest.raises(InvalidInputError, match=r"losses are too far apart .*a\+b@full has loss on b 1e\+14") as refused:
        select(diverged, 2.0)
    assert "`taskgroup import --replace` overwrites" in str(refused.value)  # what works for sweep and report too
    # the culprit, for each command to name its own options that leave it out (finalize has none)
    assert isinstance(refused.value, TooFarApartError) and (refused.value.candidate, refused.value.task) == ("a+b@full", "b")
    assert "--forbid" not in str(refused.value) and "--max-loss" not in str(refused.value)
    capped = select(diverged, 2.0, max_loss={"b": 10.0})  # a+b still serves a, whose loss is fine
    assert chosen(capped) == ["a+b@full", "a+b+c@full"] and capped.predicted_loss == pytest.approx(0.6 + 1.3 + 1.3)
    with pytest.raises(InvalidInputError, match="weighted losses are too far apart"):
        select(results(), 2.0, weights={"b": 1e14})


def test_cost_override_changes_the_unit() -> None:
    latency = {("a", "full"): 5.0, ("b", "full"): 5.0, ("c", "full"): 5.0, ("a", "half"): 2.0, ("a+b", "full"): 6.0, ("a+b+c", "full"): 20.0}
    picked = select(results(), 16.0, costs=latency)
    assert chosen(picked) == ["a+b@full", "b@full", "c@full"] and picked.cost == 16.0
    with pytest.raises(BudgetTooSmallError, match="cheapest feasible budget is 11"):
        select(results(), 10.0, costs=latency)
    with pytest.raises(InvalidInputError, match="no cost given for candidate a\\+b\\+c@full"):
        select(results(), 10.0, costs={k: v for k, v in latency.items() if k[0] != "a+b+c"})


def test_sweep_rows_and_baselines_on_the_reference(reference_dir: Path) -> None:
    frame = read_standley(reference_dir / "results.txt", reference_dir / "results_test.txt", list("sdnkt"), reference_dir / "results_20.txt")
    steps = []
    outcome = sweep(frame, parse_budgets("0.5:2:0.5"), ["exact", "hoa"], random_samples=200, progress=lambda d, t: steps.append((d, t)))
    rows = json.loads(json.dumps(outcome.to_json()))
    assert steps[-1] == (12, 12)
    assert {r["estimator"] for r in rows if r.get("budget") == 0.5 and "error" in r} == {"exact", "hoa"}
    exact = {r["budget"]: r for r in rows if r.get("estimator") == "exact" and "error" not in r}
    base = {(r["budget"], r["baseline"]): r for r in rows if "baseline" in r}
    assert round(exact[2.0]["test_loss"], 5) == 0.45224
    # all-in-one at budget 1 is the only feasible choice, so every baseline equals it there
    assert base[1.0, "all-in-one"]["test_loss"] == pytest.approx(exact[1.0]["test_loss"])
    assert base[1.0, "random"]["val_loss_std"] == 0.0
    assert base[1.0, "one-per-task"]["networks"] is None  # five singles need 2.5
    # the optimum on validation is never worse than random or worst groupings
    assert exact[2.0]["val_loss"] <= base[2.0, "random"]["val_loss"] <= base[2.0, "worst"]["val_loss"]
    assert base[2.0, "random"]["cost"] <= 2.0


def test_random_baseline_is_over_every_feasible_grouping_or_distinct_samples(reference_dir: Path) -> None:
    """It said 200 samples where budget 1 affords one grouping and budget 2 affords 31: draws of the
    same few groupings again and again."""
    frame = read_standley(reference_dir / "results.txt", reference_dir / "results_test.txt", list("sdnkt"), reference_dir / "results_20.txt")
    outcome = sweep(frame, [1.0, 2.0, 3.0], ["exact"], random_samples=50)
    rows = {(row.budget, row.baseline): row for row in outcome.baselines}
    assert (rows[1.0, "random"].samples, rows[1.0, "random"].exact) == (1, True)
    assert (rows[2.0, "random"].samples, rows[2.0, "random"].exact) == (31, True)
    assert rows[2.0, "random"].samples == rows[2.0, "worst"].samples  # the same 31 groupings
    assert (rows[3.0, "random"].samples, rows[3.0, "random"].exact) == (50, False)  # 137 feasible: 50 distinct drawn


def test_all_in_one_is_one_network_even_where_two_sizes_would_score_better() -> None:
    rows = []
    for tasks, size, cost, losses in [
        ("a", "full", 1.0, {"a": 0.5}), ("b", "full", 1.0, {"b": 0.5}),
        ("a+b", "full", 1.0, {"a": 0.2, "b": 0.9}), ("a+b", "half", 0.5, {"a": 0.9, "b": 0.2}),
    ]:
        rows += [(tasks, size, cost, "full", split, task, loss) for task, loss in losses.items() for split in ("val", "test")]
    frame = pd.DataFrame(rows, columns=["tasks", "size", "cost", "stage", "split", "task", "loss"])
    outcome = sweep(frame, [1.5], ["exact"], random_samples=20)
    assert [len(row.networks) for row in outcome.selections] == [2]  # the optimum does use both sizes
    all_in_one = next(row for row in outcome.baselines if row.baseline == "all-in-one")
    assert len(all_in_one.networks) == 1 and all_in_one.val_loss == pytest.approx(1.1)


def test_sweep_takes_prepared_selectors_as_they_are(reference_dir: Path) -> None:
    frame = read_standley(reference_dir / "results.txt", reference_dir / "results_test.txt", list("sdnkt"), reference_dir / "results_20.txt")
    budgets = [1.0, 1.5, 2.0]
    by_name = sweep(frame, budgets, ["hoa"], with_baselines=False).to_json()
    assert sweep(frame, budgets, [Selector(frame, "hoa")], with_baselines=False).to_json() == by_name
    # a selector prepared with other costs keeps them: at twice the cost nothing fits budget 1
    doubled = {(tasks, size): 2 * cost for tasks, size, cost in frame[["tasks", "size", "cost"]].drop_duplicates().itertuples(index=False)}
    rows = sweep(frame, budgets, [Selector(frame, "hoa", costs=doubled)], with_baselines=False).to_json()
    assert "error" not in by_name[0] and "error" in rows[0]
    assert all(row["cost"] <= row["budget"] for row in rows if "error" not in row)
