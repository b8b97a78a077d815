"""Turn estimates, costs and the user's options into a `Problem`, checking every option on the way."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from taskgroup.errors import InvalidInputError, UnknownNameError
from taskgroup.selection.names import candidate_label, canonical_tasks, parse_candidate
from taskgroup.selection.problem import MAX_DIGITS, Candidate, Problem, scale_digits, to_units

RELATIVE_RESOLUTION = 1e-6  # the least precision any cost or loss keeps in integer units

CandidateSpec = str | tuple[str | Sequence[str], str | None]
"""A candidate named by the user: ``"depth+normal@half"``, ``"depth+normal"`` or ``("depth+normal", "half")``."""


class TooFarApartError(InvalidInputError):
    """Costs or weighted losses too far apart to compare exactly. `candidate` has the largest value
    (the likely culprit) and `task` the task of that loss (None for a cost), so that a command can
    name its own options that leave it out."""

    def __init__(self, message: str, candidate: str, task: str | None) -> None:
        super().__init__(message)
        self.candidate, self.task = candidate, task


def build_problem(
    estimates: pd.DataFrame,
    costs: Mapping[tuple[str, str], float],
    tasks: Sequence[str],
    budget: float,
    *,
    weights: Mapping[str, float] | None = None,
    max_loss: Mapping[str, float] | None = None,
    require: Iterable[CandidateSpec] = (),
    forbid: Iterable[CandidateSpec] = (),
    max_networks: int | None = None,
) -> Problem:
    """The instance the engines solve; candidates without a full estimate or a known cost are left out."""
    tasks = tuple(tasks)
    _check_budget(budget)
    weights = _check_task_values(weights, tasks, "weight", nonnegative=True)
    caps = _check_task_values(max_loss, tasks, "max loss", nonnegative=False)
    if max_networks is not None and (isinstance(max_networks, bool) or int(max_networks) != max_networks or max_networks < 1):
        raise InvalidInputError(f"max networks must be a positive integer, got {max_networks!r}")

    predicted = _complete_estimates(estimates)
    universe = sorted(key for key in predicted if key in costs)
    required = {key for spec in require for key in _resolve(spec, universe, tasks, "require", single=True)}
    forbidden = {key for spec in forbid for key in _resolve(spec, universe, tasks, "forbid", single=False)}
    clash = required & forbidden
    if clash:
        raise InvalidInputError(f"candidate {candidate_label(*min(clash))} is both required and forbidden")

    index = {task: i for i, task in enumerate(tasks)}
    candidates, losses = [], []
    for key in universe:
        if key in forbidden:
            continue
        served = {
            index[task]: loss * weights.get(task, 1.0)
            for task, loss in predicted[key].items()
            if task in index and loss <= caps.get(task, math.inf)
        }
        if served or key in required:
            candidates.append(Candidate(tuple(key[0].split("+")), key[1], float(costs[key])))
            losses.append(served)

    loss_digits = scale_digits(sum(max((abs(v) for v in served.values()), default=0.0) for served in losses) + len(tasks))
    total_cost = sum(c.cost for c in candidates)
    budget = min(budget, total_cost)  # any larger budget affords the same choices; it must not coarsen the cost unit
    cost_digits = scale_digits(total_cost + budget)
    _check_resolution(((c.label, None, c.cost) for c in candidates), cost_digits, "costs",
                      "check for a mistyped cost (`taskgroup import --replace` overwrites a stored one)")
    _check_resolution(((candidates[c].label, tasks[t], v) for c, served in enumerate(losses) for t, v in served.items()),
                      loss_digits, "weighted losses",
                      "check for a diverged run or a mistyped loss (`taskgroup import --replace` overwrites a stored one)")
    int_costs = tuple(to_units(c.cost, cost_digits) for c in candidates)
    keys = [c.key for c in candidates]
    return Problem(
        tasks=tasks,
        candidates=tuple(candidates),
        costs=int_costs,
        losses=tuple({t: to_units(v, loss_digits) for t, v in served.items()} for served in losses),
        budget=to_units(budget, cost_digits),
        required=frozenset(keys.index(key) for key in required),
        max_networks=None if max_networks is None else int(max_networks),
        cost_digits=cost_digits,
        loss_digits=loss_digits,
    )


def _check_resolution(values: Iterable[tuple[str, str | None, float]], digits: int, what: str, advice: str) -> None:
    """Refuse numbers too far apart to share one integer unit: rounding would change the answer silently.

    `values` are (candidate label, task of a loss or None for a cost, value). Units are 1e-9 unless
    huge values force a coarser one; then the smallest non-zero value must still keep
    `RELATIVE_RESOLUTION` (typically a diverged run's loss, or a cost typed wrong).
    """
    if digits >= MAX_DIGITS:
        return
    nonzero = [(abs(value), label, task) for label, task, value in values if value != 0]
    if not nonzero:
        return
    smallest, largest = min(nonzero), max(nonzero)
    if 0.5 * 10.0**-digits > RELATIVE_RESOLUTION * smallest[0]:
        raise TooFarApartError(f"the {what} are too far apart to compare exactly: {_named(*largest)} and "
                               f"{_named(*smallest)}; {advice}", largest[1], largest[2])


def _named(value: float, label: str, task: str | None) -> str:
    return f"{label} has {'cost' if task is None else f'loss on {task}'} {value:.6g}"


def _check_budget(budget: float) -> None:
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not math.isfinite(budget) or budget <= 0:
        raise InvalidInputError(f"budget must be a finite positive number, got {budget!r}")  # as sweep's budgets


def _check_task_values(
    values: Mapping[str, float] | None, tasks: Sequence[str], what: str, *, nonnegative: bool
) -> dict[str, float]:
    checked: dict[str, float] = {}
    for task, value in (values or {}).items():
        if task not in tasks:
            raise UnknownNameError(f"{what} given for unknown task {task!r} (tasks: {', '.join(tasks)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidInputError(f"{what} of {task} must be a finite number, got {value!r}")
        if nonnegative and value < 0:
            raise InvalidInputError(f"{what} of {task} must not be negative, got {value!r}")
        checked[task] = float(value)
    return checked


def _complete_estimates(estimates: pd.DataFrame) -> dict[tuple[str, str], dict[str, float]]:
    """(tasks, size) -> {task: loss} for candidates with an estimate for each of their tasks."""
    grouped: dict[tuple[str, str], dict[str, float]] = {}
    for tasks, size, task, loss in estimates[["tasks", "size", "task", "loss"]].itertuples(index=False):
        grouped.setdefault((tasks, size), {})[task] = float(loss)
    return {key: losses for key, losses in grouped.items() if set(losses) == set(key[0].split("+"))}


def choosable(estimates: pd.DataFrame, costs: Mapping[tuple[str, str], float]) -> list[tuple[str, str]]:
    """The (tasks, size) keys `build_problem` chooses among, in name order: an estimate of each task and a cost."""
    return sorted(key for key in _complete_estimates(estimates) if key in costs)


def _parsed(spec: CandidateSpec) -> tuple[str, str | None]:
    return parse_candidate(spec) if isinstance(spec, str) else (canonical_tasks(spec[0]), spec[1])


def matching(spec: CandidateSpec, universe: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The keys of `universe` a user's candidate spec names: every size of its task set without a size."""
    named, size = _parsed(spec)
    return [key for key in universe if key[0] == named and (size is None or key[1] == size)]


def _resolve(
    spec: CandidateSpec, universe: Sequence[tuple[str, str]], tasks: Sequence[str], option: str, *, single: bool
) -> list[tuple[str, str]]:
    """The (tasks, size) keys a user's candidate spec names among the candidates that can be chosen.

    Without a size, a spec names every size of that task set; `single` demands exactly one.
    """
    named, size = _parsed(spec)
    shown = named if size is None else candidate_label(named, size)
    unknown = [task for task in named.split("+") if task not in tasks]
    if unknown:
        raise UnknownNameError(f"{option}: {shown} has unknown task {unknown[0]!r} (tasks: {', '.join(tasks)})")
    matches = matching(spec, universe)
    if not matches:
        raise UnknownNameError(f"{option}: no candidate {shown} with results and a cost")
    if single and len(matches) > 1:
        sizes = ", ".join(candidate_label(*key) for key in matches)
        raise InvalidInputError(f"{option}: {shown} exists at several sizes ({sizes}); write TASKS@SIZE")
    return matches
