"""A selection instance in exact integer units, built once and handed to every engine.

Losses and costs are floats in the results, but the engines must agree exactly (and CP-SAT only
takes integers), so both are scaled by a power of ten and rounded: a loss unit of 1e-9 and a cost
unit of 1e-9 unless the numbers are so large that int64 sums would overflow. Comparisons of
objectives, costs and budgets are therefore exact.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from taskgroup.selection.names import candidate_label

MAX_DIGITS = 9  # resolution of losses and costs: 1e-9
_INT_LIMIT = 1e15  # keep every scaled sum far below 2**63


@dataclass(frozen=True, order=True)
class Candidate:
    """One network that may be deployed: its tasks (sorted), size label and cost."""

    tasks: tuple[str, ...]
    size: str
    cost: float

    @property
    def name(self) -> str:
        """Canonical task-set name, e.g. ``depth+normal``."""
        return "+".join(self.tasks)

    @property
    def key(self) -> tuple[str, str]:
        """(name, size): identifies the candidate; also the tie-break order."""
        return (self.name, self.size)

    @property
    def label(self) -> str:
        return candidate_label(self.name, self.size)


@dataclass(frozen=True)
class Solution:
    """A chosen set (candidate indices, sorted) with its objective and cost in integer units."""

    chosen: tuple[int, ...]
    objective: int
    cost: int

    def rank(self) -> tuple[int, int, int, tuple[int, ...]]:
        """Sort key of the tie-break rule: loss, then cost, then fewer networks, then name order."""
        return (self.objective, self.cost, len(self.chosen), self.chosen)


@dataclass(frozen=True)
class Problem:
    """Candidates in name order (an index is also the name rank), each with the tasks it may serve.

    `losses[c]` maps a task index to the weighted estimated loss of candidate `c` on it, only for
    tasks `c` is allowed to serve (caps already applied). `required` candidates must be chosen.
    """

    tasks: tuple[str, ...]
    candidates: tuple[Candidate, ...]
    costs: tuple[int, ...]
    losses: tuple[Mapping[int, int], ...]
    budget: int
    required: frozenset[int]
    max_networks: int | None
    cost_digits: int
    loss_digits: int

    def evaluate(self, chosen: Iterable[int]) -> Solution | None:
        """The solution of choosing exactly `chosen`, or None if it breaks a constraint."""
        chosen = tuple(sorted(set(chosen)))
        cost = sum(self.costs[c] for c in chosen)
        if cost > self.budget or not self.required <= set(chosen):
            return None
        if self.max_networks is not None and len(chosen) > self.max_networks:
            return None
        serving = self.serving(chosen)
        if serving is None:
            return None
        return Solution(chosen, sum(self.losses[c][t] for t, c in enumerate(serving)), cost)

    def serving(self, chosen: Sequence[int]) -> list[int] | None:
        """For each task, the chosen candidate with the lowest estimate (lowest index on ties)."""
        serving = []
        for task in range(len(self.tasks)):
            options = [(self.losses[c][task], c) for c in chosen if task in self.losses[c]]
            if not options:
                return None
            serving.append(min(options)[1])
        return serving

    def cost_value(self, units: int) -> float:
        """A cost in integer units back as a float in the user's unit."""
        return round(units / 10**self.cost_digits, max(self.cost_digits, 0))


def scale_digits(magnitude: float) -> int:
    """Decimal digits kept for numbers whose sum is at most `magnitude`: 9, fewer for huge numbers."""
    return min(MAX_DIGITS, math.floor(math.log10(_INT_LIMIT / max(magnitude, 1.0))))


def to_units(value: float, digits: int) -> int:
    """`value` in units of 10**-digits, rounded to the nearest unit."""
    return round(value * 10**digits)


def restrict(problem: Problem, keep: Iterable[int]) -> Problem:
    """The same problem with only the candidates in `keep` (required ones outside it are dropped too)."""
    kept = sorted(set(keep))
    new_index = {c: i for i, c in enumerate(kept)}
    return Problem(
        tasks=problem.tasks,
        candidates=tuple(problem.candidates[c] for c in kept),
        costs=tuple(problem.costs[c] for c in kept),
        losses=tuple(problem.losses[c] for c in kept),
        budget=problem.budget,
        required=frozenset(new_index[c] for c in problem.required if c in new_index),
        max_networks=problem.max_networks,
        cost_digits=problem.cost_digits,
        loss_digits=problem.loss_digits,
    )
