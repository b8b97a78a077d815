"""Choose the best set of networks within a budget, and describe the choice as DESIGN.md's JSON object.

Estimators choose on their estimates; the chosen networks are then scored with the real losses of
the fully trained networks: each task is served by the chosen network (among those allowed to
serve it) with its lowest full-stage validation loss, and `val_loss` / `test_loss` sum those
networks' real losses over tasks (None when one is not known, e.g. an HOA-predicted network that
was never trained; such a task is served by its best estimate instead).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pandas as pd

from taskgroup.errors import InvalidInputError, UnknownNameError
from taskgroup.estimators import Estimator, Evidence, get_estimator
from taskgroup.jsonable import json_total
from taskgroup.selection.bip import IntegerProgram  # noqa: F401  (registers "bip")
from taskgroup.selection.bnb import BranchAndBound  # noqa: F401  (registers "bnb")
from taskgroup.selection.build import CandidateSpec, build_problem, choosable, matching
from taskgroup.selection.engine import SOLVERS, Engine
from taskgroup.selection.feasibility import explain_infeasible
from taskgroup.selection.problem import Candidate, Problem, Solution
from taskgroup.selection.results import candidate_costs, check_results, full_losses

AUTO_BNB_MAX_TASKS = 16
"""`solver="auto"` uses branch-and-bound up to this many tasks and CP-SAT above. Branch-and-bound was
faster at every measured size (docs/benchmarks.md), but its tables grow as 2**tasks, while CP-SAT's
model grows with the number of candidates only."""


@dataclass(frozen=True)
class Selection:
    """A chosen set of networks, which task each serves, and what it costs and scores."""

    budget: float
    estimator: str
    networks: tuple[Candidate, ...]
    assignment: dict[str, int]
    cost: float
    predicted_loss: float
    val_loss: float | None
    test_loss: float | None
    objective: float = field(compare=False)
    """Weighted predicted loss, the quantity minimised (equals `predicted_loss` without weights)."""
    solver: str = field(default="", compare=False)

    def to_json(self) -> dict[str, Any]:
        """Exactly the `taskgroup select --json` object of DESIGN.md, totals without float noise (`json_total`)."""
        return {
            "budget": self.budget,
            "estimator": self.estimator,
            "networks": [{"tasks": list(n.tasks), "size": n.size, "cost": n.cost} for n in self.networks],
            "assignment": dict(self.assignment),
            "cost": json_total(self.cost),
            "predicted_loss": json_total(self.predicted_loss),
            "val_loss": json_total(self.val_loss),
            "test_loss": json_total(self.test_loss),
        }


class Selector:
    """A results frame prepared once for one estimator: estimates, costs and real losses.

    `select` can then be called for many budgets and options (as `sweep` does) without
    re-estimating.
    """

    def __init__(
        self,
        results: pd.DataFrame,
        estimator: str | Estimator = "exact",
        *,
        costs: Mapping[tuple[str, str], float] | None = None,
        tasks: Sequence[str] | None = None,
        extras: Mapping[str, pd.DataFrame] | None = None,
    ) -> None:
        self.results = check_results(results)
        self.estimator = get_estimator(estimator)
        self.estimates = self.estimator.estimate(Evidence(self.results, dict(extras or {})))
        known = sorted(self.results["task"].unique())
        if tasks is not None:
            unknown = [task for task in tasks if task not in known]
            if unknown:
                raise UnknownNameError(f"unknown task {unknown[0]!r} (tasks with results: {', '.join(known)})")
        self.tasks = tuple(sorted(set(tasks))) if tasks is not None else tuple(known)
        keys = set(zip(self.estimates["tasks"], self.estimates["size"], strict=True))
        self.costs = candidate_costs(self.results, keys, costs)
        self.val = full_losses(self.results, "val")
        self.test = full_losses(self.results, "test")
        self.estimated = {
            (tasks_, size, task): loss
            for tasks_, size, task, loss in self.estimates[["tasks", "size", "task", "loss"]].itertuples(index=False)
        }

    @cached_property
    def universe(self) -> list[tuple[str, str]]:
        """The (tasks, size) candidates this selector can choose: an estimate of each task and a cost."""
        return choosable(self.estimates, self.costs)

    def naming_choosable(self, specs: Iterable[CandidateSpec]) -> tuple[CandidateSpec, ...]:
        """Those of `specs` that name a candidate this selector can choose. A user may name a network
        that only another estimator knows (one with early-stage results only); here it is no option."""
        return tuple(spec for spec in specs if matching(spec, self.universe))

    def problem(
        self,
        budget: float,
        *,
        weights: Mapping[str, float] | None = None,
        max_loss: Mapping[str, float] | None = None,
        require: Iterable[CandidateSpec] = (),
        forbid: Iterable[CandidateSpec] = (),
        max_networks: int | None = None,
    ) -> Problem:
        """The integer instance the engines solve for these options."""
        return build_problem(
            self.estimates,
            self.costs,
            self.tasks,
            budget,
            weights=weights,
            max_loss=max_loss,
            require=require,
            forbid=forbid,
            max_networks=max_networks,
        )

    def select(
        self,
        budget: float,
        *,
        solver: str = "auto",
        weights: Mapping[str, float] | None = None,
        max_loss: Mapping[str, float] | None = None,
        require: Iterable[CandidateSpec] = (),
        forbid: Iterable[CandidateSpec] = (),
        max_networks: int | None = None,
    ) -> Selection:
        """The optimal selection; raises InfeasibleError (stating the cheapest budget) if there is none."""
        require, forbid = tuple(require), tuple(forbid)
        options = dict(weights=weights, max_loss=max_loss, require=require, forbid=forbid, max_networks=max_networks)
        problem = self.problem(budget, **options)
        engine = choose_engine(solver, problem)
        solution = engine.solve(problem)
        if solution is None:
            raise explain_infeasible(problem, lambda **changes: self.problem(budget, **{**options, **changes}), budget)
        return self.describe(problem, solution, budget, engine.name)

    def describe(self, problem: Problem, solution: Solution, budget: float, solver: str = "") -> Selection:
        """Selection of `solution`: serving networks by real validation loss, scored with real losses."""
        networks = [problem.candidates[c] for c in solution.chosen]
        by_estimate = problem.serving(solution.chosen)
        assignment: dict[str, int] = {}
        predicted = val = test = 0.0
        val_known = test_known = True
        for t, task in enumerate(problem.tasks):
            allowed = [i for i, c in enumerate(solution.chosen) if t in problem.losses[c]]
            real = [(self.val.get((networks[i].name, networks[i].size, task)), i) for i in allowed]
            if all(loss is not None for loss, _ in real):
                serving = min(real)[1]
            else:
                serving = solution.chosen.index(by_estimate[t])
            assignment[task] = serving
            estimate_by = problem.candidates[by_estimate[t]]
            predicted += self.estimated[estimate_by.name, estimate_by.size, task]
            key = (networks[serving].name, networks[serving].size, task)
            val_known = val_known and key in self.val
            test_known = test_known and key in self.test
            val += self.val.get(key, 0.0)
            test += self.test.get(key, 0.0)
        return Selection(
            budget=budget,
            estimator=self.estimator.name,
            networks=tuple(networks),
            assignment=assignment,
            cost=problem.cost_value(solution.cost),
            predicted_loss=predicted,
            val_loss=val if val_known else None,
            test_loss=test if test_known else None,
            objective=solution.objective / 10**problem.loss_digits,
            solver=solver,
        )


def choose_engine(solver: str, problem: Problem) -> Engine:
    """The engine for `solver` ("bnb", "bip" or "auto": by instance size, see AUTO_BNB_MAX_TASKS)."""
    if not isinstance(solver, str):
        raise InvalidInputError(f"solver must be a name, got {solver!r}")
    if solver == "auto":
        solver = "bnb" if len(problem.tasks) <= AUTO_BNB_MAX_TASKS else "bip"
    elif solver not in SOLVERS:
        raise UnknownNameError(f"unknown solver {solver!r} (known: auto, {', '.join(SOLVERS.names())})")
    return SOLVERS.get(solver)()


def select(
    results: pd.DataFrame,
    budget: float,
    *,
    estimator: str | Estimator = "exact",
    solver: str = "auto",
    weights: Mapping[str, float] | None = None,
    max_loss: Mapping[str, float] | None = None,
    require: Iterable[CandidateSpec] = (),
    forbid: Iterable[CandidateSpec] = (),
    max_networks: int | None = None,
    costs: Mapping[tuple[str, str], float] | None = None,
    tasks: Sequence[str] | None = None,
    extras: Mapping[str, pd.DataFrame] | None = None,
) -> Selection:
    """Best set of networks within `budget` for the results frame (exchange-CSV columns).

    `costs` overrides candidate costs keyed by (tasks, size), e.g. measured latency; `tasks`
    restricts which tasks must be served (default: every task with results); `extras` are extra
    tables for estimators that need them.
    """
    selector = Selector(results, estimator, costs=costs, tasks=tasks, extras=extras)
    return selector.select(
        budget, solver=solver, weights=weights, max_loss=max_loss, require=require, forbid=forbid, max_networks=max_networks
    )
