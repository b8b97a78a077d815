"""Property tests: branch-and-bound, the CP-SAT program and a brute-force oracle agree on random instances.

The oracle enumerates every subset of candidates with exact fractions, so it also checks the
tie-break rule (loss, then cost, then fewer networks, then name order) and the cheapest budget
stated by infeasibility errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskgroup.errors import InfeasibleError
from taskgroup.selection import BudgetTooSmallError, Selection, Selector

SOLVERS = ("bnb", "bip")


@dataclass
class Instance:
    tasks: list[str]
    candidates: list[tuple[str, str]]  # (tasks, size), sorted = name order
    cost: dict[tuple[str, str], Fraction]
    loss: dict[tuple[str, str], dict[str, Fraction]]
    budget: Fraction
    weights: dict[str, Fraction] = field(default_factory=dict)
    max_loss: dict[str, Fraction] = field(default_factory=dict)
    require: list[tuple[str, str]] = field(default_factory=list)
    forbid: list[tuple[str, str]] = field(default_factory=list)
    max_networks: int | None = None

    def frame(self) -> pd.DataFrame:
        rows = []
        for key in self.candidates:
            for task, loss in self.loss[key].items():
                rows.append((key[0], key[1], float(self.cost[key]), "full", "val", task, float(loss)))
                rows.append((key[0], key[1], float(self.cost[key]), "full", "test", task, float(loss) + 1))
        return pd.DataFrame(rows, columns=["tasks", "size", "cost", "stage", "split", "task", "loss"])

    def options(self) -> dict:
        return dict(
            weights={t: float(w) for t, w in self.weights.items()},
            max_loss={t: float(v) for t, v in self.max_loss.items()},
            require=[f"{t}@{s}" for t, s in self.require],
            forbid=[f"{t}@{s}" for t, s in self.forbid],
            max_networks=self.max_networks,
        )

    def serves(self, key: tuple[str, str], task: str) -> bool:
        loss = self.loss[key].get(task)
        return loss is not None and loss <= self.max_loss.get(task, loss)

    def objective(self, chosen: tuple[tuple[str, str], ...]) -> Fraction | None:
        """Weighted loss of choosing exactly `chosen` under every constraint but the budget; None if infeasible."""
        if not set(self.require) <= set(chosen) or set(self.forbid) & set(chosen):
            return None
        if self.max_networks is not None and len(chosen) > self.max_networks:
            return None
        total = Fraction(0)
        for task in self.tasks:
            options = [self.loss[key][task] for key in chosen if self.serves(key, task)]
            if not options:
                return None
            total += self.weights.get(task, Fraction(1)) * min(options)
        return total

    def oracle(self, budget: Fraction | None = None) -> tuple | None:
        """Brute force: the best (loss, cost, count, names) over every subset of candidates."""
        budget = self.budget if budget is None else budget
        best = None
        for k in range(1, len(self.candidates) + 1):
            for chosen in combinations(self.candidates, k):
                cost = sum(self.cost[key] for key in chosen)
                if cost > budget:
                    continue
                objective = self.objective(chosen)
                if objective is not None:
                    rank = (objective, cost, k, chosen)
                    best = rank if best is None or rank < best else best
        return best

    def cheapest(self) -> Fraction | None:
        costs = [
            sum(self.cost[key] for key in chosen)
            for k in range(1, len(self.candidates) + 1)
            for chosen in combinations(self.candidates, k)
            if self.objective(chosen) is not None
        ]
        return min(costs) if costs else None


def decimal(draw, low: int, high: int, scale: int) -> Fraction:
    return Fraction(draw(st.integers(low, high)), scale)


@st.composite
def instances(draw) -> Instance:
    tasks = [f"t{i}" for i in range(draw(st.integers(2, 6)))]
    sizes = ["full", "half", "tiny"][: draw(st.integers(1, 3))]
    subsets = [combo for k in range(1, len(tasks) + 1) for combo in combinations(tasks, k)]
    pool = [("+".join(subset), size) for subset in subsets for size in sizes]
    drawn = set(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=8, unique=True)))
    covered = {task for key in drawn for task in key[0].split("+")}
    candidates = sorted(drawn | {(task, sizes[0]) for task in tasks if task not in covered})
    # Coarse grids on purpose: they produce ties in loss and cost, which exercise the tie-break rule.
    cost = {key: decimal(draw, 1, 8, 4) for key in candidates}
    loss = {key: {task: decimal(draw, 1, 40, 20) for task in key[0].split("+")} for key in candidates}
    present = tasks
    instance = Instance(present, candidates, cost, loss, budget=decimal(draw, 1, 4 * 10, 4))
    if draw(st.booleans()):
        instance.weights = {t: decimal(draw, 0, 6, 2) for t in present if draw(st.booleans())}
    if draw(st.booleans()):
        instance.max_loss = {t: decimal(draw, 1, 40, 20) for t in present if draw(st.booleans())}
    if draw(st.booleans()):
        marks = draw(st.lists(st.sampled_from(["", "require", "forbid"]), min_size=len(candidates), max_size=len(candidates)))
        instance.require = [key for key, mark in zip(candidates, marks) if mark == "require"][:2]
        instance.forbid = [key for key, mark in zip(candidates, marks) if mark == "forbid"]
    if draw(st.booleans()):
        instance.max_networks = draw(st.integers(1, 4))
    return instance


def check_constraints(instance: Instance, chosen: Selection) -> None:
    keys = [(n.name, n.size) for n in chosen.networks]
    assert keys == sorted(set(keys)) and set(keys) <= set(instance.candidates)
    assert sum(instance.cost[key] for key in keys) <= instance.budget
    assert chosen.cost == pytest.approx(float(sum(instance.cost[key] for key in keys)))
    assert set(instance.require) <= set(keys)
    assert not set(instance.forbid) & set(keys)
    if instance.max_networks is not None:
        assert len(keys) <= instance.max_networks
    assert set(chosen.assignment) == set(instance.tasks)
    for task, index in chosen.assignment.items():
        assert instance.serves(keys[index], task)  # contains the task, within its cap


def run(instance: Instance, solver: str) -> Selection:
    return Selector(instance.frame()).select(float(instance.budget), solver=solver, **instance.options())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_engines_match_brute_force_and_respect_every_constraint(instance: Instance) -> None:
    best = instance.oracle()
    for solver in SOLVERS:
        if best is None:
            with pytest.raises(InfeasibleError):
                run(instance, solver)
            continue
        chosen = run(instance, solver)
        check_constraints(instance, chosen)
        objective, cost, count, keys = best
        assert chosen.objective == pytest.approx(float(objective), abs=1e-9)
        assert [(n.name, n.size) for n in chosen.networks] == list(keys)  # the tie-break picks the same set


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_stated_cheapest_budget_is_the_least_feasible_one(instance: Instance) -> None:
    cheapest = instance.cheapest()
    if cheapest is None or cheapest <= Fraction(1, 4):
        return
    below = cheapest - Fraction(1, 1000)
    instance.budget = below
    for solver in SOLVERS:
        with pytest.raises(BudgetTooSmallError) as raised:
            run(instance, solver)
        assert raised.value.cheapest_budget == pytest.approx(float(cheapest), abs=1e-9)
        assert f"cheapest feasible budget is {float(cheapest):g}" in str(raised.value)
        instance.budget = Fraction(raised.value.cheapest_budget)
        check_constraints(instance, run(instance, solver))
        instance.budget = below


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_engines_match_brute_force_many_instances(instance: Instance) -> None:
    test_engines_match_brute_force_and_respect_every_constraint.hypothesis.inner_test(instance)
