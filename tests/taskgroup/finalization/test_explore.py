"""Exploration after a stable choice: pessimistic predictions get trained when a limit leaves room."""

from __future__ import annotations

import math
import random
from itertools import combinations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskgroup.errors import InfeasibleError, InvalidInputError
from taskgroup.estimators import ESTIMATE_COLUMNS, Estimator, Evidence
from taskgroup.finalization import active, finalize_actively, next_to_explore
from taskgroup.finalization.active import MeasuredFirst
from taskgroup.selection.select import Selector
from tests.taskgroup.finalization.test_active import TRUTH, replay, table


class Shifted(Estimator):
    """Predicts each network's real validation losses plus a shift per (tasks, task) row."""

    name = "shifted"

    def __init__(self, truth: pd.DataFrame, shift: dict[tuple[str, str], float]) -> None:
        self.truth, self.shift = truth, shift

    def estimate(self, evidence: Evidence) -> pd.DataFrame:
        rows = self.truth[self.truth["split"] == "val"][ESTIMATE_COLUMNS].copy()
        rows["loss"] = [loss + self.shift.get((t, task), 0.0) for t, task, loss in zip(rows["tasks"], rows["task"], rows["loss"])]
        return rows


SINGLES = {key: value for key, value in TRUTH.items() if "+" not in key[0]}
# a+c (the optimum with b at budget 2: 1.5 + 3.0 + 1.0 = 5.5) is predicted with c at 4.9 instead of
# 3.0, so {a+c, b} looks like 7.4 and {a+b, c} (really 7.3) is chosen, trained, and stable; b is
# predicted 0.5 worse in b+c and a+b+c, so that no pair of networks with a+c looks better than 7.3.
PESSIMISTIC = Shifted(table(TRUTH), {("a+c", "c"): 1.9, ("b+c", "b"): 0.5, ("a+b+c", "b"): 0.5})


def chosen(outcome, budget: float) -> list[str]:
    return sorted(n.name for n in outcome.selections[budget].networks)


def test_without_exploration_a_pessimistic_prediction_is_never_trained() -> None:
    outcome = finalize_actively(table(SINGLES), PESSIMISTIC, [2.0], replay(table(TRUTH), log := []), max_trained=5)
    assert log == [[("a+b", "full")]] and outcome.stop_reason == "stable"
    assert chosen(outcome, 2.0) == ["a+b", "c"]


def test_exploration_trains_the_network_closest_to_being_chosen_and_finds_the_optimum() -> None:
    outcome = finalize_actively(table(SINGLES), PESSIMISTIC, [2.0], replay(table(TRUTH), log := []), max_trained=2,
                                explore=True)
    # Shrinking the untrained networks' predicted losses by k, {a+c, b} beats 7.3 from k = 1.6%
    # (6.4 * (1 - k) + 1 < 7.3), {a+b, a+c} from 3.1%, {a+c, b+c} from 4.0%, {a+c, a+b+c} from 5.2%:
    # a+c is explored first, and with its real losses {a+c, b} is the optimum.
    assert log == [[("a+b", "full")], [("a+c", "full")]]
    assert outcome.explorations[0] is None  # a+b was chosen; a+c was explored, at the optimism below
    assert outcome.explorations[1] == next_to_explore(
        Selector(table(SINGLES | {k: v for k, v in TRUTH.items() if k[0] == "a+b"}), MeasuredFirst(PESSIMISTIC)),
        {("a", "full"), ("b", "full"), ("c", "full"), ("a+b", "full")}, [2.0])
    assert outcome.stop_reason == "limit"
    assert chosen(outcome, 2.0) == ["a+c", "b"]
    assert outcome.selections[2.0].val_loss == Selector(table(TRUTH), "exact").select(2.0).val_loss == 5.5
    deployable = outcome.deployable[2.0]
    assert deployable is not None and deployable.networks == outcome.selections[2.0].networks


