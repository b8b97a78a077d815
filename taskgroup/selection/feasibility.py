"""Say why a selection problem has no solution, and what budget would have one.

The cheapest feasible budget is the cost of a minimum-cost set of candidates that serves every
task under all the other constraints (caps, required, forbidden, max networks): the same problem
with every loss set to zero, whose tie-break (lower cost first) then minimises cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from taskgroup.errors import InfeasibleError
from taskgroup.selection.bip import IntegerProgram
from taskgroup.selection.problem import Problem
from taskgroup.wording import counted


class BudgetTooSmallError(InfeasibleError):
    """The budget is below the cost of every feasible choice; `cheapest_budget` is the least that works."""

    def __init__(self, message: str, cheapest_budget: float) -> None:
        super().__init__(message)
        self.cheapest_budget = cheapest_budget


def format_number(value: float) -> str:
    """A cost or budget as the user would type it: ``2.5``, ``1.234567891``."""
    return f"{value:.12g}"


def cheapest_budget(problem: Problem) -> int | None:
    """Least total cost (integer units) of a choice meeting every constraint but the budget; None if none."""
    unbounded = replace(
        problem,
        losses=tuple({t: 0 for t in served} for served in problem.losses),
        budget=sum(problem.costs),
    )
    solution = IntegerProgram().solve(unbounded)
    return None if solution is None else solution.cost


def explain_infeasible(problem: Problem, relaxed: Callable[..., Problem], budget: float | None = None) -> InfeasibleError:
    """The error to raise for an infeasible `problem`; `relaxed(**options)` rebuilds it with options
    changed (``max_loss=None``, ``forbid=()``) to find which one leaves a task unservable. `budget` is
    the user's, quoted as given (in the problem's integer units a tiny one rounds to 0)."""
    for t, task in enumerate(problem.tasks):
        if not any(t in served for served in problem.losses):
            return InfeasibleError(f"task {task} cannot be served: {_why_unservable(t, relaxed)}")
    required = len(problem.required)
    if problem.max_networks is not None and required > problem.max_networks:
        return InfeasibleError(f"{counted(required, 'candidate')} {'is' if required == 1 else 'are'} required but at most "
                              f"{counted(problem.max_networks, 'network')} {'is' if problem.max_networks == 1 else 'are'} allowed")
    cheapest = cheapest_budget(problem)
    if cheapest is None:
        fewest = cheapest_budget(replace(problem, max_networks=None, costs=tuple(1 for _ in problem.costs), cost_digits=0))
        return InfeasibleError(
            f"no choice of at most {counted(problem.max_networks, 'network')} serves every task "
            f"(at least {fewest} are needed under the other constraints)"
        )
    value = problem.cost_value(cheapest)
    budget = problem.cost_value(problem.budget) if budget is None else budget
    return BudgetTooSmallError(
        f"budget {format_number(budget)} is infeasible: the cheapest feasible budget is {format_number(value)}", value
    )


def _why_unservable(t: int, relaxed: Callable[..., Problem]) -> str:
    if any(t in served for served in relaxed(max_loss=None).losses):
        unweighted = relaxed(max_loss=None, weights=None)
        lowest = min(served[t] for served in unweighted.losses if t in served) / 10**unweighted.loss_digits
        return ("its max loss excludes every candidate that could serve it (the cap applies to the estimator's "
                f"predicted losses, in its own scale; the lowest predicted for it is {lowest:.6g})")
    if any(t in served for served in relaxed(max_loss=None, forbid=()).losses):
        return "every candidate that could serve it is forbidden or over its max loss"
    return "no candidate with this task has an estimate and a cost"
