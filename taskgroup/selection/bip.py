"""Integer-program selection with OR-Tools CP-SAT.

Model: a boolean per candidate (chosen), a boolean per (candidate, task it may serve) (serves);
each task is served exactly once, only by a chosen candidate; total cost within the budget; at
most K networks; required candidates fixed to 1. CP-SAT is used rather than a floating-point MIP
solver because it proves optimality exactly on integer data: losses and costs are already
integers (see `problem.py`), so there is no gap tolerance that could let the engine disagree with
branch-and-bound in the last digits.

The tie-break rule is applied lexicographically: minimise loss; fix it and minimise cost; fix it
and minimise the number of networks; then, only if another optimal set exists, pick the set whose
sorted names come first, one position at a time.
"""

from __future__ import annotations

from ortools.sat.python import cp_model

from taskgroup.selection.engine import SOLVERS, Engine
from taskgroup.selection.problem import Problem, Solution


@SOLVERS.register("bip")
class IntegerProgram(Engine):
    """Exact CP-SAT integer program.

    One worker with full linearization (the LP relaxation in the search) measured fastest on this
    model; with two workers CP-SAT's portfolio drops the LP-heavy worker and got 10-50x slower.
    """

    name = "bip"

    def __init__(self, workers: int = 1, time_limit: float | None = None) -> None:
        self.workers = workers
        self.time_limit = time_limit
        self.solves = 0

    def solve(self, problem: Problem) -> Solution | None:
        self.solves = 0
        model = cp_model.CpModel()
        n_cands = len(problem.candidates)
        chosen = [model.NewBoolVar(f"x{c}") for c in range(n_cands)]
        serves: dict[tuple[int, int], cp_model.IntVar] = {}
        for c, served in enumerate(problem.losses):
            for t in served:
                serves[c, t] = model.NewBoolVar(f"y{c}_{t}")
                model.AddImplication(serves[c, t], chosen[c])
        for t in range(len(problem.tasks)):
            options = [serves[c, t] for c in range(n_cands) if (c, t) in serves]
            if not options:
                return None
            model.AddExactlyOne(options)
        model.Add(sum(cost * x for cost, x in zip(problem.costs, chosen, strict=True)) <= problem.budget)
        if problem.max_networks is not None:
            model.Add(sum(chosen) <= problem.max_networks)
        for c in problem.required:
            model.Add(chosen[c] == 1)
        loss = sum(problem.losses[c][t] * y for (c, t), y in serves.items())
        cost = sum(value * x for value, x in zip(problem.costs, chosen, strict=True))
        count = sum(chosen)

        values = None
        for objective in (loss, cost, count):
            values = self._minimise(model, objective, chosen, values)
            if values is None:
                return None
            model.Add(objective <= self._value)
        picked = self._first_by_name(model, chosen, values)
        return problem.evaluate(picked)

    def _minimise(self, model: cp_model.CpModel, objective, chosen, hint: list[int] | None) -> list[int] | None:
        model.Minimize(objective)
        solver = self._solver()
        if hint is not None:
            model.ClearHints()
            for x, value in zip(chosen, hint, strict=True):
                model.AddHint(x, value)
        status = solver.Solve(model)
        self.solves += 1
        if status == cp_model.INFEASIBLE:
            return None
        if status != cp_model.OPTIMAL:
            raise RuntimeError(f"CP-SAT stopped without proving optimality (status {solver.StatusName(status)})")
        self._value = round(solver.ObjectiveValue())
        return [int(solver.Value(x)) for x in chosen]

    def _first_by_name(self, model: cp_model.CpModel, chosen, values: list[int]) -> list[int]:
        """Among optimal sets (loss, cost and count already fixed), the one whose sorted indices come first."""
        current = [c for c, v in enumerate(values) if v]
        model.ClearObjective()
        model.ClearHints()
        probe = model.clone()
        probe.AddBoolOr([chosen[c].Not() for c in current] + [x for c, x in enumerate(chosen) if not values[c]])
        if self._status(probe) == cp_model.INFEASIBLE:
            return current
        n_cands = len(chosen)
        picked: list[int] = []
        last = -1
        for _ in current:
            # The smallest index still choosable: z = min over free c of (c if chosen else n_cands).
            first = model.NewIntVar(0, n_cands, f"first{len(picked)}")
            model.AddMinEquality(first, [n_cands + (c - n_cands) * chosen[c] for c in range(last + 1, n_cands)])
            self._minimise(model, first, chosen, None)
            pick = self._value
            for c in range(last + 1, pick):
                model.Add(chosen[c] == 0)
            model.Add(chosen[pick] == 1)
            picked.append(pick)
            last = pick
        return picked

    def _status(self, model: cp_model.CpModel) -> int:
        self.solves += 1
        return self._solver().Solve(model)

    def _solver(self) -> cp_model.CpSolver:
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = self.workers
        solver.parameters.linearization_level = 2
        if self.time_limit is not None:
            solver.parameters.max_time_in_seconds = self.time_limit
        return solver