def test_the_optimism_found_is_the_least_that_changes_the_choice() -> None:
    known = table(SINGLES | {key: value for key, value in TRUTH.items() if key[0] == "a+b"})
    selector = Selector(known, MeasuredFirst(PESSIMISTIC))
    found = next_to_explore(selector, {("a", "full"), ("b", "full"), ("c", "full"), ("a+b", "full")}, [2.0])
    assert found is not None and found.networks == (("a+c", "full"),) and found.budget == 2.0
    assert found.optimism == pytest.approx(1 - 6.3 / 6.4, abs=1e-4)


def test_a_forbidden_network_is_never_explored() -> None:
    """`finalize --forbid a+c`: the network closest to being chosen is the next one, not a+c."""
    outcome = finalize_actively(table(SINGLES), PESSIMISTIC, [2.0], replay(table(TRUTH), log := []), max_trained=2,
                                explore=True, forbid=["a+c"])
    assert log[0] == [("a+b", "full")] and ("a+c", "full") not in log[1]
    assert "a+c" not in chosen(outcome, 2.0) and "a+c" not in [n.name for n in outcome.deployable[2.0].networks]


def test_budgets_take_turns_whatever_their_optimism() -> None:
    # Known: the singles and a+b. At budget 1 the untrained a+b+c is the only choice and at budget 3
    # {a+c, b, c} already looks better than every trained choice (6.5 against 7.0): optimism 0 at
    # both; at budget 2, {a+c, b} needs 1.6%. Exploring only the closest call would never reach 2.
    known = table(SINGLES | {key: value for key, value in TRUTH.items() if key[0] == "a+b"})
    selector = Selector(known, MeasuredFirst(PESSIMISTIC))
    trained = {("a", "full"), ("b", "full"), ("c", "full"), ("a+b", "full")}
    budgets = [1.0, 2.0, 3.0]

    def turn(after: float | None) -> tuple[float, tuple, float]:
        found = next_to_explore(selector, trained, budgets, after=after)
        assert found is not None
        return found.budget, found.networks, found.optimism

    assert turn(None) == (1.0, (("a+b+c", "full"),), 0.0)
    assert turn(1.0) == (2.0, (("a+c", "full"),), pytest.approx(1 - 6.3 / 6.4, abs=1e-4))
    assert turn(2.0) == (3.0, (("a+c", "full"),), 0.0)
    assert turn(3.0)[0] == 1.0  # wraps around
    assert turn(2.5)[0] == 1.0  # explored last at a budget not asked about now (an earlier run's): from the first
    # Once a+b+c is trained, budget 1 has nothing left to explore and its turn passes to budget 2.
    known = table(SINGLES | {key: value for key, value in TRUTH.items() if key[0] in {"a+b", "a+b+c"}})
    later = Selector(known, MeasuredFirst(PESSIMISTIC))
    found = next_to_explore(later, trained | {("a+b+c", "full")}, budgets, after=3.0)
    assert found is not None and found.budget == 2.0


def pessimistic_draw() -> tuple[pd.DataFrame, Shifted, pd.DataFrame]:
    """Random losses of every network of four tasks, every multi-task network predicted too
    pessimistic: the real table, the estimator, and the singles (what finalization starts from)."""
    rng = random.Random(1)
    groups = ["+".join(g) for k in range(1, 5) for g in combinations(["p", "q", "r", "s"], k)]
    truth_losses = {(g, task): round(rng.uniform(1, 3), 1) for g in groups for task in g.split("+")}
    shift = {key: round(rng.uniform(0, 1), 1) for key in truth_losses if "+" in key[0]}
    truth = table(truth_losses)
    return truth, Shifted(truth, shift), table({k: v for k, v in truth_losses.items() if "+" not in k[0]})


def test_finalization_explores_the_budgets_in_turn(monkeypatch) -> None:
    calls: list[tuple[float | None, float | None]] = []

    def recording(selector, trained, budgets, after=None, forbid=()):
        found = next_to_explore(selector, trained, budgets, after=after, forbid=forbid)
        calls.append((after, None if found is None else found.budget))
        return found

    monkeypatch.setattr(active, "next_to_explore", recording)
    # On this draw, exploring the budget with the least optimism each time (the rule before budgets
    # took turns) explores budget 3 three times out of four and never budget 4.
    truth, estimator, singles = pessimistic_draw()
    outcome = finalize_actively(singles, estimator, [2.0, 3.0, 4.0], replay(truth, []), max_trained=6, explore=True)

    assert [budget for _, budget in calls] == [2.0, 3.0, 4.0, 2.0]  # every budget in turn
    assert [after for after, _ in calls] == [None, 2.0, 3.0, 4.0]
    assert [e.budget for e in outcome.explorations if e is not None] == [2.0, 3.0, 4.0, 2.0]


