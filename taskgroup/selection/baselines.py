"""Reference points for a sweep: what simple or unlucky choices of networks would score.

* ``all-in-one``: one network of all tasks (the best size that fits the budget);
* ``one-per-task``: one network per task (sizes chosen for the lowest validation loss in budget);
* ``random``: random groupings (a partition of the tasks, each group trained as one network of a
  random affordable size), mean and standard deviation over every feasible grouping where there
  are at most as many as the samples asked for, else over that many distinct ones drawn (seeded);
* ``worst``: the grouping with the highest validation loss within the budget.

Baselines are judged on full-stage validation losses and scored with real validation and test
losses like every selection. They meet the same constraints as the estimators' choices (a network
over a loss cap, forbidden, or one too many is no reference point), capped on the full-stage
validation loss (exact's scale); weights steer only the estimators' objective. A baseline that no
choice satisfies is unavailable: no networks, no cost, no losses.
"""

from __future__ import annotations

import dataclasses
import random
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from taskgroup.jsonable import json_total
from taskgroup.selection.bnb import BranchAndBound
from taskgroup.selection.build import CandidateSpec
from taskgroup.selection.problem import Candidate, Problem, restrict
from taskgroup.selection.select import Selector

NAMES = ("all-in-one", "one-per-task", "random", "worst")

MAX_GROUPINGS = 200_000
"""Feasible groupings are enumerated up to this many; beyond, `random` and `worst` use samples only."""


@dataclass(frozen=True)
class BaselineRow:
    """One baseline at one budget; `networks` is None for `random` (many choices) or when infeasible."""

    budget: float
    baseline: str
    networks: tuple[Candidate, ...] | None
    cost: float | None
    val_loss: float | None
    test_loss: float | None
    val_loss_std: float | None = None
    test_loss_std: float | None = None
    samples: int = 1
    """`random` and `worst`: how many distinct feasible groupings they are over (0: unavailable)."""
    exact: bool = True
    """False when `random` or `worst` is over samples, not every feasible grouping."""

    def to_json(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "baseline": self.baseline,
            "networks": None
            if self.networks is None
            else [{"tasks": list(n.tasks), "size": n.size, "cost": n.cost} for n in self.networks],
            "cost": json_total(self.cost),
            "val_loss": json_total(self.val_loss),
            "test_loss": json_total(self.test_loss),
            "val_loss_std": json_total(self.val_loss_std),
            "test_loss_std": json_total(self.test_loss_std),
            "samples": self.samples,
            "exact": self.exact,
        }


def baselines(
    exact: Selector,
    budget: float,
    samples: int,
    seed: int,
    *,
    max_loss: Mapping[str, float] | None = None,
    require: Iterable[CandidateSpec] = (),
    forbid: Iterable[CandidateSpec] = (),
    max_networks: int | None = None,
) -> list[BaselineRow]:
    """All baseline rows at `budget` under the selection constraints; `exact` is a Selector with the
    exact estimator. Names only another estimator knows (networks not trained fully) are no option:
    forbidding one changes nothing, requiring one leaves every baseline unavailable."""
    require = tuple(require)
    if len(exact.naming_choosable(require)) < len(require):
        return [_unavailable(budget, name) for name in NAMES]
    problem = exact.problem(budget, max_loss=max_loss, require=require, forbid=exact.naming_choosable(forbid),
                            max_networks=max_networks)
    every_task = len(problem.tasks)
    rows = [
        _restricted(exact, problem, budget, "all-in-one", lambda c: len(c.tasks) == every_task, max_networks=1),
        _restricted(exact, problem, budget, "one-per-task", lambda c: len(c.tasks) == 1),
    ]
    groupings, complete = _groupings(problem, samples, seed)
    scored = [_score(exact, problem, grouping) for grouping in groupings]
    if not scored:
        return [*rows, _unavailable(budget, "random"), _unavailable(budget, "worst")]
    drawn = random.Random(seed).sample(scored, samples) if complete and len(scored) > samples else scored
    vals = [row[1] for row in drawn]
    tests = [row[2] for row in drawn]
    tests_known = all(test is not None for test in tests)
    rows.append(
        BaselineRow(
            budget,
            "random",
            None,
            statistics.fmean(row[0] for row in drawn),
            statistics.fmean(vals),
            statistics.fmean(tests) if tests_known else None,
            statistics.pstdev(vals),
            statistics.pstdev(tests) if tests_known else None,
            samples=len(drawn),
            exact=complete and len(drawn) == len(scored),
        )
    )
    cost, val, test, networks = max(scored, key=lambda row: (row[1], -row[0], [n.key for n in row[3]]))
    rows.append(BaselineRow(budget, "worst", networks, cost, val, test, samples=len(scored), exact=complete))
    return rows


def _unavailable(budget: float, name: str) -> BaselineRow:
    return BaselineRow(budget, name, None, None, None, None, samples=0)


