"""Branch-and-bound selection: the paper's Algorithm 1, made to scale.

Standley et al. enumerate sets of networks and prune by budget. Here the search branches on tasks
instead: tasks are taken in a fixed order and each one is either served by the best network
already chosen or opens a new network that serves it strictly better. Every set is reached along
one canonical path (a network opened later may never beat the network serving an earlier task),
so nothing is searched twice. Pruning:

* dominance: a candidate is dropped when another is no more expensive, serves all its tasks at
  least as well, and is cheaper or earlier in name order (replacing it never hurts, ties included);
* budget and network-count: a network is only opened if it fits;
* bound: the loss so far plus, for every task still to come, its best loss among chosen networks
  and networks that could still be opened (affordable, canonical). Options of a task are tried in
  order of loss, so once one exceeds the best solution found, the rest are cut at once.
"""

from __future__ import annotations

import numpy as np

from taskgroup.selection.engine import SOLVERS, Engine
from taskgroup.selection.problem import Problem, Solution

_NONE = -1


def undominated(problem: Problem) -> list[int]:
    """Candidates not dominated by another (required ones always kept), in name order."""
    n_tasks, n_cands = len(problem.tasks), len(problem.candidates)
    if n_cands == 0:
        return []
    big = np.iinfo(np.int64).max
    losses = np.full((n_cands, n_tasks), big, dtype=np.int64)
    for c, served in enumerate(problem.losses):
        for t, loss in served.items():
            losses[c, t] = loss
    costs = np.asarray(problem.costs, dtype=np.int64)
    order = np.arange(n_cands)
    kept = []
    for c in range(n_cands):
        if c in problem.required:
            kept.append(c)
            continue
        better = (costs <= costs[c]) & ((costs < costs[c]) | (order < c))
        better &= np.all(losses <= losses[c], axis=1)
        better[c] = False
        if not better.any():
            kept.append(c)
    return kept


@SOLVERS.register("bnb")
class BranchAndBound(Engine):
    """Exact depth-first search over task assignments with dominance, budget and loss-bound pruning."""

    name = "bnb"

    def __init__(self) -> None:
        self.nodes = 0

    def solve(self, problem: Problem) -> Solution | None:
        return _Search(problem).run(self)


class _Search:
    """One search; state is kept in flat lists and undone on backtrack for speed."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        n = len(problem.tasks)
        kept = undominated(problem)
        # Tasks with the widest spread of losses first: their choice matters most to the bound.
        spread = []
        for t in range(n):
            values = [problem.losses[c][t] for c in kept if t in problem.losses[c]]
            spread.append(max(values) - min(values) if values else 0)
        self.order = sorted(range(n), key=lambda t: (-spread[t], t))
        position = {t: p for p, t in enumerate(self.order)}
        self.kept = kept  # local index -> problem index (increasing, so local order = name order)
        self.cost = [problem.costs[c] for c in kept]
        # loss[c][p]: loss of local candidate c on the task at position p (None if it cannot serve it)
        self.loss = []
        self.positions = []
        for c in kept:
            row = [None] * n
            for t, value in problem.losses[c].items():
                row[position[t]] = value
            self.loss.append(row)
            self.positions.append(sorted(position[t] for t in problem.losses[c]))
        self.options = [
            sorted((self.loss[c][p], c) for c in range(len(kept)) if self.loss[c][p] is not None) for p in range(n)
        ]
        self.n = n
        self.limit = problem.max_networks if problem.max_networks is not None else len(kept)
        self.best: tuple[int, int, int, tuple[int, ...]] | None = None

    def run(self, engine: BranchAndBound) -> Solution | None:
        problem, n = self.problem, self.n
        local = {c: i for i, c in enumerate(self.kept)}
        self.is_open = [False] * len(self.kept)
        self.open_loss = [None] * n  # best loss among open networks, per task position
        self.open_by = [_NONE] * n
        self.assigned_loss = [0] * n
        self.assigned_by = [_NONE] * n
        self.opened: list[int] = []
        cost = 0
        for c in sorted(problem.required):
            self._open(local[c], 0)
            cost += self.cost[local[c]]
        if cost > problem.budget or len(self.opened) > self.limit:
            return None
        self.nodes = 0
        self._visit(0, 0, cost)
        engine.nodes = self.nodes
        if self.best is None:
            return None
        objective, cost, _, chosen = self.best
        return Solution(tuple(self.kept[c] for c in chosen), objective, cost)

    def _open(self, c: int, start: int) -> list[tuple[int, int | None, int]]:
        """Open local candidate c; returns what to restore on backtrack."""
        self.is_open[c] = True
        self.opened.append(c)
        saved = []
        row = self.loss[c]
        for p in self.positions[c]:
            if p < start:
                continue
            value = row[p]
            current = self.open_loss[p]
            if current is None or value < current or (value == current and c < self.open_by[p]):
                saved.append((p, current, self.open_by[p]))
                self.open_loss[p] = value
                self.open_by[p] = c
        return saved

    def _close(self, c: int, saved: list[tuple[int, int | None, int]]) -> None:
        self.is_open[c] = False
        self.opened.pop()
        for p, value, by in reversed(saved):
            self.open_loss[p] = value
            self.open_by[p] = by

    def _canonical(self, c: int, k: int) -> bool:
        """Opening c now must not make it better than the network serving an earlier task."""
        row = self.loss[c]
        for p in self.positions[c]:
            if p >= k:
                return True
            value, current = row[p], self.assigned_loss[p]
            if value < current or (value == current and c < self.assigned_by[p]):
                return False
        return True

    def _term(self, p: int, k: int, room: int, can_open: bool) -> int | None:
        """Lowest loss task p could still get: from an open network or one that may still be opened."""
        current = self.open_loss[p]
        if can_open:
            cost, is_open = self.cost, self.is_open
            for value, c in self.options[p]:
                if current is not None and value >= current:
                    break
                if not is_open[c] and cost[c] <= room and self._canonical(c, k):
                    return value
        return current

    def _visit(self, k: int, total: int, cost: int) -> None:
        self.nodes += 1
        budget = self.problem.budget
        room = budget - cost
        can_open = len(self.opened) < self.limit
        if k == self.n:
            rank = (total, cost, len(self.opened), tuple(sorted(self.opened)))
            if self.best is None or rank < self.best:
                self.best = rank
            return
        terms = []
        bound = total
        for p in range(k, self.n):
            term = self._term(p, k, room, can_open)
            if term is None:
                return
            terms.append(term)
            bound += term
        best = self.best
        if best is not None and (bound > best[0] or (bound == best[0] and (cost, len(self.opened)) > best[1:3])):
            return
        base = bound - terms[0]
        open_loss, open_by = self.open_loss[k], self.open_by[k]
        if can_open:
            for value, c in self.options[k]:
                if open_loss is not None and (value > open_loss or (value == open_loss and c >= open_by)):
                    break
                if self.best is not None and base + value > self.best[0]:
                    return
                if self.is_open[c] or self.cost[c] > room or not self._canonical(c, k):
                    continue
                saved = self._open(c, k + 1)
                self.assigned_loss[k], self.assigned_by[k] = value, c
                self._visit(k + 1, total + value, cost + self.cost[c])
                self._close(c, saved)
        if open_loss is not None and (self.best is None or base + open_loss <= self.best[0]):
            self.assigned_loss[k], self.assigned_by[k] = open_loss, open_by
            self._visit(k + 1, total + open_loss, cost)