def test_a_later_run_continues_the_turns_where_the_last_one_stopped() -> None:
    # The table of the test above, its limit of 6 networks spent in two runs instead of one: the second
    # run, told the budget explored last (as the CLI reads it from the job queue), trains exactly what
    # the rest of the single run trained. The trainer is told what each round explored for.
    truth, estimator, singles = pessimistic_draw()
    budgets = [2.0, 3.0, 4.0]
    one = finalize_actively(singles, estimator, budgets, replay(truth, [], told := []), max_trained=6, explore=True)
    assert told == list(one.explorations)
    assert [e.budget for e in one.explorations if e is not None] == [2.0, 3.0, 4.0, 2.0]

    for split in range(1, len(one.rounds)):
        first_limit = sum(len(round_) for round_ in one.rounds[:split])
        first = finalize_actively(singles, estimator, budgets, replay(truth, []), max_trained=first_limit, explore=True)
        last = next((e.budget for e in reversed(first.explorations) if e is not None), None)
        second = finalize_actively(first.results, estimator, budgets, replay(truth, []), max_trained=6 - first_limit,
                                   explore=True, explored_last=last)
        assert first.rounds + second.rounds == one.rounds
        assert first.explorations + second.explorations == one.explorations
        assert second.selections == one.selections


def test_exploring_needs_a_limit() -> None:
    with pytest.raises(InvalidInputError, match="compute limit"):
        finalize_actively(table(SINGLES), PESSIMISTIC, [2.0], replay(table(TRUTH), []), explore=True)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_exploration_within_a_limit_deploys_the_best_trained_choice_and_with_room_for_all_the_optimum(data) -> None:
    tasks = ["p", "q", "r", "s"]
    groups = ["+".join(g) for k in range(1, 5) for g in combinations(tasks, k)]
    truth_losses = {(g, task): data.draw(st.floats(0.5, 5.0)) for g in groups for task in g.split("+")}
    shift = {key: data.draw(st.floats(-2.0, 2.0)) for key in truth_losses}  # optimistic and pessimistic
    truth = table(truth_losses)
    budgets = [1.0, 2.0, 3.0]
    singles = table({k: v for k, v in truth_losses.items() if "+" not in k[0]})
    limit = data.draw(st.integers(0, len(groups)))
    outcome = finalize_actively(singles, Shifted(truth, shift), budgets, replay(truth, []), max_trained=limit, explore=True)

    assert len(outcome.trained) == len(set(outcome.trained)) <= limit
    assert len(outcome.explorations) == len(outcome.rounds)
    for exploration, round_ in zip(outcome.explorations, outcome.rounds):
        assert exploration is None or (set(round_) <= set(exploration.networks) and exploration.budget in budgets)
    names = {g for g, _ in outcome.trained}
    trained = table({k: v for k, v in truth_losses.items() if k[0] in names or "+" not in k[0]})
    for budget in budgets:
        try:
            best_trained = Selector(trained, "exact").select(budget).val_loss
        except InfeasibleError:  # budget 1 needs the all-task network, which may not be trained
            best_trained = None
        deployable = outcome.deployable[budget]
        if best_trained is None:
            assert deployable is None
        else:
            assert deployable is not None and math.isclose(deployable.val_loss, best_trained, rel_tol=1e-12)
    if limit >= len(groups) - len(tasks):  # room to explore everything that could be chosen
        assert outcome.stop_reason in {"exhausted", "limit"}
        for budget in budgets:
            exact = Selector(truth, "exact").select(budget)
            assert math.isclose(outcome.selections[budget].val_loss, exact.val_loss, rel_tol=1e-12)
