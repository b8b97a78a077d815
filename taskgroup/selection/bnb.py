"""Branch-and-bound selection: the paper's Algorithm 1, made to scale.

Standley et al. enumerate sets of networks within the budget. An optimal set, with each task served
by its best chosen network, is also a partition of the tasks into blocks, each block served by one
network that contains it. The search therefore builds partitions: it takes the first task not yet
served and branches on the block that contains it and the network that serves that block.

* Dominance: for each block only the Pareto-optimal networks (no other is as cheap and at least as
  good on that block) are kept, the earliest by name among equals, so a block has few options
  (one per distinct cost level at most).
* Usefulness order: the children of a node are tried in order of their lower bound, so good
  solutions are found early.
* Budget and count: a network is only added if it fits the remaining budget and network count.
* Bound: loss so far plus, for every task still unserved, its best loss among networks that fit
  the remaining budget (precomputed for every set of tasks); when only one more network fits, the
  exact loss of the best single network for all remaining tasks.

Required candidates are pre-chosen: they serve any block they contain at no extra cost.
"""

from __future__ import annotations

from bisect import bisect_right

import numpy as np

from taskgroup.selection.engine import SOLVERS, Engine
from taskgroup.selection.problem import Problem, Solution

_MAX_LEVELS = 64  # distinct cost levels for which per-budget bounds are tabulated
_INF = float("inf")


@SOLVERS.register("bnb")
class BranchAndBound(Engine):
    """Exact depth-first search over partitions of the tasks, with dominance, budget and bound pruning."""

    name = "bnb"

    def __init__(self) -> None:
        self.nodes = 0

    def solve(self, problem: Problem) -> Solution | None:
        search = _Search(problem)
        solution = search.run()
        self.nodes = search.nodes
        return solution


class _Search:
    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.n = len(problem.tasks)
        self.full = (1 << self.n) - 1
        self.required = sorted(problem.required)
        self.base_cost = sum(problem.costs[c] for c in self.required)
        self.limit = problem.max_networks if problem.max_networks is not None else len(problem.candidates)
        self.options = self._block_options()
        self.nodes = 0
        self.best: tuple[int, int, int, tuple[int, ...]] | None = None

    def _block_options(self) -> list[list[tuple[int, int, int]]]:
        """For every block (task bitmask): Pareto-optimal (cost, loss, candidate), by increasing cost."""
        problem, n = self.problem, self.n
        required = set(self.required)
        masks, costs, losses, owners = [], [], [], []
        for c, served in enumerate(problem.losses):
            if not served:
                continue
            bits = sorted(served)
            sub_masks = np.zeros(1, dtype=np.int64)
            sub_losses = np.zeros(1, dtype=np.int64)
            for t in bits:
                sub_masks = np.concatenate([sub_masks, sub_masks | (1 << t)])
                sub_losses = np.concatenate([sub_losses, sub_losses + served[t]])
            masks.append(sub_masks[1:])
            losses.append(sub_losses[1:])
            cost = 0 if c in required else problem.costs[c]
            costs.append(np.full(len(sub_masks) - 1, cost, dtype=np.int64))
            owners.append(np.full(len(sub_masks) - 1, c, dtype=np.int64))
        options: list[list[tuple[int, int, int]]] = [[] for _ in range(1 << n)]
        if not masks:
            return options
        mask, cost, loss, owner = (np.concatenate(a) for a in (masks, costs, losses, owners))
        order = np.lexsort((owner, loss, cost, mask))
        columns = (mask[order].tolist(), cost[order].tolist(), loss[order].tolist(), owner[order].tolist())
        for m, k, v, c in zip(*columns, strict=True):
            front = options[m]
            if not front or v < front[-1][1]:  # cheaper options come first; keep only strict loss gains
                front.append((k, v, c))
        return options

    def _bounds(self) -> None:
        """Tabulate, per cost level and for every set of tasks, the sum of each task's best affordable loss."""
        n = self.n
        levels = sorted({k for front in self.options for k, _, _ in front})
        self.coarse = len(levels) > _MAX_LEVELS  # too many cost levels: bound ignores the budget
        self.levels = levels[-1:] if self.coarse else levels
        table = np.zeros((len(self.levels), 1 << n), dtype=np.float64)
        for t in range(n):
            bit = 1 << t
            front = self.options[bit]
            for i, level in enumerate(self.levels):
                best = min((v for k, v, _ in front if k <= level), default=_INF)
                table[i].reshape(-1, 2 * bit)[:, bit:] += best  # every mask that contains task t
        self.task_bound = [row.tolist() for row in table]
        self.min_cost = min((k for front in self.options for k, _, _ in front if k > 0), default=0)

    def _lower_bound(self, rest: int, room: int, count_left: int) -> float:
        """Least loss at which the tasks in `rest` can still be served with `room` budget left."""
        if rest == 0:
            return 0
        if self.coarse:
            bound = self.task_bound[0][rest]
        else:
            level = bisect_right(self.levels, room) - 1
            if level < 0:
                return _INF
            bound = self.task_bound[level][rest]
        if not self.required and (count_left <= 1 or room < 2 * self.min_cost):
            # At most one more network: it must serve every remaining task, so its loss is exact.
            if count_left < 1:
                return _INF
            return min((v for k, v, _ in self.options[rest] if k <= room), default=_INF)
        return bound

    def run(self) -> Solution | None:
        problem = self.problem
        if self.base_cost > problem.budget or len(self.required) > self.limit:
            return None
        self._bounds()
        self._visit(self.full, problem.budget - self.base_cost, self.limit - len(self.required), 0, [])
        if self.best is None:
            return None
        objective, cost, _, chosen = self.best
        return Solution(chosen, objective, cost)

    def _visit(self, rest: int, room: int, count_left: int, loss: int, blocks: list[int]) -> None:
        self.nodes += 1
        if rest == 0:
            chosen = tuple(sorted(set(blocks) | set(self.required)))
            rank = (loss, sum(self.problem.costs[c] for c in chosen), len(chosen), chosen)
            if self.best is None or rank < self.best:
                self.best = rank
            return
        low = rest & -rest
        others = rest ^ low
        children = []
        best = self.best
        sub = others
        while True:
            block = sub | low
            remaining = rest ^ block
            for cost, value, c in self.options[block]:
                if cost > room:
                    break
                left = count_left - (cost > 0)
                if left < 0:
                    continue
                bound = loss + value + self._lower_bound(remaining, room - cost, left)
                if best is None or bound <= best[0]:
                    children.append((bound, cost, c, remaining, left, value))
            if sub == 0:
                break
            sub = (sub - 1) & others
        children.sort()
        spent = self.problem.budget - self.base_cost - room
        for bound, cost, c, remaining, left, value in children:
            best = self.best
            if best is not None and (bound > best[0] or (bound == best[0] and spent + cost + self.base_cost > best[1])):
                if bound > best[0]:
                    break
                continue
            blocks.append(c)
            self._visit(remaining, room - cost, left, loss + value, blocks)
            blocks.pop()
