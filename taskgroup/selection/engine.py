"""The engine interface and the one registry of exact selection engines."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from taskgroup.registry import Registry
from taskgroup.selection.problem import Problem, Solution


class Engine(ABC):
    """Finds the optimal feasible choice of a `Problem` under the tie-break rule of `Solution.rank`.

    Optimal means: lowest weighted loss, then lowest cost, then fewest networks, then the sorted
    list of candidate indices (= names) that comes first. Returns None when nothing is feasible.
    """

    name: ClassVar[str]

    @abstractmethod
    def solve(self, problem: Problem) -> Solution | None:
        """The optimal solution, or None if no choice satisfies the constraints."""


SOLVERS: Registry[type[Engine]] = Registry("solver")