def _restricted(
    exact: Selector, problem: Problem, budget: float, name: str, keep: Callable[[Candidate], bool],
    max_networks: int | None = None,
) -> BaselineRow:
    """The best choice among the candidates `keep` accepts; unavailable where a required one is not among them."""
    kept = [c for c, candidate in enumerate(problem.candidates) if keep(candidate)]
    if not problem.required <= set(kept):
        return _unavailable(budget, name)
    narrowed = restrict(problem, kept)
    if max_networks is not None:
        narrowed = dataclasses.replace(narrowed, max_networks=max_networks)
    solution = BranchAndBound().solve(narrowed)
    if solution is None:
        return _unavailable(budget, name)
    chosen = exact.describe(narrowed, solution, budget)
    return BaselineRow(budget, name, chosen.networks, chosen.cost, chosen.val_loss, chosen.test_loss)


Start = tuple[int, int, tuple[int, ...]]
"""Where every grouping starts: (mask of the tasks left, budget left, the required networks)."""


def _groupings(problem: Problem, samples: int, seed: int) -> tuple[list[tuple[int, ...]], bool]:
    """Feasible groupings as candidate indices: all of them (True) or, if too many, `samples` random ones.

    A grouping partitions the tasks into blocks, each served by a network of exactly its tasks (one
    over a loss cap on any of them is out), within the budget and `max_networks`, with every
    required network among its blocks."""
    exact_block: dict[int, list[int]] = {}
    for c, served in enumerate(problem.losses):
        mask = sum(1 << t for t in served)
        if len(served) == len(problem.candidates[c].tasks):  # the network serves exactly its own tasks
            exact_block.setdefault(mask, []).append(c)
    start = _start(problem)
    if start is None:
        return [], True
    limit = problem.max_networks or len(problem.tasks)
    found: list[tuple[int, ...]] = []

    def extend(rest: int, room: int, chosen: list[int]) -> bool:
        if rest == 0:
            found.append(tuple(sorted(chosen)))
            return len(found) < MAX_GROUPINGS
        if len(chosen) >= limit:
            return True
        low = rest & -rest
        others = rest ^ low
        sub = others
        while True:
            for c in exact_block.get(sub | low, ()):
                if problem.costs[c] <= room:
                    chosen.append(c)
                    going = extend(rest ^ (sub | low), room - problem.costs[c], chosen)
                    chosen.pop()
                    if not going:
                        return False
            if sub == 0:
                return True
            sub = (sub - 1) & others

    rest, room, required = start
    if extend(rest, room, list(required)):
        return found, True
    return _sample_groupings(problem, exact_block, start, samples, seed), False


def _start(problem: Problem) -> Start | None:
    """The required networks as a grouping's first blocks; None where no grouping can hold them all
    (they overlap, one may not serve all its tasks, or they exceed the budget or `max_networks`)."""
    rest, room = (1 << len(problem.tasks)) - 1, problem.budget
    for c in sorted(problem.required):
        mask = sum(1 << t for t in problem.losses[c])
        if len(problem.losses[c]) != len(problem.candidates[c].tasks) or mask & ~rest:
            return None
        rest, room = rest ^ mask, room - problem.costs[c]
    too_many = problem.max_networks is not None and len(problem.required) > problem.max_networks
    return None if room < 0 or too_many else (rest, room, tuple(sorted(problem.required)))


def _sample_groupings(
    problem: Problem, exact_block: dict[int, list[int]], start: Start, samples: int, seed: int
) -> list[tuple[int, ...]]:
    """Distinct random feasible groupings built group by group (not uniform over groupings; used only
    when there are too many to enumerate)."""
    rng = random.Random(seed)
    limit = problem.max_networks or len(problem.tasks)
    drawn: dict[tuple[int, ...], None] = {}  # an ordered set
    for _ in range(samples * 100):
        if len(drawn) == samples:
            break
        rest, room, chosen = start[0], start[1], list(start[2])
        while rest and len(chosen) < limit:
            low = rest & -rest
            options = [
                c
                for mask, cands in exact_block.items()
                if mask & low and mask & ~rest == 0
                for c in cands
                if problem.costs[c] <= room
            ]
            if not options:
                break
            c = rng.choice(options)
            chosen.append(c)
            rest &= ~sum(1 << t for t in problem.losses[c])
            room -= problem.costs[c]
        if not rest:
            drawn[tuple(sorted(chosen))] = None
    return list(drawn)


def _score(exact: Selector, problem: Problem, grouping: tuple[int, ...]) -> tuple[float, float, float | None, tuple[Candidate, ...]]:
    """(cost, val loss, test loss, networks) of a grouping, each task scored in its own group's network."""
    val, test, test_known = 0.0, 0.0, True
    networks = tuple(problem.candidates[c] for c in grouping)
    for network in networks:
        for task in network.tasks:
            val += exact.val[network.name, network.size, task]
            loss = exact.test.get((network.name, network.size, task))
            test_known = test_known and loss is not None
            test += loss or 0.0
    cost = problem.cost_value(sum(problem.costs[c] for c in grouping))
    return cost, val, test if test_known else None, networks
